/**
 * The agent's /metrics. Cardinality is O(k): per-peer series exist only for
 * the peers in this agent's current plan (at most 9 each: up, and up and
 * latency for each of four layers) and are removed when a peer leaves the
 * plan; everything else is a fixed set of totals. An all-pairs mesh would
 * instead export O(N) series per agent (docs/agent-signals.md, §1).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { LAYERS } from '../core/probe.ts';
import type { WireResult } from './protocol.ts';

/** How often the process metrics sample event-loop delay. */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** Live values the gauges read at scrape time. */
export interface AgentGaugeSource {
  backlogSize(): number;
  backlogCapacity(): number;
  controllerReachable(): boolean;
  planTargets(): number;
  /** True while probing with a saved plan the controller has not confirmed. */
  planFromFile(): boolean;
  lastWordsPending(): number;
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly #peerUp: Gauge<'peer'>;
  readonly #layerUp: Gauge<'peer' | 'layer'>;
  readonly #latency: Gauge<'peer' | 'layer'>;
  readonly probes: Counter<'mode' | 'result'>;
  readonly escalations: Counter;
  readonly probeErrors: Counter;
  readonly skipped: Counter;
  readonly dropped: Counter;
  readonly rejected: Counter;
  readonly pushes: Counter<'result'>;
  readonly planChanges: Counter;
  readonly lastWordsPushes: Counter<'result'>;
  readonly directives: Counter;
  readonly #peers = new Set<string>();

  constructor(source: AgentGaugeSource, options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics === true) {
      // prom-client samples event-loop delay every 10 ms by default: 100
      // wake-ups a second cost the idle agent ~0.4 % of a core, a fifth of
      // its budget (docs/agent.md, "Measured"). Every 100 ms still shows a
      // stalled loop.
      collectDefaultMetrics({
        register: this.registry,
        prefix: 'nodewarden_agent_',
        eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
      });
    }
    this.#peerUp = new Gauge({
      name: 'nodewarden_agent_peer_up',
      help: '1 when the latest probe of this assigned peer passed, 0 when it failed',
      labelNames: ['peer'],
      registers,
    });
    this.#layerUp = new Gauge({
      name: 'nodewarden_agent_peer_layer_up',
      help: 'Per layer, from the latest probe that tested it: 1 ok, 0 failed',
      labelNames: ['peer', 'layer'],
      registers,
    });
    this.#latency = new Gauge({
      name: 'nodewarden_agent_peer_latency_seconds',
      help: 'Per layer, the latency of the latest successful check',
      labelNames: ['peer', 'layer'],
      registers,
    });
    this.probes = new Counter({
      name: 'nodewarden_agent_probes_total',
      help: 'Probes run, by mode (l4: the connect each tick; full: L2-L7) and result',
      labelNames: ['mode', 'result'],
      registers,
    });
    this.escalations = new Counter({
      name: 'nodewarden_agent_escalations_total',
      help: 'Failed L4 connects escalated to a full L2-L7 probe',
      registers,
    });
    this.probeErrors = new Counter({
      name: 'nodewarden_agent_probe_errors_total',
      help: 'Probes that could not run at all (bad target, prober error)',
      registers,
    });
    this.skipped = new Counter({
      name: 'nodewarden_agent_probes_skipped_total',
      help: 'Ticks skipped because the previous probe of that peer was still running',
      registers,
    });
    this.dropped = new Counter({
      name: 'nodewarden_agent_backlog_dropped_total',
      help: 'Results dropped (oldest first) because the backlog was full while the controller was unreachable',
      registers,
    });
    this.rejected = new Counter({
      name: 'nodewarden_agent_results_rejected_total',
      help: 'Results the controller refused as malformed (HTTP 400) and that were discarded',
      registers,
    });
    this.pushes = new Counter({
      name: 'nodewarden_agent_pushes_total',
      help: 'Result batches sent, by outcome',
      labelNames: ['result'],
      registers,
    });
    this.planChanges = new Counter({
      name: 'nodewarden_agent_plan_changes_total',
      help: 'New probe plans applied',
      registers,
    });
    this.lastWordsPushes = new Counter({
      name: 'nodewarden_agent_last_words_pushes_total',
      help: 'Last-words pushes, by outcome',
      labelNames: ['result'],
      registers,
    });
    this.directives = new Counter({
      name: 'nodewarden_agent_directives_total',
      help: 'Probe-now directives received from the controller and run',
      registers,
    });
    const live = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };
    live('nodewarden_agent_backlog_results', 'Results waiting to be sent', () =>
      source.backlogSize(),
    );
    live('nodewarden_agent_backlog_capacity', 'Most results the backlog holds', () =>
      source.backlogCapacity(),
    );
    live(
      'nodewarden_agent_controller_reachable',
      '1 when the last call to the controller succeeded',
      () => (source.controllerReachable() ? 1 : 0),
    );
    live('nodewarden_agent_plan_targets', 'Peers in the current plan', () => source.planTargets());
    live(
      'nodewarden_agent_plan_from_file',
      '1 while probing with the saved plan because the controller has not answered yet',
      () => (source.planFromFile() ? 1 : 0),
    );
    live('nodewarden_agent_last_words_pending', 'Kernel-log events waiting to be sent', () =>
      source.lastWordsPending(),
    );
  }

  /** Records a result of an assigned peer; results for other targets (probe-now) touch totals only. */
  record(result: WireResult, assigned: boolean): void {
    this.probes.inc({ mode: result.mode, result: result.healthy ? 'ok' : 'failed' });
    if (!assigned) return;
    this.#peers.add(result.target);
    this.#peerUp.set({ peer: result.target }, result.healthy ? 1 : 0);
    for (const l of result.layers) {
      if (l.status === 'skipped') continue;
      this.#layerUp.set({ peer: result.target, layer: l.layer }, l.status === 'ok' ? 1 : 0);
      if (l.latencyMs !== null) {
        this.#latency.set({ peer: result.target, layer: l.layer }, l.latencyMs / 1000);
      }
    }
  }

  /** Removes the series of peers that left the plan. */
  keepPeers(peers: ReadonlySet<string>): void {
    for (const peer of [...this.#peers]) {
      if (peers.has(peer)) continue;
      this.#peers.delete(peer);
      this.#peerUp.remove({ peer });
      for (const layer of LAYERS) {
        this.#layerUp.remove({ peer, layer });
        this.#latency.remove({ peer, layer });
      }
    }
  }
}
