import { setMaxListeners } from 'node:events';
import type { ClusterView } from '../core/cluster.ts';
import { observationFromProbe, type ProbeObservation } from '../core/detection.ts';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Prober } from '../core/probe.ts';
import type { ObservationSource } from './detection-loop.ts';

/**
 * The controller's own vantage point: it probes the nodes `wanted` asks for
 * (default: every node) that have an InternalIP, at all four layers every
 * `intervalMs` (jittered), a bounded number at a time, and keeps the recent
 * results as detection evidence. Without agents this one observer is the
 * network evidence; detection treats a single failing observer as "all
 * observers" only while it is the only one. With agents the controller asks
 * only for nodes the mesh does not cover or that are not Healthy, so its
 * cost stays with the few nodes in trouble, not all N every second.
 */
export interface DirectProbesOptions {
  readonly observer: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly port: number;
  readonly keepMs: number;
  readonly concurrency: number;
  /** Which nodes to probe this round; absent: all of them. */
  readonly wanted?: (node: string) => boolean;
}

export const DEFAULT_DIRECT_PROBES: DirectProbesOptions = {
  observer: 'controller',
  intervalMs: 1_000,
  timeoutMs: 2_000,
  port: 10_250,
  keepMs: 15_000,
  concurrency: 16,
};

export class DirectProbes implements ObservationSource {
  readonly #view: ClusterView;
  readonly #prober: Prober;
  readonly #opts: DirectProbesOptions;
  readonly #log: Logger;
  readonly #byNode = new Map<string, ProbeObservation[]>();
  readonly #inFlight = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #listener: ((node: string, o: ProbeObservation) => void) | null = null;
  #abort = new AbortController();

  constructor(
    view: ClusterView,
    prober: Prober,
    log: Logger,
    opts: DirectProbesOptions = DEFAULT_DIRECT_PROBES,
  ) {
    this.#view = view;
    this.#prober = prober;
    this.#opts = opts;
    this.#log = log.child({ component: 'direct-probes' });
  }

  start(onObservation: (node: string, observation: ProbeObservation) => void): void {
    this.#listener = onObservation;
    this.#abort = new AbortController();
    // Every probe in flight listens on this one signal (hundreds with many nodes).
    setMaxListeners(0, this.#abort.signal);
    this.#schedule(0);
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#abort.abort();
  }

  observations(node: string): readonly ProbeObservation[] {
    return this.#byNode.get(node) ?? [];
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => this.#round(), delayMs);
  }

  #round(): void {
    const started = Date.now();
    const targets = this.#view
      .nodes()
      .filter(
        (n) =>
          n.internalIP !== null &&
          !this.#inFlight.has(n.name) &&
          (this.#opts.wanted?.(n.name) ?? true),
      )
      .map((n) => ({ name: n.name, ip: n.internalIP ?? '' }));
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let t = targets[next++]; t !== undefined; t = targets[next++])
        await this.#probe(t.name, t.ip);
    };
    // Never wait for a slow round: dead nodes take a full timeout, live ones milliseconds.
    void Promise.all(
      Array.from({ length: Math.min(this.#opts.concurrency, targets.length) }, worker),
    );
    if (this.#abort.signal.aborted) return;
    const jitter = this.#opts.intervalMs * (Math.random() * 0.2 - 0.1);
    this.#schedule(Math.max(0, this.#opts.intervalMs + jitter - (Date.now() - started)));
  }

  async #probe(node: string, ip: string): Promise<void> {
    this.#inFlight.add(node);
    try {
      const result = await this.#prober.probe(
        { ip, port: this.#opts.port, timeoutMs: this.#opts.timeoutMs },
        this.#abort.signal,
      );
      if (this.#abort.signal.aborted) return;
      const observation = observationFromProbe(this.#opts.observer, result);
      const cutoff = Date.now() - this.#opts.keepMs;
      const kept = (this.#byNode.get(node) ?? []).filter((o) => o.at >= cutoff);
      kept.push(observation);
      this.#byNode.set(node, kept);
      this.#listener?.(node, observation);
    } catch (error) {
      this.#log.log('warn', 'probe failed to run', { node, ip, error: describeError(error) });
    } finally {
      this.#inFlight.delete(node);
    }
  }
}
