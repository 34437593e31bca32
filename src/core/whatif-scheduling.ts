/**
 * A scheduler-like model of where a pod may go: kube-scheduler's default
 * filters that decide placement on a GPU cluster, and its LeastAllocated
 * score. Exactness to kube-scheduler is not the goal; the magnitude of what
 * a lost node does to its neighbours is. Differences are stated where they
 * are made.
 */
import type {
  NodeSelectorRequirement,
  NodeSelectorTerm,
  NodeSnapshot,
  PodSnapshot,
  Taint,
  Toleration,
} from './cluster.ts';
import {
  DEFAULT_MAX_PODS,
  nodeAllocatable,
  podRequests,
  podScoringRequests,
  type Amounts,
} from './capacity.ts';

/** Taints the node lifecycle controller puts on a node whose kubelet went silent / reports NotReady. */
export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';
export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';

/**
 * Kubernetes' `Toleration.ToleratesTaint`: an empty effect matches every
 * effect; an empty key (only valid with Exists) matches every key; Exists
 * ignores the value, Equal (the default) compares it.
 */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect !== undefined && t.effect !== '' && t.effect !== taint.effect) return false;
  if (t.key !== undefined && t.key !== '' && t.key !== taint.key) return false;
  if ((t.operator ?? 'Equal') === 'Exists') return true;
  return (t.value ?? '') === (taint.value ?? '');
}

/** The first NoSchedule/NoExecute taint of `node` that `pod` does not tolerate (PreferNoSchedule only scores). */
export function untoleratedTaint(pod: PodSnapshot, node: NodeSnapshot): Taint | undefined {
  return node.taints.find(
    (taint) =>
      taint.effect !== 'PreferNoSchedule' && !pod.tolerations.some((t) => toleratesTaint(t, taint)),
  );
}

/**
 * How long `pod` stays bound to a node that carries `taint` (NoExecute):
 * 0 when no toleration matches (evicted at once), the smallest
 * tolerationSeconds among the matching tolerations, or null (forever) when
 * every matching toleration omits tolerationSeconds — Kubernetes'
 * `getMinTolerationTime`. DaemonSet pods tolerate unreachable forever.
 */
export function tolerationSecondsFor(pod: PodSnapshot, taint: Taint): number | null {
  const matching = pod.tolerations.filter((t) => toleratesTaint(t, taint));
  if (matching.length === 0) return 0;
  const seconds = matching
    .map((t) => t.tolerationSeconds)
    .filter((s): s is number => s !== undefined)
    .map((s) => Math.max(0, s));
  return seconds.length === 0 ? null : Math.min(...seconds);
}

const INTEGER = /^[+-]?\d+$/;

/**
 * One requirement against a node's labels (or, for matchFields, its name):
 * In / NotIn / Exists / DoesNotExist as in labels.Selector (NotIn and
 * DoesNotExist match an absent label); Gt / Lt compare the label as an
 * integer with the single integer value, and fail when either is not one.
 */
export function matchesRequirement(
  req: NodeSelectorRequirement,
  labels: Readonly<Record<string, string>>,
): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = labels[req.key];
  switch (req.operator) {
    case 'In':
      return has && value !== undefined && req.values.includes(value);
    case 'NotIn':
      return !has || value === undefined || !req.values.includes(value);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      const bound = req.values[0];
      if (!has || value === undefined || req.values.length !== 1 || bound === undefined)
        return false;
      if (!INTEGER.test(value) || !INTEGER.test(bound)) return false;
      const [v, b] = [BigInt(value), BigInt(bound)];
      return req.operator === 'Gt' ? v > b : v < b;
    }
  }
}

/**
 * A term matches when all its requirements do. An empty term matches no
 * node (Kubernetes: "a null or empty node selector term matches no
 * objects"); matchFields knows only `metadata.name`.
 */
export function matchesTerm(term: NodeSelectorTerm, node: NodeSnapshot): boolean {
  if (term.matchExpressions.length === 0 && term.matchFields.length === 0) return false;
  return (
    term.matchExpressions.every((r) => matchesRequirement(r, node.labels)) &&
    term.matchFields.every(
      (r) =>
        r.key === 'metadata.name' && matchesRequirement({ ...r, key: 'name' }, { name: node.name }),
    )
  );
}

/** nodeSelector (every label equal) and required node affinity (any term) both hold. */
export function matchesNodeSelection(pod: PodSnapshot, node: NodeSnapshot): boolean {
  for (const [key, value] of Object.entries(pod.nodeSelector)) {
    if (node.labels[key] !== value) return false;
  }
  const required = pod.nodeAffinity?.required;
  if (required === null || required === undefined) return true;
  return required.some((term) => matchesTerm(term, node));
}

/** Sum of the weights of the preferred node-affinity terms `node` matches. */
export function preferredWeight(pod: PodSnapshot, node: NodeSnapshot): number {
  let sum = 0;
  for (const p of pod.nodeAffinity?.preferred ?? []) {
    if (p.weight > 0 && matchesTerm(p.preference, node)) sum += p.weight;
  }
  return sum;
}

/**
 * What is already promised on a node, kept up to date as the model places
 * pods on it.
 */
export class NodeLoad {
  readonly node: NodeSnapshot;
  readonly allocatable: Amounts;
  readonly maxPods: number;
  readonly #requested: Record<string, number> = {};
  #scoringCpu = 0;
  #scoringMemory = 0;
  #pods = 0;

  constructor(node: NodeSnapshot, pods: readonly PodSnapshot[]) {
    this.node = node;
    this.allocatable = nodeAllocatable(node);
    this.maxPods = this.allocatable['pods'] ?? DEFAULT_MAX_PODS;
    for (const pod of pods) this.add(pod);
  }

  add(pod: PodSnapshot): void {
    for (const [name, v] of Object.entries(podRequests(pod))) {
      this.#requested[name] = (this.#requested[name] ?? 0) + v;
    }
    const scoring = podScoringRequests(pod);
    this.#scoringCpu += scoring.cpu;
    this.#scoringMemory += scoring.memory;
    this.#pods += 1;
  }

  requested(resource: string): number {
    return this.#requested[resource] ?? 0;
  }

  get podCount(): number {
    return this.#pods;
  }

  get scoringRequested(): { cpu: number; memory: number } {
    return { cpu: this.#scoringCpu, memory: this.#scoringMemory };
  }
}

/** Slack for sums of fractional CPU (0.1 + 0.2 must fit in 0.3). */
const EPSILON = 1e-9;

/**
 * The reasons `node` cannot take `pod`, in kube-scheduler's FailedScheduling
 * words. Unlike kube-scheduler, which stops at the first failing filter,
 * every filter is checked, so a MIG pod shows both "didn't match Pod's node
 * affinity/selector" and "Insufficient nvidia.com/mig-1g.10gb". Filters:
 * not cordoned; every NoSchedule/NoExecute taint tolerated; nodeSelector and
 * required node affinity; pod count below allocatable pods; every requested
 * resource (cpu, memory, ephemeral-storage, nvidia.com/gpu, MIG profiles, …)
 * fits in allocatable minus what is already requested.
 */
export function filterReasons(pod: PodSnapshot, wanted: Amounts, load: NodeLoad): string[] {
  const reasons: string[] = [];
  if (load.node.unschedulable) reasons.push('node(s) were unschedulable');
  const taint = untoleratedTaint(pod, load.node);
  if (taint !== undefined) {
    reasons.push(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`);
  }
  if (!matchesNodeSelection(pod, load.node)) {
    reasons.push("node(s) didn't match Pod's node affinity/selector");
  }
  if (load.podCount + 1 > load.maxPods) reasons.push('Too many pods');
  for (const [resource, amount] of Object.entries(wanted).sort(([a], [b]) => a.localeCompare(b))) {
    if (amount <= 0 || resource === 'pods') continue;
    const allocatable = load.allocatable[resource] ?? 0;
    const free = allocatable - load.requested(resource);
    if (amount > free + EPSILON * Math.max(1, allocatable))
      reasons.push(`Insufficient ${resource}`);
  }
  return reasons;
}

/**
 * kube-scheduler's LeastAllocated score, 0–100 in whole numbers: for CPU and
 * memory (weight 1 each), the share of allocatable left free after placing
 * the pod, counting request-less containers as 100m / 200 MiB.
 */
export function leastAllocatedScore(pod: PodSnapshot, load: NodeLoad): number {
  const wanted = podScoringRequests(pod);
  const used = load.scoringRequested;
  const one = (allocatable: number, requested: number): number =>
    allocatable <= 0 || requested > allocatable
      ? 0
      : Math.floor(((allocatable - requested) * 100) / allocatable);
  const cpu = one(load.allocatable['cpu'] ?? 0, used.cpu + wanted.cpu);
  const memory = one(load.allocatable['memory'] ?? 0, used.memory + wanted.memory);
  return Math.floor((cpu + memory) / 2);
}

export interface Candidate {
  readonly node: string;
  readonly score: number;
  readonly preferredWeight: number;
}

export type PlacementDecision =
  | { readonly fits: true; readonly node: string; readonly candidate: Candidate }
  | {
      readonly fits: false;
      /** One line: the missing resource when no node has it at all, else kube-scheduler's message. */
      readonly reason: string;
      readonly reasons: readonly { readonly reason: string; readonly nodes: readonly string[] }[];
    };

/**
 * Picks a node for `pod` among `loads`: the feasible node with the highest
 * LeastAllocated score; ties go to the larger preferred node-affinity weight,
 * then to fewer untolerated PreferNoSchedule taints, then to the first name.
 * (kube-scheduler adds the affinity and taint scores to the resource score
 * with plugin weights; we use them only to break ties, so that free capacity
 * drives the prediction.) No feasible node → the reasons per node, counted
 * and sorted as kube-scheduler prints them.
 */
export function placePod(pod: PodSnapshot, loads: readonly NodeLoad[]): PlacementDecision {
  const wanted = podRequests(pod);
  const why = new Map<string, string[]>();
  let best: (Candidate & { soft: number }) | null = null;
  for (const load of loads) {
    const reasons = filterReasons(pod, wanted, load);
    if (reasons.length > 0) {
      for (const reason of reasons) {
        const nodes = why.get(reason) ?? [];
        nodes.push(load.node.name);
        why.set(reason, nodes);
      }
      continue;
    }
    const candidate = {
      node: load.node.name,
      score: leastAllocatedScore(pod, load),
      preferredWeight: preferredWeight(pod, load.node),
      soft: load.node.taints.filter(
        (t) =>
          t.effect === 'PreferNoSchedule' && !pod.tolerations.some((x) => toleratesTaint(x, t)),
      ).length,
    };
    if (best === null || better(candidate, best)) best = candidate;
  }
  if (best !== null) {
    const candidate: Candidate = {
      node: best.node,
      score: best.score,
      preferredWeight: best.preferredWeight,
    };
    return { fits: true, node: best.node, candidate };
  }
  const reasons = [...why.entries()]
    .map(([reason, nodes]) => ({ reason, nodes: nodes.sort() }))
    .sort((a, b) => byteOrder(`${a.nodes.length} ${a.reason}`, `${b.nodes.length} ${b.reason}`));
  const total = loads.length;
  const scheduler = `0/${total} nodes are available${
    reasons.length > 0 ? ': ' + reasons.map((r) => `${r.nodes.length} ${r.reason}`).join(', ') : ''
  }.`;
  const absent = Object.entries(wanted)
    .filter(([resource, amount]) => amount > 0 && resource !== 'pods')
    .map(([resource]) => resource)
    .filter((resource) => loads.every((l) => (l.allocatable[resource] ?? 0) <= 0))
    .sort();
  const reason =
    total > 0 && absent.length > 0
      ? `0/${total} nodes have ${absent.join(', ')}; ${scheduler}`
      : scheduler;
  return { fits: false, reason, reasons };
}

/** Go's sort.Strings order, which kube-scheduler uses for its reasons. */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function better(a: Candidate & { soft: number }, b: Candidate & { soft: number }): boolean {
  if (a.score !== b.score) return a.score > b.score;
  if (a.preferredWeight !== b.preferredWeight) return a.preferredWeight > b.preferredWeight;
  if (a.soft !== b.soft) return a.soft < b.soft;
  return a.node.localeCompare(b.node) < 0;
}
