/**
 * Evidence arrives as JSON (from the store, the API, fixture files). This
 * checks it field by field against the model in evidence.ts, so that a
 * malformed item fails here, naming the field, rather than somewhere deep in
 * the classifier or the report.
 */
import type { ConditionStatus, NodeCondition, Taint } from './cluster.ts';
import { badInput } from './errors.ts';
import {
  EVIDENCE_SOURCES,
  EVIDENCE_STATUSES,
  type CloudData,
  type CniData,
  type Evidence,
  type EvidenceSource,
  type EvidenceStatus,
  type GpuData,
  type ImpactData,
  type KernelData,
  type KubernetesData,
  type NetworkData,
  type NodeUsage,
  type PowerState,
  type ReferenceProbe,
  type SignatureCategory,
  type VantageProbe,
} from './evidence.ts';
import {
  LAYER_STATUSES,
  LAYERS,
  NEIGHBOUR_STATES,
  type Layer,
  type LayerResult,
  type ProbeResult,
} from './probe.ts';

const HINT = 'evidence must follow the model in src/core/evidence.ts (see docs/report.md)';

type Json = Record<string, unknown>;

function fail(path: string, what: string): never {
  throw badInput(`${path}: ${what}`, HINT);
}

function obj(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(path, 'expected an object');
  }
  return value as Json;
}

function str(value: unknown, path: string): string {
  if (typeof value !== 'string') fail(path, 'expected a string');
  return value;
}

function num(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, 'expected a finite number');
  return value;
}

function bool(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') fail(path, 'expected true or false');
  return value;
}

function instant(value: unknown, path: string): string {
  const text = str(value, path);
  if (!Number.isFinite(Date.parse(text))) fail(path, `"${text}" is not an ISO-8601 time`);
  return text;
}

function arr<T>(value: unknown, path: string, item: (v: unknown, p: string) => T): T[] {
  if (!Array.isArray(value)) fail(path, 'expected an array');
  return value.map((v, i) => item(v, `${path}[${i}]`));
}

function nullable<T>(value: unknown, path: string, item: (v: unknown, p: string) => T): T | null {
  return value === null ? null : item(value, path);
}

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  const text = str(value, path);
  if (!(allowed as readonly string[]).includes(text)) {
    fail(path, `"${text}" is not one of ${allowed.join(', ')}`);
  }
  return text as T;
}

function record(value: unknown, path: string): Record<string, string> {
  const o = obj(value, path);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) out[k] = str(v, `${path}.${k}`);
  return out;
}

/** Copies an optional string field only when present (exactOptionalPropertyTypes). */
function optionalStr<K extends string>(o: Json, key: K, path: string): { [P in K]?: string } {
  const v = o[key];
  return v === undefined ? {} : ({ [key]: str(v, `${path}.${key}`) } as { [P in K]?: string });
}

// ── probes ──────────────────────────────────────────────────────────────────

function layerResult(value: unknown, path: string): LayerResult {
  const o = obj(value, path);
  const base = {
    layer: oneOf<Layer>(o.layer, `${path}.layer`, LAYERS),
    status: oneOf(o.status, `${path}.status`, LAYER_STATUSES),
    latencyMs: nullable(o.latencyMs, `${path}.latencyMs`, num),
    command: str(o.command, `${path}.command`),
    detail: str(o.detail, `${path}.detail`),
  };
  return o.neighbourState === undefined
    ? base
    : {
        ...base,
        neighbourState: oneOf(o.neighbourState, `${path}.neighbourState`, NEIGHBOUR_STATES),
      };
}

function probeResult(value: unknown, path: string): ProbeResult {
  const o = obj(value, path);
  const v = obj(o.verdict, `${path}.verdict`);
  return {
    target: str(o.target, `${path}.target`),
    port: num(o.port, `${path}.port`),
    startedAt: instant(o.startedAt, `${path}.startedAt`),
    durationMs: num(o.durationMs, `${path}.durationMs`),
    layers: arr(o.layers, `${path}.layers`, layerResult),
    verdict: {
      healthy: bool(v.healthy, `${path}.verdict.healthy`),
      failedLayer: nullable(v.failedLayer, `${path}.verdict.failedLayer`, (x, p) =>
        oneOf<Layer>(x, p, LAYERS),
      ),
      summary: str(v.summary, `${path}.verdict.summary`),
    },
  };
}

function vantage(value: unknown, path: string): VantageProbe {
  const o = obj(value, path);
  return {
    observer: str(o.observer, `${path}.observer`),
    observerIP: nullable(o.observerIP, `${path}.observerIP`, str),
    result: nullable(o.result, `${path}.result`, probeResult),
    error: nullable(o.error, `${path}.error`, str),
  };
}

function reference(value: unknown, path: string): ReferenceProbe {
  const o = obj(value, path);
  return {
    kind: oneOf(o.kind, `${path}.kind`, ['gateway', 'ovn-gateway'] as const),
    target: str(o.target, `${path}.target`),
    observer: str(o.observer, `${path}.observer`),
    result: nullable(o.result, `${path}.result`, probeResult),
    error: nullable(o.error, `${path}.error`, str),
  };
}

// ── per source ──────────────────────────────────────────────────────────────

const CONDITION_STATUSES: readonly ConditionStatus[] = ['True', 'False', 'Unknown'];
const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

function condition(value: unknown, path: string): NodeCondition {
  const o = obj(value, path);
  return {
    type: str(o.type, `${path}.type`),
    status: oneOf(o.status, `${path}.status`, CONDITION_STATUSES),
    ...optionalStr(o, 'reason', path),
    ...optionalStr(o, 'message', path),
    ...optionalStr(o, 'lastHeartbeatTime', path),
    ...optionalStr(o, 'lastTransitionTime', path),
  };
}

function taint(value: unknown, path: string): Taint {
  const o = obj(value, path);
  return {
    key: str(o.key, `${path}.key`),
    effect: oneOf(o.effect, `${path}.effect`, TAINT_EFFECTS),
    ...optionalStr(o, 'value', path),
    ...optionalStr(o, 'timeAdded', path),
  };
}

function kubernetes(value: unknown, path: string): KubernetesData {
  const o = obj(value, path);
  const api = obj(o.api, `${path}.api`);
  const cluster = obj(o.cluster, `${path}.cluster`);
  return {
    node: str(o.node, `${path}.node`),
    nodeFound: bool(o.nodeFound, `${path}.nodeFound`),
    internalIP: nullable(o.internalIP, `${path}.internalIP`, str),
    providerID: nullable(o.providerID, `${path}.providerID`, str),
    labels: record(o.labels, `${path}.labels`),
    annotations: record(o.annotations, `${path}.annotations`),
    unschedulable: bool(o.unschedulable, `${path}.unschedulable`),
    conditions: arr(o.conditions, `${path}.conditions`, condition),
    taints: arr(o.taints, `${path}.taints`, taint),
    allocatable: record(o.allocatable, `${path}.allocatable`),
    nodeInfo: nullable(o.nodeInfo, `${path}.nodeInfo`, (v, p) => {
      const n = obj(v, p);
      return {
        kubeletVersion: str(n.kubeletVersion, `${p}.kubeletVersion`),
        osImage: str(n.osImage, `${p}.osImage`),
        kernelVersion: str(n.kernelVersion, `${p}.kernelVersion`),
        containerRuntimeVersion: str(n.containerRuntimeVersion, `${p}.containerRuntimeVersion`),
      };
    }),
    leaseRenewTime: nullable(o.leaseRenewTime, `${path}.leaseRenewTime`, instant),
    leaseAgeSeconds: nullable(o.leaseAgeSeconds, `${path}.leaseAgeSeconds`, num),
    events: arr(o.events, `${path}.events`, (v, p) => {
      const e = obj(v, p);
      return {
        reason: str(e.reason, `${p}.reason`),
        message: str(e.message, `${p}.message`),
        type: str(e.type, `${p}.type`),
        at: nullable(e.at, `${p}.at`, instant),
        count: num(e.count, `${p}.count`),
      };
    }),
    podsOnNode: arr(o.podsOnNode, `${path}.podsOnNode`, (v, p) => {
      const pod = obj(v, p);
      return {
        namespace: str(pod.namespace, `${p}.namespace`),
        name: str(pod.name, `${p}.name`),
        phase: str(pod.phase, `${p}.phase`),
        ownerKind: nullable(pod.ownerKind, `${p}.ownerKind`, str),
      };
    }),
    api: {
      connected: bool(api.connected, `${path}.api.connected`),
      lastContactAt: nullable(api.lastContactAt, `${path}.api.lastContactAt`, instant),
    },
    cluster: {
      nodes: num(cluster.nodes, `${path}.cluster.nodes`),
      notReady: num(cluster.notReady, `${path}.cluster.notReady`),
    },
  };
}

function network(value: unknown, path: string): NetworkData {
  const o = obj(value, path);
  return {
    target: str(o.target, `${path}.target`),
    observers: arr(o.observers, `${path}.observers`, vantage),
    controller: nullable(o.controller, `${path}.controller`, vantage),
    references: arr(o.references, `${path}.references`, reference),
    ...(o.referenceSource === undefined
      ? {}
      : {
          referenceSource: nullable(o.referenceSource, `${path}.referenceSource`, (v, p) => {
            const x = obj(v, p);
            return {
              from: oneOf(x.from, `${p}.from`, ['observers', 'controller'] as const),
              asked: arr(x.asked, `${p}.asked`, str),
              fallback: nullable(x.fallback, `${p}.fallback`, str),
            };
          }),
        }),
    overlay: arr(o.overlay, `${path}.overlay`, (v, p) => {
      const x = obj(v, p);
      return {
        observer: str(x.observer, `${p}.observer`),
        target: str(x.target, `${p}.target`),
        kind: oneOf(x.kind, `${p}.kind`, ['pod', 'join'] as const),
        ok: bool(x.ok, `${p}.ok`),
        detail: str(x.detail, `${p}.detail`),
        at: instant(x.at, `${p}.at`),
      };
    }),
  };
}

const POWER_STATES: readonly PowerState[] = [
  'NOSTATE',
  'RUNNING',
  'PAUSED',
  'SHUTDOWN',
  'CRASHED',
  'SUSPENDED',
];

function cloud(value: unknown, path: string): CloudData {
  const o = obj(value, path);
  return {
    provider: str(o.provider, `${path}.provider`),
    instanceId: str(o.instanceId, `${path}.instanceId`),
    found: bool(o.found, `${path}.found`),
    name: nullable(o.name, `${path}.name`, str),
    flavor: nullable(o.flavor, `${path}.flavor`, str),
    status: nullable(o.status, `${path}.status`, str),
    powerState: nullable(o.powerState, `${path}.powerState`, (v, p) => oneOf(v, p, POWER_STATES)),
    taskState: nullable(o.taskState, `${path}.taskState`, str),
    vmState: nullable(o.vmState, `${path}.vmState`, str),
    hostStatus: nullable(o.hostStatus, `${path}.hostStatus`, str),
    actions: arr(o.actions, `${path}.actions`, (v, p) => {
      const a = obj(v, p);
      return {
        action: str(a.action, `${p}.action`),
        requestId: str(a.requestId, `${p}.requestId`),
        userId: nullable(a.userId, `${p}.userId`, str),
        startTime: instant(a.startTime, `${p}.startTime`),
        message: nullable(a.message, `${p}.message`, str),
      };
    }),
    consoleLogTail: nullable(o.consoleLogTail, `${path}.consoleLogTail`, (v, p) => arr(v, p, str)),
    ports: arr(o.ports, `${path}.ports`, (v, p) => {
      const port = obj(v, p);
      return {
        id: str(port.id, `${p}.id`),
        status: str(port.status, `${p}.status`),
        adminStateUp: bool(port.adminStateUp, `${p}.adminStateUp`),
        fixedIPs: arr(port.fixedIPs, `${p}.fixedIPs`, str),
      };
    }),
    diagnostics: arr(o.diagnostics, `${path}.diagnostics`, (v, p) => {
      const d = obj(v, p);
      return {
        at: instant(d.at, `${p}.at`),
        cpuTimeNs: nullable(d.cpuTimeNs, `${p}.cpuTimeNs`, num),
        txPackets: nullable(d.txPackets, `${p}.txPackets`, num),
        rxPackets: nullable(d.rxPackets, `${p}.rxPackets`, num),
      };
    }),
  };
}

function gpu(value: unknown, path: string): GpuData {
  const o = obj(value, path);
  return {
    origin: oneOf(o.origin, `${path}.origin`, ['dcgm', 'agent'] as const),
    series: arr(o.series, `${path}.series`, (v, p) => {
      const s = obj(v, p);
      return {
        gpu: str(s.gpu, `${p}.gpu`),
        uuid: nullable(s.uuid, `${p}.uuid`, str),
        migInstance: nullable(s.migInstance, `${p}.migInstance`, str),
        migProfile: nullable(s.migProfile, `${p}.migProfile`, str),
        points: arr(s.points, `${p}.points`, (pv, pp) => {
          const point = obj(pv, pp);
          const usedPct = num(point.usedPct, `${pp}.usedPct`);
          if (usedPct < 0 || usedPct > 100) fail(`${pp}.usedPct`, `${usedPct} is not in 0..100`);
          return { at: instant(point.at, `${pp}.at`), usedPct };
        }),
      };
    }),
    xids: arr(o.xids, `${path}.xids`, (v, p) => {
      const x = obj(v, p);
      return {
        gpu: str(x.gpu, `${p}.gpu`),
        xid: num(x.xid, `${p}.xid`),
        count: num(x.count, `${p}.count`),
        lastAt: nullable(x.lastAt, `${p}.lastAt`, instant),
      };
    }),
    ...optionalStr(o, 'fallback', path),
  };
}

const SIGNATURE_CATEGORIES: readonly SignatureCategory[] = [
  'gpu',
  'lockup',
  'oom',
  'network',
  'panic',
];

function kernel(value: unknown, path: string): KernelData {
  const o = obj(value, path);
  return {
    origin: oneOf(o.origin, `${path}.origin`, ['agent', 'console'] as const),
    signatures: arr(o.signatures, `${path}.signatures`, (v, p) => {
      const s = obj(v, p);
      return {
        id: str(s.id, `${p}.id`),
        category: oneOf(s.category, `${p}.category`, SIGNATURE_CATEGORIES),
        title: str(s.title, `${p}.title`),
        at: nullable(s.at, `${p}.at`, instant),
        line: str(s.line, `${p}.line`),
        xid: nullable(s.xid, `${p}.xid`, num),
        process: nullable(s.process, `${p}.process`, str),
      };
    }),
  };
}

function cni(value: unknown, path: string): CniData {
  const o = obj(value, path);
  return {
    plugin: str(o.plugin, `${path}.plugin`),
    tunnel: nullable(o.tunnel, `${path}.tunnel`, str),
    components: arr(o.components, `${path}.components`, (v, p) => {
      const c = obj(v, p);
      return {
        namespace: str(c.namespace, `${p}.namespace`),
        pod: str(c.pod, `${p}.pod`),
        component: str(c.component, `${p}.component`),
        node: str(c.node, `${p}.node`),
        restarts: num(c.restarts, `${p}.restarts`),
        restartsInWindow: num(c.restartsInWindow, `${p}.restartsInWindow`),
        lastRestartAt: nullable(c.lastRestartAt, `${p}.lastRestartAt`, instant),
        lastTerminationReason: nullable(c.lastTerminationReason, `${p}.lastTerminationReason`, str),
      };
    }),
  };
}

function usage(value: unknown, path: string): NodeUsage {
  const o = obj(value, path);
  const pct = (v: unknown, p: string) => {
    const u = obj(v, p);
    return {
      requestsPct: num(u.requestsPct, `${p}.requestsPct`),
      limitsPct: num(u.limitsPct, `${p}.limitsPct`),
    };
  };
  return { cpu: pct(o.cpu, `${path}.cpu`), memory: pct(o.memory, `${path}.memory`) };
}

function impact(value: unknown, path: string): ImpactData {
  const o = obj(value, path);
  return {
    podsDisplaced: num(o.podsDisplaced, `${path}.podsDisplaced`),
    failedNode: nullable(o.failedNode, `${path}.failedNode`, (v, p) => {
      const f = obj(v, p);
      return {
        node: str(f.node, `${p}.node`),
        usage: usage(f.usage, `${p}.usage`),
        diskUsedPct: nullable(f.diskUsedPct, `${p}.diskUsedPct`, num),
      };
    }),
    survivors: arr(o.survivors, `${path}.survivors`, (v, p) => {
      const s = obj(v, p);
      return {
        node: str(s.node, `${p}.node`),
        before: nullable(s.before, `${p}.before`, usage),
        after: usage(s.after, `${p}.after`),
      };
    }),
  };
}

/** Checks one evidence item; throws BAD_INPUT naming the first bad field. */
export function parseEvidence(value: unknown, path = 'evidence'): Evidence {
  const o = obj(value, path);
  const source = oneOf<EvidenceSource>(o.source, `${path}.source`, EVIDENCE_SOURCES);
  const status = oneOf<EvidenceStatus>(o.status, `${path}.status`, EVIDENCE_STATUSES);
  const head = {
    observedAt: instant(o.observedAt, `${path}.observedAt`),
    durationMs: num(o.durationMs, `${path}.durationMs`),
    status,
    summary: str(o.summary, `${path}.summary`),
  };
  if (status !== 'ok') {
    if (o.data !== null) fail(`${path}.data`, `must be null when status is ${status}`);
    return { source, ...head, data: null };
  }
  const at = `${path}.data`;
  switch (source) {
    case 'kubernetes':
      return { source, ...head, data: kubernetes(o.data, at) };
    case 'network':
      return { source, ...head, data: network(o.data, at) };
    case 'cloud':
      return { source, ...head, data: cloud(o.data, at) };
    case 'gpu':
      return { source, ...head, data: gpu(o.data, at) };
    case 'kernel':
      return { source, ...head, data: kernel(o.data, at) };
    case 'cni':
      return { source, ...head, data: cni(o.data, at) };
    case 'impact':
      return { source, ...head, data: impact(o.data, at) };
  }
}

/** Checks a list of evidence items (a JSON array). */
export function parseEvidenceList(value: unknown, path = 'evidence'): Evidence[] {
  return arr(value, path, parseEvidence);
}
