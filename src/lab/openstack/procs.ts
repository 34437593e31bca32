/**
 * The lab OpenStack's processes as process groups: every service is started
 * detached (its own group), and its workers — uWSGI's, neutron-server's RPC
 * worker, the Erlang VM's helpers — stay in that group. Memory is counted
 * and signals are sent per group, so nothing a service forked is missed.
 */
import { readdir, readFile } from 'node:fs/promises';

/** Field 5 of /proc/<pid>/stat (pgrp), read after the command name, which may hold spaces. */
export function parseStatPgrp(stat: string): number | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const fields = stat.slice(close + 2).split(' ');
  const pgrp = Number(fields[2]);
  return Number.isInteger(pgrp) ? pgrp : null;
}

/** VmRSS of /proc/<pid>/status in KiB; 0 for kernel threads and zombies. */
export function parseStatusRssKiB(status: string): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return m?.[1] === undefined ? 0 : Number(m[1]);
}

/** Live pids per process group, for the groups asked about. */
async function members(groups: ReadonlySet<number>): Promise<Map<number, number[]>> {
  const found = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    const pgrp = parseStatPgrp(stat);
    if (pgrp === null || !groups.has(pgrp)) continue;
    if (/\) Z /.test(stat)) continue;
    found.set(pgrp, [...(found.get(pgrp) ?? []), Number(entry)]);
  }
  return found;
}

export interface GroupMemory {
  readonly processes: number;
  readonly totalKiB: number;
}

/** Resident memory of every live process in the groups (shared pages counted once per process). */
export async function groupMemory(groups: readonly number[]): Promise<GroupMemory> {
  const found = await members(new Set(groups));
  let processes = 0;
  let totalKiB = 0;
  for (const pids of found.values()) {
    for (const pid of pids) {
      try {
        totalKiB += parseStatusRssKiB(await readFile(`/proc/${pid}/status`, 'utf8'));
        processes += 1;
      } catch {
        // exited
      }
    }
  }
  return { processes, totalKiB };
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** SIGTERM to every group at once, up to `graceMs` for them to empty, then SIGKILL to what is left. */
export async function stopGroups(groups: readonly number[], graceMs = 20_000): Promise<void> {
  const set = new Set(groups);
  for (const pgid of set) signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (await members(set)).size > 0) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const pgid of (await members(set)).keys()) signalGroup(pgid, 'SIGKILL');
}
