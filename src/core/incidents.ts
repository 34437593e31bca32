/**
 * Incident lifecycle: given the incidents so far, the detection state at
 * `now` and what Kubernetes currently shows, decide what to record. Pure:
 * the output is a list of commands the controller applies to its store
 * (`applyIncidentCommands` is the reference semantics, used by the
 * in-memory store and the simulator).
 */
import type { NodeSnapshot, LeaseSnapshot, PodSnapshot } from './cluster.ts';
import type { ClusterDetectionState, PartitionState } from './detection-cluster.ts';
import { seconds, type NodeDetectionState } from './detection.ts';
import { badInput, NodeWardenError } from './errors.ts';
import type {
  AffectedPod,
  Incident,
  IncidentStatus,
  RootCause,
  TimelineEntry,
} from './incident.ts';

export interface IncidentConfig {
  /** A node Down again this soon after its incident resolved reopens it (a flap). */
  readonly reopenWindowMs: number;
  /**
   * A node incident opens only once the node has been failing this long, so
   * that nodes failing in the same instant are seen together as a partition
   * (their results can arrive a few hundred ms apart).
   */
  readonly stormSettleMs: number;
  /** A node must be healthy this long before its incident resolves. */
  readonly stablePeriodMs: number;
}

export const DEFAULT_INCIDENT_CONFIG: IncidentConfig = {
  reopenWindowMs: 10 * 60_000,
  stormSettleMs: 1_000,
  stablePeriodMs: 60_000,
};

/** What the engine reads from the cluster; `ClusterView` satisfies it. */
export interface ClusterFacts {
  node(name: string): NodeSnapshot | undefined;
  lease(name: string): LeaseSnapshot | undefined;
  podsOnNode(name: string): readonly PodSnapshot[];
}

export interface IncidentPatch {
  readonly status?: IncidentStatus;
  readonly resolvedAt?: string | null;
  readonly nodes?: readonly string[];
  readonly affectedPods?: readonly AffectedPod[];
  readonly summary?: string;
  readonly rootCause?: RootCause | null;
}

export type IncidentCommand =
  | { readonly kind: 'open'; readonly incident: Incident }
  | { readonly kind: 'append'; readonly id: string; readonly entries: readonly TimelineEntry[] }
  | { readonly kind: 'update'; readonly id: string; readonly patch: IncidentPatch }
  | {
      readonly kind: 'resolve';
      readonly id: string;
      readonly resolvedAt: string;
      readonly entry: TimelineEntry;
    };

export interface IncidentInput {
  readonly now: number;
  readonly incidents: readonly Incident[];
  readonly detection: ClusterDetectionState;
  readonly facts: ClusterFacts;
}

export interface IncidentDecision {
  readonly commands: readonly IncidentCommand[];
  /**
   * The incidents with the commands applied (what applyIncidentCommands
   * returns); passing these to the next decision lets it reuse this one's
   * timeline indexes instead of rebuilding them.
   */
  readonly incidents: readonly Incident[];
  /** When a held decision (storm settle, stable period) falls due; null when none is pending. */
  readonly nextCheckAt: number | null;
}

const K8S_TAINTS = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'];

/**
 * Decides what to record at `now`. Rules:
 * - A node that is Down and not part of a partition gets a node incident,
 *   once it has been failing for `stormSettleMs`. Its timeline starts with
 *   last-heartbeat (the Lease's renewTime), suspect, down and
 *   incident-opened; its affected pods are the pods on the node.
 * - A node Down again within `reopenWindowMs` after its incident resolved
 *   reopens that incident with a `flap` entry; a relapse while Recovering
 *   adds a `flap` entry to the open incident. Never a second incident.
 * - A partition (detection-cluster.ts) gets one partition incident listing
 *   its nodes, reopened the same way; members that join are added to it.
 *   Nodes in a partition never get node incidents of their own.
 * - For every node of an open incident, Kubernetes' own observations are
 *   appended once each, at the time Kubernetes recorded them: Ready leaving
 *   True (`k8s-not-ready`), the unreachable/not-ready taints (`k8s-taint`),
 *   affected pods marked for deletion or gone (`pod-evicted`), Ready=True
 *   again (`ready-again`); detection's Recovering adds `recovering`.
 * - A node incident resolves when its node is Healthy and has been fully
 *   healthy (fresh Lease, probes pass, Ready) for `stablePeriodMs`; a
 *   partition incident when its partition has ended.
 * Every entry is keyed by its time, so deciding twice on the same input
 * records nothing new.
 */
export function decideIncidents(
  input: IncidentInput,
  config: IncidentConfig = DEFAULT_INCIDENT_CONFIG,
): IncidentDecision {
  const work = new Workspace(input.incidents);
  const { now, detection, facts } = input;
  let nextCheckAt: number | null = null;
  const wakeAt = (t: number): void => {
    if (t > now) nextCheckAt = nextCheckAt === null ? t : Math.min(nextCheckAt, t);
  };

  decidePartition(work, detection, facts, now, config);

  const partitioned = new Set(detection.partition?.nodes ?? []);
  // Only a node that is not Healthy, or has an open node incident, can need anything here:
  // at 5,000 healthy nodes this is a short list, not 5,000 names sorted every evaluation.
  const concerned = new Set<string>();
  for (const [name, state] of detection.nodes) if (state.health !== 'Healthy') concerned.add(name);
  for (const incident of work.openIncidents()) {
    if (incident.kind === 'node' && incident.nodes[0] !== undefined)
      concerned.add(incident.nodes[0]);
  }
  for (const name of [...concerned].sort()) {
    const state = detection.nodes.get(name);
    if (state === undefined) continue;
    let incident = work.openNodeIncident(name);
    if (state.health === 'Down' && incident === undefined && !partitioned.has(name)) {
      const openAt = Math.max(
        state.downAt ?? now,
        (state.failingSince ?? now) + config.stormSettleMs,
      );
      if (now < openAt) {
        wakeAt(openAt);
        continue;
      }
      const recent = work.recentlyResolved('node', [name], now, config.reopenWindowMs);
      if (recent !== undefined) {
        work.emit({ kind: 'update', id: recent.id, patch: { status: 'open', resolvedAt: null } });
        incident = work.get(recent.id);
      } else {
        incident = openNodeIncident(work, state, facts, now);
      }
    }
    if (incident !== undefined) {
      const current = work.get(incident.id) ?? incident;
      work.append(current.id, lifecycleEntries(current, state, work.index(current.id)));
      if (state.health === 'Healthy') {
        const stableAt = (state.healthySince ?? now) + config.stablePeriodMs;
        if (state.healthySince !== null && now >= stableAt) {
          work.emit({
            kind: 'resolve',
            id: incident.id,
            resolvedAt: iso(now),
            entry: {
              at: iso(now),
              kind: 'resolved',
              node: name,
              message: `resolved: ${name} healthy for ${seconds(now - state.healthySince)} (Lease fresh, probes pass, Ready)`,
            },
          });
        } else wakeAt(stableAt);
      }
    }
  }

  // Kubernetes' own observations, for every node of every open incident.
  for (const incident of work.openIncidents()) {
    const index = work.index(incident.id);
    work.append(incident.id, [
      ...incident.nodes.flatMap((node) => kubernetesEntries(node, facts, index)),
      ...podEntries(incident, facts, now, index),
    ]);
  }

  return { commands: work.commands, incidents: work.all(), nextCheckAt };
}

function decidePartition(
  work: Workspace,
  detection: ClusterDetectionState,
  facts: ClusterFacts,
  now: number,
  config: IncidentConfig,
): void {
  const partition = detection.partition;
  const open = work.openIncidents().find((i) => i.kind === 'partition');
  if (partition === null) {
    if (open !== undefined) {
      work.emit({
        kind: 'resolve',
        id: open.id,
        resolvedAt: iso(now),
        entry: {
          at: iso(now),
          kind: 'resolved',
          message: `resolved: all ${open.nodes.length} nodes of the partition are healthy again`,
        },
      });
    }
    return;
  }
  let incident = open;
  if (incident === undefined) {
    const recent = work.recentlyResolved('partition', partition.nodes, now, config.reopenWindowMs);
    if (recent !== undefined) {
      work.emit({ kind: 'update', id: recent.id, patch: { status: 'open', resolvedAt: null } });
      work.append(recent.id, [
        {
          at: iso(now),
          kind: 'flap',
          message: `partition again ${seconds(now - Date.parse(recent.resolvedAt ?? iso(now)))} after it resolved: ${partition.reason}`,
        },
      ]);
      incident = work.get(recent.id);
    } else {
      incident = openPartitionIncident(work, partition, detection, facts, now);
    }
  }
  if (incident === undefined) return;
  const added = partition.nodes.filter((n) => !incident.nodes.includes(n));
  if (added.length > 0) {
    work.emit({
      kind: 'update',
      id: incident.id,
      patch: {
        nodes: [...incident.nodes, ...added].sort(),
        affectedPods: mergePods(
          incident.affectedPods,
          added.flatMap((n) => affectedPods(facts, n)),
        ),
      },
    });
    work.append(
      incident.id,
      added.map((node) => ({
        at: iso(now),
        kind: 'note' as const,
        node,
        message: `${node} joined the partition`,
      })),
    );
  }
  // One append for every member: a 5,000-node partition is one command, not 5,000.
  const current = work.get(incident.id) ?? incident;
  const index = work.index(current.id);
  const entries: TimelineEntry[] = [];
  for (const node of current.nodes) {
    const state = detection.nodes.get(node);
    if (state !== undefined) entries.push(...lifecycleEntries(current, state, index));
  }
  work.append(current.id, entries);
}

function openNodeIncident(
  work: Workspace,
  state: NodeDetectionState,
  facts: ClusterFacts,
  now: number,
): Incident {
  const heartbeat = leaseRenewTime(facts.lease(state.node)) ?? state.lastHeartbeatAt;
  const skeleton: Incident = {
    id: work.newId(now, state.node),
    kind: 'node',
    status: 'open',
    nodes: [state.node],
    openedAt: iso(now),
    resolvedAt: null,
    lastHeartbeatAt: heartbeat === null ? null : iso(heartbeat),
    rootCause: null,
    summary: `${state.node} is down: ${state.downReason ?? 'no reason recorded'}`,
    timeline: [],
    affectedPods: affectedPods(facts, state.node),
  };
  const timeline: TimelineEntry[] = [];
  if (heartbeat !== null) timeline.push(heartbeatEntry(state.node, heartbeat));
  timeline.push(...lifecycleEntries(skeleton, state, new TimelineIndex(timeline)));
  timeline.push({
    at: iso(now),
    kind: 'incident-opened',
    node: state.node,
    message: `node incident opened for ${state.node}`,
  });
  const incident = { ...skeleton, timeline: sortEntries(timeline) };
  work.emit({ kind: 'open', incident });
  return incident;
}

function openPartitionIncident(
  work: Workspace,
  partition: PartitionState,
  detection: ClusterDetectionState,
  facts: ClusterFacts,
  now: number,
): Incident {
  const timeline: TimelineEntry[] = [];
  let earliestHeartbeat: number | null = null;
  for (const node of partition.nodes) {
    const state = detection.nodes.get(node);
    const heartbeat = leaseRenewTime(facts.lease(node)) ?? state?.lastHeartbeatAt ?? null;
    if (heartbeat !== null) {
      timeline.push(heartbeatEntry(node, heartbeat));
      earliestHeartbeat =
        earliestHeartbeat === null ? heartbeat : Math.min(earliestHeartbeat, heartbeat);
    }
  }
  const skeleton: Incident = {
    id: work.newId(now, 'partition'),
    kind: 'partition',
    status: 'open',
    nodes: [...partition.nodes],
    openedAt: iso(now),
    resolvedAt: null,
    lastHeartbeatAt: earliestHeartbeat === null ? null : iso(earliestHeartbeat),
    // The controller's own blindness is a cause we know; otherwise diagnosis decides.
    rootCause: partition.controlPlaneSide ? 'CONTROL_PLANE_SIDE' : null,
    summary: `partition: ${partition.reason}`,
    timeline: [],
    affectedPods: partition.nodes.flatMap((n) => affectedPods(facts, n)),
  };
  const index = new TimelineIndex(timeline);
  for (const node of partition.nodes) {
    const state = detection.nodes.get(node);
    if (state === undefined) continue;
    const entries = lifecycleEntries({ ...skeleton, timeline }, state, index);
    for (const entry of entries) index.add(entry);
    timeline.push(...entries);
  }
  timeline.push({
    at: iso(now),
    kind: 'incident-opened',
    message: `partition incident opened for ${partition.nodes.length} nodes: ${partition.nodes.join(', ')}`,
  });
  const incident = { ...skeleton, timeline: sortEntries(timeline) };
  work.emit({ kind: 'open', incident });
  return incident;
}

/** suspect / down / flap / recovering entries the node's state implies and the timeline lacks. */
function lifecycleEntries(
  incident: Incident,
  state: NodeDetectionState,
  index: TimelineIndex,
): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const node = state.node;
  const has = (kind: TimelineEntry['kind'], at: number): boolean =>
    index.has(kind, node, iso(at)) || entries.some((e) => e.kind === kind && e.at === iso(at));
  if (state.health === 'Healthy') return entries;
  if (state.suspectAt !== null && !has('suspect', state.suspectAt)) {
    entries.push({
      at: iso(state.suspectAt),
      kind: 'suspect',
      node,
      message: `suspect: ${state.suspectReason ?? 'no reason recorded'}`,
    });
  }
  if ((state.health === 'Down' || state.health === 'Recovering') && state.downAt !== null) {
    const downAt = state.downAt;
    if (!has('down', downAt)) {
      const before = incident.timeline.filter(
        (e) =>
          (e.kind === 'recovering' || e.kind === 'resolved') &&
          e.node === node &&
          Date.parse(e.at) <= downAt,
      );
      const previous = before[before.length - 1];
      if (previous !== undefined) {
        const gap = seconds(downAt - Date.parse(previous.at));
        entries.push({
          at: iso(downAt),
          kind: 'flap',
          node,
          message:
            previous.kind === 'resolved'
              ? `flap: ${node} down again ${gap} after the incident resolved`
              : `flap: ${node} relapsed ${gap} after it began recovering`,
        });
      }
      entries.push({
        at: iso(downAt),
        kind: 'down',
        node,
        message: `down: ${state.downReason ?? 'no reason recorded'}`,
      });
    }
  }
  if (
    state.health === 'Recovering' &&
    state.recoveringAt !== null &&
    !has('recovering', state.recoveringAt)
  ) {
    entries.push({
      at: iso(state.recoveringAt),
      kind: 'recovering',
      node,
      message: `recovering: ${node} answers again (Lease fresh, probes pass)`,
    });
  }
  return entries;
}

/** Ready transitions and Kubernetes' own taints on `node`, once each. */
function kubernetesEntries(
  node: string,
  facts: ClusterFacts,
  index: TimelineIndex,
): TimelineEntry[] {
  const snapshot = facts.node(node);
  if (snapshot === undefined) return [];
  const entries: TimelineEntry[] = [];
  const has = (kind: TimelineEntry['kind'], at: string, message?: string): boolean =>
    index.has(kind, node, at, message);
  const ready = snapshot.conditions.find((c) => c.type === 'Ready');
  const changedAt =
    ready?.lastTransitionTime === undefined ? null : normalise(ready.lastTransitionTime);
  if (ready !== undefined && changedAt !== null) {
    if (ready.status !== 'True' && !has('k8s-not-ready', changedAt)) {
      const why = [ready.reason, ready.message]
        .filter((s) => s !== undefined && s !== '')
        .join(': ');
      entries.push({
        at: changedAt,
        kind: 'k8s-not-ready',
        node,
        message: `Kubernetes: ${node} Ready=${ready.status}${why === '' ? '' : ` (${why})`}`,
      });
    }
    const firstNotReady = index.firstNotReady(node);
    const wentNotReady = firstNotReady !== undefined && firstNotReady < changedAt;
    if (ready.status === 'True' && wentNotReady && !has('ready-again', changedAt)) {
      entries.push({
        at: changedAt,
        kind: 'ready-again',
        node,
        message: `Kubernetes: ${node} Ready=True again${ready.reason === undefined ? '' : ` (${ready.reason})`}`,
      });
    }
  }
  for (const taint of snapshot.taints) {
    if (!K8S_TAINTS.includes(taint.key) || taint.timeAdded === undefined) continue;
    const at = normalise(taint.timeAdded);
    if (at === null) continue;
    const message = `Kubernetes tainted ${node} ${taint.key}:${taint.effect}`;
    if (!has('k8s-taint', at, message)) entries.push({ at, kind: 'k8s-taint', node, message });
  }
  return entries;
}

/** Affected pods that Kubernetes marked for deletion, or that are gone from their node. */
function podEntries(
  incident: Incident,
  facts: ClusterFacts,
  now: number,
  index: TimelineIndex,
): TimelineEntry[] {
  if (nothingToRecord(incident, facts, index)) return [];
  const where = new Map<string, { pod: PodSnapshot; node: string }>();
  for (const node of incident.nodes) {
    for (const pod of facts.podsOnNode(node)) where.set(podKey(pod), { pod, node });
  }
  const entries: TimelineEntry[] = [];
  for (const affected of incident.affectedPods) {
    const key = podKey(affected);
    if (index.evicted(key)) continue;
    const found = where.get(key);
    if (found === undefined) {
      entries.push({
        at: iso(now),
        kind: 'pod-evicted',
        ...(incident.kind === 'node' && incident.nodes[0] !== undefined
          ? { node: incident.nodes[0] }
          : {}),
        message: `${key} deleted`,
      });
    } else if (found.pod.deletionTimestamp !== null) {
      entries.push({
        at: evictedAt(found.pod) ?? iso(now),
        kind: 'pod-evicted',
        node: found.node,
        message: `${key} evicted (Kubernetes marked it for deletion)`,
      });
    }
  }
  return entries;
}

/**
 * True when no affected pod can need an entry: every one not yet recorded is
 * still on an incident node and not marked for deletion. One pass over the
 * pods still there — the common case on every evaluation of a large
 * partition before Kubernetes evicts — instead of matching every affected
 * pod against them.
 */
function nothingToRecord(incident: Incident, facts: ClusterFacts, index: TimelineIndex): boolean {
  const affected = affectedKeys(incident.affectedPods);
  let waiting = 0;
  for (const node of incident.nodes) {
    for (const pod of facts.podsOnNode(node)) {
      const key = podKey(pod);
      if (!affected.has(key) || index.evicted(key)) continue;
      if (pod.deletionTimestamp !== null) return false;
      waiting++;
    }
  }
  // Every recorded eviction is of an affected pod, so the rest are the ones still waiting.
  return waiting === affected.size - index.evictedCount;
}

/** `namespace/name` of each affected pod, computed once per affectedPods list. */
const affectedKeyCache = new WeakMap<readonly AffectedPod[], ReadonlySet<string>>();
function affectedKeys(pods: readonly AffectedPod[]): ReadonlySet<string> {
  let keys = affectedKeyCache.get(pods);
  if (keys === undefined) {
    keys = new Set(pods.map(podKey));
    affectedKeyCache.set(pods, keys);
  }
  return keys;
}

/**
 * When Kubernetes asked for the pod's deletion. `deletionTimestamp` is that
 * moment plus the grace period it granted (30 s by default), so it lies in
 * the future of the eviction.
 */
function evictedAt(pod: PodSnapshot): string | null {
  const deadline = Date.parse(pod.deletionTimestamp ?? '');
  if (!Number.isFinite(deadline)) return null;
  const graceMs = Math.max(0, pod.deletionGracePeriodSeconds ?? 0) * 1000;
  return iso(deadline - graceMs);
}

function affectedPods(facts: ClusterFacts, node: string): AffectedPod[] {
  return facts
    .podsOnNode(node)
    .filter((p) => p.phase !== 'Succeeded' && p.phase !== 'Failed')
    .map((p) => ({
      namespace: p.namespace,
      name: p.name,
      ...(p.ownerKind !== null && p.ownerName !== null
        ? { owner: `${p.ownerKind}/${p.ownerName}` }
        : {}),
    }))
    .sort((a, b) => podKey(a).localeCompare(podKey(b)));
}

function mergePods(a: readonly AffectedPod[], b: readonly AffectedPod[]): AffectedPod[] {
  const seen = new Set(a.map(podKey));
  return [...a, ...b.filter((p) => !seen.has(podKey(p)))];
}

function podKey(pod: { readonly namespace: string; readonly name: string }): string {
  return `${pod.namespace}/${pod.name}`;
}

function heartbeatEntry(node: string, at: number): TimelineEntry {
  return {
    at: iso(at),
    kind: 'last-heartbeat',
    node,
    message: `last Lease renewal of ${node} (kube-node-lease/${node})`,
  };
}

function leaseRenewTime(lease: LeaseSnapshot | undefined): number | null {
  if (lease?.renewTime == null) return null;
  const t = Date.parse(lease.renewTime);
  return Number.isFinite(t) ? t : null;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Kubernetes writes `2025-08-25T03:58:55Z`; the timeline uses one form throughout. */
function normalise(time: string): string | null {
  const t = Date.parse(time);
  return Number.isFinite(t) ? iso(t) : null;
}

/** Stable sort by time: entries recorded later but dated earlier go where they belong. */
function sortEntries(entries: readonly TimelineEntry[]): TimelineEntry[] {
  return entries
    .map((entry, i) => ({ entry, i }))
    .sort((a, b) => compareAt(a.entry.at, b.entry.at) || a.i - b.i)
    .map(({ entry }) => entry);
}

/** ISO-8601 UTC times of one form compare as strings (code-unit order). */
function compareAt(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `timeline` (in time order) with `added` put where they belong: the same
 * result as sortEntries over both, in one pass over the timeline, so a
 * partition incident's 10,000-entry timeline is not re-sorted on every append.
 */
function withEntries(
  timeline: readonly TimelineEntry[],
  added: readonly TimelineEntry[],
): TimelineEntry[] {
  const sorted = sortEntries(added);
  const out: TimelineEntry[] = [];
  let i = 0;
  for (const entry of sorted) {
    while (i < timeline.length && compareAt((timeline[i] as TimelineEntry).at, entry.at) <= 0) {
      out.push(timeline[i] as TimelineEntry);
      i++;
    }
    out.push(entry);
  }
  for (; i < timeline.length; i++) out.push(timeline[i] as TimelineEntry);
  return out;
}

/**
 * What one incident's timeline holds, for the questions decisions ask of it
 * on every evaluation (is this entry there? when did the node first go
 * NotReady? is this pod's eviction recorded?) in constant time instead of a
 * scan per node.
 */
class TimelineIndex {
  private readonly keys = new Set<string>();
  private readonly notReady = new Map<string, string>();
  private readonly evictedPods = new Set<string>();

  constructor(entries: readonly TimelineEntry[]) {
    for (const entry of entries) this.add(entry);
  }

  add(entry: TimelineEntry): void {
    const node = entry.node ?? '';
    this.keys.add(key(entry.kind, node, entry.at));
    this.keys.add(key(entry.kind, node, entry.at, entry.message));
    if (entry.kind === 'k8s-not-ready') {
      const first = this.notReady.get(node);
      if (first === undefined || entry.at < first) this.notReady.set(node, entry.at);
    }
    if (entry.kind === 'pod-evicted') this.evictedPods.add(entry.message.split(' ')[0] ?? '');
  }

  /** An entry of this kind, node and time (and message, when given) is recorded. */
  has(kind: TimelineEntry['kind'], node: string, at: string, message?: string): boolean {
    return this.keys.has(key(kind, node, at, message));
  }

  /** The earliest `k8s-not-ready` time recorded for the node. */
  firstNotReady(node: string): string | undefined {
    return this.notReady.get(node);
  }

  /** A `pod-evicted` entry names this pod (`namespace/name`). */
  evicted(pod: string): boolean {
    return this.evictedPods.has(pod);
  }

  /** Pods with a `pod-evicted` entry. */
  get evictedCount(): number {
    return this.evictedPods.size;
  }
}

function key(kind: string, node: string, at: string, message?: string): string {
  return message === undefined
    ? `${kind}\u0000${node}\u0000${at}`
    : `${kind}\u0000${node}\u0000${at}\u0000${message}`;
}

/**
 * Incident ids: `inc-<yyyymmdd>-<hhmmss>-<node or 'partition'>-<n>`, UTC,
 * n counting ids that would otherwise collide. Same clock, same node, same
 * history → same id.
 */
export function incidentId(now: number, subject: string, existing: Iterable<string>): string {
  const stamp = iso(now).replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const prefix = `inc-${stamp}-${subject}-`;
  let n = 1;
  for (const id of existing) if (id.startsWith(prefix)) n++;
  return `${prefix}${n}`;
}

/** Applies commands in order; the reference semantics for every incident store. */
export function applyIncidentCommands(
  incidents: readonly Incident[],
  commands: readonly IncidentCommand[],
): Incident[] {
  const byId = new Map(incidents.map((i) => [i.id, i]));
  for (const command of commands) applyCommand(byId, command);
  return [...byId.values()];
}

/** Applies one command to the incidents by id; returns the incident it produced. */
function applyCommand(byId: Map<string, Incident>, command: IncidentCommand): Incident {
  if (command.kind === 'open') {
    if (byId.has(command.incident.id)) {
      throw new NodeWardenError('CONFLICT', `incident ${command.incident.id} already exists`, {
        hint: 'decide again from the stored incidents; ids come from the clock and the node',
      });
    }
    byId.set(command.incident.id, command.incident);
    return command.incident;
  }
  const current = byId.get(command.id);
  if (current === undefined) {
    throw badInput(
      `incident ${command.id} does not exist (${command.kind})`,
      'apply commands to the incidents they were decided from',
    );
  }
  let next: Incident;
  switch (command.kind) {
    case 'append':
      next = { ...current, timeline: withEntries(current.timeline, command.entries) };
      break;
    case 'update':
      next = { ...current, ...command.patch };
      break;
    case 'resolve':
      next = {
        ...current,
        status: 'resolved',
        resolvedAt: command.resolvedAt,
        timeline: withEntries(current.timeline, [command.entry]),
      };
      break;
  }
  byId.set(command.id, next);
  return next;
}

/** The incidents as the decision proceeds, so later rules see earlier commands. */
/**
 * Timeline indexes by the timeline they describe. An index moves to the new
 * timeline when entries are appended (and leaves the old one, which it no
 * longer describes), so the next decision, handed the incidents this one
 * returned, finds it instead of indexing 50,000 entries again.
 */
const indexOfTimeline = new WeakMap<readonly TimelineEntry[], TimelineIndex>();

class Workspace {
  readonly commands: IncidentCommand[] = [];
  private readonly byId: Map<string, Incident>;
  /** Built (or found) on first use per incident, kept current as entries are appended. */
  private readonly indexes = new Map<string, TimelineIndex>();

  constructor(incidents: readonly Incident[]) {
    this.byId = new Map(incidents.map((i) => [i.id, i]));
  }

  emit(command: IncidentCommand): void {
    this.commands.push(command);
    const before = command.kind === 'open' ? undefined : this.byId.get(command.id);
    const incident = applyCommand(this.byId, command);
    const index = this.indexes.get(incident.id);
    if (index === undefined || before === undefined || before.timeline === incident.timeline) {
      return;
    }
    if (command.kind === 'append') for (const entry of command.entries) index.add(entry);
    if (command.kind === 'resolve') index.add(command.entry);
    indexOfTimeline.delete(before.timeline);
    indexOfTimeline.set(incident.timeline, index);
  }

  append(id: string, entries: readonly TimelineEntry[]): void {
    if (entries.length > 0) this.emit({ kind: 'append', id, entries });
  }

  get(id: string): Incident | undefined {
    return this.byId.get(id);
  }

  index(id: string): TimelineIndex {
    let index = this.indexes.get(id);
    if (index === undefined) {
      const timeline = this.byId.get(id)?.timeline ?? [];
      index = indexOfTimeline.get(timeline);
      if (index === undefined) {
        index = new TimelineIndex(timeline);
        indexOfTimeline.set(timeline, index);
      }
      this.indexes.set(id, index);
    }
    return index;
  }

  /** Every incident, as the commands so far left them. */
  all(): Incident[] {
    return [...this.byId.values()];
  }

  openIncidents(): Incident[] {
    return this.all().filter((i) => i.status === 'open');
  }

  openNodeIncident(node: string): Incident | undefined {
    for (const i of this.byId.values()) {
      if (i.status === 'open' && i.kind === 'node' && i.nodes[0] === node) return i;
    }
    return undefined;
  }

  /** The latest incident of this kind over these nodes that resolved within the window. */
  recentlyResolved(
    kind: Incident['kind'],
    nodes: readonly string[],
    now: number,
    windowMs: number,
  ): Incident | undefined {
    return this.all()
      .filter(
        (i) =>
          i.kind === kind &&
          i.status === 'resolved' &&
          i.resolvedAt !== null &&
          now - Date.parse(i.resolvedAt) <= windowMs &&
          i.nodes.some((n) => nodes.includes(n)),
      )
      .sort((a, b) => (b.resolvedAt ?? '').localeCompare(a.resolvedAt ?? ''))[0];
  }

  newId(now: number, subject: string): string {
    return incidentId(now, subject, this.byId.keys());
  }
}
