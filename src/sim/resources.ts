/**
 * Requests and limits of pods and nodes, counted the way `kubectl describe
 * node` counts them under "Allocated resources": every pod bound to the node
 * that has not terminated (Succeeded/Failed), Terminating ones included; a
 * pod's request is the larger of its containers' sum and its largest init
 * container; a container without a limit adds nothing to limits.
 */
import type {
  ContainerResources,
  NodeSnapshot,
  PodSnapshot,
  ResourceList,
} from '../core/cluster.ts';
import { parseQuantity } from '../core/quantity.ts';

export type Amounts = Readonly<Record<string, number>>;

function amounts(list: ResourceList): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(list)) out[name] = parseQuantity(value);
  return out;
}

function add(a: Record<string, number>, b: Amounts): Record<string, number> {
  for (const [name, value] of Object.entries(b)) a[name] = (a[name] ?? 0) + value;
  return a;
}

function effective(
  containers: readonly ContainerResources[],
  init: readonly ContainerResources[],
  pick: (c: ContainerResources) => ResourceList,
): Amounts {
  const sum = containers.reduce<Record<string, number>>((acc, c) => add(acc, amounts(pick(c))), {});
  for (const c of init) {
    for (const [name, value] of Object.entries(amounts(pick(c)))) {
      sum[name] = Math.max(sum[name] ?? 0, value);
    }
  }
  return sum;
}

export function podRequests(pod: PodSnapshot): Amounts {
  return effective(pod.containers, pod.initContainers, (c) => c.requests);
}

export function podLimits(pod: PodSnapshot): Amounts {
  return effective(pod.containers, pod.initContainers, (c) => c.limits);
}

/** Pods that count against a node: bound to it and not terminated. */
export function countsAgainst(pod: PodSnapshot, node: string): boolean {
  return pod.nodeName === node && pod.phase !== 'Succeeded' && pod.phase !== 'Failed';
}

export interface ResourceUse {
  readonly allocatable: number;
  readonly requests: number;
  readonly limits: number;
  /** Percent of allocatable, unrounded. */
  readonly requestsPct: number;
  readonly limitsPct: number;
}

export interface NodeUse {
  readonly node: string;
  readonly cpu: ResourceUse;
  readonly memory: ResourceUse;
}

/** CPU and memory requests/limits of the pods on `node` as shares of its allocatable. */
export function nodeUse(node: NodeSnapshot, pods: readonly PodSnapshot[]): NodeUse {
  const requests: Record<string, number> = {};
  const limits: Record<string, number> = {};
  for (const pod of pods) {
    if (!countsAgainst(pod, node.name)) continue;
    add(requests, podRequests(pod));
    add(limits, podLimits(pod));
  }
  const use = (name: string): ResourceUse => {
    const allocatable = parseQuantity(node.allocatable[name] ?? '0');
    const r = requests[name] ?? 0;
    const l = limits[name] ?? 0;
    return {
      allocatable,
      requests: r,
      limits: l,
      requestsPct: allocatable > 0 ? (100 * r) / allocatable : 0,
      limitsPct: allocatable > 0 ? (100 * l) / allocatable : 0,
    };
  };
  return { node: node.name, cpu: use('cpu'), memory: use('memory') };
}

/** One decimal, as the seed's table prints percentages. */
export function percent1(value: number): number {
  return Math.round(value * 10) / 10;
}
