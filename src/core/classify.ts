/**
 * Root-cause classification: a decision table from the evidence about one
 * incident to design §5's categories, with a confidence and the findings it
 * relied on. Pure: same incident, evidence and `now`, same verdict.
 *
 * Rules, first match wins:
 *  1. partition incident                                   → CONTROL_PLANE_SIDE
 *  2. cloud: instance not found, DELETED or SOFT_DELETED   → NODE_DELETED
 *  3. cloud: power state SHUTDOWN/CRASHED/PAUSED/SUSPENDED, or status
 *     SHUTOFF/PAUSED/SUSPENDED                             → NODE_POWERED_OFF
 *     (the latest stop-like action is cited: `user_id` null is Nova's own
 *     power-state sync, a user id is a person or a tool)
 *  4. controller lost the API server, or many nodes NotReady
 *     (≥ manyNodesMin and ≥ manyNodesFraction of all)     → CONTROL_PLANE_SIDE
 *  5. maintenance marker (annotation/taint), cordoned before the last
 *     heartbeat, or a reboot in progress started by a person (not NodeWarden)
 *                                                          → PLANNED_MAINTENANCE
 *  6. Node object gone from the API and no cloud evidence → NODE_DELETED (low)
 *  7. no probe result from any vantage point              → UNKNOWN
 *  8. every vantage point silent at every layer, every vantage point that
 *     could test L2 failed it (at least one did):
 *     a. OOM kill of ovs-vswitchd/ovn-controller/ovsdb-server stamped before
 *        the cut                                           → OOM_KILLED_NETWORK
 *     b. fatal GPU Xid (79 off the bus, 119/120 GSP, 154 recovery action)
 *        stamped before the cut (kernel line or DCGM)      → GPU_FAULT
 *     c. the reference points (gateway, OVN gateway) failed from most of
 *        the observers that probed them: the network around the node is
 *        down, so the observers' silence proves nothing about the node
 *                                                          → PARTIAL_PARTITION
 *     d. no usable cloud evidence                          → UNKNOWN
 *        (never NODE_HALTED without the cloud's word)
 *     e. hypervisor host_status DOWN/UNKNOWN (Nova's state may be stale)
 *                                                          → UNKNOWN
 *     f. cloud does not say ACTIVE + Running               → UNKNOWN
 *     g. the guest is alive but its network is not: NETDEV WATCHDOG before
 *        the cut, a Neutron port DOWN, or the guest's NIC still transmitting
 *        after the cut (diagnostics)                       → HOST_NETWORK_DOWN
 *     h. otherwise                                         → NODE_HALTED
 *        (panic/lockup signatures are cited and raise the confidence)
 *  9. some vantage points reach the node (L3/L4/L7), others do not
 *                                                          → PARTIAL_PARTITION
 * 10. nobody reaches it above L2 but some get ARP replies → HOST_NETWORK_DOWN
 * 11. nobody reaches it and nobody could test L2          → UNKNOWN
 * 12. everyone reaches it at L3:
 *     a. L4 ECONNREFUSED from most, connected from none   → KUBELET_DOWN
 *     b. L4 connected and L7 failing from every tester    → KUBELET_HUNG
 *     c. overlay (pod-network) checks failing             → OVERLAY_DATAPATH
 *        (Kube-OVN component restarts are cited and raise the confidence)
 *     d. otherwise                                         → UNKNOWN
 *
 * A signature "precedes the cut" when it is stamped between
 * `signatureLookbackMs` before the last heartbeat and one Lease renew period
 * (10 s) after it — the node would have renewed then. Unstamped lines (a
 * console log with only uptime stamps) are cited, never used to reclassify.
 *
 * Confidence: each rule's base (see `BASE`), then ×0.8 with fewer than two
 * vantage points, ×0.7 when some reference point (gateway, OVN gateway)
 * also failed from a vantage point (its own path may be the problem; not
 * for 8c, which is that), ×0.9 without Kubernetes evidence; rounded to two
 * decimals. Reference points that all answered are "the network is fine,
 * the node is not" as a measurement: +0.05 to 8g and +0.1 to 8h when the
 * node's observers probed them, half that when only the controller did.
 *
 * Correlations (GPU memory rising, Xids counted before the last heartbeat)
 * are reported beside the verdict, never as its cause.
 */
import {
  allOk,
  dataOf,
  latestOk,
  missingEvidence,
  vantageProbes,
  type CloudData,
  type CniData,
  type Evidence,
  type EvidenceSource,
  type GpuData,
  type KernelSignature,
  type KubernetesData,
  type MissingEvidence,
  type NetworkData,
  type PowerState,
  type ReferenceProbe,
  type ReferenceSource,
} from './evidence.ts';
import { badInput } from './errors.ts';
import type { Incident, RootCause } from './incident.ts';
import type { Layer, LayerResult, ProbeResult } from './probe.ts';

export interface ClassifyOptions {
  /** How far before the last heartbeat a GPU memory rise counts as a correlation. */
  readonly correlationWindowMs: number;
  /** The smallest rise, in percentage points of GPU memory, worth reporting. */
  readonly minRisePct: number;
  /** How far before the last heartbeat a kernel signature is still relevant. */
  readonly signatureLookbackMs: number;
  /** Many nodes NotReady at once means our side: at least this many… */
  readonly manyNodesMin: number;
  /** …and at least this share of all nodes. */
  readonly manyNodesFraction: number;
  /** NodeWarden's own cloud user ids: its own reboots are not maintenance. */
  readonly ownCloudUserIds: readonly string[];
}

export const DEFAULT_CLASSIFY_OPTIONS: ClassifyOptions = {
  correlationWindowMs: 5 * 60_000,
  minRisePct: 10,
  signatureLookbackMs: 10 * 60_000,
  manyNodesMin: 3,
  manyNodesFraction: 0.3,
  ownCloudUserIds: [],
};

/** The sources the decision table reads (impact is for the report, not the cause). */
export const CLASSIFIER_SOURCES: readonly EvidenceSource[] = [
  'kubernetes',
  'network',
  'cloud',
  'gpu',
  'kernel',
  'cni',
];

/** The kubelet renews its Lease this often; the node would have logged a renewal by then. */
const RENEW_PERIOD_MS = 10_000;

/** Xids after which the GPU (and often the node) needs a reset: off the bus, GSP, recovery action. */
export const FATAL_XIDS: readonly number[] = [79, 119, 120, 154];
/** Processes whose OOM kill takes the node's (Kube-OVN/OVS) networking with it. */
export const NETWORK_PROCESSES: readonly string[] = [
  'ovs-vswitchd',
  'ovn-controller',
  'ovsdb-server',
];
/** Node annotations and taints that announce maintenance. */
export const MAINTENANCE_ANNOTATIONS: readonly string[] = [
  'nodewarden.io/maintenance',
  'weave.works/kured-reboot-in-progress',
];
export const MAINTENANCE_TAINTS: readonly string[] = [
  'medik8s.io/drain',
  'nodewarden.io/maintenance',
];

export type ReferenceKind = ReferenceProbe['kind'];

/** One fact the classifier relied on; the report words each kind in every language. */
export type Fact =
  | { readonly kind: 'partition-incident'; readonly nodes: number }
  | { readonly kind: 'api-unreachable'; readonly lastContactAt: string | null }
  | { readonly kind: 'many-not-ready'; readonly notReady: number; readonly total: number }
  | { readonly kind: 'instance-gone'; readonly instanceId: string; readonly status: string | null }
  | { readonly kind: 'node-object-gone'; readonly node: string }
  | {
      readonly kind: 'cloud-state';
      readonly status: string | null;
      readonly powerState: PowerState | null;
      readonly taskState: string | null;
      readonly vmState: string | null;
    }
  | {
      readonly kind: 'stop-action';
      readonly action: string;
      readonly userId: string | null;
      readonly at: string;
    }
  | { readonly kind: 'no-stop-action'; readonly actions: number }
  | { readonly kind: 'cordoned'; readonly since: string }
  | {
      readonly kind: 'maintenance-marker';
      readonly key: string;
      readonly on: 'annotation' | 'taint';
    }
  | {
      readonly kind: 'user-reboot';
      readonly action: string;
      readonly userId: string;
      readonly at: string;
      readonly taskState: string | null;
    }
  | {
      readonly kind: 'all-dead';
      readonly vantagePoints: number;
      readonly l2Failed: number;
      readonly l2Untested: number;
    }
  | {
      readonly kind: 'split';
      readonly reached: readonly string[];
      readonly unreached: readonly string[];
    }
  | { readonly kind: 'arp-only'; readonly vantagePoints: number; readonly l2Ok: number }
  | { readonly kind: 'dead-l2-untested'; readonly vantagePoints: number }
  | { readonly kind: 'reached-l3'; readonly vantagePoints: number }
  | { readonly kind: 'l4-refused'; readonly refused: number; readonly tested: number }
  | {
      readonly kind: 'l7-failed';
      readonly failed: number;
      readonly tested: number;
      readonly detail: string;
      readonly timeout: boolean;
    }
  | { readonly kind: 'l4-timeout'; readonly failed: number; readonly tested: number }
  | { readonly kind: 'all-layers-answer'; readonly vantagePoints: number }
  | { readonly kind: 'few-vantage-points'; readonly vantagePoints: number }
  | { readonly kind: 'no-vantage-result'; readonly asked: number }
  | {
      readonly kind: 'references-ok';
      readonly kinds: readonly ReferenceKind[];
      readonly probes: number;
      /** Probed by the node's observers, or by the controller (no observer answered). */
      readonly from: ReferenceSource['from'];
      /** The observers that probed them (empty when the controller did). */
      readonly observers: readonly string[];
    }
  | {
      readonly kind: 'references-failed';
      readonly failed: number;
      readonly total: number;
      readonly from: ReferenceSource['from'];
      /** The observers that lost a reference point (empty when the controller probed them). */
      readonly observers: readonly string[];
      /** Observers that probed the reference points at all. */
      readonly of: number;
    }
  | { readonly kind: 'hypervisor'; readonly hostStatus: string }
  | {
      readonly kind: 'port-down';
      readonly id: string;
      readonly status: string;
      readonly adminStateUp: boolean;
    }
  | {
      readonly kind: 'guest-sending';
      readonly fromPackets: number;
      readonly toPackets: number;
      readonly seconds: number;
    }
  | {
      readonly kind: 'signature';
      readonly signature: KernelSignature;
      /** True: stamped before the cut; false: stamped outside it; null: unstamped. */
      readonly beforeCut: boolean | null;
    }
  | {
      readonly kind: 'xid-counted';
      readonly gpu: string;
      readonly xid: number;
      readonly count: number;
      readonly lastAt: string | null;
    }
  | { readonly kind: 'no-signature'; readonly origins: readonly ('agent' | 'console')[] }
  | { readonly kind: 'overlay-failed'; readonly failed: number; readonly total: number }
  | {
      readonly kind: 'cni-restarts';
      readonly component: string;
      readonly pod: string;
      readonly node: string;
      readonly restarts: number;
    }
  | { readonly kind: 'lease-stale'; readonly ageSeconds: number };

export type FactKind = Fact['kind'];

/** A fact and the evidence source it came from (`incident`: the incident record itself). */
export type Finding = Fact & { readonly source: EvidenceSource | 'incident' };

/** Stated beside the verdict as correlations: co-occurrence, causality unproven. */
export type Correlation =
  | {
      readonly kind: 'gpu-memory-rise';
      readonly gpu: string;
      readonly migInstance: string | null;
      readonly migProfile: string | null;
      readonly fromPct: number;
      readonly toPct: number;
      readonly fromAt: string;
      readonly toAt: string;
      readonly windowMinutes: number;
      readonly heartbeatAt: string;
    }
  | {
      readonly kind: 'xid-before-heartbeat';
      readonly gpu: string;
      readonly xid: number;
      readonly count: number;
      readonly lastAt: string;
      readonly heartbeatAt: string;
    };

/** Which row of the decision table fired. */
export type RuleId =
  | 'partition-incident'
  | 'instance-deleted'
  | 'instance-powered-off'
  | 'api-lost'
  | 'many-nodes-not-ready'
  | 'maintenance'
  | 'node-object-gone'
  | 'no-probe-result'
  | 'dead-oom-network'
  | 'dead-gpu-xid'
  | 'dead-references-failed'
  | 'dead-no-cloud'
  | 'dead-hypervisor-down'
  | 'dead-cloud-not-running'
  | 'dead-guest-alive'
  | 'dead-cloud-running'
  | 'split-vantage'
  | 'arp-only'
  | 'dead-l2-untested'
  | 'kubelet-refused'
  | 'kubelet-unresponsive'
  | 'overlay-failing'
  | 'reachable-unexplained';

export interface Verdict {
  readonly rootCause: RootCause;
  /** 0–1, two decimals. */
  readonly confidence: number;
  readonly rule: RuleId;
  readonly decidedAt: string;
  /** What the verdict rests on, most telling first. */
  readonly findings: readonly Finding[];
  readonly correlations: readonly Correlation[];
  /** Sources the table reads that had no usable data at `now`: what a better verdict would have needed. */
  readonly missing: readonly MissingEvidence[];
  /** For UNKNOWN and weak verdicts: the causes the evidence could not tell apart. */
  readonly candidates: readonly RootCause[];
  /** The evidence items relied on, by source and when they were observed. */
  readonly reliedOn: readonly { readonly source: EvidenceSource; readonly observedAt: string }[];
}

export interface ClassifyInput {
  readonly incident: Incident;
  readonly evidence: readonly Evidence[];
  /** ISO-8601; when the decision is made. */
  readonly now: string;
}

/** Each rule's confidence before the modifiers. */
const BASE: Readonly<Record<RuleId, number>> = {
  'partition-incident': 0.9,
  'instance-deleted': 0.95,
  'instance-powered-off': 0.9,
  'api-lost': 0.85,
  'many-nodes-not-ready': 0.8,
  maintenance: 0.85,
  'node-object-gone': 0.6,
  'no-probe-result': 0.1,
  'dead-oom-network': 0.85,
  'dead-gpu-xid': 0.85,
  'dead-references-failed': 0.6,
  'dead-no-cloud': 0.3,
  'dead-hypervisor-down': 0.3,
  'dead-cloud-not-running': 0.3,
  'dead-guest-alive': 0.75,
  'dead-cloud-running': 0.7,
  'split-vantage': 0.8,
  'arp-only': 0.6,
  'dead-l2-untested': 0.3,
  'kubelet-refused': 0.9,
  'kubelet-unresponsive': 0.85,
  'overlay-failing': 0.6,
  'reachable-unexplained': 0.2,
};

function checkOptions(options: ClassifyOptions): void {
  for (const key of ['correlationWindowMs', 'signatureLookbackMs', 'minRisePct'] as const) {
    if (!(options[key] > 0) || !Number.isFinite(options[key])) {
      throw badInput(
        `classify option ${key}=${options[key]} must be a positive number`,
        `leave ${key} unset for the default (${DEFAULT_CLASSIFY_OPTIONS[key]})`,
      );
    }
  }
  if (!(options.manyNodesFraction > 0 && options.manyNodesFraction <= 1)) {
    throw badInput(
      `classify option manyNodesFraction=${options.manyNodesFraction} must be in (0, 1]`,
      'use 0.3 (the default), as detection does',
    );
  }
}

/** Classifies one incident from its evidence; see the rules above. */
export function classify(input: ClassifyInput, overrides: Partial<ClassifyOptions> = {}): Verdict {
  const options = { ...DEFAULT_CLASSIFY_OPTIONS, ...overrides };
  checkOptions(options);
  if (!Number.isFinite(Date.parse(input.now))) {
    throw badInput(`classify: now="${input.now}" is not an ISO-8601 time`, 'pass the clock time');
  }
  // Evidence observed after the decision time did not exist yet when it was made.
  const nowMs = Date.parse(input.now);
  const known = input.evidence.filter((e) => Date.parse(e.observedAt) <= nowMs);
  const ctx = new Context({ ...input, evidence: known }, options);
  const decision = decide(ctx);
  const findings = decision.findings;
  const reliedOn: { source: EvidenceSource; observedAt: string }[] = [];
  for (const f of findings) {
    if (f.source === 'incident' || reliedOn.some((r) => r.source === f.source)) continue;
    const item = latestOk(known, f.source);
    if (item !== undefined) reliedOn.push({ source: f.source, observedAt: item.observedAt });
  }
  return {
    rootCause: decision.rootCause,
    confidence: round2(Math.min(0.99, Math.max(0, decision.confidence))),
    rule: decision.rule,
    decidedAt: new Date(Date.parse(input.now)).toISOString(),
    findings,
    correlations: correlations(ctx),
    missing: missingEvidence(known).filter((m) => CLASSIFIER_SOURCES.includes(m.source)),
    candidates: decision.candidates,
    reliedOn,
  };
}

interface Decision {
  readonly rootCause: RootCause;
  readonly rule: RuleId;
  readonly confidence: number;
  readonly findings: Finding[];
  readonly candidates: RootCause[];
}

/** The evidence, read once. */
class Context {
  readonly incident: Incident;
  readonly options: ClassifyOptions;
  readonly k8s: KubernetesData | null;
  readonly network: NetworkData | null;
  readonly cloud: CloudData | null;
  readonly gpu: GpuData | null;
  readonly cni: CniData | null;
  readonly signatures: {
    readonly signature: KernelSignature;
    readonly origin: 'agent' | 'console';
  }[];
  readonly kernelOrigins: ('agent' | 'console')[];
  readonly heartbeatMs: number | null;
  /** Latest instant a signature may carry to precede the cut. */
  readonly cutMs: number;

  constructor(input: ClassifyInput, options: ClassifyOptions) {
    this.incident = input.incident;
    this.options = options;
    this.k8s = dataOf(input.evidence, 'kubernetes');
    this.network = dataOf(input.evidence, 'network');
    this.cloud = dataOf(input.evidence, 'cloud');
    this.gpu = dataOf(input.evidence, 'gpu');
    this.cni = dataOf(input.evidence, 'cni');
    const seen = new Set<string>();
    this.signatures = [];
    this.kernelOrigins = [];
    for (const item of allOk(input.evidence, 'kernel')) {
      if (item.data === null) continue;
      if (!this.kernelOrigins.includes(item.data.origin)) this.kernelOrigins.push(item.data.origin);
      for (const signature of item.data.signatures) {
        const key = `${signature.id}|${signature.at ?? ''}|${signature.line}`;
        if (seen.has(key)) continue;
        seen.add(key);
        this.signatures.push({ signature, origin: item.data.origin });
      }
    }
    const hb =
      input.incident.lastHeartbeatAt === null ? NaN : Date.parse(input.incident.lastHeartbeatAt);
    this.heartbeatMs = Number.isFinite(hb) ? hb : null;
    this.cutMs =
      this.heartbeatMs === null
        ? Date.parse(input.incident.openedAt)
        : this.heartbeatMs + RENEW_PERIOD_MS;
  }

  /** Whether a stamped instant lies in [last heartbeat − look-back, cut]. */
  beforeCut(at: string | null): boolean | null {
    if (at === null) return null;
    const t = Date.parse(at);
    if (!Number.isFinite(t)) return null;
    const from = (this.heartbeatMs ?? this.cutMs) - this.options.signatureLookbackMs;
    return t >= from && t <= this.cutMs;
  }
}

function f(source: Finding['source'], fact: Fact): Finding {
  return { ...fact, source };
}

function decide(ctx: Context): Decision {
  const { incident, cloud, k8s } = ctx;

  // 1. Many nodes at once is one situation on our side, whatever one node's cloud says.
  if (incident.kind === 'partition') {
    return done('CONTROL_PLANE_SIDE', 'partition-incident', [
      f('incident', { kind: 'partition-incident', nodes: incident.nodes.length }),
    ]);
  }

  // 2–3. The cloud's word on the instance's existence and power is definitive.
  if (cloud !== null) {
    const status = cloud.status?.toUpperCase() ?? null;
    if (!cloud.found || status === 'DELETED' || status === 'SOFT_DELETED') {
      const findings = [
        f('cloud', { kind: 'instance-gone', instanceId: cloud.instanceId, status }),
      ];
      if (k8s !== null && !k8s.nodeFound) {
        findings.push(f('kubernetes', { kind: 'node-object-gone', node: k8s.node }));
      }
      return done('NODE_DELETED', 'instance-deleted', findings);
    }
    const offPower: readonly (PowerState | null)[] = ['SHUTDOWN', 'CRASHED', 'PAUSED', 'SUSPENDED'];
    const offStatus: readonly (string | null)[] = ['SHUTOFF', 'PAUSED', 'SUSPENDED'];
    if (offPower.includes(cloud.powerState) || offStatus.includes(status)) {
      const findings = [f('cloud', cloudState(cloud))];
      const stop = latestAction(cloud, STOP_ACTIONS);
      findings.push(
        stop === undefined
          ? f('cloud', { kind: 'no-stop-action', actions: cloud.actions.length })
          : f('cloud', {
              kind: 'stop-action',
              action: stop.action,
              userId: stop.userId,
              at: stop.startTime,
            }),
      );
      return done(
        'NODE_POWERED_OFF',
        'instance-powered-off',
        findings,
        stop === undefined ? 0.9 : 1,
      );
    }
  }

  // 4. Our own view cannot be trusted, or the problem is bigger than one node.
  if (k8s !== null) {
    if (!k8s.api.connected) {
      return done('CONTROL_PLANE_SIDE', 'api-lost', [
        f('kubernetes', { kind: 'api-unreachable', lastContactAt: k8s.api.lastContactAt }),
      ]);
    }
    const { nodes, notReady } = k8s.cluster;
    if (
      notReady >= ctx.options.manyNodesMin &&
      nodes > 0 &&
      notReady >= Math.ceil(ctx.options.manyNodesFraction * nodes)
    ) {
      return done('CONTROL_PLANE_SIDE', 'many-nodes-not-ready', [
        f('kubernetes', { kind: 'many-not-ready', notReady, total: nodes }),
      ]);
    }
  }

  // 5. Someone meant to take the node down.
  const maintenance = maintenanceFindings(ctx);
  if (maintenance.length > 0) {
    return done(
      'PLANNED_MAINTENANCE',
      'maintenance',
      maintenance,
      maintenance.length > 1 ? 1.1 : 1,
    );
  }

  // 6. Kubernetes forgot the node and there is no cloud to ask.
  if (k8s !== null && !k8s.nodeFound && cloud === null) {
    return done(
      'NODE_DELETED',
      'node-object-gone',
      [f('kubernetes', { kind: 'node-object-gone', node: k8s.node })],
      1,
      ['NODE_DELETED', 'NODE_POWERED_OFF', 'NODE_HALTED'],
    );
  }

  return decideFromNetwork(ctx);
}

function decideFromNetwork(ctx: Context): Decision {
  const { network, cloud } = ctx;
  const lease = leaseFinding(ctx);
  if (network === null) {
    return done('UNKNOWN', 'no-probe-result', lease, 1, [
      'NODE_HALTED',
      'HOST_NETWORK_DOWN',
      'KUBELET_DOWN',
    ]);
  }
  const view = analyse(network);
  if (view.vantage.length === 0) {
    return done(
      'UNKNOWN',
      'no-probe-result',
      [f('network', { kind: 'no-vantage-result', asked: view.asked }), ...lease],
      1,
      ['NODE_HALTED', 'HOST_NETWORK_DOWN', 'KUBELET_DOWN'],
    );
  }
  // Modifiers that apply to every network-derived verdict.
  const context: Finding[] = [];
  let factor = 1;
  if (view.vantage.length < 2) {
    context.push(f('network', { kind: 'few-vantage-points', vantagePoints: view.vantage.length }));
    factor *= 0.8;
  }
  const refs = referenceFindings(network);
  context.push(...refs.findings);
  if (refs.failed) factor *= 0.7;
  if (ctx.k8s === null) factor *= 0.9;

  const net = (
    rootCause: RootCause,
    rule: RuleId,
    findings: Finding[],
    extra = 1,
    candidates: RootCause[] = [],
  ): Decision =>
    done(rootCause, rule, [...findings, ...context, ...lease], extra * factor, candidates);

  if (view.allDead) {
    const dead = f('network', {
      kind: 'all-dead',
      vantagePoints: view.vantage.length,
      l2Failed: view.l2Failed,
      l2Untested: view.l2Untested,
    });
    const sigs = ctx.signatures.map(({ signature }) =>
      f('kernel', { kind: 'signature', signature, beforeCut: ctx.beforeCut(signature.at) }),
    );
    const cited = (pred: (s: KernelSignature) => boolean): Finding[] =>
      sigs.filter((s) => s.kind === 'signature' && pred(s.signature));
    const cloudFindings = cloud === null ? [] : [f('cloud', cloudState(cloud)), stopFinding(cloud)];
    const noCloud = cloud === null ? 0.65 : 1;

    const oom = cited(
      (s) =>
        s.category === 'oom' &&
        s.process !== null &&
        NETWORK_PROCESSES.includes(s.process) &&
        ctx.beforeCut(s.at) === true,
    );
    if (oom.length > 0) {
      return net(
        'OOM_KILLED_NETWORK',
        'dead-oom-network',
        [...oom, dead, ...cloudFindings],
        noCloud,
      );
    }
    const gpuFault = [
      ...cited(
        (s) =>
          s.category === 'gpu' &&
          s.xid !== null &&
          FATAL_XIDS.includes(s.xid) &&
          ctx.beforeCut(s.at) === true,
      ),
      ...fatalXidCounts(ctx),
    ];
    if (gpuFault.length > 0) {
      return net('GPU_FAULT', 'dead-gpu-xid', [...gpuFault, dead, ...cloudFindings], noCloud);
    }
    if (refs.observersLost) {
      // The observers lost the infrastructure too: their silence says nothing about the node.
      return done(
        'PARTIAL_PARTITION',
        'dead-references-failed',
        [...refs.findings, dead, ...cloudFindings, ...sigs, ...lease],
        ctx.k8s === null ? 0.9 : 1,
        ['PARTIAL_PARTITION', 'HOST_NETWORK_DOWN', 'NODE_HALTED'],
      );
    }
    const kernelChecked: Finding[] =
      ctx.kernelOrigins.length > 0 && sigs.length === 0
        ? [f('kernel', { kind: 'no-signature', origins: ctx.kernelOrigins })]
        : [];
    if (cloud === null) {
      return net('UNKNOWN', 'dead-no-cloud', [dead, ...sigs], 1, [
        'NODE_HALTED',
        'NODE_POWERED_OFF',
        'HOST_NETWORK_DOWN',
      ]);
    }
    const hostStatus = cloud.hostStatus?.toUpperCase() ?? null;
    if (hostStatus === 'DOWN' || hostStatus === 'UNKNOWN') {
      return net(
        'UNKNOWN',
        'dead-hypervisor-down',
        [f('cloud', { kind: 'hypervisor', hostStatus }), dead, ...cloudFindings, ...sigs],
        1,
        ['NODE_HALTED', 'HOST_NETWORK_DOWN'],
      );
    }
    if (cloud.status?.toUpperCase() !== 'ACTIVE' || cloud.powerState !== 'RUNNING') {
      return net('UNKNOWN', 'dead-cloud-not-running', [...cloudFindings, dead, ...sigs], 1, [
        'NODE_HALTED',
        'NODE_POWERED_OFF',
      ]);
    }
    const hypervisor = hostStatus === 'UP' ? [f('cloud', { kind: 'hypervisor', hostStatus })] : [];
    const alive = [
      ...cited((s) => s.category === 'network' && ctx.beforeCut(s.at) === true),
      ...portDown(cloud),
      ...guestSending(ctx, cloud),
    ];
    if (alive.length > 0) {
      const base = BASE['dead-guest-alive'];
      return net(
        'HOST_NETWORK_DOWN',
        'dead-guest-alive',
        [...alive, dead, ...cloudFindings, ...hypervisor],
        ((alive.length > 1 ? 1.1 * base : base) + refs.bonus) / base,
      );
    }
    const halt = cited((s) => s.category === 'panic' || s.category === 'lockup');
    let bonus = 2 * refs.bonus;
    if (hypervisor.length > 0) bonus += 0.05;
    if (halt.length > 0) bonus += 0.1;
    return net(
      'NODE_HALTED',
      'dead-cloud-running',
      [
        dead,
        ...cloudFindings,
        ...hypervisor,
        ...halt,
        ...sigs.filter((s) => !halt.includes(s)),
        ...kernelChecked,
      ],
      (BASE['dead-cloud-running'] + bonus) / BASE['dead-cloud-running'],
    );
  }

  if (view.reached.length > 0 && view.unreached.length > 0) {
    return net('PARTIAL_PARTITION', 'split-vantage', [
      f('network', { kind: 'split', reached: view.reached, unreached: view.unreached }),
    ]);
  }
  if (view.reached.length === 0) {
    if (view.l2Ok > 0) {
      return net('HOST_NETWORK_DOWN', 'arp-only', [
        f('network', { kind: 'arp-only', vantagePoints: view.vantage.length, l2Ok: view.l2Ok }),
      ]);
    }
    return net(
      'UNKNOWN',
      'dead-l2-untested',
      [f('network', { kind: 'dead-l2-untested', vantagePoints: view.vantage.length })],
      1,
      ['NODE_HALTED', 'HOST_NETWORK_DOWN', 'NODE_POWERED_OFF'],
    );
  }

  // Everyone reaches the node at IP level.
  const reached = f('network', { kind: 'reached-l3', vantagePoints: view.vantage.length });
  const l4 = view.vantage.map((v) => layerOf(v.result, 'L4')).filter(tested);
  const l7 = view.vantage.map((v) => layerOf(v.result, 'L7')).filter(tested);
  const refused = l4.filter((r) => r.status === 'failed' && /refused/i.test(r.detail)).length;
  const l4Ok = l4.filter((r) => r.status === 'ok').length;
  if (refused > 0 && l4Ok === 0 && refused * 2 >= l4.length) {
    return net(
      'KUBELET_DOWN',
      'kubelet-refused',
      [f('network', { kind: 'l4-refused', refused, tested: l4.length }), reached],
      refused / l4.length,
    );
  }
  const l7Failed = l7.filter((r) => r.status === 'failed');
  if (l4.length > 0 && l4Ok === l4.length && l7.length > 0 && l7Failed.length === l7.length) {
    const detail = l7Failed[0]?.detail ?? '';
    const timeout = l7Failed.every((r) => /timeout|timed out/i.test(r.detail));
    return net(
      'KUBELET_HUNG',
      'kubelet-unresponsive',
      [
        f('network', {
          kind: 'l7-failed',
          failed: l7Failed.length,
          tested: l7.length,
          detail,
          timeout,
        }),
        reached,
      ],
      timeout ? 1 : 0.8,
    );
  }
  const overlay = ctx.network?.overlay ?? [];
  const overlayFailed = overlay.filter((o) => !o.ok).length;
  if (overlayFailed > 0 && overlayFailed * 2 >= overlay.length) {
    const restarts = cniRestarts(ctx);
    return net(
      'OVERLAY_DATAPATH',
      'overlay-failing',
      [
        f('network', { kind: 'overlay-failed', failed: overlayFailed, total: overlay.length }),
        reached,
        ...restarts,
      ],
      restarts.length > 0 ? 1.25 : 1,
    );
  }
  const l4Timeouts = l4.filter((r) => r.status === 'failed').length;
  const extra: Finding[] =
    l4Timeouts > 0
      ? [f('network', { kind: 'l4-timeout', failed: l4Timeouts, tested: l4.length })]
      : [f('network', { kind: 'all-layers-answer', vantagePoints: view.vantage.length })];
  return net('UNKNOWN', 'reachable-unexplained', [reached, ...extra], 1, [
    'KUBELET_HUNG',
    'OVERLAY_DATAPATH',
  ]);
}

function done(
  rootCause: RootCause,
  rule: RuleId,
  findings: Finding[],
  factor = 1,
  candidates: RootCause[] = [],
): Decision {
  return { rootCause, rule, confidence: BASE[rule] * factor, findings, candidates };
}

// ── network view ────────────────────────────────────────────────────────────

interface VantageResult {
  readonly observer: string;
  readonly result: ProbeResult;
}

interface NetworkView {
  readonly asked: number;
  readonly vantage: readonly VantageResult[];
  readonly reached: string[];
  readonly unreached: string[];
  readonly l2Ok: number;
  readonly l2Failed: number;
  readonly l2Untested: number;
  readonly allDead: boolean;
}

function layerOf(result: ProbeResult, layer: Layer): LayerResult | undefined {
  return result.layers.find((l) => l.layer === layer);
}

function tested(r: LayerResult | undefined): r is LayerResult {
  return r !== undefined && r.status !== 'skipped';
}

/**
 * Per vantage point: did IP traffic (L3, L4 or L7) get an answer? And what did
 * L2 say? "Every vantage point fails at L2" is read as: every vantage point
 * that shares the node's link failed ARP (at least one did), and none of the
 * others — routed ones that cannot test L2 — got an answer at any layer.
 */
function analyse(network: NetworkData): NetworkView {
  const all = vantageProbes(network);
  const vantage: VantageResult[] = [];
  for (const v of all)
    if (v.result !== null) vantage.push({ observer: v.observer, result: v.result });
  const reached: string[] = [];
  const unreached: string[] = [];
  let l2Ok = 0;
  let l2Failed = 0;
  let l2Untested = 0;
  let anyOk = 0;
  for (const v of vantage) {
    const upper = (['L3', 'L4', 'L7'] as const).map((l) => layerOf(v.result, l)).filter(tested);
    if (upper.some((r) => r.status === 'ok')) reached.push(v.observer);
    else if (upper.some((r) => r.status === 'failed')) unreached.push(v.observer);
    const l2 = layerOf(v.result, 'L2');
    if (l2?.status === 'ok') l2Ok += 1;
    else if (l2?.status === 'failed') l2Failed += 1;
    else l2Untested += 1;
    if (v.result.layers.some((r) => r.status === 'ok')) anyOk += 1;
  }
  const allDead =
    vantage.length > 0 &&
    anyOk === 0 &&
    l2Failed > 0 &&
    vantage.every((v) => {
      const l2 = layerOf(v.result, 'L2');
      return l2?.status === 'failed' || (!tested(l2) && unreached.includes(v.observer));
    });
  return { asked: all.length, vantage, reached, unreached, l2Ok, l2Failed, l2Untested, allDead };
}

/**
 * The reference points (gateway, OVN gateway) as evidence:
 * - every probe answered → `references-ok`; a "the network is fine, the
 *   node is not" `bonus` (a unit: 8g adds it, 8h twice): 0.05 when the
 *   node's observers probed them (measured where the node was watched
 *   from), 0.025 when only the controller did (its path is not the
 *   observers');
 * - some failed → `references-failed` and `failed` (confidence ×0.7:
 *   the vantage points' own path may be at fault); `observersLost` when a
 *   majority of the observers that probed them lost one — the network around
 *   the node is down, not (provably) the node (rule `dead-references-failed`).
 */
function referenceFindings(network: NetworkData): {
  findings: Finding[];
  failed: boolean;
  observersLost: boolean;
  bonus: number;
} {
  const withResult = network.references.filter(
    (r): r is ReferenceProbe & { result: ProbeResult } => r.result !== null,
  );
  const none = { findings: [], failed: false, observersLost: false, bonus: 0 };
  if (withResult.length === 0) return none;
  const from: ReferenceSource['from'] =
    network.referenceSource?.from ??
    (withResult.every((r) => r.observer === 'controller') ? 'controller' : 'observers');
  const probedBy = [...new Set(withResult.map((r) => r.observer))]
    .filter((o) => from === 'observers' && o !== 'controller')
    .sort();
  const bad = withResult.filter((r) => !r.result.verdict.healthy);
  if (bad.length > 0) {
    const lost = [...new Set(bad.map((r) => r.observer))]
      .filter((o) => probedBy.includes(o))
      .sort();
    return {
      findings: [
        f('network', {
          kind: 'references-failed',
          failed: bad.length,
          total: withResult.length,
          from,
          observers: lost,
          of: probedBy.length,
        }),
      ],
      failed: true,
      observersLost: lost.length * 2 > probedBy.length,
      bonus: 0,
    };
  }
  const kinds = [...new Set(withResult.map((r) => r.kind))].sort();
  return {
    findings: [
      f('network', {
        kind: 'references-ok',
        kinds,
        probes: withResult.length,
        from,
        observers: probedBy,
      }),
    ],
    failed: false,
    observersLost: false,
    bonus: from === 'observers' ? 0.05 : 0.025,
  };
}

// ── cloud ───────────────────────────────────────────────────────────────────

const STOP_ACTIONS: readonly string[] = ['stop', 'shutoff', 'shelve', 'suspend', 'pause', 'delete'];
const REBOOT_ACTIONS: readonly string[] = [
  'reboot',
  'rebuild',
  'migrate',
  'live-migration',
  'resize',
];

function cloudState(cloud: CloudData): Fact {
  return {
    kind: 'cloud-state',
    status: cloud.status,
    powerState: cloud.powerState,
    taskState: cloud.taskState,
    vmState: cloud.vmState,
  };
}

function latestAction(cloud: CloudData, kinds: readonly string[]) {
  return [...cloud.actions]
    .filter((a) => kinds.includes(a.action.toLowerCase()))
    .sort((a, b) => Date.parse(b.startTime) - Date.parse(a.startTime))[0];
}

function stopFinding(cloud: CloudData): Finding {
  const stop = latestAction(cloud, STOP_ACTIONS);
  return stop === undefined
    ? f('cloud', { kind: 'no-stop-action', actions: cloud.actions.length })
    : f('cloud', {
        kind: 'stop-action',
        action: stop.action,
        userId: stop.userId,
        at: stop.startTime,
      });
}

function portDown(cloud: CloudData): Finding[] {
  return cloud.ports
    .filter((p) => p.status.toUpperCase() === 'DOWN' || !p.adminStateUp)
    .map((p) =>
      f('cloud', { kind: 'port-down', id: p.id, status: p.status, adminStateUp: p.adminStateUp }),
    );
}

/** The guest's NIC still transmits after the cut: it runs, its packets just do not arrive. */
function guestSending(ctx: Context, cloud: CloudData): Finding[] {
  const after = cloud.diagnostics
    .filter((d) => d.txPackets !== null && Date.parse(d.at) >= ctx.cutMs)
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const first = after[0];
  const last = after[after.length - 1];
  if (first?.txPackets == null || last?.txPackets == null || last === first) return [];
  if (last.txPackets <= first.txPackets) return [];
  return [
    f('cloud', {
      kind: 'guest-sending',
      fromPackets: first.txPackets,
      toPackets: last.txPackets,
      seconds: (Date.parse(last.at) - Date.parse(first.at)) / 1000,
    }),
  ];
}

// ── kubernetes ──────────────────────────────────────────────────────────────

function maintenanceFindings(ctx: Context): Finding[] {
  const out: Finding[] = [];
  const { k8s, cloud } = ctx;
  if (k8s !== null) {
    for (const key of MAINTENANCE_ANNOTATIONS) {
      if (k8s.annotations[key] !== undefined) {
        out.push(f('kubernetes', { kind: 'maintenance-marker', key, on: 'annotation' }));
      }
    }
    for (const taint of k8s.taints) {
      if (MAINTENANCE_TAINTS.includes(taint.key)) {
        out.push(f('kubernetes', { kind: 'maintenance-marker', key: taint.key, on: 'taint' }));
      }
    }
    // A cordon NodeWarden (or anyone) added after the node went silent is a reaction, not a plan.
    const cordon = k8s.taints.find((t) => t.key === 'node.kubernetes.io/unschedulable');
    if (k8s.unschedulable && cordon?.timeAdded !== undefined && ctx.heartbeatMs !== null) {
      const t = Date.parse(cordon.timeAdded);
      if (Number.isFinite(t) && t <= ctx.heartbeatMs) {
        out.push(f('kubernetes', { kind: 'cordoned', since: cordon.timeAdded }));
      }
    }
  }
  if (cloud !== null) {
    const task = cloud.taskState?.toLowerCase() ?? '';
    const status = cloud.status?.toUpperCase() ?? '';
    const rebooting = task.startsWith('reboot') || status === 'REBOOT' || status === 'HARD_REBOOT';
    const reboot = latestAction(cloud, REBOOT_ACTIONS);
    if (
      rebooting &&
      reboot !== undefined &&
      reboot.userId !== null &&
      !ctx.options.ownCloudUserIds.includes(reboot.userId)
    ) {
      out.push(
        f('cloud', {
          kind: 'user-reboot',
          action: reboot.action,
          userId: reboot.userId,
          at: reboot.startTime,
          taskState: cloud.taskState,
        }),
      );
    }
  }
  return out;
}

function leaseFinding(ctx: Context): Finding[] {
  const age = ctx.k8s?.leaseAgeSeconds;
  return age == null ? [] : [f('kubernetes', { kind: 'lease-stale', ageSeconds: age })];
}

// ── gpu, kernel, cni ────────────────────────────────────────────────────────

function fatalXidCounts(ctx: Context): Finding[] {
  if (ctx.gpu === null) return [];
  return ctx.gpu.xids
    .filter((x) => FATAL_XIDS.includes(x.xid) && x.count > 0 && ctx.beforeCut(x.lastAt) === true)
    .map((x) =>
      f('gpu', { kind: 'xid-counted', gpu: x.gpu, xid: x.xid, count: x.count, lastAt: x.lastAt }),
    );
}

/** Kube-OVN/OVS components that restarted around the outage. */
function cniRestarts(ctx: Context): Finding[] {
  if (ctx.cni === null) return [];
  return ctx.cni.components
    .filter((c) => c.restartsInWindow > 0)
    .map((c) =>
      f('cni', {
        kind: 'cni-restarts',
        component: c.component,
        pod: `${c.namespace}/${c.pod}`,
        node: c.node,
        restarts: c.restartsInWindow,
      }),
    );
}

/**
 * GPU memory that rose by at least `minRisePct` points within the window
 * before the last heartbeat, per GPU or MIG instance (largest rise each); and
 * Xids DCGM counted in the same window.
 */
function correlations(ctx: Context): Correlation[] {
  if (ctx.heartbeatMs === null || ctx.gpu === null) return [];
  const heartbeatAt = new Date(ctx.heartbeatMs).toISOString();
  const from = ctx.heartbeatMs - ctx.options.correlationWindowMs;
  const out: Correlation[] = [];
  for (const series of ctx.gpu.series) {
    const points = series.points
      .map((p) => ({ ...p, t: Date.parse(p.at) }))
      .filter((p) => Number.isFinite(p.t) && p.t >= from && p.t <= (ctx.heartbeatMs ?? 0))
      .sort((a, b) => a.t - b.t);
    let low: (typeof points)[number] | undefined;
    let best: { low: (typeof points)[number]; high: (typeof points)[number] } | undefined;
    for (const p of points) {
      // The latest lowest sample: the rise is dated from the last quiet reading.
      if (low === undefined || p.usedPct <= low.usedPct) low = p;
      const rise = p.usedPct - low.usedPct;
      if (
        rise >= ctx.options.minRisePct &&
        (best === undefined || rise > best.high.usedPct - best.low.usedPct)
      ) {
        best = { low, high: p };
      }
    }
    if (best === undefined) continue;
    out.push({
      kind: 'gpu-memory-rise',
      gpu: series.gpu,
      migInstance: series.migInstance,
      migProfile: series.migProfile,
      fromPct: best.low.usedPct,
      toPct: best.high.usedPct,
      fromAt: best.low.at,
      toAt: best.high.at,
      windowMinutes: ctx.options.correlationWindowMs / 60_000,
      heartbeatAt,
    });
  }
  for (const x of ctx.gpu.xids) {
    if (x.count <= 0 || x.lastAt === null) continue;
    const t = Date.parse(x.lastAt);
    if (t >= from && t <= ctx.cutMs) {
      out.push({
        kind: 'xid-before-heartbeat',
        gpu: x.gpu,
        xid: x.xid,
        count: x.count,
        lastAt: x.lastAt,
        heartbeatAt,
      });
    }
  }
  return out;
}

function round2(n: number): number {
  // The epsilon keeps 0.75 × 0.7 (0.52499…) from rounding down.
  return Math.round(n * 100 + 1e-9) / 100;
}
