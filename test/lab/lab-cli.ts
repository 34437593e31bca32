import { fileURLToPath } from 'node:url';
import { runCommand, type CommandResult } from '../../src/host/command.ts';
import type { LabStatus } from '../../src/lab/lab.ts';
import { listNamespaces } from '../../src/lab/netns.ts';
import { NODEWARDEN_BIN } from '../../src/lab/node-processes.ts';
import {
  NAMESPACE_PREFIX,
  nodeSuffix,
  SEED_MIG_NODE,
  SEED_WORKER_PREFIX,
  SEED_WORKER_SUFFIXES,
} from '../../src/lab/topology.ts';

/**
 * The built CLI run as a user runs it against a lab, and the lab's node names.
 * No vitest here: the lab tests (through lab-harness.ts) and the lab benches
 * (bench/diagnosis.ts, bench/recovery-lab.ts) share it.
 */

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const bin = NODEWARDEN_BIN;

/** The seed's worker `i` (0-3) by its full name, as the lab plans it. */
function seedWorker(i: number): string {
  const suffix = SEED_WORKER_SUFFIXES[i];
  if (suffix === undefined) throw new Error(`the seed has no worker ${i}`);
  return `${SEED_WORKER_PREFIX}${suffix}`;
}

/** The five nodes of a 5-node lab, by their full names. */
export const NODE = {
  mig: SEED_MIG_NODE,
  a: seedWorker(0),
  b: seedWorker(1),
  c: seedWorker(2),
  d: seedWorker(3),
} as const;

/** A node's short name (its last 5 characters), the one `lab fault`/`lab heal` take. */
export const short = nodeSuffix;

/** The MIG node of the seed and two survivors, by the short names a person types. */
export const MIG = short(NODE.mig);
export const MIG_IP = '10.62.0.30';
export const OBSERVER = short(NODE.a);
export const BYSTANDER = short(NODE.b);

/** Kernel-log lines fed to `lab kmsg`: the seed's Xid 79 and an OOM kill of ovs-vswitchd. */
export const XID =
  "NVRM: Xid (PCI:0000:3b:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.";
export const OOM =
  'Out of memory: Killed process 2113 (ovs-vswitchd) total-vm:1843212kB, anon-rss:1512044kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:3412kB oom_score_adj:0';

/**
 * `ip` arguments that run `nodewarden <args>` inside the hub namespace, the
 * only place that routes to the nodes. `ip netns exec` execs, so a child
 * spawned with these has the CLI's own pid and a signal reaches it.
 */
export function inHub(hub: string, args: readonly string[]): string[] {
  return ['netns', 'exec', hub, process.execPath, bin, ...args];
}

/** Runs `nodewarden <args>` with the test lab's directory. */
export function nodewarden(
  dir: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<CommandResult> {
  return runCommand(process.execPath, [bin, ...args], {
    timeoutMs,
    env: { NODEWARDEN_LAB_DIR: dir },
  });
}

/** Runs a command and fails with its output when it exits non-zero. */
export async function nodewardenOk(
  dir: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<CommandResult> {
  const result = await nodewarden(dir, args, timeoutMs);
  if (result.code !== 0) {
    throw new Error(
      `nodewarden ${args.join(' ')} exited ${result.code}:\n${result.stdout}${result.stderr}`,
    );
  }
  return result;
}

/** `nodewarden lab status --json`, parsed. */
export async function labStatus(dir: string): Promise<LabStatus> {
  return JSON.parse((await nodewardenOk(dir, ['lab', 'status', '--json'])).stdout) as LabStatus;
}

/** Names of the network namespaces the lab owns (NAMESPACE_PREFIX, `nw-`). */
export async function labNamespaces(): Promise<string[]> {
  return (await listNamespaces()).filter((n) => n.startsWith(NAMESPACE_PREFIX));
}
