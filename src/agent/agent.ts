/**
 * The agent's loops (design §2, §4):
 * - probe: each assigned peer every `intervalMs` of its plan entry, with
 *   ±10 % jitter and a random phase so that k agents do not probe a node in
 *   step. A tick is one cheap L4 connect; when it fails (or every
 *   `fullEveryMs`, so an L7-only fault such as a hung kubelet shows; or on a
 *   probe-now directive) the full L2–L7 probe runs, and its result is the one
 *   reported. A peer whose previous probe is still running is skipped.
 * - push: results go into a bounded backlog and are sent in batches every
 *   `pushIntervalMs`, at once when a probe failed; while the controller is
 *   unreachable the backlog keeps the newest results, drops the oldest and
 *   counts them, and the agent says so in its log and metrics.
 * - plan: polled every `planPollMs` (and at once when a push answer names
 *   another version); saved to the state directory, and loaded from it at
 *   start, so a restarted agent probes its peers without the controller.
 * The prober, the controller and the clock are ports: tests run the real
 * loops against loopback servers and fake probers.
 */
import type { Clock, Timer } from '../core/clock.ts';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { AgentPlan, ProbeAssignment } from '../core/plan.ts';
import type { Prober, ProbeResult } from '../core/probe.ts';
import type { AgentMetrics } from './agent-metrics.ts';
import { Backlog } from './backlog.ts';
import { ControllerError, type ControllerPort } from './controller-client.ts';
import type { PlanFile } from './plan-file.ts';
import {
  clip,
  type Directive,
  type ReferencePoint,
  type ReferencesDirective,
  type WireLayer,
  type WireReferenceResult,
  type WireResult,
} from './protocol.ts';

/** Probes one reference point from this node (src/probe/reference-probe.ts; a table in tests). */
export type ReferenceProber = (
  point: ReferencePoint,
  timeoutMs: number,
  signal: AbortSignal,
) => Promise<ProbeResult>;

export interface AgentSettings {
  readonly node: string;
  /** Kubelet's port on every peer. Default 10250. */
  readonly port?: number;
  /** The per-tick connect. Default 1,000 ms. */
  readonly l4TimeoutMs?: number;
  /** Per layer of a full probe. Default 2,000 ms. */
  readonly fullTimeoutMs?: number;
  /** A healthy peer still gets a full probe this often. Default 30 s; 0 turns it off. */
  readonly fullEveryMs?: number;
  readonly pushIntervalMs?: number;
  readonly planPollMs?: number;
  /** Results per batch. Default 500 (about 150 KiB; the controller takes up to 1 MiB). */
  readonly maxBatch?: number;
  /** Results buffered while the controller is away. Default 10,000 (minutes at k = 8–12, 1–2 Hz). */
  readonly backlogCapacity?: number;
  /** ± fraction of the interval. Default 0.1. */
  readonly jitter?: number;
  /** For the jitter and the phase; tests pass a seeded one. */
  readonly random?: () => number;
}

export interface AgentDeps {
  /** The per-tick probe (ConnectProber). */
  readonly quick: Prober;
  /** The full L2–L7 probe (LinuxProber). */
  readonly full: Prober;
  readonly controller: ControllerPort;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics?: AgentMetrics;
  readonly planFile?: PlanFile;
  /** Answers `probe-references` directives; without it they are ignored (and not advertised). */
  readonly references?: ReferenceProber;
}

interface PeerState {
  assignment: ProbeAssignment;
  timer: Timer | null;
  inFlight: boolean;
  lastFullAt: number;
}

type PlanSource = 'none' | 'file' | 'controller';

const SEEN_DIRECTIVES = 256;

export class Agent {
  readonly node: string;
  readonly backlog: Backlog<WireResult>;
  #plan: AgentPlan | null = null;
  #planSource: PlanSource = 'none';
  readonly #peers = new Map<string, PeerState>();
  readonly #settings: Required<Omit<AgentSettings, 'node'>>;
  readonly #deps: AgentDeps;
  readonly #log: Logger;
  #reachable: boolean | null = null;
  #reportedDrops = 0;
  /** Halved when the controller answers 413. */
  #maxBatch: number;
  #pushing: Promise<void> | null = null;
  #pushSoon: Timer | null = null;
  #pushTimer: Timer | null = null;
  #planTimer: Timer | null = null;
  #polling: Promise<void> | null = null;
  #abort = new AbortController();
  #running = false;
  #lastTickAt: number | null = null;
  #startedAt = 0;
  readonly #seen: string[] = [];
  /** Counts for tests and logs; the metrics carry the same numbers. */
  readonly stats = {
    l4: 0,
    full: 0,
    escalations: 0,
    pushed: 0,
    rejected: 0,
    directives: 0,
    references: 0,
  };

  constructor(settings: AgentSettings, deps: AgentDeps) {
    this.node = settings.node;
    this.#settings = {
      port: settings.port ?? 10_250,
      l4TimeoutMs: settings.l4TimeoutMs ?? 1_000,
      fullTimeoutMs: settings.fullTimeoutMs ?? 2_000,
      fullEveryMs: settings.fullEveryMs ?? 30_000,
      pushIntervalMs: settings.pushIntervalMs ?? 1_000,
      planPollMs: settings.planPollMs ?? 10_000,
      maxBatch: settings.maxBatch ?? 500,
      backlogCapacity: settings.backlogCapacity ?? 10_000,
      jitter: settings.jitter ?? 0.1,
      random: settings.random ?? Math.random,
    };
    this.#deps = deps;
    this.#log = deps.log.child({ component: 'agent', node: settings.node });
    this.#maxBatch = this.#settings.maxBatch;
    this.backlog = new Backlog(this.#settings.backlogCapacity);
  }

  get plan(): AgentPlan | null {
    return this.#plan;
  }

  get planSource(): PlanSource {
    return this.#planSource;
  }

  /** null before the first call; then whether the latest call to the controller succeeded. */
  get controllerReachable(): boolean | null {
    return this.#reachable;
  }

  /** Loads the saved plan (probing starts at once with it), then starts the loops. */
  async start(): Promise<void> {
    this.#running = true;
    this.#abort = new AbortController();
    this.#startedAt = this.#deps.clock.now();
    const saved = await this.#deps.planFile?.load(this.node);
    if (saved) {
      this.#log.log('info', 'probing with the saved plan until the controller answers', {
        version: saved.plan.version,
        savedAt: saved.savedAt,
        targets: saved.plan.targets.length,
      });
      this.applyPlan(saved.plan, 'file');
    }
    // Peers from a plan applied before start (or from the file) begin at a random phase.
    for (const peer of this.#peers.values()) {
      if (peer.timer === null)
        this.#arm(peer, this.#settings.random() * peer.assignment.intervalMs);
    }
    void this.pollPlan();
    this.#armPush();
    this.#armPlan();
  }

  /** Stops the loops and tries one last push of what is buffered. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const peer of this.#peers.values()) peer.timer?.cancel();
    this.#pushTimer?.cancel();
    this.#planTimer?.cancel();
    this.#pushSoon?.cancel();
    this.#abort.abort();
    await this.#polling;
    await this.#pushing;
    if (this.backlog.size > 0) await this.push();
  }

  /** Whether the probe loop is turning: a tick within five of its longest intervals. */
  health(): { ok: boolean; reason: string } {
    if (!this.#running) return { ok: false, reason: 'agent stopped' };
    if (this.#peers.size === 0) return { ok: true, reason: '' };
    const longest = Math.max(...[...this.#peers.values()].map((p) => p.assignment.intervalMs));
    const since = this.#lastTickAt ?? this.#startedAt;
    const quiet = this.#deps.clock.now() - since;
    const limit = Math.max(5_000, 5 * longest) + this.#settings.fullTimeoutMs;
    return quiet <= limit
      ? { ok: true, reason: '' }
      : { ok: false, reason: `no probe tick for ${quiet} ms (limit ${limit} ms)` };
  }

  /** Replaces the peers being probed; peers that stay keep their schedule. */
  applyPlan(plan: AgentPlan, source: Exclude<PlanSource, 'none'>): void {
    const changed = this.#plan?.version !== plan.version;
    this.#plan = plan;
    this.#planSource = source;
    if (!changed) return;
    this.#deps.metrics?.planChanges.inc();
    const wanted = new Map(plan.targets.map((t) => [t.target, t]));
    for (const [name, peer] of this.#peers) {
      if (!wanted.has(name)) {
        peer.timer?.cancel();
        this.#peers.delete(name);
      }
    }
    for (const [name, assignment] of wanted) {
      const peer = this.#peers.get(name);
      if (peer !== undefined) {
        const retimed = peer.assignment.intervalMs !== assignment.intervalMs;
        peer.assignment = assignment;
        if (retimed && !peer.inFlight) this.#arm(peer, this.#jittered(assignment.intervalMs));
        continue;
      }
      const fresh: PeerState = {
        assignment,
        timer: null,
        inFlight: false,
        lastFullAt: Number.NEGATIVE_INFINITY,
      };
      this.#peers.set(name, fresh);
      // A random phase spreads the k observers of a node over the interval.
      if (this.#running) this.#arm(fresh, this.#settings.random() * assignment.intervalMs);
    }
    this.#deps.metrics?.keepPeers(new Set(wanted.keys()));
    this.#log.log('info', 'probe plan applied', {
      version: plan.version,
      source,
      member: plan.member,
      targets: plan.targets.length,
    });
    if (!plan.member) {
      this.#log.log(
        'warn',
        'the controller does not count this node as an observer; nothing to probe',
        {
          version: plan.version,
        },
      );
    }
  }

  /** One tick for one peer: L4 connect, escalating to the full probe. Resolves when recorded. */
  async probePeer(target: string): Promise<WireResult | null> {
    const peer = this.#peers.get(target);
    if (peer === undefined) return null;
    if (peer.inFlight) {
      this.#deps.metrics?.skipped.inc();
      return null;
    }
    peer.inFlight = true;
    this.#lastTickAt = this.#deps.clock.now();
    try {
      const { ip } = peer.assignment;
      const dueFull =
        this.#settings.fullEveryMs > 0 &&
        this.#deps.clock.now() - peer.lastFullAt >= this.#settings.fullEveryMs;
      if (!dueFull) {
        const quick = await this.#deps.quick.probe(
          { ip, port: this.#settings.port, timeoutMs: this.#settings.l4TimeoutMs },
          this.#abort.signal,
        );
        this.stats.l4 += 1;
        if (quick.verdict.healthy) return this.#record(wire(target, quick, 'l4'), true);
        this.stats.escalations += 1;
        this.#deps.metrics?.escalations.inc();
        this.#deps.metrics?.probes.inc({ mode: 'l4', result: 'failed' });
      }
      const full = await this.#fullProbe(target, ip);
      peer.lastFullAt = this.#deps.clock.now();
      return full;
    } catch (error) {
      if (!this.#abort.signal.aborted) {
        this.#deps.metrics?.probeErrors.inc();
        this.#log.log('warn', 'probe could not run', { target, error: describeError(error) });
      }
      return null;
    } finally {
      peer.inFlight = false;
    }
  }

  /** Sends what is buffered, batch by batch, until the backlog is empty or a send fails. */
  push(): Promise<void> {
    if (this.#pushing !== null) return this.#pushing;
    this.#pushing = this.#drain().finally(() => {
      this.#pushing = null;
    });
    return this.#pushing;
  }

  /** Asks the controller for the plan; keeps the current one when it cannot be reached. */
  pollPlan(): Promise<void> {
    if (this.#polling !== null) return this.#polling;
    this.#polling = this.#poll().finally(() => {
      this.#polling = null;
    });
    return this.#polling;
  }

  async #poll(): Promise<void> {
    const known = this.#planSource === 'controller' ? (this.#plan?.version ?? null) : null;
    try {
      const answer = await this.#deps.controller.getPlan(known);
      this.#reached(true);
      if (answer === null) return;
      if (answer.plan.observer !== this.node) {
        this.#log.log('error', 'controller sent a plan for another node; ignoring it', {
          observer: answer.plan.observer,
        });
        return;
      }
      const changed = this.#plan?.version !== answer.plan.version;
      this.applyPlan(answer.plan, 'controller');
      if (changed && this.#deps.planFile) {
        await this.#deps.planFile
          .save(answer.plan, this.#deps.clock.now())
          .catch((error: unknown) =>
            this.#log.log('warn', 'could not save the probe plan', { error: describeError(error) }),
          );
      }
      this.#directives(answer.directives);
    } catch (error) {
      this.#failed('plan', error);
    }
  }

  async #drain(): Promise<void> {
    while (this.backlog.size > 0 && !this.#abort.signal.aborted) {
      const batch = this.backlog.take(this.#maxBatch);
      try {
        const answer = await this.#deps.controller.pushResults({
          node: this.node,
          sentAt: this.#deps.clock.now(),
          planVersion: this.#plan?.version ?? null,
          dropped: this.backlog.dropped,
          results: batch,
        });
        this.#reached(true);
        this.stats.pushed += batch.length;
        this.#deps.metrics?.pushes.inc({ result: 'ok' });
        if (answer.planVersion !== this.#plan?.version || this.#planSource !== 'controller') {
          void this.pollPlan();
        }
        this.#directives(answer.directives);
      } catch (error) {
        if (error instanceof ControllerError && error.failure === 'rejected') {
          // The controller says the batch is malformed: resending it would block the backlog forever.
          this.stats.rejected += batch.length;
          this.#deps.metrics?.rejected.inc(batch.length);
          this.#deps.metrics?.pushes.inc({ result: 'rejected' });
          this.#log.log('error', 'controller rejected a result batch; discarded it', {
            results: batch.length,
            error: describeError(error),
          });
          continue;
        }
        this.backlog.restore(batch);
        if (
          error instanceof ControllerError &&
          error.failure === 'too-large' &&
          this.#maxBatch > 1
        ) {
          this.#maxBatch = Math.max(1, Math.floor(this.#maxBatch / 2));
          this.#log.log('warn', 'controller refused a batch as too large; sending smaller ones', {
            maxBatch: this.#maxBatch,
          });
          continue;
        }
        this.#deps.metrics?.pushes.inc({ result: 'failed' });
        this.#failed('results', error);
        return;
      } finally {
        this.#countDrops();
      }
    }
  }

  async #fullProbe(target: string, ip: string, directive?: string): Promise<WireResult | null> {
    const result = await this.#deps.full.probe(
      { ip, port: this.#settings.port, timeoutMs: this.#settings.fullTimeoutMs },
      this.#abort.signal,
    );
    this.stats.full += 1;
    return this.#record(wire(target, result, 'full', directive), this.#peers.has(target));
  }

  #record(result: WireResult, assigned: boolean): WireResult {
    this.backlog.push(result);
    this.#countDrops();
    this.#deps.metrics?.record(result, assigned);
    // Bad news and directive answers travel at once; good news waits for the next batch.
    if (!result.healthy || result.directive !== undefined) this.#pushNow();
    return result;
  }

  #directives(list: readonly Directive[]): void {
    const now = this.#deps.clock.now();
    for (const d of list) {
      if (this.#seen.includes(d.id) || d.expiresAt <= now) continue;
      this.#seen.push(d.id);
      if (this.#seen.length > SEEN_DIRECTIVES) this.#seen.shift();
      this.stats.directives += 1;
      this.#deps.metrics?.directives.inc();
      if (d.kind === 'probe-references') {
        void this.answerReferences(d).catch((error: unknown) =>
          this.#log.log('warn', 'probe-references could not run', {
            id: d.id,
            error: describeError(error),
          }),
        );
        continue;
      }
      this.#log.log('info', 'probe-now directive', { id: d.id, target: d.target, ip: d.ip });
      void this.#fullProbe(d.target, d.ip, d.id).catch((error: unknown) =>
        this.#log.log('warn', 'probe-now could not run', { id: d.id, error: describeError(error) }),
      );
    }
  }

  /**
   * Probes a directive's reference points (all at once, each under the
   * directive's timeout) and posts the answer; one retry a second later when
   * the controller could not be reached, never after the directive expires.
   * Resolves true when the controller took the answer.
   */
  async answerReferences(d: ReferencesDirective): Promise<boolean> {
    const prober = this.#deps.references;
    if (prober === undefined) {
      this.#log.log('warn', 'probe-references directive ignored: no reference prober', {
        id: d.id,
      });
      return false;
    }
    this.#log.log('info', 'probe-references directive', {
      id: d.id,
      node: d.node,
      points: d.points.map((p) => (p.port === undefined ? p.ip : `${p.ip}:${p.port}`)),
    });
    const results = await Promise.all(
      d.points.map(async (point): Promise<WireReferenceResult> => {
        try {
          return wireReference(point, await prober(point, d.timeoutMs, this.#abort.signal));
        } catch (error) {
          return unprobedReference(point, this.#deps.clock.now(), describeError(error));
        }
      }),
    );
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      if (this.#abort.signal.aborted || this.#deps.clock.now() >= d.expiresAt) break;
      try {
        await this.#deps.controller.pushReferences({
          node: this.node,
          sentAt: this.#deps.clock.now(),
          directive: d.id,
          results,
        });
        this.stats.references += 1;
        return true;
      } catch (error) {
        this.#log.log('warn', 'could not send the reference-point answer', {
          id: d.id,
          attempt,
          error: describeError(error),
        });
        if (error instanceof ControllerError && error.failure !== 'unreachable') break;
        await this.#deps.clock.sleep(1_000, this.#abort.signal).catch(() => undefined);
      }
    }
    return false;
  }

  #countDrops(): void {
    const drops = this.backlog.dropped - this.#reportedDrops;
    if (drops <= 0) return;
    if (
      this.#reportedDrops === 0 ||
      Math.floor(this.backlog.dropped / 1000) > Math.floor(this.#reportedDrops / 1000)
    ) {
      this.#log.log('warn', 'backlog full: dropping the oldest results', {
        dropped: this.backlog.dropped,
        capacity: this.backlog.capacity,
      });
    }
    this.#reportedDrops = this.backlog.dropped;
    this.#deps.metrics?.dropped.inc(drops);
  }

  #reached(ok: boolean, error?: unknown): void {
    const was = this.#reachable;
    this.#reachable = ok;
    if (ok && was === false) {
      this.#log.log('info', 'controller reachable again; sending the backlog', {
        backlog: this.backlog.size,
        dropped: this.backlog.dropped,
      });
    } else if (!ok && was !== false) {
      this.#log.log('warn', 'controller unreachable; probing on and buffering results', {
        backlog: this.backlog.size,
        capacity: this.backlog.capacity,
        plan: this.#plan?.version ?? null,
        planSource: this.#planSource,
        error: describeError(error),
      });
    }
  }

  #failed(what: string, error: unknown): void {
    if (error instanceof ControllerError && error.failure === 'unauthorized') {
      this.#log.log('error', `controller refused our token (${what})`, {
        error: describeError(error),
      });
      this.#reached(false, error);
      return;
    }
    this.#reached(false, error);
    if (!(error instanceof ControllerError)) {
      this.#log.log('error', `${what}: unexpected failure`, { error: describeError(error) });
    }
  }

  #jittered(ms: number): number {
    const j = this.#settings.jitter;
    return ms * (1 - j + 2 * j * this.#settings.random());
  }

  #arm(peer: PeerState, delayMs: number): void {
    peer.timer?.cancel();
    peer.timer = this.#deps.clock.setTimer(delayMs, () => {
      peer.timer = null;
      if (!this.#running || this.#peers.get(peer.assignment.target) !== peer) return;
      void this.probePeer(peer.assignment.target);
      this.#arm(peer, this.#jittered(peer.assignment.intervalMs));
    });
  }

  #pushNow(): void {
    if (!this.#running || this.#pushSoon !== null) return;
    this.#pushSoon = this.#deps.clock.setTimer(0, () => {
      this.#pushSoon = null;
      void this.push();
    });
  }

  #armPush(): void {
    this.#pushTimer = this.#deps.clock.setTimer(this.#settings.pushIntervalMs, () => {
      if (!this.#running) return;
      void this.push();
      this.#armPush();
    });
  }

  #armPlan(): void {
    this.#planTimer = this.#deps.clock.setTimer(this.#jittered(this.#settings.planPollMs), () => {
      if (!this.#running) return;
      void this.pollPlan();
      this.#armPlan();
    });
  }
}

/** A reference point's probe as sent (L3, and L4 when it had a port). */
function wireReference(point: ReferencePoint, result: ProbeResult): WireReferenceResult {
  const startedAt = Date.parse(result.startedAt);
  return {
    ...point,
    startedAt: Number.isFinite(startedAt) ? startedAt : 0,
    durationMs: Math.max(0, result.durationMs),
    healthy: result.verdict.healthy,
    layers: result.layers
      .filter((l) => l.layer === 'L3' || l.layer === 'L4')
      .slice(0, 2)
      .map(wireLayer),
  };
}

/** A point the agent could not probe (bad address, missing tool): said so, never "failed". */
function unprobedReference(point: ReferencePoint, now: number, why: string): WireReferenceResult {
  return {
    ...point,
    startedAt: now,
    durationMs: 0,
    healthy: false,
    layers: [
      {
        layer: 'L3',
        status: 'skipped',
        latencyMs: null,
        command: clip(`ping -c 1 ${point.ip}`),
        detail: clip(`not probed: ${why}`),
      },
    ],
  };
}

function wireLayer(l: ProbeResult['layers'][number]): WireLayer {
  return {
    layer: l.layer,
    status: l.status,
    latencyMs: l.latencyMs,
    command: clip(l.command),
    detail: clip(l.detail),
    ...(l.neighbourState === undefined ? {} : { neighbourState: l.neighbourState }),
  };
}

/** A ProbeResult as sent: times in epoch ms, text cut to the protocol's limits. */
export function wire(
  target: string,
  result: ProbeResult,
  mode: 'l4' | 'full',
  directive?: string,
): WireResult {
  const layers: WireLayer[] = result.layers.map(wireLayer);
  const startedAt = Date.parse(result.startedAt);
  return {
    target,
    ip: result.target,
    startedAt: Number.isFinite(startedAt) ? startedAt : 0,
    durationMs: Math.max(0, result.durationMs),
    mode,
    healthy: result.verdict.healthy,
    failedLayer: result.verdict.failedLayer,
    summary: clip(result.verdict.summary),
    layers,
    ...(directive === undefined ? {} : { directive }),
  };
}
