import { access, rm, writeFile } from 'node:fs/promises';
import { lossGateFile, LOSS_GATE_SET, type LossGate } from './gpu-workload.ts';
import { liveGpuSimPid, startGpuSim } from './lab-gpu.ts';
import { badInput, NodeWardenError } from '../core/errors.ts';
import { execCheckedIn, execIn, hasDefaultRoute, ipIn, listLinks, setLink } from './netns.ts';
import {
  appendKernelLog,
  kmsgSize,
  liveAgentPid,
  startAgent,
  stopNodeProcesses,
} from './node-processes.ts';
import { vmOf, type LabNodeState, type LabState } from './state.ts';
import { booted, poweredOff, withAction } from './vm.ts';
import {
  freezeStandin,
  liveStandinPid,
  processState,
  startStandin,
  stopStandin,
} from './standin-process.ts';
import { NODE_INTERFACE, resolveNode, nodeSuffix } from './topology.ts';

/**
 * Faults the lab injects into one node, each reproducing how a real failure
 * looks from another node, layer by layer (docs/lab.md has the table):
 *
 * - `link-down`: the node's own eth0 goes down inside its namespace — the
 *   node's stack is dead, as in the seed. The hub-side veth loses carrier,
 *   the bridge stops forwarding to it, ARP gets no reply and the observers'
 *   neighbour entry decays to FAILED. (Downing the hub side instead looks the
 *   same on the wire, but the seed's report blames the node, not the switch.)
 * - `kubelet-stop`: the stand-in is killed → ECONNREFUSED at L4.
 * - `kubelet-hang`: SIGSTOP → the kernel still completes TCP handshakes, TLS
 *   and HTTP time out.
 * - `block-kubelet-port`: nftables in the node drops tcp dport 10250 → L3 ok,
 *   L4 timeout.
 * - `loss <pct>`: nftables drops that share of every frame the node receives
 *   on eth0 (netdev ingress, so ARP too, like a lossy link).
 * - `delay <ms>`: netem on the node's eth0, when the kernel has netem.
 * - `partition <observer,…>`: the node drops every frame (IP and ARP) from
 *   the named nodes only; everyone else still reaches it.
 * - `power-off`: the VM loses power — every process in the namespace is
 *   killed, eth0 goes down (the port loses its peer: Neutron DOWN), and the
 *   lab cloud says SHUTOFF with a `stop` by Nova's power sync (no user).
 * - `kernel-panic`: the console log ends in `Kernel panic - not syncing`,
 *   every process is killed and the namespace neither receives nor sends a
 *   frame (netdev ingress and egress drop), yet the link stays up and the
 *   lab cloud still says ACTIVE/RUNNING: the seed's NODE_HALTED shape.
 * Healing either — or a reboot through the lab cloud — boots the node: every
 * layer restored, stand-in and agent started anew, every fault cleared.
 * - `loss-above-gpu <loss%> <gpu%>`: like `loss`, but only while the node's
 *   simulated GPU memory is at or above gpu% — the drop rule matches a set
 *   that the node's kubelet stand-in fills and empties as the simulator's
 *   script crosses the threshold (src/lab/gpu-workload.ts). GPU nodes only.
 */

export type FaultKind =
  | 'link-down'
  | 'kubelet-stop'
  | 'kubelet-hang'
  | 'block-kubelet-port'
  | 'loss'
  | 'delay'
  | 'partition'
  | 'power-off'
  | 'kernel-panic'
  | 'loss-above-gpu';

export const FAULT_KINDS: readonly FaultKind[] = [
  'link-down',
  'kubelet-stop',
  'kubelet-hang',
  'block-kubelet-port',
  'loss',
  'delay',
  'partition',
  'power-off',
  'kernel-panic',
  'loss-above-gpu',
];

export interface PartitionObserver {
  readonly name: string;
  readonly ip: string;
}

export type FaultSpec =
  | { readonly kind: 'link-down' }
  | { readonly kind: 'kubelet-stop' }
  | { readonly kind: 'kubelet-hang' }
  | { readonly kind: 'block-kubelet-port' }
  | { readonly kind: 'loss'; readonly percent: number }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'partition'; readonly observers: readonly PartitionObserver[] }
  | { readonly kind: 'power-off' }
  | { readonly kind: 'kernel-panic' }
  | { readonly kind: 'loss-above-gpu'; readonly percent: number; readonly gpuPercent: number };

/** A fault as recorded in the lab state. */
export type ActiveFault = FaultSpec & { readonly since: string };

const usage =
  'faults: link-down | kubelet-stop | kubelet-hang | block-kubelet-port | loss <1-100> | delay <1-60000 ms> | partition <observer,…> | power-off | kernel-panic | loss-above-gpu <loss 1-100> <GPU memory 0-100>';

function isFaultKind(text: string): text is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(text);
}

export function parseFaultKind(text: string): FaultKind {
  if (!isFaultKind(text)) throw badInput(`unknown fault "${text}"`, usage);
  return text;
}

function wholeNumber(
  name: string,
  text: string | undefined,
  min: number,
  max: number,
  example: string,
): number {
  const value = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || value < min || value > max) {
    throw badInput(
      `${name} needs a whole number from ${min} to ${max}${text === undefined ? '' : `, not "${text}"`}`,
      `e.g. nodewarden lab fault <node> ${example}`,
    );
  }
  return value;
}

/**
 * Parses `<fault> [args]` for `target`. Rules:
 * - loss takes a percentage 1–100, delay milliseconds 1–60000;
 * - partition takes a comma list of other lab nodes (name, prefix/suffix or IP),
 *   never the target itself;
 * - the other faults take no argument.
 */
export function parseFault(
  args: readonly string[],
  nodes: readonly PartitionObserver[],
  target: PartitionObserver,
): FaultSpec {
  const [kindText, arg, extra] = args;
  if (kindText === undefined) throw badInput('which fault?', usage);
  const kind = parseFaultKind(kindText);
  if (kind === 'loss-above-gpu') {
    if (args.length > 3)
      throw badInput(`too many arguments for ${kind}: ${args.slice(3).join(' ')}`, usage);
    return {
      kind,
      percent: wholeNumber('loss-above-gpu loss', arg, 1, 100, 'loss-above-gpu 30 40'),
      gpuPercent: wholeNumber('loss-above-gpu GPU memory', extra, 0, 100, 'loss-above-gpu 30 40'),
    };
  }
  const takesArgument = kind === 'loss' || kind === 'delay' || kind === 'partition';
  if ((takesArgument && extra !== undefined) || (!takesArgument && arg !== undefined)) {
    throw badInput(
      `too many arguments for ${kind}: ${args.slice(takesArgument ? 2 : 1).join(' ')}`,
      usage,
    );
  }
  switch (kind) {
    case 'link-down':
    case 'kubelet-stop':
    case 'kubelet-hang':
    case 'block-kubelet-port':
    case 'power-off':
    case 'kernel-panic':
      return { kind };
    case 'loss':
      return { kind, percent: wholeNumber('loss', arg, 1, 100, 'loss 30') };
    case 'delay':
      return { kind, ms: wholeNumber('delay', arg, 1, 60_000, 'delay 200') };
    case 'partition': {
      if (arg === undefined || arg.trim() === '') {
        throw badInput(
          'partition needs the observers it cuts off',
          'e.g. nodewarden lab fault bkqzq partition 85zt7,9f79t',
        );
      }
      const observers = [
        ...new Set(
          arg
            .split(',')
            .map((q) => q.trim())
            .filter((q) => q !== ''),
        ),
      ].map((q) => resolveNode(nodes, q));
      if (observers.some((o) => o.name === target.name)) {
        throw badInput(
          `partition of ${target.name} cannot name the node itself`,
          'name the other nodes that lose it',
        );
      }
      const unique = [
        ...new Map(observers.map((o) => [o.name, { name: o.name, ip: o.ip }])).values(),
      ];
      return { kind, observers: unique };
    }
  }
}

/** One line for status output: `loss 30%`, `partition from 85zt7, 9f79t`. */
export function describeFault(fault: FaultSpec): string {
  switch (fault.kind) {
    case 'loss':
      return `loss ${fault.percent}%`;
    case 'delay':
      return `delay ${fault.ms} ms`;
    case 'loss-above-gpu':
      return `loss ${fault.percent}% while GPU memory ≥ ${fault.gpuPercent}%`;
    case 'partition':
      return `partition from ${fault.observers.map((o) => nodeSuffix(o.name)).join(', ')}`;
    case 'link-down':
    case 'kubelet-stop':
    case 'kubelet-hang':
    case 'block-kubelet-port':
    case 'power-off':
    case 'kernel-panic':
      return fault.kind;
  }
}

/**
 * Faults that cannot be active together on one node. Rules:
 * - the same fault twice is a conflict (heal it first, then inject anew);
 * - kubelet-stop and kubelet-hang both act on the one stand-in process;
 * - a node that is powered off or panicked takes no further fault (nothing
 *   runs on it), and power-off or kernel-panic needs a node without either.
 * Returns the active fault that blocks `next`, or null.
 */
export function conflictingFault(active: readonly FaultSpec[], next: FaultSpec): FaultSpec | null {
  const kubelet = new Set<FaultKind>(['kubelet-stop', 'kubelet-hang']);
  const dead = new Set<FaultKind>(['power-off', 'kernel-panic']);
  return (
    active.find(
      (f) =>
        f.kind === next.kind || (kubelet.has(f.kind) && kubelet.has(next.kind)) || dead.has(f.kind),
    ) ?? null
  );
}

const TABLE = 'nodewarden';

/** What a panicking Linux guest prints last on its serial console. */
export const PANIC_LINES: readonly string[] = [
  'BUG: kernel NULL pointer dereference, address: 0000000000000008',
  'Oops: 0000 [#1] PREEMPT SMP NOPTI',
  'Kernel panic - not syncing: Fatal exception in interrupt',
  '---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---',
];

/**
 * The node's whole nftables ruleset for its firewall faults, as one `nft -f`
 * transaction: both lab tables are declared, deleted and rebuilt from the
 * active faults, so injecting and healing are the same idempotent step and a
 * heal leaves no table behind.
 */
export function firewallScript(faults: readonly FaultSpec[], kubeletPort: number): string {
  const lines = [
    `table inet ${TABLE}`,
    `delete table inet ${TABLE}`,
    `table netdev ${TABLE}`,
    `delete table netdev ${TABLE}`,
  ];
  const ingress = (chain: string, rules: readonly string[]): string =>
    `  chain ${chain} {\n    type filter hook ingress device "${NODE_INTERFACE}" priority 0; policy accept;\n` +
    rules.map((r) => `    ${r}\n`).join('') +
    '  }';
  const netdev: string[] = [];
  const inet: string[] = [];
  for (const fault of faults) {
    switch (fault.kind) {
      case 'block-kubelet-port':
        inet.push(
          `  chain block_kubelet_port {\n    type filter hook input priority 0; policy accept;\n    tcp dport ${kubeletPort} drop\n  }`,
        );
        break;
      case 'loss':
        // `numgen random mod 100` yields 0–99, so "< 100" would be out of range: 100 % is a plain drop.
        netdev.push(
          ingress('loss', [
            fault.percent >= 100 ? 'drop' : `numgen random mod 100 < ${fault.percent} drop`,
          ]),
        );
        break;
      case 'partition': {
        const set = `{ ${fault.observers.map((o) => o.ip).join(', ')} }`;
        netdev.push(ingress('partition', [`ip saddr ${set} drop`, `arp saddr ip ${set} drop`]));
        break;
      }
      case 'kernel-panic':
        // A halted kernel answers nothing and sends nothing, ARP included; the link stays up.
        netdev.push(ingress('panic_in', ['drop']));
        netdev.push(
          `  chain panic_out {\n    type filter hook egress device "${NODE_INTERFACE}" priority 0; policy accept;\n    drop\n  }`,
        );
        break;
      case 'loss-above-gpu':
        // Closed (empty set) until the stand-in sees the GPU script at the threshold.
        netdev.push(
          `  set ${LOSS_GATE_SET} {\n    type ether_type;\n  }`,
          ingress('loss_above_gpu', [
            `ether type @${LOSS_GATE_SET} ${fault.percent >= 100 ? 'drop' : `numgen random mod 100 < ${fault.percent} drop`}`,
          ]),
        );
        break;
      case 'link-down':
      case 'kubelet-stop':
      case 'kubelet-hang':
      case 'delay':
      case 'power-off':
        break;
    }
  }
  if (inet.length > 0) lines.push(`table inet ${TABLE} {\n${inet.join('\n')}\n}`);
  if (netdev.length > 0) lines.push(`table netdev ${TABLE} {\n${netdev.join('\n')}\n}`);
  return lines.join('\n') + '\n';
}

async function applyFirewall(node: LabNodeState, faults: readonly FaultSpec[]): Promise<void> {
  await execCheckedIn(node.namespace, ['nft', '-f', '-'], {
    input: firewallScript(faults, node.kubelet.port),
  });
}

/** Whether tc's complaint means the kernel has no netem qdisc. */
export function isMissingNetem(stderr: string): boolean {
  return /qdisc kind is unknown|unknown qdisc|no such file or directory/i.test(stderr);
}

async function addDelay(node: LabNodeState, ms: number): Promise<void> {
  const result = await execIn(node.namespace, [
    'tc',
    'qdisc',
    'add',
    'dev',
    NODE_INTERFACE,
    'root',
    'netem',
    'delay',
    `${ms}ms`,
  ]);
  if (result.code === 0) return;
  const why = result.stderr.trim();
  if (isMissingNetem(why)) {
    throw new NodeWardenError(
      'UNSUPPORTED',
      `the kernel lacks the netem qdisc, so the lab cannot delay packets (tc: ${why})`,
      {
        hint: `inject packet loss instead: nodewarden lab fault ${nodeSuffix(node.name)} loss 30 (or load sch_netem on a kernel that has it)`,
      },
    );
  }
  throw new NodeWardenError(
    'COMMAND_FAILED',
    `tc qdisc add netem delay ${ms}ms in ${node.namespace} failed: ${why}`,
  );
}

/** Whether eth0 carries a root netem qdisc (`tc -j qdisc show`). */
async function hasNetem(node: LabNodeState): Promise<boolean> {
  const { stdout } = await execCheckedIn(node.namespace, [
    'tc',
    '-j',
    'qdisc',
    'show',
    'dev',
    NODE_INTERFACE,
  ]);
  const qdiscs = JSON.parse(stdout || '[]') as { kind?: string; root?: boolean }[];
  return qdiscs.some((q) => q.kind === 'netem');
}

async function removeDelay(node: LabNodeState): Promise<void> {
  if (await hasNetem(node)) {
    await execCheckedIn(node.namespace, ['tc', 'qdisc', 'del', 'dev', NODE_INTERFACE, 'root']);
  }
}

async function restoreLink(node: LabNodeState, gateway: string): Promise<void> {
  await setLink(node.namespace, NODE_INTERFACE, 'up');
  // Taking eth0 down deleted the routes through it; up brings back only the connected one.
  if (!(await hasDefaultRoute(node.namespace, gateway))) {
    await ipIn(node.namespace, [
      'route',
      'replace',
      'default',
      'via',
      gateway,
      'dev',
      NODE_INTERFACE,
    ]);
  }
}

function withPid(node: LabNodeState, pid: number | null): LabNodeState {
  return { ...node, kubelet: { ...node.kubelet, pid } };
}

async function requireStandin(node: LabNodeState): Promise<number> {
  const pid = await liveStandinPid(node);
  if (pid === null) {
    throw new NodeWardenError('CONFLICT', `the kubelet stand-in of ${node.name} is not running`, {
      hint: `run nodewarden lab heal ${nodeSuffix(node.name)} to restart it first`,
    });
  }
  return pid;
}

/**
 * Injects `fault` into `node` and returns the node as the state should now
 * record it. CONFLICT when it clashes with an active fault.
 */
export async function injectFault(
  state: LabState,
  node: LabNodeState,
  fault: FaultSpec,
  now: Date,
): Promise<LabNodeState> {
  const blocking = conflictingFault(node.faults, fault);
  if (blocking) {
    throw new NodeWardenError('CONFLICT', `${node.name} already has ${describeFault(blocking)}`, {
      hint: `heal it first: nodewarden lab heal ${nodeSuffix(node.name)} ${blocking.kind}`,
    });
  }
  let next: LabNodeState = node;
  switch (fault.kind) {
    case 'link-down':
      await setLink(node.namespace, NODE_INTERFACE, 'down');
      break;
    case 'kubelet-stop': {
      const pid = await requireStandin(node);
      await stopStandin(pid, node.kubelet.pidFile);
      next = withPid(node, null);
      break;
    }
    case 'kubelet-hang':
      await freezeStandin(await requireStandin(node), node.kubelet.pidFile, true);
      break;
    case 'block-kubelet-port':
    case 'loss':
    case 'partition':
      await applyFirewall(node, [...node.faults, fault]);
      break;
    case 'loss-above-gpu': {
      if (!node.gpu) {
        throw new NodeWardenError(
          'NOT_FOUND',
          `${node.name} has no GPU simulator (role ${node.role})`,
          {
            hint: 'loss-above-gpu needs a GPU node; in the seed lab the MIG node bkqzq',
          },
        );
      }
      const gate: LossGate = { lossPercent: fault.percent, gpuPercent: fault.gpuPercent };
      await writeFile(lossGateFile(node.gpu.controlFile), JSON.stringify(gate) + '\n');
      await applyFirewall(node, [...node.faults, fault]);
      break;
    }
    case 'delay':
      await addDelay(node, fault.ms);
      break;
    case 'power-off':
      await stopNodeProcesses(node, 0);
      await setLink(node.namespace, NODE_INTERFACE, 'down');
      next = { ...withPid(node, null), vm: poweredOff(vmOf(state, node), now.toISOString()) };
      break;
    case 'kernel-panic':
      await appendKernelLog(state.dir, node, PANIC_LINES);
      await stopNodeProcesses(node, 0);
      await applyFirewall(node, [...node.faults, fault]);
      next = { ...withPid(node, null), vm: { ...vmOf(state, node), panicked: true } };
      break;
  }
  return { ...next, faults: [...node.faults, { ...fault, since: now.toISOString() }] };
}

/** Undoes one active fault; NOT_FOUND when `kind` is not active on the node. */
export async function healFault(
  state: LabState,
  node: LabNodeState,
  kind: FaultKind,
): Promise<LabNodeState> {
  const active = node.faults.find((f) => f.kind === kind);
  if (!active) {
    const list = node.faults.map((f) => f.kind).join(', ') || 'none';
    throw new NodeWardenError(
      'NOT_FOUND',
      `${node.name} has no active ${kind} fault (active: ${list})`,
      {
        hint: `run nodewarden lab heal ${nodeSuffix(node.name)} to restore every layer`,
      },
    );
  }
  if (kind === 'power-off' || kind === 'kernel-panic') {
    // Nothing comes back from either but by booting: every layer as lab up left it.
    return (await restoreNode(state, node, new Date())).node;
  }
  const rest = node.faults.filter((f) => f !== active);
  let next: LabNodeState = { ...node, faults: rest };
  switch (kind) {
    case 'link-down':
      await restoreLink(node, state.gateway);
      break;
    case 'kubelet-stop':
      next = withPid(next, await startStandin(node, state.tokenFile));
      break;
    case 'kubelet-hang': {
      const pid = await liveStandinPid(node);
      if (pid !== null) await freezeStandin(pid, node.kubelet.pidFile, false);
      else next = withPid(next, await startStandin(node, state.tokenFile));
      break;
    }
    case 'block-kubelet-port':
    case 'loss':
    case 'partition':
      await applyFirewall(node, rest);
      break;
    case 'loss-above-gpu':
      await applyFirewall(node, rest);
      if (node.gpu) await rm(lossGateFile(node.gpu.controlFile), { force: true });
      break;
    case 'delay':
      await removeDelay(node);
      break;
  }
  return next;
}

/**
 * Restores every layer of a node to the state `lab up` left it in, whatever
 * the state file says (a fault may have been injected by hand): eth0 up with
 * its default route, no lab nftables tables, no netem, the stand-in running
 * and not frozen. Returns the node with no faults and the repairs it made.
 */
export async function restoreNode(
  state: LabState,
  node: LabNodeState,
  now: Date,
  wipeConsole = true,
): Promise<{ node: LabNodeState; repaired: string[] }> {
  const repaired: string[] = [];
  const vm = vmOf(state, node);
  if (!vm.portAdminUp || !(await hubVethUp(state, node))) {
    await setLink(state.hub.namespace, node.hubVeth, 'up');
    repaired.push('port (hub-side veth) up');
  }
  const eth0 = (await listLinks(node.namespace)).find((l) => l.name === NODE_INTERFACE);
  if (!eth0) {
    throw new NodeWardenError(
      'CONFLICT',
      `${node.namespace} has no ${NODE_INTERFACE}: the lab is broken beyond healing`,
      {
        hint: 'run nodewarden lab down, then lab up',
      },
    );
  }
  if (!eth0.up) repaired.push('eth0 up with its default route');
  if (!eth0.up || !(await hasDefaultRoute(node.namespace, state.gateway))) {
    await restoreLink(node, state.gateway);
    if (eth0.up) repaired.push('default route');
  }
  const ruleset = await execCheckedIn(node.namespace, ['nft', 'list', 'tables']);
  if (ruleset.stdout.includes(TABLE)) {
    await applyFirewall(node, []);
    repaired.push('nftables rules removed');
  }
  if (node.gpu) {
    const gateFile = lossGateFile(node.gpu.controlFile);
    if (
      await access(gateFile).then(
        () => true,
        () => false,
      )
    ) {
      await rm(gateFile, { force: true });
      repaired.push('loss-above-gpu gate removed');
    }
  }
  if (await hasNetem(node)) {
    await removeDelay(node);
    repaired.push('netem removed');
  }
  let pid = await liveStandinPid(node);
  if (pid !== null && (await processState(pid)) === 'stopped') {
    await freezeStandin(pid, node.kubelet.pidFile, false);
    repaired.push('kubelet stand-in continued (SIGCONT)');
  }
  if (pid === null) {
    pid = await startStandin(node, state.tokenFile);
    repaired.push(`kubelet stand-in restarted (pid ${pid})`);
  }
  let gpu = node.gpu;
  if (gpu && (await liveGpuSimPid(gpu)) === null) {
    gpu = { ...gpu, pid: await startGpuSim(node, gpu) };
    repaired.push(`GPU simulator restarted (pid ${gpu.pid})`);
  }
  if (state.controlPlane && (await liveAgentPid(state, node)) === null) {
    repaired.push(`agent restarted (pid ${await startAgent(state, node)})`);
  }
  const at = now.toISOString();
  let nextVm = vm;
  if (vm.power === 'shutoff' || vm.panicked || vm.task !== null) {
    // A reboot in flight is its own action; a heal of a shut-off VM is a start by the lab.
    if (vm.power === 'shutoff' && vm.task === null) nextVm = withAction(vm, 'start', 'lab', at);
    nextVm = booted(nextVm, at, await kmsgSize(state.dir, node), wipeConsole);
    repaired.push(vm.power === 'shutoff' ? 'VM powered on' : 'VM booted');
  }
  if (!nextVm.portAdminUp) nextVm = { ...nextVm, portAdminUp: true };
  const restored = { ...withPid(node, pid), faults: [], ...(gpu ? { gpu } : {}) };
  return {
    node: nextVm === vm && node.vm === undefined ? restored : { ...restored, vm: nextVm },
    repaired,
  };
}

async function hubVethUp(state: LabState, node: LabNodeState): Promise<boolean> {
  const link = (await listLinks(state.hub.namespace)).find((l) => l.name === node.hubVeth);
  return link?.up ?? false;
}
