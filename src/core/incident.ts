/**
 * Incidents: what the controller opens when a node goes down (or many nodes
 * go down together), what it records as it learns more, and how it ends.
 * Pure types; the store persists them and the report renders them.
 */

/** Per-node detection state (see detection.ts for the transitions). */
export type NodeHealth = 'Healthy' | 'Suspect' | 'Down' | 'Recovering';

/** Root-cause categories of design §5. */
export type RootCause =
  | 'NODE_HALTED'
  | 'NODE_POWERED_OFF'
  | 'NODE_DELETED'
  | 'HOST_NETWORK_DOWN'
  | 'KUBELET_DOWN'
  | 'KUBELET_HUNG'
  | 'PARTIAL_PARTITION'
  | 'OVERLAY_DATAPATH'
  | 'GPU_FAULT'
  | 'OOM_KILLED_NETWORK'
  | 'PLANNED_MAINTENANCE'
  | 'CONTROL_PLANE_SIDE'
  | 'UNKNOWN';

/** A node incident concerns one node; a partition incident many at once (never one per node). */
export type IncidentKind = 'node' | 'partition';

export type IncidentStatus = 'open' | 'resolved';

export type TimelineKind =
  | 'last-heartbeat'
  | 'suspect'
  | 'down'
  | 'incident-opened'
  | 'k8s-not-ready'
  | 'k8s-taint'
  | 'pod-evicted'
  | 'ready-again'
  | 'recovering'
  | 'resolved'
  | 'flap'
  | 'note'
  /** NodeWarden's verdict (diagnosis at incident open, or asked again). */
  | 'diagnosis'
  /** The cloud's infrastructure changed: a port DOWN, a hypervisor DOWN/UNKNOWN, an instance not ACTIVE. */
  | 'cloud';

export interface TimelineEntry {
  /** ISO-8601 UTC instant. */
  readonly at: string;
  readonly kind: TimelineKind;
  readonly message: string;
  /** Node the entry is about (partition incidents span several). */
  readonly node?: string;
}

export interface AffectedPod {
  readonly namespace: string;
  readonly name: string;
  readonly owner?: string;
}

export interface Incident {
  /** Stable, sortable id: `inc-<yyyymmdd>-<hhmmss>-<node or 'partition'>-<n>`. */
  readonly id: string;
  readonly kind: IncidentKind;
  readonly status: IncidentStatus;
  /** The failed node, or for a partition every node involved. */
  readonly nodes: readonly string[];
  readonly openedAt: string;
  readonly resolvedAt: string | null;
  /** Last successful heartbeat (Lease renewTime) or good probe before the outage. */
  readonly lastHeartbeatAt: string | null;
  readonly rootCause: RootCause | null;
  readonly summary: string;
  readonly timeline: readonly TimelineEntry[];
  readonly affectedPods: readonly AffectedPod[];
}

/** Mean time to detect: last heartbeat → incident open, in seconds; null when unknown. */
export function mttdSeconds(incident: Incident): number | null {
  if (incident.lastHeartbeatAt === null) return null;
  return (Date.parse(incident.openedAt) - Date.parse(incident.lastHeartbeatAt)) / 1000;
}

/** Mean time to recover: last heartbeat → resolved, in seconds; null while open. */
export function mttrSeconds(incident: Incident): number | null {
  if (incident.resolvedAt === null || incident.lastHeartbeatAt === null) return null;
  return (Date.parse(incident.resolvedAt) - Date.parse(incident.lastHeartbeatAt)) / 1000;
}
