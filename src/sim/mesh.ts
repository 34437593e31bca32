/**
 * The agent mesh, simulated: every observer (each node's agent, and the
 * controller itself) probes every other node once per interval through a
 * `SimProber`, all its targets at once, the way an agent's probe loop does.
 * Results travel to the controller only while the observer's own link is up.
 */
import type { Clock, Timer } from '../core/clock.ts';
import { observationFromProbe, type ProbeObservation } from '../core/detection.ts';
import type { Prober } from '../core/probe.ts';
import type { SimCluster } from './sim-cluster.ts';

export interface SimMeshOptions {
  /** Probe interval per observer; design §4: 1 s. */
  readonly intervalMs?: number;
  /** Per-layer timeout; the seed's engineers used 3 s. */
  readonly timeoutMs?: number;
  readonly port?: number;
  /** Default: every node, plus `controller`. */
  readonly observers?: readonly string[];
  /** Observations older than this are dropped. */
  readonly keepMs?: number;
  /** Probes of one target by one observer allowed in flight at once. */
  readonly maxInFlight?: number;
}

export class SimMesh {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly port: number;
  private readonly keepMs: number;
  private readonly maxInFlight: number;
  private readonly observerNames: readonly string[] | undefined;
  private readonly byTarget = new Map<string, ProbeObservation[]>();
  private readonly inFlight = new Map<string, number>();
  private timers: Timer[] = [];
  /** Bumped by stop(): results of probes started before it are dropped. */
  private generation = 0;
  private listener: ((node: string, observation: ProbeObservation) => void) | null = null;

  constructor(
    private readonly sim: SimCluster,
    private readonly clock: Clock,
    options: SimMeshOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.timeoutMs = options.timeoutMs ?? 3_000;
    this.port = options.port ?? 10_250;
    this.keepMs = options.keepMs ?? 15_000;
    this.maxInFlight = options.maxInFlight ?? 4;
    this.observerNames = options.observers;
  }

  /** Starts every observer, staggered evenly over one interval. */
  start(onObservation?: (node: string, observation: ProbeObservation) => void): void {
    this.stop();
    this.listener = onObservation ?? null;
    const observers = this.observerNames ?? [
      ...this.sim.truth.nodes().map((n) => n.name),
      'controller',
    ];
    observers.forEach((observer, i) => {
      const prober = this.sim.prober(observer);
      const phase = Math.floor((i * this.intervalMs) / observers.length);
      this.arm(observer, prober, phase);
    });
  }

  stop(): void {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.generation += 1;
  }

  /** Observations of `node` still kept, oldest first. */
  observations(node: string): readonly ProbeObservation[] {
    return this.byTarget.get(node) ?? [];
  }

  private arm(observer: string, prober: Prober, delayMs: number): void {
    const timer = this.clock.setTimer(delayMs, () => {
      this.timers = this.timers.filter((t) => t !== timer);
      this.round(observer, prober);
      this.arm(observer, prober, this.intervalMs);
    });
    this.timers.push(timer);
  }

  private round(observer: string, prober: Prober): void {
    if (!this.sim.canReport(observer)) return;
    for (const node of this.sim.truth.nodes()) {
      if (node.name === observer || node.internalIP === null) continue;
      const key = `${observer}→${node.name}`;
      const busy = this.inFlight.get(key) ?? 0;
      if (busy >= this.maxInFlight) continue;
      this.inFlight.set(key, busy + 1);
      const target = { ip: node.internalIP, port: this.port, timeoutMs: this.timeoutMs };
      const generation = this.generation;
      // No AbortSignal: a simulated probe holds no resources, and one shared
      // signal would collect a listener per probe in flight.
      void prober
        .probe(target)
        .then((result) => {
          // A cut-off agent's result never reaches the controller; a stopped mesh records nothing.
          if (generation !== this.generation || !this.sim.canReport(observer)) return;
          this.record(node.name, observationFromProbe(observer, result));
        })
        .finally(() => {
          this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1);
        });
    }
  }

  private record(node: string, observation: ProbeObservation): void {
    const horizon = this.clock.now() - this.keepMs;
    const kept = (this.byTarget.get(node) ?? []).filter((o) => o.at >= horizon);
    kept.push(observation);
    this.byTarget.set(node, kept);
    this.listener?.(node, observation);
  }
}
