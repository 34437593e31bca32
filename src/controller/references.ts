/**
 * Reference points probed from the observers (issue #6): the controller asks
 * a few observers of a failed node to probe infrastructure addresses (the
 * node's gateway, the OVN gateway) now, and keeps their answers, so that
 * "the network is fine, the node is not" is measured from where the node
 * was watched rather than assumed. Directives ride the same channel as
 * probe-now (plan poll and result push answers); answers come back on
 * `POST /v1/agents/{observer}/references`.
 *
 * Bounds: at most `LIMITS.maxReferencePoints` points per request, a
 * per-layer timeout within `LIMITS.referenceTimeoutMs`, a TTL (default 15 s)
 * after which the directive is no longer handed out nor answered, and at
 * most `maxRequests` requests remembered (the oldest forgotten first).
 */
import type { Clock } from '../core/clock.ts';
import { NodeWardenError } from '../core/errors.ts';
import type { LayerResult } from '../core/probe.ts';
import {
  LIMITS,
  type ReferencePoint,
  type ReferencesAnswer,
  type ReferencesDirective,
  type WireReferenceResult,
} from '../agent/protocol.ts';

/** One point as an observer probed it, with `startedAt` on the controller's clock (skew-corrected). */
export interface ReceivedReference {
  readonly kind: WireReferenceResult['kind'];
  readonly ip: string;
  readonly port?: number;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly healthy: boolean;
  readonly layers: readonly LayerResult[];
}

/** One observer's answer. */
export interface ReferenceAnswerRecord {
  readonly observer: string;
  readonly receivedAt: number;
  readonly results: readonly ReceivedReference[];
}

export interface ReferencesStatus {
  readonly id: string;
  readonly node: string;
  readonly points: readonly ReferencePoint[];
  readonly timeoutMs: number;
  readonly requestedAt: number;
  readonly expiresAt: number;
  readonly observers: readonly string[];
  readonly answered: readonly ReferenceAnswerRecord[];
  readonly pending: readonly string[];
}

/** How an answer was taken. */
export type ReferenceAnswerOutcome = 'recorded' | 'unknown' | 'not-asked' | 'expired' | 'mismatch';

interface ReferencesRequest {
  readonly directive: ReferencesDirective;
  readonly observers: readonly string[];
  readonly answers: Map<string, ReferenceAnswerRecord>;
}

export interface ReferenceQueueOptions {
  /** A directive not answered by then is dropped. Default 15 s. */
  readonly ttlMs?: number;
  /** Requests remembered (answered or not). Default 64. */
  readonly maxRequests?: number;
}

export class ReferenceQueue {
  readonly #requests = new Map<string, ReferencesRequest>();
  readonly #ttlMs: number;
  readonly #max: number;
  #seq = 0;

  constructor(
    private readonly clock: Clock,
    options: ReferenceQueueOptions = {},
  ) {
    this.#ttlMs = options.ttlMs ?? 15_000;
    this.#max = options.maxRequests ?? 64;
    if (!(this.#ttlMs > 0 && this.#ttlMs <= LIMITS.maxDirectiveLifeMs)) {
      throw new NodeWardenError(
        'BAD_INPUT',
        `reference directive TTL ${this.#ttlMs} ms is outside 1–${LIMITS.maxDirectiveLifeMs} ms`,
        { hint: 'leave ttlMs unset for the default (15 s)' },
      );
    }
  }

  /**
   * Queues "probe these points now" for each observer. BAD_INPUT for no
   * observer, no point, too many points or a timeout out of bounds.
   */
  request(
    node: string,
    points: readonly ReferencePoint[],
    observers: readonly string[],
    timeoutMs: number,
  ): ReferencesStatus {
    const { min, max } = LIMITS.referenceTimeoutMs;
    const bad = (what: string, hint: string): never => {
      throw new NodeWardenError('BAD_INPUT', `reference points for ${node}: ${what}`, { hint });
    };
    if (observers.length === 0) bad('no observer to ask', 'the node needs observers in the plan');
    if (points.length === 0) bad('no reference point', 'configure --gateway and/or --ovn-gateway');
    if (points.length > LIMITS.maxReferencePoints)
      bad(
        `${points.length} points, at most ${LIMITS.maxReferencePoints}`,
        'name the gateway and the OVN gateway, not every router',
      );
    if (!Number.isInteger(timeoutMs) || timeoutMs < min || timeoutMs > max)
      bad(`timeout ${timeoutMs} ms is outside ${min}–${max} ms`, 'use the probe timeout (3 s)');
    const now = this.clock.now();
    this.#seq += 1;
    const directive: ReferencesDirective = {
      id: `rp-${now.toString(36)}-${this.#seq.toString(36)}`,
      kind: 'probe-references',
      node,
      points: [...points],
      timeoutMs,
      requestedAt: now,
      expiresAt: now + this.#ttlMs,
    };
    const req: ReferencesRequest = { directive, observers: [...observers], answers: new Map() };
    this.#requests.set(directive.id, req);
    while (this.#requests.size > this.#max) {
      const oldest = this.#requests.keys().next().value;
      if (oldest === undefined) break;
      this.#requests.delete(oldest);
    }
    return statusOf(req);
  }

  /** Directives still waiting for `observer`'s answer. */
  pendingFor(observer: string): ReferencesDirective[] {
    const now = this.clock.now();
    const out: ReferencesDirective[] = [];
    for (const req of this.#requests.values()) {
      if (
        req.directive.expiresAt > now &&
        !req.answers.has(observer) &&
        req.observers.includes(observer)
      ) {
        out.push(req.directive);
      }
    }
    return out;
  }

  /**
   * Takes `observer`'s answer. Times are shifted by (received − sentAt), as
   * for result batches. Only points that were asked are kept: an answer with
   * another point is a `mismatch`, and nothing of it is recorded.
   */
  answer(observer: string, answer: ReferencesAnswer): ReferenceAnswerOutcome {
    const req = this.#requests.get(answer.directive);
    if (req === undefined) return 'unknown';
    if (!req.observers.includes(observer)) return 'not-asked';
    const received = this.clock.now();
    if (req.directive.expiresAt <= received) return 'expired';
    const asked = (r: WireReferenceResult): boolean =>
      req.directive.points.some((p) => p.kind === r.kind && p.ip === r.ip && p.port === r.port);
    if (!answer.results.every(asked)) return 'mismatch';
    const offset = received - answer.sentAt;
    req.answers.set(observer, {
      observer,
      receivedAt: received,
      results: answer.results.map((r) => ({
        ...r,
        startedAt: Math.min(received, r.startedAt + offset),
        layers: r.layers.map((l) => ({ ...l })),
      })),
    });
    return 'recorded';
  }

  status(id: string): ReferencesStatus | undefined {
    const req = this.#requests.get(id);
    return req === undefined ? undefined : statusOf(req);
  }
}

function statusOf(req: ReferencesRequest): ReferencesStatus {
  const d = req.directive;
  return {
    id: d.id,
    node: d.node,
    points: d.points,
    timeoutMs: d.timeoutMs,
    requestedAt: d.requestedAt,
    expiresAt: d.expiresAt,
    observers: req.observers,
    answered: [...req.answers.values()],
    pending: req.observers.filter((o) => !req.answers.has(o)),
  };
}

/**
 * Picks up to `max` observers, one per zone first (in the order given, which
 * is the caller's preference), then fills from the rest: reference points
 * answering from several zones say more about the network than three answers
 * from one rack. Pure.
 */
export function spreadAcrossZones(
  observers: readonly string[],
  zoneOf: (observer: string) => string | null,
  max: number,
): string[] {
  const picked: string[] = [];
  const zones = new Set<string>();
  for (const o of observers) {
    if (picked.length >= max) break;
    const zone = zoneOf(o);
    if (zone === null || zones.has(zone)) continue;
    zones.add(zone);
    picked.push(o);
  }
  for (const o of observers) {
    if (picked.length >= max) break;
    if (!picked.includes(o)) picked.push(o);
  }
  return picked;
}
