import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeWardenError } from '../core/errors.ts';
import { DcgmExporterSampler, NvidiaSmiSampler, type GpuSampleResult } from './gpu-sampler.ts';
import { GpuSimulator, SEED_MIG_NODE_GPUS } from './gpu-sim.ts';

/** A real program standing in for nvidia-smi; NW_FAKE_SMI_MODE picks the machine (see the script). */
const FAKE_SMI = fileURLToPath(
  new URL('../../test/fixtures/gpu/fake-nvidia-smi.sh', import.meta.url),
);

const smi = (mode: string, timeoutMs = 5_000) =>
  new NvidiaSmiSampler({ command: FAKE_SMI, timeoutMs, env: { NW_FAKE_SMI_MODE: mode } });

function ok(result: GpuSampleResult) {
  if (!result.ok) throw new Error(`expected a sample, got ${result.failure}: ${result.detail}`);
  return result;
}

describe('NvidiaSmiSampler', () => {
  it('samples the seed MIG node: GPU memory and the seven GPU instances', async () => {
    const result = ok(await smi('a100-mig').sample());
    expect(result.source).toBe('nvidia-smi');
    expect(Date.parse(result.at)).toBeLessThanOrEqual(Date.now());
    expect(result.snapshot.gpus[0]).toMatchObject({ migEnabled: true, utilizationPercent: null });
    expect(result.snapshot.instances.map((i) => i.gpuInstanceId)).toEqual([
      7, 8, 9, 10, 11, 12, 13,
    ]);
    expect(result.snapshot.errors).toEqual([]);
  });

  it('samples a machine with MIG off (mig -lgi exits non-zero with "No MIG-enabled devices found.")', async () => {
    const result = ok(await smi('h100').sample());
    expect(result.snapshot.gpus).toHaveLength(2);
    expect(result.snapshot.instances).toEqual([]);
    expect(result.snapshot.errors).toEqual([]);
  });

  it('reports a hung nvidia-smi as a timeout, the sign of a wedged GPU, within the time limit', async () => {
    const started = Date.now();
    const result = await smi('hang', 300).sample();
    expect(result).toMatchObject({ ok: false, failure: 'timeout' });
    expect(!result.ok && result.detail).toMatch(/did not answer within 300 ms .*wedged/);
    expect(result.durationMs).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('keeps the GPU rows when only mig -lgi hangs, and says so', async () => {
    const result = ok(await smi('mig-hang', 300).sample());
    expect(result.snapshot.gpus).toHaveLength(2);
    expect(result.snapshot.errors).toEqual([
      expect.stringMatching(/mig -lgi did not answer within 300 ms/),
    ]);
  });

  it('reports a lost GPU but keeps the healthy ones', async () => {
    const result = ok(await smi('lost').sample());
    expect(result.snapshot.gpus.map((g) => g.index)).toEqual([0]);
    expect(result.snapshot.errors[0]).toMatch(/GPU is lost/);
  });

  it('falls back to a query without memory.reserved on an old driver, and remembers it', async () => {
    const sampler = smi('old-driver');
    for (let i = 0; i < 2; i += 1) {
      const result = ok(await sampler.sample());
      expect(result.snapshot.gpus[0]!.memory).toMatchObject({
        usedMiB: 61234,
        totalMiB: 81251,
        reservedMiB: null,
      });
      expect(result.snapshot.missing).toEqual([]);
    }
  });

  it('fails with the driver’s words when the driver is not loaded', async () => {
    const result = await smi('no-driver').sample();
    expect(result).toMatchObject({ ok: false, failure: 'failed' });
    expect(!result.ok && result.detail).toMatch(/exited 9 with no GPU rows: NVIDIA-SMI has failed/);
  });

  it('says nvidia-smi is missing rather than throwing', async () => {
    const result = await new NvidiaSmiSampler({
      command: 'nvidia-smi-not-installed-here',
    }).sample();
    expect(result).toMatchObject({ ok: false, failure: 'missing-tool' });
  });

  it('rejects a nonsense timeout', () => {
    expect(() => new NvidiaSmiSampler({ timeoutMs: 0 })).toThrow(NodeWardenError);
  });
});

describe('DcgmExporterSampler', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(cleanup.splice(0).map((f) => f()));
  });

  async function simulator() {
    const sim = new GpuSimulator({ gpus: SEED_MIG_NODE_GPUS, hostname: 'seed-mig', port: 0 });
    const { url } = await sim.start();
    cleanup.push(() => sim.stop());
    return { sim, url };
  }

  it('scrapes the simulator on loopback', async () => {
    const { sim, url } = await simulator();
    sim.device(0, 7).set(45.5);
    const result = ok(await new DcgmExporterSampler({ url }).sample());
    expect(result.source).toBe('dcgm');
    expect(result.snapshot.instances[0]!.memory.usedPercent).toBeCloseTo(45.5, 1);
  });

  it('reports a hung exporter as a timeout', async () => {
    const { sim, url } = await simulator();
    sim.hang(true);
    const result = await new DcgmExporterSampler({ url, timeoutMs: 200 }).sample();
    expect(result).toMatchObject({ ok: false, failure: 'timeout' });
    expect(result.durationMs).toBeGreaterThanOrEqual(190);
    expect(result.durationMs).toBeLessThan(2_000);
  });

  it('reports a closed port as unreachable', async () => {
    const { sim, url } = await simulator();
    await sim.stop();
    const result = await new DcgmExporterSampler({ url }).sample();
    expect(result).toMatchObject({ ok: false, failure: 'unreachable' });
    expect(!result.ok && result.detail).toContain('ECONNREFUSED');
  });

  it('reports HTTP errors, pages without DCGM fields, and oversized pages', async () => {
    const server: Server = createServer((req, res) => {
      if (req.url === '/500') res.writeHead(500).end('boom');
      else if (req.url === '/empty') res.writeHead(200).end('# nothing here\ngo_goroutines 12\n');
      else res.writeHead(200).end('x'.repeat(10_000));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => server.close(() => r())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await new DcgmExporterSampler({ url: `${base}/500` }).sample()).toMatchObject({
      failure: 'failed',
    });
    expect(await new DcgmExporterSampler({ url: `${base}/empty` }).sample()).toMatchObject({
      failure: 'bad-output',
    });
    const big = await new DcgmExporterSampler({ url: `${base}/big`, maxBytes: 1_000 }).sample();
    expect(big).toMatchObject({ failure: 'bad-output' });
    expect(!big.ok && big.detail).toMatch(/more than 1000 bytes/);
  });

  it('rejects a URL that is not http(s) with BAD_INPUT', () => {
    expect(() => new DcgmExporterSampler({ url: 'not a url' })).toThrow(/is not a URL/);
    expect(() => new DcgmExporterSampler({ url: 'file:///etc/passwd' })).toThrow(/not http/);
  });
});
