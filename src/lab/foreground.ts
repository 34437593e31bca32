import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { NodeWardenError } from '../core/errors.ts';

/**
 * Runs a program in the foreground with the terminal's stdin/stdout/stderr
 * and returns its exit status (128 + signal number when a signal ended it,
 * as a shell reports it). runCommand captures output instead, which would
 * break interactive use of `lab exec`; this is the one place the lab hands
 * the terminal to a child.
 */
export function runForeground(argv: readonly [string, ...string[]]): Promise<number> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'inherit' });
    // Ctrl-C reaches the child through the terminal's process group; the
    // parent stays alive to pass the child's own exit status on.
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const done = (): void => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      done();
      reject(
        error.code === 'ENOENT'
          ? new NodeWardenError('MISSING_TOOL', `${file} is not installed or not on PATH`, {
              cause: error,
            })
          : new NodeWardenError('COMMAND_FAILED', `${file} could not start`, { cause: error }),
      );
    });
    child.on('close', (code, signal) => {
      done();
      if (code !== null) resolve(code);
      else resolve(128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
}
