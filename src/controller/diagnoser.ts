/**
 * The controller's diagnosis: the moment an incident opens, gather every
 * source the controller has — its cluster view, a probe-now from every
 * observer of the node (their fresh L2–L7 results), its own direct probe,
 * the cloud, the agents' last words in the store, GPU history (Prometheus
 * when configured, else the agents' samples) — run the pipeline, and keep
 * the result with the incident: the evidence as a `diagnose` audit record
 * (what `nodewarden report` renders from), the root cause on the incident, a
 * timeline entry, and optionally the en/ko/json report files. Listeners
 * (remediation) hear of every verdict. Asked again, it diagnoses again.
 *
 * Rules:
 * - one diagnosis per incident at a time; a request while one runs waits
 *   for it and returns its result;
 * - every store write re-checks leadership (a replica that lost the Lease
 *   mid-diagnosis writes nothing);
 * - a failed diagnosis is logged and recorded as an audit record with result
 *   `failed` (what failed and why), never retried in a loop.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterView } from '../core/cluster.ts';
import type { CloudProvider } from '../core/cloud.ts';
import { describeError, NodeWardenError } from '../core/errors.ts';
import type { Incident } from '../core/incident.ts';
import type { Logger } from '../core/logger.ts';
import { probeVerdict, type Prober, type ProbeResult } from '../core/probe.ts';
import type { NetworkSources, ObserverReferences, ReportedResult } from '../diagnose/collectors.ts';
import {
  parseReferenceAddress,
  type ReferenceAddress,
  type ReferenceProbe,
} from '../core/evidence.ts';
import type { GpuHistory } from '../diagnose/gpu-history.ts';
import { probeReference } from '../probe/reference-probe.ts';
import { LIMITS, type ReferencePoint } from '../agent/protocol.ts';
import type { ReceivedReference } from './references.ts';
import { adHocIncident, diagnose, type Diagnosis } from '../diagnose/pipeline.ts';
import { DIAGNOSIS_ACTION, recordDiagnosis } from '../diagnose/stored.ts';
import type { IncidentStore } from '../store/port.ts';
import type { AgentMesh, ReceivedResult } from './mesh.ts';
import type { ObservationSource } from './detection-loop.ts';

export interface DiagnoserOptions {
  /** IANA zone of report times. */
  readonly zone: string;
  /** Who the audit records name, e.g. `controller/<identity>`. */
  readonly actor: string;
  /** How long to wait for the observers' probe-now answers before collecting anyway. */
  readonly probeNowWaitMs: number;
  /** Per-layer timeout of the collector's own probes. */
  readonly probeTimeoutMs: number;
  /**
   * The node's gateway and the OVN gateway: probed by up to
   * `referenceObservers` observers of the node (a probe-references
   * directive), by the controller itself when none answers.
   */
  readonly references: {
    readonly gateway: ReferenceAddress | null;
    readonly ovnGateway: ReferenceAddress | null;
  };
  /** How many observers are asked to probe the reference points (one per zone first). */
  readonly referenceObservers: number;
  /** Where en/ko/json report files go; null: none written (the store keeps the evidence). */
  readonly reportDir: string | null;
  /** The kubelet port probed at L4/L7. */
  readonly kubeletPort: number;
}

export const DEFAULT_DIAGNOSER_OPTIONS: Omit<DiagnoserOptions, 'actor'> = {
  zone: 'Asia/Seoul',
  probeNowWaitMs: 5_000,
  probeTimeoutMs: 3_000,
  references: { gateway: null, ovnGateway: null },
  referenceObservers: 3,
  reportDir: null,
  kubeletPort: 10_250,
};

export interface DiagnoserSources {
  readonly view: ClusterView;
  readonly mesh: AgentMesh | null;
  /** Every observation the detection loop sees (the mesh and the controller's own probes). */
  readonly observations: ObservationSource | null;
  readonly prober: Prober | null;
  readonly cloud: CloudProvider | null;
  readonly gpu: GpuHistory | null;
  readonly store: IncidentStore;
}

/** What listeners (the remediation engine) hear when a verdict is known. */
export interface VerdictEvent {
  readonly incident: Incident;
  readonly diagnosis: Diagnosis;
  /** The audit record the evidence was kept in; null for an ad-hoc diagnosis (no incident). */
  readonly auditId: string | null;
  /** Report files written, when a report directory is configured. */
  readonly files: { readonly en: string; readonly ko: string; readonly json: string } | null;
  /** `open` for the diagnosis at incident open, `asked` for a later one. */
  readonly trigger: 'open' | 'asked';
}

export type VerdictListener = (event: VerdictEvent) => void;

/** Kubernetes' well-known zone label: reference observers are spread across its values. */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** An observer's answer for one reference point as evidence (times on the controller's clock). */
export function referenceProbe(observer: string, r: ReceivedReference): ReferenceProbe {
  const layers = r.layers.map((l) => ({ ...l }));
  return {
    kind: r.kind,
    target: r.ip,
    observer,
    result: {
      target: r.ip,
      port: r.port ?? 0,
      startedAt: new Date(r.startedAt).toISOString(),
      durationMs: r.durationMs,
      layers,
      verdict: probeVerdict(layers),
    },
    error: null,
  };
}

/** A WireResult as the pipeline's ProbeResult (times on the controller's clock). */
export function reportedResult(r: ReceivedResult, port: number): ReportedResult {
  const layers = r.result.layers.map((l) => ({ ...l }));
  const result: ProbeResult = {
    target: r.result.ip,
    port,
    startedAt: new Date(r.startedAt).toISOString(),
    durationMs: r.result.durationMs,
    layers,
    verdict: probeVerdict(layers),
  };
  return { observer: r.observer, at: r.receivedAt, result };
}

export class IncidentDiagnoser {
  readonly #running = new Map<string, Promise<VerdictEvent>>();
  readonly #listeners = new Set<VerdictListener>();
  #stopped = false;

  constructor(
    private readonly sources: DiagnoserSources,
    private readonly options: DiagnoserOptions,
    private readonly log: Logger,
    private readonly assertLeader: (action: string) => void,
  ) {}

  /** Calls `listener` with every verdict; returns the unsubscribe function. */
  onVerdict(listener: VerdictListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts the diagnosis of an incident that just opened; errors are logged, never thrown. */
  opened(incident: Incident): void {
    if (this.#stopped) return;
    void this.#diagnose(incident, 'open').catch(() => undefined);
  }

  /** Diagnoses a stored incident again (open or resolved); NOT_FOUND for an unknown id. */
  async again(incidentId: string): Promise<VerdictEvent> {
    const incident = await this.sources.store.getIncident(incidentId);
    return this.#diagnose(incident, 'asked');
  }

  /**
   * Diagnoses a node now: its open incident when it has one (kept with it),
   * else an ad-hoc incident that is not stored.
   */
  async node(node: string): Promise<VerdictEvent> {
    if (this.sources.view.node(node) === undefined) {
      throw new NodeWardenError('NOT_FOUND', `node ${node} is not in the cluster`, {
        hint: 'use the name kubectl get nodes prints',
      });
    }
    const open = await this.sources.store.findOpenIncident(node);
    if (open !== null && open.kind === 'node') return this.#diagnose(open, 'asked');
    const heartbeat = this.sources.view.lease(node)?.renewTime ?? null;
    return this.#diagnose(adHocIncident(node, heartbeat, new Date()), 'asked', false);
  }

  /** Diagnoses in flight (for shutdown and tests). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#running.values()]);
  }

  stop(): void {
    this.#stopped = true;
  }

  #diagnose(
    incident: Incident,
    trigger: VerdictEvent['trigger'],
    keep = true,
  ): Promise<VerdictEvent> {
    const running = this.#running.get(incident.id);
    if (running !== undefined) return running;
    const job = this.#run(incident, trigger, keep).finally(() => this.#running.delete(incident.id));
    this.#running.set(incident.id, job);
    return job;
  }

  async #run(
    incident: Incident,
    trigger: VerdictEvent['trigger'],
    keep: boolean,
  ): Promise<VerdictEvent> {
    const { store } = this.sources;
    const started = performance.now();
    const node = incident.nodes[0] ?? '';
    this.log.log('info', 'diagnosis started', { incident: incident.id, node, trigger });
    try {
      // The probe-now request goes out at once; the reference points need the node's last
      // words first, and their observers' answers are awaited beside it.
      const [, { points, references }] =
        incident.kind === 'node'
          ? await Promise.all([
              this.#probeNow(node),
              this.#referencePoints(node).then(async (found) => ({
                points: found,
                references: await this.#observerReferences(node, found),
              })),
            ])
          : [undefined, { points: this.options.references, references: null }];
      const diagnosis = await diagnose(
        incident,
        {
          cluster: this.sources.view,
          network: this.#network(references, points),
          cloud: this.sources.cloud,
          gpu: this.sources.gpu,
          lastWords: store,
        },
        {
          zone: this.options.zone,
          network: { probeTimeoutMs: this.options.probeTimeoutMs, port: this.options.kubeletPort },
          onStep: (source, status, ms, summary) => {
            if (status !== 'started')
              this.log.log('info', 'diagnosis step', {
                incident: incident.id,
                source,
                status,
                ms,
                summary,
              });
          },
        },
      );
      const v = diagnosis.verdict;
      let auditId: string | null = null;
      if (keep) {
        this.assertLeader(`record the diagnosis of ${incident.id}`);
        auditId = (await recordDiagnosis(store, incident, diagnosis, this.options.actor)).id;
        this.assertLeader(`set the root cause of ${incident.id}`);
        await store.updateIncident(incident.id, { rootCause: v.rootCause });
        await store.appendTimeline(incident.id, [
          {
            at: v.decidedAt,
            kind: 'diagnosis',
            node,
            message: `root cause ${v.rootCause} (confidence ${v.confidence}, rule ${v.rule}) from ${diagnosis.evidence.length} evidence items in ${(diagnosis.totalMs / 1000).toFixed(1)} s${v.missing.length === 0 ? '' : `; missing: ${v.missing.map((m) => `${m.source} (${m.status})`).join(', ')}`}`,
          },
        ]);
      }
      const files = await this.#writeReports(incident, diagnosis);
      const event: VerdictEvent = { incident, diagnosis, auditId, files, trigger };
      this.log.log('warn', 'incident diagnosed', {
        incident: incident.id,
        node,
        rootCause: v.rootCause,
        confidence: v.confidence,
        rule: v.rule,
        seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
        sinceOpenSeconds: Number(((Date.now() - Date.parse(incident.openedAt)) / 1000).toFixed(1)),
        timings: Object.fromEntries(
          diagnosis.timings.map((t) => [t.source, `${t.status} ${t.ms} ms`]),
        ),
        ...(files === null ? {} : { report: files.en }),
      });
      for (const listener of this.#listeners) {
        try {
          listener(event);
        } catch (error) {
          this.log.log('error', 'verdict listener failed', {
            incident: incident.id,
            error: describeError(error),
          });
        }
      }
      return event;
    } catch (error) {
      this.log.log('error', 'diagnosis failed', {
        incident: incident.id,
        error: describeError(error),
      });
      if (keep) await this.#recordFailure(incident, error, performance.now() - started);
      throw error;
    }
  }

  async #recordFailure(incident: Incident, error: unknown, ms: number): Promise<void> {
    try {
      this.assertLeader(`record the failed diagnosis of ${incident.id}`);
      const previous = (await this.sources.store.listAudit(incident.id)).length;
      await this.sources.store.appendAudit({
        id: `${incident.id}-diagnose-failed-${previous + 1}`,
        incidentId: incident.id,
        at: new Date().toISOString(),
        actor: this.options.actor,
        action: `${DIAGNOSIS_ACTION}-failed`,
        reason: describeError(error),
        evidence: null,
        result: 'failed',
        durationMs: Math.round(ms),
      });
    } catch (inner) {
      this.log.log('error', 'could not record the failed diagnosis', {
        incident: incident.id,
        error: describeError(inner),
      });
    }
  }

  /**
   * Asks every observer of the node for a full probe now and waits (bounded)
   * for their answers, so the evidence is of this moment, not of the last
   * periodic full probe.
   */
  async #probeNow(node: string): Promise<void> {
    const mesh = this.sources.mesh;
    if (mesh === null) return;
    let id: string;
    try {
      id = mesh.requestProbeNow(node).id;
    } catch (error) {
      this.log.log('info', 'no probe-now for the diagnosis', { node, error: describeError(error) });
      return;
    }
    const deadline = Date.now() + this.options.probeNowWaitMs;
    while (Date.now() < deadline) {
      const status = mesh.probeNow.status(id);
      if (status === undefined || status.pending.length === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = mesh.probeNow.status(id);
    this.log.log('info', 'probe-now: some observers did not answer in time', {
      node,
      waitedMs: this.options.probeNowWaitMs,
      pending: status?.pending ?? [],
    });
  }

  /**
   * Asks up to `referenceObservers` observers of the node (heard from
   * lately, one per zone first) to probe the reference points now, and waits
   * (bounded, beside the probe-now wait) for their answers. Null when no
   * reference point is configured; otherwise what was asked and answered,
   * with a note when nothing came back (the collector then probes them from
   * the controller and records why).
   */
  async #observerReferences(
    node: string,
    references: DiagnoserOptions['references'],
  ): Promise<ObserverReferences | null> {
    const { gateway, ovnGateway } = references;
    const points: ReferencePoint[] = [
      ...(gateway === null ? [] : [{ kind: 'gateway' as const, ...gateway }]),
      ...(ovnGateway === null ? [] : [{ kind: 'ovn-gateway' as const, ...ovnGateway }]),
    ];
    if (points.length === 0) return null;
    const mesh = this.sources.mesh;
    if (mesh === null)
      return {
        asked: [],
        probes: [],
        note: 'no agents: the controller runs without the agent API',
      };
    const { min, max } = LIMITS.referenceTimeoutMs;
    const timeoutMs = Math.min(max, Math.max(min, this.options.probeTimeoutMs));
    let id: string;
    let asked: readonly string[];
    try {
      const status = mesh.requestReferences(node, points, timeoutMs, {
        max: this.options.referenceObservers,
        zoneOf: (o) => this.sources.view.node(o)?.labels[ZONE_LABEL] ?? null,
      });
      id = status.id;
      asked = status.observers;
    } catch (error) {
      return { asked: [], probes: [], note: describeError(error) };
    }
    const deadline = Date.now() + this.options.probeNowWaitMs;
    let status = mesh.references.status(id);
    while (Date.now() < deadline && status !== undefined && status.pending.length > 0) {
      await new Promise((r) => setTimeout(r, 100));
      status = mesh.references.status(id);
    }
    const answered = status?.answered ?? [];
    const probes = answered.flatMap((a) => a.results.map((r) => referenceProbe(a.observer, r)));
    const pending = status?.pending ?? asked;
    if (pending.length > 0) {
      this.log.log('info', 'reference points: some observers did not answer in time', {
        node,
        waitedMs: this.options.probeNowWaitMs,
        pending,
      });
    }
    return {
      asked,
      probes,
      note:
        probes.length > 0
          ? null
          : `asked ${asked.join(', ')} to probe the reference points; none answered within ${(this.options.probeNowWaitMs / 1000).toFixed(1)} s`,
    };
  }

  /**
   * The reference points of `node`: its own default gateway as its agent last
   * reported it (`interfaces` last words, the last 10 min) — with the port of
   * `--gateway` when that names the same address — else `--gateway`; and
   * `--ovn-gateway`.
   */
  async #referencePoints(node: string): Promise<DiagnoserOptions['references']> {
    const configured = this.options.references;
    let own: string | null = null;
    try {
      const since = new Date(Date.now() - 10 * 60_000).toISOString();
      const words = await this.sources.store.lastWords(node, since);
      const data = words.filter((w) => w.kind === 'interfaces').at(-1)?.data;
      const reported =
        data !== null && typeof data === 'object' && !Array.isArray(data)
          ? (data as { gateway?: unknown }).gateway
          : undefined;
      const parsed = typeof reported === 'string' ? parseReferenceAddress(reported) : null;
      own = parsed?.port === undefined ? (parsed?.ip ?? null) : null;
    } catch (error) {
      this.log.log('warn', 'could not read the node’s gateway from its last words', {
        node,
        error: describeError(error),
      });
    }
    const gateway =
      own === null || configured.gateway?.ip === own ? configured.gateway : { ip: own };
    return { gateway, ovnGateway: configured.ovnGateway };
  }

  #network(
    references: ObserverReferences | null,
    points: DiagnoserOptions['references'],
  ): NetworkSources {
    const { mesh, prober, observations } = this.sources;
    const port = this.options.kubeletPort;
    return {
      observations,
      reported: (node) =>
        mesh === null ? [] : mesh.evidence.fullResults(node).map((r) => reportedResult(r, port)),
      controller: prober,
      references: points,
      observerReferences: references,
      pinger: (_observer, address, ms, signal) => probeReference(address, ms, signal),
      pingerVantage: 'here',
    };
  }

  async #writeReports(incident: Incident, diagnosis: Diagnosis): Promise<VerdictEvent['files']> {
    const dir = this.options.reportDir;
    if (dir === null) return null;
    try {
      await mkdir(dir, { recursive: true });
      const base = join(dir, incident.id);
      const files = { en: `${base}.en.md`, ko: `${base}.ko.md`, json: `${base}.json` };
      await Promise.all([
        writeFile(files.en, diagnosis.report.en),
        writeFile(files.ko, diagnosis.report.ko),
        writeFile(files.json, diagnosis.report.json),
      ]);
      return files;
    } catch (error) {
      this.log.log('error', 'could not write the report files', {
        incident: incident.id,
        dir,
        error: describeError(error),
      });
      return null;
    }
  }
}
