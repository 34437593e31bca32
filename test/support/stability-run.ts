import { evaluateStability, loadPlan } from '../../src/core/stability.ts';
import type { StabilityRun } from '../../src/stability/run.ts';

/**
 * A finished stability run without running one: a spike plan (10 s
 * baseline, 50 s load) whose node answered at 0 s and 30 s, so it passes —
 * or is inconclusive when `cancelled`. For tests of what is done with runs
 * (scheduling, storing, listing).
 */
export function stabilityRunFixture(
  node: string,
  endedAtMs: number,
  o: { readonly cancelled?: boolean; readonly durationMs?: number } = {},
): StabilityRun {
  const plan = loadPlan({
    profile: 'spike',
    toPercent: 45.5,
    durationMs: 50_000,
    baselineMs: 10_000,
  });
  const probes = [0, 30_000].map((atMs) => ({
    atMs,
    target: 'node' as const,
    layer: 'L3' as const,
    ok: true,
    latencyMs: 1,
  }));
  const result = evaluateStability(plan, probes, [], undefined, o.cancelled ? 'cancelled' : null);
  return {
    node,
    reference: null,
    job: 'default/nw-stability-x',
    startedAt: new Date(endedAtMs - (o.durationMs ?? 60_000)).toISOString(),
    endedAt: new Date(endedAtMs).toISOString(),
    plan,
    probes,
    gpu: [],
    gpuErrors: [],
    result,
    cleanup: 'Job default/nw-stability-x deleted',
  };
}
