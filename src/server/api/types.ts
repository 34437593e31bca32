/**
 * The HTTP API's response shapes (`/api/v1/…`), one place for the server,
 * the OpenAPI document (openapi.ts) and the dashboard (`web/` may import
 * these types). Times are ISO-8601 UTC strings unless a name ends in `Ms`
 * (milliseconds) or `Seconds`. In the demo every time is on the simulated
 * clock: use `StatusView.now`, never the browser's clock, to age things.
 */
import type { StabilityTestSummary } from '../../core/stability.ts';
import type { Verdict } from '../../core/classify.ts';
import type { ConditionStatus } from '../../core/cluster.ts';
import type { Situation } from '../../core/detection-cluster.ts';
import type { Evidence } from '../../core/evidence.ts';
import type {
  Incident,
  IncidentKind,
  IncidentStatus,
  NodeHealth,
  RootCause,
} from '../../core/incident.ts';
import type { Layer, LayerStatus } from '../../core/probe.ts';
import type { RemediationOverview } from '../../remediate/control.ts';

export type { Remediation, StepState, StepStatus } from '../../core/remediation.ts';
export type { BrakeState } from '../../core/remediation-brakes.ts';
export type { RemediationOverview } from '../../remediate/control.ts';

/** `GET /api/v1/status`: what is serving, its clock, and the cluster at a glance. */
export interface StatusView {
  /** `controller` (a real cluster) or `demo` (the simulator). */
  readonly mode: 'controller' | 'demo';
  readonly version: string;
  /** The serving process's clock (simulated in the demo). */
  readonly now: string;
  /** Simulated seconds per wall-clock second (1 for the controller). */
  readonly speed: number;
  /** IANA zone the reports use; the dashboard may show times in it. */
  readonly zone: string;
  /** The demo's scenario name; null for the controller. */
  readonly scenario: string | null;
  readonly situation: Situation;
  /** False while the caches have not been listed once (controller start-up). */
  readonly synced: boolean;
  readonly apiServerConnected: boolean;
  readonly nodes: {
    readonly total: number;
    readonly byHealth: Readonly<Record<NodeHealth, number>>;
  };
  readonly openIncidents: number;
  /** How the API authenticates: `none` (demo on loopback), `tokens`, `tokenreview`. */
  readonly auth: AuthMode;
}

export type AuthMode = 'none' | 'tokens' | 'tokenreview';
export type Role = 'read' | 'admin';

/** `GET /api/v1/me`: who the bearer token is and what it may do. */
export interface MeView {
  readonly subject: string;
  readonly role: Role;
  readonly auth: AuthMode;
}

/** One GPU (or MIG instance) memory reading, the latest within the last 5 minutes. */
export interface GpuMemoryReading {
  readonly gpu: string;
  /** MIG GPU instance id; null for a whole GPU. */
  readonly migInstance: string | null;
  /** e.g. `1g.10gb`; null for a whole GPU. */
  readonly migProfile: string | null;
  readonly usedPct: number;
  readonly at: string;
}

export interface GpuSummary {
  /** `dcgm` (Prometheus / DCGM exporter, the demo) or `agent` (the agent's last words). */
  readonly origin: string;
  readonly mig: boolean;
  readonly readings: readonly GpuMemoryReading[];
  /** Highest usedPct among the readings: the badge. */
  readonly maxUsedPct: number;
}

/** `GET /api/v1/nodes` items. */
export interface NodeView {
  readonly name: string;
  readonly internalIP: string | null;
  /** From `node-role.kubernetes.io/<role>` or `node-role` labels; `worker` when none. */
  readonly role: string;
  /** NodeWarden's detection state. */
  readonly health: NodeHealth;
  readonly healthSince: string | null;
  /** Why the node left Healthy (Suspect/Down reason); null while Healthy. */
  readonly reason: string | null;
  /** Kubernetes' own Ready condition. */
  readonly ready: ConditionStatus | null;
  /** now − the Lease's renewTime; null without a Lease. */
  readonly leaseAgeMs: number | null;
  readonly leaseRenewTime: string | null;
  readonly unschedulable: boolean;
  readonly taints: readonly string[];
  readonly gpu: GpuSummary | null;
  /** The open incident this node is part of. */
  readonly openIncident: string | null;
}

export interface NodesView {
  readonly now: string;
  readonly nodes: readonly NodeView[];
}

/** One observer's latest probe of one target. */
export interface MeshCell {
  readonly observer: string;
  readonly target: string;
  /** When the result arrived. */
  readonly at: string;
  readonly ageMs: number;
  readonly healthy: boolean;
  /** Lowest failing layer; null when healthy. */
  readonly failedLayer: Layer | null;
  /** ok below the failed layer, failed at it, skipped above it (and for layers not probed). */
  readonly layers: Readonly<Record<Layer, LayerStatus>>;
  /** With `?layer=`: that layer's status. */
  readonly status?: LayerStatus;
  readonly detail: string;
}

/** `GET /api/v1/mesh`: the probe mesh, observer × target. */
export interface MeshView {
  readonly now: string;
  readonly layer: Layer | null;
  readonly observers: readonly string[];
  readonly targets: readonly string[];
  readonly cells: readonly MeshCell[];
}

/** `GET /api/v1/incidents` items. */
export interface IncidentSummary {
  readonly id: string;
  readonly kind: IncidentKind;
  readonly status: IncidentStatus;
  readonly nodes: readonly string[];
  readonly openedAt: string;
  readonly resolvedAt: string | null;
  readonly lastHeartbeatAt: string | null;
  readonly summary: string;
  readonly mttdSeconds: number | null;
  readonly mttrSeconds: number | null;
  /** From the stored diagnosis; null until the incident was diagnosed. */
  readonly rootCause: RootCause | null;
  readonly confidence: number | null;
}

export interface IncidentsView {
  readonly incidents: readonly IncidentSummary[];
}

/**
 * `GET /api/v1/remediations`: the remediation ladder's own overview
 * (src/remediate/control.ts: mode, remediations with their steps, brakes,
 * capacity guard findings), plus `enabled` — false where no ladder runs in
 * this process (then the lists are empty and `mode` is `off`).
 */
export type RemediationsView = RemediationOverview & { readonly enabled: boolean };

/** The incident's audit trail, without the evidence bundles (they are in `diagnosis`). */
export interface AuditView {
  readonly id: string;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly reason: string;
  readonly result: string;
  readonly durationMs: number;
}

/** `GET /api/v1/incidents/{id}`. */
export interface IncidentDetail {
  readonly incident: Incident;
  readonly mttdSeconds: number | null;
  readonly mttrSeconds: number | null;
  /** The stored diagnosis, re-classified as `nodewarden report` does; null until there is one. */
  readonly diagnosis: {
    readonly verdict: Verdict;
    readonly evidence: readonly Evidence[];
    readonly zone: string;
    readonly decidedAt: string;
  } | null;
  /** This incident's remediation, and the cluster brakes and its nodes' brakes. */
  readonly remediation: RemediationsView;
  readonly audit: readonly AuditView[];
  /** Where the report is, once there is a diagnosis. */
  readonly reports: { readonly en: string; readonly ko: string; readonly json: string } | null;
}

/**
 * `GET /api/v1/events` (Server-Sent Events). Each event's `event:` field is
 * its `type`, its `data:` the JSON of the whole object, its `id:` a counter
 * (send `Last-Event-ID` on reconnect to get what was missed, up to 256 events).
 */
export type ApiEvent =
  | {
      readonly type: 'hello';
      readonly status: StatusView;
    }
  | {
      readonly type: 'node';
      readonly node: string;
      readonly from: NodeHealth;
      readonly to: NodeHealth;
      readonly at: string;
      readonly reason: string;
    }
  | {
      readonly type: 'incident';
      readonly change: 'opened' | 'updated' | 'timeline' | 'resolved';
      readonly incident: IncidentSummary;
    }
  | {
      readonly type: 'verdict';
      readonly incidentId: string;
      readonly rootCause: RootCause;
      readonly confidence: number;
      readonly at: string;
    }
  | {
      /** A remediation step, approval or refusal was recorded (re-read the incident and /remediations). */
      readonly type: 'remediation';
      readonly incidentId: string | null;
      readonly action: string;
      readonly result: string;
      readonly at: string;
    }
  | {
      /** Every 2 s of wall time: the clock and the cluster at a glance (ages, mesh: refetch). */
      readonly type: 'tick';
      readonly status: StatusView;
    };

export type ApiEventType = ApiEvent['type'];

/** Every 4xx/5xx body. */
export interface ApiErrorBody {
  readonly error: string;
  readonly message: string;
  readonly hint: string;
  /** The parameter (`query.limit`, `path.id`, `body.reason`, `header.authorization`) that was wrong. */
  readonly param?: string;
}

/** `GET /api/v1/stability-tests`: stored stability tests, newest first (docs/stability.md). */
export interface StabilityTestsView {
  readonly tests: readonly StabilityTestSummary[];
}
