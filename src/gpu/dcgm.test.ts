import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DCGM_INT32_BLANK, dcgmSentinel, parseDcgmMetrics } from './dcgm.ts';
import type { GpuSnapshot } from './gpu-sample.ts';
import { parsePrometheusText } from './prometheus-text.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../test/fixtures/gpu/${name}`, import.meta.url), 'utf8');

/** Every number anywhere in a snapshot, to prove no sentinel leaked through as a value. */
function numbersIn(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.flatMap(numbersIn);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(numbersIn);
  return [];
}

describe('dcgmSentinel', () => {
  it('knows the three families and their four offsets (dcgm_structs.h)', () => {
    expect(dcgmSentinel('2147483632')).toBe('blank');
    expect(dcgmSentinel('2147483633')).toBe('not-found');
    expect(dcgmSentinel('2147483634')).toBe('not-supported');
    expect(dcgmSentinel('2147483635')).toBe('not-permissioned');
    expect(dcgmSentinel('9223372036854775792')).toBe('blank');
    expect(dcgmSentinel('9223372036854775793')).toBe('not-found');
    expect(dcgmSentinel('9223372036854775794')).toBe('not-supported');
    expect(dcgmSentinel('9223372036854775795')).toBe('not-permissioned');
    expect(dcgmSentinel('140737488355328')).toBe('blank');
    expect(dcgmSentinel('1.40737488355329e+14')).toBe('not-found');
    expect(dcgmSentinel('140737488355330.000000')).toBe('not-supported');
    expect(dcgmSentinel('140737488355331')).toBe('not-permissioned');
    // An int64 sentinel printed as a float has lost its offset.
    expect(dcgmSentinel('9.223372036854776e+18')).toBe('blank');
  });

  it('passes real values through', () => {
    for (const raw of ['0', '45', '81920', '2147483631', '0.912346', '79', '-1']) {
      expect(dcgmSentinel(raw)).toBeNull();
    }
  });
});

describe('parseDcgmMetrics', () => {
  it('reads the seed MIG node: seven 1g.10gb instances, GI 7 at 45.5 %, the GPU summed from them', () => {
    const snap = parseDcgmMetrics(fixture('dcgm-a100-mig.prom'));
    expect(snap.source).toBe('dcgm');
    expect(snap.hostname).toBe('tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq');
    expect(snap.errors).toEqual([]);
    expect(snap.missing).toEqual([]);
    expect(snap.instances.map((i) => i.gpuInstanceId)).toEqual([7, 8, 9, 10, 11, 12, 13]);
    const gi7 = snap.instances[0]!;
    expect(gi7).toMatchObject({
      gpu: 0,
      gpuUuid: 'GPU-5e2f8b1c-3a7d-4e9b-8c21-6f0a9d3b7e45',
      profile: '1g.10gb',
      lastXid: 0,
      memory: { usedMiB: 4543, freeMiB: 5441, totalMiB: 9984, reservedMiB: null },
    });
    expect(gi7.memory.usedPercent).toBeCloseTo(45.5, 1);
    expect(snap.instances[1]!.memory.usedPercent).toBeCloseTo(0.13, 2);
    expect(snap.gpus).toHaveLength(1);
    expect(snap.gpus[0]).toMatchObject({
      index: 0,
      model: 'NVIDIA A100-SXM4-80GB',
      device: 'nvidia0',
      pciBusId: '00000000:3B:00.0',
      driverVersion: '550.90.07',
      migEnabled: true,
      memoryFromInstances: true,
      utilizationPercent: null,
      lastXid: null,
      memory: { usedMiB: 4543 + 6 * 13, totalMiB: 7 * 9984 },
    });
  });

  it('reads two H100s with reserved memory, utilisation and the last Xid', () => {
    const snap = parseDcgmMetrics(fixture('dcgm-h100.prom'));
    expect(snap.instances).toEqual([]);
    expect(snap.gpus.map((g) => g.index)).toEqual([0, 1]);
    expect(snap.gpus[0]).toMatchObject({
      model: 'NVIDIA H100 80GB HBM3',
      migEnabled: false,
      memoryFromInstances: false,
      utilizationPercent: 97,
      lastXid: 0,
      memory: { usedMiB: 61234, freeMiB: 19772, reservedMiB: 553, totalMiB: 81559 },
    });
    expect(snap.gpus[0]!.memory.usedPercent).toBeCloseTo(75.08, 2);
    expect(snap.gpus[1]).toMatchObject({
      lastXid: 79,
      utilizationPercent: 0,
      memory: { usedPercent: 0 },
    });
  });

  it('turns every DCGM sentinel into null with its reason, never into a number', () => {
    const snap: GpuSnapshot = parseDcgmMetrics(fixture('dcgm-blank-sentinels.prom'));
    const reasons = snap.missing.map(
      (m) => `${m.entity} ${m.field.replace('DCGM_FI_DEV_', '')} ${m.reason}`,
    );
    expect(reasons).toEqual([
      'gpu 0 FB_USED blank',
      'gpu 1 FB_USED not-supported',
      'gpu 2 FB_USED blank',
      'gpu 3 FB_USED not-permissioned',
      'gpu 1 FB_FREE not-found',
      'gpu 2 FB_FREE blank',
      'gpu 3 FB_FREE not-a-number',
      'gpu 0 XID_ERRORS blank',
      'gpu 1 XID_ERRORS not-found',
      'gpu 2 XID_ERRORS not-supported',
    ]);
    expect(snap.missing[1]!.raw).toBe('9223372036854775794');
    for (const gpu of snap.gpus) {
      expect(gpu.memory.usedMiB).toBeNull();
      expect(gpu.memory.usedPercent).toBeNull();
    }
    expect(snap.gpus[0]!.memory.freeMiB).toBe(81228);
    expect(snap.gpus[3]!.lastXid).toBe(48);
    expect(Math.max(...numbersIn(snap))).toBeLessThan(DCGM_INT32_BLANK);
  });

  it('keeps the first value when pod mapping repeats a GPU row, and reports rows without a gpu label', () => {
    const text = [
      'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-a",pod="a"} 100',
      'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-a",pod="b"} 100',
      'DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-a"} 900',
      'DCGM_FI_DEV_FB_USED{UUID="GPU-b"} 5',
      'this is not a sample',
    ].join('\n');
    const snap = parseDcgmMetrics(text);
    expect(snap.gpus).toHaveLength(1);
    expect(snap.gpus[0]!.memory).toMatchObject({ usedMiB: 100, totalMiB: 1000, usedPercent: 10 });
    expect(snap.errors).toEqual([
      'line 5 is not a Prometheus sample',
      'DCGM_FI_DEV_FB_USED without a gpu label',
    ]);
  });
});

describe('parsePrometheusText', () => {
  it('reads labels with escapes, special values and timestamps, and counts bad lines', () => {
    const { samples, invalidLines } = parsePrometheusText(
      [
        '# HELP x help',
        'x{a="1",b="q\\"uote\\\\ and \\n"} 1.5e3 1700000000000',
        'y NaN',
        'z{} +Inf',
        'broken{a="1"',
        'w{a="1"} notanumber',
        '',
      ].join('\n'),
    );
    expect(samples.map((s) => s.name)).toEqual(['x', 'y', 'z']);
    expect(samples[0]).toMatchObject({
      labels: { a: '1', b: 'q"uote\\ and \n' },
      value: 1500,
      raw: '1.5e3',
      timestampMs: 1_700_000_000_000,
    });
    expect(Number.isNaN(samples[1]!.value)).toBe(true);
    expect(samples[2]!.value).toBe(Number.POSITIVE_INFINITY);
    expect(invalidLines).toEqual([5, 6]);
  });
});
