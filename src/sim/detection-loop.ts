/**
 * Detection and incidents driven the way the controller drives them, on a
 * simulated cluster: evaluate whenever something changes (a watch event, a
 * probe result) and again at the `nextCheckAt` the pure functions ask for;
 * apply the incident commands to an in-memory list. The demo runs it; tests
 * read what it decided and when.
 */
import type { ClusterView } from '../core/cluster.ts';
import type { Clock, Timer } from '../core/clock.ts';
import {
  DEFAULT_CLUSTER_DETECTION_CONFIG,
  detectCluster,
  type ClusterDetectionConfig,
  type ClusterDetectionState,
  type Situation,
} from '../core/detection-cluster.ts';
import { leaseEvidence, readyStatus, type NodeInput, type Transition } from '../core/detection.ts';
import type { Incident } from '../core/incident.ts';
import {
  applyIncidentCommands,
  decideIncidents,
  DEFAULT_INCIDENT_CONFIG,
  type IncidentCommand,
  type IncidentConfig,
} from '../core/incidents.ts';
import type { SimMesh } from './mesh.ts';

export interface SimDetectionLoopOptions {
  readonly detection?: ClusterDetectionConfig;
  readonly incidents?: IncidentConfig;
}

export class SimDetectionLoop {
  incidents: Incident[] = [];
  state: ClusterDetectionState | null = null;
  readonly transitions: Transition[] = [];
  readonly situations: { readonly at: number; readonly situation: Situation }[] = [];
  readonly commands: { readonly at: number; readonly command: IncidentCommand }[] = [];
  evaluations = 0;

  private readonly detection: ClusterDetectionConfig;
  private readonly incidentConfig: IncidentConfig;
  private pending: Timer | null = null;
  private wake: { at: number; timer: Timer } | null = null;

  constructor(
    private readonly view: ClusterView,
    private readonly clock: Clock,
    private readonly mesh: SimMesh | null,
    options: SimDetectionLoopOptions = {},
  ) {
    this.detection = options.detection ?? DEFAULT_CLUSTER_DETECTION_CONFIG;
    this.incidentConfig = options.incidents ?? DEFAULT_INCIDENT_CONFIG;
  }

  async start(): Promise<void> {
    await this.view.start(() => this.poke());
    this.mesh?.start(() => this.poke());
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

  /** Evaluates once, now (many changes in one instant coalesce into one evaluation). */
  private poke(): void {
    if (this.pending !== null) return;
    this.pending = this.clock.setTimer(0, () => {
      this.pending = null;
      this.evaluate();
    });
  }

  evaluate(): void {
    const now = this.clock.now();
    this.evaluations += 1;
    const inputs: NodeInput[] = this.view.nodes().map((node) => ({
      node: node.name,
      lease: leaseEvidence(this.view.lease(node.name)),
      ready: readyStatus(node),
      observations: this.mesh?.observations(node.name) ?? [],
    }));
    const result = detectCluster(
      this.state,
      { connection: this.view.connection(), nodes: inputs },
      now,
      this.detection,
    );
    this.state = result.state;
    this.transitions.push(...result.transitions);
    if (this.situations[this.situations.length - 1]?.situation !== result.situation) {
      this.situations.push({ at: now, situation: result.situation });
    }
    const decision = decideIncidents(
      { now, incidents: this.incidents, detection: result.state, facts: this.view },
      this.incidentConfig,
    );
    this.incidents = applyIncidentCommands(this.incidents, decision.commands);
    for (const command of decision.commands) this.commands.push({ at: now, command });
    const next = Math.min(result.nextCheckAt, decision.nextCheckAt ?? Infinity);
    this.wakeAt(next);
  }

  private wakeAt(at: number): void {
    if (this.wake !== null && this.wake.at === at) return;
    this.wake?.timer.cancel();
    const timer = this.clock.setTimer(at - this.clock.now(), () => {
      this.wake = null;
      this.evaluate();
    });
    this.wake = { at, timer };
  }
}
