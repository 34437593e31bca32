/**
 * Network stability under GPU load: the load plan of a stability test, when
 * to stop the load early, and the verdict over the probes and GPU samples of
 * a run. Pure: `nodewarden stability-test` runs the Job, the probes and the
 * GPU sampler and hands their records in.
 */
import { badInput } from './errors.ts';
import type { Layer } from './probe.ts';

export type StabilityProfile = 'ramp' | 'steps' | 'spike';
export const STABILITY_PROFILES: readonly StabilityProfile[] = ['ramp', 'steps', 'spike'];

/** The layers probed during a test (L2 needs the same segment; it is probed when it can be). */
export const STABILITY_LAYERS: readonly Layer[] = ['L2', 'L3', 'L4', 'L7'];

/** One window of the test: GPU memory goes from `fromPercent` to `toPercent` between its offsets. */
export interface LoadStep {
  /** 0 is the baseline before any load; 1… the load steps. */
  readonly index: number;
  /** Milliseconds after the test started. */
  readonly startMs: number;
  readonly endMs: number;
  readonly fromPercent: number;
  readonly toPercent: number;
}

export interface LoadPlanInput {
  readonly profile: StabilityProfile;
  /** Target GPU memory use in percent of the device (the seed's 45.5). */
  readonly toPercent: number;
  /** Length of the load after the baseline. */
  readonly durationMs: number;
  /** Quiet window before the load, to measure the network unloaded. */
  readonly baselineMs: number;
  /** Load steps for `ramp` and `steps` (default 5); `spike` always has one. */
  readonly steps?: number;
}

/**
 * The windows of a test, baseline first. Rules:
 * - ramp: `steps` equal windows, memory rising linearly from 0 to the target
 *   across all of them (each window covers its share of the rise);
 * - steps: `steps` equal windows, each flat at k/steps of the target;
 * - spike: one window, straight to the target and held.
 */
export function loadPlan(input: LoadPlanInput): LoadStep[] {
  const { profile, toPercent, durationMs, baselineMs } = input;
  if (!Number.isFinite(toPercent) || toPercent <= 0 || toPercent > 100) {
    throw badInput(`target ${toPercent}% is not in (0, 100]`, 'pass e.g. --to 45.5%');
  }
  if (!Number.isFinite(durationMs) || durationMs < 1_000) {
    throw badInput(`duration ${durationMs} ms is under 1 s`, 'pass e.g. --duration 10m');
  }
  const n = profile === 'spike' ? 1 : (input.steps ?? 5);
  if (!Number.isInteger(n) || n < 1 || n > 100) {
    throw badInput(`${n} steps is not 1–100`, 'pass e.g. --steps 5');
  }
  const plan: LoadStep[] = [
    { index: 0, startMs: 0, endMs: baselineMs, fromPercent: 0, toPercent: 0 },
  ];
  const width = durationMs / n;
  for (let k = 1; k <= n; k += 1) {
    const startMs = baselineMs + (k - 1) * width;
    const level = (toPercent * k) / n;
    plan.push({
      index: k,
      startMs: Math.round(startMs),
      endMs: Math.round(startMs + width),
      fromPercent: profile === 'ramp' ? (toPercent * (k - 1)) / n : level,
      toPercent: level,
    });
  }
  return plan;
}

/** GPU memory the plan asks for at `offsetMs` after the start. */
export function plannedPercentAt(plan: readonly LoadStep[], offsetMs: number): number {
  const step =
    plan.find((s) => offsetMs >= s.startMs && offsetMs < s.endMs) ?? plan[plan.length - 1];
  if (step === undefined) return 0;
  if (offsetMs >= step.endMs) return step.toPercent;
  const f = (offsetMs - step.startMs) / Math.max(1, step.endMs - step.startMs);
  return step.fromPercent + (step.toPercent - step.fromPercent) * f;
}

/** One probe of one layer. `target` is the node under test or the reference node beside it. */
export interface ProbeRecord {
  readonly atMs: number;
  readonly target: 'node' | 'reference';
  readonly layer: Layer;
  /** false: failed; a skipped layer is not recorded. */
  readonly ok: boolean;
  readonly latencyMs: number | null;
}

export interface GpuRecord {
  readonly atMs: number;
  /** Highest used % over the node's GPUs / MIG instances; null when the read failed. */
  readonly percent: number | null;
}

export interface StabilityThresholds {
  /** Loss above this % in any step fails the test. Default 1. */
  readonly maxLossPct: number;
  /** p99 latency above these ms (per layer) fails the test. */
  readonly maxP99Ms: Readonly<Partial<Record<Layer, number>>>;
  /** This many failures in a row on one layer is "down": the load stops at once. Default 5 (1 s at 5 Hz). */
  readonly downAfter: number;
}

export const DEFAULT_STABILITY_THRESHOLDS: StabilityThresholds = {
  maxLossPct: 1,
  maxP99Ms: { L2: 200, L3: 200, L4: 300, L7: 1_000 },
  downAfter: 5,
};

/**
 * Whether the load must stop now, from the records so far. Rules:
 * - a layer of the node failed `downAfter` times in a row (its newest
 *   records) → stop: the node is failing;
 * - unless the reference node fails the same way: then the vantage point
 *   lost its own network, and stopping the load would hide nothing —
 *   the result says so instead.
 * Returns the reason, or null to go on.
 */
export function abortReason(
  records: readonly ProbeRecord[],
  thresholds: StabilityThresholds,
): string | null {
  const tail = (target: ProbeRecord['target'], layer: Layer) => {
    const mine = records.filter((r) => r.target === target && r.layer === layer);
    let run = 0;
    for (let i = mine.length - 1; i >= 0 && !mine[i]?.ok; i -= 1) run += 1;
    return run;
  };
  for (const layer of STABILITY_LAYERS) {
    const run = tail('node', layer);
    if (run >= thresholds.downAfter && tail('reference', layer) < thresholds.downAfter) {
      return `${layer} down: ${run} probes in a row failed`;
    }
  }
  return null;
}

export interface LayerStats {
  readonly layer: Layer;
  readonly sent: number;
  readonly lost: number;
  readonly lossPct: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Longest run of consecutive failures. */
  readonly longestOutage: number;
}

export interface StepResult {
  readonly step: LoadStep;
  /** GPU memory measured in the window (min–max), null when none was read. */
  readonly gpuMinPercent: number | null;
  readonly gpuMaxPercent: number | null;
  readonly layers: readonly LayerStats[];
  /** Reference node's layers: the vantage point's own health in the same window. */
  readonly reference: readonly LayerStats[];
  /** Why this step fails, empty when it passes. */
  readonly problems: readonly string[];
}

export interface StabilityResult {
  readonly verdict: 'pass' | 'fail' | 'inconclusive';
  readonly summary: string;
  readonly steps: readonly StepResult[];
  /** The first step with a problem (index into the plan), null when none. */
  readonly troubleStep: number | null;
  /** GPU memory at the first failed probe of the node, when trouble began. */
  readonly troubleGpuPercent: number | null;
  /** Set when the load was stopped early, with why. */
  readonly aborted: string | null;
  readonly thresholds: StabilityThresholds;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? null;
}

function stats(records: readonly ProbeRecord[], layer: Layer): LayerStats {
  const mine = records.filter((r) => r.layer === layer);
  const lost = mine.filter((r) => !r.ok).length;
  const latencies = mine
    .filter((r) => r.ok && r.latencyMs !== null)
    .map((r) => r.latencyMs ?? 0)
    .sort((a, b) => a - b);
  let longest = 0;
  let run = 0;
  for (const r of mine) {
    run = r.ok ? 0 : run + 1;
    longest = Math.max(longest, run);
  }
  return {
    layer,
    sent: mine.length,
    lost,
    lossPct: mine.length === 0 ? 0 : (100 * lost) / mine.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    longestOutage: longest,
  };
}

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(1));

/**
 * The verdict of a run. Rules, per step (baseline included), for the node:
 * - loss on a layer above `maxLossPct` is a problem;
 * - p99 latency on a layer above its `maxP99Ms` is a problem;
 * - `downAfter` failures in a row on a layer is a problem ("down").
 * A step where the reference node has the same problem on the same layer
 * does not count against the node: the vantage point was sick. The run
 * passes when no step has a problem, fails at the first step that has one,
 * and is inconclusive when the node was never probed successfully before any
 * load (a baseline that already fails says nothing about GPU load) or when
 * the reference failed so much that nothing can be told.
 */
export function evaluateStability(
  plan: readonly LoadStep[],
  probes: readonly ProbeRecord[],
  gpu: readonly GpuRecord[],
  thresholds: StabilityThresholds = DEFAULT_STABILITY_THRESHOLDS,
  aborted: string | null = null,
): StabilityResult {
  const inStep = <T extends { atMs: number }>(xs: readonly T[], s: LoadStep, last: boolean) =>
    xs.filter((x) => x.atMs >= s.startMs && (x.atMs < s.endMs || last));
  const steps: StepResult[] = plan.map((step, i) => {
    const last = i === plan.length - 1;
    const records = inStep(probes, step, last);
    const node = records.filter((r) => r.target === 'node');
    const ref = records.filter((r) => r.target === 'reference');
    const layers = STABILITY_LAYERS.map((l) => stats(node, l)).filter((s) => s.sent > 0);
    const reference = STABILITY_LAYERS.map((l) => stats(ref, l)).filter((s) => s.sent > 0);
    const g = inStep(gpu, step, last)
      .map((x) => x.percent)
      .filter((p): p is number => p !== null);
    const problems: string[] = [];
    for (const s of layers) {
      const r = reference.find((x) => x.layer === s.layer);
      const refLossy = r !== undefined && r.lossPct > thresholds.maxLossPct;
      const max = thresholds.maxP99Ms[s.layer];
      if (
        s.longestOutage >= thresholds.downAfter &&
        !(r && r.longestOutage >= thresholds.downAfter)
      ) {
        problems.push(`${s.layer} down: ${s.longestOutage} probes in a row failed`);
      } else if (s.lossPct > thresholds.maxLossPct && !refLossy) {
        problems.push(
          `${s.layer} loss ${fmt(s.lossPct)}% > ${fmt(thresholds.maxLossPct)}% (${s.lost}/${s.sent})`,
        );
      }
      if (
        max !== undefined &&
        s.p99Ms !== null &&
        s.p99Ms > max &&
        !(r?.p99Ms != null && r.p99Ms > max)
      ) {
        problems.push(`${s.layer} p99 ${fmt(s.p99Ms)} ms > ${fmt(max)} ms`);
      }
    }
    return {
      step,
      gpuMinPercent: g.length === 0 ? null : Math.min(...g),
      gpuMaxPercent: g.length === 0 ? null : Math.max(...g),
      layers,
      reference,
      problems,
    };
  });
  const trouble = steps.find((s) => s.problems.length > 0) ?? null;
  const firstFailure = trouble
    ? probes.find(
        (p) =>
          p.target === 'node' &&
          !p.ok &&
          p.atMs >= trouble.step.startMs &&
          (p.atMs < trouble.step.endMs || trouble === steps[steps.length - 1]),
      )
    : undefined;
  const gpuAtTrouble =
    firstFailure === undefined
      ? (trouble?.gpuMaxPercent ?? null)
      : ([...gpu].reverse().find((g) => g.atMs <= firstFailure.atMs && g.percent !== null)
          ?.percent ?? null);
  const baseline = steps[0];
  const baselineOk = (baseline?.layers ?? []).some((l) => l.sent > l.lost);
  const nodeProbed = probes.some((p) => p.target === 'node');
  const describeStep = (s: StepResult) =>
    s.step.index === 0
      ? 'the baseline (no load)'
      : `step ${s.step.index} (GPU ${fmt(s.step.fromPercent)}→${fmt(s.step.toPercent)}% planned` +
        (s.gpuMaxPercent === null ? ', not measured)' : `, ${fmt(s.gpuMaxPercent)}% measured)`);
  let verdict: StabilityResult['verdict'];
  let summary: string;
  if (!nodeProbed || !baselineOk) {
    verdict = 'inconclusive';
    summary = !nodeProbed
      ? 'inconclusive: the node was never probed'
      : 'inconclusive: the node did not answer before any load (baseline), so GPU load cannot be blamed';
  } else if (trouble === null) {
    verdict = aborted === null ? 'pass' : 'inconclusive';
    summary =
      aborted === null
        ? `pass: no loss above ${fmt(thresholds.maxLossPct)}%, no p99 over its limit, no layer down, up to ${fmt(Math.max(0, ...steps.map((s) => s.gpuMaxPercent ?? 0)))}% GPU memory`
        : `inconclusive: stopped early (${aborted}) without a failing step`;
  } else if (trouble.step.index === 0) {
    verdict = 'inconclusive';
    summary = `inconclusive: the network was already failing before any load: ${trouble.problems.join('; ')}`;
  } else {
    verdict = 'fail';
    summary = `fail: trouble began at ${describeStep(trouble)}${gpuAtTrouble === null ? '' : `, first failure at ${fmt(gpuAtTrouble)}% GPU memory`}: ${trouble.problems.join('; ')}`;
  }
  return {
    verdict,
    summary,
    steps,
    troubleStep: trouble?.step.index ?? null,
    troubleGpuPercent: trouble === null ? null : gpuAtTrouble,
    aborted,
    thresholds,
  };
}

/** A stored stability test as the API lists it (src/stability/stored.ts), newest first. */
export interface StabilityTestSummary {
  readonly id: string;
  readonly node: string;
  readonly startedAt: string;
  readonly endedAt: string;
  /** `user:<name>` (nodewarden stability-test) or `controller/<pod>` (the schedule). */
  readonly actor: string;
  readonly verdict: string;
  readonly summary: string;
  /** The plan step where trouble began; null when none. */
  readonly troubleStep: number | null;
  readonly troubleGpuPercent: number | null;
  readonly durationMs: number;
}
