import { describe, expect, it } from 'vitest';
import { EMPTY_GPU_CONTROL } from '../gpu/gpu-control.ts';
import {
  applyGpuAction,
  gpuSimRecord,
  pickDevice,
  presetDevices,
  scriptedMaxPercent,
} from './lab-gpu.ts';

describe('lab gpu', () => {
  it('gives the MIG node the seed preset and workers nothing', () => {
    const mig = gpuSimRecord('/lab', {
      name: 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq',
      role: 'mig',
    });
    expect(mig).toMatchObject({
      preset: 'seed-mig',
      port: 9400,
      pid: null,
      controlFile: '/lab/gpu/bkqzq.json',
      pidFile: '/lab/run/gpu-sim-bkqzq.pid',
    });
    expect(
      gpuSimRecord('/lab', { name: 'tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7', role: 'worker' }),
    ).toBeNull();
  });

  it('picks the first device by default, a named GPU instance, or refuses one the preset lacks', () => {
    expect(presetDevices('seed-mig')).toEqual([
      '0/7',
      '0/8',
      '0/9',
      '0/10',
      '0/11',
      '0/12',
      '0/13',
    ]);
    expect(pickDevice('seed-mig', null, null)).toBe('0/7');
    expect(pickDevice('seed-mig', 0, 9)).toBe('0/9');
    expect(pickDevice('seed-mig', 0, null)).toBe('0/7');
    expect(pickDevice('h100', 1, null)).toBe('1');
    expect(() => pickDevice('seed-mig', 0, 3)).toThrow(/no device 0\/3.*|devices/);
    expect(() => pickDevice('h100', 2, null)).toThrow(/no device 2/);
  });

  it('scripts ramps, set, Xid and hang on top of what is there', () => {
    let control = applyGpuAction(
      EMPTY_GPU_CONTROL,
      '0/7',
      { kind: 'ramp', from: 0, to: 45.5, overMs: 60_000 },
      1_000,
    );
    control = applyGpuAction(control, '0/8', { kind: 'set', percent: 10 }, 2_000);
    control = applyGpuAction(control, '0/7', { kind: 'xid', code: 79 }, 3_000);
    control = applyGpuAction(control, '0/7', { kind: 'hang', on: true }, 4_000);
    expect(control.devices['0/7']).toEqual({
      memory: { from: 0, to: 45.5, startMs: 1_000, overMs: 60_000 },
      xid: 79,
    });
    expect(control.devices['0/8']?.memory).toEqual({ from: 10, to: 10, startMs: 2_000, overMs: 0 });
    expect(control.hang).toBe(true);
    expect(scriptedMaxPercent(control, 1_000)).toBe(10);
    expect(scriptedMaxPercent(control, 61_000)).toBe(45.5);
    expect(scriptedMaxPercent(EMPTY_GPU_CONTROL, 0)).toBe(0);
    expect(() => applyGpuAction(control, '0/7', { kind: 'set', percent: 101 }, 0)).toThrow(
      /percentage from 0 to 100/,
    );
    expect(() =>
      applyGpuAction(control, '0/7', { kind: 'ramp', from: 0, to: 5, overMs: -1 }, 0),
    ).toThrow(/--over must be ≥ 0/);
    expect(() => applyGpuAction(control, '0/7', { kind: 'xid', code: -1 }, 0)).toThrow(
      /not an Xid/,
    );
  });
});
