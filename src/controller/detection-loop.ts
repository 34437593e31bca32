/**
 * The controller's detection loop, over any ClusterView (the real API server
 * or the simulator) and any source of probe observations (the agent mesh,
 * the controller's own prober, or the simulated mesh): evaluate whenever
 * something changes (a watch event, a probe result) and again at the
 * `nextCheckAt` the pure functions ask for; apply the incident commands to
 * the in-memory incidents at once and hand them, in order, to a sink (the
 * store) — but only while `mayWrite()` says this process is the leader.
 * A standby keeps its detection state warm and decides nothing.
 */
import type { ClusterChange, ClusterView } from '../core/cluster.ts';
import type { Clock, Timer } from '../core/clock.ts';
import {
  DEFAULT_CLUSTER_DETECTION_CONFIG,
  detectClusterChanges,
  type ClusterDetectionConfig,
  type ClusterDetectionState,
  type Situation,
} from '../core/detection-cluster.ts';
import { leaseEvidence, readyStatus, type NodeInput, type Transition } from '../core/detection.ts';
import type { Incident } from '../core/incident.ts';
import {
  decideIncidents,
  DEFAULT_INCIDENT_CONFIG,
  type IncidentCommand,
  type IncidentConfig,
} from '../core/incidents.ts';
import type { ProbeObservation } from '../core/detection.ts';

/** Where probe observations come from; SimMesh and the controller's prober implement it. */
export interface ObservationSource {
  start(onObservation: (node: string, observation: ProbeObservation) => void): void;
  stop(): void;
  observations(node: string): readonly ProbeObservation[];
}

/** Receives every incident command, in decision order, one call at a time. */
export type IncidentSink = (
  commands: readonly IncidentCommand[],
  incidents: readonly Incident[],
) => Promise<void>;

export interface DetectionLoopOptions {
  readonly detection?: ClusterDetectionConfig;
  readonly incidents?: IncidentConfig;
  readonly sink?: IncidentSink;
  /** Leadership, re-checked before every decision; always true without election. */
  readonly mayWrite?: () => boolean;
  /** Incidents already recorded (open, and recently resolved for flap detection). */
  readonly initialIncidents?: readonly Incident[];
  /** Called when a sink write fails; the commands stay applied in memory. */
  readonly onSinkError?: (error: unknown) => void;
  /** Evaluations triggered by changes are at least this far apart (default 0). */
  readonly minEvaluateIntervalMs?: number;
  /**
   * What a long-running process forgets (default: nothing — the demo and tests
   * read the whole history). Resolved incidents older than `resolvedIncidentsMs`
   * leave memory (the store keeps them); `historyEntries` bounds each of
   * `transitions`, `situations` and `commands`, oldest dropped first.
   */
  readonly retention?: { readonly resolvedIncidentsMs: number; readonly historyEntries: number };
  /** Told each evaluation's node state changes (the HTTP API's live events). */
  readonly onTransitions?: (transitions: readonly Transition[]) => void;
}

export class DetectionLoop {
  incidents: Incident[] = [];
  state: ClusterDetectionState | null = null;
  readonly transitions: Transition[] = [];
  readonly situations: { readonly at: number; readonly situation: Situation }[] = [];
  readonly commands: { readonly at: number; readonly command: IncidentCommand }[] = [];
  evaluations = 0;
  /** Node evaluations over all evaluations (an evaluation looks only at changed or due nodes). */
  nodeEvaluations = 0;

  private readonly detection: ClusterDetectionConfig;
  private readonly incidentConfig: IncidentConfig;
  private readonly sink: IncidentSink | null;
  private readonly mayWrite: () => boolean;
  private readonly onSinkError: (error: unknown) => void;
  private sinkQueue: Promise<void> = Promise.resolve();
  private readonly minEvaluateIntervalMs: number;
  private readonly onTransitions: (transitions: readonly Transition[]) => void;
  private lastEvaluatedAt = Number.NEGATIVE_INFINITY;
  private readonly retention: DetectionLoopOptions['retention'] | null;
  private synced = false;
  private pending: Timer | null = null;
  /** Nodes with new evidence since the last evaluation; `all` until the first one. */
  private changed: Set<string> | 'all' = 'all';
  private wake: { at: number; timer: Timer } | null = null;

  constructor(
    private readonly view: ClusterView,
    private readonly clock: Clock,
    private readonly mesh: ObservationSource | null,
    options: DetectionLoopOptions = {},
  ) {
    this.detection = options.detection ?? DEFAULT_CLUSTER_DETECTION_CONFIG;
    this.incidentConfig = options.incidents ?? DEFAULT_INCIDENT_CONFIG;
    this.sink = options.sink ?? null;
    this.mayWrite = options.mayWrite ?? (() => true);
    this.onSinkError = options.onSinkError ?? (() => undefined);
    this.minEvaluateIntervalMs = options.minEvaluateIntervalMs ?? 0;
    this.retention = options.retention ?? null;
    this.onTransitions = options.onTransitions ?? (() => undefined);
    this.incidents = [...(options.initialIncidents ?? [])];
  }

  /** Resolves when every command handed to the sink so far has been written. */
  flushed(): Promise<void> {
    return this.sinkQueue;
  }

  /** Replaces the in-memory incidents (a new leader reloads them from the store). */
  resetIncidents(incidents: readonly Incident[]): void {
    this.incidents = [...incidents];
  }

  /**
   * Starts watching; the first evaluation waits until every cache has been
   * listed, so a half-listed cluster (nodes seen, their Leases not yet) can
   * never look like a storm of dead nodes.
   */
  async start(): Promise<void> {
    await this.view.start((change) => this.noteChange(change));
    this.synced = true;
    this.mesh?.start((node) => this.noteNode(node));
    this.evaluate();
  }

  async stop(): Promise<void> {
    this.mesh?.stop();
    this.pending?.cancel();
    this.wake?.timer.cancel();
    await this.view.stop();
  }

  /** Incidents of a kind, in the order they were opened. */
  incidentsOf(kind: Incident['kind']): Incident[] {
    return this.incidents.filter((i) => i.kind === kind);
  }

  /** The first transition of `node` into `health` at or after `since`. */
  firstTransition(node: string, health: Transition['to'], since = 0): Transition | undefined {
    return this.transitions.find((t) => t.node === node && t.to === health && t.at >= since);
  }

  /** A watch event: Nodes and Leases are node evidence; pods, events and the connection are not. */
  private noteChange(change: ClusterChange): void {
    if (change.kind === 'node') this.noteNode(change.node.name);
    else if (change.kind === 'lease') this.noteNode(change.lease.node);
    else this.poke();
  }

  private noteNode(node: string): void {
    if (this.changed !== 'all') this.changed.add(node);
    this.poke();
  }

  /**
   * Evaluates soon: changes in one instant coalesce into one evaluation, and
   * evaluations are at least `minEvaluateIntervalMs` apart, so 500 Lease
   * renewals a second in a 5,000-node cluster cost a few evaluations a
   * second, not 500.
   */
  private poke(): void {
    if (!this.synced || this.pending !== null) return;
    const wait = Math.max(0, this.lastEvaluatedAt + this.minEvaluateIntervalMs - this.clock.now());
    this.pending = this.clock.setTimer(wait, () => {
      this.pending = null;
      this.evaluate();
    });
  }

  /**
   * Evaluates now. Before every cache has been listed this does nothing: a
   * caller such as a new leader's reload can come first, and a half-listed
   * cluster would look like a storm (the first full-size bench opened a
   * partition incident that way).
   */
  evaluate(): void {
    if (!this.synced) return;
    // This evaluation takes every change so far: a change-triggered one still pending is moot.
    this.pending?.cancel();
    this.pending = null;
    const now = this.clock.now();
    this.lastEvaluatedAt = now;
    this.evaluations += 1;
    const changed = this.changed;
    this.changed = new Set();
    const result = detectClusterChanges(
      this.state,
      {
        connection: this.view.connection(),
        names: this.view.nodes().map((node) => node.name),
        changed,
        input: (name): NodeInput => ({
          node: name,
          lease: leaseEvidence(this.view.lease(name)),
          ready: readyStatus(this.view.node(name)),
          observations: this.mesh?.observations(name) ?? [],
        }),
      },
      now,
      this.detection,
    );
    this.nodeEvaluations += result.evaluated;
    this.state = result.state;
    this.transitions.push(...result.transitions);
    if (result.transitions.length > 0) this.onTransitions(result.transitions);
    if (this.situations[this.situations.length - 1]?.situation !== result.situation) {
      this.situations.push({ at: now, situation: result.situation });
    }
    let next = result.nextCheckAt;
    if (this.mayWrite()) {
      const decision = decideIncidents(
        { now, incidents: this.incidents, detection: result.state, facts: this.view },
        this.incidentConfig,
      );
      this.incidents = [...decision.incidents];
      for (const command of decision.commands) this.commands.push({ at: now, command });
      if (decision.commands.length > 0 && this.sink) {
        const sink = this.sink;
        const commands = decision.commands;
        const snapshot = this.incidents;
        this.sinkQueue = this.sinkQueue
          .then(() => sink(commands, snapshot))
          .catch((error: unknown) => this.onSinkError(error));
      }
      next = Math.min(next, decision.nextCheckAt ?? Infinity);
    }
    this.forget(now);
    this.wakeAt(next);
  }

  private forget(now: number): void {
    if (this.retention == null) return;
    const { resolvedIncidentsMs, historyEntries } = this.retention;
    const keep = (i: Incident): boolean => {
      if (i.status === 'open') return true;
      const resolved = Date.parse(i.resolvedAt ?? '');
      return !Number.isFinite(resolved) || now - resolved <= resolvedIncidentsMs;
    };
    if (!this.incidents.every(keep)) this.incidents = this.incidents.filter(keep);
    for (const history of [this.transitions, this.situations, this.commands]) {
      if (history.length > historyEntries) history.splice(0, history.length - historyEntries);
    }
  }

  /**
   * Looks again at `at`, but never sooner than `minEvaluateIntervalMs` after
   * this evaluation: 5,000 nodes' due times are spread over every 10 s, and
   * waking for each would evaluate 500 times a second.
   */
  private wakeAt(due: number): void {
    const at = Math.max(due, this.lastEvaluatedAt + this.minEvaluateIntervalMs);
    if (this.wake !== null && this.wake.at === at) return;
    this.wake?.timer.cancel();
    const timer = this.clock.setTimer(at - this.clock.now(), () => {
      this.wake = null;
      this.evaluate();
    });
    this.wake = { at, timer };
  }
}
