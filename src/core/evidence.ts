/**
 * Evidence: what each collector found out about a failed node (design §5).
 * Collectors run in parallel, each under its own timeout; each yields one
 * Evidence item. A source that could not be read is recorded as `missing`,
 * `error` or `timeout` with `data: null` — never filled in with guesses —
 * so the classifier and the report can say what they did not know.
 * Pure types and helpers; collectors live at the edges.
 */
import type { NodeCondition, ResourceList, Taint } from './cluster.ts';
import type { ProbeResult } from './probe.ts';

export type EvidenceSource =
  'kubernetes' | 'network' | 'cloud' | 'gpu' | 'kernel' | 'cni' | 'impact';

/** In the order the report lists them. */
export const EVIDENCE_SOURCES: readonly EvidenceSource[] = [
  'kubernetes',
  'network',
  'cloud',
  'gpu',
  'kernel',
  'cni',
  'impact',
];

/**
 * - `ok`: the collector answered; `data` holds what it saw.
 * - `missing`: the source does not exist here (no cloud configured, no agent
 *   last words, console log never captured).
 * - `error` / `timeout`: the source exists but could not be read this time.
 */
export type EvidenceStatus = 'ok' | 'missing' | 'error' | 'timeout';
export const EVIDENCE_STATUSES: readonly EvidenceStatus[] = ['ok', 'missing', 'error', 'timeout'];

// ── kubernetes ──────────────────────────────────────────────────────────────

export interface NodeInfo {
  readonly kubeletVersion: string;
  readonly osImage: string;
  readonly kernelVersion: string;
  readonly containerRuntimeVersion: string;
}

export interface NodeEvent {
  readonly reason: string;
  readonly message: string;
  readonly type: string;
  readonly at: string | null;
  readonly count: number;
}

export interface PodOnNode {
  readonly namespace: string;
  readonly name: string;
  readonly phase: string;
  readonly ownerKind: string | null;
}

export interface KubernetesData {
  readonly node: string;
  /** False when the Node object is gone from the API (deleted by a person or the CCM). */
  readonly nodeFound: boolean;
  readonly internalIP: string | null;
  readonly providerID: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** `spec.unschedulable`: cordoned. */
  readonly unschedulable: boolean;
  readonly conditions: readonly NodeCondition[];
  readonly taints: readonly Taint[];
  readonly allocatable: ResourceList;
  readonly nodeInfo: NodeInfo | null;
  /** kube-node-lease/<node> renewTime; null when the Lease is gone or never renewed. */
  readonly leaseRenewTime: string | null;
  /** Seconds from the last renewal to `observedAt`. */
  readonly leaseAgeSeconds: number | null;
  readonly events: readonly NodeEvent[];
  readonly podsOnNode: readonly PodOnNode[];
  /** The controller's own link to the API server when it looked. */
  readonly api: { readonly connected: boolean; readonly lastContactAt: string | null };
  /** How many nodes the cluster has and how many are not Ready right now. */
  readonly cluster: { readonly nodes: number; readonly notReady: number };
}

// ── network ─────────────────────────────────────────────────────────────────

/** One vantage point's layered probe of the node; `result` null when it could not be asked. */
export interface VantageProbe {
  /** Observer node name, or `controller` for the controller's direct probe. */
  readonly observer: string;
  readonly observerIP: string | null;
  readonly result: ProbeResult | null;
  /** Why there is no result (agent unreachable, probe timed out); null with a result. */
  readonly error: string | null;
}

/**
 * Infrastructure reference points probed from the same observers: the node's
 * gateway and the OVN gateway. When they answer while the node does not, the
 * network itself is up (the seed's engineers pinged the OVN gateway for this).
 */
/** An infrastructure address: pinged always, and connected to (L4) when a TCP port is known. */
export interface ReferenceAddress {
  readonly ip: string;
  readonly port?: number;
}

/**
 * Parses `IP` or `IP:PORT` (`[IPv6]:PORT`) as `--gateway`/`--ovn-gateway`
 * take it; null for text that is neither (the caller says what to pass).
 */
export function parseReferenceAddress(text: string): ReferenceAddress | null {
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(text);
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(text);
  const bare6 = /^[0-9A-Fa-f]*:[0-9A-Fa-f:.]*$/.test(text) ? [text, text] : null;
  const m = v6 ?? v4 ?? bare6;
  if (m === null) return null;
  const ip = m[1] ?? '';
  if (v4 !== null && ip.split('.').some((o) => Number(o) > 255)) return null;
  const portText = m[2];
  if (portText === undefined) return { ip };
  const port = Number(portText);
  return port >= 1 && port <= 65_535 ? { ip, port } : null;
}

/** `10.62.0.1`, `10.62.0.1:6443`, `[fd00::1]:6443`. */
export function formatReferenceAddress(a: ReferenceAddress): string {
  const host = a.ip.includes(':') ? `[${a.ip}]` : a.ip;
  return a.port === undefined ? a.ip : `${host}:${a.port}`;
}

export interface ReferenceProbe {
  readonly kind: 'gateway' | 'ovn-gateway';
  readonly target: string;
  readonly observer: string;
  readonly result: ProbeResult | null;
  readonly error: string | null;
}

/** A pod-network (overlay) check towards the node: pinger pod-to-pod or the OVN join address. */
export interface OverlayProbe {
  readonly observer: string;
  readonly target: string;
  readonly kind: 'pod' | 'join';
  readonly ok: boolean;
  readonly detail: string;
  readonly at: string;
}

/**
 * Where the reference points were probed from: the node's `observers` (a
 * probe-references directive to their agents, or the simulator's observers),
 * or the `controller` itself when no observer could be asked or none
 * answered in time (`fallback` says why). `asked`: the observers asked.
 */
export interface ReferenceSource {
  readonly from: 'observers' | 'controller';
  readonly asked: readonly string[];
  readonly fallback: string | null;
}

export interface NetworkData {
  /** The node's InternalIP that every probe targeted. */
  readonly target: string;
  readonly observers: readonly VantageProbe[];
  readonly controller: VantageProbe | null;
  readonly references: readonly ReferenceProbe[];
  /** Absent in evidence stored before it existed (then: read `references[].observer`). */
  readonly referenceSource?: ReferenceSource | null;
  readonly overlay: readonly OverlayProbe[];
}

// ── cloud ───────────────────────────────────────────────────────────────────

/** Nova's power states by name (the API returns numbers; see `novaPowerState`). */
export type PowerState = 'NOSTATE' | 'RUNNING' | 'PAUSED' | 'SHUTDOWN' | 'CRASHED' | 'SUSPENDED';

const NOVA_POWER_STATES: Readonly<Record<number, PowerState>> = {
  0: 'NOSTATE',
  1: 'RUNNING',
  3: 'PAUSED',
  4: 'SHUTDOWN',
  6: 'CRASHED',
  7: 'SUSPENDED',
};

/** `OS-EXT-STS:power_state` as a name; null for a number Nova does not define. */
export function novaPowerState(code: number): PowerState | null {
  return NOVA_POWER_STATES[code] ?? null;
}

/** How Horizon and `openstack server show` print a power state. */
export function powerStateLabel(state: PowerState): string {
  switch (state) {
    case 'NOSTATE':
      return 'NOSTATE';
    case 'RUNNING':
      return 'Running';
    case 'PAUSED':
      return 'Paused';
    case 'SHUTDOWN':
      return 'Shutdown';
    case 'CRASHED':
      return 'Crashed';
    case 'SUSPENDED':
      return 'Suspended';
  }
}

/** One entry of `openstack server event list`: who did what to the instance. */
export interface InstanceAction {
  readonly action: string;
  readonly requestId: string;
  /** Null when Nova itself acted (its power-state sync records `stop` with no user). */
  readonly userId: string | null;
  readonly startTime: string;
  readonly message: string | null;
}

/** A Neutron port of the instance. */
export interface PortState {
  readonly id: string;
  /** ACTIVE, DOWN, BUILD or ERROR. */
  readonly status: string;
  readonly adminStateUp: boolean;
  readonly fixedIPs: readonly string[];
}

/** One `openstack server show --diagnostics` sample (two or more show whether the guest still runs and sends). */
export interface GuestDiagnostics {
  readonly at: string;
  readonly cpuTimeNs: number | null;
  readonly txPackets: number | null;
  readonly rxPackets: number | null;
}

export interface CloudData {
  readonly provider: string;
  readonly instanceId: string;
  /** False when the cloud no longer knows the instance (404). */
  readonly found: boolean;
  readonly name: string | null;
  readonly flavor: string | null;
  /** ACTIVE, SHUTOFF, ERROR, REBOOT, HARD_REBOOT, DELETED, SOFT_DELETED, … */
  readonly status: string | null;
  readonly powerState: PowerState | null;
  readonly taskState: string | null;
  readonly vmState: string | null;
  /** The hypervisor's state: UP, DOWN, MAINTENANCE, UNKNOWN; null when not visible to us. */
  readonly hostStatus: string | null;
  readonly actions: readonly InstanceAction[];
  /** The console log's last lines, saved before any reboot wipes it; null when not captured. */
  readonly consoleLogTail: readonly string[] | null;
  readonly ports: readonly PortState[];
  readonly diagnostics: readonly GuestDiagnostics[];
}

// ── gpu ─────────────────────────────────────────────────────────────────────

export interface GpuSample {
  readonly at: string;
  /** Framebuffer used as a percentage of used + free. */
  readonly usedPct: number;
}

/** One GPU, or one MIG instance of it (DCGM labels `GPU_I_ID`, `GPU_I_PROFILE`). */
export interface GpuSeries {
  readonly gpu: string;
  readonly uuid: string | null;
  readonly migInstance: string | null;
  readonly migProfile: string | null;
  readonly points: readonly GpuSample[];
}

export interface XidCount {
  readonly gpu: string;
  readonly xid: number;
  readonly count: number;
  readonly lastAt: string | null;
}

export interface GpuData {
  /** Where the samples came from: Prometheus (DCGM exporter) or the agent's own samples. */
  readonly origin: 'dcgm' | 'agent';
  readonly series: readonly GpuSeries[];
  readonly xids: readonly XidCount[];
  /** Why these are the agent's samples although Prometheus was configured (it failed, or held nothing). */
  readonly fallback?: string;
}

// ── kernel ──────────────────────────────────────────────────────────────────

export type SignatureCategory = 'gpu' | 'lockup' | 'oom' | 'network' | 'panic';

/** A kernel-log line that matched the signature catalogue. */
export interface KernelSignature {
  /** Catalogue id, e.g. `nvrm-xid-79`, `soft-lockup`, `oom-kill`. */
  readonly id: string;
  readonly category: SignatureCategory;
  readonly title: string;
  /** Wall-clock time of the line; null when the log only had uptime stamps. */
  readonly at: string | null;
  readonly line: string;
  /** `NVRM: Xid` code for GPU signatures, else null. */
  readonly xid: number | null;
  /** The killed process for OOM signatures, else null. */
  readonly process: string | null;
}

export interface KernelData {
  /** The agent's pushed last words, or the console log saved from the cloud. */
  readonly origin: 'agent' | 'console';
  readonly signatures: readonly KernelSignature[];
}

// ── cni ─────────────────────────────────────────────────────────────────────

export interface CniComponent {
  readonly namespace: string;
  readonly pod: string;
  /** ovs-ovn, kube-ovn-cni, kube-ovn-pinger, … */
  readonly component: string;
  readonly node: string;
  readonly restarts: number;
  /** Restarts inside the collector's look-back window (around the outage). */
  readonly restartsInWindow: number;
  readonly lastRestartAt: string | null;
  readonly lastTerminationReason: string | null;
}

export interface CniData {
  readonly plugin: string;
  /** geneve, vxlan, stt; null when not known. */
  readonly tunnel: string | null;
  readonly components: readonly CniComponent[];
}

// ── impact ──────────────────────────────────────────────────────────────────

export interface UsagePct {
  readonly requestsPct: number;
  readonly limitsPct: number;
}

export interface NodeUsage {
  readonly cpu: UsagePct;
  readonly memory: UsagePct;
}

export interface SurvivorUsage {
  readonly node: string;
  /** Null when no sample from before the failure exists. */
  readonly before: NodeUsage | null;
  readonly after: NodeUsage;
}

export interface ImpactData {
  readonly podsDisplaced: number;
  /** The failed node's own requests/limits (% of allocatable) and disk use at last sight. */
  readonly failedNode: {
    readonly node: string;
    readonly usage: NodeUsage;
    readonly diskUsedPct: number | null;
  } | null;
  readonly survivors: readonly SurvivorUsage[];
}

// ── the union ───────────────────────────────────────────────────────────────

export interface EvidenceDataBySource {
  readonly kubernetes: KubernetesData;
  readonly network: NetworkData;
  readonly cloud: CloudData;
  readonly gpu: GpuData;
  readonly kernel: KernelData;
  readonly cni: CniData;
  readonly impact: ImpactData;
}

export interface EvidenceOf<S extends EvidenceSource> {
  readonly source: S;
  /** When the collector finished looking (ISO-8601 UTC). */
  readonly observedAt: string;
  /** How long the collector took. */
  readonly durationMs: number;
  readonly status: EvidenceStatus;
  /** One line for logs and the API, in English. */
  readonly summary: string;
  /** Non-null exactly when `status` is `ok`. */
  readonly data: EvidenceDataBySource[S] | null;
}

export type Evidence = { [S in EvidenceSource]: EvidenceOf<S> }[EvidenceSource];

/** A source that yielded no data, as the classifier and the report cite it. */
export interface MissingEvidence {
  readonly source: EvidenceSource;
  readonly status: Exclude<EvidenceStatus, 'ok'>;
  readonly summary: string;
}

/**
 * The data a source yielded, from the latest `ok` item of that source; null
 * when none was ok. (A later failed attempt does not erase what was seen.)
 */
export function dataOf<S extends EvidenceSource>(
  evidence: readonly Evidence[],
  source: S,
): EvidenceDataBySource[S] | null {
  return latestOk(evidence, source)?.data ?? null;
}

/** The latest `ok` item of a source, or undefined. */
export function latestOk<S extends EvidenceSource>(
  evidence: readonly Evidence[],
  source: S,
): EvidenceOf<S> | undefined {
  let best: EvidenceOf<S> | undefined;
  for (const item of evidence) {
    if (item.source !== source || item.status !== 'ok' || item.data === null) continue;
    if (best === undefined || Date.parse(item.observedAt) >= Date.parse(best.observedAt)) {
      best = item as EvidenceOf<S>;
    }
  }
  return best;
}

/** Every `ok` item of a source, oldest first (kernel signatures are merged from agent and console). */
export function allOk<S extends EvidenceSource>(
  evidence: readonly Evidence[],
  source: S,
): EvidenceOf<S>[] {
  const out: EvidenceOf<S>[] = [];
  for (const item of evidence) {
    if (item.source === source && item.status === 'ok' && item.data !== null) {
      out.push(item as EvidenceOf<S>);
    }
  }
  return out.sort((a, b) => Date.parse(a.observedAt) - Date.parse(b.observedAt));
}

/**
 * Sources with no usable data, in report order: those never collected at all
 * (recorded as `missing`) and those whose every attempt failed (the latest
 * failure is cited).
 */
export function missingEvidence(evidence: readonly Evidence[]): MissingEvidence[] {
  const out: MissingEvidence[] = [];
  for (const source of EVIDENCE_SOURCES) {
    if (latestOk(evidence, source) !== undefined) continue;
    const failures = evidence
      .filter((e) => e.source === source)
      .sort((a, b) => Date.parse(b.observedAt) - Date.parse(a.observedAt));
    const last = failures[0];
    if (last === undefined || last.status === 'ok') {
      out.push({ source, status: 'missing', summary: 'not collected' });
    } else {
      out.push({ source, status: last.status, summary: last.summary });
    }
  }
  return out;
}

/** All probes from the node's vantage points: the observers' and the controller's direct one. */
export function vantageProbes(network: NetworkData): VantageProbe[] {
  return network.controller === null
    ? [...network.observers]
    : [...network.observers, network.controller];
}
