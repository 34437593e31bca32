/**
 * Time as a port. Decisions in src/core take `now` as an argument; the loops
 * that drive them (controller, agent, simulator) ask a `Clock` for the time
 * and for timers, so that tests and the demo can run hours of cluster time in
 * milliseconds with a `ManualClock`.
 */
import { badInput, NodeWardenError } from './errors.ts';

/** A scheduled callback; `cancel` is idempotent. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `fn` once, `delayMs` from now (a negative delay means now). */
  setTimer(delayMs: number, fn: () => void): Timer;
  /** Resolves `ms` from now; rejects with the signal's reason when aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock: wall time and the runtime's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    const handle = globalThis.setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => globalThis.clearTimeout(handle) };
  },
  sleep: (ms, signal) => sleepOn(systemClock, ms, signal),
};

/** `sleep` for any clock, built on its `setTimer`. */
function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      reject(signal?.reason as Error);
    };
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface Scheduled {
  readonly dueAt: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * A runaway loop (a timer that re-arms itself with delay 0) would otherwise
 * spin forever inside one `advance`.
 */
const MAX_FIRES_PER_ADVANCE = 5_000_000;
/**
 * Promise chains that a fired timer starts (a probe resolving, the loop that
 * awaited it recording the result) need a few microtask turns to settle;
 * `advanceAsync` gives them this many after every timer. The deepest chain in
 * this code base is under ten.
 */
const MICROTASK_TURNS = 32;

/**
 * A clock that only moves when told to. `advance(ms)` fires every timer that
 * falls due on the way, in order of due time (then of scheduling), with
 * `now()` set to each timer's due time while it runs; timers scheduled by a
 * firing timer fire in the same `advance` if they fall due before its end.
 * `advanceAsync` does the same and lets promise chains settle after each
 * timer, for code that awaits `sleep` or a `Prober`.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private queue: Scheduled[] = [];

  /** `start`: epoch milliseconds or an ISO-8601 instant. */
  constructor(start: number | string) {
    const ms = typeof start === 'string' ? Date.parse(start) : start;
    if (!Number.isFinite(ms)) {
      throw badInput(
        `ManualClock start "${String(start)}" is not a time`,
        'pass epoch milliseconds or an ISO-8601 instant such as 2025-08-25T03:57:00Z',
      );
    }
    this.current = ms;
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const entry: Scheduled = {
      dueAt: this.current + Math.max(0, Number.isFinite(delayMs) ? delayMs : 0),
      seq: this.seq++,
      fn,
      cancelled: false,
    };
    // Keep the queue sorted by (dueAt, seq); a new entry goes after its equals.
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = this.queue[mid];
      if (other !== undefined && other.dueAt <= entry.dueAt) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Timers not yet fired nor cancelled. */
  pendingTimers(): number {
    return this.queue.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing due timers; returns how many fired. */
  advance(ms: number): number {
    return this.advanceTo(this.current + this.checkStep(ms));
  }

  /** Moves time forward to `at` (never backwards), firing due timers. */
  advanceTo(at: number): number {
    if (at < this.current) throw this.backwards(at);
    let fired = 0;
    for (let next = this.takeDue(at); next !== undefined; next = this.takeDue(at)) {
      this.current = next.dueAt;
      next.fn();
      fired = this.count(fired);
    }
    this.current = at;
    return fired;
  }

  /** Like `advance`, letting promise chains settle after each timer. */
  async advanceAsync(ms: number): Promise<number> {
    const at = this.current + this.checkStep(ms);
    let fired = 0;
    await settle();
    for (let next = this.takeDue(at); next !== undefined; next = this.takeDue(at)) {
      this.current = next.dueAt;
      next.fn();
      fired = this.count(fired);
      await settle();
    }
    this.current = at;
    await settle();
    return fired;
  }

  private takeDue(at: number): Scheduled | undefined {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (head === undefined || head.dueAt > at) return undefined;
      this.queue.shift();
      if (!head.cancelled) return head;
    }
    return undefined;
  }

  private checkStep(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) {
      throw badInput(
        `cannot advance a ManualClock by ${ms} ms`,
        'advance by a finite, non-negative number of milliseconds',
      );
    }
    return ms;
  }

  private backwards(at: number): NodeWardenError {
    return badInput(
      `cannot move a ManualClock back from ${new Date(this.current).toISOString()} to ${new Date(at).toISOString()}`,
      'advance to a later instant; build a new ManualClock to start over',
    );
  }

  private count(fired: number): number {
    if (fired + 1 > MAX_FIRES_PER_ADVANCE) {
      throw new NodeWardenError(
        'INTERNAL',
        `more than ${MAX_FIRES_PER_ADVANCE} timers fired in one advance of the ManualClock`,
        { hint: 'a timer probably re-arms itself with delay 0; give it a positive period' },
      );
    }
    return fired + 1;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < MICROTASK_TURNS; i++) await Promise.resolve();
}
