/**
 * A small scheduler for the simulator, with kube-scheduler's default filters
 * and its LeastAllocated score, enough to move a lost node's pods the way
 * Kubernetes would: requests must fit what is left of allocatable, taints
 * must be tolerated, nodeSelector must match. Like kube-scheduler it does not
 * read the Ready condition: a not-ready node is kept out by the
 * not-ready/unreachable NoSchedule taints the node lifecycle controller adds.
 */
import type { NodeSnapshot, PodSnapshot, Taint, Toleration } from '../core/cluster.ts';
import { countsAgainst, podRequests } from './resources.ts';
import { parseQuantity } from '../core/quantity.ts';

export type ScheduleDecision =
  | { readonly node: string; readonly reason?: undefined }
  | { readonly node: null; readonly reason: string };

/** Kubernetes' toleration matching: empty key with Exists tolerates everything. */
export function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect !== undefined && t.effect !== '' && t.effect !== taint.effect) return false;
    if ((t.operator ?? 'Equal') === 'Exists')
      return t.key === undefined || t.key === '' || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/**
 * Picks a node for `pod`. Filters, as kube-scheduler's defaults do:
 * schedulable (not cordoned); every NoSchedule/NoExecute taint tolerated;
 * nodeSelector labels present; every requested resource fits in allocatable
 * minus the requests of pods already counted on the node. Score: the mean
 * free share of CPU and memory after placing the pod (LeastAllocated);
 * ties go to the first node by name. Nothing fits → null and the reason
 * in FailedScheduling's words.
 */
export function schedulePod(
  pod: PodSnapshot,
  nodes: readonly NodeSnapshot[],
  pods: readonly PodSnapshot[],
): ScheduleDecision {
  const wanted = podRequests(pod);
  const why = new Map<string, number>();
  const reject = (reason: string): void => {
    why.set(reason, (why.get(reason) ?? 0) + 1);
  };
  let best: { node: string; score: number } | null = null;
  for (const node of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    if (node.unschedulable) {
      reject('node(s) were unschedulable');
      continue;
    }
    const untolerated = node.taints.find(
      (t) => t.effect !== 'PreferNoSchedule' && !tolerates(pod.tolerations, t),
    );
    if (untolerated !== undefined) {
      reject(`node(s) had untolerated taint {${untolerated.key}: ${untolerated.value ?? ''}}`);
      continue;
    }
    if (Object.entries(pod.nodeSelector).some(([k, v]) => node.labels[k] !== v)) {
      reject("node(s) didn't match Pod's node affinity/selector");
      continue;
    }
    const used: Record<string, number> = {};
    for (const other of pods) {
      if (!countsAgainst(other, node.name)) continue;
      for (const [name, value] of Object.entries(podRequests(other)))
        used[name] = (used[name] ?? 0) + value;
    }
    const free = (name: string): number =>
      parseQuantity(node.allocatable[name] ?? '0') - (used[name] ?? 0);
    const short = Object.entries(wanted).find(
      ([name, value]) => value > 0 && value > free(name) + 1e-9,
    );
    if (short !== undefined) {
      reject(`Insufficient ${short[0]}`);
      continue;
    }
    const share = (name: string): number => {
      const allocatable = parseQuantity(node.allocatable[name] ?? '0');
      return allocatable > 0 ? (free(name) - (wanted[name] ?? 0)) / allocatable : 0;
    };
    const score = (share('cpu') + share('memory')) / 2;
    if (best === null || score > best.score) best = { node: node.name, score };
  }
  if (best !== null) return { node: best.node };
  // kube-scheduler sorts the reasons as strings.
  const reasons = [...why.entries()]
    .map(([reason, n]) => `${n} ${reason}`)
    .sort()
    .join(', ');
  return { node: null, reason: `0/${nodes.length} nodes are available: ${reasons}.` };
}
