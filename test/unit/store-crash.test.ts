/**
 * Acknowledged means stored, whatever happens next. A writer process
 * (test/support/store-writer.ts, run with tsx) prints each write only after
 * the store acknowledged it; we SIGKILL it mid-stream — or crash the
 * PostgreSQL server under it — reopen, and demand every acknowledged write and
 * a consistent store. Separate processes also write to one store at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand, type CommandResult } from '../../src/host/command.ts';
import { openStore } from '../../src/store/open.ts';
import type { IncidentStore } from '../../src/store/port.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { describeWithPostgres } from '../support/postgres.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = join(ROOT, 'test/support/store-writer.ts');
const KILL_AFTER = 300;
/** Bounds for every writer: it stops on its own after this many iterations or this long. */
const MAX_ITERATIONS = 20_000;
const MAX_MS = 45_000;

const dir = mkdtempSync(join(tmpdir(), 'nw-store-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface WriterRun {
  readonly result: CommandResult;
  readonly acks: string[];
}

/**
 * Runs one writer; `onAck` sees each acknowledged line as it arrives (with the
 * writer's pid) and may stop the run. Lines are split across chunks, so they
 * are buffered until their newline.
 */
function runWriter(
  args: readonly string[],
  onAck?: (acks: readonly string[], pid: number) => void,
): Promise<WriterRun> {
  const acks: string[] = [];
  let pid = 0;
  let partial = '';
  return runCommand(process.execPath, ['--import', 'tsx', WRITER, ...args], {
    timeoutMs: MAX_MS + 30_000,
    cwd: ROOT,
    onOutput: (chunk, stream) => {
      if (stream !== 'stdout') return;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('ready ')) pid = Number(line.slice('ready '.length));
        else if (!line.startsWith('done ')) acks.push(line);
        if (pid !== 0 && acks.length > 0) onAck?.(acks, pid);
      }
    },
  }).then((result) => ({ result, acks }));
}

/** Every acknowledged write is present; no incident is half-written. */
async function expectAcknowledged(store: IncidentStore, prefix: string, acks: readonly string[]) {
  const acked = (kind: string) =>
    acks.filter((a) => a.startsWith(`${kind} `)).map((a) => a.slice(kind.length + 1));
  const incidents = acked('incident');
  const timelines = new Set(acked('timeline'));
  const audits = acked('audit');
  const stored = await store.listIncidents({ limit: 1000 });
  const ours = stored.filter((i) => i.id.startsWith(`${prefix}-`));
  // Every acknowledged incident, plus at most the one whose ack never got printed.
  expect(ours.length - incidents.length).toBeGreaterThanOrEqual(0);
  expect(ours.length - incidents.length).toBeLessThanOrEqual(1);
  for (const id of incidents) {
    const incident = await store.getIncident(id);
    expect(incident.nodes).toHaveLength(1);
    if (timelines.has(id)) expect(incident.timeline).toHaveLength(3);
  }
  for (const id of audits) {
    expect((await store.listAudit(id)).map((r) => r.id)).toEqual([`${id}-audit`]);
  }
  // The two-entry append is all or nothing: 1 or 3 entries, never 2.
  for (const incident of ours) expect([1, 3]).toContain(incident.timeline.length);
  return { incidents: incidents.length, stored: ours.length };
}

async function crashWriterWith(url: string, prefix: string, kill: (pid: number) => void) {
  let killed = false;
  const run = await runWriter(
    [url, 'incidents', prefix, String(MAX_ITERATIONS), String(MAX_MS)],
    (acks, pid) => {
      if (!killed && acks.length >= KILL_AFTER) {
        killed = true;
        kill(pid);
      }
    },
  );
  expect(run.acks.length).toBeGreaterThanOrEqual(KILL_AFTER);
  return run;
}

/** N writer processes append to one incident at once; every entry lands, each writer's in order. */
async function concurrentWriters(url: string, writers: number, each: number) {
  const setup = await openStore(url);
  await setup.createIncident({
    id: 'shared',
    kind: 'partition',
    status: 'open',
    nodes: ['gpu-1', 'gpu-2'],
    openedAt: '2025-08-25T04:02:00Z',
    resolvedAt: null,
    lastHeartbeatAt: null,
    rootCause: null,
    summary: '',
    timeline: [],
    affectedPods: [],
  });
  await setup.close();
  const runs = await Promise.all(
    Array.from({ length: writers }, () =>
      runWriter([url, 'timeline', 'shared', String(each), String(MAX_MS)]),
    ),
  );
  for (const run of runs) {
    expect({ code: run.result.code, stderr: run.result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.acks).toHaveLength(each);
  }
  const store = await openStore(url);
  try {
    const messages = (await store.getIncident('shared')).timeline.map((e) => e.message);
    expect(messages).toHaveLength(writers * each);
    for (const run of runs) {
      const mine = run.acks.map((a) => a.slice('entry '.length));
      const pid = mine[0]?.split('-')[0] ?? '?';
      // Equal timestamps per i across writers: insertion order decides, and each writer's stays in order.
      expect(
        messages
          .filter((m) => m.startsWith(`${pid}-`))
          .sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1])),
      ).toEqual(mine);
    }
  } finally {
    await store.close();
  }
}

describe('SQLite store under process death', () => {
  it('keeps every acknowledged write after SIGKILL mid-stream, and the file is sound', async () => {
    const path = join(dir, 'crash.db');
    const run = await crashWriterWith(`sqlite:${path}`, 'crash', (pid) =>
      process.kill(pid, 'SIGKILL'),
    );
    expect(run.result.signal).toBe('SIGKILL');
    const store = await openSqliteStore(path);
    try {
      const { incidents, stored } = await expectAcknowledged(store, 'crash', run.acks);
      expect(incidents).toBeGreaterThanOrEqual(KILL_AFTER / 3);
      expect(stored).toBeGreaterThanOrEqual(incidents);
      expect(await store.integrityProblems()).toEqual([]);
    } finally {
      await store.close();
    }
  }, 90_000);

  it('lets several processes append to one file at once without losing an entry', async () => {
    await concurrentWriters(`sqlite:${join(dir, 'shared.db')}`, 3, 100);
  }, 90_000);
});

describeWithPostgres('PostgreSQL store under process death', (server) => {
  it('keeps every acknowledged write after the writer is SIGKILLed mid-stream', async () => {
    const url = `${server().url}?schema=client_crash`;
    const run = await crashWriterWith(url, 'crash', (pid) => process.kill(pid, 'SIGKILL'));
    expect(run.result.signal).toBe('SIGKILL');
    const store = await openStore(url);
    try {
      await expectAcknowledged(store, 'crash', run.acks);
    } finally {
      await store.close();
    }
  }, 90_000);

  it('keeps every acknowledged write when the server itself crashes mid-stream', async () => {
    const url = `${server().url}?schema=server_crash`;
    let crash: Promise<void> | undefined;
    let run: WriterRun;
    try {
      run = await crashWriterWith(url, 'crash', () => {
        // Immediate shutdown: no checkpoint; the restart replays the WAL.
        crash = server().crash();
      });
    } finally {
      await crash;
      await server().restart();
    }
    // The writer saw the server go away and said so, with the address.
    expect(run.result.code).toBe(1);
    expect(run.result.stderr).toMatch(
      /UNAVAILABLE: cannot use the PostgreSQL store at postgres:\/\/postgres@127\.0\.0\.1:\d+/,
    );
    const store = await openStore(url);
    try {
      await expectAcknowledged(store, 'crash', run.acks);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('lets several processes append to one incident at once without losing an entry', async () => {
    await concurrentWriters(`${server().url}?schema=processes`, 3, 100);
  }, 90_000);
});
