/**
 * The controller's stability-test schedule: at each slot of a cron
 * expression, one test on one selected GPU node — never two at once, never
 * while an incident is open, only on the leader — kept in the store like a
 * test an operator ran. The decision is `decideStabilityRun` (pure, in
 * src/core); this class drives it with a `Clock`, runs the test it names,
 * and stops a running test the moment an incident opens or leadership is
 * lost (the test's own cleanup deletes its Job).
 */
import type { NodeSnapshot } from '../core/cluster.ts';
import type { Clock, Timer } from '../core/clock.ts';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import {
  decideStabilityRun,
  matchesNodeSelector,
  nextCronTime,
  type CronSchedule,
  type LabelRequirement,
} from '../core/stability-schedule.ts';
import { gpuRequestFor } from './job.ts';
import type { StabilityRun } from './run.ts';

/** How often the leader re-reads past tests from the store (runs by hand, by another replica). */
const HISTORY_REFRESH_MS = 10 * 60_000;

export interface StabilitySchedulerDeps {
  readonly clock: Clock;
  readonly schedule: CronSchedule;
  /** Which nodes may be tested (all must hold); null: every node that offers a GPU to pods. */
  readonly selector: readonly LabelRequirement[] | null;
  readonly nodes: () => readonly NodeSnapshot[];
  /** Open incidents of any kind, any node. */
  readonly openIncidents: () => number;
  readonly isLeader: () => boolean;
  /** Runs one test on the node until it ends or `signal` fires; the Job is gone when it resolves. */
  readonly runTest: (node: string, signal: AbortSignal) => Promise<StabilityRun>;
  /** Keeps a finished run (the store's audit record). */
  readonly record: (run: StabilityRun) => Promise<void>;
  /** When each node was last tested (epoch ms), from the runs the store holds. */
  readonly history: () => Promise<Readonly<Record<string, number>>>;
  readonly log: Logger;
  /** How often a running test is checked against incidents and leadership. Default 1 s. */
  readonly watchEveryMs?: number;
  /** The longest wait between two decisions (leadership and nodes change meanwhile). Default 60 s. */
  readonly maxWaitMs?: number;
}

export type ScheduledVerdict = StabilityRun['result']['verdict'] | 'error';

/** The last scheduled run of one node, for /metrics and logs. */
export interface ScheduledOutcome {
  readonly node: string;
  /** The slot it ran for (epoch ms). */
  readonly slotMs: number;
  readonly startedMs: number;
  readonly endedMs: number;
  readonly verdict: ScheduledVerdict;
  readonly summary: string;
}

export interface SchedulerStatus {
  readonly schedule: string;
  readonly running: string | null;
  /** The latest decision's reason ("no slot due", "1 incident(s) open: …"). */
  readonly lastDecision: string;
  readonly outcomes: readonly ScheduledOutcome[];
  /** Runs that ended, by verdict. */
  readonly runs: Readonly<Record<ScheduledVerdict, number>>;
  /** Slots given up: no selected node was Ready, or a test was still running. */
  readonly skippedSlots: number;
}

interface Running {
  readonly node: string;
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

export class StabilityScheduler {
  private timer: Timer | null = null;
  private watch: Timer | null = null;
  private running: Running | null = null;
  private lastSlotMs: number | null = null;
  private lastTested: Record<string, number> | null = null;
  private historyReadMs = 0;
  private lastDecision = 'not started';
  private stopped = true;
  private readonly outcomes = new Map<string, ScheduledOutcome>();
  private readonly runs: Record<ScheduledVerdict, number> = {
    pass: 0,
    fail: 0,
    inconclusive: 0,
    error: 0,
  };
  private skippedSlots = 0;

  constructor(private readonly d: StabilitySchedulerDeps) {}

  /** The nodes the schedule may test now: selected, offering a GPU to pods; by name. */
  candidates(): string[] {
    return this.d
      .nodes()
      .filter((n) => this.d.selector === null || matchesNodeSelector(n.labels, this.d.selector))
      .filter((n) => {
        try {
          gpuRequestFor(n);
          return true;
        } catch {
          return false; // no GPU or MIG resource: nothing to load
        }
      })
      .map((n) => n.name)
      .sort();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.arm(0);
  }

  /** Stops deciding; a running test is cancelled (its Job deleted) before this resolves. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    const running = this.running;
    if (running) {
      running.abort.abort(new Error('the controller is stopping'));
      await running.done;
    }
  }

  status(): SchedulerStatus {
    return {
      schedule: this.d.schedule.text,
      running: this.running?.node ?? null,
      lastDecision: this.lastDecision,
      outcomes: [...this.outcomes.values()],
      runs: { ...this.runs },
      skippedSlots: this.skippedSlots,
    };
  }

  private arm(delayMs: number): void {
    this.timer?.cancel();
    if (this.stopped) return;
    this.timer = this.d.clock.setTimer(delayMs, () => void this.tick());
  }

  /** One decision; re-arms itself (a run's end decides again). */
  async tick(): Promise<void> {
    this.timer = null;
    if (this.stopped || this.running !== null) return;
    const maxWait = this.d.maxWaitMs ?? 60_000;
    if (!this.d.isLeader()) {
      // A new leader starts counting slots when it takes over: no backlog of a standby's time.
      this.lastSlotMs = null;
      // Another replica may run tests meanwhile: read the store again on taking over.
      this.lastTested = null;
      this.note('not the leader: no stability tests from this replica');
      this.arm(Math.min(5_000, maxWait));
      return;
    }
    // Runs made by hand (`stability-test --store`) land in the store too: read it
    // again every HISTORY_REFRESH_MS, keeping the later end time per node.
    if (this.lastTested === null || this.d.clock.now() - this.historyReadMs >= HISTORY_REFRESH_MS) {
      try {
        const stored = await this.d.history();
        this.historyReadMs = this.d.clock.now();
        const merged: Record<string, number> = { ...this.lastTested };
        for (const [node, endedMs] of Object.entries(stored))
          merged[node] = Math.max(merged[node] ?? 0, endedMs);
        this.lastTested = merged;
      } catch (error) {
        this.d.log.log('warn', 'could not read past stability tests; retrying', {
          error: describeError(error),
        });
        this.arm(maxWait);
        return;
      }
      if (this.stopped) return;
    }
    const now = this.d.clock.now();
    // Slots from the minute this replica started deciding on are due (a slot stays due
    // while an incident is open, so it must not be lost to the passing minute).
    this.lastSlotMs ??= now - 60_000;
    const nodes = this.d.nodes();
    const ready = new Set(
      nodes
        .filter(
          (n) =>
            !n.unschedulable && n.conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
        )
        .map((n) => n.name),
    );
    const decision = decideStabilityRun(this.d.schedule, {
      now,
      lastSlotMs: this.lastSlotMs,
      candidates: this.candidates(),
      ready,
      openIncidents: this.d.openIncidents(),
      running: null,
      lastTested: this.lastTested,
    });
    if (decision.run !== null) {
      this.lastSlotMs = decision.slotMs;
      this.note(`running on ${decision.run}: ${decision.reason}`);
      this.begin(decision.run, decision.slotMs);
      return;
    }
    if (decision.skippedSlotMs !== undefined) {
      this.lastSlotMs = decision.skippedSlotMs;
      this.skippedSlots += 1;
      this.d.log.log('warn', 'stability test slot skipped', { reason: decision.reason });
    }
    this.note(decision.reason);
    this.arm(
      decision.nextCheckMs === null ? maxWait : Math.min(maxWait, decision.nextCheckMs - now),
    );
  }

  /**
   * Slots that came due while a test ran are skipped (never queued: a test
   * longer than the schedule's period would otherwise run back to back).
   */
  private skipMissedSlots(slotMs: number): void {
    const now = this.d.clock.now();
    let last = slotMs;
    let skipped = 0;
    for (
      let t = nextCronTime(this.d.schedule, last);
      t !== null && t <= now && skipped < 100_000;
      t = nextCronTime(this.d.schedule, t)
    ) {
      last = t;
      skipped += 1;
    }
    if (skipped > 0) {
      this.skippedSlots += skipped;
      this.d.log.log('warn', 'stability test slots skipped', {
        reason: 'a test was running',
        slots: skipped,
      });
    }
    this.lastSlotMs = Math.max(this.lastSlotMs ?? last, last);
  }

  /** Logs a decision once, not on every re-check. */
  private note(reason: string): void {
    if (reason !== this.lastDecision) {
      this.d.log.log('info', 'stability schedule', { decision: reason });
    }
    this.lastDecision = reason;
  }

  private begin(node: string, slotMs: number): void {
    const abort = new AbortController();
    const startedMs = this.d.clock.now();
    const watchEvery = this.d.watchEveryMs ?? 1_000;
    // Never while an incident is open: one that opens mid-test stops the load at once.
    const check = (): void => {
      const why =
        this.d.openIncidents() > 0
          ? 'an incident opened'
          : !this.d.isLeader()
            ? 'this replica lost leadership'
            : null;
      if (why !== null) {
        this.d.log.log('warn', 'stopping the scheduled stability test', { node, reason: why });
        abort.abort(new Error(why));
        return;
      }
      this.watch = this.d.clock.setTimer(watchEvery, check);
    };
    this.watch = this.d.clock.setTimer(watchEvery, check);
    const done = (async () => {
      let outcome: ScheduledOutcome;
      try {
        const run = await this.d.runTest(node, abort.signal);
        const why = abort.signal.aborted ? describeError(abort.signal.reason) : null;
        outcome = {
          node,
          slotMs,
          startedMs,
          endedMs: this.d.clock.now(),
          verdict: run.result.verdict,
          summary: why === null ? run.result.summary : `${run.result.summary} (${why})`,
        };
        try {
          await this.d.record(run);
        } catch (error) {
          this.d.log.log('error', 'could not store the stability test', {
            node,
            error: describeError(error),
          });
        }
      } catch (error) {
        outcome = {
          node,
          slotMs,
          startedMs,
          endedMs: this.d.clock.now(),
          verdict: 'error',
          summary: `the test could not run: ${describeError(error)}`,
        };
      }
      this.watch?.cancel();
      this.watch = null;
      this.runs[outcome.verdict] += 1;
      this.outcomes.set(node, outcome);
      (this.lastTested ??= {})[node] = outcome.endedMs;
      this.d.log.log(outcome.verdict === 'pass' ? 'info' : 'warn', 'scheduled stability test', {
        node,
        verdict: outcome.verdict,
        summary: outcome.summary,
      });
      this.skipMissedSlots(slotMs);
      this.running = null;
      this.arm(0);
    })();
    this.running = { node, abort, done };
  }
}
