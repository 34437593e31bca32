/**
 * Sends incident notifications to Slack-compatible webhooks and to
 * Alertmanager's API v2, without ever holding up detection:
 * - `notify()` only queues; one worker per target delivers in order (the
 *   "opened" message before the verdict, the verdict before "resolved");
 * - each request has a timeout (a slow receiver is a failed attempt), and a
 *   failed attempt is retried with capped exponential backoff and jitter —
 *   network errors, timeouts, 408, 429 and 5xx only, honouring Retry-After;
 *   other 4xx are final (retrying a malformed request cannot help);
 * - a token bucket per target limits the rate (a storm of incidents must not
 *   get the webhook banned); the queue is bounded and drops the oldest
 *   message, counting what it dropped;
 * - Alertmanager forgets an alert that is not re-posted within its
 *   resolve_timeout (5 min by default), so an open incident's alert is
 *   re-posted every `alertmanagerResendMs`; a newer state of an incident
 *   replaces an older one still queued (one alert per incident, by labels).
 * URLs are secrets (a Slack webhook's path is its credential): logs name a
 * target by scheme and host only.
 */
import { systemClock, type Clock, type Timer } from '../core/clock.ts';
import { badInput, describeError } from '../core/errors.ts';
import type { Incident } from '../core/incident.ts';
import type { Logger } from '../core/logger.ts';
import {
  alertmanagerAlert,
  reportUrlFor,
  slackMessage,
  type NotificationEvent,
  type NotificationKind,
} from './messages.ts';

export type TargetKind = 'slack' | 'alertmanager';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface RateLimit {
  /** Messages that may go out back to back. */
  readonly burst: number;
  /** One more message allowed every this many ms. */
  readonly refillMs: number;
}

export interface NotifierOptions {
  readonly slackUrls: readonly string[];
  readonly alertmanagerUrls: readonly string[];
  /** The controller's public base URL; report links are made from it. */
  readonly publicUrl: string | null;
  readonly log: Logger;
  readonly clock?: Clock;
  readonly fetch?: typeof fetch;
  /** Per request (connect, answer, body). Default 5,000 ms. */
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
  readonly rateLimit?: RateLimit;
  /** Default 100 per target. */
  readonly maxQueue?: number;
  /** Default 60,000 ms; 0 turns re-posting off. */
  readonly alertmanagerResendMs?: number;
  /** [0, 1); default Math.random. */
  readonly random?: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 1_000, maxDelayMs: 30_000 };
/** Slack allows about one message a second per webhook; 20 a minute after a burst of 10 stays well under. */
export const DEFAULT_RATE_LIMIT: RateLimit = { burst: 10, refillMs: 3_000 };

export interface NotifierStats {
  sent: number;
  failed: number;
  retries: number;
  dropped: number;
}

/** `https://hooks.example.com/…`: enough to tell targets apart, never the credential in the path or userinfo. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(unparseable URL)';
  }
}

/** Whether an HTTP status is worth another attempt. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Retry-After in ms (seconds or an HTTP date), or null. */
export function retryAfterMs(header: string | null, nowMs: number): number | null {
  if (header === null || header.trim() === '') return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1_000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** Delay before attempt `n` (1-based retries): full jitter over base × 2^(n−1), capped; Retry-After wins when longer. */
export function backoffMs(
  policy: RetryPolicy,
  retry: number,
  random: number,
  retryAfter: number | null,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  const jittered = ceiling / 2 + (random * ceiling) / 2;
  return Math.min(policy.maxDelayMs, Math.max(jittered, retryAfter ?? 0));
}

interface Job {
  readonly event: NotificationEvent;
  /** Jobs with the same key replace each other while queued (Alertmanager: one alert per incident). */
  readonly key: string | null;
}

type Outcome =
  | { ok: true; status: number }
  | { ok: false; retryable: boolean; why: string; retryAfter: number | null };

class TargetWorker {
  readonly #queue: Job[] = [];
  #tokens: number;
  #lastRefill: number;
  #running: Promise<void> | null = null;
  #stopped = false;
  readonly #abort = new AbortController();

  constructor(
    readonly kind: TargetKind,
    readonly url: string,
    private readonly o: Required<
      Omit<NotifierOptions, 'slackUrls' | 'alertmanagerUrls' | 'publicUrl'>
    >,
    private readonly stats: NotifierStats,
  ) {
    this.#tokens = o.rateLimit.burst;
    this.#lastRefill = o.clock.now();
  }

  /** Error texts (fetch's among them) may quote the URL: never let it reach a log. */
  #scrub(text: string): string {
    const u = new URL(this.url);
    let out = text.split(this.url).join(redactUrl(this.url));
    for (const secret of [u.pathname, u.search, u.username, u.password]) {
      if (secret.length > 1) out = out.split(secret).join('…');
    }
    return out;
  }

  get name(): string {
    return `${this.kind} ${redactUrl(this.url)}`;
  }

  enqueue(job: Job): void {
    if (this.#stopped) return;
    if (job.key !== null) {
      const at = this.#queue.findIndex((j) => j.key === job.key);
      if (at >= 0) {
        this.#queue[at] = job;
        return;
      }
    }
    this.#queue.push(job);
    if (this.#queue.length > this.o.maxQueue) {
      const dropped = this.#queue.shift();
      this.stats.dropped += 1;
      this.o.log.log('warn', 'notification dropped: queue full', {
        target: this.name,
        incident: dropped?.event.incident.id,
        kind: dropped?.event.kind,
        maxQueue: this.o.maxQueue,
      });
    }
    this.#running ??= this.#drain().finally(() => {
      this.#running = null;
    });
  }

  /** Resolves when the queue is empty and nothing is in flight. */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  stop(): void {
    this.#stopped = true;
    this.#queue.length = 0;
    this.#abort.abort(new Error('notifier stopped'));
  }

  async #drain(): Promise<void> {
    for (let job = this.#queue.shift(); job !== undefined; job = this.#queue.shift()) {
      try {
        await this.#takeToken();
        await this.#deliver(job.event);
      } catch (error) {
        if (this.#stopped) return;
        this.o.log.log('error', 'notification failed', {
          target: this.name,
          error: describeError(error),
        });
      }
    }
  }

  async #takeToken(): Promise<void> {
    const { burst, refillMs } = this.o.rateLimit;
    for (;;) {
      const now = this.o.clock.now();
      const earned = Math.floor((now - this.#lastRefill) / refillMs);
      if (earned > 0) {
        this.#tokens = Math.min(burst, this.#tokens + earned);
        this.#lastRefill = this.#tokens === burst ? now : this.#lastRefill + earned * refillMs;
      }
      if (this.#tokens > 0) {
        this.#tokens -= 1;
        return;
      }
      await this.o.clock.sleep(this.#lastRefill + refillMs - now, this.#abort.signal);
    }
  }

  async #attempt(body: unknown): Promise<Outcome> {
    const target =
      this.kind === 'alertmanager' ? `${this.url.replace(/\/+$/, '')}/api/v2/alerts` : this.url;
    try {
      const res = await this.o.fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.o.timeoutMs)]),
      });
      // Read (and bound) the body so the connection is released; receivers say why in it.
      const text = (await res.text()).slice(0, 300);
      if (res.ok) return { ok: true, status: res.status };
      return {
        ok: false,
        retryable: retryableStatus(res.status),
        why: this.#scrub(`HTTP ${res.status}${text.trim() ? `: ${text.trim()}` : ''}`),
        retryAfter: retryAfterMs(res.headers.get('retry-after'), this.o.clock.now()),
      };
    } catch (error) {
      if (this.#stopped) throw error;
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      return {
        ok: false,
        retryable: true,
        why: timedOut
          ? `no answer within ${this.o.timeoutMs} ms`
          : this.#scrub(describeError(error)),
        retryAfter: null,
      };
    }
  }

  async #deliver(event: NotificationEvent): Promise<void> {
    const body = this.kind === 'slack' ? slackMessage(event) : [alertmanagerAlert(event)];
    const { attempts } = this.o.retry;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(body);
      const fields = { target: this.name, incident: event.incident.id, kind: event.kind, attempt };
      if (outcome.ok) {
        this.stats.sent += 1;
        this.o.log.log('info', 'notification sent', { ...fields, status: outcome.status });
        return;
      }
      if (!outcome.retryable || attempt >= attempts) {
        this.stats.failed += 1;
        this.o.log.log('error', 'notification failed', {
          ...fields,
          error: outcome.why,
          final: outcome.retryable ? `gave up after ${attempts} attempts` : 'not retryable',
        });
        return;
      }
      const delay = backoffMs(this.o.retry, attempt, this.o.random(), outcome.retryAfter);
      this.stats.retries += 1;
      this.o.log.log('warn', 'notification attempt failed; retrying', {
        ...fields,
        error: outcome.why,
        retryInMs: Math.round(delay),
      });
      await this.o.clock.sleep(delay, this.#abort.signal);
    }
  }
}

/** The notification side of the controller: call `notify` for each incident change. */
export class Notifier {
  readonly stats: NotifierStats = { sent: 0, failed: 0, retries: 0, dropped: 0 };
  readonly #workers: TargetWorker[];
  readonly #resend = new Map<string, Timer>();
  readonly #o: Required<Omit<NotifierOptions, 'slackUrls' | 'alertmanagerUrls' | 'publicUrl'>>;
  readonly #publicUrl: string | null;

  constructor(options: NotifierOptions) {
    this.#o = {
      log: options.log,
      clock: options.clock ?? systemClock,
      fetch: options.fetch ?? globalThis.fetch,
      timeoutMs: options.timeoutMs ?? 5_000,
      retry: options.retry ?? DEFAULT_RETRY,
      rateLimit: options.rateLimit ?? DEFAULT_RATE_LIMIT,
      maxQueue: options.maxQueue ?? 100,
      alertmanagerResendMs: options.alertmanagerResendMs ?? 60_000,
      random: options.random ?? Math.random,
    };
    this.#publicUrl = options.publicUrl;
    for (const [flag, urls] of [
      ['Slack webhook', options.slackUrls],
      ['Alertmanager', options.alertmanagerUrls],
    ] as const) {
      for (const [i, url] of urls.entries()) {
        let protocol = '';
        try {
          protocol = new URL(url).protocol;
        } catch {
          // Not quoted: a webhook URL is a credential.
          throw badInput(`${flag} URL #${i + 1} is not a URL`, 'write it as https://host/path');
        }
        if (protocol !== 'http:' && protocol !== 'https:')
          throw badInput(
            `${flag} URL #${i + 1} is not http(s) (${protocol})`,
            'write it as https://host/path',
          );
      }
    }
    this.#workers = [
      ...options.slackUrls.map((u) => new TargetWorker('slack', u, this.#o, this.stats)),
      ...options.alertmanagerUrls.map(
        (u) => new TargetWorker('alertmanager', u, this.#o, this.stats),
      ),
    ];
  }

  /** Target names as logs show them (no secrets). */
  targets(): string[] {
    return this.#workers.map((w) => w.name);
  }

  /** Queues `kind` for `incident` (with the verdict's confidence) on every target; never throws, never waits. */
  notify(kind: NotificationKind, incident: Incident, confidence: number | null = null): void {
    const event: NotificationEvent = {
      kind,
      incident,
      reportUrl: reportUrlFor(this.#publicUrl, incident.id),
      confidence,
    };
    for (const worker of this.#workers) {
      worker.enqueue({ event, key: worker.kind === 'alertmanager' ? incident.id : null });
    }
    this.#resend.get(incident.id)?.cancel();
    this.#resend.delete(incident.id);
    if (
      kind !== 'resolved' &&
      this.#o.alertmanagerResendMs > 0 &&
      this.#workers.some((w) => w.kind === 'alertmanager')
    ) {
      this.#scheduleResend(event);
    }
  }

  #scheduleResend(event: NotificationEvent): void {
    const timer = this.#o.clock.setTimer(this.#o.alertmanagerResendMs, () => {
      for (const worker of this.#workers)
        if (worker.kind === 'alertmanager') worker.enqueue({ event, key: event.incident.id });
      this.#scheduleResend(event);
    });
    this.#resend.set(event.incident.id, timer);
  }

  /** Resolves once every queue is empty (tests; shutdown after a last resolution). */
  async idle(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.idle()));
  }

  /** Stops re-posting and abandons queued messages. */
  stop(): void {
    for (const timer of this.#resend.values()) timer.cancel();
    this.#resend.clear();
    for (const worker of this.#workers) worker.stop();
  }
}
