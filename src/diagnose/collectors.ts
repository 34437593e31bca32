/**
 * Evidence collectors (design §5): one per source of src/core/evidence.ts,
 * each `collect(ctx, signal) → Evidence`. A collector reports what its
 * source said — or that the source is absent (`missing`), failed (`error`)
 * or did not answer in time (`timeout`, set by the pipeline) — and never
 * fills a gap with a guess. The pipeline runs them in parallel, each under
 * its own timeout, and aborts `signal` when that timeout passes.
 */
import { predictNodeLoss } from '../core/whatif.ts';
import { percent1 } from '../core/capacity.ts';
import type { ClusterView, NodeSnapshot, PodSnapshot } from '../core/cluster.ts';
import type { Clock } from '../core/clock.ts';
import { parseProviderID, type CloudInstance, type CloudProvider } from '../core/cloud.ts';
import type { ProbeObservation } from '../core/detection.ts';
import { describeError } from '../core/errors.ts';
import type {
  CloudData,
  CniComponent,
  EvidenceDataBySource,
  EvidenceOf,
  EvidenceSource,
  EvidenceStatus,
  GuestDiagnostics,
  KernelSignature,
  NodeUsage,
  ReferenceAddress,
  ReferenceProbe,
  ReferenceSource,
  SignatureCategory,
  SurvivorUsage,
  VantageProbe,
} from '../core/evidence.ts';
import type { Incident } from '../core/incident.ts';
import { probeVerdict, type LayerResult, type Prober, type ProbeResult } from '../core/probe.ts';
import type { ObservationSource } from '../controller/detection-loop.ts';
import { matchKernelLogLine, type SignatureMatch } from '../gpu/kmsg-signatures.ts';
import type { IncidentStore } from '../store/port.ts';
import type { GpuHistory } from './gpu-history.ts';

/** What every collector knows about the diagnosis it serves. */
export interface CollectContext {
  readonly incident: Incident;
  /** The node diagnosed (a node incident's one node). */
  readonly node: string;
  readonly clock: Clock;
  /** Start of the look-back window (epoch ms): GPU history, kernel lines, CNI restarts. */
  readonly fromMs: number;
}

/** A collector yields one item; the kernel collector one per origin (agent, console) that had lines. */
export interface Collector<S extends EvidenceSource = EvidenceSource> {
  readonly source: S;
  collect(
    ctx: CollectContext,
    signal: AbortSignal,
  ): Promise<EvidenceOf<S> | readonly EvidenceOf<S>[]>;
}

/** Builds one evidence item stamped with the clock's time and the time since `startedMs`. */
export function evidenceItem<S extends EvidenceSource>(
  source: S,
  clock: Clock,
  startedMs: number,
  status: EvidenceStatus,
  summary: string,
  data: EvidenceDataBySource[S] | null,
): EvidenceOf<S> {
  const now = clock.now();
  return {
    source,
    observedAt: new Date(now).toISOString(),
    durationMs: Math.max(0, now - startedMs),
    status,
    summary,
    data: status === 'ok' ? data : null,
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

// ── kubernetes ──────────────────────────────────────────────────────────────

/** The Node, its Lease, its events and pods, and the controller's own link, from a ClusterView. */
export function kubernetesCollector(view: ClusterView): Collector<'kubernetes'> {
  return {
    source: 'kubernetes',
    collect(ctx) {
      const started = ctx.clock.now();
      const now = started;
      const node = view.node(ctx.node);
      const lease = view.lease(ctx.node);
      const connection = view.connection();
      const nodes = view.nodes();
      const notReady = nodes.filter((n) => readyOf(n) !== 'True').length;
      const renew = lease?.renewTime ?? null;
      const leaseAgeSeconds =
        renew === null ? null : Math.round((now - Date.parse(renew)) / 100) / 10;
      const events = view
        .events()
        .filter((e) => e.involvedKind === 'Node' && e.involvedName === ctx.node)
        .map((e) => ({
          reason: e.reason,
          message: e.message,
          type: e.type,
          at: e.lastAt ?? e.firstAt,
          count: e.count,
        }));
      const pods = view.podsOnNode(ctx.node).map((p) => ({
        namespace: p.namespace,
        name: p.name,
        phase: p.phase,
        ownerKind: p.ownerKind,
      }));
      const data: EvidenceDataBySource['kubernetes'] = {
        node: ctx.node,
        nodeFound: node !== undefined,
        internalIP: node?.internalIP ?? null,
        providerID: node?.providerID ?? null,
        labels: node?.labels ?? {},
        annotations: node?.annotations ?? {},
        unschedulable: node?.unschedulable ?? false,
        conditions: node?.conditions ?? [],
        taints: node?.taints ?? [],
        allocatable: node?.allocatable ?? {},
        // NodeSnapshot does not carry status.nodeInfo; recorded as unknown.
        nodeInfo: null,
        leaseRenewTime: renew,
        leaseAgeSeconds,
        events,
        podsOnNode: pods,
        api: { connected: connection.connected, lastContactAt: connection.lastContactAt },
        cluster: { nodes: nodes.length, notReady },
      };
      const ready =
        node === undefined ? 'Node object not found' : `Ready=${readyOf(node) ?? 'none'}`;
      const age =
        leaseAgeSeconds === null
          ? 'no Lease renewal'
          : `Lease ${Math.round(leaseAgeSeconds)} s old`;
      const summary = `${ready}, ${age}, ${pods.length} pods on the node${connection.connected ? '' : '; API server unreachable'}`;
      return Promise.resolve(evidenceItem('kubernetes', ctx.clock, started, 'ok', summary, data));
    },
  };
}

function readyOf(node: NodeSnapshot): string | null {
  return node.conditions.find((c) => c.type === 'Ready')?.status ?? null;
}

// ── network ─────────────────────────────────────────────────────────────────

/**
 * Probes an infrastructure address from one observer: the gateway, the OVN
 * gateway — L3, and L4 when the address has a port.
 */
export type ReferencePinger = (
  observer: string,
  address: ReferenceAddress,
  timeoutMs: number,
  signal: AbortSignal,
) => Promise<ProbeResult>;

/**
 * Reference points the node's observers already probed for this diagnosis
 * (the controller's probe-references directive): what each answering
 * observer saw, whom it asked, and why none answered when none did.
 */
export interface ObserverReferences {
  readonly asked: readonly string[];
  readonly probes: readonly ReferenceProbe[];
  /** Why there are no probes (no observer could be asked, none answered in time); null with probes. */
  readonly note: string | null;
}

/** A full (every-layer) result an observer already reported, e.g. MeshObservations.fullResults. */
export interface ReportedResult {
  readonly observer: string;
  /** When it arrived, epoch ms. */
  readonly at: number;
  readonly result: ProbeResult;
}

export interface NetworkSources {
  /** The observers' recent observations of the node (the agent mesh or the simulator's). */
  readonly observations: ObservationSource | null;
  /** Re-probe from an observer now (a probe-now directive; the simulator's probers); null: cannot. */
  readonly probeFrom?: (observer: string) => Prober | null;
  /** Full results observers already reported. */
  readonly reported?: (node: string) => readonly ReportedResult[];
  /** The controller's own prober: a direct probe at diagnosis time. */
  readonly controller?: Prober | null;
  /** An observer's address, for the report; default: its Node's InternalIP. */
  readonly observerIp?: (observer: string) => string | null;
  /** Infrastructure reference points; each is probed from up to `referenceObservers` observers. */
  readonly references?: {
    readonly gateway?: ReferenceAddress | null;
    readonly ovnGateway?: ReferenceAddress | null;
  };
  /**
   * The reference points as the node's observers probed them (asked before
   * the collectors ran). When some answered, these are the evidence and
   * `pinger` is not used; otherwise `pinger` probes them (the fallback).
   */
  readonly observerReferences?: ObserverReferences | null;
  readonly pinger?: ReferencePinger | null;
  /**
   * Where the pinger pings from: `observers` (it can ping from each observer;
   * default) or `here` (only from where this process runs: the results are
   * the controller's, and named so).
   */
  readonly pingerVantage?: 'observers' | 'here';
}

export interface NetworkOptions {
  /** Observations older than this (before the diagnosis) are not the node's current state. */
  readonly windowMs: number;
  /** Per-layer timeout of every probe the collector runs. */
  readonly probeTimeoutMs: number;
  readonly port: number;
  readonly referenceObservers: number;
}

export const DEFAULT_NETWORK_OPTIONS: NetworkOptions = {
  windowMs: 15_000,
  probeTimeoutMs: 3_000,
  port: 10_250,
  referenceObservers: 2,
};

/** The observer name the controller's own probes go under. */
export const CONTROLLER_OBSERVER = 'controller';

/**
 * Layered probes of the node from every vantage point, in order of trust:
 * a fresh probe from the observer now (when it can be asked), else the last
 * full result it reported, else what its observation summary says — the
 * failed layer with its detail, and every other layer `skipped` (not
 * reported), so nothing is claimed that the observer did not report. Plus
 * the controller's direct probe and the reference points.
 */
export function networkCollector(
  view: ClusterView,
  sources: NetworkSources,
  options: Partial<NetworkOptions> = {},
): Collector<'network'> {
  const opts = { ...DEFAULT_NETWORK_OPTIONS, ...options };
  return {
    source: 'network',
    async collect(ctx, signal) {
      const started = ctx.clock.now();
      const ip = view.node(ctx.node)?.internalIP ?? null;
      if (ip === null) {
        return evidenceItem(
          'network',
          ctx.clock,
          started,
          'missing',
          `no InternalIP known for ${ctx.node}: nothing to probe`,
          null,
        );
      }
      const target = { ip, port: opts.port, timeoutMs: opts.probeTimeoutMs };
      const observerIp = sources.observerIp ?? ((o: string) => view.node(o)?.internalIP ?? null);
      const recent = (sources.observations?.observations(ctx.node) ?? []).filter(
        (o) => o.at >= started - opts.windowMs && o.at <= started,
      );
      const latest = new Map<string, ProbeObservation>();
      for (const o of recent) {
        const seen = latest.get(o.observer);
        if (seen === undefined || o.at >= seen.at) latest.set(o.observer, o);
      }
      const hasController = sources.controller !== undefined && sources.controller !== null;
      if (hasController) latest.delete(CONTROLLER_OBSERVER);
      const reported = new Map<string, ReportedResult>();
      for (const r of sources.reported?.(ctx.node) ?? []) {
        if (r.at < started - opts.windowMs) continue;
        const seen = reported.get(r.observer);
        if (seen === undefined || r.at >= seen.at) reported.set(r.observer, r);
      }
      for (const observer of reported.keys()) {
        if (!latest.has(observer) && !(hasController && observer === CONTROLLER_OBSERVER)) {
          latest.set(observer, {
            observer,
            startedAt: 0,
            at: reported.get(observer)?.at ?? 0,
            healthy: false,
            failedLayer: null,
            detail: '',
          });
        }
      }
      const observerNames = [...latest.keys()].sort();
      const vantage = async (observer: string): Promise<VantageProbe> => {
        const address = observerIp(observer);
        const prober = sources.probeFrom?.(observer) ?? null;
        if (prober !== null) {
          try {
            return {
              observer,
              observerIP: address,
              result: await prober.probe(target, signal),
              error: null,
            };
          } catch (error) {
            if (signal.aborted) throw error;
            // Fall through to what the observer reported before.
          }
        }
        const full = reported.get(observer);
        if (full !== undefined)
          return { observer, observerIP: address, result: full.result, error: null };
        const obs = latest.get(observer);
        if (obs === undefined || obs.detail === '') {
          return { observer, observerIP: address, result: null, error: 'no result reported' };
        }
        return { observer, observerIP: address, ...fromSummary(obs, target.ip, target.port) };
      };
      const controllerProbe = async (): Promise<VantageProbe | null> => {
        if (!hasController || sources.controller === null || sources.controller === undefined)
          return null;
        const address = observerIp(CONTROLLER_OBSERVER);
        try {
          return {
            observer: CONTROLLER_OBSERVER,
            observerIP: address,
            result: await sources.controller.probe(target, signal),
            error: null,
          };
        } catch (error) {
          if (signal.aborted) throw error;
          return {
            observer: CONTROLLER_OBSERVER,
            observerIP: address,
            result: null,
            error: describeError(error),
          };
        }
      };
      const [observers, controller, refs] = await Promise.all([
        Promise.all(observerNames.map(vantage)),
        controllerProbe(),
        probeReferences(sources, observerNames, opts, signal),
      ]);
      const data: EvidenceDataBySource['network'] = {
        target: ip,
        observers,
        controller,
        references: refs.probes,
        referenceSource: refs.source,
        overlay: [],
      };
      return evidenceItem('network', ctx.clock, started, 'ok', networkSummary(data), data);
    },
  };
}

/** A probe result holding only what an observation summary states. */
function fromSummary(
  obs: ProbeObservation,
  ip: string,
  port: number,
): { result: ProbeResult | null; error: string | null } {
  if (obs.healthy || obs.failedLayer === null) {
    // A healthy summary does not say which layers answered: cite it, claim nothing.
    return { result: null, error: `observation only (no layer detail): ${obs.detail}` };
  }
  const failed = obs.failedLayer;
  const detail = obs.detail.replace(/^L[2347] failed: /, '');
  const layers: LayerResult[] = (['L2', 'L3', 'L4', 'L7'] as const).map((layer) =>
    layer === failed
      ? { layer, status: 'failed', latencyMs: null, command: `(${obs.observer}'s probe)`, detail }
      : {
          layer,
          status: 'skipped',
          latencyMs: null,
          command: `(${obs.observer}'s probe)`,
          detail: 'not reported',
        },
  );
  return {
    result: {
      target: ip,
      port,
      startedAt: iso(obs.startedAt),
      durationMs: Math.max(0, obs.at - obs.startedAt),
      layers,
      verdict: probeVerdict(layers),
    },
    error: null,
  };
}

/**
 * The reference points: as the observers probed them when any answered
 * (`observerReferences`); else probed now through `pinger` — from up to
 * `referenceObservers` observers when it can probe from them (the
 * simulator), else from here (the controller), saying why.
 */
async function probeReferences(
  sources: NetworkSources,
  observers: readonly string[],
  opts: NetworkOptions,
  signal: AbortSignal,
): Promise<{ probes: ReferenceProbe[]; source: ReferenceSource | null }> {
  const gathered = sources.observerReferences ?? null;
  if (gathered !== null && gathered.probes.length > 0) {
    return {
      probes: [...gathered.probes],
      source: { from: 'observers', asked: gathered.asked, fallback: null },
    };
  }
  const pinger = sources.pinger ?? null;
  const points: { kind: ReferenceProbe['kind']; address: ReferenceAddress }[] = [];
  if (sources.references?.gateway)
    points.push({ kind: 'gateway', address: sources.references.gateway });
  if (sources.references?.ovnGateway)
    points.push({ kind: 'ovn-gateway', address: sources.references.ovnGateway });
  if (pinger === null || points.length === 0) return { probes: [], source: null };
  const fromObservers = observers.length > 0 && sources.pingerVantage !== 'here';
  const from = fromObservers ? observers.slice(0, opts.referenceObservers) : [CONTROLLER_OBSERVER];
  const jobs = points.flatMap((p) =>
    from.map(async (observer): Promise<ReferenceProbe> => {
      const base = { kind: p.kind, target: p.address.ip, observer };
      try {
        const result = await pinger(observer, p.address, opts.probeTimeoutMs, signal);
        return { ...base, result, error: null };
      } catch (error) {
        if (signal.aborted) throw error;
        return { ...base, result: null, error: describeError(error) };
      }
    }),
  );
  const probes = await Promise.all(jobs);
  const source: ReferenceSource = fromObservers
    ? { from: 'observers', asked: from, fallback: null }
    : {
        from: 'controller',
        asked: gathered?.asked ?? [],
        fallback: gathered?.note ?? 'the observers cannot be asked to probe reference points here',
      };
  return { probes, source };
}

function networkSummary(data: EvidenceDataBySource['network']): string {
  const all = data.controller === null ? data.observers : [...data.observers, data.controller];
  const withResult = all.filter((v) => v.result !== null);
  const healthy = withResult.filter((v) => v.result?.verdict.healthy === true).length;
  const failedAt = new Set(
    withResult.map((v) => v.result?.verdict.failedLayer).filter((l) => l != null),
  );
  const refs = data.references.filter((r) => r.result !== null);
  const refsOk = refs.filter((r) => r.result?.verdict.healthy === true).length;
  const who = `${data.observers.length} observers${data.controller === null ? '' : ' and the controller'}`;
  const state =
    withResult.length === 0
      ? 'no probe result'
      : healthy === 0
        ? `failing from every vantage point (lowest failed layer: ${[...failedAt].sort().join('/') || 'none tested'})`
        : `${healthy}/${withResult.length} vantage points reach it`;
  const src = data.referenceSource;
  const refFrom =
    src === null || src === undefined
      ? ''
      : src.from === 'observers'
        ? ` from ${new Set(refs.map((r) => r.observer)).size} observers`
        : ' from the controller';
  const refText =
    refs.length === 0 ? '' : `; reference points answered ${refsOk}/${refs.length}${refFrom}`;
  return `${data.target} ${state}, from ${who}${refText}`;
}

// ── cloud ───────────────────────────────────────────────────────────────────

/**
 * The console log, captured once per diagnosis and shared by the cloud and
 * kernel collectors: it is read at once because a hard reboot wipes it.
 */
export class ConsoleCapture {
  private pending: Promise<ConsoleResult> | null = null;

  constructor(
    private readonly cloud: CloudProvider | null,
    private readonly view: ClusterView,
    private readonly lines = 200,
  ) {}

  get(node: string): Promise<ConsoleResult> {
    this.pending ??= this.read(node);
    return this.pending;
  }

  private async read(node: string): Promise<ConsoleResult> {
    if (this.cloud === null) return { ok: false, status: 'missing', reason: 'no cloud configured' };
    const providerID = this.view.node(node)?.providerID ?? null;
    if (providerID === null)
      return { ok: false, status: 'missing', reason: `${node} has no providerID` };
    try {
      const { serverId } = parseProviderID(providerID);
      const text = await this.cloud.consoleLog(serverId, this.lines);
      return { ok: true, text };
    } catch (error) {
      return { ok: false, status: 'error', reason: `console log: ${describeError(error)}` };
    }
  }
}

export type ConsoleResult =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly status: 'missing' | 'error'; readonly reason: string };

export interface CloudOptions {
  /** Console lines kept in the evidence (the newest). */
  readonly consoleTailLines: number;
  /** Diagnostics samples taken (two or more show whether the guest still sends). */
  readonly diagnosticsSamples: number;
  readonly diagnosticsIntervalMs: number;
  /** Instance actions at or after this long before the last heartbeat are read; older ones are not needed. */
  readonly actionsLookbackMs: number | null;
}

export const DEFAULT_CLOUD_OPTIONS: CloudOptions = {
  consoleTailLines: 40,
  diagnosticsSamples: 2,
  diagnosticsIntervalMs: 2_000,
  actionsLookbackMs: null,
};

/**
 * The VM behind the node's providerID: instance, actions, ports, console
 * tail, diagnostics. Instance and actions are essential (without actions a
 * stop could go unseen): when either fails, the item is `error`. Console,
 * ports and diagnostics may be refused by policy: they are left empty.
 */
export function cloudCollector(
  cloud: CloudProvider | null,
  view: ClusterView,
  console: ConsoleCapture,
  options: Partial<CloudOptions> = {},
): Collector<'cloud'> {
  const opts = { ...DEFAULT_CLOUD_OPTIONS, ...options };
  return {
    source: 'cloud',
    async collect(ctx, signal) {
      const started = ctx.clock.now();
      const fail = (status: EvidenceStatus, summary: string): EvidenceOf<'cloud'> =>
        evidenceItem('cloud', ctx.clock, started, status, summary, null);
      if (cloud === null) return fail('missing', 'no cloud configured');
      const providerID = view.node(ctx.node)?.providerID ?? null;
      if (providerID === null) return fail('missing', `${ctx.node} has no spec.providerID`);
      let serverId: string;
      try {
        serverId = parseProviderID(providerID).serverId;
      } catch (error) {
        return fail('error', describeError(error));
      }
      // Asked first and at once: a reboot started by anyone wipes it.
      const consoleText = console.get(ctx.node);
      let instance: CloudInstance | null;
      try {
        instance = await cloud.instance(providerID);
      } catch (error) {
        return fail('error', `instance ${serverId}: ${describeError(error)}`);
      }
      if (instance === null) {
        const data: CloudData = {
          provider: 'openstack',
          instanceId: serverId,
          found: false,
          name: null,
          flavor: null,
          status: null,
          powerState: null,
          taskState: null,
          vmState: null,
          hostStatus: null,
          actions: [],
          consoleLogTail: null,
          ports: [],
          diagnostics: [],
        };
        return evidenceItem(
          'cloud',
          ctx.clock,
          started,
          'ok',
          `instance ${serverId} not found`,
          data,
        );
      }
      let actions;
      try {
        const since =
          opts.actionsLookbackMs === null ? undefined : iso(ctx.fromMs - opts.actionsLookbackMs);
        actions = await cloud.instanceActions(serverId, since);
      } catch (error) {
        return fail('error', `instance actions of ${serverId}: ${describeError(error)}`);
      }
      const notes: string[] = [];
      const ports = await cloud.ports(serverId).catch((error: unknown) => {
        notes.push(`ports: ${describeError(error)}`);
        return [];
      });
      const diagnostics: GuestDiagnostics[] = [];
      for (let i = 0; i < opts.diagnosticsSamples; i++) {
        if (i > 0) await ctx.clock.sleep(opts.diagnosticsIntervalMs, signal);
        try {
          const d = await cloud.diagnostics(serverId);
          const sum = (pick: (n: (typeof d.nics)[number]) => number | null): number | null =>
            d.nics.length === 0 || d.nics.some((n) => pick(n) === null)
              ? null
              : d.nics.reduce((t, n) => t + (pick(n) ?? 0), 0);
          diagnostics.push({
            at: iso(ctx.clock.now()),
            cpuTimeNs: null,
            txPackets: sum((n) => n.txPackets),
            rxPackets: sum((n) => n.rxPackets),
          });
        } catch (error) {
          notes.push(`diagnostics: ${describeError(error)}`);
          break;
        }
      }
      const consoleResult = await consoleText;
      const consoleLogTail = consoleResult.ok
        ? trimTail(consoleResult.text.split('\n'), opts.consoleTailLines)
        : null;
      if (!consoleResult.ok) notes.push(consoleResult.reason);
      const data: CloudData = {
        provider: 'openstack',
        instanceId: instance.id,
        found: true,
        name: instance.name === '' ? null : instance.name,
        flavor: null,
        status: instance.status,
        powerState: instance.powerState,
        taskState: instance.taskState,
        vmState: instance.vmState,
        hostStatus: instance.hostStatus,
        actions: actions.map((a) => ({
          action: a.action,
          requestId: a.requestId,
          userId: a.userId,
          startTime: a.startTime,
          message: a.message,
        })),
        consoleLogTail,
        ports: ports.map((p) => ({
          id: p.id,
          status: p.status,
          adminStateUp: p.adminStateUp,
          fixedIPs: p.fixedIps.map((f) => f.ipAddress),
        })),
        diagnostics,
      };
      const stops = actions.filter((a) =>
        ['stop', 'shutoff', 'delete', 'shelve', 'suspend', 'pause'].includes(a.action),
      );
      const summary =
        `Nova: ${instance.status}/${instance.powerState}` +
        (instance.hostStatus === null ? '' : `, host ${instance.hostStatus}`) +
        `, ${actions.length} action${actions.length === 1 ? '' : 's'}` +
        (stops.length === 0
          ? ' (no stop/shutoff)'
          : ` (${stops.map((a) => a.action).join(', ')})`) +
        `, ${ports.length} port${ports.length === 1 ? '' : 's'}` +
        `, console log ${consoleLogTail === null ? 'not captured' : `captured (${consoleLogTail.length} lines)`}` +
        (notes.length === 0 ? '' : `; ${notes.join('; ')}`);
      return evidenceItem('cloud', ctx.clock, started, 'ok', summary, data);
    },
  };
}

function trimTail(lines: readonly string[], n: number): string[] {
  const out = [...lines];
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out.slice(-n);
}

// ── gpu ─────────────────────────────────────────────────────────────────────

/** GPU memory series over the look-back window, from a GpuHistory. */
export function gpuCollector(history: GpuHistory | null): Collector<'gpu'> {
  return {
    source: 'gpu',
    async collect(ctx, signal) {
      const started = ctx.clock.now();
      if (history === null) {
        return evidenceItem(
          'gpu',
          ctx.clock,
          started,
          'missing',
          'no GPU history configured',
          null,
        );
      }
      const data = await history.series(ctx.node, ctx.fromMs, started, signal);
      if (data === null) {
        return evidenceItem(
          'gpu',
          ctx.clock,
          started,
          'missing',
          `no GPU samples for ${ctx.node} in the window`,
          null,
        );
      }
      const parts = data.series.map((s) => {
        const first = s.points[0];
        const max = Math.max(...s.points.map((p) => p.usedPct));
        const name = s.migInstance === null ? `GPU ${s.gpu}` : `GPU ${s.gpu} MIG ${s.migInstance}`;
        return first === undefined ? name : `${name} ${first.usedPct}%→max ${max}%`;
      });
      const xid =
        data.xids.length === 0
          ? 'no Xid'
          : data.xids.map((x) => `Xid ${x.xid}×${x.count} on GPU ${x.gpu}`).join(', ');
      const from = data.origin === 'dcgm' ? 'Prometheus (DCGM)' : 'agent samples';
      const summary =
        `${from}: ${data.series.length} series (${parts.join('; ')}); ${xid}` +
        (data.fallback === undefined ? '' : `; ${data.fallback}`);
      return evidenceItem('gpu', ctx.clock, started, 'ok', summary, data);
    },
  };
}

// ── kernel ──────────────────────────────────────────────────────────────────

/** The catalogue's categories, as the evidence model names them (storage lines are not a node-death cause here). */
function categoryOf(match: SignatureMatch): SignatureCategory | null {
  switch (match.category) {
    case 'gpu':
      return 'gpu';
    case 'oom':
      return 'oom';
    case 'network':
      return 'network';
    case 'kernel':
      return match.id === 'kernel.panic' || match.id === 'kernel.oops' ? 'panic' : 'lockup';
    case 'storage':
      return null;
  }
}

function signatureOf(raw: string, fallbackAt: string | null): KernelSignature | null {
  const matched = matchKernelLogLine(raw);
  if (matched?.match == null) return null;
  const category = categoryOf(matched.match);
  if (category === null) return null;
  const detail = matched.match.detail;
  const at = matched.line.wallMs !== null ? iso(matched.line.wallMs) : fallbackAt;
  return {
    id: matched.match.id,
    category,
    title: matched.match.title,
    at,
    line: raw,
    xid: typeof detail['xid'] === 'number' ? detail['xid'] : null,
    process: category === 'oom' && typeof detail['process'] === 'string' ? detail['process'] : null,
  };
}

/**
 * Lines in a `kernel-log` blob: `{ line, at? }`, `{ lines: [string | { line, at? }] }`,
 * or what the agent pushes (src/agent/last-words.ts): `{ events: [{ kind: 'match',
 * text, at }, { kind: 'gap', … }] }` — gaps carry no line.
 * A line's time is its own wall-clock stamp, else the `at` the agent gave
 * it, else the blob's (when the agent pushed it: the latest it can be).
 */
function linesOf(data: unknown, blobAt: string): { line: string; at: string }[] {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return [];
  const o = data as Record<string, unknown>;
  const one = (v: unknown): { line: string; at: string } | null => {
    if (typeof v === 'string') return { line: v, at: blobAt };
    if (v === null || typeof v !== 'object') return null;
    const e = v as Record<string, unknown>;
    if (typeof e['line'] !== 'string') return null;
    const at =
      typeof e['at'] === 'string' && Number.isFinite(Date.parse(e['at'])) ? e['at'] : blobAt;
    return { line: e['line'], at };
  };
  if (Array.isArray(o['lines']))
    return (o['lines'] as unknown[]).map(one).filter((x) => x !== null);
  if (Array.isArray(o['events'])) {
    return (o['events'] as unknown[])
      .map((v) => {
        if (v === null || typeof v !== 'object') return null;
        const e = v as Record<string, unknown>;
        return e['kind'] === 'match' ? one({ line: e['text'], at: e['at'] }) : null;
      })
      .filter((x) => x !== null);
  }
  const single = one(o);
  return single === null ? [] : [single];
}

/**
 * Kernel-log signatures from the agent's last words (kind `kernel-log`) and
 * from the console log the cloud collector captured. One item per origin
 * that had lines; when neither had any, one item says why for both.
 * Console lines carry uptime stamps only: their `at` is null (cited, never
 * used to reclassify).
 */
export function kernelCollector(
  lastWords: Pick<IncidentStore, 'lastWords'> | null,
  console: ConsoleCapture | null,
): Collector<'kernel'> {
  const collectAll = async (ctx: CollectContext): Promise<EvidenceOf<'kernel'>[]> => {
    const started = ctx.clock.now();
    const why: string[] = [];
    const items: EvidenceOf<'kernel'>[] = [];
    let failed = false;
    if (lastWords === null) why.push('no store of agent last words');
    else {
      try {
        const blobs = (await lastWords.lastWords(ctx.node, iso(ctx.fromMs))).filter(
          (b) => b.kind === 'kernel-log',
        );
        const lines = blobs.flatMap((b) => linesOf(b.data, b.at));
        if (lines.length === 0) why.push('no agent last words for this node');
        else {
          const signatures = lines.map((l) => signatureOf(l.line, l.at)).filter((s) => s !== null);
          items.push(
            evidenceItem(
              'kernel',
              ctx.clock,
              started,
              'ok',
              `agent last words: ${lines.length} lines, ${signatures.length} signatures${signatures.length ? ` (${[...new Set(signatures.map((s) => s.id))].join(', ')})` : ''}`,
              { origin: 'agent', signatures },
            ),
          );
        }
      } catch (error) {
        failed = true;
        why.push(`last words: ${describeError(error)}`);
      }
    }
    if (console === null) why.push('no console log source');
    else {
      const result = await console.get(ctx.node);
      if (!result.ok) {
        if (result.status === 'error') failed = true;
        why.push(result.reason);
      } else {
        const lines = result.text.split('\n').filter((l) => l.trim() !== '');
        const signatures = lines.map((l) => signatureOf(l, null)).filter((s) => s !== null);
        items.push(
          evidenceItem(
            'kernel',
            ctx.clock,
            started,
            'ok',
            `console log: ${lines.length} lines, ${signatures.length} signatures${signatures.length ? ` (${[...new Set(signatures.map((s) => s.id))].join(', ')})` : ''}`,
            { origin: 'console', signatures },
          ),
        );
      }
    }
    if (items.length > 0) return items;
    return [
      evidenceItem(
        'kernel',
        ctx.clock,
        started,
        failed ? 'error' : 'missing',
        why.join('; '),
        null,
      ),
    ];
  };
  return { source: 'kernel', collect: collectAll };
}

// ── cni ─────────────────────────────────────────────────────────────────────

/** Kube-OVN's per-node components: the CNI server, OVS/OVN and the pinger. */
export const KUBE_OVN_COMPONENTS: readonly string[] = [
  'kube-ovn-cni',
  'ovs-ovn',
  'kube-ovn-pinger',
];

/**
 * Kube-OVN component pods on the node and their restarts. `restartsInWindow`
 * is a lower bound (1 when the last restart fell in the window, else 0):
 * a pod's status keeps only its last termination.
 */
export function cniCollector(
  view: ClusterView,
  tunnel: string | null = 'geneve',
): Collector<'cni'> {
  return {
    source: 'cni',
    collect(ctx) {
      const started = ctx.clock.now();
      const pods = view.podsOnNode(ctx.node).filter((p) => componentOf(p) !== null);
      if (pods.length === 0) {
        return Promise.resolve(
          evidenceItem(
            'cni',
            ctx.clock,
            started,
            'missing',
            `no Kube-OVN component pods on ${ctx.node}`,
            null,
          ),
        );
      }
      if (pods.some((p) => p.restarts === undefined)) {
        return Promise.resolve(
          evidenceItem(
            'cni',
            ctx.clock,
            started,
            'missing',
            'the cluster view carries no container restart counts',
            null,
          ),
        );
      }
      const components: CniComponent[] = pods.map((p) => {
        const r = p.restarts ?? { count: 0, lastRestartAt: null, lastTerminationReason: null };
        const inWindow = r.lastRestartAt !== null && Date.parse(r.lastRestartAt) >= ctx.fromMs;
        return {
          namespace: p.namespace,
          pod: p.name,
          component: componentOf(p) ?? p.name,
          node: ctx.node,
          restarts: r.count,
          restartsInWindow: inWindow ? 1 : 0,
          lastRestartAt: r.lastRestartAt,
          lastTerminationReason: r.lastTerminationReason,
        };
      });
      const restarted = components.filter((c) => c.restartsInWindow > 0);
      const summary = `kube-ovn: ${components.length} components on the node, ${
        restarted.length === 0
          ? 'no restarts around the outage'
          : `restarted around the outage: ${restarted.map((c) => c.component).join(', ')}`
      }`;
      return Promise.resolve(
        evidenceItem('cni', ctx.clock, started, 'ok', summary, {
          plugin: 'kube-ovn',
          tunnel,
          components,
        }),
      );
    },
  };
}

function componentOf(pod: PodSnapshot): string | null {
  const name = pod.ownerKind === 'DaemonSet' && pod.ownerName !== null ? pod.ownerName : pod.name;
  return KUBE_OVN_COMPONENTS.find((c) => name === c || name.startsWith(`${c}-`)) ?? null;
}

// ── impact ──────────────────────────────────────────────────────────────────

/**
 * Pods displaced and the survivors' requests/limits, through the capacity
 * model (src/core/whatif.ts). While the failed node still holds its pods
 * (the usual case at incident open: eviction waits 300 s), `after` is the
 * model's prediction of where Kubernetes will put them; once they have been
 * evicted, `after` is what the survivors hold now and `before` is unknown.
 */
export function impactCollector(view: ClusterView): Collector<'impact'> {
  return {
    source: 'impact',
    collect(ctx) {
      const started = ctx.clock.now();
      const nodes = view.nodes();
      if (view.node(ctx.node) === undefined) {
        return Promise.resolve(
          evidenceItem(
            'impact',
            ctx.clock,
            started,
            'missing',
            `${ctx.node} is not in the cluster view: nothing to predict from`,
            null,
          ),
        );
      }
      const pods = view.pods();
      const prediction = predictNodeLoss(nodes, pods, [ctx.node]);
      const displaced =
        prediction.placements.length + prediction.pending.length + prediction.lost.length;
      const usage = (c: (typeof prediction.failedBefore)[number]): NodeUsage => {
        const use = (r: string) => c.resources.find((x) => x.resource === r);
        const pct = (v: number | null | undefined): number => percent1(v ?? 0);
        return {
          cpu: { requestsPct: pct(use('cpu')?.requestsPct), limitsPct: pct(use('cpu')?.limitsPct) },
          memory: {
            requestsPct: pct(use('memory')?.requestsPct),
            limitsPct: pct(use('memory')?.limitsPct),
          },
        };
      };
      const failed = prediction.failedBefore[0];
      const predicted = displaced > 0;
      const survivors: SurvivorUsage[] = prediction.survivors.map((s) => ({
        node: s.node,
        before: predicted ? usage(s.before) : null,
        after: usage(s.after),
      }));
      const limits = survivors.map((s) => s.after.cpu.limitsPct);
      const range =
        limits.length === 0
          ? ''
          : `; survivors at CPU limits ${Math.min(...limits)}-${Math.max(...limits)}%`;
      const summary = predicted
        ? `${displaced} pods to be displaced (${prediction.pending.length} will stay Pending, ${prediction.lost.length} lost), predicted by the capacity model${range}`
        : `no evictable pod left on the node (already moved, or none)${range}`;
      return Promise.resolve(
        evidenceItem('impact', ctx.clock, started, 'ok', summary, {
          podsDisplaced: displaced,
          failedNode:
            failed === undefined
              ? null
              : { node: failed.node, usage: usage(failed), diskUsedPct: null },
          survivors,
        }),
      );
    },
  };
}
