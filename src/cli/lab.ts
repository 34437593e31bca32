import { NodeWardenError, badInput } from '../core/errors.ts';
import { runForeground } from '../lab/foreground.ts';
import { LAB_GPU_HELP, runLabGpu } from './lab-gpu.ts';
import { openStackDirFrom, runLabOpenStack } from './lab-openstack.ts';
import { DEFAULT_LAB_BOOT_DELAY_MS } from '../cloud/lab/lab-cloud.ts';
import {
  execPlan,
  labDown,
  labFault,
  labHeal,
  labKmsg,
  labStatus,
  labUp,
  type LabContext,
  type LabStatus,
} from '../lab/lab.ts';
import { labDirFrom, readState } from '../lab/state.ts';
import { DEFAULT_API_HOST_PORT, KUBERNETES_DEFAULT_TIMING } from '../lab/control-plane.ts';
import { buildControlPlane, defaultCacheDir, K8S_VERSION } from '../lab/k8s-build.ts';
import { buildHelm } from '../lab/helm-build.ts';
import { join } from 'node:path';
import { applySeedWorkloads } from '../lab/seed-workload.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { DEFAULT_NODES, DEFAULT_SUBNET, MAX_NODES, MIN_NODES } from '../lab/topology.ts';
import { EXIT_OK, intFlag, parseFlags, type Command, type Io } from './command.ts';
import { LAB_CLOUD_USAGE, runLabCloud } from './lab-cloud.ts';
import { LAB_HYPERVISOR_USAGE, runLabHypervisor } from './lab-hypervisor.ts';

const help = `nodewarden lab — real network namespaces as Kubernetes nodes, for fault drills (root only)

Usage:
  nodewarden lab up [--nodes ${DEFAULT_NODES}] [--subnet ${DEFAULT_SUBNET}] [--no-control-plane]
                    [--grace-period 50] [--toleration 300] [--api-port 16443] [--no-prometheus]
                    [--openstack [--boot-delay ${DEFAULT_LAB_BOOT_DELAY_MS / 1000}]]
  nodewarden lab build-k8s
  nodewarden lab build-helm
  nodewarden lab workload seed
  nodewarden lab kmsg <node> <kernel log line…>
  nodewarden lab gpu <node> status|set|ramp|xid|hang …
  nodewarden lab status [--json]
  nodewarden lab exec <node> -- <command…>
  nodewarden lab fault <node> <fault> [argument]
  nodewarden lab heal <node> [fault]
${LAB_CLOUD_USAGE}
${LAB_HYPERVISOR_USAGE}
  nodewarden lab down
  nodewarden lab openstack up|status|down   (see: nodewarden lab openstack --help)

Topology: a hub namespace nw-hub holds bridge nwbr0 with the subnet's .1; each
node is a namespace nw-<node name> on that bridge (eth0, default route via .1)
running a kubelet stand-in on https://<ip>:10250/healthz. The MIG node
tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq sits at .30 as in the 2025-08-25 outage.
Nothing of the lab routes from the root namespace.

Control plane: unless --no-control-plane, the hub also runs a real etcd,
kube-apiserver, kube-controller-manager and kube-scheduler (Kubernetes
v1.32.13, built from its Go modules by lab build-k8s and cached under
~/.cache/nodewarden/k8s). Each stand-in registers its Node, renews its Lease
in kube-node-lease every 10 s and runs the pods bound to it, talking to the
API server at https://<subnet .1>:6443 through its own namespace — so a cut
node stops heartbeating for the same reason the seed's node did. Root-namespace
tools reach the API server through a loopback bridge:
  export KUBECONFIG=<lab dir>/kube/admin.kubeconfig   (lab status prints it)
Agents: with a control plane, every node also runs \`nodewarden agent\`, which
probes the peers the controller assigns it and pushes to http://<subnet .1>:9464
— run the controller there to receive them:
  sudo ip netns exec nw-hub nodewarden controller --agent-token-file <lab dir>/token \\
       --kubeconfig <lab dir>/kube/admin-in-lab.kubeconfig
Prometheus: unless --no-prometheus, the hub also runs Debian's prometheus
(/usr/bin/prometheus, or NODEWARDEN_PROMETHEUS) on http://<subnet .1>:9090,
scraping every GPU simulator (:9400, each second) and every agent (:9465,
every 2 s) with a node label; storage in <lab dir>/prometheus. A controller
run with --cloud lab reads GPU history from it by default:
  sudo ip netns exec nw-hub curl -s 'http://10.62.0.1:9090/api/v1/query?query=DCGM_FI_DEV_FB_USED'
lab kmsg <node> <line> appends a kernel-log line its agent reads as /dev/kmsg.
lab build-helm builds helm (helm.sh/helm/v3, the version in tools/helm) into
~/.cache/nodewarden/helm, for helm lint/template of deploy/helm/nodewarden.
lab workload seed deploys the seed's workloads (MIG pods on the MIG node, md-0
nodes loaded so losing the MIG node overcommits them by hundreds of percent).

${LAB_GPU_HELP}
<node> is a full name, a unique prefix or suffix (bkqzq, 85zt7) or an IP.

Faults:
  link-down                 the node's eth0 goes down: no ARP reply, L3/L4/L7 dead
  kubelet-stop              stand-in killed: L4 ECONNREFUSED
  kubelet-hang              stand-in SIGSTOPped: L4 connects, L7 times out
  block-kubelet-port        nftables drops tcp/10250: L3 ok, L4 timeout
  loss <1-100>              nftables drops that % of the node's inbound frames
  delay <ms>                netem delay (refused when the kernel has no netem)
  partition <node,…>        drops only what the named nodes send to this node
  power-off                 every process killed, eth0 down: the lab cloud says
                            SHUTOFF, stopped by Nova's power sync (no user)
  kernel-panic              console ends in "Kernel panic - not syncing", every
                            process killed, no frame in or out — but the link is
                            up and the lab cloud says ACTIVE/RUNNING (NODE_HALTED)
  loss-above-gpu <l> <g>    drops l% of inbound frames while the node's simulated GPU
                            memory is ≥ g% (GPU nodes; e.g. loss-above-gpu 30 40)
heal <node> restores every layer; heal <node> <fault> undoes one fault. Healing
power-off or kernel-panic boots the node (every fault cleared), as does a
reboot through the lab cloud.

The lab cloud: each node namespace is a VM (server id openstack:///<uuid> in
its Node's providerID). Its console log is the node's kernel-log file, its port
is the node's veth, and reboots stop and restart the node's processes and
link. The controller uses it with --cloud lab; lab cloud shows and drives it.

Options:
  --nodes N      node count, ${MIN_NODES}–${MAX_NODES} (default ${DEFAULT_NODES})
  --subnet CIDR  IPv4 /16–/28 (default ${DEFAULT_SUBNET})
  --json         lab status as JSON
  --no-control-plane      network and kubelet stand-ins only (faster; no Kubernetes)
  --grace-period S        kube-controller-manager --node-monitor-grace-period
                          (default 50, Kubernetes 1.32's own)
  --toleration S          default unreachable/not-ready toleration of pods, i.e.
                          how long before eviction (default 300, Kubernetes' own)
  --api-port P            root-namespace loopback port of the API bridge
                          (default 16443; a free one when taken)
  --no-prometheus         no Prometheus in the hub (GPU history then comes
                          from the agents' samples)
  --openstack             back every node with a Nova server of the lab OpenStack
                          (start it first: lab openstack up; NODEWARDEN_OPENSTACK_DIR).
                          Each server boots on a Neutron port made for it; the
                          Node's providerID is openstack:///<server id>. The lab
                          hypervisor then applies Nova's actions to the nodes:
                          os-stop powers a node off, os-start boots it, a reboot
                          (SOFT or HARD) restarts it after the boot delay; a
                          power-off fault or a heal is sent to Nova as a stop or
                          start. A controller in the hub reaches Keystone, Nova
                          and Neutron at 127.0.0.1 (bridged), so
                            source <openstack dir>/member-openrc
                            ip netns exec nw-hub nodewarden controller --cloud openstack …
                          reboots nodes through the real Nova. lab down deletes
                          the servers and their ports.
  --boot-delay S          with --openstack: how long a node restarted through
                          Nova stays down (default ${DEFAULT_LAB_BOOT_DELAY_MS / 1000})

The lab directory (state.json, token, pki/, logs/, run/, prometheus/) is
/var/lib/nodewarden/lab, or NODEWARDEN_LAB_DIR.

Examples:
  sudo nodewarden lab up
  sudo nodewarden lab gpu bkqzq ramp 0 45.5 --over 60s
  sudo nodewarden lab fault bkqzq link-down
  sudo nodewarden lab exec 85zt7 -- nodewarden probe 10.62.0.30
  sudo nodewarden lab heal bkqzq
  sudo nodewarden lab down
`;

type Subcommand =
  | 'up'
  | 'status'
  | 'exec'
  | 'fault'
  | 'heal'
  | 'down'
  | 'build-k8s'
  | 'build-helm'
  | 'workload'
  | 'kmsg'
  | 'gpu'
  | 'openstack'
  | 'cloud'
  | 'hypervisor';
const SUBCOMMANDS: readonly Subcommand[] = [
  'up',
  'status',
  'exec',
  'fault',
  'heal',
  'down',
  'build-k8s',
  'build-helm',
  'workload',
  'kmsg',
  'gpu',
  'openstack',
  'cloud',
  'hypervisor',
];

function requireRoot(sub: string): void {
  if (process.getuid?.() !== 0) {
    throw new NodeWardenError(
      'NEEDS_ROOT',
      `run as root (sudo nodewarden lab ${sub}): the lab creates network namespaces`,
      {
        hint: `sudo nodewarden lab ${sub}`,
      },
    );
  }
}

function noPositionals(sub: string, positionals: readonly string[]): void {
  if (positionals.length > 0) {
    throw badInput(
      `lab ${sub} takes no argument "${positionals.join(' ')}"`,
      'see: nodewarden lab --help',
    );
  }
}

function printStatus(status: LabStatus, io: Io): void {
  const hub = status.hub;
  io.out(
    `lab ${status.phase} since ${status.createdAt}: ${status.nodes.length} nodes on ${status.subnet}, hub ${hub.namespace}` +
      ` (${hub.bridge} ${hub.ip}${hub.namespaceExists ? '' : ', NAMESPACE MISSING'}), dir ${status.dir}\n`,
  );
  const cp = status.controlPlane;
  if (cp) {
    const procs = Object.entries(cp.processes)
      .map(([name, p]) => `${name} ${p.pid} ${p.state}`)
      .join(', ');
    io.out(`control plane: ${procs}\n  KUBECONFIG=${cp.adminKubeconfig} (via ${cp.apiBridge})\n`);
  } else {
    io.out('control plane: none (lab up --no-control-plane)\n');
  }
  const prom = status.prometheus;
  if (prom) {
    const targets =
      prom.targets === null
        ? `targets unknown (${prom.error ?? 'no answer'})`
        : `targets ${prom.targets.up}/${prom.targets.total} up${prom.targets.down.length ? ` (down: ${prom.targets.down.join(', ')})` : ''}`;
    io.out(`prometheus: pid ${prom.pid} ${prom.process}, ${prom.url} (in the hub), ${targets}\n`);
  } else {
    io.out('prometheus: none (lab up --no-prometheus)\n');
  }
  const os = status.openstack;
  if (os) {
    io.out(
      `openstack: ${Object.keys(os.servers).length} Nova servers (lab OpenStack ${os.dir}); ` +
        `hypervisor ${os.hypervisor.pid === null ? 'not running' : `pid ${os.hypervisor.pid} ${os.hypervisor.state}`}, boot delay ${os.bootDelayMs / 1000} s\n`,
    );
  }
  const rows = status.nodes.map((n) => [
    n.name,
    n.role,
    n.ip,
    n.namespaceExists ? n.namespace : `${n.namespace} (MISSING)`,
    `eth0 ${n.link}`,
    n.kubelet.pid === null
      ? `kubelet ${n.kubelet.state}`
      : `kubelet pid ${n.kubelet.pid} ${n.kubelet.state}`,
    n.faults.length ? n.faults.join(', ') : '-',
  ]);
  const header = ['NODE', 'ROLE', 'ADDRESS', 'NAMESPACE', 'LINK', 'KUBELET', 'FAULTS'];
  const table = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  for (const row of table) {
    io.out(
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ') +
        '\n',
    );
  }
}

async function run(argv: readonly string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
    throw badInput(
      sub === undefined ? 'lab needs a subcommand' : `unknown lab subcommand "${sub}"`,
      `one of: ${SUBCOMMANDS.join(', ')} (nodewarden lab --help)`,
    );
  }
  if (sub === 'build-k8s') {
    const { positionals } = parseFlags('lab', rest, {});
    noPositionals('build-k8s', positionals);
    const built = await buildControlPlane((line) => io.out(`${line}\n`));
    io.out(
      `${built.built ? 'built' : 'cached'}: ${Object.values(built.paths).join(' ')}\n` +
        `(${built.built ? `build took ${built.seconds.toFixed(0)} s` : 'a cached build; nothing to do'})\n`,
    );
    return EXIT_OK;
  }
  if (sub === 'build-helm') {
    const { positionals } = parseFlags('lab', rest, {});
    noPositionals('build-helm', positionals);
    const built = await buildHelm((line) => io.out(`${line}\n`));
    io.out(`${built.built ? `built in ${built.seconds.toFixed(0)} s` : 'cached'}: ${built.path}\n`);
    return EXIT_OK;
  }
  if (sub === 'openstack') {
    if (rest[0] === undefined || rest[0] === '--help' || rest[0] === '-h' || rest[0] === 'help') {
      return runLabOpenStack(rest, io);
    }
    requireRoot(`openstack ${rest[0]}`);
    return runLabOpenStack(rest, io);
  }
  requireRoot(sub);
  const ctx: LabContext = { dir: labDirFrom(process.env), progress: (line) => io.out(`${line}\n`) };
  switch (sub as Subcommand) {
    case 'up': {
      const { values, positionals } = parseFlags('lab', rest, {
        nodes: { type: 'string' },
        subnet: { type: 'string', default: DEFAULT_SUBNET },
        'no-control-plane': { type: 'boolean', default: false },
        'grace-period': { type: 'string' },
        toleration: { type: 'string' },
        'api-port': { type: 'string' },
        'no-prometheus': { type: 'boolean', default: false },
        openstack: { type: 'boolean', default: false },
        'boot-delay': { type: 'string' },
      });
      noPositionals('up', positionals);
      if (values['boot-delay'] !== undefined && !values.openstack) {
        throw badInput(
          '--boot-delay applies to lab up --openstack only',
          'the lab cloud takes its boot delay per reboot (lab cloud <node> reboot --boot-delay S, controller --lab-boot-delay S)',
        );
      }
      const bootDelayS = intFlag(
        'boot-delay',
        values['boot-delay'],
        DEFAULT_LAB_BOOT_DELAY_MS / 1000,
        0,
        3_600,
      );
      const grace = intFlag(
        'grace-period',
        values['grace-period'],
        KUBERNETES_DEFAULT_TIMING.nodeMonitorGracePeriodSeconds,
        2,
        3600,
      );
      const toleration = intFlag(
        'toleration',
        values.toleration,
        KUBERNETES_DEFAULT_TIMING.unreachableTolerationSeconds,
        0,
        86_400,
      );
      const apiPort = intFlag('api-port', values['api-port'], DEFAULT_API_HOST_PORT, 0, 65535);
      // Range errors come from planLab, which names the limits; intFlag only rejects non-numbers here.
      const nodes = intFlag(
        'nodes',
        values.nodes,
        DEFAULT_NODES,
        Number.MIN_SAFE_INTEGER,
        Number.MAX_SAFE_INTEGER,
      );
      const up = await labUp(ctx, {
        nodes,
        subnet: values.subnet,
        controlPlane: !values['no-control-plane'],
        prometheus: !values['no-prometheus'],
        apiPort,
        ...(values.openstack
          ? { openstack: { dir: openStackDirFrom(process.env), bootDelayMs: bootDelayS * 1000 } }
          : {}),
        timing: {
          ...KUBERNETES_DEFAULT_TIMING,
          nodeMonitorGracePeriodSeconds: grace,
          unreachableTolerationSeconds: toleration,
          notReadyTolerationSeconds: toleration,
        },
      });
      const cp = up.state.controlPlane;
      if (cp) {
        io.out(
          `\nKubernetes is up. From this shell:\n  export KUBECONFIG=${cp.adminKubeconfig}\n  ${join(defaultCacheDir(), 'k8s', K8S_VERSION, 'kubectl')} get nodes\n` +
            `From inside the lab (e.g. a controller in the hub): ${cp.labAdminKubeconfig}\n`,
        );
      }
      return EXIT_OK;
    }
    case 'down': {
      const { positionals } = parseFlags('lab', rest, {});
      noPositionals('down', positionals);
      await labDown(ctx);
      return EXIT_OK;
    }
    case 'status': {
      const { values, positionals } = parseFlags('lab', rest, {
        json: { type: 'boolean', default: false },
      });
      noPositionals('status', positionals);
      const status = await labStatus(ctx);
      if (values.json) io.out(JSON.stringify(status, null, 2) + '\n');
      else printStatus(status, io);
      return EXIT_OK;
    }
    case 'kmsg': {
      const [query, ...words] = rest;
      if (query === undefined || words.length === 0) {
        throw badInput(
          'lab kmsg needs a node and a line',
          'e.g. nodewarden lab kmsg bkqzq "NVRM: Xid (PCI:0000:3b:00): 79, pid=\'<unknown>\', name=<unknown>, GPU has fallen off the bus."',
        );
      }
      await labKmsg(ctx, query, words.join(' '));
      return EXIT_OK;
    }
    case 'gpu':
      return runLabGpu(ctx, rest, io);
    case 'cloud':
      return runLabCloud(ctx, rest, io);
    case 'hypervisor':
      return runLabHypervisor(ctx, rest, io);
    case 'build-k8s':
    case 'build-helm':
    case 'openstack':
      return EXIT_OK; // handled before the root check
    case 'workload': {
      const [what, ...more] = rest;
      if (what !== 'seed' || more.length > 0) {
        throw badInput(
          `unknown lab workload "${rest.join(' ')}"`,
          'use: nodewarden lab workload seed',
        );
      }
      const state = await readState(ctx.dir);
      if (!state?.controlPlane) {
        throw new NodeWardenError('NOT_FOUND', `no lab with a control plane in ${ctx.dir}`, {
          hint: 'run nodewarden lab up (without --no-control-plane) first',
        });
      }
      const { kc } = await loadKubeConfig(state.controlPlane.adminKubeconfig);
      const mig = state.nodes.find((n) => n.role === 'mig');
      if (!mig)
        throw new NodeWardenError('NOT_FOUND', 'the lab has no MIG node', {
          hint: 'lab down && lab up',
        });
      await applySeedWorkloads(
        kc,
        mig.name,
        state.nodes.filter((n) => n.role !== 'mig').map((n) => n.name),
        ctx.progress,
      );
      return EXIT_OK;
    }
    case 'exec': {
      const [query, ...command] = rest;
      if (query === undefined || query === '--') {
        throw badInput(
          'lab exec needs a node and a command',
          'e.g. nodewarden lab exec bkqzq -- ip addr',
        );
      }
      const { argv: full } = await execPlan(
        ctx,
        query,
        command[0] === '--' ? command.slice(1) : command,
      );
      return runForeground(full);
    }
    case 'fault': {
      const [query, ...fault] = rest;
      if (query === undefined)
        throw badInput(
          'lab fault needs a node and a fault',
          'e.g. nodewarden lab fault bkqzq link-down',
        );
      await labFault(ctx, query, fault);
      return EXIT_OK;
    }
    case 'heal': {
      const [query, kind, extra] = rest;
      if (query === undefined)
        throw badInput('lab heal needs a node', 'e.g. nodewarden lab heal bkqzq');
      if (extra !== undefined)
        throw badInput(
          `lab heal takes one fault, not "${rest.slice(1).join(' ')}"`,
          'e.g. nodewarden lab heal bkqzq loss',
        );
      await labHeal(ctx, query, kind);
      return EXIT_OK;
    }
  }
}

export const command: Command = {
  name: 'lab',
  summary: 'network-namespace lab: nodes, a real Kubernetes control plane, fault injection (root)',
  help,
  run,
};
