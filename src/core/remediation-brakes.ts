/**
 * The brakes on remediation: each a pure rule with a visible state (the API
 * and /metrics show every brake, engaged or not, with why and until when).
 * They exist because automatic remediation goes wrong in known ways: reboot
 * storms when the fault is on the controller's side, a second control-plane
 * node rebooted while the first is still down, the same node rebooted in a
 * loop, pods moved onto survivors that cannot hold them.
 */
import type { NodeSnapshot, PodSnapshot } from './cluster.ts';
import type { Incident, NodeHealth } from './incident.ts';
import type { Remediation } from './remediation.ts';
import type { BrakePolicy } from './remediation-policy.ts';
import { predictNodeLoss, type GuardFinding } from './whatif.ts';

export type BrakeName =
  | 'leadership'
  | 'api-unreachable'
  | 'partition-open'
  | 'max-unhealthy'
  | 'storm-cooldown'
  | 'max-concurrent'
  | 'opt-out'
  | 'node-attempts'
  | 'node-backoff'
  | 'control-plane'
  | 'capacity';

export interface BrakeState {
  readonly name: BrakeName;
  /** `cluster`, or the node the brake is about. */
  readonly scope: 'cluster' | 'node';
  readonly node: string | null;
  readonly engaged: boolean;
  /** An engaged brake that holds every action (not only new starts). */
  readonly holdsAll: boolean;
  /** Why it is (or is not) engaged, with the numbers. */
  readonly detail: string;
  /** When it releases by itself (ISO-8601); null when it depends on the cluster. */
  readonly until: string | null;
}

export interface ClusterBrakeInput {
  readonly leader: boolean;
  readonly apiConnected: boolean;
  readonly incidents: readonly Incident[];
  readonly health: ReadonlyMap<string, NodeHealth>;
  readonly nodeCount: number;
  /** Remediations under way. */
  readonly active: number;
  readonly stormActive: boolean;
  readonly stormClearedAt: number | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function brake(
  name: BrakeName,
  engaged: boolean,
  detail: string,
  opts: { node?: string; holdsAll?: boolean; until?: number | null } = {},
): BrakeState {
  return {
    name,
    scope: opts.node === undefined ? 'cluster' : 'node',
    node: opts.node ?? null,
    engaged,
    holdsAll: engaged && (opts.holdsAll ?? false),
    detail,
    until: engaged && opts.until != null ? iso(opts.until) : null,
  };
}

/** Nodes NodeWarden's detection holds Down or Suspect. */
export function unhealthyNodes(health: ReadonlyMap<string, NodeHealth>): string[] {
  return [...health.entries()]
    .filter(([, h]) => h === 'Down' || h === 'Suspect')
    .map(([n]) => n)
    .sort();
}

/**
 * The cluster brakes. Rules:
 * - leadership: engaged when this replica is not the leader (holds all);
 * - api-unreachable: engaged while the watches cannot reach the API server (holds all);
 * - partition-open: engaged while a partition incident, or an incident
 *   classified CONTROL_PLANE_SIDE, is open — the fault is not in the node (holds all);
 * - max-unhealthy: engaged when more nodes are Down/Suspect than
 *   `maxUnhealthyCount`, or more than `maxUnhealthyPercent` of all nodes (holds all);
 * - storm-cooldown: engaged for `stormCooldownMs` after max-unhealthy
 *   released (holds all);
 * - max-concurrent: engaged when `maxConcurrent` remediations are under way
 *   (holds new starts only).
 */
export function clusterBrakes(
  input: ClusterBrakeInput,
  policy: BrakePolicy,
  now: number,
): { brakes: BrakeState[]; nextCheckAt: number | null } {
  const unhealthy = unhealthyNodes(input.health);
  const pct = input.nodeCount === 0 ? 0 : (unhealthy.length / input.nodeCount) * 100;
  const over = unhealthy.length > policy.maxUnhealthyCount || pct > policy.maxUnhealthyPercent;
  const partitions = input.incidents.filter(
    (i) => i.status === 'open' && (i.kind === 'partition' || i.rootCause === 'CONTROL_PLANE_SIDE'),
  );
  let cooldownUntil: number | null = null;
  if (!over) {
    const clearedAt = input.stormActive ? now : input.stormClearedAt;
    if (clearedAt !== null && now < clearedAt + policy.stormCooldownMs)
      cooldownUntil = clearedAt + policy.stormCooldownMs;
  }
  const brakes = [
    brake(
      'leadership',
      !input.leader,
      input.leader
        ? 'this replica is the leader'
        : 'this replica is not the leader: another one remediates',
      { holdsAll: true },
    ),
    brake(
      'api-unreachable',
      !input.apiConnected,
      input.apiConnected
        ? 'the API server answers'
        : 'the controller cannot reach the API server: what looks dead may be this side',
      { holdsAll: true },
    ),
    brake(
      'partition-open',
      partitions.length > 0,
      partitions.length > 0
        ? `open: ${partitions.map((i) => `${i.id} (${i.kind}${i.rootCause ? `, ${i.rootCause}` : ''}, ${i.nodes.length} nodes)`).join('; ')}`
        : 'no partition or control-plane-side incident open',
      { holdsAll: true },
    ),
    brake(
      'max-unhealthy',
      over,
      `${unhealthy.length} of ${input.nodeCount} nodes unhealthy (${pct.toFixed(0)}%); limit ${policy.maxUnhealthyCount} nodes and ${policy.maxUnhealthyPercent}%${unhealthy.length > 0 ? `: ${unhealthy.join(', ')}` : ''}`,
      { holdsAll: true },
    ),
    brake(
      'storm-cooldown',
      cooldownUntil !== null,
      cooldownUntil !== null
        ? `too many nodes were unhealthy until ${iso(cooldownUntil - policy.stormCooldownMs)}; waiting ${policy.stormCooldownMs / 1000} s`
        : 'no recent storm',
      { holdsAll: true, until: cooldownUntil },
    ),
    brake(
      'max-concurrent',
      input.active >= policy.maxConcurrent,
      `${input.active} of at most ${policy.maxConcurrent} remediations under way`,
    ),
  ];
  return { brakes, nextCheckAt: cooldownUntil };
}

export interface CapacityReport {
  readonly node: string;
  /** Survivors over a threshold if this node's pods move (empty: the loss can be absorbed). */
  readonly findings: readonly GuardFinding[];
  readonly pendingPods: number;
  readonly summary: string;
}

export interface NodeBrakeInput {
  readonly node: string;
  readonly snapshot: NodeSnapshot | undefined;
  readonly nodes: readonly NodeSnapshot[];
  readonly pods: readonly PodSnapshot[];
  /** Every remediation known (under way and ended). */
  readonly remediations: readonly Remediation[];
  /** Under way right now, including those started in this decision. */
  readonly activeCount: number;
}

const CONTROL_PLANE_LABELS = [
  'node-role.kubernetes.io/control-plane',
  'node-role.kubernetes.io/master',
];

export function isControlPlane(node: NodeSnapshot | undefined): boolean {
  return node !== undefined && CONTROL_PLANE_LABELS.some((l) => l in node.labels);
}

/** The capacity guard: what the survivors carry if this node's pods move (src/core/whatif.ts). */
export function capacityReport(
  node: string,
  nodes: readonly NodeSnapshot[],
  pods: readonly PodSnapshot[],
): CapacityReport | null {
  if (!nodes.some((n) => n.name === node)) return null;
  const prediction = predictNodeLoss(nodes, pods, [node]);
  const findings = prediction.overThreshold;
  const worst = findings
    .map((f) => `${f.node} ${f.flag.message}`)
    .slice(0, 4)
    .join('; ');
  return {
    node,
    findings,
    pendingPods: prediction.pending.length,
    summary:
      findings.length === 0
        ? `if ${node}'s ${prediction.placements.length + prediction.pending.length} pods move, no survivor goes over a threshold${prediction.pending.length > 0 ? ` (${prediction.pending.length} stay Pending)` : ''}`
        : `if ${node}'s pods move: ${findings.length} survivor threshold(s) over: ${worst}${prediction.pending.length > 0 ? `; ${prediction.pending.length} pods stay Pending` : ''}`,
  };
}

/**
 * The brakes on starting a remediation of one node. Rules:
 * - opt-out: the node is annotated `nodewarden.io/remediation: disabled`;
 * - node-attempts: a remediation of this node is already under way, or it
 *   had `maxAttemptsPerNode` within `attemptWindowMs` (released when the
 *   oldest leaves the window); dry-runs do not count;
 * - node-backoff: the node's last remediation ended less than
 *   `backoffBaseMs · 2^(n−1)` ago (n: its attempts in the window);
 * - control-plane: the node is a control-plane node and another
 *   control-plane node is being remediated;
 * - max-concurrent: `maxConcurrent` remediations are under way;
 * - capacity: the predicted survivors' overcommit is reported always, and
 *   engages the brake only when the policy says `capacityGuard: block`.
 */
export function nodeBrakes(
  input: NodeBrakeInput,
  policy: BrakePolicy,
  now: number,
): { brakes: BrakeState[]; nextCheckAt: number | null; capacity: CapacityReport | null } {
  const n = input.node;
  const mine = input.remediations.filter((r) => r.node === n && r.status !== 'dry-run');
  const underWay = mine.find((r) => r.status === 'in-progress');
  const inWindow = mine
    .filter((r) => now - Date.parse(r.createdAt) < policy.attemptWindowMs)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const attemptsFull = inWindow.length >= policy.maxAttemptsPerNode;
  const attemptsUntil = attemptsFull
    ? Date.parse(inWindow[0]?.createdAt ?? iso(now)) + policy.attemptWindowMs
    : null;
  const lastEnded = inWindow
    .map((r) => (r.endedAt === null ? null : Date.parse(r.endedAt)))
    .filter((t): t is number => t !== null)
    .sort((a, b) => b - a)[0];
  const backoffMs = policy.backoffBaseMs * 2 ** Math.max(0, inWindow.length - 1);
  const backoffUntil =
    lastEnded !== undefined && now < lastEnded + backoffMs ? lastEnded + backoffMs : null;
  const otherCp = isControlPlane(input.snapshot)
    ? input.remediations.find(
        (r) =>
          r.status === 'in-progress' &&
          r.node !== n &&
          isControlPlane(input.nodes.find((x) => x.name === r.node)),
      )
    : undefined;
  const capacity = capacityReport(n, input.nodes, input.pods);
  const optedOut = input.snapshot?.annotations['nodewarden.io/remediation'] === 'disabled';
  const brakes = [
    brake(
      'opt-out',
      optedOut,
      optedOut ? `${n} is annotated nodewarden.io/remediation=disabled` : `${n} has not opted out`,
      { node: n },
    ),
    brake(
      'node-attempts',
      underWay !== undefined || attemptsFull,
      underWay !== undefined
        ? `${underWay.id} is already under way on ${n}`
        : `${inWindow.length} of at most ${policy.maxAttemptsPerNode} remediations of ${n} in the last ${policy.attemptWindowMs / 3_600_000} h`,
      { node: n, until: underWay !== undefined ? null : attemptsUntil },
    ),
    brake(
      'node-backoff',
      backoffUntil !== null,
      backoffUntil !== null
        ? `${n}'s last remediation ended ${Math.round((now - (lastEnded ?? now)) / 1000)} s ago; back-off ${backoffMs / 1000} s after ${inWindow.length} attempt(s)`
        : `no back-off on ${n}`,
      { node: n, until: backoffUntil },
    ),
    brake(
      'control-plane',
      otherCp !== undefined,
      otherCp !== undefined
        ? `control-plane node ${otherCp.node} is being remediated (${otherCp.id}): one at a time`
        : isControlPlane(input.snapshot)
          ? `${n} is a control-plane node; no other is being remediated`
          : `${n} is not a control-plane node`,
      { node: n },
    ),
    brake(
      'max-concurrent',
      input.activeCount >= policy.maxConcurrent,
      `${input.activeCount} of at most ${policy.maxConcurrent} remediations under way`,
      { node: n },
    ),
    brake(
      'capacity',
      policy.capacityGuard === 'block' && capacity !== null && capacity.findings.length > 0,
      `${capacity?.summary ?? `${n} is not in the cluster view`} (guard: ${policy.capacityGuard})`,
      { node: n },
    ),
  ];
  const nextCheckAt = [attemptsUntil, backoffUntil]
    .filter((t): t is number => t !== null)
    .reduce<number | null>((a, b) => (a === null || b < a ? b : a), null);
  return { brakes, nextCheckAt, capacity };
}
