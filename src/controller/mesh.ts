/**
 * The controller's side of the agent mesh (design §2, §4):
 * - `PlanServer` computes the probe plan from the cluster's nodes (pure
 *   `computePlan`), recomputes it only when the inputs that shape it change
 *   (a node joins or leaves, an address or a priority label changes), and
 *   serves each agent its slice, versioned.
 * - `MeshObservations` keeps what agents report as detection evidence: per
 *   target, the latest few observations of each observer within a window,
 *   bounded in observers and in entries. It is an `ObservationSource`, so the
 *   DetectionLoop consumes it like the controller's own DirectProbes
 *   (`combineObservationSources` joins the two).
 * - `ProbeNowQueue` holds "probe this node now from all its observers at
 *   every layer" directives until each observer answers or they expire.
 * `AgentMesh` puts the three together for the HTTP routes (src/server/agent-api.ts).
 */
import type { NodeSnapshot } from '../core/cluster.ts';
import type { Clock, Timer } from '../core/clock.ts';
import type { ProbeObservation } from '../core/detection.ts';
import { NodeWardenError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import {
  computePlan,
  DEFAULT_PRIORITY_SELECTOR,
  matchesSelector,
  planFor,
  type AgentPlan,
  type PlanNode,
  type PlanOptions,
  type ProbePlan,
} from '../core/plan.ts';
import type {
  AgentFeature,
  Directive,
  ProbeNowDirective,
  ReferencePoint,
  ReferencesAnswer,
  ResultBatch,
  WireResult,
} from '../agent/protocol.ts';
import type { ObservationSource } from './detection-loop.ts';
import {
  ReferenceQueue,
  spreadAcrossZones,
  type ReferenceAnswerOutcome,
  type ReferenceQueueOptions,
  type ReferencesStatus,
} from './references.ts';

export type PlanSettings = Omit<PlanOptions, 'generatedAt'>;

/** Where the plan's nodes come from: the ClusterView's `nodes`. */
export type NodeList = () => readonly NodeSnapshot[];

/**
 * The plan, recomputed when what shapes it changes. `refresh` is cheap when
 * nothing changed (one key per node, no hashing of pairs), so the mesh calls
 * it every second and before serving a plan.
 */
export class PlanServer {
  #plan: ProbePlan;
  #key: string;
  #replans = 0;

  constructor(
    private readonly nodes: NodeList,
    private readonly clock: Clock,
    private readonly settings: PlanSettings = {},
  ) {
    const inputs = this.#inputs();
    this.#plan = computePlan(inputs.nodes, this.#options());
    this.#key = inputs.key;
  }

  /** Recomputes when the node set, an address or a priority label changed; true when the version changed. */
  refresh(): boolean {
    const inputs = this.#inputs();
    if (inputs.key === this.#key) return false;
    const previous = this.#plan.version;
    this.#plan = computePlan(inputs.nodes, this.#options());
    this.#key = inputs.key;
    this.#replans += 1;
    return this.#plan.version !== previous;
  }

  get plan(): ProbePlan {
    return this.#plan;
  }

  get version(): string {
    return this.#plan.version;
  }

  /** How many times the plan was recomputed after the first. */
  get replans(): number {
    return this.#replans;
  }

  planFor(observer: string): AgentPlan {
    return planFor(this.#plan, observer);
  }

  observersOf(target: string): readonly string[] {
    return this.#plan.observersOf.get(target) ?? [];
  }

  /** The address the plan probes `target` at; undefined for a node the plan does not hold. */
  addressOf(target: string): string | undefined {
    const node = this.nodes().find((n) => n.name === target);
    return node?.internalIP ?? undefined;
  }

  #options(): PlanOptions {
    return { ...this.settings, generatedAt: new Date(this.clock.now()).toISOString() };
  }

  /** Nodes without an InternalIP cannot be probed: they stay out of the plan until they have one. */
  #inputs(): { nodes: PlanNode[]; key: string } {
    const selector = this.settings.priority ?? DEFAULT_PRIORITY_SELECTOR;
    const nodes: PlanNode[] = [];
    const parts: string[] = [];
    for (const n of this.nodes()) {
      if (n.internalIP === null || n.internalIP === '') continue;
      nodes.push({ name: n.name, ip: n.internalIP, labels: n.labels });
      parts.push(
        `${n.name}\u0000${n.internalIP}\u0000${matchesSelector(n.labels, selector) ? 1 : 0}`,
      );
    }
    return { nodes, key: parts.sort().join('\u0001') };
  }
}

export interface MeshObservationsOptions {
  /** Observations older than this (by the controller's clock) are dropped. Default 15 s (detection's window is 5 s). */
  readonly keepMs?: number;
  /** Newest observations kept per (target, observer). Default 4. */
  readonly perObserver?: number;
  /** Observers kept per target; the longest silent is evicted first. Default 64 (k is 8–12). */
  readonly maxObserversPerTarget?: number;
}

/** A full (L2–L7) result as received, for diagnosis and probe-now answers. */
export interface ReceivedResult {
  readonly observer: string;
  readonly receivedAt: number;
  /** `startedAt` on the controller's clock (skew-corrected). */
  readonly startedAt: number;
  readonly result: WireResult;
}

interface TargetEntry {
  readonly byObserver: Map<string, ProbeObservation[]>;
  readonly lastFull: Map<string, ReceivedResult>;
  flat: readonly ProbeObservation[] | null;
}

export interface IngestOutcome {
  readonly accepted: number;
  readonly ignored: number;
}

/**
 * Agents' probe results as detection evidence. Times: an agent stamps its
 * results with its own clock, and the controller's clock is the one
 * detection runs on, so each batch is shifted by (received − sentAt): clock
 * skew disappears, and results that waited in an agent's backlog keep their
 * age — a drained backlog cannot make a node look alive now. `at` is never
 * later than the batch's arrival.
 */
export class MeshObservations implements ObservationSource {
  readonly #byTarget = new Map<string, TargetEntry>();
  readonly #keepMs: number;
  readonly #perObserver: number;
  readonly #maxObservers: number;
  #listener: ((node: string, observation: ProbeObservation) => void) | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly isKnownTarget: (node: string) => boolean,
    options: MeshObservationsOptions = {},
  ) {
    this.#keepMs = options.keepMs ?? 15_000;
    this.#perObserver = options.perObserver ?? 4;
    this.#maxObservers = options.maxObserversPerTarget ?? 64;
  }

  start(onObservation: (node: string, observation: ProbeObservation) => void): void {
    this.#listener = onObservation;
  }

  stop(): void {
    this.#listener = null;
  }

  /** Recent observations of `node` from every observer, oldest first within each observer. */
  observations(node: string): readonly ProbeObservation[] {
    const entry = this.#byTarget.get(node);
    if (entry === undefined) return [];
    if (entry.flat === null) entry.flat = [...entry.byObserver.values()].flat();
    return entry.flat;
  }

  /** The latest full (every-layer) result from each observer of `node`. */
  fullResults(node: string): readonly ReceivedResult[] {
    return [...(this.#byTarget.get(node)?.lastFull.values() ?? [])];
  }

  /** Targets with any kept observation (for metrics and tests). */
  targets(): number {
    return this.#byTarget.size;
  }

  /** Takes one agent's batch; `observer` is the authenticated node. */
  ingest(
    observer: string,
    batch: ResultBatch,
    onFull?: (r: ReceivedResult) => void,
  ): IngestOutcome {
    const received = this.clock.now();
    const offset = received - batch.sentAt;
    const cutoff = received - this.#keepMs;
    let accepted = 0;
    let ignored = 0;
    const touched: [string, ProbeObservation][] = [];
    for (const r of batch.results) {
      const startedAt = r.startedAt + offset;
      const at = Math.min(received, startedAt + r.durationMs);
      if (at < cutoff || r.target === observer || !this.isKnownTarget(r.target)) {
        ignored += 1;
        continue;
      }
      accepted += 1;
      const entry = this.#entry(r.target);
      const observation: ProbeObservation = {
        observer,
        startedAt,
        at,
        healthy: r.healthy,
        failedLayer: r.failedLayer,
        detail: r.summary,
      };
      const list = (entry.byObserver.get(observer) ?? []).filter((o) => o.at >= cutoff);
      list.push(observation);
      list.sort((a, b) => a.at - b.at);
      if (list.length > this.#perObserver) list.splice(0, list.length - this.#perObserver);
      // Re-inserting moves the observer to the end: eviction takes the longest silent.
      entry.byObserver.delete(observer);
      entry.byObserver.set(observer, list);
      if (r.mode === 'full') {
        const full = { observer, receivedAt: received, startedAt, result: r };
        entry.lastFull.delete(observer);
        entry.lastFull.set(observer, full);
        onFull?.(full);
      }
      this.#bound(entry);
      entry.flat = null;
      touched.push([r.target, observation]);
    }
    for (const [target, observation] of touched) this.#listener?.(target, observation);
    return { accepted, ignored };
  }

  /** Drops expired observations and targets that left the cluster; the mesh calls it every second. */
  prune(): void {
    const cutoff = this.clock.now() - this.#keepMs;
    for (const [target, entry] of this.#byTarget) {
      if (!this.isKnownTarget(target)) {
        this.#byTarget.delete(target);
        continue;
      }
      for (const [observer, list] of entry.byObserver) {
        const kept = list.filter((o) => o.at >= cutoff);
        if (kept.length === list.length) continue;
        entry.flat = null;
        if (kept.length === 0) entry.byObserver.delete(observer);
        else entry.byObserver.set(observer, kept);
      }
      for (const [observer, full] of entry.lastFull) {
        // Full results stay longer: they are the evidence a diagnosis quotes.
        if (full.receivedAt < cutoff - 4 * this.#keepMs) entry.lastFull.delete(observer);
      }
      if (entry.byObserver.size === 0 && entry.lastFull.size === 0) this.#byTarget.delete(target);
    }
  }

  #entry(target: string): TargetEntry {
    let entry = this.#byTarget.get(target);
    if (entry === undefined) {
      entry = { byObserver: new Map(), lastFull: new Map(), flat: null };
      this.#byTarget.set(target, entry);
    }
    return entry;
  }

  #bound(entry: TargetEntry): void {
    for (const map of [entry.byObserver, entry.lastFull] as Map<string, unknown>[]) {
      while (map.size > this.#maxObservers) {
        const oldest = map.keys().next().value;
        if (oldest === undefined) break;
        map.delete(oldest);
      }
    }
  }
}

/** One observer's answer to a probe-now request. */
export interface ProbeNowAnswer {
  readonly observer: string;
  readonly receivedAt: number;
  readonly result: WireResult;
}

/** What is known of a probe-now request. */
export interface ProbeNowStatus {
  readonly id: string;
  readonly node: string;
  readonly ip: string;
  readonly requestedAt: string;
  readonly expiresAt: string;
  readonly observers: readonly string[];
  readonly answered: readonly ProbeNowAnswer[];
  readonly pending: readonly string[];
}

interface ProbeNowRequest {
  readonly id: string;
  readonly node: string;
  readonly ip: string;
  readonly requestedAt: number;
  readonly expiresAt: number;
  readonly observers: readonly string[];
  readonly answers: Map<string, ProbeNowAnswer>;
}

export interface ProbeNowOptions {
  /** A directive not picked up and answered by then is dropped. Default 30 s. */
  readonly ttlMs?: number;
  /** Requests remembered (answered or not); the oldest is forgotten first. Default 256. */
  readonly maxRequests?: number;
}

/**
 * Probe-now directives, queued per observer. A directive is handed out on
 * every plan poll and result push until the observer answers it or it
 * expires (agents ignore ids they have seen), so a lost response loses
 * nothing. Bounded: at most `maxRequests` requests are remembered.
 */
export class ProbeNowQueue {
  readonly #requests = new Map<string, ProbeNowRequest>();
  readonly #ttlMs: number;
  readonly #max: number;
  #seq = 0;

  constructor(
    private readonly clock: Clock,
    options: ProbeNowOptions = {},
  ) {
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#max = options.maxRequests ?? 256;
  }

  request(node: string, ip: string, observers: readonly string[]): ProbeNowStatus {
    const now = this.clock.now();
    this.#seq += 1;
    const id = `pn-${now.toString(36)}-${this.#seq.toString(36)}`;
    const req: ProbeNowRequest = {
      id,
      node,
      ip,
      requestedAt: now,
      expiresAt: now + this.#ttlMs,
      observers,
      answers: new Map(),
    };
    this.#requests.set(id, req);
    while (this.#requests.size > this.#max) {
      const oldest = this.#requests.keys().next().value;
      if (oldest === undefined) break;
      this.#requests.delete(oldest);
    }
    return this.#status(req);
  }

  /** Directives still waiting for `observer`'s answer. */
  pendingFor(observer: string): ProbeNowDirective[] {
    const now = this.clock.now();
    const out: ProbeNowDirective[] = [];
    for (const req of this.#requests.values()) {
      if (req.expiresAt <= now || req.answers.has(observer) || !req.observers.includes(observer)) {
        continue;
      }
      out.push({
        id: req.id,
        kind: 'probe-now',
        target: req.node,
        ip: req.ip,
        requestedAt: req.requestedAt,
        expiresAt: req.expiresAt,
      });
    }
    return out;
  }

  /** Records a result that names a directive; false when it answers nothing we asked of this observer. */
  answer(observer: string, receivedAt: number, result: WireResult): boolean {
    const req = result.directive === undefined ? undefined : this.#requests.get(result.directive);
    if (req === undefined || req.node !== result.target || !req.observers.includes(observer)) {
      return false;
    }
    req.answers.set(observer, { observer, receivedAt, result });
    return true;
  }

  status(id: string): ProbeNowStatus | undefined {
    const req = this.#requests.get(id);
    return req === undefined ? undefined : this.#status(req);
  }

  #status(req: ProbeNowRequest): ProbeNowStatus {
    return {
      id: req.id,
      node: req.node,
      ip: req.ip,
      requestedAt: new Date(req.requestedAt).toISOString(),
      expiresAt: new Date(req.expiresAt).toISOString(),
      observers: req.observers,
      answered: [...req.answers.values()],
      pending: req.observers.filter((o) => !req.answers.has(o)),
    };
  }
}

export interface AgentMeshOptions {
  readonly plan?: PlanSettings;
  readonly observations?: MeshObservationsOptions;
  readonly probeNow?: ProbeNowOptions;
  readonly references?: ReferenceQueueOptions;
  /** How often the plan inputs are checked and old observations pruned. Default 1 s. */
  readonly housekeepingMs?: number;
}

/** What one agent last told us, for /metrics and the probe-now answer. */
export interface AgentContact {
  readonly at: number;
  readonly planVersion: string | null;
  readonly dropped: number;
  /** What the agent said it can do (`x-nodewarden-agent-features`). */
  readonly features: readonly AgentFeature[];
}

/** Observers heard from longer ago than this are not asked to probe reference points. */
const REFERENCE_CONTACT_MS = 15_000;

/**
 * The mesh as the controller runs it: plan, observations, probe-now, and
 * when each agent was last heard from. `start` (called by the
 * DetectionLoop, as for any ObservationSource) begins housekeeping.
 */
export class AgentMesh implements ObservationSource {
  readonly plans: PlanServer;
  readonly evidence: MeshObservations;
  readonly probeNow: ProbeNowQueue;
  readonly references: ReferenceQueue;
  readonly #contacts = new Map<string, AgentContact>();
  readonly #housekeepingMs: number;
  #timer: Timer | null = null;

  constructor(
    nodes: NodeList,
    private readonly clock: Clock,
    private readonly log: Logger,
    options: AgentMeshOptions = {},
  ) {
    this.plans = new PlanServer(nodes, clock, options.plan);
    this.evidence = new MeshObservations(
      clock,
      (node) => this.plans.plan.observersOf.has(node),
      options.observations,
    );
    this.probeNow = new ProbeNowQueue(clock, options.probeNow);
    this.references = new ReferenceQueue(clock, options.references);
    this.#housekeepingMs = options.housekeepingMs ?? 1_000;
  }

  start(onObservation: (node: string, observation: ProbeObservation) => void): void {
    this.evidence.start(onObservation);
    this.#arm();
  }

  stop(): void {
    this.evidence.stop();
    this.#timer?.cancel();
    this.#timer = null;
  }

  observations(node: string): readonly ProbeObservation[] {
    return this.evidence.observations(node);
  }

  /** Checks the plan inputs and prunes old observations. */
  housekeeping(): void {
    const before = this.plans.version;
    if (this.plans.refresh()) {
      this.log.log('info', 'probe plan changed', {
        from: before,
        to: this.plans.version,
        nodes: this.plans.plan.observersOf.size,
      });
    }
    this.evidence.prune();
  }

  /**
   * Plan for an agent, plus what it should do now. `features`: what the
   * agent's request header named (undefined keeps what it said before).
   */
  planFor(
    observer: string,
    features?: readonly AgentFeature[],
  ): { plan: AgentPlan; directives: Directive[] } {
    this.#contact(observer, null, features);
    return { plan: this.plans.planFor(observer), directives: this.#directivesFor(observer) };
  }

  /** Ingests a batch from `observer` (already authenticated and validated). */
  ingest(
    observer: string,
    batch: ResultBatch,
    features?: readonly AgentFeature[],
  ): IngestOutcome & { directives: Directive[] } {
    this.#contact(observer, batch, features);
    const outcome = this.evidence.ingest(observer, batch, (full) => {
      this.probeNow.answer(observer, full.receivedAt, full.result);
    });
    return { ...outcome, directives: this.#directivesFor(observer) };
  }

  /**
   * Asks up to `max` observers of `node` — heard from in the last 15 s, able
   * to probe reference points, one per zone first (`zoneOf`) — to probe
   * `points` now. UNAVAILABLE when no observer qualifies (the caller falls
   * back to its own probe); BAD_INPUT for points or a timeout out of bounds.
   */
  requestReferences(
    node: string,
    points: readonly ReferencePoint[],
    timeoutMs: number,
    options: { readonly max?: number; readonly zoneOf?: (observer: string) => string | null } = {},
  ): ReferencesStatus {
    this.plans.refresh();
    const now = this.clock.now();
    const able = this.plans.observersOf(node).filter((o) => {
      const contact = this.#contacts.get(o);
      return (
        contact !== undefined &&
        now - contact.at <= REFERENCE_CONTACT_MS &&
        contact.features.includes('probe-references')
      );
    });
    if (able.length === 0) {
      throw new NodeWardenError(
        'UNAVAILABLE',
        `no observer of ${node} that can probe reference points was heard from in the last ${REFERENCE_CONTACT_MS / 1000} s`,
        { hint: 'agents older than this controller do not take probe-references directives' },
      );
    }
    const observers = spreadAcrossZones(able, options.zoneOf ?? (() => null), options.max ?? 3);
    const status = this.references.request(node, points, observers, timeoutMs);
    this.log.log('info', 'reference points requested', {
      node,
      id: status.id,
      observers,
      points: points.length,
    });
    return status;
  }

  /** Takes an observer's answer to a probe-references directive. */
  recordReferences(observer: string, answer: ReferencesAnswer): ReferenceAnswerOutcome {
    this.#contact(observer, null);
    return this.references.answer(observer, answer);
  }

  /**
   * Queues "probe `node` now at every layer" for each of its observers.
   * NOT_FOUND when the plan does not hold the node (unknown, or no address).
   */
  requestProbeNow(node: string): ProbeNowStatus {
    this.plans.refresh();
    const observers = this.plans.plan.observersOf.get(node);
    const ip = this.plans.addressOf(node);
    if (observers === undefined || ip === undefined) {
      throw new NodeWardenError('NOT_FOUND', `node ${node} is not in the probe plan`, {
        hint: 'check the name with kubectl get nodes; a node without an InternalIP is not probed',
      });
    }
    const status = this.probeNow.request(node, ip, observers);
    this.log.log('info', 'probe-now requested', {
      node,
      id: status.id,
      observers: observers.length,
    });
    return status;
  }

  /** Agents heard from, with when. */
  contacts(): ReadonlyMap<string, AgentContact> {
    return this.#contacts;
  }

  /** Reference directives go only to an agent whose latest request named the feature. */
  #directivesFor(observer: string): Directive[] {
    const able = this.#contacts.get(observer)?.features.includes('probe-references') === true;
    return [
      ...this.probeNow.pendingFor(observer),
      ...(able ? this.references.pendingFor(observer) : []),
    ];
  }

  #contact(observer: string, batch: ResultBatch | null, features?: readonly AgentFeature[]): void {
    const previous = this.#contacts.get(observer);
    this.#contacts.set(observer, {
      at: this.clock.now(),
      planVersion: batch?.planVersion ?? previous?.planVersion ?? null,
      dropped: batch?.dropped ?? previous?.dropped ?? 0,
      features: features ?? previous?.features ?? [],
    });
  }

  #arm(): void {
    this.#timer = this.clock.setTimer(this.#housekeepingMs, () => {
      try {
        this.housekeeping();
      } catch (error) {
        this.log.log('error', 'mesh housekeeping failed', {
          error: error instanceof Error ? error.message : String(error),
        });
      }
      if (this.#timer !== null) this.#arm();
    });
  }
}

/**
 * One ObservationSource from several (the agent mesh and the controller's
 * own DirectProbes): each node's observations are the concatenation.
 */
export function combineObservationSources(
  ...sources: readonly ObservationSource[]
): ObservationSource {
  return {
    start(onObservation) {
      for (const s of sources) s.start(onObservation);
    },
    stop() {
      for (const s of sources) s.stop();
    },
    observations(node) {
      const parts = sources.map((s) => s.observations(node)).filter((p) => p.length > 0);
      if (parts.length <= 1) return parts[0] ?? [];
      return parts.flat();
    },
  };
}
