/**
 * The capacity model: what every node has promised, as shares of what it
 * can give. This is the seed report's "Resource Information" table
 * (`88.9% / 340.6%` = CPU requests / limits of allocatable), computed for
 * every node and every resource that matters on a GPU cluster, with
 * thresholds that flag nodes one lost neighbour away from trouble.
 *
 * Counting rules (Kubernetes' own, as kube-scheduler and
 * `kubectl describe node` count "Allocated resources", with one stated
 * difference):
 * - a pod counts against the node it is bound to (`spec.nodeName`) unless it
 *   has terminated (phase Succeeded or Failed) or is being deleted
 *   (`deletionTimestamp` set). Kubernetes still counts a Terminating pod
 *   until it is gone; we do not, because its replacement is already counted
 *   wherever it was placed, and counting both would double the load.
 * - a pod's effective request (and limit) per resource is
 *   max(sum over its containers, max over its init containers): init
 *   containers run one at a time, before the app containers.
 * - a container that sets only a limit requests that limit (the API server
 *   defaults it that way on create; applying it again is harmless).
 * - a container without a limit adds nothing to limits (as kubectl shows it,
 *   although such a container may in fact use the whole node).
 * Not modelled: pod overhead (RuntimeClass) and restartable "sidecar" init
 * containers, whose requests Kubernetes adds to the containers' sum; the
 * snapshots do not carry them.
 */
import type { ContainerResources, NodeSnapshot, PodSnapshot, ResourceList } from './cluster.ts';
import { badInput, NodeWardenError } from './errors.ts';
import { parseQuantity } from './quantity.ts';

/** Amounts in base units (cores, bytes, devices) per resource name. */
export type Amounts = Readonly<Record<string, number>>;

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const MIG_PREFIX = 'nvidia.com/mig-';

/** nvidia.com/gpu or any MIG profile (nvidia.com/mig-1g.10gb, …). */
export function isGpuResource(name: string): boolean {
  return name === GPU_RESOURCE || name.startsWith(MIG_PREFIX);
}

/** Extended resources (a domain-prefixed name such as nvidia.com/gpu) cannot be overcommitted. */
export function isExtendedResource(name: string): boolean {
  return name.includes('/') && !name.startsWith('kubernetes.io/');
}

/** Kubelet's default `maxPods`, used when a node does not publish allocatable pods. */
export const DEFAULT_MAX_PODS = 110;

export const podRef = (pod: Pick<PodSnapshot, 'namespace' | 'name'>): string =>
  `${pod.namespace}/${pod.name}`;

function parseList(list: ResourceList, where: () => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, text] of Object.entries(list)) {
    try {
      out[name] = parseQuantity(text);
    } catch (error) {
      if (!(error instanceof NodeWardenError)) throw error;
      throw new NodeWardenError('BAD_INPUT', `${where()} ${name}: ${error.message}`, {
        hint: error.hint ?? 'use a Kubernetes quantity',
        cause: error,
      });
    }
  }
  return out;
}

/** A container's requests with the API server's defaulting: only a limit set → request = limit. */
function containerRequests(pod: PodSnapshot, c: ContainerResources): Record<string, number> {
  const where = () => `pod ${podRef(pod)} container ${c.name}:`;
  const requests = parseList(c.requests, () => `${where()} requests`);
  const limits = parseList(c.limits, () => `${where()} limits`);
  for (const [name, value] of Object.entries(limits)) {
    if (!(name in requests)) requests[name] = value;
  }
  return requests;
}

function containerLimits(pod: PodSnapshot, c: ContainerResources): Record<string, number> {
  return parseList(c.limits, () => `pod ${podRef(pod)} container ${c.name}: limits`);
}

function effective(
  pod: PodSnapshot,
  pick: (pod: PodSnapshot, c: ContainerResources) => Record<string, number>,
): Record<string, number> {
  const total: Record<string, number> = {};
  for (const c of pod.containers) {
    for (const [name, value] of Object.entries(pick(pod, c)))
      total[name] = (total[name] ?? 0) + value;
  }
  for (const c of pod.initContainers) {
    for (const [name, value] of Object.entries(pick(pod, c))) {
      total[name] = Math.max(total[name] ?? 0, value);
    }
  }
  return total;
}

/** The pod's effective requests: max(sum of containers, largest init container) per resource. */
export function podRequests(pod: PodSnapshot): Amounts {
  return effective(pod, containerRequests);
}

/** The pod's effective limits, by the same rule; a container without a limit adds nothing. */
export function podLimits(pod: PodSnapshot): Amounts {
  return effective(pod, containerLimits);
}

/** kube-scheduler's scoring defaults for a container that sets no CPU or memory request. */
export const NON_ZERO_CPU = 0.1;
export const NON_ZERO_MEMORY = 200 * 1024 * 1024;

/**
 * CPU and memory requests as kube-scheduler scores them: a container that
 * sets no request counts as 100m CPU / 200 MiB, so that request-less pods
 * still spread. Used for scoring only, never for fit.
 */
export function podScoringRequests(pod: PodSnapshot): { cpu: number; memory: number } {
  const one = (c: ContainerResources) => {
    const r = containerRequests(pod, c);
    return { cpu: r['cpu'] ?? NON_ZERO_CPU, memory: r['memory'] ?? NON_ZERO_MEMORY };
  };
  let cpu = 0;
  let memory = 0;
  for (const c of pod.containers) {
    const r = one(c);
    cpu += r.cpu;
    memory += r.memory;
  }
  for (const c of pod.initContainers) {
    const r = one(c);
    cpu = Math.max(cpu, r.cpu);
    memory = Math.max(memory, r.memory);
  }
  return { cpu, memory };
}

/** Whether `pod` holds resources on its node now: bound, not terminated, not being deleted. */
export function holdsResources(pod: PodSnapshot): boolean {
  return (
    pod.nodeName !== null &&
    pod.phase !== 'Succeeded' &&
    pod.phase !== 'Failed' &&
    pod.deletionTimestamp === null
  );
}

/** Pods that hold resources, by node name. */
export function podsByNode(pods: readonly PodSnapshot[]): Map<string, PodSnapshot[]> {
  const out = new Map<string, PodSnapshot[]>();
  for (const pod of pods) {
    if (!holdsResources(pod) || pod.nodeName === null) continue;
    let list = out.get(pod.nodeName);
    if (!list) out.set(pod.nodeName, (list = []));
    list.push(pod);
  }
  return out;
}

/** A node's allocatable in base units. */
export function nodeAllocatable(node: NodeSnapshot): Amounts {
  return parseList(node.allocatable, () => `node ${node.name}: allocatable`);
}

export function maxPods(node: NodeSnapshot): number {
  return nodeAllocatable(node)['pods'] ?? DEFAULT_MAX_PODS;
}

export interface ResourceUse {
  readonly resource: string;
  readonly allocatable: number;
  readonly requests: number;
  readonly limits: number;
  /** Percent of allocatable, unrounded; null when allocatable is 0 (nothing to divide by). */
  readonly requestsPct: number | null;
  readonly limitsPct: number | null;
}

export type Measure = 'requests' | 'limits';

export interface CapacityFlag {
  readonly resource: string;
  readonly measure: Measure;
  /** The share that crossed the threshold; null when the node has none of it at all. */
  readonly pct: number | null;
  readonly thresholdPct: number;
  readonly message: string;
}

export interface NodeCapacity {
  readonly node: string;
  readonly unschedulable: boolean;
  /** cpu, memory, ephemeral-storage, then extended resources (nvidia.com/gpu, MIG profiles) by name. */
  readonly resources: readonly ResourceUse[];
  readonly pods: { readonly count: number; readonly allocatable: number };
  readonly flags: readonly CapacityFlag[];
}

/**
 * When a node is flagged. Limits may exceed 100% by design (that is what
 * limits are for); the defaults mark where a node stops being able to take a
 * lost neighbour's pods: CPU limits above 200%, memory limits above 150%
 * (memory cannot be throttled, only OOM-killed), CPU/memory/disk requests
 * above 90%. Extended resources (GPUs, MIG slices) are fully allocated by
 * design, so they are flagged only above 100%: bound pods hold more than the
 * node now offers, which means allocatable shrank under them (a GPU that fell
 * off the bus, a MIG layout that changed).
 */
export interface CapacityThresholds {
  readonly cpuLimitsPct: number;
  readonly memoryLimitsPct: number;
  readonly requestsPct: number;
}

export const DEFAULT_THRESHOLDS: CapacityThresholds = {
  cpuLimitsPct: 200,
  memoryLimitsPct: 150,
  requestsPct: 90,
};

const BASE_RESOURCES = ['cpu', 'memory', 'ephemeral-storage'] as const;

function shown(resource: string): boolean {
  return (BASE_RESOURCES as readonly string[]).includes(resource) || isExtendedResource(resource);
}

function order(a: string, b: string): number {
  const ia = (BASE_RESOURCES as readonly string[]).indexOf(a);
  const ib = (BASE_RESOURCES as readonly string[]).indexOf(b);
  if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  return a.localeCompare(b);
}

const pctText = (pct: number | null): string => (pct === null ? 'n/a' : `${percent1(pct)}%`);

function flagsFor(uses: readonly ResourceUse[], t: CapacityThresholds): CapacityFlag[] {
  const flags: CapacityFlag[] = [];
  const over = (use: ResourceUse, measure: Measure, thresholdPct: number, why: string): void => {
    const pct = measure === 'requests' ? use.requestsPct : use.limitsPct;
    const amount = measure === 'requests' ? use.requests : use.limits;
    const crossed = pct === null ? amount > 0 : pct > thresholdPct;
    if (!crossed) return;
    flags.push({
      resource: use.resource,
      measure,
      pct,
      thresholdPct,
      message:
        pct === null
          ? `${use.resource} ${measure} ${amount} on a node that offers none (${why})`
          : `${use.resource} ${measure} ${pctText(pct)} of allocatable > ${thresholdPct}% (${why})`,
    });
  };
  for (const use of uses) {
    if (use.resource === 'cpu') {
      over(use, 'requests', t.requestsPct, 'requests threshold');
      over(use, 'limits', t.cpuLimitsPct, 'CPU limits threshold');
    } else if (use.resource === 'memory') {
      over(use, 'requests', t.requestsPct, 'requests threshold');
      over(use, 'limits', t.memoryLimitsPct, 'memory limits threshold');
    } else if (use.resource === 'ephemeral-storage') {
      over(use, 'requests', t.requestsPct, 'requests threshold');
    } else {
      over(use, 'requests', 100, 'allocatable shrank below what bound pods hold');
    }
  }
  return flags;
}

/**
 * One node's requests and limits as % of allocatable, from `pods` — the
 * pods bound to it that hold resources (see the counting rules above; pass
 * `podsByNode(all).get(node.name)`).
 */
export function nodeCapacity(
  node: NodeSnapshot,
  pods: readonly PodSnapshot[],
  thresholds: CapacityThresholds = DEFAULT_THRESHOLDS,
): NodeCapacity {
  const allocatable = nodeAllocatable(node);
  const requests: Record<string, number> = {};
  const limits: Record<string, number> = {};
  for (const pod of pods) {
    for (const [name, v] of Object.entries(podRequests(pod)))
      requests[name] = (requests[name] ?? 0) + v;
    for (const [name, v] of Object.entries(podLimits(pod))) limits[name] = (limits[name] ?? 0) + v;
  }
  const names = new Set<string>(BASE_RESOURCES);
  for (const name of [...Object.keys(allocatable), ...Object.keys(requests)]) {
    if (!shown(name)) continue;
    // Nodes publish hugepages and other resources at 0; list only what exists or is asked for.
    if ((allocatable[name] ?? 0) > 0 || (requests[name] ?? 0) > 0) names.add(name);
  }
  const resources = [...names].sort(order).map((resource): ResourceUse => {
    const a = allocatable[resource] ?? 0;
    const r = requests[resource] ?? 0;
    const l = limits[resource] ?? 0;
    return {
      resource,
      allocatable: a,
      requests: r,
      limits: l,
      requestsPct: a > 0 ? (100 * r) / a : null,
      limitsPct: a > 0 ? (100 * l) / a : null,
    };
  });
  return {
    node: node.name,
    unschedulable: node.unschedulable,
    resources,
    pods: { count: pods.length, allocatable: allocatable['pods'] ?? DEFAULT_MAX_PODS },
    flags: flagsFor(resources, thresholds),
  };
}

export interface CapacityAudit {
  readonly thresholds: CapacityThresholds;
  /** Every node, by name. */
  readonly nodes: readonly NodeCapacity[];
  /** Names of the nodes with at least one flag. */
  readonly flagged: readonly string[];
}

/** Checks thresholds: each a finite, positive percentage. */
export function validateThresholds(t: CapacityThresholds): CapacityThresholds {
  for (const [name, value] of Object.entries(t)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw badInput(
        `threshold ${name} ${String(value)} is not a positive percentage`,
        'pass a number above 0, e.g. 200 for CPU limits',
      );
    }
  }
  return t;
}

/** The capacity audit of every node: the seed's Resource Information table, for all of them. */
export function auditCapacity(
  nodes: readonly NodeSnapshot[],
  pods: readonly PodSnapshot[],
  thresholds: CapacityThresholds = DEFAULT_THRESHOLDS,
): CapacityAudit {
  validateThresholds(thresholds);
  const byNode = podsByNode(pods);
  const result = [...nodes]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((n) => nodeCapacity(n, byNode.get(n.name) ?? [], thresholds));
  return {
    thresholds,
    nodes: result,
    flagged: result.filter((n) => n.flags.length > 0).map((n) => n.node),
  };
}

/** The use of one resource on a node, zeros when the node has none of it. */
export function useOf(capacity: NodeCapacity, resource: string): ResourceUse {
  return (
    capacity.resources.find((r) => r.resource === resource) ?? {
      resource,
      allocatable: 0,
      requests: 0,
      limits: 0,
      requestsPct: null,
      limitsPct: null,
    }
  );
}

/** One decimal, as the seed's table prints percentages. */
export function percent1(value: number): number {
  return Math.round(value * 10) / 10;
}
