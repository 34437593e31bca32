/**
 * One stability test: start the GPU load Job on the node, probe the node
 * (and a reference node beside it) at every layer at a raised rate, sample
 * its GPU memory, stop the load at once if the node starts failing, and
 * always delete the Job — on success, error, abort or Ctrl-C.
 *
 * The probes run from this process, not from the agents: see
 * docs/stability.md ("Where the probes run") for why.
 */
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Prober } from '../core/probe.ts';
import {
  abortReason,
  evaluateStability,
  STABILITY_LAYERS,
  type GpuRecord,
  type LoadStep,
  type ProbeRecord,
  type StabilityResult,
  type StabilityThresholds,
} from '../core/stability.ts';
import type { GpuSampler } from '../gpu/gpu-sampler.ts';

/** The Job side of a test: the Kubernetes adapter, or a fake in tests. */
export interface LoadJobs {
  create(manifest: Record<string, unknown>): Promise<void>;
  /** Deletes the Job and its pods; resolves once they are gone (or throws after trying). */
  remove(namespace: string, name: string): Promise<void>;
}

export interface StabilityRunInput {
  readonly node: { readonly name: string; readonly ip: string };
  /** A healthy node probed the same way, so the vantage point's own trouble is not blamed on the node. */
  readonly reference: { readonly name: string; readonly ip: string } | null;
  readonly plan: readonly LoadStep[];
  readonly job: Record<string, unknown> & { metadata: { name: string; namespace: string } };
  readonly thresholds: StabilityThresholds;
  /** Probes per second per target (default 5). */
  readonly rateHz: number;
  /** Per-layer probe timeout (default 1000 ms). */
  readonly probeTimeoutMs: number;
  /** The kubelet port probed at L4/L7. */
  readonly port: number;
  /** GPU samples per second (default 1). */
  readonly gpuEveryMs: number;
}

export interface StabilityRunPorts {
  readonly jobs: LoadJobs;
  readonly prober: Prober;
  /** null: GPU memory is not sampled (the result says so). */
  readonly gpu: GpuSampler | null;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Progress lines for a person watching. */
  readonly progress?: (line: string) => void;
}

export interface StabilityRun {
  readonly node: string;
  readonly reference: string | null;
  readonly job: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly plan: readonly LoadStep[];
  readonly probes: readonly ProbeRecord[];
  readonly gpu: readonly GpuRecord[];
  /** What the GPU sampler said when it failed (first of each kind), for the report. */
  readonly gpuErrors: readonly string[];
  readonly result: StabilityResult;
  /** How the Job cleanup went. */
  readonly cleanup: string;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * Runs the test until the plan ends, the node fails (`abortReason`), or
 * `cancel` fires. The Job is deleted in every case before this resolves; a
 * failed deletion is reported in `cleanup` and logged, never swallowed.
 */
export async function runStabilityTest(
  input: StabilityRunInput,
  ports: StabilityRunPorts,
  cancel: AbortSignal,
): Promise<StabilityRun> {
  const now = ports.now ?? Date.now;
  const say = ports.progress ?? (() => undefined);
  const probes: ProbeRecord[] = [];
  const gpu: GpuRecord[] = [];
  const gpuErrors = new Set<string>();
  const stop = new AbortController();
  const onCancel = () => stop.abort(new Error('cancelled'));
  cancel.addEventListener('abort', onCancel, { once: true });
  if (cancel.aborted) onCancel();
  let aborted: string | null = null;
  const started = now();
  const planEnd = input.plan[input.plan.length - 1]?.endMs ?? 0;
  const offset = () => now() - started;
  const { name, namespace } = input.job.metadata;
  let cleanup = 'the Job was never created';

  const probeOnce = async (target: ProbeRecord['target'], ip: string): Promise<void> => {
    const atMs = offset();
    try {
      const r = await ports.prober.probe(
        { ip, port: input.port, timeoutMs: input.probeTimeoutMs },
        stop.signal,
      );
      for (const l of r.layers) {
        if (l.status === 'skipped' || !STABILITY_LAYERS.includes(l.layer)) continue;
        probes.push({
          atMs,
          target,
          layer: l.layer,
          ok: l.status === 'ok',
          latencyMs: l.latencyMs,
        });
      }
    } catch (error) {
      if (!stop.signal.aborted)
        ports.logger.log('warn', 'probe failed to run', { ip, error: describeError(error) });
    }
  };

  const probeLoop = async (): Promise<void> => {
    const every = 1000 / input.rateHz;
    const inFlight = new Set<Promise<void>>();
    let tick = 0;
    while (!stop.signal.aborted && offset() < planEnd) {
      const run = (p: Promise<void>) => {
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      };
      run(probeOnce('node', input.node.ip));
      if (input.reference) run(probeOnce('reference', input.reference.ip));
      const reason = abortReason(probes, input.thresholds);
      if (reason !== null && aborted === null) {
        aborted = reason;
        say(`stopping the load: ${reason} (GPU ${lastGpu()})`);
        stop.abort(new Error(reason));
      }
      tick += 1;
      await sleep(Math.max(0, tick * every - offset()), stop.signal);
    }
    await Promise.allSettled([...inFlight]);
  };

  const lastGpu = () => {
    const g = [...gpu].reverse().find((x) => x.percent !== null);
    return g?.percent == null ? 'not measured' : `${g.percent.toFixed(1)}%`;
  };

  const gpuLoop = async (): Promise<void> => {
    if (ports.gpu === null) return;
    let lastStep = -1;
    while (!stop.signal.aborted && offset() < planEnd) {
      const atMs = offset();
      const s = await ports.gpu.sample(stop.signal);
      if (s.ok) {
        const values = [...s.snapshot.instances, ...s.snapshot.gpus]
          .map((d) => d.memory.usedPercent)
          .filter((p): p is number => p !== null);
        gpu.push({ atMs, percent: values.length === 0 ? null : Math.max(...values) });
      } else {
        gpu.push({ atMs, percent: null });
        gpuErrors.add(s.detail);
      }
      const step = input.plan.findIndex((p) => atMs >= p.startMs && atMs < p.endMs);
      if (step !== lastStep && step >= 0) {
        lastStep = step;
        const p = input.plan[step];
        say(
          `step ${step}${step === 0 ? ' (baseline)' : ''}: GPU planned ${p?.fromPercent.toFixed(1)}→${p?.toPercent.toFixed(1)}%, measured ${lastGpu()}`,
        );
      }
      await sleep(input.gpuEveryMs, stop.signal);
    }
  };

  try {
    // Set before the call: a create that timed out may still have made the Job.
    cleanup = 'created';
    await ports.jobs.create(input.job);
    say(
      `Job ${namespace}/${name} created on ${input.node.name}; probing ${input.node.ip}${input.reference ? ` and reference ${input.reference.name} (${input.reference.ip})` : ''} at ${input.rateHz} Hz`,
    );
    await Promise.all([probeLoop(), gpuLoop()]);
  } finally {
    cancel.removeEventListener('abort', onCancel);
    stop.abort(new Error('done'));
    if (cleanup === 'created') {
      try {
        await ports.jobs.remove(namespace, name);
        cleanup = `Job ${namespace}/${name} deleted`;
      } catch (error) {
        cleanup = `Job ${namespace}/${name} NOT deleted: ${describeError(error)}`;
        ports.logger.log('error', 'could not delete the stability Job', {
          job: `${namespace}/${name}`,
          error: describeError(error),
        });
      }
      say(cleanup);
    }
  }
  if (cancel.aborted && aborted === null) aborted = 'cancelled';
  const ended = now();
  const result = evaluateStability(input.plan, probes, gpu, input.thresholds, aborted);
  return {
    node: input.node.name,
    reference: input.reference?.name ?? null,
    job: `${namespace}/${name}`,
    startedAt: new Date(started).toISOString(),
    endedAt: new Date(ended).toISOString(),
    plan: input.plan,
    probes,
    gpu,
    gpuErrors: [...gpuErrors],
    result,
    cleanup,
  };
}
