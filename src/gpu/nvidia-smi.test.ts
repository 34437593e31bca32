import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  NVIDIA_SMI_FIELDS,
  nvidiaSmiQueryArgs,
  parseMigGpuInstances,
  parseNvidiaSmiQuery,
  unknownQueryField,
  withMigInstances,
} from './nvidia-smi.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../test/fixtures/gpu/${name}`, import.meta.url), 'utf8');

describe('nvidia-smi query', () => {
  it('asks for the fields the agent needs, in CSV without header or units', () => {
    expect(nvidiaSmiQueryArgs()).toEqual([
      '--query-gpu=index,uuid,name,memory.used,memory.total,memory.reserved,utilization.gpu,driver_version',
      '--format=csv,noheader,nounits',
    ]);
  });

  it('reads an H100 pair', () => {
    const snap = parseNvidiaSmiQuery(fixture('nvidia-smi-query-h100.csv'));
    expect(snap.errors).toEqual([]);
    expect(snap.missing).toEqual([]);
    expect(snap.gpus[0]).toMatchObject({
      index: 0,
      uuid: 'GPU-9b1d6c2e-74a0-5f3b-e2c8-1a4f0d7b3e91',
      model: 'NVIDIA H100 80GB HBM3',
      utilizationPercent: 97,
      driverVersion: '550.90.07',
      memory: { usedMiB: 61234, totalMiB: 81559, reservedMiB: 553, freeMiB: 81559 - 61234 - 553 },
    });
    expect(snap.gpus[0]!.memory.usedPercent).toBeCloseTo(75.08, 2);
    expect(snap.gpus[1]!.memory.usedPercent).toBe(0);
  });

  it('turns [N/A] (utilisation on a MIG GPU) into null with its reason', () => {
    const snap = parseNvidiaSmiQuery(fixture('nvidia-smi-query-a100-mig.csv'));
    expect(snap.gpus[0]).toMatchObject({
      utilizationPercent: null,
      memory: { usedMiB: 4634, totalMiB: 81920 },
    });
    expect(snap.missing).toEqual([
      { entity: 'gpu 0', field: 'utilization.gpu', reason: 'not-available', raw: '[N/A]' },
    ]);
  });

  it('keeps the error line of a lost GPU and still reads the others', () => {
    const snap = parseNvidiaSmiQuery(fixture('nvidia-smi-query-gpu-lost.txt'));
    expect(snap.gpus.map((g) => g.index)).toEqual([0]);
    expect(snap.errors).toEqual([
      'Unable to determine the device handle for GPU0000:2A:00.0: GPU is lost.  Reboot the system to recover this GPU',
    ]);
  });

  it('reads bracketed failures of single cells', () => {
    const snap = parseNvidiaSmiQuery(
      '0, GPU-x, NVIDIA A100-SXM4-80GB, [Unknown Error], 81920, [Not Supported], [Insufficient Permissions], 550.90.07\n',
    );
    expect(snap.gpus[0]!.memory).toMatchObject({
      usedMiB: null,
      usedPercent: null,
      reservedMiB: null,
      totalMiB: 81920,
    });
    expect(snap.missing.map((m) => `${m.field}:${m.reason}`)).toEqual([
      'memory.used:error',
      'memory.reserved:not-supported',
      'utilization.gpu:not-permissioned',
    ]);
  });

  it('reads a driver without memory.reserved when asked without it', () => {
    expect(unknownQueryField(fixture('nvidia-smi-query-old-driver.txt'))).toBe('memory.reserved');
    const fields = NVIDIA_SMI_FIELDS.filter((f) => f !== 'memory.reserved');
    const snap = parseNvidiaSmiQuery(fixture('nvidia-smi-query-no-reserved.csv'), fields);
    expect(snap.gpus[0]!.memory).toMatchObject({
      usedMiB: 61234,
      totalMiB: 81251,
      reservedMiB: null,
      freeMiB: 20017,
    });
  });

  it('has no rows when the driver is not loaded', () => {
    const snap = parseNvidiaSmiQuery(fixture('nvidia-smi-no-driver.txt'));
    expect(snap.gpus).toEqual([]);
    expect(snap.errors[0]).toMatch(/couldn't communicate with the NVIDIA driver/);
  });
});

describe('nvidia-smi mig -lgi', () => {
  it('lists the seed node’s seven 1g.10gb GPU instances', () => {
    const list = parseMigGpuInstances(fixture('nvidia-smi-mig-lgi-a100.txt'));
    expect(list.map((i) => i.gpuInstanceId)).toEqual([7, 8, 9, 10, 11, 12, 13]);
    expect(list[0]).toEqual({
      gpu: 0,
      profile: '1g.10gb',
      profileId: 19,
      gpuInstanceId: 7,
      placement: '0:1',
    });
    expect(list[6]!.placement).toBe('6:1');
  });

  it('is empty when MIG is off', () => {
    expect(parseMigGpuInstances(fixture('nvidia-smi-mig-lgi-none.txt'))).toEqual([]);
  });

  it('attaches instances to their GPU', () => {
    const snap = withMigInstances(
      parseNvidiaSmiQuery(fixture('nvidia-smi-query-a100-mig.csv')),
      parseMigGpuInstances(fixture('nvidia-smi-mig-lgi-a100.txt')),
    );
    expect(snap.gpus[0]!.migEnabled).toBe(true);
    expect(snap.instances).toHaveLength(7);
    expect(snap.instances[0]).toMatchObject({
      gpuUuid: 'GPU-5e2f8b1c-3a7d-4e9b-8c21-6f0a9d3b7e45',
      profileId: 19,
      memory: { usedMiB: null, usedPercent: null },
    });
  });
});

describe('the fixture folder', () => {
  it('explains every fixture in its README, and names no file that is missing', () => {
    const dir = new URL('../../test/fixtures/gpu/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f !== 'README.md');
    const named = [...fixture('README.md').matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    expect([...named].sort()).toEqual([...files].sort());
  });
});
