import { readFile } from 'node:fs/promises';

/**
 * A process's CPU time and memory as Linux accounts them, for benchmarks
 * that watch long-running processes (bench/agent.ts). Parsers are pure.
 */
export interface ProcessUsage {
  /** utime + stime of the process itself, in clock ticks. */
  readonly cpuTicks: number;
  /** cutime + cstime: children it has waited for (ping, arping, ip …), in clock ticks. */
  readonly childTicks: number;
  /** Resident set size now, KiB. */
  readonly rssKiB: number;
  /** Peak resident set size since the process started, KiB. */
  readonly hwmKiB: number;
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux ABI Node runs on). */
export const USER_HZ = 100;

/**
 * utime, stime, cutime, cstime of /proc/<pid>/stat (fields 14–17), read
 * after the `)` that closes the command name, which may itself hold spaces
 * and parentheses. Null when the text is not a stat line.
 */
export function parseStatTicks(stat: string): { cpuTicks: number; childTicks: number } | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  // After ") ": state is field 3, so field n is at index n − 3.
  const f = stat
    .slice(close + 2)
    .trim()
    .split(' ')
    .map(Number);
  const [utime, stime, cutime, cstime] = [f[11], f[12], f[13], f[14]];
  if ([utime, stime, cutime, cstime].some((n) => n === undefined || !Number.isInteger(n)))
    return null;
  return { cpuTicks: utime! + stime!, childTicks: cutime! + cstime! };
}

/** A `Vm…:  <n> kB` line of /proc/<pid>/status in KiB; null when absent (kernel threads, zombies). */
export function parseStatusKiB(status: string, field: 'VmRSS' | 'VmHWM'): number | null {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  return m?.[1] === undefined ? null : Number(m[1]);
}

/** Reads /proc/<pid>/stat and status; null when the process is gone or has no memory (zombie). */
export async function readProcessUsage(pid: number): Promise<ProcessUsage | null> {
  const [stat, status] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null),
    readFile(`/proc/${pid}/status`, 'utf8').catch(() => null),
  ]);
  if (stat === null || status === null) return null;
  const ticks = parseStatTicks(stat);
  const rssKiB = parseStatusKiB(status, 'VmRSS');
  const hwmKiB = parseStatusKiB(status, 'VmHWM');
  if (ticks === null || rssKiB === null || hwmKiB === null) return null;
  return { ...ticks, rssKiB, hwmKiB };
}

/** CPU used between two readings as % of one core over `seconds` of wall time. */
export function cpuPercent(ticks: number, seconds: number): number {
  return seconds > 0 ? ((ticks / USER_HZ) * 100) / seconds : 0;
}
