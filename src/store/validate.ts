/**
 * What both adapters accept, in one place, and the one canonical form they
 * store: instants as `toISOString()` (so TEXT in SQLite sorts like timestamptz
 * in PostgreSQL), JSON as text that JSONB can hold, strings both databases
 * keep byte for byte. Pure: no I/O, no driver.
 */
import { badInput, type NodeWardenError } from '../core/errors.ts';
import type {
  AffectedPod,
  Incident,
  IncidentKind,
  IncidentStatus,
  RootCause,
  TimelineEntry,
  TimelineKind,
} from '../core/incident.ts';
import type { AuditQuery, AuditRecord, IncidentPatch, IncidentQuery, JsonValue } from './port.ts';

// Records, not arrays, so that a new member of a core union that is missing
// here is a compile error rather than a value the store refuses at run time.
const INCIDENT_KINDS: Record<IncidentKind, true> = { node: true, partition: true };
const STATUSES: Record<IncidentStatus, true> = { open: true, resolved: true };
const ROOT_CAUSES: Record<RootCause, true> = {
  NODE_HALTED: true,
  NODE_POWERED_OFF: true,
  NODE_DELETED: true,
  HOST_NETWORK_DOWN: true,
  KUBELET_DOWN: true,
  KUBELET_HUNG: true,
  PARTIAL_PARTITION: true,
  OVERLAY_DATAPATH: true,
  GPU_FAULT: true,
  OOM_KILLED_NETWORK: true,
  PLANNED_MAINTENANCE: true,
  CONTROL_PLANE_SIDE: true,
  UNKNOWN: true,
};
const TIMELINE_KINDS: Record<TimelineKind, true> = {
  'last-heartbeat': true,
  suspect: true,
  down: true,
  'incident-opened': true,
  'k8s-not-ready': true,
  'k8s-taint': true,
  'pod-evicted': true,
  'ready-again': true,
  recovering: true,
  resolved: true,
  flap: true,
  note: true,
  diagnosis: true,
  cloud: true,
};

export const MAX_ID = 256;
/** A Kubernetes node name is a DNS subdomain. */
export const MAX_NODE = 253;
export const MAX_TEXT = 64 * 1024;
export const MAX_JSON = 4 * 1024 * 1024;
export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;
const MAX_JSON_DEPTH = 64;

const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;
const TIME_HINT = 'write instants as ISO-8601 with a zone, e.g. 2025-08-25T03:58:00Z';

function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** An ISO-8601 instant with a zone, returned as `toISOString()`; anything else is BAD_INPUT. */
export function instant(value: unknown, field: string): string {
  const m = typeof value === 'string' ? ISO_INSTANT.exec(value) : null;
  const [y, mo, d, h, mi, s, oh, om] = (m?.slice(1) ?? []).map((part) => Number(part ?? 0));
  const valid =
    m !== null &&
    mo !== undefined &&
    mo >= 1 &&
    mo <= 12 &&
    d !== undefined &&
    d >= 1 &&
    d <= daysIn(y ?? 0, mo) &&
    (h ?? 24) <= 23 &&
    (mi ?? 60) <= 59 &&
    (s ?? 60) <= 59 &&
    (oh ?? 0) <= 23 &&
    (om ?? 0) <= 59;
  const ms = valid ? Date.parse(value as string) : Number.NaN;
  const iso = Number.isNaN(ms) ? '' : new Date(ms).toISOString();
  // Five-digit years would break the text ordering SQLite relies on.
  if (!/^\d{4}-/.test(iso)) {
    throw badInput(`${field} must be an ISO-8601 instant, got ${show(value)}`, TIME_HINT);
  }
  return iso;
}

export function optionalInstant(value: unknown, field: string): string | null {
  return value === null ? null : instant(value, field);
}

/**
 * A string both databases store unchanged: PostgreSQL refuses U+0000 in text
 * and JSONB, and an unpaired surrogate cannot be written as UTF-8.
 */
export function text(value: unknown, field: string, max: number, allowEmpty = false): string {
  const problem = textProblem(value, field, max, allowEmpty);
  if (problem !== null) throw problem;
  return value as string;
}

/** Why `value` is not a storable text (text's rules), as its BAD_INPUT; null when it is. */
function textProblem(
  value: unknown,
  field: string,
  max: number,
  allowEmpty: boolean,
): NodeWardenError | null {
  if (typeof value !== 'string') {
    return badInput(`${field} must be a string, got ${show(value)}`, `set ${field}`);
  }
  if (!allowEmpty && value.length === 0) {
    return badInput(`${field} must not be empty`, `set ${field}`);
  }
  if (value.length > max) {
    return badInput(
      `${field} is ${value.length} characters, more than ${max}`,
      `shorten ${field} or store the bulk as last words`,
    );
  }
  if (value.includes('\u0000')) {
    return badInput(
      `${field} contains U+0000 (NUL), which PostgreSQL cannot store`,
      'strip NUL characters (e.g. from kernel logs) before storing',
    );
  }
  if (/\p{Cs}/u.test(value)) {
    return badInput(
      `${field} contains an unpaired UTF-16 surrogate`,
      'store well-formed Unicode text',
    );
  }
  return null;
}

function member<T extends string>(set: Record<T, true>, value: unknown, field: string): T {
  if (typeof value === 'string' && Object.hasOwn(set, value)) return value as T;
  throw badInput(
    `${field} must be one of ${Object.keys(set).join(', ')}, got ${show(value)}`,
    `use one of the listed values for ${field}`,
  );
}

function array(value: unknown, field: string): readonly unknown[] {
  if (!Array.isArray(value)) throw badInput(`${field} must be an array`, `pass a list as ${field}`);
  return value as readonly unknown[];
}

function record(value: unknown, field: string): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badInput(`${field} must be an object, got ${show(value)}`, `pass an object as ${field}`);
  }
  return value as Readonly<Record<string, unknown>>;
}

function checkJson(value: unknown, field: string, depth: number): void {
  if (depth > MAX_JSON_DEPTH) {
    throw badInput(`${field} nests deeper than ${MAX_JSON_DEPTH}`, 'flatten the JSON value');
  }
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw badInput(`${field} is ${value}, which JSON cannot carry`, 'store finite numbers');
    }
    return;
  }
  if (typeof value === 'string') {
    text(value, field, MAX_JSON, true);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkJson(item, `${field}[${i}]`, depth + 1));
    return;
  }
  const proto: unknown = typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw badInput(
      `${field} is ${typeof value === 'object' ? 'a class instance' : typeof value}, not JSON`,
      'store plain objects, arrays, strings, finite numbers, booleans and null',
    );
  }
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    text(key, `${field} key`, MAX_TEXT, true);
    // JSON.stringify drops undefined members; refusing them keeps the round trip exact.
    checkJson(item, `${field}.${key}`, depth + 1);
  }
}

/** The JSON text of a value both JSON-in-TEXT and JSONB give back unchanged. */
export function jsonText(value: unknown, field: string): string {
  checkJson(value, field, 0);
  const out = JSON.stringify(value);
  if (out.length > MAX_JSON) {
    throw badInput(
      `${field} is ${out.length} characters of JSON, more than ${MAX_JSON}`,
      'store less per call (e.g. one minute of kernel log per blob)',
    );
  }
  return out;
}

/** Parses JSON this module wrote; a row that does not parse is corruption, not user input. */
export function parseJson(textValue: string): JsonValue {
  return JSON.parse(textValue) as JsonValue;
}

export function id(value: unknown, field = 'id'): string {
  return text(value, field, MAX_ID);
}

/** Whether `value` passes id(): one the store could ever have kept. */
export function isStorableId(value: unknown): boolean {
  return textProblem(value, 'id', MAX_ID, false) === null;
}

export function nodeName(value: unknown, field = 'node'): string {
  return text(value, field, MAX_NODE);
}

function nodeList(value: unknown, kind: IncidentKind, field: string): readonly string[] {
  const nodes = array(value, field).map((n, i) => nodeName(n, `${field}[${i}]`));
  if (new Set(nodes).size !== nodes.length) {
    throw badInput(`${field} lists a node twice: ${nodes.join(', ')}`, 'list each node once');
  }
  if (kind === 'node' ? nodes.length !== 1 : nodes.length === 0) {
    throw badInput(
      `${field}: a ${kind} incident needs ${kind === 'node' ? 'exactly one node' : 'at least one node'}, got ${nodes.length}`,
      'a node incident names its node; a partition incident every node involved',
    );
  }
  return nodes;
}

export function timelineEntry(value: unknown, field: string): TimelineEntry {
  const e = record(value, field);
  const node = e.node === undefined ? undefined : nodeName(e.node, `${field}.node`);
  return {
    at: instant(e.at, `${field}.at`),
    kind: member(TIMELINE_KINDS, e.kind, `${field}.kind`),
    message: text(e.message, `${field}.message`, MAX_TEXT, true),
    ...(node === undefined ? {} : { node }),
  };
}

export function timeline(value: unknown, field = 'timeline'): readonly TimelineEntry[] {
  return array(value, field).map((e, i) => timelineEntry(e, `${field}[${i}]`));
}

function affectedPods(value: unknown, field: string): readonly AffectedPod[] {
  return array(value, field).map((p, i) => {
    const pod = record(p, `${field}[${i}]`);
    const owner =
      pod.owner === undefined ? undefined : text(pod.owner, `${field}[${i}].owner`, MAX_ID);
    return {
      namespace: text(pod.namespace, `${field}[${i}].namespace`, MAX_NODE),
      name: text(pod.name, `${field}[${i}].name`, MAX_NODE),
      ...(owner === undefined ? {} : { owner }),
    };
  });
}

/**
 * Rules an incident keeps at every moment:
 * - open ⇔ resolvedAt is null; a resolved incident ends no earlier than it opened;
 * - a node incident names one node, a partition at least one; no node twice.
 */
function checkLifecycle(incident: Incident): Incident {
  if ((incident.status === 'open') !== (incident.resolvedAt === null)) {
    throw badInput(
      `incident ${incident.id} would be ${incident.status} with resolvedAt ${String(incident.resolvedAt)}`,
      'set resolvedAt when resolving, and clear it (null) when reopening',
    );
  }
  if (incident.resolvedAt !== null && incident.resolvedAt < incident.openedAt) {
    throw badInput(
      `incident ${incident.id} would have resolvedAt ${incident.resolvedAt}, before it opened at ${incident.openedAt}`,
      'resolvedAt must not be earlier than openedAt',
    );
  }
  return incident;
}

/** A whole incident in canonical form, or BAD_INPUT naming the first bad field. */
export function incident(value: unknown): Incident {
  const i = record(value, 'incident');
  const incidentId = id(i.id, 'incident.id');
  const kind = member(INCIDENT_KINDS, i.kind, 'incident.kind');
  return checkLifecycle({
    id: incidentId,
    kind,
    status: member(STATUSES, i.status, 'incident.status'),
    nodes: nodeList(i.nodes, kind, 'incident.nodes'),
    openedAt: instant(i.openedAt, 'incident.openedAt'),
    resolvedAt: optionalInstant(i.resolvedAt, 'incident.resolvedAt'),
    lastHeartbeatAt: optionalInstant(i.lastHeartbeatAt, 'incident.lastHeartbeatAt'),
    rootCause: i.rootCause === null ? null : member(ROOT_CAUSES, i.rootCause, 'incident.rootCause'),
    summary: text(i.summary, 'incident.summary', MAX_TEXT, true),
    timeline: timeline(i.timeline, 'incident.timeline'),
    affectedPods: affectedPods(i.affectedPods, 'incident.affectedPods'),
  });
}

const PATCHABLE: Record<keyof IncidentPatch, true> = {
  status: true,
  resolvedAt: true,
  rootCause: true,
  summary: true,
  affectedPods: true,
  nodes: true,
  lastHeartbeatAt: true,
};

/** `current` with `patch` applied, checked; the timeline is never part of a patch. */
export function patched(current: Incident, patch: unknown): Incident {
  const p = record(patch, 'patch');
  for (const key of Object.keys(p)) {
    if (!Object.hasOwn(PATCHABLE, key)) {
      throw badInput(
        `cannot change ${key} of incident ${current.id}`,
        key === 'timeline'
          ? 'the timeline is append-only: use appendTimeline'
          : `only ${Object.keys(PATCHABLE).join(', ')} can change`,
      );
    }
  }
  const has = (key: keyof IncidentPatch): boolean => p[key] !== undefined;
  return checkLifecycle({
    ...current,
    status: has('status') ? member(STATUSES, p.status, 'patch.status') : current.status,
    resolvedAt: has('resolvedAt')
      ? optionalInstant(p.resolvedAt, 'patch.resolvedAt')
      : current.resolvedAt,
    lastHeartbeatAt: has('lastHeartbeatAt')
      ? optionalInstant(p.lastHeartbeatAt, 'patch.lastHeartbeatAt')
      : current.lastHeartbeatAt,
    rootCause: has('rootCause')
      ? p.rootCause === null
        ? null
        : member(ROOT_CAUSES, p.rootCause, 'patch.rootCause')
      : current.rootCause,
    summary: has('summary') ? text(p.summary, 'patch.summary', MAX_TEXT, true) : current.summary,
    affectedPods: has('affectedPods')
      ? affectedPods(p.affectedPods, 'patch.affectedPods')
      : current.affectedPods,
    nodes: has('nodes') ? nodeList(p.nodes, current.kind, 'patch.nodes') : current.nodes,
  });
}

export interface CheckedAudit {
  readonly record: AuditRecord;
  readonly evidenceJson: string;
}

export function audit(value: unknown): CheckedAudit {
  const r = record(value, 'audit record');
  if (typeof r.durationMs !== 'number' || !Number.isFinite(r.durationMs) || r.durationMs < 0) {
    throw badInput(
      `audit record durationMs must be a finite number ≥ 0, got ${show(r.durationMs)}`,
      'measure the action with performance.now() and store the difference',
    );
  }
  const evidenceJson = jsonText(r.evidence, 'audit record evidence');
  return {
    record: {
      id: id(r.id, 'audit record id'),
      incidentId: r.incidentId === null ? null : id(r.incidentId, 'audit record incidentId'),
      at: instant(r.at, 'audit record at'),
      actor: text(r.actor, 'audit record actor', MAX_ID),
      action: text(r.action, 'audit record action', MAX_ID),
      reason: text(r.reason, 'audit record reason', MAX_TEXT, true),
      evidence: parseJson(evidenceJson),
      result: text(r.result, 'audit record result', MAX_ID),
      durationMs: r.durationMs,
    },
    evidenceJson,
  };
}

export function lastWordsKind(value: unknown): string {
  return text(value, 'last words kind', 64);
}

export function metaKey(value: unknown): string {
  return text(value, 'meta key', MAX_ID);
}

export interface CheckedQuery {
  readonly status: IncidentStatus | undefined;
  readonly node: string | undefined;
  readonly limit: number;
  readonly before: string | undefined;
}

/** `value` as a page size: an integer from 1 to MAX_LIMIT, else BAD_INPUT naming `what`. */
function checkedLimit(value: unknown, what: string, hint: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw badInput(`${what} must be an integer from 1 to ${MAX_LIMIT}, got ${show(value)}`, hint);
  }
  return value;
}

export function query(value: IncidentQuery | undefined): CheckedQuery {
  const q = record(value ?? {}, 'incident query');
  const limit = checkedLimit(
    q.limit ?? DEFAULT_LIMIT,
    'incident query limit',
    `page with before= instead of asking for more than ${MAX_LIMIT}`,
  );
  return {
    status: q.status === undefined ? undefined : member(STATUSES, q.status, 'query.status'),
    node: q.node === undefined ? undefined : nodeName(q.node, 'query.node'),
    limit,
    before: q.before === undefined ? undefined : instant(q.before, 'query.before'),
  };
}

export interface CheckedAuditQuery {
  readonly action: string;
  readonly node: string | null;
  readonly id: string | null;
  /** null: every match. */
  readonly limit: number | null;
}

export function auditQuery(value: AuditQuery): CheckedAuditQuery {
  const q = record(value, 'audit query');
  const limit =
    q.limit === undefined || q.limit === null
      ? null
      : checkedLimit(q.limit, 'audit query limit', 'leave limit out to get every matching record');
  return {
    action: text(q.action, 'audit query action', MAX_ID),
    node: q.node === undefined ? null : nodeName(q.node, 'audit query node'),
    id: q.id === undefined ? null : id(q.id, 'audit query id'),
    limit,
  };
}

/** How many last-words blobs to keep per node and kind. */
export function retention(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 100_000) {
    throw badInput(
      `last-words retention must be an integer from 1 to 100000, got ${show(value)}`,
      'keep the default (120) unless agents push more than one blob a second',
    );
  }
  return value;
}

/** Blobs sorted by node name in code-unit order, the same in every adapter whatever its collation. */
export function byNode<T extends { readonly node: string }>(rows: T[]): T[] {
  return rows.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}
