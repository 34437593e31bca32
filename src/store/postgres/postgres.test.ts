import pg from 'pg';
import { expect, it } from 'vitest';
import { NodeWardenError } from '../../core/errors.ts';
import { describeWithPostgres } from '../../../test/support/postgres.ts';
import { storeContract } from '../contract.ts';
import { POSTGRES_MIGRATIONS } from './migrations.ts';
import { MIGRATION_LOCK_KEY, openPostgresStore } from './postgres-store.ts';

let schemas = 0;
const freshSchema = () => `contract_${process.pid}_${(schemas += 1)}`;

async function failure(promise: Promise<unknown>): Promise<NodeWardenError> {
  const outcome = await promise.then(
    () => new Error('expected a failure'),
    (error: unknown) => error,
  );
  if (!(outcome instanceof NodeWardenError)) throw outcome;
  return outcome;
}

describeWithPostgres('PostgreSQL store', (server) => {
  storeContract('PostgreSQL (pg pool, JSONB)', async (options) => {
    const url = `${server().url}?schema=${freshSchema()}`;
    return {
      store: await openPostgresStore(url, options),
      reopen: () => openPostgresStore(url, options),
    };
  });

  const sql = async <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) => {
    const client = new pg.Client({ connectionString: server().url });
    await client.connect();
    try {
      return (await client.query<T>(text, params)).rows;
    } finally {
      await client.end();
    }
  };

  it('migrates once when several replicas open a fresh schema at the same moment', async () => {
    const schema = freshSchema();
    const url = `${server().url}?schema=${schema}`;
    const stores = await Promise.all(Array.from({ length: 6 }, () => openPostgresStore(url)));
    await Promise.all(stores.map((s) => s.close()));
    const rows = await sql<{ version: number; name: string }>(
      `SELECT version, name FROM ${schema}.schema_migrations ORDER BY version`,
    );
    expect(rows).toEqual(POSTGRES_MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    // The session lock was released by every opener.
    const held = await sql('SELECT 1 FROM pg_locks WHERE locktype = $1 AND objid = $2', [
      'advisory',
      MIGRATION_LOCK_KEY % 2 ** 32,
    ]);
    expect(held).toEqual([]);
  });

  it('keeps JSON in JSONB and instants in timestamptz', async () => {
    const schema = freshSchema();
    await (await openPostgresStore(`${server().url}?schema=${schema}`)).close();
    const columns = await sql<{ table_name: string; column_name: string; data_type: string }>(
      `SELECT table_name, column_name, data_type FROM information_schema.columns
       WHERE table_schema = $1 AND data_type IN ('jsonb', 'timestamp with time zone', 'json', 'text')
         AND column_name IN ('affected_pods', 'evidence', 'data', 'value', 'at', 'opened_at')
       ORDER BY table_name, column_name`,
      [schema],
    );
    expect(columns.map((c) => `${c.table_name}.${c.column_name}:${c.data_type}`)).toEqual([
      'audit.at:timestamp with time zone',
      'audit.evidence:jsonb',
      'incidents.affected_pods:jsonb',
      'incidents.opened_at:timestamp with time zone',
      'last_words.at:timestamp with time zone',
      'last_words.data:jsonb',
      'meta.value:jsonb',
      'timeline.at:timestamp with time zone',
    ]);
  });

  it('refuses UPDATE and DELETE of timeline and audit rows in the database itself', async () => {
    const schema = freshSchema();
    const store = await openPostgresStore(`${server().url}?schema=${schema}`);
    await store.createIncident({
      id: 'i',
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
    for (const statement of [
      `UPDATE ${schema}.timeline SET message = 'rewritten'`,
      `DELETE FROM ${schema}.timeline`,
      `UPDATE ${schema}.audit SET result = 'failed'`,
      `DELETE FROM ${schema}.audit`,
    ]) {
      await expect(sql(statement)).rejects.toThrow(/append-only/);
    }
  });

  it('refuses a schema newer than this NodeWarden with CONFLICT', async () => {
    const schema = freshSchema();
    const url = `${server().url}?schema=${schema}`;
    await (await openPostgresStore(url)).close();
    await sql(
      `INSERT INTO ${schema}.schema_migrations (version, name) VALUES (7, 'from-the-future')`,
    );
    const error = await failure(openPostgresStore(url));
    expect([error.code, error.message]).toEqual([
      'CONFLICT',
      expect.stringContaining(
        `schema version 7; this NodeWarden knows up to ${POSTGRES_MIGRATIONS.length}`,
      ) as string,
    ]);
  });

  it('is UNAVAILABLE, naming the address and not the password, when nothing listens', async () => {
    const url = 'postgres://nodewarden:s3cret@127.0.0.1:9/nodewarden';
    const error = await failure(openPostgresStore(url, { connectTimeoutMs: 2000 }));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toContain('127.0.0.1:9');
    expect(error.message).not.toContain('s3cret');
    expect(error.hint).toContain('PostgreSQL is running');
  });

  it('is UNAVAILABLE with a createdb hint when the database does not exist', async () => {
    const url = server().url.replace(/\/[^/]+$/, '/no_such_database');
    const error = await failure(openPostgresStore(url));
    expect([error.code, error.hint]).toEqual([
      'UNAVAILABLE',
      expect.stringContaining('createdb') as string,
    ]);
    expect(error.message).toContain('no_such_database');
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    const error = await failure(openPostgresStore(`${server().url}?schema=x;drop`));
    expect([error.code, error.message]).toEqual([
      'BAD_INPUT',
      expect.stringContaining('x;drop') as string,
    ]);
  });
});
