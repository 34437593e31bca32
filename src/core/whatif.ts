/**
 * What if these nodes die? Predicts where Kubernetes would put their pods,
 * which would stay Pending and why, and what the survivors' requests and
 * limits become as % of allocatable — the seed's 340–601% CPU limits,
 * before they happen. `nodewarden audit --fail`, the controller's capacity
 * guard and the report's impact section all use this one model.
 */
import type { NodeSnapshot, PodSnapshot, Taint } from './cluster.ts';
import {
  DEFAULT_THRESHOLDS,
  nodeCapacity,
  podRef,
  podRequests,
  podsByNode,
  validateThresholds,
  type Amounts,
  type CapacityFlag,
  type CapacityThresholds,
  type NodeCapacity,
} from './capacity.ts';
import { badInput } from './errors.ts';
import {
  NodeLoad,
  placePod,
  tolerationSecondsFor,
  UNREACHABLE_TAINT,
} from './whatif-scheduling.ts';

/** Values of the PriorityClasses every cluster has, for pods whose snapshot lacks `priority`. */
const SYSTEM_PRIORITIES: Readonly<Record<string, number>> = {
  'system-node-critical': 2_000_001_000,
  'system-cluster-critical': 2_000_000_000,
};

/** `spec.priority`, else the built-in class's value, else 0 (no PriorityClass, no global default). */
export function podPriority(pod: PodSnapshot): number {
  if (typeof pod.priority === 'number') return pod.priority;
  return SYSTEM_PRIORITIES[pod.priorityClassName ?? ''] ?? 0;
}

export interface DisplacedPod {
  /** namespace/name */
  readonly pod: string;
  readonly namespace: string;
  readonly name: string;
  /** `Kind/name` of the controlling owner; null for a bare pod. */
  readonly owner: string | null;
  readonly from: string;
  readonly priority: number;
  /** Effective requests in base units (cores, bytes, devices). */
  readonly requests: Amounts;
}

export interface Placement extends DisplacedPod {
  readonly to: string;
  /** LeastAllocated score (0–100) of the chosen node. */
  readonly score: number;
  /** Seconds after the node goes unreachable before the pod is evicted (its tolerationSeconds). */
  readonly evictedAfterSeconds: number;
  /** Set when the move has a precondition (StatefulSet pods). */
  readonly note: string | null;
}

export interface PendingPod extends DisplacedPod {
  readonly evictedAfterSeconds: number;
  /** One line: e.g. "0/4 nodes have nvidia.com/mig-1g.10gb; 0/4 nodes are available: …". */
  readonly reason: string;
  readonly reasons: readonly { readonly reason: string; readonly nodes: readonly string[] }[];
}

export interface UnmovedPod extends DisplacedPod {
  readonly why: string;
}

export interface SurvivorImpact {
  readonly node: string;
  readonly before: NodeCapacity;
  readonly after: NodeCapacity;
  /** Pods the model placed here. */
  readonly podsAdded: number;
  /** Flags the node has after the loss but not before: what the loss itself causes. */
  readonly newFlags: readonly CapacityFlag[];
}

export interface GuardFinding {
  readonly node: string;
  readonly flag: CapacityFlag;
  /** The share before the loss (null when the node had none of the resource). */
  readonly beforePct: number | null;
  /** True when the loss crosses the threshold; false when it was crossed already and gets worse. */
  readonly crossed: boolean;
}

export interface NodeLossPrediction {
  readonly failed: readonly string[];
  /** The failed nodes' own table before they died (the seed's "Failed node: CPU requests 14%, …"). */
  readonly failedBefore: readonly NodeCapacity[];
  readonly thresholds: CapacityThresholds;
  /** Pods that a controller recreates and the model placed, in placement order. */
  readonly placements: readonly Placement[];
  /** Pods that a controller recreates but that fit nowhere (without preemption). */
  readonly pending: readonly PendingPod[];
  /** Bare pods: nothing recreates them. */
  readonly lost: readonly UnmovedPod[];
  /** DaemonSet pods, static pods, and pods that tolerate the unreachable taint forever. */
  readonly staying: readonly UnmovedPod[];
  /** Every surviving node, by name. */
  readonly survivors: readonly SurvivorImpact[];
  /**
   * The capacity guard's answer: every threshold a survivor that receives
   * pods is over after the loss — newly crossed, or already crossed and now
   * worse. Empty when the loss can be absorbed.
   */
  readonly overThreshold: readonly GuardFinding[];
}

const unreachableNoExecute: Taint = { key: UNREACHABLE_TAINT, effect: 'NoExecute' };

/** Owner kinds whose pods never move to another node. */
const PINNED_OWNERS: Readonly<Record<string, string>> = {
  DaemonSet: 'DaemonSet pod: runs on its own node only, nothing recreates it elsewhere',
  Node: "static (mirror) pod: belongs to the node's kubelet",
};

function displaced(pod: PodSnapshot, from: string): DisplacedPod {
  return {
    pod: podRef(pod),
    namespace: pod.namespace,
    name: pod.name,
    owner: pod.ownerKind !== null ? `${pod.ownerKind}/${pod.ownerName ?? ''}` : null,
    from,
    priority: podPriority(pod),
    requests: podRequests(pod),
  };
}

function pctOf(c: NodeCapacity, flag: CapacityFlag): number | null {
  const use = c.resources.find((r) => r.resource === flag.resource);
  if (use === undefined) return null;
  return flag.measure === 'requests' ? use.requestsPct : use.limitsPct;
}

function checkFailed(nodes: readonly NodeSnapshot[], failed: readonly string[]): string[] {
  const names = [...new Set(failed.map((n) => n.trim()).filter((n) => n !== ''))];
  if (names.length === 0) {
    throw badInput(
      'no node to fail was given',
      'name one or more nodes, e.g. --fail node-a,node-b',
    );
  }
  const known = new Set(nodes.map((n) => n.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    const list = [...known].sort();
    const shown =
      list.slice(0, 8).join(', ') + (list.length > 8 ? `, … (${list.length} in all)` : '');
    throw badInput(
      `${unknown.map((n) => `"${n}"`).join(', ')} ${unknown.length === 1 ? 'is not a node' : 'are not nodes'} of this cluster`,
      list.length > 0 ? `nodes are: ${shown}` : 'the cluster has no nodes',
    );
  }
  return names;
}

/**
 * Predicts the loss of `failedNodes` (gone dark: the node lifecycle
 * controller taints them node.kubernetes.io/unreachable). Rules:
 * 1. Only pods that hold resources count (see capacity.ts): a pod already
 *    Terminating on a failed node has its replacement counted elsewhere.
 * 2. On each failed node: DaemonSet and static pods stay; a pod whose
 *    tolerations keep it on an unreachable node forever (NoExecute toleration
 *    without tolerationSeconds) stays bound and is not replaced; a bare pod
 *    (no controller) is lost; every other pod — owned by a ReplicaSet,
 *    StatefulSet, Job, ReplicationController or an operator's controller —
 *    is evicted after its tolerationSeconds (300 s by default) and recreated.
 * 3. Recreated pods are placed one at a time, highest priority first, then
 *    oldest first, each onto the best survivor by `placePod` (filters:
 *    cordon, taints, nodeSelector/affinity, pod count, every requested
 *    resource; score: LeastAllocated), and what it requests is added to
 *    that node before the next pod is placed. No preemption: a pod that fits
 *    nowhere stays Pending with kube-scheduler's reasons.
 * 4. Survivors' before/after tables use the same thresholds;
 *    `overThreshold` lists every threshold a survivor that receives pods
 *    ends up over, marking those the loss newly crosses.
 */
export function predictNodeLoss(
  nodes: readonly NodeSnapshot[],
  pods: readonly PodSnapshot[],
  failedNodes: readonly string[],
  thresholds: CapacityThresholds = DEFAULT_THRESHOLDS,
): NodeLossPrediction {
  validateThresholds(thresholds);
  const failed = checkFailed(nodes, failedNodes);
  const failedSet = new Set(failed);
  const byNode = podsByNode(pods);
  const survivors = nodes
    .filter((n) => !failedSet.has(n.name))
    .sort((a, b) => a.name.localeCompare(b.name));

  const moving: { pod: PodSnapshot; from: string; evictedAfterSeconds: number }[] = [];
  const lost: UnmovedPod[] = [];
  const staying: UnmovedPod[] = [];
  for (const name of failed) {
    for (const pod of byNode.get(name) ?? []) {
      const pinned = PINNED_OWNERS[pod.ownerKind ?? ''];
      const seconds = tolerationSecondsFor(pod, unreachableNoExecute);
      if (pinned !== undefined) {
        staying.push({ ...displaced(pod, name), why: pinned });
      } else if (seconds === null) {
        staying.push({
          ...displaced(pod, name),
          why: `tolerates ${UNREACHABLE_TAINT}:NoExecute without tolerationSeconds: stays bound to the dead node`,
        });
      } else if (pod.ownerKind === null) {
        lost.push({ ...displaced(pod, name), why: 'bare pod: no controller recreates it' });
      } else {
        moving.push({ pod, from: name, evictedAfterSeconds: seconds });
      }
    }
  }
  moving.sort(
    (a, b) =>
      podPriority(b.pod) - podPriority(a.pod) ||
      a.pod.createdAt.localeCompare(b.pod.createdAt) ||
      podRef(a.pod).localeCompare(podRef(b.pod)),
  );

  const loads = survivors.map((n) => new NodeLoad(n, byNode.get(n.name) ?? []));
  const added = new Map<string, PodSnapshot[]>();
  const placements: Placement[] = [];
  const pending: PendingPod[] = [];
  for (const { pod, from, evictedAfterSeconds } of moving) {
    // The replacement: same spec, not yet bound.
    const replacement: PodSnapshot = { ...pod, nodeName: null, phase: 'Pending' };
    const decision = placePod(replacement, loads);
    if (!decision.fits) {
      pending.push({
        ...displaced(pod, from),
        evictedAfterSeconds,
        reason: decision.reason,
        reasons: decision.reasons,
      });
      continue;
    }
    const bound: PodSnapshot = { ...replacement, nodeName: decision.node, phase: 'Running' };
    loads.find((l) => l.node.name === decision.node)?.add(bound);
    const list = added.get(decision.node) ?? [];
    list.push(bound);
    added.set(decision.node, list);
    placements.push({
      ...displaced(pod, from),
      to: decision.node,
      score: decision.candidate.score,
      evictedAfterSeconds,
      note:
        pod.ownerKind === 'StatefulSet'
          ? "StatefulSet keeps the pod's identity: the replacement starts only once the node is deleted or tainted node.kubernetes.io/out-of-service"
          : null,
    });
  }

  const impacts = survivors.map((node): SurvivorImpact => {
    const current = byNode.get(node.name) ?? [];
    const extra = added.get(node.name) ?? [];
    const before = nodeCapacity(node, current, thresholds);
    const after = nodeCapacity(node, [...current, ...extra], thresholds);
    const had = new Set(before.flags.map((f) => `${f.resource} ${f.measure}`));
    return {
      node: node.name,
      before,
      after,
      podsAdded: extra.length,
      newFlags: after.flags.filter((f) => !had.has(`${f.resource} ${f.measure}`)),
    };
  });

  return {
    failed,
    failedBefore: nodes
      .filter((n) => failedSet.has(n.name))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((n) => nodeCapacity(n, byNode.get(n.name) ?? [], thresholds)),
    thresholds,
    placements,
    pending,
    lost,
    staying,
    survivors: impacts,
    overThreshold: impacts
      .filter((s) => s.podsAdded > 0)
      .flatMap((s) =>
        s.after.flags.map((flag): GuardFinding => ({
          node: s.node,
          flag,
          beforePct: pctOf(s.before, flag),
          crossed: s.newFlags.includes(flag),
        })),
      ),
  };
}
