import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { parseDcgmMetrics } from './dcgm.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  followControlFile,
  GpuSimulator,
  H100_NODE_GPUS,
  parseGpuSimArgs,
  SEED_MIG_NODE_GPUS,
} from './gpu-sim.ts';

const running: GpuSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

async function start(sim: GpuSimulator): Promise<string> {
  running.push(sim);
  return (await sim.start()).url;
}

async function scrape(url: string) {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  return parseDcgmMetrics(await res.text());
}

const H100 = {
  index: 0,
  uuid: 'GPU-9b1d6c2e-74a0-5f3b-e2c8-1a4f0d7b3e91',
  model: 'NVIDIA H100 80GB HBM3',
  pciBusId: '00000000:18:00.0',
  totalMiB: 81_559,
  reservedMiB: 553,
};

describe('GpuSimulator', () => {
  it('replays the seed: a MIG instance ramps 0 % → 45.5 %, scraped on loopback with the DCGM parser', async () => {
    const clock = new ManualClock('2025-08-25T03:57:00.000Z');
    const sim = new GpuSimulator({
      gpus: SEED_MIG_NODE_GPUS,
      hostname: 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq',
      port: 0,
      clock,
    });
    const url = await start(sim);
    sim.device(0, 7).ramp(0, 45.5, 60_000);

    const before = await scrape(url);
    expect(before.hostname).toBe('tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq');
    expect(before.instances).toHaveLength(7);
    expect(before.instances[0]).toMatchObject({
      gpuInstanceId: 7,
      profile: '1g.10gb',
      memory: { usedMiB: 0 },
    });
    expect(before.gpus[0]).toMatchObject({ migEnabled: true, memoryFromInstances: true });

    clock.advance(30_000);
    const halfway = await scrape(url);
    expect(halfway.instances[0]!.memory.usedPercent).toBeCloseTo(22.75, 1);

    clock.advance(60_000);
    const after = await scrape(url);
    const gi7 = after.instances[0]!;
    expect(gi7.memory.totalMiB).toBe(9_984);
    expect(gi7.memory.usedMiB).toBe(4_543);
    expect(gi7.memory.usedPercent).toBeCloseTo(45.5, 1);
    // The other six instances stay idle.
    expect(after.instances.slice(1).every((i) => i.memory.usedMiB === 0)).toBe(true);
    expect(sim.scrapeCount()).toBe(3);
  });

  it('serves a non-MIG GPU with reserved memory, utilisation and an Xid', async () => {
    const sim = new GpuSimulator({ gpus: [H100], hostname: 'gpu-h100-node-01', port: 0 });
    const url = await start(sim);
    sim.device(0).set(75);
    sim.device(0).utilizationPercent(97);
    sim.device(0).xid(79);
    const snap = await scrape(url);
    expect(snap.gpus[0]).toMatchObject({
      model: 'NVIDIA H100 80GB HBM3',
      migEnabled: false,
      lastXid: 79,
      utilizationPercent: 97,
      memory: { reservedMiB: 553, totalMiB: 81_559 },
    });
    expect(snap.gpus[0]!.memory.usedPercent).toBeCloseTo(75, 2);
  });

  it('publishes DCGM sentinels that the parser turns into null', async () => {
    const sim = new GpuSimulator({ gpus: [H100], hostname: 'h', port: 0 });
    const url = await start(sim);
    sim.device(0).blank('FB_USED', 'not-supported');
    sim.device(0).blank('FB_RESERVED', 'blank');
    sim.device(0).blank('GPU_UTIL', 'not-permissioned');
    const text = await (await fetch(url)).text();
    expect(text).toContain('} 9223372036854775794\n');
    expect(text).toContain('} 140737488355328\n');
    expect(text).toContain('} 2147483635\n');
    const snap = parseDcgmMetrics(text);
    expect(snap.gpus[0]).toMatchObject({
      utilizationPercent: null,
      memory: { usedMiB: null, usedPercent: null },
    });
    expect(snap.missing.map((m) => m.reason).sort()).toEqual([
      'blank',
      'not-permissioned',
      'not-supported',
    ]);
  });

  it('is driven over HTTP, rejects bad control input, and 404s unknown paths', async () => {
    const sim = new GpuSimulator({ gpus: SEED_MIG_NODE_GPUS, hostname: 'h', port: 0 });
    const url = await start(sim);
    const base = url.replace('/metrics', '');
    expect(
      (await fetch(`${base}/sim/set?gpu=0&gi=7&percent=45.5`, { method: 'POST' })).status,
    ).toBe(204);
    expect((await fetch(`${base}/sim/xid?gpu=0&gi=9&code=31`, { method: 'POST' })).status).toBe(
      204,
    );
    const snap = await scrape(url);
    expect(snap.instances[0]!.memory.usedPercent).toBeCloseTo(45.5, 1);
    expect(snap.instances[2]).toMatchObject({ gpuInstanceId: 9, lastXid: 31 });

    const bad = await fetch(`${base}/sim/set?gpu=0&gi=7&percent=145`, { method: 'POST' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/percent must be a percentage/);
    expect((await fetch(`${base}/sim/set?gpu=0&percent=10`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('hangs like a wedged exporter until told otherwise', async () => {
    const sim = new GpuSimulator({ gpus: [H100], hostname: 'h', port: 0 });
    const url = await start(sim);
    sim.hang(true);
    const hung = await fetch(url, { signal: AbortSignal.timeout(200) }).then(
      () => 'answered',
      (e: Error) => e.name,
    );
    expect(hung).toBe('TimeoutError');
    sim.hang(false);
    expect((await fetch(url)).status).toBe(200);
  });

  it('refuses a port in use and duplicate GPU indexes', async () => {
    const first = new GpuSimulator({ gpus: [H100], hostname: 'h', port: 0 });
    const { port } = await (running.push(first), first.start());
    const second = new GpuSimulator({ gpus: [H100], hostname: 'h', port });
    await expect(second.start()).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(() => new GpuSimulator({ gpus: [H100, H100], hostname: 'h' })).toThrow(/appears twice/);
    expect(() => first.device(0, 3)).toThrow(/no MIG instance GI 3 on GPU 0/);
  });
});

describe('parseGpuSimArgs', () => {
  it('reads a preset, the hostname label, address and pid file', () => {
    const options = parseGpuSimArgs([
      '--preset',
      'h100',
      '--hostname',
      'gpu-h100-node-01',
      '--host',
      '10.62.0.30',
      '--port',
      '9400',
      '--pid-file',
      '/run/nw/gpu-sim.pid',
    ]);
    expect(options).toMatchObject({
      hostname: 'gpu-h100-node-01',
      host: '10.62.0.30',
      port: 9400,
      pidFile: '/run/nw/gpu-sim.pid',
    });
    expect(options.gpus).toBe(H100_NODE_GPUS);
    expect(parseGpuSimArgs(['--hostname', 'n'])).toMatchObject({
      host: '127.0.0.1',
      port: 9400,
      pidFile: null,
      controlFile: null,
    });
    expect(parseGpuSimArgs(['--hostname', 'n']).gpus).toBe(SEED_MIG_NODE_GPUS);
  });

  it('rejects bad arguments with BAD_INPUT naming them', () => {
    expect(() => parseGpuSimArgs(['--hostname', 'n', '--preset', 'b200'])).toThrow(
      /--preset b200 is not a preset/,
    );
    expect(() => parseGpuSimArgs([])).toThrow(/--hostname is required/);
    expect(() => parseGpuSimArgs(['--hostname', 'n', '--port', '70000'])).toThrow(/--port 70000/);
    expect(() => parseGpuSimArgs(['--bogus'])).toThrow(/Unknown option '--bogus'/);
  });
});

describe('the simulator following a control file', () => {
  it('applies the file before each scrape, goes idle without one, and keeps the last good script when it breaks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodewarden-gpu-control-'));
    const file = join(dir, 'bkqzq.json');
    const clock = new ManualClock('2025-08-25T03:57:00.000Z');
    const reports: string[] = [];
    const sim = new GpuSimulator({
      gpus: SEED_MIG_NODE_GPUS,
      hostname: 'bkqzq',
      port: 0,
      clock,
      beforeScrape: followControlFile(file, (line) => reports.push(line)),
    });
    try {
      const url = await start(sim);
      expect((await scrape(url)).instances.map((i) => i.memory.usedMiB)).toEqual([
        0, 0, 0, 0, 0, 0, 0,
      ]);

      const ramp = {
        version: 1,
        devices: {
          '0/9': { memory: { from: 0, to: 45.5, startMs: clock.now(), overMs: 60_000 }, xid: 79 },
        },
        hang: false,
      };
      await writeFile(file, JSON.stringify(ramp));
      clock.advance(30_000);
      const halfway = await scrape(url);
      const gi9 = halfway.instances.find((i) => i.gpuInstanceId === 9)!;
      expect(gi9.memory.usedPercent).toBeCloseTo(22.75, 1);
      expect(gi9.lastXid).toBe(79);
      expect(halfway.instances.find((i) => i.gpuInstanceId === 7)!.memory.usedMiB).toBe(0);

      await writeFile(
        file,
        '{"version":1,"devices":{"0/99":{"memory":{"from":0,"to":1,"startMs":0,"overMs":0}}}}',
      );
      clock.advance(60_000);
      const after = await scrape(url);
      expect(after.instances.find((i) => i.gpuInstanceId === 9)!.memory.usedPercent).toBeCloseTo(
        45.5,
        1,
      );
      expect(reports.join('\n')).toMatch(/no device 0\/99.*keeping the previous script/);

      await writeFile(file, '{"version":1,"devi');
      expect(
        (await scrape(url)).instances.find((i) => i.gpuInstanceId === 9)!.memory.usedPercent,
      ).toBeCloseTo(45.5, 1);
      expect(reports.at(-1)).toMatch(/bkqzq\.json.*keeping the previous script/);

      await rm(file);
      expect((await scrape(url)).instances.every((i) => i.memory.usedMiB === 0)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
