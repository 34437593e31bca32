import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { badInput, describeError, NodeWardenError } from '../core/errors.ts';
import { runCommand } from '../host/command.ts';
import {
  describeFault,
  healFault,
  injectFault,
  parseFault,
  parseFaultKind,
  restoreNode,
  type FaultSpec,
} from './faults.ts';
import {
  addBridge,
  addNamespace,
  attachNode,
  deleteNamespace,
  deleteRootLink,
  execIn,
  listLinks,
  listNamespaces,
  namespacePids,
} from './netns.ts';
import { openLabPki } from './pki.ts';
import {
  appendKernelLog,
  LAB_CONTROLLER_PORT,
  NODEWARDEN_BIN,
  startAgent,
} from './node-processes.ts';
import {
  API_PORT,
  DEFAULT_API_HOST_PORT,
  freeLoopbackPort,
  KUBERNETES_DEFAULT_TIMING,
  startControlPlane,
  type ControlPlaneState,
  type ControlPlaneTiming,
} from './control-plane.ts';
import { buildControlPlane } from './k8s-build.ts';
import {
  isStandin,
  processArgv,
  processState,
  startStandin,
  terminate,
  waitListening,
  type ProcessState,
} from './standin-process.ts';
import { nodeScript, startDaemon } from './daemon.ts';
import { PORTS } from './openstack/plan.ts';
import { createNodeServers, deleteNodeServers, requireLabOpenStack } from './openstack/nodes.ts';
import {
  labPaths,
  readState,
  removeLabFiles,
  requireState,
  withLabLock,
  withNode,
  writeState,
  STATE_VERSION,
  type LabNodeState,
  type LabState,
  type NovaServerRecord,
} from './state.ts';
import { KUBELET_PORT } from './kubelet-standin.ts';
import { gpuSimRecord, startGpuSim } from './lab-gpu.ts';
import { prometheusStatus, startPrometheus, type PrometheusStatus } from './lab-prometheus.ts';
import {
  BRIDGE,
  HUB_NAMESPACE,
  NAMESPACE_PREFIX,
  NODE_INTERFACE,
  nodeSuffix,
  planLab,
  resolveNode,
  type LabPlan,
} from './topology.ts';

/**
 * The lab's commands — up, down, status, exec, fault, heal — over the small
 * modules: topology (the plan), netns (plumbing), state (the record),
 * standin-process (the kubelet stand-ins) and faults. Each takes the lab
 * directory and a progress callback; the CLI only parses and prints.
 */

export interface LabContext {
  readonly dir: string;
  readonly progress: (line: string) => void;
  readonly now?: () => Date;
}

const now = (ctx: LabContext): Date => (ctx.now ?? (() => new Date()))();
const seconds = (startedMs: number): string => ((performance.now() - startedMs) / 1000).toFixed(1);

export { LAB_CONTROLLER_PORT, NODEWARDEN_BIN } from './node-processes.ts';

async function checkTools(): Promise<void> {
  for (const [tool, args] of [
    ['ip', ['-V']],
    ['nft', ['--version']],
    ['tc', ['-V']],
    ['openssl', ['version']],
  ] as const) {
    await runCommand(tool, args, { timeoutMs: 5_000 });
  }
}

async function leftoverNamespaces(): Promise<string[]> {
  return (await listNamespaces()).filter((n) => n.startsWith(NAMESPACE_PREFIX));
}

function matchesPlan(state: LabState, plan: LabPlan): boolean {
  return (
    state.subnet === plan.subnet &&
    state.nodes.length === plan.nodes.length &&
    plan.nodes.every((p, i) => state.nodes[i]?.name === p.name && state.nodes[i]?.ip === p.ip)
  );
}

export interface LabUpRequest {
  readonly nodes: number;
  readonly subnet: string;
  /** Start etcd, kube-apiserver, controller-manager and scheduler in the hub (default true). */
  readonly controlPlane?: boolean;
  readonly timing?: ControlPlaneTiming;
  /** Root-namespace loopback port for the API server bridge; 0 picks a free one. */
  readonly apiPort?: number;
  /** Start Prometheus in the hub, scraping the GPU simulators and agents (default true). */
  readonly prometheus?: boolean;
  /** Back every node with a Nova server of the lab OpenStack in this directory (needs the control plane). */
  readonly openstack?: { readonly dir: string; readonly bootDelayMs: number };
}

export interface UpResult {
  readonly state: LabState;
  /** False when a matching lab was already up and nothing was made. */
  readonly created: boolean;
  readonly seconds: number;
}

/**
 * Brings the lab up: hub namespace with the bridge and the subnet's `.1`,
 * one namespace per node joined by a veth pair, a serving certificate and a
 * kubelet stand-in per node. A lab that already exists is left alone: when
 * it matches the request this returns `created: false`, otherwise CONFLICT.
 * A failure part-way removes what was made.
 */
export async function labUp(ctx: LabContext, request: LabUpRequest): Promise<UpResult> {
  const started = performance.now();
  const plan = planLab(request.nodes, request.subnet);
  if (request.openstack !== undefined && request.controlPlane === false) {
    throw badInput(
      'lab up --openstack needs the control plane: the Nodes carry the servers in their providerID',
      'drop --no-control-plane',
    );
  }
  // Before anything is made: a lab OpenStack that is not up fails the command at once, by name.
  if (request.openstack !== undefined) await requireLabOpenStack(request.openstack.dir);
  return withLabLock(ctx.dir, async () => {
    const existing = await readState(ctx.dir);
    const namespaces = await leftoverNamespaces();
    if (existing) {
      const complete =
        existing.phase === 'up' &&
        existing.nodes.every((n) => namespaces.includes(n.namespace)) &&
        namespaces.includes(HUB_NAMESPACE);
      if (complete && matchesPlan(existing, plan)) {
        ctx.progress(
          `lab already up: ${existing.nodes.length} nodes on ${existing.subnet} (${ctx.dir})`,
        );
        return { state: existing, created: false, seconds: Number(seconds(started)) };
      }
      throw new NodeWardenError(
        'CONFLICT',
        `a lab already exists in ${ctx.dir} (${existing.nodes.length} nodes on ${existing.subnet}, ${complete ? 'up' : 'incomplete'}) and does not match --nodes ${plan.nodes.length} --subnet ${plan.subnet}`,
        { hint: 'run nodewarden lab down first, or lab up with the same --nodes and --subnet' },
      );
    }
    if (namespaces.length > 0) {
      throw new NodeWardenError(
        'CONFLICT',
        `lab namespaces exist but ${ctx.dir} holds no lab state: ${namespaces.slice(0, 4).join(', ')}${namespaces.length > 4 ? ', …' : ''}`,
        {
          hint: 'a crashed lab or one with another NODEWARDEN_LAB_DIR: run nodewarden lab down to remove them',
        },
      );
    }
    await checkTools();
    try {
      const state = await build(ctx, plan, request);
      ctx.progress(
        `lab up: ${plan.nodes.length} nodes on ${plan.subnet} in ${seconds(started)} s (state ${labPaths(ctx.dir).state})`,
      );
      return { state, created: true, seconds: Number(seconds(started)) };
    } catch (error) {
      ctx.progress(`lab up failed (${describeError(error)}); removing what was made`);
      await teardown(ctx.dir, ctx.progress);
      throw error;
    }
  });
}

/**
 * Builds (or reuses) the control-plane binaries and starts them in the hub.
 * The root-namespace bridge's pid goes to run/ so `lab down` finds it even
 * after a crash (every other control-plane process lives in the hub).
 */
async function startLabControlPlane(
  ctx: LabContext,
  plan: LabPlan,
  pki: Awaited<ReturnType<typeof openLabPki>>,
  request: LabUpRequest,
): Promise<ControlPlaneState> {
  const binaries = await buildControlPlane(ctx.progress);
  ctx.progress(
    `control plane binaries: ${binaries.dir}${binaries.built ? ` (built in ${binaries.seconds.toFixed(0)} s)` : ' (cached)'}`,
  );
  const controlPlane = await startControlPlane(
    {
      labDir: ctx.dir,
      hubNamespace: plan.hub.namespace,
      apiAddress: plan.hub.ip,
      binaries,
      pki,
      hostPort: await freeLoopbackPort(request.apiPort ?? DEFAULT_API_HOST_PORT),
      timing: request.timing ?? KUBERNETES_DEFAULT_TIMING,
    },
    ctx.progress,
  );
  const run = labPaths(ctx.dir).run;
  for (const [name, pid] of Object.entries(controlPlane.pids)) {
    await writeFile(join(run, `${name}.pid`), `${pid}\n`);
  }
  return controlPlane;
}

/**
 * One Nova server per node (on a port made first), recorded in the state as
 * they are made, so a failure part-way leaves `lab down` the list to delete.
 */
async function makeNovaServers(
  ctx: LabContext,
  state: LabState,
  nodes: readonly LabNodeState[],
  openstack: NonNullable<LabUpRequest['openstack']>,
): Promise<LabState> {
  const paths = labPaths(ctx.dir);
  const made = new Map<string, NovaServerRecord>();
  const record = async (): Promise<LabState> => {
    const next: LabState = {
      ...state,
      openstack: {
        dir: openstack.dir,
        hypervisorPidFile: join(paths.run, 'hypervisor.pid'),
        hypervisorLogFile: join(paths.logs, 'hypervisor.log'),
        bootDelayMs: openstack.bootDelayMs,
      },
      nodes: state.nodes.map((n) => {
        const server = made.get(n.name);
        return server ? { ...n, novaServer: server } : n;
      }),
    };
    await writeState(next);
    return next;
  };
  try {
    await createNodeServers(
      openstack.dir,
      nodes.map((n) => n.name),
      made,
      ctx.progress,
    );
  } finally {
    await record();
  }
  return record();
}

/** Unix sockets under run/ that join the hub's 127.0.0.1:<port> to the root namespace's, per OpenStack API. */
const OPENSTACK_BRIDGED = [PORTS.keystone, PORTS.nova, PORTS.neutron] as const;

/**
 * The hypervisor (root namespace, beside the lab OpenStack) and the bridges
 * that let a controller in the hub reach Keystone, Nova and Neutron at the
 * same 127.0.0.1 addresses the catalogue names. Pid files in run/.
 */
async function startOpenStackSide(
  ctx: LabContext,
  openstack: NonNullable<LabState['openstack']>,
): Promise<void> {
  const paths = labPaths(ctx.dir);
  const socket = (port: number): string => join(paths.run, `openstack-${port}.sock`);
  const hostPid = startDaemon({
    argv: nodeScript(
      'lab/api-bridge.js',
      ...OPENSTACK_BRIDGED.flatMap((p) => [socket(p), `127.0.0.1:${p}`]),
    ),
    logFile: join(paths.logs, 'openstack-bridge-host.log'),
  });
  const hubPid = startDaemon({
    argv: nodeScript(
      'lab/api-bridge.js',
      ...OPENSTACK_BRIDGED.flatMap((p) => [`127.0.0.1:${p}`, socket(p)]),
    ),
    logFile: join(paths.logs, 'openstack-bridge-hub.log'),
    namespace: HUB_NAMESPACE,
  });
  await writeFile(join(paths.run, 'openstack-bridge-host.pid'), `${hostPid}\n`);
  await writeFile(join(paths.run, 'openstack-bridge-hub.pid'), `${hubPid}\n`);
  ctx.progress(
    `OpenStack bridges: hub 127.0.0.1:{${OPENSTACK_BRIDGED.join(',')}} → root namespace (pids ${hubPid}, ${hostPid})`,
  );
  const pid = startDaemon({
    argv: [
      process.execPath,
      NODEWARDEN_BIN,
      'lab',
      'hypervisor',
      '--pid-file',
      openstack.hypervisorPidFile,
    ],
    logFile: openstack.hypervisorLogFile,
    env: { NODEWARDEN_LAB_DIR: ctx.dir },
  });
  await waitListening(
    pid,
    openstack.hypervisorPidFile,
    openstack.hypervisorLogFile,
    'lab hypervisor',
    90_000,
  );
  ctx.progress(
    `lab hypervisor: pid ${pid}, applying Nova's actions (boot delay ${openstack.bootDelayMs / 1000} s); log ${openstack.hypervisorLogFile}`,
  );
}

async function build(ctx: LabContext, plan: LabPlan, request: LabUpRequest): Promise<LabState> {
  const paths = labPaths(ctx.dir);
  await mkdir(paths.logs, { recursive: true });
  await mkdir(paths.run, { recursive: true });
  ctx.progress(`lab dir ${ctx.dir}`);

  let step = performance.now();
  await writeFile(paths.token, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  const pki = await openLabPki(paths.pki);
  const nodes: LabNodeState[] = [];
  for (const node of plan.nodes) {
    const suffix = nodeSuffix(node.name);
    const pair = await pki.issue({
      name: `kubelet-serving-${suffix}`,
      commonName: node.name,
      ips: [node.ip],
      dnsNames: [node.name],
      usage: 'server',
    });
    nodes.push({
      ...node,
      kubelet: {
        port: KUBELET_PORT,
        pid: null,
        pidFile: join(paths.run, `kubelet-${suffix}.pid`),
        logFile: join(paths.logs, `kubelet-${suffix}.log`),
        certFile: pair.cert,
        keyFile: pair.key,
      },
      faults: [],
    });
  }
  ctx.progress(
    `certificates: lab CA and ${nodes.length} kubelet serving certificates in ${seconds(step)} s`,
  );

  const at = now(ctx).toISOString();
  let state: LabState = {
    version: STATE_VERSION,
    phase: 'building',
    createdAt: at,
    updatedAt: at,
    dir: ctx.dir,
    subnet: plan.subnet,
    prefixLength: plan.prefixLength,
    gateway: plan.gateway,
    hub: plan.hub,
    caCert: pki.ca.cert,
    tokenFile: paths.token,
    nodes,
  };
  await writeState(state);

  step = performance.now();
  await addNamespace(plan.hub.namespace);
  await addBridge(plan.hub.namespace, plan.hub.bridge, `${plan.hub.ip}/${plan.prefixLength}`);
  ctx.progress(
    `hub ${plan.hub.namespace}: bridge ${plan.hub.bridge} ${plan.hub.ip}/${plan.prefixLength}`,
  );
  for (const node of nodes) {
    await addNamespace(node.namespace);
    await attachNode({
      hubNamespace: plan.hub.namespace,
      bridge: plan.hub.bridge,
      hubVeth: node.hubVeth,
      nodeNamespace: node.namespace,
      nodeInterface: NODE_INTERFACE,
      address: `${node.ip}/${plan.prefixLength}`,
      gateway: plan.gateway,
    });
    ctx.progress(
      `node ${node.name} (${node.role}) ${node.ip} in ${node.namespace}, veth ${node.hubVeth} ⇄ ${NODE_INTERFACE}`,
    );
  }
  ctx.progress(`network: ${nodes.length + 1} namespaces in ${seconds(step)} s`);

  if (request.controlPlane ?? true) {
    step = performance.now();
    const controlPlane = await startLabControlPlane(ctx, plan, pki, request);
    state = { ...state, controlPlane };
    await writeState(state);
    for (const [i, node] of nodes.entries()) {
      const client = await pki.issue({
        name: `kubelet-client-${nodeSuffix(node.name)}`,
        commonName: `system:node:${node.name}`,
        organization: 'system:nodes',
        usage: 'client',
      });
      nodes[i] = {
        ...node,
        kubelet: {
          ...node.kubelet,
          kube: {
            server: `https://${plan.hub.ip}:${API_PORT}`,
            caFile: pki.ca.cert,
            certFile: client.cert,
            keyFile: client.key,
          },
        },
      };
    }
    ctx.progress(
      `control plane: up in ${seconds(step)} s; KUBECONFIG=${controlPlane.adminKubeconfig}`,
    );
  }

  if (request.openstack) {
    step = performance.now();
    state = await makeNovaServers(ctx, state, nodes, request.openstack);
    for (const [i, node] of nodes.entries()) {
      const made = state.nodes[i]?.novaServer;
      if (made) nodes[i] = { ...node, novaServer: made };
    }
    ctx.progress(`nova servers: ${nodes.length} ACTIVE in ${seconds(step)} s`);
  }

  step = performance.now();
  // Each GPU node's simulator record (null for other nodes), by node index: the
  // stand-ins need its control file and the simulators below start from it.
  const gpus = nodes.map((node) => gpuSimRecord(ctx.dir, node));
  const pids = await Promise.all(
    nodes.map(async (node, i) => {
      // A GPU node's stand-in plays stability-test pods on its simulator: it needs the
      // simulator's control file now (the simulator itself starts below).
      const gpu = gpus[i] ?? null;
      const pid = await startStandin(gpu === null ? node : { ...node, gpu }, paths.token);
      ctx.progress(
        `kubelet stand-in ${nodeSuffix(node.name)}: pid ${pid}, https://${node.ip}:${node.kubelet.port}/healthz`,
      );
      return pid;
    }),
  );
  state = {
    ...state,
    nodes: nodes.map((n, i) => ({ ...n, kubelet: { ...n.kubelet, pid: pids[i] ?? null } })),
  };
  await writeState(state);
  ctx.progress(`kubelet stand-ins: ${pids.length} listening in ${seconds(step)} s`);

  // A GPU simulator on each GPU node (DCGM-exporter format on :9400), scripted by `lab gpu`.
  step = performance.now();
  for (const [i, node] of state.nodes.entries()) {
    const gpu = gpus[i] ?? null;
    if (gpu === null) continue;
    const pid = await startGpuSim(node, gpu);
    state = withNode(state, { ...node, gpu: { ...gpu, pid } }, now(ctx));
    await writeState(state);
    ctx.progress(
      `GPU simulator ${nodeSuffix(node.name)} (${gpu.preset}): pid ${pid}, http://${node.ip}:${gpu.port}/metrics`,
    );
  }
  ctx.progress(`GPU simulators: ${state.nodes.filter((n) => n.gpu).length} in ${seconds(step)} s`);

  if (state.controlPlane) {
    // One agent per node, as the DaemonSet would run it: it probes the peers the
    // controller assigns and pushes to the controller at the hub's :9464 (buffering
    // until a controller runs there: sudo ip netns exec nw-hub nodewarden controller
    // --agent-token-file <lab dir>/token …). Its kernel log is a file `lab kmsg` appends to.
    for (const node of state.nodes) await startAgent(state, node);
    ctx.progress(
      `agents: ${nodes.length} started, pushing to http://${plan.hub.ip}:${LAB_CONTROLLER_PORT}`,
    );
  }

  if (request.prometheus ?? true) {
    step = performance.now();
    const prometheus = await startPrometheus(state);
    state = { ...state, prometheus };
    await writeState(state);
    ctx.progress(
      `Prometheus: pid ${prometheus.pid}, ${prometheus.url} in ${plan.hub.namespace} (config ${prometheus.configFile}) in ${seconds(step)} s`,
    );
  }
  if (state.openstack) await startOpenStackSide(ctx, state.openstack);

  // One ping from the hub to each node proves the bridge forwards before we say "up".
  const unreachable = (
    await Promise.all(
      nodes.map(async (n) => ({
        n,
        r: await execIn(plan.hub.namespace, ['ping', '-c', '1', '-W', '2', n.ip]),
      })),
    )
  ).filter(({ r }) => r.code !== 0);
  if (unreachable.length > 0) {
    throw new NodeWardenError(
      'UNAVAILABLE',
      `the hub cannot ping ${unreachable.map(({ n }) => n.ip).join(', ')} after lab up`,
      {
        hint: 'check ip -n nw-hub link for the bridge and veths',
      },
    );
  }
  state = { ...state, phase: 'up', updatedAt: now(ctx).toISOString() };
  await writeState(state);
  return state;
}

export interface DownResult {
  readonly processesStopped: number;
  readonly namespacesDeleted: readonly string[];
  readonly seconds: number;
}

/** Pids from pid files in `<dir>/run` whose process still names the lab dir in its argv. */
async function pidFileProcesses(dir: string): Promise<number[]> {
  const run = labPaths(dir).run;
  const files = await readdir(run).catch(() => [] as string[]);
  const pids: number[] = [];
  for (const file of files.filter((f) => f.endsWith('.pid'))) {
    const pid = Number((await readFile(join(run, file), 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const argv = await processArgv(pid);
    if (argv?.some((a) => a.startsWith(dir))) pids.push(pid);
  }
  return pids;
}

/**
 * Stops every lab process and deletes every `nw-` namespace, then the lab's
 * files. Works from whatever is left: the state file if there is one, pid
 * files, and `ip netns pids` of each namespace — so a lab whose `up` crashed
 * half-way is cleaned as well. Running it twice is harmless.
 */
async function teardown(dir: string, progress: (line: string) => void): Promise<DownResult> {
  const started = performance.now();
  let state: LabState | null = null;
  try {
    state = await readState(dir);
  } catch (error) {
    if (!(error instanceof NodeWardenError && error.code === 'CONFLICT')) throw error;
    // A broken state file: clean from namespaces and pid files alone.
  }
  const namespaces = await leftoverNamespaces();
  const pids = new Set<number>();
  for (const node of state?.nodes ?? []) {
    if (node.kubelet.pid !== null && (await isStandin(node.kubelet.pid, node.kubelet.pidFile)))
      pids.add(node.kubelet.pid);
  }
  for (const pid of await pidFileProcesses(dir)) pids.add(pid);
  for (const namespace of namespaces)
    for (const pid of await namespacePids(namespace)) pids.add(pid);
  const all = [...pids];
  const survivors = await terminate(all, 3_000);
  if (survivors.length > 0) {
    throw new NodeWardenError(
      'UNAVAILABLE',
      `lab processes survived SIGKILL: ${survivors.join(', ')}`,
      {
        hint: `they may be stuck in the kernel (state D): ps -o pid,stat,cmd -p ${survivors.join(',')}`,
      },
    );
  }
  const servers = (state?.nodes ?? []).flatMap((n) => (n.novaServer ? [n.novaServer] : []));
  if (state?.openstack && servers.length > 0) {
    const problems = await deleteNodeServers(state.openstack.dir, servers);
    progress(
      problems.length === 0
        ? `nova servers: ${servers.length} deleted with their ports`
        : `nova servers not all deleted: ${problems.join('; ')}`,
    );
  }
  // Node namespaces first: deleting them destroys their veth pairs, then the hub and its bridge go.
  const ordered = [
    ...namespaces.filter((n) => n !== HUB_NAMESPACE),
    ...namespaces.filter((n) => n === HUB_NAMESPACE),
  ];
  for (const namespace of ordered) await deleteNamespace(namespace);
  // Nothing of the lab is ever made in the root namespace; this only sweeps up after a foreign tool or an old version.
  for (const link of await listLinks(null)) {
    if (link.name === BRIDGE || /^nwh-[a-z0-9]{5}$/.test(link.name))
      await deleteRootLink(link.name);
  }
  await removeLabFiles(dir);
  return {
    processesStopped: all.length,
    namespacesDeleted: ordered,
    seconds: Number(seconds(started)),
  };
}

export async function labDown(ctx: LabContext): Promise<DownResult> {
  const result = await withLabLock(ctx.dir, () => teardown(ctx.dir, ctx.progress));
  const left = await leftoverNamespaces();
  if (left.length > 0) {
    throw new NodeWardenError('UNAVAILABLE', `namespaces survived lab down: ${left.join(', ')}`, {
      hint: 'see ip netns pids <namespace> for processes holding them',
    });
  }
  if (result.processesStopped === 0 && result.namespacesDeleted.length === 0) {
    ctx.progress(`no lab to remove (dir ${ctx.dir}, no ${NAMESPACE_PREFIX}* namespaces)`);
  } else {
    ctx.progress(
      `lab down: stopped ${result.processesStopped} processes, deleted ${result.namespacesDeleted.length} namespaces, removed ${ctx.dir} in ${result.seconds} s`,
    );
  }
  return result;
}

export interface NodeStatus {
  readonly name: string;
  readonly role: string;
  readonly namespace: string;
  readonly ip: string;
  readonly namespaceExists: boolean;
  /** The node's eth0: `up`, `down` (link-down), or `missing`. */
  readonly link: 'up' | 'down' | 'missing';
  readonly kubelet: { readonly pid: number | null; readonly state: ProcessState | 'not running' };
  readonly faults: readonly string[];
}

export interface LabStatus {
  readonly dir: string;
  readonly phase: LabState['phase'];
  readonly createdAt: string;
  readonly subnet: string;
  readonly hub: LabState['hub'] & { readonly namespaceExists: boolean };
  readonly nodes: readonly NodeStatus[];
  readonly controlPlane: {
    readonly adminKubeconfig: string;
    readonly labAdminKubeconfig: string;
    readonly apiBridge: string;
    readonly processes: Readonly<Record<string, { pid: number; state: ProcessState }>>;
  } | null;
  /** Null when lab up ran with --no-prometheus. */
  readonly prometheus: PrometheusStatus | null;
  /** Null unless lab up ran with --openstack. */
  readonly openstack: {
    readonly dir: string;
    readonly bootDelayMs: number;
    readonly hypervisor: { readonly pid: number | null; readonly state: ProcessState };
    /** Nova server id per node name. */
    readonly servers: Readonly<Record<string, string>>;
  } | null;
}

/** The pid a lab process wrote to its pid file, if that process still runs. */
async function pidFileStatus(
  pidFile: string,
): Promise<{ readonly pid: number | null; readonly state: ProcessState }> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return { pid: null, state: 'gone' };
  return { pid, state: await processState(pid) };
}

/** What is running and what is broken, read from the state file and checked against the system. */
export async function labStatus(ctx: LabContext): Promise<LabStatus> {
  const state = await readState(ctx.dir);
  if (!state) {
    const left = await leftoverNamespaces();
    throw new NodeWardenError(
      'NOT_FOUND',
      `no lab in ${ctx.dir}${left.length ? ` (but ${left.length} ${NAMESPACE_PREFIX}* namespaces exist)` : ''}`,
      {
        hint: left.length
          ? 'run nodewarden lab down to remove them, then lab up'
          : 'start one: sudo nodewarden lab up',
      },
    );
  }
  const namespaces = await listNamespaces();
  const nodes = await Promise.all(
    state.nodes.map(async (node): Promise<NodeStatus> => {
      const exists = namespaces.includes(node.namespace);
      const eth0 = exists
        ? (await listLinks(node.namespace)).find((l) => l.name === NODE_INTERFACE)
        : undefined;
      const pid = node.kubelet.pid;
      let kubeletState: ProcessState | 'not running' = 'not running';
      if (pid !== null)
        kubeletState = (await isStandin(pid, node.kubelet.pidFile))
          ? await processState(pid)
          : 'gone';
      return {
        name: node.name,
        role: node.role,
        namespace: node.namespace,
        ip: node.ip,
        namespaceExists: exists,
        link: eth0 === undefined ? 'missing' : eth0.up ? 'up' : 'down',
        kubelet: { pid, state: kubeletState },
        faults: node.faults.map(describeFault),
      };
    }),
  );
  return {
    dir: ctx.dir,
    phase: state.phase,
    createdAt: state.createdAt,
    subnet: state.subnet,
    hub: { ...state.hub, namespaceExists: namespaces.includes(state.hub.namespace) },
    nodes,
    controlPlane: state.controlPlane
      ? {
          adminKubeconfig: state.controlPlane.adminKubeconfig,
          labAdminKubeconfig: state.controlPlane.labAdminKubeconfig,
          apiBridge: `https://127.0.0.1:${state.controlPlane.hostPort}`,
          processes: Object.fromEntries(
            await Promise.all(
              Object.entries(state.controlPlane.pids).map(
                async ([name, pid]) => [name, { pid, state: await processState(pid) }] as const,
              ),
            ),
          ),
        }
      : null,
    prometheus: state.prometheus
      ? await prometheusStatus(state.hub.namespace, state.prometheus)
      : null,
    openstack: state.openstack
      ? {
          dir: state.openstack.dir,
          bootDelayMs: state.openstack.bootDelayMs,
          hypervisor: await pidFileStatus(state.openstack.hypervisorPidFile),
          servers: Object.fromEntries(
            state.nodes.flatMap((n) => (n.novaServer ? [[n.name, n.novaServer.serverId]] : [])),
          ),
        }
      : null,
  };
}

/** The namespace and argv for `lab exec`; `nodewarden` means this package's own CLI. */
export async function execPlan(
  ctx: LabContext,
  query: string,
  command: readonly string[],
): Promise<{ node: LabNodeState; argv: [string, ...string[]] }> {
  const state = await requireState(ctx.dir);
  const node = resolveNode(state.nodes, query);
  const [program, ...args] = command;
  if (program === undefined) {
    throw new NodeWardenError('BAD_INPUT', 'lab exec needs a command to run', {
      hint: `e.g. nodewarden lab exec ${nodeSuffix(node.name)} -- ip addr`,
    });
  }
  const inner: [string, ...string[]] =
    program === 'nodewarden' ? [process.execPath, NODEWARDEN_BIN, ...args] : [program, ...args];
  return { node, argv: ['ip', 'netns', 'exec', node.namespace, ...inner] };
}

/** Injects a fault and records it. */
export async function labFault(
  ctx: LabContext,
  query: string,
  args: readonly string[],
): Promise<{ node: LabNodeState; fault: FaultSpec }> {
  return withLabLock(ctx.dir, async () => {
    const state = await requireState(ctx.dir);
    const node = resolveNode(state.nodes, query);
    const fault = parseFault(args, state.nodes, node);
    const next = await injectFault(state, node, fault, now(ctx));
    await writeState(withNode(state, next, now(ctx)));
    ctx.progress(`fault ${describeFault(fault)} on ${node.name} (${node.ip})`);
    return { node: next, fault };
  });
}

/** Heals one fault, or (no `kind`) restores every layer of the node. */
export async function labHeal(
  ctx: LabContext,
  query: string,
  kind?: string,
): Promise<{ node: LabNodeState; repaired: string[] }> {
  return withLabLock(ctx.dir, async () => {
    const state = await requireState(ctx.dir);
    const node = resolveNode(state.nodes, query);
    if (kind !== undefined) {
      const next = await healFault(state, node, parseFaultKind(kind));
      await writeState(withNode(state, next, now(ctx)));
      ctx.progress(`healed ${kind} on ${node.name}`);
      return { node: next, repaired: [kind] };
    }
    const { node: next, repaired } = await restoreNode(state, node, now(ctx));
    await writeState(withNode(state, next, now(ctx)));
    const recorded = node.faults.map(describeFault);
    ctx.progress(
      `healed ${node.name}: ${recorded.length ? `faults cleared: ${recorded.join(', ')}; ` : ''}${repaired.length ? `repaired: ${repaired.join(', ')}` : 'every layer was already as lab up left it'}`,
    );
    return { node: next, repaired };
  });
}

/**
 * Appends a kernel-log line to the node's kmsg file, which its agent follows
 * as it would /dev/kmsg (e.g. an `NVRM: Xid … 79` line before a cut).
 */
export async function labKmsg(ctx: LabContext, query: string, line: string): Promise<string> {
  const state = await requireState(ctx.dir);
  const node = resolveNode(state.nodes, query);
  const file = await appendKernelLog(ctx.dir, node, [line]);
  ctx.progress(`kmsg ${node.name}: ${line}`);
  return file;
}
