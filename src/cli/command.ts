import { parseArgs, type ParseArgsConfig } from 'node:util';
import { badInput, describeError, NodeWardenError, type ErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

/** Exit statuses: 0 healthy/done, 1 unhealthy/failed, 2 bad usage. */
export const EXIT_OK = 0;
export const EXIT_UNHEALTHY = 1;
export const EXIT_USAGE = 2;

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full `--help` text: usage, options, examples. */
  readonly help: string;
  run(argv: readonly string[], io: Io): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs with errors a person can act on: an unknown flag or a missing
 * value becomes a BAD_INPUT naming the flag and pointing at `--help`.
 */
export function parseFlags<const O extends Options>(
  command: string,
  argv: readonly string[],
  options: O,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw badInput(message.replace(/\. To specify.*$/s, ''), `see: nodewarden ${command} --help`);
  }
}

/** One table from error code to exit status, used by every command. */
export function exitStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'BAD_INPUT':
    case 'NEEDS_ROOT':
    case 'UNSUPPORTED':
      return EXIT_USAGE;
    case 'MISSING_TOOL':
    case 'COMMAND_FAILED':
    case 'TIMEOUT':
    case 'NOT_FOUND':
    case 'CONFLICT':
    case 'UNAVAILABLE':
    case 'INTERNAL':
      return EXIT_UNHEALTHY;
  }
}

/** Prints an error as `nodewarden <cmd>: <message>` plus its hint; returns the exit status. */
export function reportError(command: string, error: unknown, io: Io): number {
  if (error instanceof NodeWardenError) {
    io.err(`nodewarden ${command}: ${error.message}\n`);
    if (error.hint) io.err(`  → ${error.hint}\n`);
    return exitStatusFor(error.code);
  }
  io.err(
    `nodewarden ${command}: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return EXIT_UNHEALTHY;
}

/** Parses a whole number in [min, max] from a flag, or throws BAD_INPUT naming the flag. */
export function intFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw badInput(
      `--${name} "${value}" is not a whole number from ${min} to ${max}`,
      `pass e.g. --${name} ${fallback}`,
    );
  }
  return n;
}

/**
 * The life of a long-running command (controller, agent): start it, log a
 * start failure and rethrow it, serve until SIGTERM or SIGINT, then stop it.
 * Exit 0 after a clean stop, 1 after an unclean one.
 */
export async function serveUntilSignal(
  start: () => Promise<{ stop(): Promise<void> }>,
  log: Logger,
): Promise<number> {
  let running;
  try {
    running = await start();
  } catch (error) {
    log.log('error', 'cannot start', { error: describeError(error) });
    throw error;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.log('info', 'shutting down', { signal });
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  try {
    await running.stop();
    return EXIT_OK;
  } catch (error) {
    log.log('error', 'unclean shutdown', { error: describeError(error) });
    return EXIT_UNHEALTHY;
  }
}
