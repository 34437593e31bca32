import { constants } from 'node:fs';
import { appendFile, mkdtemp, open, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeWardenError } from '../core/errors.ts';
import {
  followKernelLog,
  readBootTimeMs,
  type KernelLogEvent,
  type FollowOptions,
} from './kmsg-reader.ts';

const BOOT = Date.parse('2025-08-25T01:38:00.000Z');

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nw-kmsg-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Follows `path`, runs `act` once the follower has started, and collects
 * events until `count` arrived (or 5 s passed, which fails the test).
 */
async function collect(
  path: string,
  count: number,
  options: FollowOptions,
  act: () => Promise<void>,
): Promise<KernelLogEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 5_000);
  const events: KernelLogEvent[] = [];
  const follower = followKernelLog(
    { kind: 'file', path },
    { pollMs: 10, bootTimeMs: BOOT, ...options, signal: controller.signal },
  );
  // The generator opens the file on its first next(); let it get there before writing.
  const first = follower.next();
  await new Promise((r) => setTimeout(r, 50));
  await act();
  for (let next = await first; !next.done; next = await follower.next()) {
    events.push(next.value);
    if (events.length >= count) break;
  }
  clearTimeout(timer);
  controller.abort();
  await follower.return(undefined);
  return events;
}

const XID79 =
  "[ 8358.004771] NVRM: Xid (PCI:0000:3b:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.";
const NOISE = '[ 8358.100000] nwfx-br: port 2(nwfx-b1) entered disabled state';
const OOM =
  '3,2272,8359112470,-;Out of memory: Killed process 1187 (ovs-vswitchd) total-vm:2871204kB, anon-rss:1803328kB, file-rss:10240kB, shmem-rss:0kB, UID:0 pgtables:4120kB oom_score_adj:0';

describe('followKernelLog on a file', () => {
  it('yields only new matching lines, with wall time from the boot time', async () => {
    const path = join(dir, 'kern.log');
    await writeFile(path, `${XID79}\n`);
    const events = await collect(path, 2, {}, async () => {
      await appendFile(path, `${NOISE}\n${XID79}\n`);
      await appendFile(path, `${OOM}\n`);
    });
    expect(events.map((e) => (e.kind === 'line' ? e.match?.id : e.kind))).toEqual([
      'gpu.xid.79',
      'oom.killed-process',
    ]);
    const [xid, oom] = events;
    expect(xid).toMatchObject({ kind: 'line', at: new Date(BOOT + 8_358_004.771).toISOString() });
    expect(oom).toMatchObject({ kind: 'line', at: new Date(BOOT + 8_359_112.47).toISOString() });
  });

  it('reads what was already there with fromStart, and every line with onlyMatches: false', async () => {
    const path = join(dir, 'kern.log');
    await writeFile(path, `${NOISE}\n${XID79}\n\n`);
    const events = await collect(path, 2, { fromStart: true, onlyMatches: false }, async () => {});
    expect(events.map((e) => (e.kind === 'line' ? (e.match?.id ?? null) : e.kind))).toEqual([
      null,
      'gpu.xid.79',
    ]);
  });

  it('joins a line written in two pieces', async () => {
    const path = join(dir, 'kern.log');
    await writeFile(path, '');
    const events = await collect(path, 1, {}, async () => {
      await appendFile(path, XID79.slice(0, 40));
      await new Promise((r) => setTimeout(r, 60));
      await appendFile(path, `${XID79.slice(40)}\n`);
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      kind: 'line',
      match: { id: 'gpu.xid.79', detail: { pci: '0000:3b:00' } },
    });
  });

  it('reports truncation as a gap and reads the file again from its start', async () => {
    const path = join(dir, 'kern.log');
    await writeFile(path, `${NOISE}\n${NOISE}\n${NOISE}\n`);
    const events = await collect(path, 2, {}, async () => {
      await truncate(path, 0);
      await new Promise((r) => setTimeout(r, 60));
      await appendFile(path, `${XID79}\n`);
    });
    expect(events[0]).toMatchObject({ kind: 'gap', missed: null });
    expect(events[1]).toMatchObject({ kind: 'line', match: { id: 'gpu.xid.79' } });
  });

  it('follows a rotated log into the new file', async () => {
    const path = join(dir, 'kern.log');
    await writeFile(path, `${NOISE}\n`);
    const events = await collect(path, 2, {}, async () => {
      await rename(path, `${path}.1`);
      await writeFile(path, `${OOM}\n`);
    });
    expect(events.map((e) => (e.kind === 'line' ? e.match?.id : e.kind))).toEqual([
      'gap',
      'oom.killed-process',
    ]);
  });

  it('keeps memory bounded: a 2 MB line without a newline comes out cut to maxLineBytes', async () => {
    const path = join(dir, 'kern.log');
    await writeFile(path, '');
    const events = await collect(path, 2, { onlyMatches: false, maxLineBytes: 4_096 }, async () => {
      await appendFile(path, 'x'.repeat(2_000_000));
      await appendFile(path, `\n${XID79}\n`);
    });
    const lengths = events.map((e) => (e.kind === 'line' ? e.line.text.length : -1));
    expect(Math.max(...lengths)).toBeLessThanOrEqual(4_096);
    expect(events.some((e) => e.kind === 'line' && e.match?.id === 'gpu.xid.79')).toBe(true);
  });

  it('stops when the signal aborts while waiting for input', async () => {
    const path = join(dir, 'kern.log');
    await writeFile(path, '');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 80);
    const started = Date.now();
    const seen: KernelLogEvent[] = [];
    for await (const e of followKernelLog(
      { kind: 'file', path },
      { pollMs: 20, signal: controller.signal },
    ))
      seen.push(e);
    expect(seen).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('names a missing file in a NOT_FOUND error', async () => {
    const follower = followKernelLog(
      { kind: 'file', path: join(dir, 'nope.log') },
      { bootTimeMs: BOOT },
    );
    const error = await follower.next().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NodeWardenError);
    expect((error as NodeWardenError).code).toBe('NOT_FOUND');
    expect((error as NodeWardenError).message).toContain('nope.log');
  });
});

/**
 * Whether this process may read /dev/kmsg: opening can succeed where reading
 * fails (EPERM without CAP_SYSLOG in a container), so try one record.
 */
async function canReadKmsg(): Promise<boolean> {
  const handle = await open('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK).catch(
    () => null,
  );
  if (handle === null) return false;
  try {
    await handle.read(Buffer.alloc(16_384), 0, 16_384, null);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EAGAIN';
  } finally {
    await handle.close();
  }
}
const kmsgReadable = await canReadKmsg();

describe('followKernelLog on /dev/kmsg', () => {
  it.skipIf(!kmsgReadable)(
    'reads this machine’s ring buffer: consecutive sequence numbers, wall times between boot and now',
    async () => {
      const boot = await readBootTimeMs();
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 5_000);
      const lines: Extract<KernelLogEvent, { kind: 'line' }>[] = [];
      let gaps = 0;
      for await (const e of followKernelLog(
        { kind: 'kmsg' },
        { fromStart: true, onlyMatches: false, signal: controller.signal, pollMs: 20 },
      )) {
        if (e.kind === 'gap') gaps += 1;
        else lines.push(e);
        if (lines.length >= 20) break;
      }
      clearTimeout(timer);
      expect(lines.length).toBeGreaterThan(0);
      for (const [i, e] of lines.entries()) {
        expect(e.line.format).toBe('kmsg');
        expect(Date.parse(e.at!)).toBeGreaterThanOrEqual(boot - 1_000);
        expect(Date.parse(e.at!)).toBeLessThanOrEqual(Date.now() + 1_000);
        if (i > 0 && gaps === 0) expect(e.line.seq).toBe(lines[i - 1]!.line.seq! + 1);
      }
    },
  );

  it.skipIf(!kmsgReadable)(
    'skips the backlog without fromStart and returns promptly on abort',
    async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const seen: KernelLogEvent[] = [];
      for await (const e of followKernelLog(
        { kind: 'kmsg' },
        { onlyMatches: false, signal: controller.signal, pollMs: 20 },
      )) {
        // Only records the kernel logs during these 300 ms can appear; none may predate the start.
        seen.push(e);
      }
      expect(seen.length).toBeLessThan(50);
    },
  );
});
