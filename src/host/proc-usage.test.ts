import { describe, expect, it } from 'vitest';
import { cpuPercent, parseStatTicks, parseStatusKiB, readProcessUsage } from './proc-usage.ts';

// A /proc/<pid>/stat line in the kernel's layout, its comm holding ") (" as a process may name itself.
const STAT =
  '4242 (node) (x) S 4200 4242 4242 0 -1 4194560 21016 93 0 0 1234 567 89 10 20 0 11 0 ' +
  '31337 1070252032 14580 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0';

const STATUS = `Name:\tnode
State:\tS (sleeping)
VmPeak:\t 1070252 kB
VmHWM:\t   60848 kB
VmRSS:\t   56992 kB
Threads:\t11
`;

describe('proc usage', () => {
  it('reads utime+stime and cutime+cstime after the last ")"', () => {
    expect(parseStatTicks(STAT)).toEqual({ cpuTicks: 1234 + 567, childTicks: 89 + 10 });
    expect(parseStatTicks('not a stat line')).toBeNull();
    expect(parseStatTicks('1 (x) S 0 1')).toBeNull();
  });

  it('reads VmRSS and VmHWM in KiB; null when a zombie has none', () => {
    expect(parseStatusKiB(STATUS, 'VmRSS')).toBe(56_992);
    expect(parseStatusKiB(STATUS, 'VmHWM')).toBe(60_848);
    expect(parseStatusKiB('Name:\tzombie\nState:\tZ (zombie)\n', 'VmRSS')).toBeNull();
  });

  it('turns ticks into % of one core', () => {
    expect(cpuPercent(120, 60)).toBeCloseTo(2, 10);
    expect(cpuPercent(5, 0)).toBe(0);
  });

  it('reads this process; null for a pid that does not exist', async () => {
    const me = await readProcessUsage(process.pid);
    expect(me?.rssKiB).toBeGreaterThan(1_000);
    expect(me!.hwmKiB).toBeGreaterThanOrEqual(me!.rssKiB);
    expect(await readProcessUsage(2 ** 22 + 1)).toBeNull();
  });
});
