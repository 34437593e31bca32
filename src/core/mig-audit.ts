/**
 * The MIG workload audit: GPU and MIG pods whose resources let a lost node
 * overcommit its neighbours. The seed's post-mortem asked to "tighten
 * resource limits of MIG pods" and to give MIG workloads "resource limits
 * and QoS policy"; this finds the pods that need it, groups them by
 * namespace and owning workload, and gives each group the patch that fixes
 * it.
 */
import type { ContainerResources, PodSnapshot, ResourceList } from './cluster.ts';
import { badInput, NodeWardenError } from './errors.ts';
import { isGpuResource } from './capacity.ts';
import { parseQuantity } from './quantity.ts';

export type MigFindingCode =
  | 'missing-cpu-limit'
  | 'missing-memory-limit'
  | 'not-guaranteed'
  | 'no-priority-class'
  | 'limit-dwarfs-request';

export interface MigFinding {
  readonly code: MigFindingCode;
  /** The container it is about; null for pod-level findings. */
  readonly container: string | null;
  readonly message: string;
}

export interface MigAuditOptions {
  /** A limit more than this many times its request "dwarfs" it. */
  readonly maxLimitRatio: number;
  /** The PriorityClass the fix sets when a pod has none. */
  readonly priorityClassName: string;
  /** What the fix uses for a container that sets neither a request nor a limit. */
  readonly defaultCpu: string;
  readonly defaultMemory: string;
}

export const DEFAULT_MIG_AUDIT_OPTIONS: MigAuditOptions = {
  maxLimitRatio: 3,
  priorityClassName: 'gpu-workload',
  defaultCpu: '1',
  defaultMemory: '4Gi',
};

export interface WorkloadOwner {
  /** Deployment (resolved from its ReplicaSet), StatefulSet, Job, …, or Pod for a bare pod. */
  readonly kind: string;
  readonly name: string;
}

export interface ContainerFix {
  readonly name: string;
  readonly init: boolean;
  readonly requests: Readonly<Record<string, string>>;
  readonly limits: Readonly<Record<string, string>>;
}

export interface MigFix {
  /** One sentence: what the fix does. */
  readonly summary: string;
  /** The kubectl command that applies `patch`; null when the object must be recreated instead. */
  readonly command: string | null;
  /** A strategic-merge patch for the owner (containers merge by name). */
  readonly patch: Readonly<Record<string, unknown>>;
  readonly containers: readonly ContainerFix[];
  readonly notes: readonly string[];
}

export interface MigWorkload {
  readonly namespace: string;
  readonly owner: WorkloadOwner;
  /** Names of its GPU/MIG pods. */
  readonly pods: readonly string[];
  /** GPU resources one pod requests, e.g. { "nvidia.com/mig-1g.10gb": "1" }. */
  readonly gpu: Readonly<Record<string, string>>;
  readonly qosClass: string;
  readonly priorityClassName: string | null;
  readonly findings: readonly MigFinding[];
  readonly fix: MigFix;
}

export interface MigAudit {
  readonly options: MigAuditOptions;
  /** GPU/MIG pods examined (not terminated, not being deleted). */
  readonly gpuPods: number;
  readonly compliantPods: number;
  /** Workloads with findings, grouped by namespace, both by name. */
  readonly namespaces: readonly {
    readonly namespace: string;
    readonly workloads: readonly MigWorkload[];
  }[];
}

const allContainers = (pod: PodSnapshot): { c: ContainerResources; init: boolean }[] => [
  ...pod.initContainers.map((c) => ({ c, init: true })),
  ...pod.containers.map((c) => ({ c, init: false })),
];

/** Whether any container of `pod` asks for nvidia.com/gpu or a MIG profile. */
export function requestsGpu(pod: PodSnapshot): boolean {
  return allContainers(pod).some(({ c }) =>
    [...Object.keys(c.requests), ...Object.keys(c.limits)].some(isGpuResource),
  );
}

function quantity(pod: PodSnapshot, c: ContainerResources, what: string, text: string): number {
  try {
    return parseQuantity(text);
  } catch (error) {
    throw new NodeWardenError(
      'BAD_INPUT',
      `pod ${pod.namespace}/${pod.name} container ${c.name}: ${what} "${text}" is not a Kubernetes quantity`,
      {
        hint: 'fix the quantity in the workload, e.g. 500m or 2 for CPU, 4Gi for memory',
        cause: error,
      },
    );
  }
}

/** A container's request for a resource, defaulted to its limit as the API server does. */
function requestText(c: ContainerResources, resource: string): string | undefined {
  return c.requests[resource] ?? c.limits[resource];
}

/**
 * Kubernetes' QoS class (`GetPodQOS`), for snapshots that lack
 * status.qosClass: Guaranteed when every container (init included) has CPU
 * and memory limits equal to its requests; BestEffort when none sets any
 * CPU or memory request or limit; Burstable otherwise.
 */
export function qosClassOf(pod: PodSnapshot): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const containers = allContainers(pod).map(({ c }) => c);
  const compute = ['cpu', 'memory'];
  const any = containers.some((c) =>
    compute.some((r) => c.requests[r] !== undefined || c.limits[r] !== undefined),
  );
  if (!any) return 'BestEffort';
  const guaranteed = containers.every((c) =>
    compute.every((r) => {
      const limit = c.limits[r];
      const request = requestText(c, r);
      return (
        limit !== undefined &&
        request !== undefined &&
        quantity(pod, c, `limits.${r}`, limit) === quantity(pod, c, `requests.${r}`, request)
      );
    }),
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** The workload that owns `pod`: a ReplicaSet named `<deployment>-<pod-template-hash>` resolves to its Deployment. */
export function workloadOwner(pod: PodSnapshot): WorkloadOwner {
  if (pod.ownerKind === null || pod.ownerName === null) return { kind: 'Pod', name: pod.name };
  const hash = pod.labels['pod-template-hash'];
  if (pod.ownerKind === 'ReplicaSet' && hash && pod.ownerName.endsWith(`-${hash}`)) {
    return { kind: 'Deployment', name: pod.ownerName.slice(0, -hash.length - 1) };
  }
  return { kind: pod.ownerKind, name: pod.ownerName };
}

const ratioText = (r: number): string =>
  Number.isFinite(r) ? `${Math.round(r * 10) / 10}×` : '∞×';

/** The findings for one GPU/MIG pod. */
export function podFindings(
  pod: PodSnapshot,
  options: MigAuditOptions = DEFAULT_MIG_AUDIT_OPTIONS,
): MigFinding[] {
  const findings: MigFinding[] = [];
  for (const { c, init } of allContainers(pod)) {
    const label = `${init ? 'init container' : 'container'} ${c.name}`;
    for (const [resource, code] of [
      ['cpu', 'missing-cpu-limit'],
      ['memory', 'missing-memory-limit'],
    ] as const) {
      const limit = c.limits[resource];
      if (limit === undefined) {
        findings.push({
          code,
          container: c.name,
          message: `${label} has no ${resource} limit: it may use all of the node's ${resource}, and all of a survivor's when the node dies`,
        });
        continue;
      }
      const request = requestText(c, resource) ?? limit;
      const l = quantity(pod, c, `limits.${resource}`, limit);
      const r = quantity(pod, c, `requests.${resource}`, request);
      const ratio = r > 0 ? l / r : l > 0 ? Number.POSITIVE_INFINITY : 1;
      if (ratio > options.maxLimitRatio) {
        findings.push({
          code: 'limit-dwarfs-request',
          container: c.name,
          message: `${label}: ${resource} limit ${limit} is ${ratioText(ratio)} its request ${request} (more than ${options.maxLimitRatio}×): the scheduler reserves the request, the pod may take the limit`,
        });
      }
    }
  }
  const qos = pod.qosClass ?? qosClassOf(pod);
  if (qos !== 'Guaranteed') {
    findings.push({
      code: 'not-guaranteed',
      container: null,
      message: `QoS ${qos}, not Guaranteed: requests must equal limits for cpu and memory in every container`,
    });
  }
  if (!pod.priorityClassName) {
    findings.push({
      code: 'no-priority-class',
      container: null,
      message:
        'no PriorityClass: after a node loss this pod competes with everything else for the survivors, and cannot preempt',
    });
  }
  return findings;
}

const podSpecPath: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

/** Requests = limits for cpu and memory: the limit if set, else the request, else the default. */
function guaranteedContainer(
  c: ContainerResources,
  init: boolean,
  options: MigAuditOptions,
  notes: string[],
): ContainerFix {
  const requests: Record<string, string> = { ...c.requests };
  const limits: Record<string, string> = { ...c.limits };
  for (const [resource, fallback, flag] of [
    ['cpu', options.defaultCpu, '--default-cpu'],
    ['memory', options.defaultMemory, '--default-memory'],
  ] as const) {
    const value = c.limits[resource] ?? c.requests[resource];
    if (value === undefined) {
      notes.push(
        `container ${c.name} sets no ${resource} at all: ${fallback} is the audit's default (${flag}); size it to the container's peak use`,
      );
    } else if (c.requests[resource] !== undefined && c.requests[resource] !== value) {
      notes.push(
        `container ${c.name}: ${resource} request rises from ${c.requests[resource]} to its limit ${value}, so the scheduler reserves what the pod may use; if that no longer fits, lower the limit to the pod's real peak instead`,
      );
    }
    requests[resource] = value ?? fallback;
    limits[resource] = value ?? fallback;
  }
  // Extended resources (GPUs, MIG slices) must already have requests equal to limits.
  for (const [resource, value] of Object.entries(c.limits)) {
    if (isGpuResource(resource)) requests[resource] = value;
  }
  return { name: c.name, init, requests: sortKeys(requests), limits: sortKeys(limits) };
}

function sortKeys(r: Record<string, string>): Record<string, string> {
  const order = (k: string) => (k === 'cpu' ? 0 : k === 'memory' ? 1 : 2);
  return Object.fromEntries(
    Object.entries(r).sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b)),
  );
}

function nest(path: readonly string[], leaf: Record<string, unknown>): Record<string, unknown> {
  return path.reduceRight<Record<string, unknown>>((inner, key) => ({ [key]: inner }), leaf);
}

/** The fix for a workload whose newest pod is `pod` and which has `findings`. */
export function migFix(
  pod: PodSnapshot,
  owner: WorkloadOwner,
  findings: readonly MigFinding[],
  options: MigAuditOptions = DEFAULT_MIG_AUDIT_OPTIONS,
): MigFix {
  const notes: string[] = [];
  const resourceFix = findings.some((f) => f.code !== 'no-priority-class');
  const containers = resourceFix
    ? allContainers(pod).map(({ c, init }) => guaranteedContainer(c, init, options, notes))
    : [];
  const spec: Record<string, unknown> = {};
  const entry = (c: ContainerFix) => ({
    name: c.name,
    resources: { requests: c.requests, limits: c.limits },
  });
  const init = containers.filter((c) => c.init);
  const main = containers.filter((c) => !c.init);
  if (init.length > 0) spec['initContainers'] = init.map(entry);
  if (main.length > 0) spec['containers'] = main.map(entry);
  const needsPriority = findings.some((f) => f.code === 'no-priority-class');
  if (needsPriority) {
    spec['priorityClassName'] = options.priorityClassName;
    notes.push(
      `PriorityClass ${options.priorityClassName} must exist before pods can use it (kind: PriorityClass, value: e.g. 100000)`,
    );
  }
  const path = podSpecPath[owner.kind];
  const ns = pod.namespace;
  let command: string | null = null;
  if (owner.kind === 'Pod') {
    notes.push(
      "a bare pod's resources cannot be patched: change its manifest and recreate it (better: run it under a Deployment or Job)",
    );
  } else if (owner.kind === 'Job') {
    notes.push(
      "a Job's pod template cannot change: change the manifest that creates the Job and recreate it",
    );
    // CronJobs name their Jobs <cronjob>-<scheduled time in minutes>.
    const cron = /^(.+)-\d{8,}$/.exec(owner.name)?.[1];
    if (cron !== undefined) {
      notes.push(
        `if CronJob ${cron} created it, patch the CronJob instead: the same change under spec.jobTemplate.spec.template.spec`,
      );
    }
  } else if (path === undefined) {
    notes.push(
      `${owner.kind} ${owner.name} is managed by its own controller: set these in its pod template`,
    );
  } else {
    command = `kubectl -n ${ns} patch ${owner.kind.toLowerCase()} ${owner.name} --patch-file nodewarden-fix.yaml`;
    if (owner.kind === 'ReplicaSet' || owner.kind === 'ReplicationController') {
      notes.push('only new pods get the fix: delete the old pods once the patch is applied');
    }
  }
  const what = [
    resourceFix
      ? `make QoS Guaranteed: requests = limits for cpu and memory in ${containers.length === 1 ? 'its container' : `all ${containers.length} containers`}`
      : null,
    needsPriority ? `set priorityClassName ${options.priorityClassName}` : null,
  ].filter((s): s is string => s !== null);
  return {
    summary: what.join('; '),
    command,
    patch: nest(path ?? ['spec'], spec),
    containers,
    notes,
  };
}

function gpuOf(pod: PodSnapshot): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { c } of allContainers(pod)) {
    for (const list of [c.limits, c.requests] as ResourceList[]) {
      for (const [k, v] of Object.entries(list)) if (isGpuResource(k) && !(k in out)) out[k] = v;
    }
  }
  return out;
}

/**
 * Audits every GPU/MIG pod (any container asking for nvidia.com/gpu or
 * nvidia.com/mig-*, not terminated, not being deleted). Findings per pod:
 * a container without a CPU or memory limit; QoS not Guaranteed; no
 * PriorityClass; a CPU or memory limit more than `maxLimitRatio` times its
 * request. Pods are grouped by namespace and owning workload; a group's
 * findings are the union over its pods, and its fix is built from its newest
 * pod (the current template during a rollout).
 */
export function auditMigWorkloads(
  pods: readonly PodSnapshot[],
  options: MigAuditOptions = DEFAULT_MIG_AUDIT_OPTIONS,
): MigAudit {
  if (!Number.isFinite(options.maxLimitRatio) || options.maxLimitRatio < 1) {
    throw badInput(
      `limit ratio ${options.maxLimitRatio} is below 1`,
      'pass a ratio of at least 1, e.g. 3 (a limit may be up to 3× its request)',
    );
  }
  const gpuPods = pods.filter(
    (p) =>
      p.phase !== 'Succeeded' &&
      p.phase !== 'Failed' &&
      p.deletionTimestamp === null &&
      requestsGpu(p),
  );
  const groups = new Map<string, { owner: WorkloadOwner; pods: PodSnapshot[] }>();
  const findingsOf = new Map<PodSnapshot, MigFinding[]>();
  let compliant = 0;
  for (const pod of gpuPods) {
    const findings = podFindings(pod, options);
    findingsOf.set(pod, findings);
    if (findings.length === 0) {
      compliant += 1;
      continue;
    }
    const owner = workloadOwner(pod);
    const key = `${pod.namespace}\u0000${owner.kind}\u0000${owner.name}`;
    const group = groups.get(key) ?? { owner, pods: [] };
    group.pods.push(pod);
    groups.set(key, group);
  }
  const byNamespace = new Map<string, MigWorkload[]>();
  for (const { owner, pods: members } of groups.values()) {
    members.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.name.localeCompare(b.name));
    const newest = members[0];
    if (newest === undefined) continue;
    const seen = new Set<string>();
    const findings: MigFinding[] = [];
    for (const pod of members) {
      for (const f of findingsOf.get(pod) ?? []) {
        const key = `${f.code}\u0000${f.container ?? ''}`;
        if (seen.has(key)) continue;
        seen.add(key);
        findings.push(f);
      }
    }
    const workload: MigWorkload = {
      namespace: newest.namespace,
      owner,
      pods: members.map((p) => p.name).sort(),
      gpu: gpuOf(newest),
      qosClass: newest.qosClass ?? qosClassOf(newest),
      priorityClassName: newest.priorityClassName,
      findings,
      fix: migFix(newest, owner, findings, options),
    };
    const list = byNamespace.get(newest.namespace) ?? [];
    list.push(workload);
    byNamespace.set(newest.namespace, list);
  }
  return {
    options,
    gpuPods: gpuPods.length,
    compliantPods: compliant,
    namespaces: [...byNamespace.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([namespace, workloads]) => ({
        namespace,
        workloads: workloads.sort(
          (a, b) =>
            a.owner.kind.localeCompare(b.owner.kind) || a.owner.name.localeCompare(b.owner.name),
        ),
      })),
  };
}
