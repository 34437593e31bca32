/**
 * The incident store port: everything the controller must not lose when it
 * restarts or fails over — incidents with their timelines, the audit trail of
 * every action, each node's "last words" (the evidence its agent pushed while
 * it still could), and a little key/value state (schema version, remediation
 * resume points). Two adapters implement it: SQLite (default, one file) and
 * PostgreSQL (for two controller replicas); both pass src/store/contract.ts.
 *
 * Rules every adapter keeps:
 * - Timestamps are validated and come back as `Date#toISOString()` (UTC,
 *   milliseconds), so they compare and sort the same in both databases.
 * - Strings may not contain U+0000 or unpaired surrogates (PostgreSQL cannot
 *   store the first, UTF-8 cannot carry the second): BAD_INPUT, not a silent change.
 * - Unknown ids are NOT_FOUND, duplicate ids CONFLICT, an unreachable or
 *   locked database UNAVAILABLE (naming the file or host, with a hint).
 * - A call that resolved is on disk (see docs/store.md: durability).
 */
import type {
  AffectedPod,
  Incident,
  IncidentStatus,
  RootCause,
  TimelineEntry,
} from '../core/incident.ts';

/** A value that survives JSON and JSONB unchanged (finite numbers only). */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export interface IncidentQuery {
  readonly status?: IncidentStatus;
  /** Only incidents that involve this node (node or partition incidents). */
  readonly node?: string;
  /** At most this many, newest first; default 100, at most 1000. */
  readonly limit?: number;
  /** Only incidents opened strictly before this ISO instant (for paging back in time). */
  readonly before?: string;
}

/**
 * Audit records of one action across every incident and none (e.g. the stored
 * stability tests), served by an index on (action, at): newest first, `at`
 * then insertion order, descending.
 */
export interface AuditQuery {
  /** Only records of this action (`stability-test`, `remediation-cordon`, …). */
  readonly action: string;
  /**
   * Only records about this node: a string `evidence.node` (remediation
   * steps), else a string `evidence.report.node` (stability tests).
   */
  readonly node?: string;
  /** Only the record with this id. */
  readonly id?: string;
  /** At most this many, 1–1000; every match when absent. */
  readonly limit?: number;
}

/** The fields of an incident that change after it opens; the timeline only grows (appendTimeline). */
export interface IncidentPatch {
  readonly status?: IncidentStatus;
  readonly resolvedAt?: string | null;
  readonly rootCause?: RootCause | null;
  readonly summary?: string;
  readonly affectedPods?: readonly AffectedPod[];
  readonly nodes?: readonly string[];
  /** The Lease renewTime is sometimes learned after the incident opened. */
  readonly lastHeartbeatAt?: string | null;
}

/** One action (or refusal to act) by anyone: who/what/why/when/result, with its evidence. */
export interface AuditRecord {
  readonly id: string;
  /** The incident the action belonged to; null for actions outside any incident. */
  readonly incidentId: string | null;
  readonly at: string;
  /** Who acted: `controller/<pod>`, `user:<name>`, `agent/<node>`. */
  readonly actor: string;
  /** What was done, e.g. `cordon`, `cloud-soft-reboot`. */
  readonly action: string;
  /** Why, in a sentence a reviewer can read. */
  readonly reason: string;
  readonly evidence: JsonValue;
  /** Outcome word: `succeeded`, `failed`, `skipped`, `dry-run`, `refused`, … */
  readonly result: string;
  readonly durationMs: number;
}

/** One blob of a node's last words: `kind` names the series (`kernel-log`, `gpu-samples`, …). */
export interface LastWords {
  readonly node: string;
  readonly at: string;
  readonly kind: string;
  readonly data: JsonValue;
}

export const DEFAULT_LAST_WORDS_RETENTION = 120;

export interface StoreOptions {
  /** Newest blobs kept per node and kind; older ones are deleted as new ones arrive. Default 120. */
  readonly lastWordsRetention?: number;
}

export interface IncidentStore {
  /** Stores a new incident with its initial timeline; CONFLICT if the id exists. Returns it as stored. */
  createIncident(incident: Incident): Promise<Incident>;
  /** NOT_FOUND if there is no such incident. */
  getIncident(id: string): Promise<Incident>;
  /** Newest first (openedAt, then id, descending). */
  listIncidents(query?: IncidentQuery): Promise<Incident[]>;
  /**
   * The open incident a node belongs to — its own node incident or a partition
   * incident that includes it — or null. With several, the newest opened.
   */
  findOpenIncident(node: string): Promise<Incident | null>;
  /**
   * Changes the given fields and returns the result. Status and resolvedAt
   * must agree afterwards: open ⇔ resolvedAt null. NOT_FOUND for unknown ids.
   */
  updateIncident(id: string, patch: IncidentPatch): Promise<Incident>;
  /**
   * Adds entries to the timeline; nothing is ever changed or removed. The
   * timeline reads in time order, entries with equal times in insertion order.
   */
  appendTimeline(id: string, entries: readonly TimelineEntry[]): Promise<void>;

  /** CONFLICT for a duplicate id, NOT_FOUND if incidentId names no incident. */
  appendAudit(record: AuditRecord): Promise<void>;
  /** One incident's audit records (null: those outside any incident), oldest first. */
  listAudit(incidentId: string | null): Promise<AuditRecord[]>;
  /** Records of one action from every incident and none, newest first (AuditQuery). */
  findAudit(query: AuditQuery): Promise<AuditRecord[]>;

  /** Keeps the newest `lastWordsRetention` blobs per node and kind. */
  putLastWords(node: string, at: string, kind: string, data: JsonValue): Promise<void>;
  /** The node's blobs at or after `sinceIso`, oldest first. */
  lastWords(node: string, sinceIso: string): Promise<LastWords[]>;
  /**
   * The newest blob of one kind from every node that has one (e.g. each
   * agent's current `inventory`), sorted by node name (code-unit order).
   */
  latestLastWords(kind: string): Promise<LastWords[]>;

  /** A small key/value table; undefined when the key was never set. */
  getMeta(key: string): Promise<JsonValue | undefined>;
  setMeta(key: string, value: JsonValue): Promise<void>;

  /** Releases the database; later calls fail with UNAVAILABLE. Safe to call twice. */
  close(): Promise<void>;
}

/** Key under which each adapter records the schema version it migrated to. */
export const SCHEMA_VERSION_KEY = 'schema.version';
