/**
 * Per-node detection: a pure state machine Healthy → Suspect → Down →
 * Recovering → Healthy, evaluated at a given `now` from the node's Lease, its
 * Ready condition and recent probe observations from several vantage points.
 * The cluster-level view (many nodes at once, the controller itself cut off)
 * is in detection-cluster.ts; what incidents follow is in incidents.ts.
 */
import type { ConditionStatus, LeaseSnapshot, NodeSnapshot } from './cluster.ts';
import { badInput } from './errors.ts';
import type { NodeHealth } from './incident.ts';
import type { Layer, ProbeResult } from './probe.ts';

/** One probe of a node, seen from one observer (an agent, or the controller itself). */
export interface ProbeObservation {
  readonly observer: string;
  /** When the probe started, epoch ms: a success only contradicts failures of probes started before it. */
  readonly startedAt: number;
  /** When its result arrived, epoch ms. */
  readonly at: number;
  readonly healthy: boolean;
  /** Lowest failing layer; null when healthy or when no layer could be tested. */
  readonly failedLayer: Layer | null;
  /** The verdict in an SRE's words, e.g. `L2 failed: no ARP reply (kernel neighbour: FAILED)`. */
  readonly detail: string;
}

/** The node's Lease as detection needs it; times in epoch ms. */
export interface LeaseEvidence {
  /** Last renewal; null when never renewed. */
  readonly renewTime: number | null;
  readonly durationSeconds: number;
}

/** Everything detection looks at for one node at one instant. */
export interface NodeInput {
  readonly node: string;
  /** null when the node has no Lease in kube-node-lease. */
  readonly lease: LeaseEvidence | null;
  /** The Ready condition's status; null when the node reports none. */
  readonly ready: ConditionStatus | null;
  /** Recent observations; older ones than the window are ignored. */
  readonly observations: readonly ProbeObservation[];
}

export interface DetectionConfig {
  /** Kubelet renews its Lease this often (10 s: a quarter of the 40 s lease). */
  readonly renewIntervalMs: number;
  /** A Lease older than this makes a node Suspect (two renew periods). */
  readonly suspectLeaseAgeMs: number;
  /** A Lease older than this makes a node Down; null: the Lease's own duration (40 s by default). */
  readonly gracePeriodMs: number | null;
  /** Only observations that arrived within this window count. */
  readonly observationWindowMs: number;
  /** m: failing observers needed (all of them when fewer have reported). */
  readonly minFailingObservers: number;
  /** Rule D4 (the host answers nobody) may declare Down without the Lease. */
  readonly meshDown: boolean;
  /** A node must stay healthy this long before Recovering becomes Healthy. */
  readonly stablePeriodMs: number;
  /** Look again at least this often even when nothing is due. */
  readonly maxCheckIntervalMs: number;
}

export const DEFAULT_DETECTION_CONFIG: DetectionConfig = {
  renewIntervalMs: 10_000,
  suspectLeaseAgeMs: 20_000,
  gracePeriodMs: null,
  observationWindowMs: 5_000,
  minFailingObservers: 2,
  meshDown: true,
  stablePeriodMs: 60_000,
  maxCheckIntervalMs: 10_000,
};

/** Kubelet's default lease duration, used when a Lease does not say. */
export const DEFAULT_LEASE_DURATION_MS = 40_000;

/** Builds a config from defaults plus overrides, refusing values that make the rules meaningless. */
export function detectionConfig(overrides: Partial<DetectionConfig> = {}): DetectionConfig {
  const config = { ...DEFAULT_DETECTION_CONFIG, ...overrides };
  const positive: (keyof DetectionConfig)[] = [
    'renewIntervalMs',
    'suspectLeaseAgeMs',
    'observationWindowMs',
    'minFailingObservers',
    'maxCheckIntervalMs',
  ];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw badInput(
        `detection setting ${key}=${String(value)} must be a positive number`,
        `leave ${key} unset for the default (${String(DEFAULT_DETECTION_CONFIG[key])})`,
      );
    }
  }
  if (!Number.isInteger(config.minFailingObservers)) {
    throw badInput(
      `detection setting minFailingObservers=${config.minFailingObservers} must be a whole number`,
      'use 2 (the default) or more observers',
    );
  }
  if (config.stablePeriodMs < 0 || !Number.isFinite(config.stablePeriodMs)) {
    throw badInput(
      `detection setting stablePeriodMs=${config.stablePeriodMs} must be 0 or more`,
      'use 60000 (the default)',
    );
  }
  if (config.gracePeriodMs !== null && !(config.gracePeriodMs > config.suspectLeaseAgeMs)) {
    throw badInput(
      `detection setting gracePeriodMs=${config.gracePeriodMs} must exceed suspectLeaseAgeMs=${config.suspectLeaseAgeMs}`,
      'a Lease must look suspect before it counts as expired; leave gracePeriodMs unset to use the Lease duration',
    );
  }
  if (config.suspectLeaseAgeMs < config.renewIntervalMs) {
    throw badInput(
      `detection setting suspectLeaseAgeMs=${config.suspectLeaseAgeMs} is below renewIntervalMs=${config.renewIntervalMs}`,
      'every healthy node would look suspect between two renewals; use two renew periods',
    );
  }
  return config;
}

/** An observer's latest verdict on the node within the window. */
export interface ObserverVerdict {
  readonly observer: string;
  readonly at: number;
  readonly startedAt: number;
  readonly failedLayer: Layer | null;
  readonly detail: string;
}

/** What an evaluation looked at; kept with every transition. */
export interface DetectionEvidence {
  /** now − Lease renewTime; null when there is no renewal to measure. */
  readonly leaseAgeMs: number | null;
  /** False while the controller's own view of the API is stale (see detection-cluster.ts). */
  readonly leaseTrusted: boolean;
  readonly gracePeriodMs: number;
  readonly ready: ConditionStatus | null;
  /** Observers heard from within the window. */
  readonly observers: number;
  /** m for this evaluation. */
  readonly quorum: number;
  /** Observers whose latest probe failed at L2, L3 or L4. */
  readonly failing: readonly ObserverVerdict[];
  /** Observers whose latest probe passed. */
  readonly passing: readonly ObserverVerdict[];
}

export interface NodeDetectionState {
  readonly node: string;
  readonly health: NodeHealth;
  /** When the current health began. */
  readonly since: number;
  /** When the node left Healthy for this episode (Suspect or straight to Down); null while Healthy. */
  readonly failingSince: number | null;
  readonly suspectAt: number | null;
  readonly suspectReason: string | null;
  /** Start of the latest Down (a relapse moves it). */
  readonly downAt: number | null;
  readonly downReason: string | null;
  readonly recoveringAt: number | null;
  /** Start of the current unbroken run of full health (fresh Lease, probes pass, Ready); null when not healthy. */
  readonly healthySince: number | null;
  /** Latest healthy observation ever seen, kept after it leaves the window. */
  readonly lastGoodProbeAt: number | null;
  /** Latest trusted Lease renewal. */
  readonly lastHeartbeatAt: number | null;
}

export interface Transition {
  readonly node: string;
  readonly from: NodeHealth;
  readonly to: NodeHealth;
  readonly at: number;
  readonly reason: string;
  readonly evidence: DetectionEvidence;
}

export interface NodeEvaluation {
  readonly state: NodeDetectionState;
  readonly transition: Transition | null;
  readonly evidence: DetectionEvidence;
  /** When the outcome could change without new input (a Lease threshold, the window, the stable period). */
  readonly nextCheckAt: number;
}

/** A node seen for the first time starts Healthy, with no run of health yet. */
export function initialNodeState(node: string, now: number): NodeDetectionState {
  return {
    node,
    health: 'Healthy',
    since: now,
    failingSince: null,
    suspectAt: null,
    suspectReason: null,
    downAt: null,
    downReason: null,
    recoveringAt: null,
    healthySince: null,
    lastGoodProbeAt: null,
    lastHeartbeatAt: null,
  };
}

export interface EvaluateOptions {
  /**
   * False when the controller cannot trust its own view of the API server:
   * Lease age and Ready are then not evidence (rules L and D1–D3 are off).
   */
  readonly leaseTrusted: boolean;
  /**
   * Since when the controller's view has been trustworthy (epoch ms). Lease
   * age is not counted from before it: while the API server was unreachable,
   * or before this controller started, no kubelet could be seen renewing —
   * the node lifecycle controller counts from when it observed a Lease the
   * same way. Absent: from the renewTime itself.
   */
  readonly trustedSince?: number;
}

const HOST_LAYERS: readonly Layer[] = ['L2', 'L3'];
const NODE_LAYERS: readonly Layer[] = ['L2', 'L3', 'L4'];

/**
 * Evaluates one node at `now`. Rules, in the order they are checked
 * (L = Lease age, only while the Lease is trusted; m = minFailingObservers,
 * or every observer heard from when fewer have reported):
 *
 * Down when any of:
 * - D1 L > grace period (the Lease's duration, 40 s by default);
 * - D2 ≥ m observers fail it at L2/L3/L4 and L > renew period (10 s):
 *   the mesh and the heartbeat agree — unless an observer reached it with a
 *   probe started after the earliest failing one (a partial partition);
 * - D3 Ready is Unknown or False and L > renew period — not within one grace
 *   period of the view becoming trustworthy (after an API server outage the
 *   node lifecycle controller marks every node Unknown before the kubelets
 *   get their next renewal through);
 * - D4 (meshDown) ≥ max(2, m) observers fail it at L2/L3 — the host
 *   answers nobody — and no observer passed a probe started after the
 *   earliest of those failing probes. One observer alone never suffices.
 *   D4 is what meets "incident ≤ 5 s after the last good probe": D2 must
 *   wait until the Lease misses a renewal, up to 10 s after the cut-off.
 * Suspect when any of:
 * - S1 ≥ m observers fail it at L2/L3/L4 within the window;
 * - S2 L > two renew periods (20 s).
 * Transitions:
 * - Healthy → Suspect on S, → Down on D (Suspect is then recorded at the
 *   same instant); Suspect → Down on D, → Healthy when neither S nor D holds.
 * - Down → Recovering when the node is seen alive again: the Lease is fresh
 *   (L ≤ two renew periods: a real kubelet's renewals arrive a little after
 *   each period, so one period would flicker) and no observer fails it (with no observers at all
 *   the Lease alone decides). A Down node with an untrusted Lease stays Down.
 * - Recovering → Down on any S or D (a relapse skips Suspect);
 *   Recovering → Healthy after `stablePeriodMs` of full health: fresh
 *   Lease, probes pass and Ready=True (or no Ready condition).
 * A failed L7 alone (kubelet hung) is not a mesh failure: its Lease stops,
 * and S2/D1 take it from there.
 */
export function evaluateNode(
  previous: NodeDetectionState | undefined,
  input: NodeInput,
  now: number,
  config: DetectionConfig = DEFAULT_DETECTION_CONFIG,
  options: EvaluateOptions = { leaseTrusted: true },
): NodeEvaluation {
  const prev = previous ?? initialNodeState(input.node, now);
  const signals = readSignals(input, now, config, options.leaseTrusted, options.trustedSince);
  const { evidence } = signals;
  const lastGoodProbeAt = maxOrNull(prev.lastGoodProbeAt, signals.latestGood);
  const lastHeartbeatAt =
    options.leaseTrusted && input.lease?.renewTime != null
      ? maxOrNull(prev.lastHeartbeatAt, input.lease.renewTime)
      : prev.lastHeartbeatAt;
  const healthySince = signals.fullyHealthy ? (prev.healthySince ?? now) : null;
  const base: NodeDetectionState = { ...prev, lastGoodProbeAt, lastHeartbeatAt, healthySince };

  let next = base;
  let reason: string | null = null;
  switch (prev.health) {
    case 'Healthy':
      if (signals.downReason !== null) {
        reason = signals.downReason;
        next = {
          ...base,
          health: 'Down',
          since: now,
          failingSince: now,
          suspectAt: now,
          suspectReason: signals.suspectReason ?? signals.downReason,
          downAt: now,
          downReason: signals.downReason,
          recoveringAt: null,
        };
      } else if (signals.suspectReason !== null) {
        reason = signals.suspectReason;
        next = {
          ...base,
          health: 'Suspect',
          since: now,
          failingSince: now,
          suspectAt: now,
          suspectReason: signals.suspectReason,
          downAt: null,
          downReason: null,
          recoveringAt: null,
        };
      }
      break;
    case 'Suspect':
      if (signals.downReason !== null) {
        reason = signals.downReason;
        next = { ...base, health: 'Down', since: now, downAt: now, downReason: signals.downReason };
      } else if (signals.suspectReason === null) {
        reason = 'suspicion cleared: no failing observers and a fresh Lease';
        next = { ...base, health: 'Healthy', since: now, failingSince: null };
      }
      break;
    case 'Down':
      if (signals.downReason === null && signals.aliveAgain) {
        reason = aliveWords(evidence);
        next = { ...base, health: 'Recovering', since: now, recoveringAt: now };
      }
      break;
    case 'Recovering': {
      const relapse = signals.downReason ?? signals.suspectReason;
      if (relapse !== null) {
        reason = `relapse: ${relapse}`;
        next = { ...base, health: 'Down', since: now, downAt: now, downReason: relapse };
      } else if (healthySince !== null && now - healthySince >= config.stablePeriodMs) {
        reason = `healthy for ${seconds(now - healthySince)} (stable period ${seconds(config.stablePeriodMs)})`;
        next = { ...base, health: 'Healthy', since: now, failingSince: null };
      }
      break;
    }
  }

  const transition: Transition | null =
    reason === null
      ? null
      : { node: input.node, from: prev.health, to: next.health, at: now, reason, evidence };
  return {
    state: next,
    transition,
    evidence,
    nextCheckAt: nextCheck(next, input, signals, now, config, options.trustedSince),
  };
}

interface Signals {
  readonly evidence: DetectionEvidence;
  readonly downReason: string | null;
  readonly suspectReason: string | null;
  readonly aliveAgain: boolean;
  readonly fullyHealthy: boolean;
  readonly latestGood: number | null;
  /** Times at which observations leave the window. */
  readonly expiries: readonly number[];
}

function readSignals(
  input: NodeInput,
  now: number,
  config: DetectionConfig,
  leaseTrusted: boolean,
  trustedSince: number | undefined,
): Signals {
  const gracePeriodMs =
    config.gracePeriodMs ??
    (input.lease !== null && input.lease.durationSeconds > 0
      ? input.lease.durationSeconds * 1000
      : DEFAULT_LEASE_DURATION_MS);
  const renewTime = input.lease?.renewTime ?? null;
  const seenFrom = renewTime === null ? null : Math.max(renewTime, trustedSince ?? renewTime);
  const leaseAgeMs = seenFrom === null ? null : Math.max(0, now - seenFrom);
  const age = leaseTrusted ? leaseAgeMs : null;

  // Latest observation per observer within the window.
  const latest = new Map<string, ProbeObservation>();
  let latestGood: number | null = null;
  for (const o of input.observations) {
    if (o.at > now || o.at < now - config.observationWindowMs) continue;
    if (o.healthy) latestGood = maxOrNull(latestGood, o.at);
    const seen = latest.get(o.observer);
    if (seen === undefined || o.at > seen.at || (o.at === seen.at && o.startedAt > seen.startedAt))
      latest.set(o.observer, o);
  }
  const verdicts = [...latest.values()].sort((a, b) => a.observer.localeCompare(b.observer));
  const toVerdict = (o: ProbeObservation): ObserverVerdict => ({
    observer: o.observer,
    at: o.at,
    startedAt: o.startedAt,
    failedLayer: o.failedLayer,
    detail: o.detail,
  });
  const failing = verdicts
    .filter((o) => !o.healthy && o.failedLayer !== null && NODE_LAYERS.includes(o.failedLayer))
    .map(toVerdict);
  const passing = verdicts.filter((o) => o.healthy).map(toVerdict);
  const observers = verdicts.length;
  const quorum = Math.min(config.minFailingObservers, observers);
  const evidence: DetectionEvidence = {
    leaseAgeMs,
    leaseTrusted,
    gracePeriodMs,
    ready: input.ready,
    observers,
    quorum,
    failing,
    passing,
  };

  const meshFailing = quorum > 0 && failing.length >= quorum;
  const leaseStale = age !== null && age > config.renewIntervalMs;
  // While the view was gone, Kubernetes' node lifecycle controller lost sight of the
  // kubelets too, and it marks them Unknown the moment it can write again. Its Ready is
  // no evidence until the kubelets have had one grace period to get a renewal through.
  const resyncing = trustedSince !== undefined && now - trustedSince <= gracePeriodMs;
  const readyBad =
    leaseTrusted && !resyncing && (input.ready === 'Unknown' || input.ready === 'False');
  const hostFailing = failing.filter(
    (o) => o.failedLayer !== null && HOST_LAYERS.includes(o.failedLayer),
  );
  const firstFailStart = Math.min(...hostFailing.map((o) => o.startedAt));
  const contradicted = passing.some((o) => o.startedAt > firstFailStart);
  // D2 too needs the failing side uncontradicted: in a partial partition some observers
  // fail it while others reach it, and a Lease a moment past its renew period (renewals
  // arrive a little after each period) must not turn that into Down (found by the lab's
  // partition test, which opened a false incident 15 s after a 2-of-4 partition).
  const firstAnyFail = Math.min(...failing.map((o) => o.startedAt));
  const reachedSinceFailing = passing.some((o) => o.startedAt > firstAnyFail);
  const hostDead = config.meshDown && hostFailing.length >= Math.max(2, quorum) && !contradicted;

  let downReason: string | null = null;
  if (age !== null && age > gracePeriodMs) {
    downReason = `Lease not renewed for ${seconds(age)} (grace period ${seconds(gracePeriodMs)})`;
  } else if (meshFailing && leaseStale && age !== null && !reachedSinceFailing) {
    downReason = `${meshWords(evidence, failing)} and its Lease is ${seconds(age)} old (renew period ${seconds(config.renewIntervalMs)})`;
  } else if (readyBad && leaseStale && age !== null) {
    downReason = `Ready=${input.ready ?? '?'} and its Lease is ${seconds(age)} old`;
  } else if (hostDead) {
    downReason = `the host answers no one: ${meshWords(evidence, hostFailing)}, and no observer has reached it since`;
  }

  let suspectReason: string | null = null;
  if (meshFailing) suspectReason = meshWords(evidence, failing);
  else if (age !== null && age > config.suspectLeaseAgeMs) {
    suspectReason = `Lease not renewed for ${seconds(age)} (two renew periods: ${seconds(config.suspectLeaseAgeMs)})`;
  }

  // Fresh means not yet suspect: a real kubelet's renewals arrive a little after every
  // renew period (watch latency, jitter), so "within one period" would flicker.
  const leaseFresh = age !== null && age <= config.suspectLeaseAgeMs;
  const probesPass = failing.length === 0 && (passing.length > 0 || observers === 0);
  const aliveAgain = leaseFresh && probesPass;
  const readyOk = input.ready === null || input.ready === 'True';
  const expiries = verdicts.map((o) => o.at + config.observationWindowMs + 1);
  return {
    evidence,
    downReason,
    suspectReason,
    aliveAgain,
    fullyHealthy: aliveAgain && readyOk,
    latestGood,
    expiries,
  };
}

function nextCheck(
  state: NodeDetectionState,
  input: NodeInput,
  signals: Signals,
  now: number,
  config: DetectionConfig,
  trustedSince: number | undefined,
): number {
  const candidates: number[] = [now + config.maxCheckIntervalMs, ...signals.expiries];
  // Ready counts again one grace period after the view became trustworthy (rule D3).
  if (trustedSince !== undefined && signals.evidence.leaseTrusted) {
    candidates.push(trustedSince + signals.evidence.gracePeriodMs + 1);
  }
  // Lease age counts from the renewal or from when the view became trustworthy, whichever is later.
  const renewTime = input.lease?.renewTime ?? null;
  const renew = renewTime === null ? null : Math.max(renewTime, trustedSince ?? renewTime);
  if (renew !== null && signals.evidence.leaseTrusted) {
    for (const threshold of [
      config.renewIntervalMs,
      config.suspectLeaseAgeMs,
      signals.evidence.gracePeriodMs,
    ]) {
      candidates.push(renew + threshold + 1);
    }
  }
  if (state.healthySince !== null && state.health === 'Recovering') {
    candidates.push(state.healthySince + config.stablePeriodMs);
  }
  return Math.min(...candidates.filter((t) => t > now));
}

/**
 * Who could and who could not reach the node in one evaluation — the record
 * of a partial partition: observers failing it (with the layer they failed
 * at) and observers whose latest probe passed.
 */
export function observerSides(evidence: DetectionEvidence): {
  readonly cannotReach: readonly string[];
  readonly reach: readonly string[];
} {
  return {
    cannotReach: evidence.failing.map(
      (o) => `${o.observer} (${o.failedLayer ?? '?'}: ${o.detail})`,
    ),
    reach: evidence.passing.map((o) => o.observer),
  };
}

/** How many transitions went from which health to which, e.g. `{ 'Healthy→Suspect': 4617 }`. */
export function countChanges(transitions: readonly Transition[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const t of transitions) {
    const key = `${t.from}→${t.to}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** A transition as log fields: the states, the reason and both sides of the mesh. */
export function transitionFields(
  t: Transition,
): Record<string, string | number | readonly string[]> {
  return {
    node: t.node,
    from: t.from,
    to: t.to,
    reason: t.reason,
    observers: t.evidence.observers,
    ...observerSides(t.evidence),
  };
}

function meshWords(evidence: DetectionEvidence, failing: readonly ObserverVerdict[]): string {
  const layers = [...new Set(failing.map((o) => o.failedLayer))].sort().join('/');
  const example = failing[0];
  const detail = example === undefined ? '' : ` (${example.observer}: ${example.detail})`;
  return `${failing.length} of ${evidence.observers} observers fail it at ${layers}${detail}`;
}

function aliveWords(evidence: DetectionEvidence): string {
  const lease =
    evidence.leaseAgeMs === null
      ? 'Lease fresh'
      : `Lease renewed ${seconds(evidence.leaseAgeMs)} ago`;
  const probes =
    evidence.observers === 0
      ? 'no probes to contradict it'
      : `${evidence.passing.length} of ${evidence.observers} observers reach it`;
  return `seen alive again: ${lease}, ${probes}`;
}

/** `12 s`, `1.5 s`: tenths of a second, without a trailing `.0`. */
export function seconds(ms: number): string {
  const s = Math.round(ms / 100) / 10;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** The Ready condition's status from a node snapshot; null when it has none. */
export function readyStatus(node: NodeSnapshot | undefined): ConditionStatus | null {
  return node?.conditions.find((c) => c.type === 'Ready')?.status ?? null;
}

/** A Lease snapshot as detection evidence (ISO times → epoch ms). */
export function leaseEvidence(lease: LeaseSnapshot | undefined): LeaseEvidence | null {
  if (lease === undefined) return null;
  const parsed = lease.renewTime === null ? Number.NaN : Date.parse(lease.renewTime);
  return {
    renewTime: Number.isFinite(parsed) ? parsed : null,
    durationSeconds: lease.leaseDurationSeconds,
  };
}

/** A probe result as an observation by `observer`. */
export function observationFromProbe(observer: string, result: ProbeResult): ProbeObservation {
  const startedAt = Date.parse(result.startedAt);
  return {
    observer,
    startedAt,
    at: startedAt + result.durationMs,
    healthy: result.verdict.healthy,
    failedLayer: result.verdict.failedLayer,
    detail: result.verdict.summary,
  };
}
