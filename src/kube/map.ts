import type {
  ConditionStatus,
  ContainerResources,
  EventSnapshot,
  LeaseSnapshot,
  NodeAffinity,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  NodeSnapshot,
  PodRestarts,
  PodSnapshot,
  ResourceList,
  Taint,
  Toleration,
} from '../core/cluster.ts';

/**
 * Kubernetes objects → the core's snapshots. The input is loose on purpose:
 * typed list calls deserialize timestamps into Date objects, watch events
 * carry them as strings, and both must map the same way. Only what the
 * controller uses is kept, so 150,000 pods stay small in memory.
 */
type Loose = Record<string, unknown>;

const obj = (v: unknown): Loose => (v !== null && typeof v === 'object' ? (v as Loose) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);

/** ISO-8601 from a Date or a string; null for anything else. */
export function iso(v: unknown): string | null {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (typeof v === 'string' && v) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : new Date(t).toISOString();
  }
  return null;
}

/**
 * Equal pieces of many snapshots, shared: the pods of one workload have the
 * same containers, requests, tolerations and labels, and a cluster has a
 * handful of namespaces, phases and node names repeated across 150,000 pods.
 * Snapshots are read-only, so one copy serves them all (measured: see
 * docs/scale.md). Bounded: past MAX_SHARED distinct values it starts over.
 */
const MAX_SHARED = 50_000;
const sharedValues = new Map<string, unknown>();
const sharedTexts = new Map<string, string>();

function shared<T>(value: T): T {
  const key = JSON.stringify(value);
  const known = sharedValues.get(key);
  if (known !== undefined) return known as T;
  if (sharedValues.size >= MAX_SHARED) sharedValues.clear();
  sharedValues.set(key, value);
  return value;
}

function text(value: string | null): string | null {
  if (value === null) return null;
  const known = sharedTexts.get(value);
  if (known !== undefined) return known;
  if (sharedTexts.size >= MAX_SHARED) sharedTexts.clear();
  sharedTexts.set(value, value);
  return value;
}

function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v))) if (typeof val === 'string') out[k] = val;
  return out;
}

function resources(v: unknown): ResourceList {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v))) {
    if (typeof val === 'string') out[k] = val;
    else if (typeof val === 'number') out[k] = String(val);
  }
  return out;
}

function conditionStatus(v: unknown): ConditionStatus {
  return v === 'True' || v === 'False' ? v : 'Unknown';
}

export function toNode(raw: unknown): NodeSnapshot {
  const o = obj(raw);
  const meta = obj(o['metadata']);
  const spec = obj(o['spec']);
  const status = obj(o['status']);
  const addresses = arr(status['addresses']).map(obj);
  return {
    name: str(meta['name']) ?? '',
    uid: str(meta['uid']) ?? '',
    labels: strings(meta['labels']),
    annotations: strings(meta['annotations']),
    internalIP: str(addresses.find((a) => a['type'] === 'InternalIP')?.['address']),
    providerID: str(spec['providerID']),
    unschedulable: spec['unschedulable'] === true,
    taints: arr(spec['taints']).map((t): Taint => {
      const tt = obj(t);
      const effect =
        tt['effect'] === 'NoExecute' || tt['effect'] === 'PreferNoSchedule'
          ? tt['effect']
          : 'NoSchedule';
      const value = str(tt['value']);
      const timeAdded = iso(tt['timeAdded']);
      return {
        key: str(tt['key']) ?? '',
        effect,
        ...(value ? { value } : {}),
        ...(timeAdded ? { timeAdded } : {}),
      };
    }),
    conditions: arr(status['conditions']).map((c) => {
      const cc = obj(c);
      const reason = str(cc['reason']);
      const message = str(cc['message']);
      const hb = iso(cc['lastHeartbeatTime']);
      const tr = iso(cc['lastTransitionTime']);
      return {
        type: str(cc['type']) ?? '',
        status: conditionStatus(cc['status']),
        ...(reason ? { reason } : {}),
        ...(message ? { message } : {}),
        ...(hb ? { lastHeartbeatTime: hb } : {}),
        ...(tr ? { lastTransitionTime: tr } : {}),
      };
    }),
    capacity: resources(status['capacity']),
    allocatable: resources(status['allocatable']),
    createdAt: iso(meta['creationTimestamp']) ?? new Date(0).toISOString(),
  };
}

export function toLease(raw: unknown): LeaseSnapshot {
  const o = obj(raw);
  const spec = obj(o['spec']);
  return {
    node: str(obj(o['metadata'])['name']) ?? '',
    holderIdentity: str(spec['holderIdentity']),
    renewTime: iso(spec['renewTime']),
    leaseDurationSeconds: num(spec['leaseDurationSeconds'], 40),
  };
}

function containers(v: unknown): ContainerResources[] {
  return arr(v).map((c) => {
    const cc = obj(c);
    const res = obj(cc['resources']);
    return {
      name: str(cc['name']) ?? '',
      requests: resources(res['requests']),
      limits: resources(res['limits']),
    };
  });
}

const operators: readonly string[] = ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'];

function requirements(v: unknown): NodeSelectorRequirement[] {
  return arr(v).flatMap((r) => {
    const rr = obj(r);
    const operator = str(rr['operator']);
    if (operator === null || !operators.includes(operator)) return [];
    return [
      {
        key: str(rr['key']) ?? '',
        operator: operator as NodeSelectorRequirement['operator'],
        values: arr(rr['values']).filter((x): x is string => typeof x === 'string'),
      },
    ];
  });
}

function term(v: unknown): NodeSelectorTerm {
  const t = obj(v);
  return {
    matchExpressions: requirements(t['matchExpressions']),
    matchFields: requirements(t['matchFields']),
  };
}

function nodeAffinity(spec: Loose): NodeAffinity | null {
  const na = obj(obj(spec['affinity'])['nodeAffinity']);
  const required = obj(na['requiredDuringSchedulingIgnoredDuringExecution']);
  const preferred = arr(na['preferredDuringSchedulingIgnoredDuringExecution']).map((p) => {
    const pp = obj(p);
    return { weight: num(pp['weight'], 0), preference: term(pp['preference']) };
  });
  const hasRequired = Array.isArray(required['nodeSelectorTerms']);
  if (!hasRequired && preferred.length === 0) return null;
  return {
    required: hasRequired ? arr(required['nodeSelectorTerms']).map(term) : null,
    preferred,
  };
}

export function toPod(raw: unknown): PodSnapshot {
  const o = obj(raw);
  const meta = obj(o['metadata']);
  const spec = obj(o['spec']);
  const status = obj(o['status']);
  const owner =
    arr(meta['ownerReferences'])
      .map(obj)
      .find((r) => r['controller'] === true) ?? obj(arr(meta['ownerReferences'])[0]);
  return {
    namespace: text(str(meta['namespace'])) ?? '',
    name: str(meta['name']) ?? '',
    uid: str(meta['uid']) ?? '',
    nodeName: text(str(spec['nodeName'])),
    phase: text(str(status['phase'])) ?? 'Pending',
    labels: shared(strings(meta['labels'])),
    ownerKind: text(str(owner['kind'])),
    ownerName: text(str(owner['name'])),
    deletionTimestamp: iso(meta['deletionTimestamp']),
    deletionGracePeriodSeconds:
      typeof meta['deletionGracePeriodSeconds'] === 'number'
        ? meta['deletionGracePeriodSeconds']
        : null,
    createdAt: iso(meta['creationTimestamp']) ?? new Date(0).toISOString(),
    containers: shared(containers(spec['containers'])),
    initContainers: shared(containers(spec['initContainers'])),
    priorityClassName: text(str(spec['priorityClassName'])),
    qosClass: text(str(status['qosClass'])),
    nodeSelector: shared(strings(spec['nodeSelector'])),
    nodeAffinity: shared(nodeAffinity(spec)),
    priority: typeof spec['priority'] === 'number' ? spec['priority'] : null,
    restarts: shared(restartsOf(status)),
    tolerations: shared(
      arr(spec['tolerations']).map((t): Toleration => {
        const tt = obj(t);
        const out: { -readonly [K in keyof Toleration]: Toleration[K] } = {};
        const key = str(tt['key']);
        const value = str(tt['value']);
        const effect = str(tt['effect']);
        if (key) out.key = key;
        if (tt['operator'] === 'Exists' || tt['operator'] === 'Equal')
          out.operator = tt['operator'];
        if (value) out.value = value;
        if (effect) out.effect = effect;
        if (typeof tt['tolerationSeconds'] === 'number')
          out.tolerationSeconds = tt['tolerationSeconds'];
        return out;
      }),
    ),
  };
}

/** Restarts over every container, with the latest termination (`lastState.terminated`). */
function restartsOf(status: Loose): PodRestarts {
  let count = 0;
  let lastRestartAt: string | null = null;
  let lastTerminationReason: string | null = null;
  for (const cs of arr(status['containerStatuses']).map(obj)) {
    if (typeof cs['restartCount'] === 'number') count += cs['restartCount'];
    const terminated = obj(obj(cs['lastState'])['terminated']);
    const finished = iso(terminated['finishedAt']);
    if (finished !== null && (lastRestartAt === null || finished > lastRestartAt)) {
      lastRestartAt = finished;
      lastTerminationReason = str(terminated['reason']);
    }
  }
  return { count, lastRestartAt, lastTerminationReason };
}

export function toEvent(raw: unknown): EventSnapshot {
  const o = obj(raw);
  const meta = obj(o['metadata']);
  const involved = obj(o['involvedObject']);
  return {
    namespace: str(meta['namespace']) ?? '',
    name: str(meta['name']) ?? '',
    reason: str(o['reason']) ?? '',
    message: str(o['message']) ?? '',
    type: str(o['type']) ?? 'Normal',
    involvedKind: str(involved['kind']) ?? '',
    involvedName: str(involved['name']) ?? '',
    involvedNamespace: str(involved['namespace']),
    firstAt: iso(o['firstTimestamp']) ?? iso(o['eventTime']),
    lastAt: iso(o['lastTimestamp']) ?? iso(o['eventTime']),
    count: num(o['count'], 1),
  };
}
