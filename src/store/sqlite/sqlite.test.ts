import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeWardenError } from '../../core/errors.ts';
import type { Incident } from '../../core/incident.ts';
import { storeContract } from '../contract.ts';
import { SQLITE_MIGRATIONS } from './migrations.ts';
import { MEMORY, openSqliteStore } from './sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'nw-sqlite-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

storeContract(
  'SQLite :memory:',
  async (options) => ({
    store: await openSqliteStore(MEMORY, options),
    reopen: () => openSqliteStore(MEMORY, options),
  }),
  {
    knownGaps: {
      'keeps everything across close and reopen':
        'an in-memory database lives and dies with its connection (by design: tests and the demo)',
    },
  },
);

storeContract('SQLite file (WAL, synchronous=FULL)', async (options) => {
  files += 1;
  const path = join(dir, `contract-${files}.db`);
  return {
    store: await openSqliteStore(path, options),
    reopen: () => openSqliteStore(path, options),
  };
});

function failure(promise: Promise<unknown>): Promise<NodeWardenError> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => {
      if (error instanceof NodeWardenError) return error;
      throw error;
    },
  );
}

const incident = (id: string): Incident => ({
  id,
  kind: 'node',
  status: 'open',
  nodes: ['gpu-1'],
  openedAt: '2025-08-25T04:02:00Z',
  resolvedAt: null,
  lastHeartbeatAt: null,
  rootCause: null,
  summary: '',
  timeline: [{ at: '2025-08-25T04:02:00Z', kind: 'down', message: 'down' }],
  affectedPods: [],
});

describe('SQLite store specifics', () => {
  it('runs in WAL mode with synchronous=FULL, foreign keys and a busy timeout', async () => {
    const store = await openSqliteStore(join(dir, 'settings.db'), { busyTimeoutMs: 1234 });
    expect(await store.settings()).toEqual({
      journalMode: 'wal',
      synchronous: 'FULL',
      foreignKeys: true,
      busyTimeoutMs: 1234,
    });
    await store.close();
  });

  it('records each migration once, however often the file is opened', async () => {
    const path = join(dir, 'migrations.db');
    await (await openSqliteStore(path)).close();
    await (await openSqliteStore(path)).close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT version, name FROM schema_migrations').all()).toEqual(
      SQLITE_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    );
    db.close();
  });

  it('migrates a version-1 file to the audit-by-action index, keeping its records', async () => {
    const path = join(dir, 'upgrade.db');
    const first = await openSqliteStore(path);
    const record = {
      id: 'stability-gpu-1-x',
      incidentId: null,
      at: '2025-08-25T03:10:00.000Z',
      actor: 'user:sre',
      action: 'stability-test',
      reason: 'pass',
      evidence: { report: { node: 'gpu-1' } },
      result: 'pass',
      durationMs: 60_000,
    };
    await first.appendAudit(record);
    await first.close();
    // Back to how a version-1 build left the file.
    const old = new Database(path);
    old.exec(
      "DROP INDEX audit_by_action; DELETE FROM schema_migrations WHERE version > 1; UPDATE meta SET value = '1' WHERE key = 'schema.version'",
    );
    old.close();
    const upgraded = await openSqliteStore(path);
    expect(await upgraded.findAudit({ action: 'stability-test', node: 'gpu-1' })).toEqual([record]);
    await upgraded.close();
    const db = new Database(path, { readonly: true });
    const plan = db
      .prepare('EXPLAIN QUERY PLAN SELECT * FROM audit WHERE action = ? ORDER BY at DESC, seq DESC')
      .all('stability-test') as { detail: string }[];
    expect(plan.map((p) => p.detail).join('\n')).toContain('audit_by_action');
    expect(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get()).toBe(
      SQLITE_MIGRATIONS.length,
    );
    db.close();
  });

  it('refuses a file with a newer schema with CONFLICT', async () => {
    const path = join(dir, 'future.db');
    await (await openSqliteStore(path)).close();
    const db = new Database(path);
    db.prepare(
      "INSERT INTO schema_migrations VALUES (9, 'from-the-future', '2030-01-01T00:00:00.000Z')",
    ).run();
    db.close();
    const error = await failure(openSqliteStore(path));
    expect([error.code, error.message]).toEqual([
      'CONFLICT',
      expect.stringContaining(`sqlite:${path} has schema version 9`) as string,
    ]);
  });

  it('refuses UPDATE and DELETE of timeline and audit rows in the file itself', async () => {
    const path = join(dir, 'append-only.db');
    const store = await openSqliteStore(path);
    await store.createIncident(incident('i'));
    await store.appendAudit({
      id: 'a',
      incidentId: 'i',
      at: '2025-08-25T04:03:00Z',
      actor: 'test',
      action: 'cordon',
      reason: 'r',
      evidence: {},
      result: 'succeeded',
      durationMs: 1,
    });
    await store.close();
    const db = new Database(path);
    for (const statement of [
      "UPDATE timeline SET message = 'rewritten'",
      'DELETE FROM timeline',
      "UPDATE audit SET result = 'failed'",
      'DELETE FROM audit',
    ]) {
      expect(() => db.prepare(statement).run()).toThrow(/append-only/);
    }
    db.close();
  });

  it('is UNAVAILABLE, naming the file, when its directory does not exist', async () => {
    const path = join(dir, 'no-such-dir', 'x.db');
    const error = await failure(openSqliteStore(path));
    expect([error.code, error.message, error.hint]).toEqual([
      'UNAVAILABLE',
      expect.stringContaining(path) as string,
      expect.stringContaining('NODEWARDEN_DATA_DIR') as string,
    ]);
  });

  it('is UNAVAILABLE when the file is not a database', async () => {
    const path = join(dir, 'not-a-db.db');
    writeFileSync(path, 'this is a text file, not SQLite\n'.repeat(200));
    const error = await failure(openSqliteStore(path));
    expect([error.code, error.message]).toEqual([
      'UNAVAILABLE',
      expect.stringContaining(path) as string,
    ]);
  });

  it('is UNAVAILABLE, after its busy timeout, while another process holds the write lock', async () => {
    const path = join(dir, 'locked.db');
    const store = await openSqliteStore(path, { busyTimeoutMs: 200 });
    await store.createIncident(incident('i'));
    const other = new Database(path);
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      const started = performance.now();
      const error = await failure(
        store.appendTimeline('i', [
          { at: '2025-08-25T04:05:00Z', kind: 'note', message: 'blocked' },
        ]),
      );
      expect(performance.now() - started).toBeGreaterThanOrEqual(150);
      expect([error.code, error.message, error.hint]).toEqual([
        'UNAVAILABLE',
        expect.stringContaining('locked') as string,
        expect.stringContaining('PostgreSQL') as string,
      ]);
    } finally {
      other.prepare('ROLLBACK').run();
      other.close();
    }
    // Once the lock is gone the same store writes again.
    await store.appendTimeline('i', [
      { at: '2025-08-25T04:06:00Z', kind: 'note', message: 'free' },
    ]);
    expect((await store.getIncident('i')).timeline).toHaveLength(2);
    await store.close();
  });

  it('refuses a retention that is not a positive integer', async () => {
    const error = await failure(openSqliteStore(MEMORY, { lastWordsRetention: 0 }));
    expect([error.code, error.message]).toEqual([
      'BAD_INPUT',
      expect.stringContaining('retention') as string,
    ]);
  });
});
