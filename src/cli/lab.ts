import { NodeWardenError, badInput } from '../core/errors.ts';
import { runForeground } from '../lab/foreground.ts';
import {
  execPlan,
  labDown,
  labFault,
  labHeal,
  labStatus,
  labUp,
  type LabContext,
  type LabStatus,
} from '../lab/lab.ts';
import { labDirFrom } from '../lab/state.ts';
import { DEFAULT_NODES, DEFAULT_SUBNET, MAX_NODES, MIN_NODES } from '../lab/topology.ts';
import { EXIT_OK, intFlag, parseFlags, type Command, type Io } from './command.ts';

const help = `nodewarden lab — real network namespaces as Kubernetes nodes, for fault drills (root only)

Usage:
  nodewarden lab up [--nodes ${DEFAULT_NODES}] [--subnet ${DEFAULT_SUBNET}]
  nodewarden lab status [--json]
  nodewarden lab exec <node> -- <command…>
  nodewarden lab fault <node> <fault> [argument]
  nodewarden lab heal <node> [fault]
  nodewarden lab down

Topology: a hub namespace nw-hub holds bridge nwbr0 with the subnet's .1; each
node is a namespace nw-<node name> on that bridge (eth0, default route via .1)
running a kubelet stand-in on https://<ip>:10250/healthz. The MIG node
tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq sits at .30 as in the 2025-08-25 outage.
Nothing of the lab routes from the root namespace.

<node> is a full name, a unique prefix or suffix (bkqzq, 85zt7) or an IP.

Faults:
  link-down                 the node's eth0 goes down: no ARP reply, L3/L4/L7 dead
  kubelet-stop              stand-in killed: L4 ECONNREFUSED
  kubelet-hang              stand-in SIGSTOPped: L4 connects, L7 times out
  block-kubelet-port        nftables drops tcp/10250: L3 ok, L4 timeout
  loss <1-100>              nftables drops that % of the node's inbound frames
  delay <ms>                netem delay (refused when the kernel has no netem)
  partition <node,…>        drops only what the named nodes send to this node
heal <node> restores every layer; heal <node> <fault> undoes one fault.

Options:
  --nodes N      node count, ${MIN_NODES}–${MAX_NODES} (default ${DEFAULT_NODES})
  --subnet CIDR  IPv4 /16–/28 (default ${DEFAULT_SUBNET})
  --json         lab status as JSON

The lab directory (state.json, token, pki/, logs/, run/) is
/var/lib/nodewarden/lab, or NODEWARDEN_LAB_DIR.

Examples:
  sudo nodewarden lab up
  sudo nodewarden lab fault bkqzq link-down
  sudo nodewarden lab exec 85zt7 -- nodewarden probe 10.62.0.30
  sudo nodewarden lab heal bkqzq
  sudo nodewarden lab down
`;

type Subcommand = 'up' | 'status' | 'exec' | 'fault' | 'heal' | 'down';
const SUBCOMMANDS: readonly Subcommand[] = ['up', 'status', 'exec', 'fault', 'heal', 'down'];

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
  requireRoot(sub);
  const ctx: LabContext = { dir: labDirFrom(process.env), progress: (line) => io.out(`${line}\n`) };
  switch (sub as Subcommand) {
    case 'up': {
      const { values, positionals } = parseFlags('lab', rest, {
        nodes: { type: 'string' },
        subnet: { type: 'string', default: DEFAULT_SUBNET },
      });
      noPositionals('up', positionals);
      // Range errors come from planLab, which names the limits; intFlag only rejects non-numbers here.
      const nodes = intFlag(
        'nodes',
        values.nodes,
        DEFAULT_NODES,
        Number.MIN_SAFE_INTEGER,
        Number.MAX_SAFE_INTEGER,
      );
      await labUp(ctx, { nodes, subnet: values.subnet });
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
  summary: 'network-namespace lab: nodes, kubelet stand-ins, fault injection (root)',
  help,
  run,
};
