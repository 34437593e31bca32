import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon } from './daemon.ts';
import { LOCAL_DCGM_URL } from './lab-gpu.ts';
import { namespacePids } from './netns.ts';
import { processArgv, processState, terminate } from './standin-process.ts';
import { labPaths, type LabNodeState, type LabState } from './state.ts';
import { NODE_INTERFACE, nodeSuffix } from './topology.ts';

/**
 * Everything that runs "on" a lab node besides its kubelet stand-in: the
 * agent, and the node's kernel log (a file its agent follows as /dev/kmsg,
 * which the lab cloud serves as the VM's console log). Power-off, kernel
 * panic and reboot stop every process in the node's namespace and start
 * them again from here, the way `lab up` first started them.
 */

/** Where lab agents expect the controller (run it in the hub with --listen :9464). */
export const LAB_CONTROLLER_PORT = 9464;

/** The package's own CLI, so lab processes and `lab exec <node> -- nodewarden …` need no global install. */
export const NODEWARDEN_BIN = fileURLToPath(new URL('../../bin/nodewarden.js', import.meta.url));

/** The node's kernel-log file. */
export function kmsgPath(dir: string, node: Pick<LabNodeState, 'name'>): string {
  return join(dir, 'kmsg', `${nodeSuffix(node.name)}.log`);
}

function agentPidFile(dir: string, node: Pick<LabNodeState, 'name'>): string {
  return join(labPaths(dir).run, `agent-${nodeSuffix(node.name)}.pid`);
}

/** Size of the node's kernel log in bytes (0 when it does not exist yet). */
export async function kmsgSize(dir: string, node: Pick<LabNodeState, 'name'>): Promise<number> {
  return stat(kmsgPath(dir, node)).then(
    (s) => s.size,
    () => 0,
  );
}

/**
 * Appends lines to the node's kernel log in the dmesg form, each stamped with
 * the seconds since boot a real kernel prints (the host's uptime).
 */
export async function appendKernelLog(
  dir: string,
  node: Pick<LabNodeState, 'name'>,
  lines: readonly string[],
): Promise<string> {
  const file = kmsgPath(dir, node);
  await mkdir(join(dir, 'kmsg'), { recursive: true });
  const uptime = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0] ?? '0');
  const text = lines
    .map((line) => `[${uptime.toFixed(6).padStart(12)}] ${line.replace(/\n/g, ' ')}\n`)
    .join('');
  await writeFile(file, text, { flag: 'a' });
  return file;
}

/**
 * Starts the node's agent, as the DaemonSet would run it: it probes the peers
 * the controller assigns and pushes to the controller at the hub's :9464
 * (buffering until one runs there), following the node's kernel-log file.
 * Its pid goes to run/ so `lab down` and power-off find it.
 */
export async function startAgent(state: LabState, node: LabNodeState): Promise<number> {
  const paths = labPaths(state.dir);
  const suffix = nodeSuffix(node.name);
  const kmsg = kmsgPath(state.dir, node);
  await mkdir(join(state.dir, 'kmsg'), { recursive: true });
  await mkdir(paths.run, { recursive: true });
  await writeFile(kmsg, '', { flag: 'a' });
  const pid = startDaemon({
    argv: [
      process.execPath,
      NODEWARDEN_BIN,
      'agent',
      '--node',
      node.name,
      '--controller',
      `http://${state.hub.ip}:${LAB_CONTROLLER_PORT}`,
      '--token-file',
      paths.token,
      '--state-dir',
      join(state.dir, 'agent', suffix),
      '--kmsg',
      kmsg,
      '--uplink',
      NODE_INTERFACE,
      ...(node.gpu ? ['--dcgm', LOCAL_DCGM_URL] : []),
    ],
    logFile: join(paths.logs, `agent-${suffix}.log`),
    namespace: node.namespace,
  });
  await writeFile(agentPidFile(state.dir, node), `${pid}\n`);
  return pid;
}

/** The node's agent pid when it runs (and the pid is still that agent), else null. */
export async function liveAgentPid(state: LabState, node: LabNodeState): Promise<number | null> {
  const text = await readFile(agentPidFile(state.dir, node), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const st = await processState(pid);
  if (st === 'gone' || st === 'zombie') return null;
  const argv = await processArgv(pid);
  return argv !== null && argv.includes('agent') && argv.includes(node.name) ? pid : null;
}

/**
 * Stops every process in the node's namespace — stand-in, agent, anything
 * `lab exec` left running — as a power cut or a halted kernel would. `graceMs`
 * 0 is a power cut (SIGKILL at once after SIGTERM); a soft reboot gives the
 * processes time to exit. Returns how many there were.
 */
export async function stopNodeProcesses(node: LabNodeState, graceMs: number): Promise<number> {
  const pids = await namespacePids(node.namespace);
  await terminate(pids, graceMs);
  return pids.length;
}
