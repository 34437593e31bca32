import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand, type CommandResult } from '../../src/host/command.ts';
import type { LabStatus } from '../../src/lab/lab.ts';
import { listNamespaces } from '../../src/lab/netns.ts';

/**
 * The built CLI run as a user runs it against a lab, and the lab's node names.
 * No vitest here: the lab tests (through lab-harness.ts) and the lab benches
 * (bench/diagnosis.ts, bench/recovery-lab.ts) share it.
 */

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(repoRoot, 'bin', 'nodewarden.js');

/** The MIG node of the seed and two survivors, by the short names a person types. */
export const MIG = 'bkqzq';
export const MIG_IP = '10.62.0.30';
export const OBSERVER = '85zt7';
export const BYSTANDER = '9f79t';

/** The five nodes of a 5-node lab, by their full names. */
export const NODE = {
  mig: 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq',
  a: 'tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7',
  b: 'tkai-oks-md-0-193cfbbbb78b-5gblf-9f79t',
  c: 'tkai-oks-md-0-193cfbbbb78b-5gblf-pkmt5',
  d: 'tkai-oks-md-0-193cfbbbb78b-5gblf-wn4gb',
} as const;

/** A node's short name (its last 5 characters), the one `lab fault`/`lab heal` take. */
export const short = (node: string): string => node.slice(-5);

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

/** Names of the network namespaces the lab owns (`nw-` prefix). */
export async function labNamespaces(): Promise<string[]> {
  return (await listNamespaces()).filter((n) => n.startsWith('nw-'));
}
