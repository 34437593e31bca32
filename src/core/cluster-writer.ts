/**
 * The write side of the cluster, as narrow as remediation needs: cordon and
 * taints on a Node, one annotation on a Cluster API Machine. Adapters patch —
 * never replace — so fields other controllers own are left alone. The
 * Kubernetes adapter is src/kube/cluster-writer.ts; `SimCluster` implements
 * it for the demo and tests.
 */
import type { Taint } from './cluster.ts';

export interface NodePatch {
  /** true: cordon; false: uncordon; absent: leave as is. */
  readonly unschedulable?: boolean;
  /** Added unless a taint with the same key and effect is there already. */
  readonly addTaints?: readonly Taint[];
  /** Every taint with one of these keys is removed. */
  readonly removeTaintKeys?: readonly string[];
}

/** What a patch actually changed: remediation undoes exactly this, no more. */
export interface NodePatchResult {
  /** The node went from schedulable to unschedulable (false if it already was). */
  readonly cordoned: boolean;
  readonly uncordoned: boolean;
  readonly taintsAdded: readonly string[];
  readonly taintsRemoved: readonly string[];
}

export interface MachineRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * Every call may fail with a NodeWardenError: NOT_FOUND (no such node or
 * Machine), CONFLICT (changed under us too often), BAD_INPUT (forbidden),
 * TIMEOUT, UNAVAILABLE (the API server cannot be reached).
 */
export interface ClusterWriter {
  patchNode(name: string, patch: NodePatch): Promise<NodePatchResult>;
  /** Sets one annotation on `cluster.x-k8s.io` Machine `ref` (a JSON merge patch). */
  annotateMachine(ref: MachineRef, key: string, value: string): Promise<void>;
}

/** The taints and cordon a node ends up with after `patch`, and what changed (pure). */
export function applyNodePatch(
  current: { readonly unschedulable: boolean; readonly taints: readonly Taint[] },
  patch: NodePatch,
  nowIso: string,
): { unschedulable: boolean; taints: Taint[]; result: NodePatchResult } {
  const remove = new Set(patch.removeTaintKeys ?? []);
  const kept = current.taints.filter((t) => !remove.has(t.key));
  const taintsRemoved = [
    ...new Set(current.taints.filter((t) => remove.has(t.key)).map((t) => t.key)),
  ];
  const taintsAdded: string[] = [];
  const taints = [...kept];
  for (const t of patch.addTaints ?? []) {
    if (taints.some((x) => x.key === t.key && x.effect === t.effect)) continue;
    taints.push({ ...t, timeAdded: t.timeAdded ?? nowIso });
    if (!taintsAdded.includes(t.key)) taintsAdded.push(t.key);
  }
  const unschedulable = patch.unschedulable ?? current.unschedulable;
  return {
    unschedulable,
    taints,
    result: {
      cordoned: unschedulable && !current.unschedulable,
      uncordoned: !unschedulable && current.unschedulable,
      taintsAdded,
      taintsRemoved,
    },
  };
}
