import { access, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeWardenError } from '../core/errors.ts';
import { nodeScript, startDaemon } from './daemon.ts';
import type { LabNodeState } from './state.ts';

/**
 * The kubelet stand-in as a process of the lab: started detached inside the
 * node's namespace, known by its pid, and only ever signalled after checking
 * that the pid still belongs to that stand-in (pids get reused).
 */

/** What /proc says about a process: `stopped` is SIGSTOP (kubelet-hang). */
export type ProcessState = 'running' | 'stopped' | 'zombie' | 'gone';

const STANDIN_SCRIPT = 'lab/kubelet-standin.js';

/** Reads the state letter from /proc/<pid>/stat (after the `(comm)` field, which may hold spaces). */
export async function processState(pid: number): Promise<ProcessState> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return 'gone';
  const letter = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (letter === 'T' || letter === 't') return 'stopped';
  if (letter === 'Z' || letter === 'X') return 'zombie';
  return 'running';
}

/** The argv of a process, or null when it is gone. */
export async function processArgv(pid: number): Promise<string[] | null> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  if (raw === null) return null;
  return raw.split('\0').filter((part) => part !== '');
}

/** Whether `pid` is the stand-in that writes `pidFile` (and not a process that reused the pid). */
export async function isStandin(pid: number, pidFile: string): Promise<boolean> {
  return isLabProcess(pid, STANDIN_SCRIPT, pidFile);
}

/** Whether `pid` runs `script` (a dist/ path suffix) writing `pidFile`, i.e. is still the lab's process. */
export async function isLabProcess(pid: number, script: string, pidFile: string): Promise<boolean> {
  const argv = await processArgv(pid);
  return argv !== null && argv.some((a) => a.endsWith(script)) && argv.includes(pidFile);
}

/** Path of the built stand-in; NOT_FOUND with a build hint when dist/ is missing it. */
export async function standinScript(): Promise<string> {
  // Lab processes run the built JavaScript (Node 20 cannot run TypeScript), from src/ or dist/ alike.
  const path = fileURLToPath(new URL(`../../dist/${STANDIN_SCRIPT}`, import.meta.url));
  try {
    await access(path);
  } catch (error) {
    throw new NodeWardenError('NOT_FOUND', `the kubelet stand-in ${path} is not built`, {
      hint: 'run npm run build in the nodewarden checkout',
      cause: error,
    });
  }
  return path;
}

async function logTail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-3).join(' | ');
}

/**
 * Starts the node's stand-in and waits until it listens (it writes its pid
 * file only then). A stand-in that exits first is COMMAND_FAILED quoting the
 * end of its log.
 */
export async function startStandin(
  node: LabNodeState,
  tokenFile: string,
  waitMs = 20_000,
): Promise<number> {
  await standinScript();
  const { pidFile, logFile } = node.kubelet;
  await mkdir(dirname(pidFile), { recursive: true });
  await mkdir(dirname(logFile), { recursive: true });
  await rm(pidFile, { force: true });
  const argv = nodeScript(
    STANDIN_SCRIPT,
    '--node',
    node.name,
    '--port',
    String(node.kubelet.port),
    '--cert',
    node.kubelet.certFile,
    '--key',
    node.kubelet.keyFile,
    '--token-file',
    tokenFile,
    '--pid-file',
    pidFile,
    ...(node.kubelet.kube
      ? [
          '--api-server',
          node.kubelet.kube.server,
          '--ca',
          node.kubelet.kube.caFile,
          '--client-cert',
          node.kubelet.kube.certFile,
          '--client-key',
          node.kubelet.kube.keyFile,
          '--node-ip',
          node.ip,
          '--role',
          node.role,
        ]
      : []),
    ...(node.gpu ? ['--gpu-control', node.gpu.controlFile, '--gpu-preset', node.gpu.preset] : []),
    ...(node.novaServer ? ['--provider-id', `openstack:///${node.novaServer.serverId}`] : []),
  );
  const pid = startDaemon({ argv, logFile, namespace: node.namespace });
  await waitListening(pid, pidFile, logFile, `kubelet stand-in for ${node.name}`, waitMs);
  return pid;
}

/**
 * Waits until a lab daemon that writes its pid file once it listens has
 * written it. A process that exits first is COMMAND_FAILED quoting the end
 * of its log; one that takes longer than `waitMs` is killed and TIMEOUT.
 */
export async function waitListening(
  pid: number,
  pidFile: string,
  logFile: string,
  what: string,
  waitMs: number,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const written = await readFile(pidFile, 'utf8').catch(() => '');
    if (written.trim() === String(pid)) return;
    const state = await processState(pid);
    if (state === 'gone' || state === 'zombie') {
      throw new NodeWardenError(
        'COMMAND_FAILED',
        `${what} exited at start: ${await logTail(logFile)}`,
        {
          hint: `see ${logFile}`,
        },
      );
    }
    if (Date.now() > deadline) {
      await terminate([pid], 1_000);
      throw new NodeWardenError('TIMEOUT', `${what} did not listen within ${waitMs} ms`, {
        hint: `see ${logFile}; the machine may be overloaded`,
      });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Stops a stand-in (SIGCONT + SIGTERM, SIGKILL after `graceMs`) if `pid` is
 * still that stand-in; returns whether it stopped one.
 */
export async function stopStandin(pid: number, pidFile: string, graceMs = 3_000): Promise<boolean> {
  if (!(await isStandin(pid, pidFile))) return false;
  await terminate([pid], graceMs);
  await rm(pidFile, { force: true });
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * SIGCONT + SIGTERM to each pid (a frozen process cannot act on SIGTERM until
 * continued), then SIGKILL for whatever has not exited after `graceMs`.
 * Exited means gone or a zombie: an orphan's zombie lingers until the init
 * process reaps it, which can take seconds and says nothing about the lab.
 * Returns the pids still running after SIGKILL (normally none).
 */
export async function terminate(pids: readonly number[], graceMs: number): Promise<number[]> {
  for (const pid of pids) {
    signal(pid, 'SIGCONT');
    signal(pid, 'SIGTERM');
  }
  if (await waitGone(pids, graceMs)) return [];
  const running = async (): Promise<number[]> => {
    const states = await Promise.all(pids.map((pid) => processState(pid)));
    return pids.filter((_, i) => states[i] === 'running' || states[i] === 'stopped');
  };
  for (const pid of await running()) signal(pid, 'SIGKILL');
  await waitGone(pids, 2_000);
  return running();
}

/** Waits until none of `pids` is running (a zombie counts as exited); false on timeout. */
export async function waitGone(pids: readonly number[], waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const states = await Promise.all(pids.map((pid) => processState(pid)));
    if (states.every((s) => s === 'gone' || s === 'zombie')) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends SIGSTOP or SIGCONT and waits until /proc shows the change. */
export async function freezeStandin(pid: number, pidFile: string, freeze: boolean): Promise<void> {
  if (!(await isStandin(pid, pidFile))) {
    throw new NodeWardenError('CONFLICT', `pid ${pid} is not the kubelet stand-in any more`, {
      hint: 'run nodewarden lab heal <node> to restart it',
    });
  }
  process.kill(pid, freeze ? 'SIGSTOP' : 'SIGCONT');
  const deadline = Date.now() + 2_000;
  while (((await processState(pid)) === 'stopped') !== freeze) {
    if (Date.now() > deadline) {
      throw new NodeWardenError(
        'TIMEOUT',
        `pid ${pid} did not ${freeze ? 'stop' : 'continue'} within 2 s`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The stand-in's pid when it is alive and still ours, else null. */
export async function liveStandinPid(node: LabNodeState): Promise<number | null> {
  const pid = node.kubelet.pid;
  if (pid === null) return null;
  const state = await processState(pid);
  if (state === 'gone' || state === 'zombie') return null;
  return (await isStandin(pid, node.kubelet.pidFile)) ? pid : null;
}
