import { describe, expect, it } from 'vitest';
import type { Layer } from './probe.ts';
import {
  abortReason,
  DEFAULT_STABILITY_THRESHOLDS,
  evaluateStability,
  loadPlan,
  plannedPercentAt,
  type GpuRecord,
  type LoadStep,
  type ProbeRecord,
} from './stability.ts';

const plan = loadPlan({ profile: 'steps', toPercent: 50, durationMs: 50_000, baselineMs: 10_000 });

/** Probes at 5 Hz on every layer from 0 to `endMs`; `lose(t, target, layer)` decides failures. */
function probes(
  endMs: number,
  lose: (t: number, target: ProbeRecord['target'], layer: Layer) => boolean = () => false,
): ProbeRecord[] {
  const out: ProbeRecord[] = [];
  for (let t = 0; t < endMs; t += 200) {
    for (const target of ['node', 'reference'] as const) {
      for (const layer of ['L3', 'L4', 'L7'] as const) {
        const ok = !lose(t, target, layer);
        out.push({ atMs: t, target, layer, ok, latencyMs: ok ? (layer === 'L7' ? 12 : 1) : null });
      }
    }
  }
  return out;
}

function gpuFollowing(p: readonly LoadStep[], endMs: number): GpuRecord[] {
  const out: GpuRecord[] = [];
  for (let t = 0; t < endMs; t += 1000) out.push({ atMs: t, percent: plannedPercentAt(p, t) });
  return out;
}

describe('loadPlan', () => {
  it('starts with an unloaded baseline, then the profile', () => {
    expect(plan.map((s) => [s.index, s.startMs, s.endMs, s.fromPercent, s.toPercent])).toEqual([
      [0, 0, 10_000, 0, 0],
      [1, 10_000, 20_000, 10, 10],
      [2, 20_000, 30_000, 20, 20],
      [3, 30_000, 40_000, 30, 30],
      [4, 40_000, 50_000, 40, 40],
      [5, 50_000, 60_000, 50, 50],
    ]);
    const ramp = loadPlan({
      profile: 'ramp',
      toPercent: 45.5,
      durationMs: 600_000,
      baselineMs: 30_000,
    });
    expect(ramp[1]).toMatchObject({ fromPercent: 0, toPercent: 9.1 });
    expect(plannedPercentAt(ramp, 30_000 + 300_000)).toBeCloseTo(22.75, 6);
    const spike = loadPlan({
      profile: 'spike',
      toPercent: 45.5,
      durationMs: 60_000,
      baselineMs: 5_000,
    });
    expect(spike.map((s) => s.toPercent)).toEqual([0, 45.5]);
  });

  it('refuses targets and durations that make no sense', () => {
    expect(() =>
      loadPlan({ profile: 'ramp', toPercent: 0, durationMs: 60_000, baselineMs: 0 }),
    ).toThrow('target 0% is not in (0, 100]');
    expect(() =>
      loadPlan({ profile: 'ramp', toPercent: 101, durationMs: 60_000, baselineMs: 0 }),
    ).toThrow();
    expect(() =>
      loadPlan({ profile: 'steps', toPercent: 40, durationMs: 500, baselineMs: 0 }),
    ).toThrow('under 1 s');
  });
});

describe('evaluateStability', () => {
  it('a healthy node passes every step', () => {
    const r = evaluateStability(plan, probes(60_000), gpuFollowing(plan, 60_000));
    expect(r.verdict).toBe('pass');
    expect(r.troubleStep).toBeNull();
    expect(r.summary).toBe(
      'pass: no loss above 1%, no p99 over its limit, no layer down, up to 50% GPU memory',
    );
    expect(r.steps[3]?.layers.find((l) => l.layer === 'L7')).toMatchObject({
      sent: 50,
      lost: 0,
      p99Ms: 12,
    });
  });

  it('30% loss above 40% GPU memory fails at the step that reached 40%, naming the GPU level of the first failure', () => {
    const gpu = gpuFollowing(plan, 60_000);
    const level = (t: number) => plannedPercentAt(plan, t);
    // Deterministic "30 %": every 10 probes of a layer, 3 are lost once the GPU is at 40 % or more.
    const r = evaluateStability(
      plan,
      probes(60_000, (t, target) => target === 'node' && level(t) >= 40 && (t / 200) % 10 < 3),
      gpu,
    );
    expect(r.verdict).toBe('fail');
    expect(r.troubleStep).toBe(4);
    expect(r.troubleGpuPercent).toBe(40);
    expect(r.steps[4]?.problems).toEqual([
      'L3 loss 30% > 1% (15/50)',
      'L4 loss 30% > 1% (15/50)',
      'L7 loss 30% > 1% (15/50)',
    ]);
    expect(r.summary).toMatch(
      /^fail: trouble began at step 4 \(GPU 40→40% planned, 40% measured\), first failure at 40% GPU memory: L3 loss 30%/,
    );
  });

  it('a layer down is a problem even below the loss threshold, and p99 over its limit is one too', () => {
    const down = evaluateStability(
      plan,
      probes(
        60_000,
        (t, target, layer) => target === 'node' && layer === 'L4' && t >= 35_000 && t < 36_200,
      ),
      [],
    );
    expect(down.troubleStep).toBe(3);
    expect(down.steps[3]?.problems).toEqual(['L4 down: 6 probes in a row failed']);
    const slow = evaluateStability(
      plan,
      probes(60_000).map((p) =>
        p.target === 'node' && p.layer === 'L7' && p.atMs >= 50_000
          ? { ...p, latencyMs: 1_500 }
          : p,
      ),
      [],
    );
    expect(slow.verdict).toBe('fail');
    expect(slow.steps[5]?.problems).toEqual(['L7 p99 1500 ms > 1000 ms']);
  });

  it('loss that the reference node shares is the vantage point, not the node', () => {
    const r = evaluateStability(
      plan,
      probes(60_000, (t) => t >= 40_000 && (t / 200) % 10 < 3),
      [],
    );
    expect(r.verdict).toBe('pass');
  });

  it('a baseline that already fails is inconclusive, not a GPU finding', () => {
    const r = evaluateStability(
      plan,
      probes(60_000, (_t, target) => target === 'node'),
      [],
    );
    expect(r.verdict).toBe('inconclusive');
    expect(r.summary).toContain('did not answer before any load');
    expect(evaluateStability(plan, [], []).summary).toBe('inconclusive: the node was never probed');
  });
});

describe('abortReason', () => {
  it('stops at the fifth failure in a row of a layer of the node, not when the reference fails too', () => {
    const fail = (n: number, target: ProbeRecord['target'] = 'node'): ProbeRecord[] =>
      Array.from({ length: n }, (_, i) => ({
        atMs: i * 200,
        target,
        layer: 'L3' as const,
        ok: false,
        latencyMs: null,
      }));
    expect(abortReason(fail(4), DEFAULT_STABILITY_THRESHOLDS)).toBeNull();
    expect(abortReason(fail(5), DEFAULT_STABILITY_THRESHOLDS)).toBe(
      'L3 down: 5 probes in a row failed',
    );
    expect(
      abortReason([...fail(5), ...fail(5, 'reference')], DEFAULT_STABILITY_THRESHOLDS),
    ).toBeNull();
    const recovered = [
      ...fail(5),
      { atMs: 1_200, target: 'node' as const, layer: 'L3' as const, ok: true, latencyMs: 1 },
    ];
    expect(abortReason(recovered, DEFAULT_STABILITY_THRESHOLDS)).toBeNull();
  });
});
