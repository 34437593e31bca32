import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NodeWardenError } from '../core/errors.ts';

/**
 * Long-running lab processes: started detached (they outlive the CLI that
 * started them), optionally inside a network namespace, with stdout and
 * stderr appended to a log file. Callers record the pid in the lab state.
 */
export interface DaemonSpec {
  readonly argv: readonly [string, ...string[]];
  readonly logFile: string;
  /** Network namespace to run in; the root namespace when absent. */
  readonly namespace?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export function startDaemon(spec: DaemonSpec): number {
  const [file, ...args] = spec.namespace
    ? ['ip', 'netns', 'exec', spec.namespace, ...spec.argv]
    : spec.argv;
  const log = openSync(spec.logFile, 'a');
  try {
    const child = spawn(file, args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, ...spec.env, LC_ALL: 'C' },
    });
    if (child.pid === undefined) {
      throw new NodeWardenError('COMMAND_FAILED', `could not start ${spec.argv[0]}`, {
        hint: `see ${spec.logFile}`,
      });
    }
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means it exists but is not ours; ESRCH means it is gone.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGTERM, then SIGKILL after `graceMs` for whatever is still alive. */
export async function stopDaemons(pids: readonly number[], graceMs = 5_000): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  };
  for (const pid of pids) {
    signal(pid, 'SIGCONT'); // a frozen (kubelet-hang) process cannot act on SIGTERM
    signal(pid, 'SIGTERM');
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL');
}

/**
 * A script of this package as a Node argv. Lab processes always run the
 * built JavaScript in dist/ (Node 20 cannot run TypeScript), from src/ or
 * dist/ alike.
 */
export function nodeScript(distRelative: string, ...args: string[]): [string, ...string[]] {
  const path = fileURLToPath(new URL(`../../dist/${distRelative}`, import.meta.url));
  return [process.execPath, path, ...args];
}
