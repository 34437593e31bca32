/**
 * The incident store on PostgreSQL, for two controller replicas sharing one
 * database (node-postgres pool, parameterised queries only, JSONB for JSON).
 * Read-modify-write happens in one transaction with the row locked, so two
 * writers patching one incident both keep their fields.
 */
import pg from 'pg';
import { NodeWardenError, describeError } from '../../core/errors.ts';
import type { Incident, TimelineEntry } from '../../core/incident.ts';
import { silentLogger, type Logger } from '../../core/logger.ts';
import {
  auditExists,
  incidentExists,
  incidentNotFound,
  schemaTooNew,
  storeClosed,
} from '../errors.ts';
import { latestVersion } from '../migrations.ts';
import {
  DEFAULT_LAST_WORDS_RETENTION,
  SCHEMA_VERSION_KEY,
  type AuditQuery,
  type AuditRecord,
  type IncidentPatch,
  type IncidentQuery,
  type IncidentStore,
  type JsonValue,
  type LastWords,
  type StoreOptions,
} from '../port.ts';
import * as check from '../validate.ts';
import { POSTGRES_MIGRATIONS } from './migrations.ts';
import { parsePostgresUrl, type PostgresTarget } from './postgres-url.ts';

export interface PostgresStoreOptions extends StoreOptions {
  /** Pool size; default 10. */
  readonly maxConnections?: number;
  /** Give up connecting after this long; default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** Server-side limit per statement (migration lock waits included); default 30000 ms. */
  readonly statementTimeoutMs?: number;
  readonly logger?: Logger;
}

/** pg_advisory_lock key that serialises migrations across replicas ("NWSTOR" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x4e57_5354_4f52;
/** First half of the two-int advisory lock that serialises one node's last-words series. */
const LAST_WORDS_LOCK_CLASS = 0x4e57;

interface IncidentRow {
  id: string;
  kind: Incident['kind'];
  status: Incident['status'];
  opened_at: Date;
  resolved_at: Date | null;
  last_heartbeat_at: Date | null;
  root_cause: Incident['rootCause'];
  summary: string;
  affected_pods: Incident['affectedPods'];
}

interface TimelineRow {
  incident_id: string;
  at: Date;
  kind: TimelineEntry['kind'];
  message: string;
  node: string | null;
}

interface AuditRow {
  id: string;
  incident_id: string | null;
  at: Date;
  actor: string;
  action: string;
  reason: string;
  evidence: JsonValue;
  result: string;
  duration_ms: number;
}

const iso = (d: Date): string => d.toISOString();
const isoOrNull = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function auditRecord(r: AuditRow): AuditRecord {
  return {
    id: r.id,
    incidentId: r.incident_id,
    at: iso(r.at),
    actor: r.actor,
    action: r.action,
    reason: r.reason,
    evidence: r.evidence,
    result: r.result,
    durationMs: r.duration_ms,
  };
}

function sqlState(error: unknown): string {
  return error instanceof pg.DatabaseError ? (error.code ?? '') : '';
}

/** Error codes of a failed connection, including each of an AggregateError's attempts. */
function networkCodes(error: unknown): string[] {
  if (!(error instanceof Error)) return [];
  const own = 'code' in error && typeof error.code === 'string' ? [error.code] : [];
  const inner = error instanceof AggregateError ? error.errors.flatMap(networkCodes) : [];
  return [...own, ...inner];
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EPIPE',
  'ENOENT',
]);

/** Maps what node-postgres threw to the port's codes; the address is in every UNAVAILABLE. */
function storeError(error: unknown, where: string): NodeWardenError {
  if (error instanceof NodeWardenError) return error;
  const state = sqlState(error);
  const why = describeError(error) || String(networkCodes(error)[0] ?? 'unknown error');
  const unavailable = (hint: string) =>
    new NodeWardenError('UNAVAILABLE', `cannot use the PostgreSQL store at ${where}: ${why}`, {
      hint,
      cause: error,
    });
  if (state === '3D000')
    return unavailable('create the database (createdb) or fix its name in the URL');
  if (state === '28P01' || state === '28000') {
    return unavailable('check the user and password in the store URL (or PGPASSWORD / ~/.pgpass)');
  }
  if (state === '42501' || state === '3F000') {
    return unavailable(
      'grant the user CREATE on the database or schema, or point ?schema= at one it owns',
    );
  }
  if (state === '57014') {
    return new NodeWardenError(
      'TIMEOUT',
      `the PostgreSQL store at ${where} did not answer in time: ${why}`,
      {
        hint: 'check for long-running locks (pg_stat_activity) or raise statementTimeoutMs',
        cause: error,
      },
    );
  }
  if (
    state.startsWith('08') ||
    state.startsWith('57P') ||
    state === '53300' ||
    networkCodes(error).some((code) => NETWORK_CODES.has(code)) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
      why,
    )
  ) {
    return unavailable(
      'check that PostgreSQL is running and reachable at that address, and the URL is right',
    );
  }
  return new NodeWardenError('INTERNAL', `PostgreSQL store at ${where}: ${why}`, {
    hint: 'this is a NodeWarden bug; report it with the message above',
    cause: error,
  });
}

type Client = pg.PoolClient;

export class PostgresIncidentStore implements IncidentStore {
  readonly #pool: pg.Pool;
  readonly #target: PostgresTarget;
  readonly #retention: number;
  readonly #logger: Logger;
  #closed = false;

  private constructor(pool: pg.Pool, target: PostgresTarget, retention: number, logger: Logger) {
    this.#pool = pool;
    this.#target = target;
    this.#retention = retention;
    this.#logger = logger;
  }

  /** Connects, creates `?schema=` if asked, and migrates under an advisory lock. */
  static async open(
    url: string,
    options: PostgresStoreOptions = {},
  ): Promise<PostgresIncidentStore> {
    const retention = check.retention(options.lastWordsRetention ?? DEFAULT_LAST_WORDS_RETENTION);
    const target = parsePostgresUrl(url);
    const logger = (options.logger ?? silentLogger).child({ store: target.where });
    const settings = [
      // Acknowledged means durable even if the server's default says otherwise.
      '-c synchronous_commit=on',
      ...(target.schema === null ? [] : [`-c search_path=${target.schema}`]),
    ];
    const pool = new pg.Pool({
      connectionString: target.connectionString,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
      application_name: 'nodewarden',
      options: settings.join(' '),
    });
    // An idle connection that dies (server restart) must not crash the process;
    // the next query gets a fresh connection or an UNAVAILABLE.
    pool.on('error', (error) => {
      logger.log('warn', 'idle PostgreSQL connection failed', { error: describeError(error) });
    });
    try {
      await migrate(pool, target);
    } catch (error) {
      await pool.end();
      throw storeError(error, target.where);
    }
    return new PostgresIncidentStore(pool, target, retention, logger);
  }

  /** Where this store lives, password masked. */
  get location(): string {
    return this.#target.where;
  }

  createIncident(incident: Incident): Promise<Incident> {
    return this.#tx(async (c) => {
      const inc = check.incident(incident);
      try {
        await c.query(
          `INSERT INTO incidents (id, kind, status, opened_at, resolved_at, last_heartbeat_at, root_cause, summary, affected_pods)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)`,
          [
            inc.id,
            inc.kind,
            inc.status,
            inc.openedAt,
            inc.resolvedAt,
            inc.lastHeartbeatAt,
            inc.rootCause,
            inc.summary,
            JSON.stringify(inc.affectedPods),
          ],
        );
      } catch (error) {
        if (sqlState(error) === '23505') throw incidentExists(inc.id);
        throw error;
      }
      await insertNodes(c, inc.id, inc.nodes);
      await insertTimeline(c, inc.id, inc.timeline);
      return this.#load(c, inc.id);
    });
  }

  getIncident(id: string): Promise<Incident> {
    return this.#read((c) => this.#load(c, check.id(id)));
  }

  listIncidents(query?: IncidentQuery): Promise<Incident[]> {
    return this.#read(async (c) => {
      const q = check.query(query);
      const { rows } = await c.query<IncidentRow>(
        `SELECT * FROM incidents i
         WHERE ($1::text IS NULL OR i.status = $1)
           AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM incident_nodes n WHERE n.incident_id = i.id AND n.node = $2))
           AND ($3::timestamptz IS NULL OR i.opened_at < $3)
         ORDER BY i.opened_at DESC, i.id COLLATE "C" DESC
         LIMIT $4`,
        [q.status ?? null, q.node ?? null, q.before ?? null, q.limit],
      );
      return hydrate(c, rows);
    });
  }

  findOpenIncident(node: string): Promise<Incident | null> {
    return this.#read(async (c) => {
      const { rows } = await c.query<IncidentRow>(
        `SELECT i.* FROM incidents i JOIN incident_nodes n ON n.incident_id = i.id
         WHERE n.node = $1 AND i.status = 'open'
         ORDER BY i.opened_at DESC, i.id COLLATE "C" DESC LIMIT 1`,
        [check.nodeName(node)],
      );
      return (await hydrate(c, rows))[0] ?? null;
    });
  }

  updateIncident(id: string, patch: IncidentPatch): Promise<Incident> {
    return this.#tx(async (c) => {
      const incidentId = check.id(id);
      // FOR UPDATE: a concurrent patch waits and then merges into our result.
      const { rows } = await c.query<IncidentRow>(
        'SELECT * FROM incidents WHERE id = $1 FOR UPDATE',
        [incidentId],
      );
      const current = (await hydrate(c, rows))[0];
      if (current === undefined) throw incidentNotFound(incidentId);
      const next = check.patched(current, patch);
      await c.query(
        `UPDATE incidents SET status = $2, resolved_at = $3, last_heartbeat_at = $4, root_cause = $5, summary = $6, affected_pods = $7::jsonb
         WHERE id = $1`,
        [
          incidentId,
          next.status,
          next.resolvedAt,
          next.lastHeartbeatAt,
          next.rootCause,
          next.summary,
          JSON.stringify(next.affectedPods),
        ],
      );
      if (patch.nodes !== undefined) {
        await c.query('DELETE FROM incident_nodes WHERE incident_id = $1', [incidentId]);
        await insertNodes(c, incidentId, next.nodes);
      }
      return this.#load(c, incidentId);
    });
  }

  appendTimeline(id: string, entries: readonly TimelineEntry[]): Promise<void> {
    return this.#tx(async (c) => {
      const incidentId = check.id(id);
      const checked = check.timeline(entries, 'entries');
      const { rowCount } = await c.query('SELECT 1 FROM incidents WHERE id = $1', [incidentId]);
      if (rowCount === 0) throw incidentNotFound(incidentId);
      await insertTimeline(c, incidentId, checked);
    });
  }

  appendAudit(record: AuditRecord): Promise<void> {
    return this.#tx(async (c) => {
      const { record: r, evidenceJson } = check.audit(record);
      try {
        await c.query(
          `INSERT INTO audit (id, incident_id, at, actor, action, reason, evidence, result, duration_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)`,
          [
            r.id,
            r.incidentId,
            r.at,
            r.actor,
            r.action,
            r.reason,
            evidenceJson,
            r.result,
            r.durationMs,
          ],
        );
      } catch (error) {
        if (sqlState(error) === '23505') throw auditExists(r.id);
        if (sqlState(error) === '23503' && r.incidentId !== null)
          throw incidentNotFound(r.incidentId);
        throw error;
      }
    });
  }

  listAudit(incidentId: string | null): Promise<AuditRecord[]> {
    return this.#read(async (c) => {
      const wanted = incidentId === null ? null : check.id(incidentId, 'incidentId');
      if (wanted !== null) {
        const { rowCount } = await c.query('SELECT 1 FROM incidents WHERE id = $1', [wanted]);
        if (rowCount === 0) throw incidentNotFound(wanted);
      }
      const { rows } = await c.query<AuditRow>(
        'SELECT * FROM audit WHERE incident_id IS NOT DISTINCT FROM $1 ORDER BY at, seq',
        [wanted],
      );
      return rows.map(auditRecord);
    });
  }

  findAudit(query: AuditQuery): Promise<AuditRecord[]> {
    return this.#read(async (c) => {
      const q = check.auditQuery(query);
      // The node an audit record is about: a string evidence.node, else a string evidence.report.node.
      const { rows } = await c.query<AuditRow>(
        `SELECT * FROM audit
         WHERE action = $1
           AND ($2::text IS NULL OR id = $2)
           AND ($3::text IS NULL OR CASE
                 WHEN jsonb_typeof(evidence -> 'node') = 'string' THEN evidence ->> 'node'
                 WHEN jsonb_typeof(evidence -> 'report' -> 'node') = 'string' THEN evidence -> 'report' ->> 'node'
               END = $3)
         ORDER BY at DESC, seq DESC
         LIMIT $4`,
        [q.action, q.id, q.node, q.limit],
      );
      return rows.map(auditRecord);
    });
  }

  putLastWords(node: string, at: string, kind: string, data: JsonValue): Promise<void> {
    return this.#tx(async (c) => {
      const n = check.nodeName(node);
      const k = check.lastWordsKind(kind);
      const when = check.instant(at, 'last words at');
      const json = check.jsonText(data, 'last words data');
      // Two agents' batches for one series take turns, so the bound holds exactly.
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
        LAST_WORDS_LOCK_CLASS,
        `${n}\n${k}`,
      ]);
      await c.query(
        'INSERT INTO last_words (node, kind, at, data) VALUES ($1, $2, $3, $4::jsonb)',
        [n, k, when, json],
      );
      // Retention: newest by time (then arrival) survive; a late blob with an old time is the first to go.
      await c.query(
        `DELETE FROM last_words WHERE node = $1 AND kind = $2 AND seq NOT IN (
           SELECT seq FROM last_words WHERE node = $1 AND kind = $2
           ORDER BY at DESC, seq DESC LIMIT $3)`,
        [n, k, this.#retention],
      );
    });
  }

  lastWords(node: string, sinceIso: string): Promise<LastWords[]> {
    return this.#read(async (c) => {
      const { rows } = await c.query<{ node: string; at: Date; kind: string; data: JsonValue }>(
        'SELECT node, at, kind, data FROM last_words WHERE node = $1 AND at >= $2 ORDER BY at, seq',
        [check.nodeName(node), check.instant(sinceIso, 'since')],
      );
      return rows.map((r) => ({ node: r.node, at: iso(r.at), kind: r.kind, data: r.data }));
    });
  }

  latestLastWords(kind: string): Promise<LastWords[]> {
    return this.#read(async (c) => {
      const { rows } = await c.query<{ node: string; at: Date; kind: string; data: JsonValue }>(
        `SELECT DISTINCT ON (node) node, at, kind, data FROM last_words
          WHERE kind = $1 ORDER BY node, at DESC, seq DESC`,
        [check.lastWordsKind(kind)],
      );
      // Sorted here, not by the database's collation, so both adapters agree.
      return check.byNode(
        rows.map((r) => ({ node: r.node, at: iso(r.at), kind: r.kind, data: r.data })),
      );
    });
  }

  getMeta(key: string): Promise<JsonValue | undefined> {
    return this.#read(async (c) => {
      const { rows } = await c.query<{ value: JsonValue }>(
        'SELECT value FROM meta WHERE key = $1',
        [check.metaKey(key)],
      );
      return rows[0]?.value;
    });
  }

  setMeta(key: string, value: JsonValue): Promise<void> {
    return this.#tx(async (c) => {
      await setMeta(c, check.metaKey(key), check.jsonText(value, `meta ${key}`));
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #load(c: Client, incidentId: string): Promise<Incident> {
    const { rows } = await c.query<IncidentRow>('SELECT * FROM incidents WHERE id = $1', [
      incidentId,
    ]);
    const incident = (await hydrate(c, rows))[0];
    if (incident === undefined) throw incidentNotFound(incidentId);
    return incident;
  }

  /** A read-only snapshot, so an incident and its timeline are read as of one instant. */
  #read<T>(body: (c: Client) => Promise<T>): Promise<T> {
    return this.#within('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', body);
  }

  #tx<T>(body: (c: Client) => Promise<T>): Promise<T> {
    return this.#within('BEGIN', body);
  }

  async #within<T>(begin: string, body: (c: Client) => Promise<T>): Promise<T> {
    if (this.#closed) throw storeClosed(this.#target.where);
    let client: Client;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw storeError(error, this.#target.where);
    }
    let broken: Error | undefined;
    // node-postgres emits a lost connection as 'error' on the checked-out
    // client; unheard, that event would kill the process. Heard, the query
    // in flight fails (UNAVAILABLE) and the connection is discarded.
    const onLost = (error: Error) => {
      broken = error;
    };
    client.on('error', onLost);
    try {
      await client.query(begin);
      const result = await body(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        // The connection is gone; drop it from the pool rather than reuse it.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        this.#logger.log('warn', 'ROLLBACK failed; discarding the connection', {
          error: describeError(rollbackError),
        });
      }
      throw storeError(error, this.#target.where);
    } finally {
      client.off('error', onLost);
      client.release(broken);
    }
  }
}

async function insertNodes(c: Client, incidentId: string, nodes: readonly string[]): Promise<void> {
  await c.query(
    `INSERT INTO incident_nodes (incident_id, node, position)
     SELECT $1, node, (ord - 1)::integer FROM unnest($2::text[]) WITH ORDINALITY AS t (node, ord)`,
    [incidentId, nodes],
  );
}

async function insertTimeline(
  c: Client,
  incidentId: string,
  entries: readonly TimelineEntry[],
): Promise<void> {
  if (entries.length === 0) return;
  // ORDER BY ord: identity values follow the caller's order, which is the tie-break for equal times.
  await c.query(
    `INSERT INTO timeline (incident_id, at, kind, message, node)
     SELECT $1, at, kind, message, node
     FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
       AS t (at, kind, message, node, ord)
     ORDER BY ord`,
    [
      incidentId,
      entries.map((e) => e.at),
      entries.map((e) => e.kind),
      entries.map((e) => e.message),
      entries.map((e) => e.node ?? null),
    ],
  );
}

/** Incident rows plus their nodes and timelines, in two queries whatever the number of rows. */
async function hydrate(c: Client, rows: readonly IncidentRow[]): Promise<Incident[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const nodes = await c.query<{ incident_id: string; node: string }>(
    'SELECT incident_id, node FROM incident_nodes WHERE incident_id = ANY($1) ORDER BY incident_id, position',
    [ids],
  );
  const timeline = await c.query<TimelineRow>(
    'SELECT incident_id, at, kind, message, node FROM timeline WHERE incident_id = ANY($1) ORDER BY at, seq',
    [ids],
  );
  const nodesOf = new Map<string, string[]>();
  for (const n of nodes.rows)
    nodesOf.set(n.incident_id, [...(nodesOf.get(n.incident_id) ?? []), n.node]);
  const timelineOf = new Map<string, TimelineEntry[]>();
  for (const t of timeline.rows) {
    const list = timelineOf.get(t.incident_id) ?? [];
    list.push({
      at: iso(t.at),
      kind: t.kind,
      message: t.message,
      ...(t.node === null ? {} : { node: t.node }),
    });
    timelineOf.set(t.incident_id, list);
  }
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    status: r.status,
    nodes: nodesOf.get(r.id) ?? [],
    openedAt: iso(r.opened_at),
    resolvedAt: isoOrNull(r.resolved_at),
    lastHeartbeatAt: isoOrNull(r.last_heartbeat_at),
    rootCause: r.root_cause,
    summary: r.summary,
    timeline: timelineOf.get(r.id) ?? [],
    affectedPods: r.affected_pods,
  }));
}

async function setMeta(c: Client, key: string, json: string): Promise<void> {
  await c.query(
    'INSERT INTO meta (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    [key, json],
  );
}

/**
 * Applies the missing migrations in one transaction while holding a session
 * advisory lock: two replicas starting together take turns, and the second
 * finds the work done instead of racing on CREATE TABLE.
 */
async function migrate(pool: pg.Pool, target: PostgresTarget): Promise<void> {
  const latest = latestVersion(POSTGRES_MIGRATIONS);
  const client = await pool.connect();
  let broken: Error | undefined;
  const onLost = (error: Error) => {
    broken = error;
  };
  client.on('error', onLost);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      if (target.schema !== null) {
        // The name passed SCHEMA_NAME's identifier check, so quoting it is enough.
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${target.schema}"`);
      }
      await client.query('BEGIN');
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ v: number }>(
        'SELECT coalesce(max(version), 0)::integer AS v FROM schema_migrations',
      );
      const applied = rows[0]?.v ?? 0;
      if (applied > latest) throw schemaTooNew(target.where, applied, latest);
      for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version > applied)) {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
          m.version,
          m.name,
        ]);
      }
      if (applied < latest) await setMeta(client, SCHEMA_VERSION_KEY, JSON.stringify(latest));
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      if (broken === undefined) {
        await client
          .query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
          .catch((unlockError: unknown) => {
            // Closing the session releases the lock anyway; make sure it is closed.
            broken = unlockError instanceof Error ? unlockError : new Error(String(unlockError));
          });
      }
    }
  } finally {
    client.off('error', onLost);
    client.release(broken);
  }
}

/** Opens (and migrates) a PostgreSQL store. */
export function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresIncidentStore> {
  return PostgresIncidentStore.open(url, options);
}
