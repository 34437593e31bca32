/**
 * runStabilityTest with real timers over short plans (a few seconds), a
 * scripted prober and an in-memory Job API: the Job is always deleted, the
 * load stops at once when the node fails, a cancel ends the run, and the
 * report renders what happened. Assertions are on behaviour, never on time.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.ts';
import { probeVerdict, type Layer, type LayerResult, type Prober } from '../core/probe.ts';
import { DEFAULT_STABILITY_THRESHOLDS, loadPlan } from '../core/stability.ts';
import { stabilityJob } from './job.ts';
import { stabilityMarkdown, stabilityReportJson, stabilitySvg } from './report.ts';
import { runStabilityTest, type LoadJobs, type StabilityRunInput } from './run.ts';

const NODE = { name: 'gpu-1', ip: '10.62.0.30' };
const REF = { name: 'worker-1', ip: '10.62.0.10' };

class FakeJobs implements LoadJobs {
  readonly log: string[] = [];
  constructor(private readonly failRemove = false) {}
  create(manifest: Record<string, unknown>): Promise<void> {
    this.log.push(`create ${(manifest['metadata'] as { name: string }).name}`);
    return Promise.resolve();
  }
  remove(namespace: string, name: string): Promise<void> {
    this.log.push(`remove ${namespace}/${name}`);
    return this.failRemove
      ? Promise.reject(new Error('API server unreachable'))
      : Promise.resolve();
  }
}

/** Answers every layer; `failing(ip, sinceStartMs)` says when a target stops answering. */
function scriptedProber(failing: (ip: string, ms: number) => boolean): Prober {
  const start = Date.now();
  return {
    probe(target) {
      const down = failing(target.ip, Date.now() - start);
      const layers: LayerResult[] = (['L3', 'L4', 'L7'] as Layer[]).map((layer) => ({
        layer,
        status: down ? 'failed' : 'ok',
        latencyMs: down ? null : 2,
        command: `probe ${layer}`,
        detail: down ? 'timeout' : 'ok',
      }));
      return Promise.resolve({
        target: target.ip,
        port: target.port,
        startedAt: new Date().toISOString(),
        durationMs: 2,
        layers,
        verdict: probeVerdict(layers),
      });
    },
  };
}

function input(durationMs = 2_000): StabilityRunInput {
  const plan = loadPlan({
    profile: 'steps',
    toPercent: 50,
    durationMs,
    baselineMs: 1_000,
    steps: 2,
  });
  const job = stabilityJob({
    name: 'nw-stability-test',
    namespace: 'default',
    node: NODE.name,
    gpu: { resource: 'nvidia.com/mig-1g.10gb', count: 1 },
    image: 'load:1',
    command: ['load'],
    plan: { profile: 'steps', toPercent: 50, steps: plan },
    activeDeadlineSeconds: 60,
  }) as StabilityRunInput['job'];
  return {
    node: NODE,
    reference: REF,
    plan,
    job,
    thresholds: DEFAULT_STABILITY_THRESHOLDS,
    rateHz: 10,
    probeTimeoutMs: 500,
    port: 10250,
    gpuEveryMs: 200,
  };
}

describe('runStabilityTest', () => {
  it('a healthy node passes; the Job is created, then deleted', async () => {
    const jobs = new FakeJobs();
    const lines: string[] = [];
    const run = await runStabilityTest(
      input(),
      {
        jobs,
        prober: scriptedProber(() => false),
        gpu: null,
        logger: silentLogger,
        progress: (l) => lines.push(l),
      },
      new AbortController().signal,
    );
    expect(run.result.verdict).toBe('pass');
    expect(jobs.log).toEqual(['create nw-stability-test', 'remove default/nw-stability-test']);
    expect(run.cleanup).toBe('Job default/nw-stability-test deleted');
    expect(run.probes.filter((p) => p.target === 'node').length).toBeGreaterThan(20);
    expect(run.probes.some((p) => p.target === 'reference')).toBe(true);
    expect(lines[0]).toContain('probing 10.62.0.30 and reference worker-1 (10.62.0.10) at 10 Hz');
  });

  it('stops the load at once when the node fails, names the step, and deletes the Job', async () => {
    const jobs = new FakeJobs();
    const run = await runStabilityTest(
      input(20_000),
      {
        jobs,
        prober: scriptedProber((ip, ms) => ip === NODE.ip && ms > 1_500),
        gpu: null,
        logger: silentLogger,
      },
      new AbortController().signal,
    );
    expect(run.result.aborted).toBe('L3 down: 5 probes in a row failed');
    expect(run.result.verdict).toBe('fail');
    expect(run.result.troubleStep).toBe(1);
    // Nothing was probed in step 2: the run ended in step 1.
    expect(run.result.steps[2]?.layers).toEqual([]);
    expect(jobs.log).toEqual(['create nw-stability-test', 'remove default/nw-stability-test']);
  });

  it('a cancel (Ctrl-C) ends the run and still deletes the Job', async () => {
    const jobs = new FakeJobs();
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('SIGINT')), 300);
    const run = await runStabilityTest(
      input(60_000),
      { jobs, prober: scriptedProber(() => false), gpu: null, logger: silentLogger },
      cancel.signal,
    );
    expect(run.result.aborted).toBe('cancelled');
    expect(run.result.verdict).toBe('inconclusive');
    expect(jobs.log).toEqual(['create nw-stability-test', 'remove default/nw-stability-test']);
  });

  it('a Job whose creation failed is still deleted (it may exist), and the error is raised', async () => {
    const jobs = new FakeJobs();
    jobs.create = () => Promise.reject(new Error('timeout after 10000 ms'));
    await expect(
      runStabilityTest(
        input(),
        { jobs, prober: scriptedProber(() => false), gpu: null, logger: silentLogger },
        new AbortController().signal,
      ),
    ).rejects.toThrow('timeout after 10000 ms');
    expect(jobs.log).toEqual(['remove default/nw-stability-test']);
  });

  it('says so when the Job could not be deleted', async () => {
    const run = await runStabilityTest(
      input(),
      {
        jobs: new FakeJobs(true),
        prober: scriptedProber(() => false),
        gpu: null,
        logger: silentLogger,
      },
      new AbortController().signal,
    );
    expect(run.cleanup).toBe('Job default/nw-stability-test NOT deleted: API server unreachable');
  });

  it('renders the report: Markdown table per step, JSON series, an SVG with the trouble step shaded', async () => {
    const run = await runStabilityTest(
      input(2_000),
      {
        jobs: new FakeJobs(),
        prober: scriptedProber((ip, ms) => ip === NODE.ip && ms > 2_000 && ms % 1000 < 300),
        gpu: null,
        logger: silentLogger,
      },
      new AbortController().signal,
    );
    const md = stabilityMarkdown(run);
    expect(md).toContain('# Network stability under GPU load: gpu-1');
    expect(md).toContain('| step | window (s) | GPU planned |');
    expect(md).toMatch(/\| baseline \| 0–1 \| 0→0% \|/);
    const json = stabilityReportJson(run);
    expect(json['kind']).toBe('stability-test');
    expect((json['series'] as unknown[]).length).toBeGreaterThanOrEqual(3);
    const svg = stabilitySvg(run);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('step 2');
    if (run.result.troubleStep !== null) expect(svg).toContain('fill="#fde2e2"');
  });
});
