/**
 * GPU samplers for the agent: nvidia-smi run as a child process, or a DCGM
 * exporter scraped over HTTP — always under a timeout. nvidia-smi hangs when
 * a GPU or its driver is wedged, so a timeout is not an error to retry
 * quietly: it is evidence, reported as `failure: 'timeout'`.
 */
import { systemClock, type Clock } from '../core/clock.ts';
import { badInput, describeError, NodeWardenError } from '../core/errors.ts';
import { runCommand } from '../host/command.ts';
import { HttpRequestError, requestText } from '../host/http-request.ts';
import { parseDcgmMetrics } from './dcgm.ts';
import type { GpuSnapshot } from './gpu-sample.ts';
import {
  NVIDIA_SMI_FIELDS,
  nvidiaSmiQueryArgs,
  parseMigGpuInstances,
  parseNvidiaSmiQuery,
  unknownQueryField,
  withMigInstances,
  type NvidiaSmiField,
} from './nvidia-smi.ts';

export type GpuSource = 'nvidia-smi' | 'dcgm';

export type GpuSampleFailure =
  /** No answer in time: for nvidia-smi, the sign of a wedged GPU or driver. */
  | 'timeout'
  /** nvidia-smi is not installed. */
  | 'missing-tool'
  /** The exporter refused the connection or could not be reached. */
  | 'unreachable'
  /** It answered, with an error and no GPU rows. */
  | 'failed'
  /** It answered with something that is not its format. */
  | 'bad-output';

export type GpuSampleResult =
  | {
      readonly ok: true;
      readonly source: GpuSource;
      readonly at: string;
      readonly durationMs: number;
      readonly snapshot: GpuSnapshot;
    }
  | {
      readonly ok: false;
      readonly source: GpuSource;
      readonly at: string;
      readonly durationMs: number;
      readonly failure: GpuSampleFailure;
      /** What happened, in words for the incident timeline. */
      readonly detail: string;
    };

/** The port: one GPU reading per call, never throwing for a sick GPU. */
export interface GpuSampler {
  readonly source: GpuSource;
  sample(signal?: AbortSignal): Promise<GpuSampleResult>;
}

export interface NvidiaSmiSamplerOptions {
  /** Program to run. Default `nvidia-smi`. */
  readonly command?: string;
  /** Per command. Default 5,000 ms. */
  readonly timeoutMs?: number;
  /** Also list MIG GPU instances with `nvidia-smi mig -lgi`. Default true. */
  readonly mig?: boolean;
  readonly clock?: Clock;
  readonly env?: Readonly<Record<string, string>>;
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}

export class NvidiaSmiSampler implements GpuSampler {
  readonly source = 'nvidia-smi' as const;
  private readonly command: string;
  private readonly timeoutMs: number;
  private readonly mig: boolean;
  private readonly clock: Clock;
  private readonly env: Readonly<Record<string, string>> | undefined;
  /** Shrinks once if the driver does not know a field (memory.reserved before R510). */
  private fields: readonly NvidiaSmiField[] = NVIDIA_SMI_FIELDS;

  constructor(options: NvidiaSmiSamplerOptions = {}) {
    this.command = options.command ?? 'nvidia-smi';
    this.timeoutMs = options.timeoutMs ?? 5_000;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs <= 0) {
      throw badInput(
        `nvidia-smi timeout must be a positive number of milliseconds, got ${this.timeoutMs}`,
        'use a few seconds: nvidia-smi answers in well under one on a healthy GPU',
      );
    }
    this.mig = options.mig ?? true;
    this.clock = options.clock ?? systemClock;
    this.env = options.env;
  }

  private run(args: readonly string[], signal: AbortSignal | undefined) {
    return runCommand(this.command, args, {
      timeoutMs: this.timeoutMs,
      ...(signal ? { signal } : {}),
      ...(this.env ? { env: this.env } : {}),
    });
  }

  async sample(signal?: AbortSignal): Promise<GpuSampleResult> {
    const startedAt = this.clock.now();
    const at = new Date(startedAt).toISOString();
    const done = (): number => this.clock.now() - startedAt;
    const failed = (failure: GpuSampleFailure, detail: string): GpuSampleResult => ({
      ok: false,
      source: this.source,
      at,
      durationMs: done(),
      failure,
      detail,
    });
    const shown = (args: readonly string[]) => `${this.command} ${args.join(' ')}`;

    let args = nvidiaSmiQueryArgs(this.fields);
    let result;
    try {
      result = await this.run(args, signal);
      const unknown = unknownQueryField(result.stdout + result.stderr);
      if (
        result.code !== 0 &&
        unknown !== null &&
        this.fields.includes(unknown as NvidiaSmiField)
      ) {
        this.fields = this.fields.filter((f) => f !== unknown);
        args = nvidiaSmiQueryArgs(this.fields);
        result = await this.run(args, signal);
      }
    } catch (error) {
      if (error instanceof NodeWardenError && error.code === 'MISSING_TOOL') {
        return failed('missing-tool', `${this.command} is not installed or not on PATH`);
      }
      return failed('failed', `${shown(args)} could not run: ${describeError(error)}`);
    }
    if (result.timedOut) {
      return failed(
        'timeout',
        `${shown(args)} did not answer within ${this.timeoutMs} ms (nvidia-smi hangs when a GPU or its driver is wedged)`,
      );
    }
    let snapshot = parseNvidiaSmiQuery(`${result.stdout}\n${result.stderr}`, this.fields);
    if (snapshot.gpus.length === 0) {
      const why = lastLines(result.stderr || result.stdout) || 'no output';
      return failed(
        result.code === 0 ? 'bad-output' : 'failed',
        `${shown(args)} exited ${result.code ?? result.signal} with no GPU rows: ${why}`,
      );
    }

    if (this.mig) {
      const migArgs = ['mig', '-lgi'];
      const note = (line: string): void => {
        snapshot = { ...snapshot, errors: [...snapshot.errors, line] };
      };
      try {
        const mig = await this.run(migArgs, signal);
        const text = mig.stdout + mig.stderr;
        if (mig.timedOut) {
          note(
            `${shown(migArgs)} did not answer within ${this.timeoutMs} ms (nvidia-smi hangs when a GPU or its driver is wedged)`,
          );
        } else {
          snapshot = withMigInstances(snapshot, parseMigGpuInstances(text));
          if (mig.code !== 0 && !/No MIG-enabled devices found/.test(text)) {
            note(`${shown(migArgs)} exited ${mig.code ?? mig.signal}: ${lastLines(text)}`);
          }
        }
      } catch (error) {
        note(`${shown(migArgs)}: ${describeError(error)}`);
      }
    }
    return { ok: true, source: this.source, at, durationMs: done(), snapshot };
  }
}

export interface DcgmExporterSamplerOptions {
  /** The exporter's metrics URL, e.g. http://127.0.0.1:9400/metrics. */
  readonly url: string;
  /** Connect, answer and body together. Default 3,000 ms. */
  readonly timeoutMs?: number;
  /** Larger pages are refused (`bad-output`). Default 8 MiB. */
  readonly maxBytes?: number;
  readonly clock?: Clock;
}

export class DcgmExporterSampler implements GpuSampler {
  readonly source = 'dcgm' as const;
  private readonly url: string;
  private readonly target: URL;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly clock: Clock;

  constructor(options: DcgmExporterSamplerOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch (error) {
      throw new NodeWardenError('BAD_INPUT', `DCGM exporter URL "${options.url}" is not a URL`, {
        hint: 'give the metrics URL, e.g. http://127.0.0.1:9400/metrics',
        cause: error,
      });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw badInput(
        `DCGM exporter URL "${options.url}" is not http(s)`,
        'give the metrics URL, e.g. http://127.0.0.1:9400/metrics',
      );
    }
    this.url = parsed.toString();
    this.target = parsed;
    this.timeoutMs = options.timeoutMs ?? 3_000;
    this.maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
    this.clock = options.clock ?? systemClock;
  }

  async sample(signal?: AbortSignal): Promise<GpuSampleResult> {
    const startedAt = this.clock.now();
    const at = new Date(startedAt).toISOString();
    const failed = (failure: GpuSampleFailure, detail: string): GpuSampleResult => ({
      ok: false,
      source: this.source,
      at,
      durationMs: this.clock.now() - startedAt,
      failure,
      detail,
    });
    let text: string | null;
    let status: number;
    try {
      ({ status, body: text } = await requestText(this.target, {
        timeoutMs: this.timeoutMs,
        maxBytes: this.maxBytes,
        ...(signal ? { signal } : {}),
      }));
    } catch (error) {
      const reason = error instanceof HttpRequestError ? error.reason : describeError(error);
      if (reason === 'timeout') {
        return failed(
          'timeout',
          `DCGM exporter ${this.url} did not answer within ${this.timeoutMs} ms`,
        );
      }
      if (reason === 'aborted') return failed('failed', `scrape of ${this.url} was cancelled`);
      return failed('unreachable', `DCGM exporter ${this.url} is unreachable: ${reason}`);
    }
    if (status !== 200) {
      return failed('failed', `DCGM exporter ${this.url} answered HTTP ${status}`);
    }
    if (text === null) {
      return failed(
        'bad-output',
        `DCGM exporter ${this.url} sent more than ${this.maxBytes} bytes`,
      );
    }
    const snapshot = parseDcgmMetrics(text);
    if (snapshot.gpus.length === 0) {
      return failed('bad-output', `DCGM exporter ${this.url} reported no GPU memory or Xid fields`);
    }
    return {
      ok: true,
      source: this.source,
      at,
      durationMs: this.clock.now() - startedAt,
      snapshot,
    };
  }
}
