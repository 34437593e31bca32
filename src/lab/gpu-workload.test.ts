/**
 * The stand-in's GPU workload on a real control file in a temporary
 * directory: a stability pod becomes the simulator's script step by step,
 * and its load stops when the pod goes. (The loss gate needs nftables in a
 * node namespace: test/lab/stability.test.ts covers it.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.ts';
import { startGpuWorkload, lossGateFile, type GpuWorkload } from './gpu-workload.ts';
import { readGpuControl, scriptedMaxPercent } from './lab-gpu.ts';
import { until } from '../../test/support/until.ts';

let workload: GpuWorkload | null = null;
let dir = '';

afterEach(async () => {
  workload?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the stand-in GPU workload', () => {
  it('plays a stability pod as the simulator script, step by step, and stops it when the pod goes', async () => {
    dir = await mkdtemp(join(tmpdir(), 'nw-gpu-workload-'));
    const controlFile = join(dir, 'bkqzq.json');
    workload = startGpuWorkload({ controlFile, device: '0/7', logger: silentLogger });
    // loadPlan's shape, in milliseconds rather than its 1 s minimum.
    const steps = [
      { index: 0, startMs: 0, endMs: 100, fromPercent: 0, toPercent: 0 },
      { index: 1, startMs: 100, endMs: 300, fromPercent: 25, toPercent: 25 },
      { index: 2, startMs: 300, endMs: 500, fromPercent: 50, toPercent: 50 },
    ];
    const percent = async () =>
      scriptedMaxPercent(await readGpuControl({ controlFile }), Date.now());

    workload.podStarted('uid-1', JSON.stringify({ profile: 'steps', toPercent: 50, steps }));
    await until('the last step (50 %) scripted', 5_000, async () => (await percent()) === 50, 25);
    const control = await readGpuControl({ controlFile });
    expect(Object.keys(control.devices)).toEqual(['0/7']);
    expect(control.devices['0/7']?.memory).toMatchObject({ from: 50, to: 50 });

    workload.podGone('uid-1');
    await until('the load stopped (0 %)', 5_000, async () => (await percent()) === 0, 25);
  });

  it('ignores pods without a readable plan', async () => {
    dir = await mkdtemp(join(tmpdir(), 'nw-gpu-workload-'));
    const controlFile = join(dir, 'bkqzq.json');
    workload = startGpuWorkload({ controlFile, device: '0/7', logger: silentLogger });
    workload.podStarted('uid-2', 'not json');
    workload.podGone('uid-2');
    await new Promise((r) => setTimeout(r, 100));
    expect(await readGpuControl({ controlFile })).toMatchObject({ devices: {} });
    expect(lossGateFile(controlFile)).toBe(join(dir, 'bkqzq.loss-above-gpu.json'));
  });
});
