/**
 * The read-model port the HTTP API is served from, and its one
 * implementation over the parts both the controller and the demo have: a
 * ClusterView, the DetectionLoop, an ObservationSource (the probe mesh), the
 * IncidentStore (incidents, diagnoses, audit trail), a GpuHistory and, when
 * remediation runs, its control. The controller builds it from the real
 * cluster and its database, the demo from the simulator and an in-memory
 * SQLite store — so the API answers the same shapes from the same code.
 */
import { classify, type Verdict } from '../../core/classify.ts';
import type { ClusterView, NodeSnapshot } from '../../core/cluster.ts';
import type { Clock } from '../../core/clock.ts';
import { readyStatus } from '../../core/detection.ts';
import { NodeWardenError } from '../../core/errors.ts';
import { parseEvidenceList } from '../../core/evidence-parse.ts';
import { mttdSeconds, mttrSeconds, type Incident, type NodeHealth } from '../../core/incident.ts';
import { LAYERS, type Layer, type LayerStatus } from '../../core/probe.ts';
import type { DetectionLoop, ObservationSource } from '../../controller/detection-loop.ts';
import type { GpuHistory } from '../../diagnose/gpu-history.ts';
import {
  DIAGNOSIS_ACTION,
  DIAGNOSIS_SCHEMA,
  loadDiagnosis,
  storedReportInput,
} from '../../diagnose/stored.ts';
import { renderJson } from '../../report/json.ts';
import { renderMarkdown } from '../../report/markdown.ts';
import type { AuditRecord, IncidentQuery, IncidentStore } from '../../store/port.ts';
import type { Remediation } from '../../core/remediation.ts';
import type { RemediationControl } from '../../remediate/control.ts';
import { ApiError, NotFoundError } from '../http-errors.ts';
import type { EventHub } from './events.ts';
import { incidentSummary, type EventListener } from './events.ts';
import type {
  GpuSummary,
  IncidentDetail,
  IncidentsView,
  MeshCell,
  MeshView,
  NodesView,
  NodeView,
  RemediationsView,
  StabilityTestsView,
  StatusView,
} from './types.ts';
import {
  listStabilityTests,
  stabilityTestReport,
  type StabilityReportFormat,
} from '../../stability/stored.ts';

export type ReportFormat = 'md' | 'json';
export type ReportLang = 'en' | 'ko';
export type Decision = 'approve' | 'reject';

/** What the API reads and the one thing it changes (a step's approval). */
export interface ApiReadModel {
  status(): Promise<Omit<StatusView, 'auth'>>;
  nodes(): Promise<NodesView>;
  mesh(layer: Layer | null): MeshView;
  incidents(query: IncidentQuery): Promise<IncidentsView>;
  /** NOT_FOUND for an unknown id. */
  incident(id: string): Promise<IncidentDetail>;
  /** NOT_FOUND for an unknown id or an incident not diagnosed yet. */
  report(id: string, format: ReportFormat, lang: ReportLang): Promise<string>;
  remediations(): RemediationsView;
  /**
   * Approves or rejects a step (its 0-based index or its kind, e.g. `soft-reboot`).
   * NOT_FOUND (remediation, step), CONFLICT (not awaiting approval), UNAVAILABLE (no ladder).
   */
  decide(
    remediationId: string,
    step: string,
    decision: Decision,
    approver: string,
  ): Promise<Remediation>;
  subscribe(listener: EventListener, lastEventId?: number): () => void;
  /** Stored stability tests (manual and scheduled), newest first. */
  stabilityTests(query: { node?: string; limit?: number }): Promise<StabilityTestsView>;
  /** One stored stability test's report; NOT_FOUND for an unknown id. */
  stabilityTestReport(id: string, format: StabilityReportFormat): Promise<string>;
}

export interface LiveParts {
  readonly mode: StatusView['mode'];
  readonly version: string;
  readonly speed: number;
  readonly zone: string;
  readonly scenario: string | null;
  readonly clock: Clock;
  readonly view: ClusterView;
  readonly loop: DetectionLoop;
  readonly observations: ObservationSource;
  /** Read from here; wrap the process's store with observedStore(…, hub) so writes become events. */
  readonly store: IncidentStore;
  readonly hub: EventHub;
  readonly gpu: GpuHistory | null;
  /** The ladder's control (src/remediate/control.ts); null where none runs. */
  readonly remediation: RemediationControl | null;
  readonly synced: () => boolean;
}

/** GPU readings older than this are not shown as the node's current memory. */
const GPU_RECENT_MS = 5 * 60_000;
const OPEN_LIMIT = 1000;

/** `node-role.kubernetes.io/<role>` (not `worker`-less control planes only), else the `node-role` label. */
export function nodeRole(node: NodeSnapshot): string {
  const roles = Object.keys(node.labels)
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
    .filter((r) => r !== '');
  if (roles.length > 0) return roles.sort().join(',');
  return node.labels['node-role'] ?? 'worker';
}

const hasGpu = (node: NodeSnapshot): boolean =>
  Object.keys(node.capacity).some((k) => k.startsWith('nvidia.com/'));

/** Per-layer status of one probe: ok below the failed layer, failed at it, skipped above. */
export function layerStatuses(
  healthy: boolean,
  failedLayer: Layer | null,
): Record<Layer, LayerStatus> {
  const failedAt = failedLayer === null ? -1 : LAYERS.indexOf(failedLayer);
  const out = {} as Record<Layer, LayerStatus>;
  LAYERS.forEach((layer, i) => {
    out[layer] = healthy
      ? 'ok'
      : failedAt < 0
        ? 'skipped'
        : i < failedAt
          ? 'ok'
          : i === failedAt
            ? 'failed'
            : 'skipped';
  });
  return out;
}

export class LiveReadModel implements ApiReadModel {
  /** Verdicts by diagnosis audit record id: classification is pure, so one per record is enough. */
  readonly #verdicts = new Map<string, Verdict>();

  constructor(private readonly parts: LiveParts) {}

  async status(): Promise<Omit<StatusView, 'auth'>> {
    const { parts } = this;
    const byHealth: Record<NodeHealth, number> = { Healthy: 0, Suspect: 0, Down: 0, Recovering: 0 };
    const nodes = parts.view.nodes();
    for (const n of nodes) byHealth[parts.loop.state?.nodes.get(n.name)?.health ?? 'Healthy'] += 1;
    const open = await parts.store.listIncidents({ status: 'open', limit: OPEN_LIMIT });
    return {
      mode: parts.mode,
      version: parts.version,
      now: this.#now(),
      speed: parts.speed,
      zone: parts.zone,
      scenario: parts.scenario,
      situation: parts.loop.situations.at(-1)?.situation ?? 'normal',
      synced: parts.synced(),
      apiServerConnected: parts.view.connection().connected,
      nodes: { total: nodes.length, byHealth },
      openIncidents: open.length,
    };
  }

  async nodes(): Promise<NodesView> {
    const { view, loop, clock, store } = this.parts;
    const now = clock.now();
    const openByNode = new Map<string, string>();
    // Newest first: a node in two open incidents shows the newest.
    for (const i of (await store.listIncidents({ status: 'open', limit: OPEN_LIMIT })).reverse())
      for (const n of i.nodes) openByNode.set(n, i.id);
    const nodes: NodeView[] = [];
    for (const node of [...view.nodes()].sort((a, b) => a.name.localeCompare(b.name))) {
      const state = loop.state?.nodes.get(node.name);
      const lease = view.lease(node.name);
      const renew = lease?.renewTime == null ? Number.NaN : Date.parse(lease.renewTime);
      nodes.push({
        name: node.name,
        internalIP: node.internalIP,
        role: nodeRole(node),
        health: state?.health ?? 'Healthy',
        healthSince: state === undefined ? null : new Date(state.since).toISOString(),
        reason:
          state === undefined || state.health === 'Healthy'
            ? null
            : state.health === 'Suspect'
              ? state.suspectReason
              : (state.downReason ?? state.suspectReason),
        ready: readyStatus(node),
        leaseAgeMs: Number.isFinite(renew) ? Math.max(0, now - renew) : null,
        leaseRenewTime: lease?.renewTime ?? null,
        unschedulable: node.unschedulable,
        taints: node.taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`),
        gpu: hasGpu(node) ? await this.#gpu(node.name, now) : null,
        openIncident: openByNode.get(node.name) ?? null,
      });
    }
    return { now: new Date(now).toISOString(), nodes };
  }

  async #gpu(node: string, now: number): Promise<GpuSummary | null> {
    const { gpu } = this.parts;
    if (gpu === null) return null;
    const data = await gpu.series(node, now - GPU_RECENT_MS, now);
    if (data === null) return null;
    const readings = data.series.flatMap((s) => {
      const last = s.points.at(-1);
      return last === undefined
        ? []
        : [
            {
              gpu: s.gpu,
              migInstance: s.migInstance,
              migProfile: s.migProfile,
              usedPct: last.usedPct,
              at: last.at,
            },
          ];
    });
    if (readings.length === 0) return null;
    return {
      origin: data.origin,
      mig: readings.some((r) => r.migInstance !== null),
      readings,
      maxUsedPct: Math.max(...readings.map((r) => r.usedPct)),
    };
  }

  mesh(layer: Layer | null): MeshView {
    const { view, observations, clock } = this.parts;
    const now = clock.now();
    const observers = new Set<string>();
    const targets: string[] = [];
    const cells: MeshCell[] = [];
    for (const node of [...view.nodes()].sort((a, b) => a.name.localeCompare(b.name))) {
      targets.push(node.name);
      const latest = new Map<string, ReturnType<ObservationSource['observations']>[number]>();
      for (const o of observations.observations(node.name)) {
        const seen = latest.get(o.observer);
        if (seen === undefined || o.at >= seen.at) latest.set(o.observer, o);
      }
      for (const o of [...latest.values()].sort((a, b) => a.observer.localeCompare(b.observer))) {
        observers.add(o.observer);
        const layers = layerStatuses(o.healthy, o.failedLayer);
        cells.push({
          observer: o.observer,
          target: node.name,
          at: new Date(o.at).toISOString(),
          ageMs: Math.max(0, now - o.at),
          healthy: o.healthy,
          failedLayer: o.healthy ? null : o.failedLayer,
          layers,
          ...(layer === null ? {} : { status: layers[layer] }),
          detail: o.detail,
        });
      }
    }
    return {
      now: new Date(now).toISOString(),
      layer,
      observers: [...observers].sort(),
      targets,
      cells,
    };
  }

  async incidents(query: IncidentQuery): Promise<IncidentsView> {
    const list = await this.parts.store.listIncidents(query);
    const incidents = [];
    for (const incident of list) {
      const verdict = this.#verdict(incident, await this.parts.store.listAudit(incident.id));
      incidents.push(incidentSummary(incident, verdict));
    }
    return { incidents };
  }

  /** The verdict of the incident's latest diagnosis record, classified once per record. */
  #verdict(incident: Incident, audit: readonly AuditRecord[]): Verdict | null {
    const record = audit.filter((r) => r.action === DIAGNOSIS_ACTION).at(-1);
    if (record === undefined) return null;
    const known = this.#verdicts.get(record.id);
    if (known !== undefined) return known;
    const bundle = record.evidence as { schema?: unknown; decidedAt?: unknown; evidence?: unknown };
    if (bundle?.schema !== DIAGNOSIS_SCHEMA || typeof bundle.decidedAt !== 'string') return null;
    const evidence = parseEvidenceList(bundle.evidence, `audit ${record.id}.evidence.evidence`);
    const verdict = classify({ incident, evidence, now: bundle.decidedAt });
    this.#verdicts.set(record.id, verdict);
    return verdict;
  }

  async #getIncident(id: string): Promise<Incident> {
    try {
      return await this.parts.store.getIncident(id);
    } catch (error) {
      if (error instanceof NodeWardenError && error.code === 'NOT_FOUND')
        throw new NotFoundError(
          `no incident ${id}`,
          'list incidents with GET /api/v1/incidents',
          'path.id',
        );
      throw error;
    }
  }

  async incident(id: string): Promise<IncidentDetail> {
    const incident = await this.#getIncident(id);
    const audit = await this.parts.store.listAudit(id);
    const diagnosed = audit.some((r) => r.action === DIAGNOSIS_ACTION);
    const stored = diagnosed ? await loadDiagnosis(this.parts.store, id) : null;
    const all = this.remediations();
    const base = `/api/v1/incidents/${encodeURIComponent(id)}/report`;
    return {
      incident,
      mttdSeconds: mttdSeconds(incident),
      mttrSeconds: mttrSeconds(incident),
      diagnosis:
        stored === null
          ? null
          : {
              verdict: stored.verdict,
              evidence: stored.evidence,
              zone: stored.zone,
              decidedAt: stored.decidedAt,
            },
      remediation: {
        ...all,
        remediations: all.remediations.filter((r) => r.incidentId === id),
        brakes: all.brakes.filter((b) => b.node === null || incident.nodes.includes(b.node)),
        capacity: all.capacity.filter((c) => incident.nodes.includes(c.node)),
      },
      audit: audit.map((r) => ({
        id: r.id,
        at: r.at,
        actor: r.actor,
        action: r.action,
        reason: r.reason,
        result: r.result,
        durationMs: r.durationMs,
      })),
      reports:
        stored === null
          ? null
          : { en: `${base}?lang=en`, ko: `${base}?lang=ko`, json: `${base}?format=json` },
    };
  }

  async report(id: string, format: ReportFormat, lang: ReportLang): Promise<string> {
    const incident = await this.#getIncident(id);
    const audit = await this.parts.store.listAudit(id);
    if (!audit.some((r) => r.action === DIAGNOSIS_ACTION)) {
      throw new NotFoundError(
        `incident ${id} has no diagnosis yet, so no report`,
        incident.status === 'open'
          ? 'the diagnosis runs when the incident opens; ask again in a few seconds'
          : `diagnose it while it is open: nodewarden diagnose ${incident.nodes[0] ?? '<node>'}`,
        'path.id',
      );
    }
    const input = storedReportInput(
      await loadDiagnosis(this.parts.store, id),
      new Date(this.parts.clock.now()).toISOString(),
    );
    return format === 'json' ? renderJson(input) + '\n' : renderMarkdown(input, lang);
  }

  async stabilityTests(query: { node?: string; limit?: number }): Promise<StabilityTestsView> {
    return { tests: await listStabilityTests(this.parts.store, query) };
  }

  stabilityTestReport(id: string, format: StabilityReportFormat): Promise<string> {
    return stabilityTestReport(this.parts.store, id, format);
  }

  remediations(): RemediationsView {
    const control = this.parts.remediation;
    if (control === null)
      return {
        enabled: false,
        mode: 'off',
        remediations: [],
        brakes: [],
        capacity: [],
        policySource: 'no remediation ladder in this process',
        evaluatedAt: null,
      };
    return { enabled: true, ...control.overview() };
  }

  async decide(
    remediationId: string,
    step: string,
    decision: Decision,
    approver: string,
  ): Promise<Remediation> {
    const control = this.parts.remediation;
    if (control === null) {
      throw new ApiError(
        'UNAVAILABLE',
        'no remediation ladder runs in this process, so there is nothing to approve',
        'start the controller with --remediation-mode approve (the demo: --scenario approve)',
      );
    }
    let remediation: Remediation;
    try {
      remediation = control.get(remediationId);
    } catch (error) {
      if (error instanceof NodeWardenError && error.code === 'NOT_FOUND')
        throw new NotFoundError(
          `no remediation ${remediationId}`,
          'list them with GET /api/v1/remediations',
          'path.id',
        );
      throw error;
    }
    const index = /^\d+$/.test(step)
      ? Number(step)
      : remediation.steps.findIndex((s) => s.step === step);
    if (index < 0 || index >= remediation.steps.length) {
      throw new NotFoundError(
        `remediation ${remediationId} has no step ${step}`,
        `its steps are 0–${remediation.steps.length - 1}: ${remediation.steps.map((s) => s.step).join(', ')}`,
        'path.step',
      );
    }
    return decision === 'approve'
      ? control.approve(remediationId, index, approver)
      : control.reject(remediationId, index, approver);
  }

  subscribe(listener: EventListener, lastEventId?: number): () => void {
    if (lastEventId !== undefined) for (const e of this.parts.hub.since(lastEventId)) listener(e);
    return this.parts.hub.subscribe(listener);
  }

  #now(): string {
    return new Date(this.parts.clock.now()).toISOString();
  }
}
