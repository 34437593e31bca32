import { spawn } from 'node:child_process';
import { NodeWardenError } from '../core/errors.ts';

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly durationMs: number;
}

export interface CommandOptions {
  /** Killed with SIGKILL after this long; `timedOut` is then true. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly input?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Called with each chunk as it arrives, for progress on long commands. */
  readonly onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
}

/**
 * Runs a program with an argument array — never through a shell — under a
 * fixed C locale, and kills it (and only it) when the timeout passes. A
 * program that is not installed is a `MISSING_TOOL` error naming it; any
 * other outcome, non-zero exit included, is returned for the caller to read.
 */
export function runCommand(
  file: string,
  args: readonly string[],
  options: CommandOptions,
): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: { ...process.env, ...options.env, LC_ALL: 'C', LANG: 'C' },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      signal: options.signal,
      cwd: options.cwd,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      options.onOutput?.(chunk, 'stdout');
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      options.onOutput?.(chunk, 'stderr');
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT') {
        reject(
          new NodeWardenError('MISSING_TOOL', `${file} is not installed or not on PATH`, {
            hint: `install the package that provides ${file} (see README: Requirements)`,
            cause: error,
          }),
        );
      } else if (error.name === 'AbortError') {
        resolve({ code: null, signal: 'SIGTERM', stdout, stderr, timedOut, durationMs: 0 });
      } else {
        reject(new NodeWardenError('COMMAND_FAILED', `${file} could not start`, { cause: error }));
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        timedOut,
        durationMs: performance.now() - started,
      });
    });
  });
}

/** Like runCommand, but a non-zero exit or a timeout is a `COMMAND_FAILED` error. */
export async function runChecked(
  file: string,
  args: readonly string[],
  options: CommandOptions,
): Promise<CommandResult> {
  const result = await runCommand(file, args, options);
  if (result.timedOut) {
    throw new NodeWardenError(
      'TIMEOUT',
      `${file} ${args.join(' ')} timed out after ${options.timeoutMs} ms`,
    );
  }
  if (result.code !== 0) {
    const why = (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new NodeWardenError(
      'COMMAND_FAILED',
      `${file} ${args.join(' ')} exited ${result.code ?? result.signal}: ${why}`,
    );
  }
  return result;
}
