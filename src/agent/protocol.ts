/**
 * The wire protocol between `nodewarden agent` and the controller: the JSON
 * bodies of the agent routes (docs/agent.md), and strict, hand-written
 * validators for them. Both sides validate: the controller everything an
 * agent sends, the agent every plan and directive it receives (and the plan
 * it saved to disk). A validation failure names the path of the bad field,
 * e.g. `results[3].layers[0].status`. Pure: no I/O.
 */
import { NodeWardenError } from '../core/errors.ts';
import type { AgentPlan, ProbeAssignment } from '../core/plan.ts';
import {
  LAYER_STATUSES,
  LAYERS,
  NEIGHBOUR_STATES,
  type Layer,
  type LayerStatus,
  type NeighbourState,
} from '../core/probe.ts';

export const PROTOCOL_VERSION = 1;

/** One layer of a probe as sent; `command` and `detail` are cut to MAX_DETAIL. */
export interface WireLayer {
  readonly layer: Layer;
  readonly status: LayerStatus;
  readonly latencyMs: number | null;
  readonly command: string;
  readonly detail: string;
  readonly neighbourState?: NeighbourState;
}

/**
 * One probe of one target. `mode` says how deep it went: `l4` is the cheap
 * connect every tick (one layer); `full` is the L2–L7 probe run when the
 * connect failed, periodically, or on a probe-now directive.
 */
export interface WireResult {
  readonly target: string;
  readonly ip: string;
  /** Agent clock, epoch ms. The controller corrects for skew with the batch's `sentAt`. */
  readonly startedAt: number;
  readonly durationMs: number;
  readonly mode: 'l4' | 'full';
  readonly healthy: boolean;
  readonly failedLayer: Layer | null;
  readonly summary: string;
  readonly layers: readonly WireLayer[];
  /** The probe-now request this result answers, if any. */
  readonly directive?: string;
}

/** `POST /v1/agents/{node}/results`. */
export interface ResultBatch {
  readonly node: string;
  /** Agent clock when the batch was sent, epoch ms. */
  readonly sentAt: number;
  /** The plan the agent is probing with; null before it has one. */
  readonly planVersion: string | null;
  /** Results the agent dropped from its backlog since it started (oldest first, while the controller was away). */
  readonly dropped: number;
  readonly results: readonly WireResult[];
}

/** Asks an observer to probe a target at every layer now. */
export interface ProbeNowDirective {
  readonly id: string;
  readonly kind: 'probe-now';
  readonly target: string;
  readonly ip: string;
  readonly requestedAt: number;
  readonly expiresAt: number;
}

/** Which infrastructure address a reference point is (core's `ReferenceProbe.kind`). */
export type ReferencePointKind = 'gateway' | 'ovn-gateway';
export const REFERENCE_POINT_KINDS: readonly ReferencePointKind[] = ['gateway', 'ovn-gateway'];

/** One address to probe: L3 (ICMP echo) always, L4 (TCP connect) when a port is given. */
export interface ReferencePoint {
  readonly kind: ReferencePointKind;
  readonly ip: string;
  readonly port?: number;
}

/**
 * Asks an observer to probe infrastructure reference points now (the node's
 * gateway, the OVN gateway) while the controller diagnoses `node`: "the
 * network is fine, the node is not" becomes a measurement from where the
 * node was watched. Bounded: at most `LIMITS.maxReferencePoints` points,
 * `timeoutMs` per layer within `LIMITS.referenceTimeoutMs`; answered once,
 * on `POST /v1/agents/{observer}/references`, before `expiresAt`.
 */
export interface ReferencesDirective {
  readonly id: string;
  readonly kind: 'probe-references';
  /** The node being diagnosed (for the logs; the points are what is probed). */
  readonly node: string;
  readonly points: readonly ReferencePoint[];
  readonly timeoutMs: number;
  readonly requestedAt: number;
  readonly expiresAt: number;
}

export type Directive = ProbeNowDirective | ReferencesDirective;

/**
 * Sent by an agent in the `x-nodewarden-agent-features` request header: the
 * controller hands `probe-references` directives only to agents that named
 * it (an older agent would refuse the whole answer that carried one).
 */
export const AGENT_FEATURES_HEADER = 'x-nodewarden-agent-features';
export type AgentFeature = 'probe-references';
export const AGENT_FEATURES: readonly AgentFeature[] = ['probe-references'];

/** One reference point as probed by an observer; `layers` holds L3, and L4 when a port was given. */
export interface WireReferenceResult {
  readonly kind: ReferencePointKind;
  readonly ip: string;
  readonly port?: number;
  /** Agent clock, epoch ms. */
  readonly startedAt: number;
  readonly durationMs: number;
  readonly healthy: boolean;
  readonly layers: readonly WireLayer[];
}

/** `POST /v1/agents/{node}/references`: an observer's answer to one `probe-references` directive. */
export interface ReferencesAnswer {
  readonly node: string;
  readonly sentAt: number;
  readonly directive: string;
  readonly results: readonly WireReferenceResult[];
}

/** The answer to a result push. */
export interface PushResponse {
  readonly accepted: number;
  /** Results older than the controller keeps (a drained backlog), or for nodes it does not know. */
  readonly ignored: number;
  /** The controller's current plan version: an agent with another fetches its plan at once. */
  readonly planVersion: string;
  readonly directives: readonly Directive[];
}

/** `GET /v1/agents/{node}/plan` (200; 304 when the ETag matches and nothing is queued). */
export interface PlanResponse {
  readonly plan: AgentPlan;
  readonly directives: readonly Directive[];
}

export type LastWordsKind = 'kernel-log' | 'gpu-samples' | 'interfaces' | 'inventory';
export const LAST_WORDS_KINDS: readonly LastWordsKind[] = [
  'kernel-log',
  'gpu-samples',
  'interfaces',
  'inventory',
];

/** One blob of last words; `data` is any JSON object (shapes in docs/agent.md). */
export interface LastWordsItem {
  readonly kind: LastWordsKind;
  /** ISO-8601, agent clock. */
  readonly at: string;
  readonly data: { readonly [key: string]: unknown };
}

/** `POST /v1/agents/{node}/last-words`. */
export interface LastWordsBatch {
  readonly node: string;
  readonly sentAt: number;
  readonly items: readonly LastWordsItem[];
}

export const LIMITS = {
  /** Request bodies larger than this are refused with 413. */
  maxBodyBytes: 1024 * 1024,
  maxResultsPerBatch: 2_000,
  maxLayers: 4,
  maxLastWordsItems: 64,
  maxDetail: 1_024,
  maxName: 253,
  maxDirectives: 64,
  maxTargets: 10_000,
  /** Addresses in one `probe-references` directive (the gateway, the OVN gateway, a few more). */
  maxReferencePoints: 4,
  /** Per-layer timeout bounds of a `probe-references` directive, ms. */
  referenceTimeoutMs: { min: 100, max: 5_000 },
  /** A directive lives at most this long (requestedAt → expiresAt), ms. */
  maxDirectiveLifeMs: 120_000,
} as const;

/** A body or a field that is not what the protocol says, with the path of the field. */
export class ProtocolError extends NodeWardenError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('BAD_INPUT', `${path === '' ? 'body' : path}: ${message}`, {
      hint: 'the agent and controller must speak the same protocol (docs/agent.md); upgrade the older one',
    });
    this.path = path;
  }
}

type Obj = Readonly<Record<string, unknown>>;

function show(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function object(value: unknown, path: string, keys: readonly string[]): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError(path, `expected an object, got ${show(value)}`);
  }
  const o = value as Obj;
  for (const key of Object.keys(o)) {
    if (!keys.includes(key)) throw new ProtocolError(join(path, key), 'unknown field');
  }
  return o;
}

function array(value: unknown, path: string, max: number): readonly unknown[] {
  if (!Array.isArray(value)) throw new ProtocolError(path, `expected an array, got ${show(value)}`);
  if (value.length > max) {
    throw new ProtocolError(path, `has ${value.length} entries, at most ${max} are allowed`);
  }
  return value;
}

function string(value: unknown, path: string, max: number, allowEmpty = false): string {
  if (typeof value !== 'string')
    throw new ProtocolError(path, `expected a string, got ${show(value)}`);
  if (!allowEmpty && value === '') throw new ProtocolError(path, 'is empty');
  if (value.length > max)
    throw new ProtocolError(path, `is ${value.length} characters, at most ${max}`);
  return value;
}

function number(value: unknown, path: string, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new ProtocolError(path, `expected a finite number ≥ ${min}, got ${show(value)}`);
  }
  return value;
}

function integer(value: unknown, path: string, min: number): number {
  const n = number(value, path, min);
  if (!Number.isSafeInteger(n)) throw new ProtocolError(path, `expected a whole number, got ${n}`);
  return n;
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean')
    throw new ProtocolError(path, `expected true or false, got ${show(value)}`);
  return value;
}

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ProtocolError(path, `expected one of ${allowed.join(', ')}, got ${show(value)}`);
  }
  return value as T;
}

function required(o: Obj, key: string, path: string): unknown {
  if (!Object.hasOwn(o, key)) throw new ProtocolError(join(path, key), 'is missing');
  return o[key];
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Literal addresses only; the agent validates them again (src/probe/target.ts) before probing. */
const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$/;

/** A Kubernetes node name (DNS subdomain); `what` names the input in the error. */
export function nodeName(value: unknown, path: string): string {
  const name = string(value, path, LIMITS.maxName);
  if (!DNS_SUBDOMAIN.test(name)) {
    throw new ProtocolError(path, `${show(name)} is not a node name (lower-case DNS subdomain)`);
  }
  return name;
}

function ip(value: unknown, path: string): string {
  const text = string(value, path, 45);
  if (!IP_LITERAL.test(text)) throw new ProtocolError(path, `${show(text)} is not an IP address`);
  return text;
}

function layer(value: unknown, path: string): WireLayer {
  const o = object(value, path, [
    'layer',
    'status',
    'latencyMs',
    'command',
    'detail',
    'neighbourState',
  ]);
  const latency = required(o, 'latencyMs', path);
  const base = {
    layer: oneOf(required(o, 'layer', path), join(path, 'layer'), LAYERS),
    status: oneOf(required(o, 'status', path), join(path, 'status'), LAYER_STATUSES),
    latencyMs: latency === null ? null : number(latency, join(path, 'latencyMs'), 0),
    command: string(required(o, 'command', path), join(path, 'command'), LIMITS.maxDetail, true),
    detail: string(required(o, 'detail', path), join(path, 'detail'), LIMITS.maxDetail, true),
  };
  return o.neighbourState === undefined
    ? base
    : {
        ...base,
        neighbourState: oneOf(o.neighbourState, join(path, 'neighbourState'), NEIGHBOUR_STATES),
      };
}

function result(value: unknown, path: string): WireResult {
  const o = object(value, path, [
    'target',
    'ip',
    'startedAt',
    'durationMs',
    'mode',
    'healthy',
    'failedLayer',
    'summary',
    'layers',
    'directive',
  ]);
  const failed = required(o, 'failedLayer', path);
  const layers = array(required(o, 'layers', path), join(path, 'layers'), LIMITS.maxLayers).map(
    (l, i) => layer(l, join(join(path, 'layers'), i)),
  );
  const healthy = boolean(required(o, 'healthy', path), join(path, 'healthy'));
  const failedLayer = failed === null ? null : oneOf(failed, join(path, 'failedLayer'), LAYERS);
  if (healthy && failedLayer !== null) {
    throw new ProtocolError(join(path, 'failedLayer'), `is ${failedLayer} but healthy is true`);
  }
  const base: WireResult = {
    target: nodeName(required(o, 'target', path), join(path, 'target')),
    ip: ip(required(o, 'ip', path), join(path, 'ip')),
    startedAt: integer(required(o, 'startedAt', path), join(path, 'startedAt'), 0),
    durationMs: number(required(o, 'durationMs', path), join(path, 'durationMs'), 0),
    mode: oneOf(required(o, 'mode', path), join(path, 'mode'), ['l4', 'full'] as const),
    healthy,
    failedLayer,
    summary: string(required(o, 'summary', path), join(path, 'summary'), LIMITS.maxDetail, true),
    layers,
  };
  return o.directive === undefined
    ? base
    : { ...base, directive: string(o.directive, join(path, 'directive'), 64) };
}

/** Validates a result push; `ProtocolError` names the first bad field. */
export function parseResultBatch(value: unknown): ResultBatch {
  const o = object(value, '', ['node', 'sentAt', 'planVersion', 'dropped', 'results']);
  const version = required(o, 'planVersion', '');
  return {
    node: nodeName(required(o, 'node', ''), 'node'),
    sentAt: integer(required(o, 'sentAt', ''), 'sentAt', 0),
    planVersion: version === null ? null : string(version, 'planVersion', 64),
    dropped: integer(required(o, 'dropped', ''), 'dropped', 0),
    results: array(required(o, 'results', ''), 'results', LIMITS.maxResultsPerBatch).map((r, i) =>
      result(r, `results[${i}]`),
    ),
  };
}

function jsonObject(value: unknown, path: string): { readonly [key: string]: unknown } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError(path, `expected an object, got ${show(value)}`);
  }
  return value as Obj;
}

function instant(value: unknown, path: string): string {
  const text = string(value, path, 40);
  const ms = Date.parse(text);
  if (!Number.isFinite(ms) || !/^\d{4}-\d\d-\d\dT/.test(text)) {
    throw new ProtocolError(path, `${show(text)} is not an ISO-8601 instant`);
  }
  return new Date(ms).toISOString();
}

/** Validates a last-words push. */
export function parseLastWordsBatch(value: unknown): LastWordsBatch {
  const o = object(value, '', ['node', 'sentAt', 'items']);
  const items = array(required(o, 'items', ''), 'items', LIMITS.maxLastWordsItems).map((v, i) => {
    const path = `items[${i}]`;
    const item = object(v, path, ['kind', 'at', 'data']);
    return {
      kind: oneOf(required(item, 'kind', path), `${path}.kind`, LAST_WORDS_KINDS),
      at: instant(required(item, 'at', path), `${path}.at`),
      data: jsonObject(required(item, 'data', path), `${path}.data`),
    };
  });
  return {
    node: nodeName(required(o, 'node', ''), 'node'),
    sentAt: integer(required(o, 'sentAt', ''), 'sentAt', 0),
    items,
  };
}

function port(value: unknown, path: string): number {
  const n = integer(value, path, 1);
  if (n > 65_535) throw new ProtocolError(path, `${n} is not a TCP port (1–65535)`);
  return n;
}

function referencePoint(value: unknown, path: string): ReferencePoint {
  const o = object(value, path, ['kind', 'ip', 'port']);
  const base = {
    kind: oneOf(required(o, 'kind', path), join(path, 'kind'), REFERENCE_POINT_KINDS),
    ip: ip(required(o, 'ip', path), join(path, 'ip')),
  };
  return o.port === undefined ? base : { ...base, port: port(o.port, join(path, 'port')) };
}

/** requestedAt and expiresAt of a directive: ordered, and not longer-lived than the limit. */
function lifetime(o: Obj, path: string): { requestedAt: number; expiresAt: number } {
  const requestedAt = integer(required(o, 'requestedAt', path), join(path, 'requestedAt'), 0);
  const expiresAt = integer(required(o, 'expiresAt', path), join(path, 'expiresAt'), 0);
  if (expiresAt <= requestedAt || expiresAt - requestedAt > LIMITS.maxDirectiveLifeMs) {
    throw new ProtocolError(
      join(path, 'expiresAt'),
      `must be after requestedAt and at most ${LIMITS.maxDirectiveLifeMs} ms later (got ${expiresAt - requestedAt} ms)`,
    );
  }
  return { requestedAt, expiresAt };
}

/** Every field any directive kind has; each kind then checks its own. */
const DIRECTIVE_KEYS = [
  'id',
  'kind',
  'target',
  'ip',
  'node',
  'points',
  'timeoutMs',
  'requestedAt',
  'expiresAt',
];

/** Validates one directive; the reference points' bounds are checked here, on both sides. */
export function parseDirective(value: unknown, path: string): Directive {
  const kind = oneOf(
    required(object(value, path, DIRECTIVE_KEYS), 'kind', path),
    join(path, 'kind'),
    ['probe-now', 'probe-references'] as const,
  );
  if (kind === 'probe-now') {
    const o = object(value, path, ['id', 'kind', 'target', 'ip', 'requestedAt', 'expiresAt']);
    return {
      id: string(required(o, 'id', path), join(path, 'id'), 64),
      kind,
      target: nodeName(required(o, 'target', path), join(path, 'target')),
      ip: ip(required(o, 'ip', path), join(path, 'ip')),
      ...lifetime(o, path),
    };
  }
  const o = object(value, path, [
    'id',
    'kind',
    'node',
    'points',
    'timeoutMs',
    'requestedAt',
    'expiresAt',
  ]);
  const points = array(
    required(o, 'points', path),
    join(path, 'points'),
    LIMITS.maxReferencePoints,
  ).map((p, i) => referencePoint(p, join(join(path, 'points'), i)));
  if (points.length === 0) throw new ProtocolError(join(path, 'points'), 'is empty');
  const timeoutMs = integer(required(o, 'timeoutMs', path), join(path, 'timeoutMs'), 0);
  const { min, max } = LIMITS.referenceTimeoutMs;
  if (timeoutMs < min || timeoutMs > max) {
    throw new ProtocolError(join(path, 'timeoutMs'), `${timeoutMs} is outside ${min}–${max} ms`);
  }
  return {
    id: string(required(o, 'id', path), join(path, 'id'), 64),
    kind,
    node: nodeName(required(o, 'node', path), join(path, 'node')),
    points,
    timeoutMs,
    ...lifetime(o, path),
  };
}

function directives(value: unknown, path: string): readonly Directive[] {
  return array(value, path, LIMITS.maxDirectives).map((d, i) => parseDirective(d, join(path, i)));
}

function assignment(value: unknown, path: string): ProbeAssignment {
  const o = object(value, path, ['target', 'ip', 'intervalMs', 'priority']);
  return {
    target: nodeName(required(o, 'target', path), join(path, 'target')),
    ip: ip(required(o, 'ip', path), join(path, 'ip')),
    intervalMs: integer(required(o, 'intervalMs', path), join(path, 'intervalMs'), 1),
    priority: boolean(required(o, 'priority', path), join(path, 'priority')),
  };
}

/** Validates one agent's plan (from the controller, or the copy saved on disk). */
export function parseAgentPlan(value: unknown, path = 'plan'): AgentPlan {
  const o = object(value, path, ['version', 'generatedAt', 'observer', 'member', 'targets']);
  return {
    version: string(required(o, 'version', path), join(path, 'version'), 64),
    generatedAt: string(required(o, 'generatedAt', path), join(path, 'generatedAt'), 40),
    observer: nodeName(required(o, 'observer', path), join(path, 'observer')),
    member: boolean(required(o, 'member', path), join(path, 'member')),
    targets: array(required(o, 'targets', path), join(path, 'targets'), LIMITS.maxTargets).map(
      (a, i) => assignment(a, join(join(path, 'targets'), i)),
    ),
  };
}

export function parsePlanResponse(value: unknown): PlanResponse {
  const o = object(value, '', ['plan', 'directives']);
  return {
    plan: parseAgentPlan(required(o, 'plan', ''), 'plan'),
    directives: directives(required(o, 'directives', ''), 'directives'),
  };
}

export function parsePushResponse(value: unknown): PushResponse {
  const o = object(value, '', ['accepted', 'ignored', 'planVersion', 'directives']);
  return {
    accepted: integer(required(o, 'accepted', ''), 'accepted', 0),
    ignored: integer(required(o, 'ignored', ''), 'ignored', 0),
    planVersion: string(required(o, 'planVersion', ''), 'planVersion', 64),
    directives: directives(required(o, 'directives', ''), 'directives'),
  };
}

function referenceResult(value: unknown, path: string): WireReferenceResult {
  const o = object(value, path, [
    'kind',
    'ip',
    'port',
    'startedAt',
    'durationMs',
    'healthy',
    'layers',
  ]);
  const layers = array(required(o, 'layers', path), join(path, 'layers'), 2).map((l, i) =>
    layer(l, join(join(path, 'layers'), i)),
  );
  for (const [i, l] of layers.entries()) {
    if (l.layer !== 'L3' && l.layer !== 'L4') {
      throw new ProtocolError(
        join(join(join(path, 'layers'), i), 'layer'),
        `a reference point is probed at L3 and L4 only, got ${l.layer}`,
      );
    }
  }
  const base = {
    kind: oneOf(required(o, 'kind', path), join(path, 'kind'), REFERENCE_POINT_KINDS),
    ip: ip(required(o, 'ip', path), join(path, 'ip')),
    startedAt: integer(required(o, 'startedAt', path), join(path, 'startedAt'), 0),
    durationMs: number(required(o, 'durationMs', path), join(path, 'durationMs'), 0),
    healthy: boolean(required(o, 'healthy', path), join(path, 'healthy')),
    layers,
  };
  return o.port === undefined ? base : { ...base, port: port(o.port, join(path, 'port')) };
}

/** Validates an observer's answer to a `probe-references` directive. */
export function parseReferencesAnswer(value: unknown): ReferencesAnswer {
  const o = object(value, '', ['node', 'sentAt', 'directive', 'results']);
  return {
    node: nodeName(required(o, 'node', ''), 'node'),
    sentAt: integer(required(o, 'sentAt', ''), 'sentAt', 0),
    directive: string(required(o, 'directive', ''), 'directive', 64),
    results: array(required(o, 'results', ''), 'results', LIMITS.maxReferencePoints).map((r, i) =>
      referenceResult(r, `results[${i}]`),
    ),
  };
}

/** The features an agent named in its request header; unknown words are ignored. */
export function parseAgentFeatures(header: string | string[] | undefined): AgentFeature[] {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  return AGENT_FEATURES.filter((f) =>
    text
      .split(',')
      .map((w) => w.trim())
      .includes(f),
  );
}

/** Cuts text to the protocol's limit, saying so. */
export function clip(text: string, max: number = LIMITS.maxDetail): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
