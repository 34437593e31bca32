/**
 * The default incident store: one SQLite file through better-sqlite3 (or
 * `:memory:` for tests and the demo). better-sqlite3 is synchronous, so every
 * call runs to completion before the next starts: the port's promises resolve
 * only after the transaction has committed.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { NodeWardenError, describeError } from '../../core/errors.ts';
import type { Incident, TimelineEntry } from '../../core/incident.ts';
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
import { SQLITE_MIGRATIONS } from './migrations.ts';

export const MEMORY = ':memory:';

export interface SqliteStoreOptions extends StoreOptions {
  /** How long a write waits for another process's lock before UNAVAILABLE. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** Create the file's directory (mode 0700) if it is missing; for the default data dir. */
  readonly createDir?: boolean;
}

interface IncidentRow {
  id: string;
  kind: Incident['kind'];
  status: Incident['status'];
  opened_at: string;
  resolved_at: string | null;
  last_heartbeat_at: string | null;
  root_cause: Incident['rootCause'];
  summary: string;
  affected_pods: string;
}

interface TimelineRow {
  at: string;
  kind: TimelineEntry['kind'];
  message: string;
  node: string | null;
}

interface AuditRow {
  id: string;
  incident_id: string | null;
  at: string;
  actor: string;
  action: string;
  reason: string;
  evidence: string;
  result: string;
  duration_ms: number;
}

interface LastWordsRow {
  node: string;
  at: string;
  kind: string;
  data: string;
}

function auditRecord(r: AuditRow): AuditRecord {
  return {
    id: r.id,
    incidentId: r.incident_id,
    at: r.at,
    actor: r.actor,
    action: r.action,
    reason: r.reason,
    evidence: check.parseJson(r.evidence),
    result: r.result,
    durationMs: r.duration_ms,
  };
}

function sqliteCode(error: unknown): string {
  return error instanceof Database.SqliteError ? error.code : '';
}

/** Maps what SQLite threw to the port's codes; anything unexpected stays INTERNAL with its cause. */
function storeError(error: unknown, where: string): NodeWardenError {
  if (error instanceof NodeWardenError) return error;
  const code = sqliteCode(error);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new NodeWardenError(
      'UNAVAILABLE',
      `the SQLite store ${where} is locked by another writer`,
      {
        hint: 'another NodeWarden process holds the database; run one controller per SQLite file, or use PostgreSQL for two',
        cause: error,
      },
    );
  }
  if (
    code.startsWith('SQLITE_CANTOPEN') ||
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_IOERR') ||
    code.startsWith('SQLITE_PERM') ||
    code === 'SQLITE_FULL' ||
    code === 'SQLITE_NOTADB' ||
    code.startsWith('SQLITE_CORRUPT') ||
    (error instanceof TypeError && /directory does not exist/.test(error.message))
  ) {
    return new NodeWardenError(
      'UNAVAILABLE',
      `cannot use the SQLite store ${where}: ${describeError(error)}`,
      {
        hint: 'check that the directory exists and is writable and the disk is not full, or set NODEWARDEN_DATA_DIR',
        cause: error,
      },
    );
  }
  return new NodeWardenError('INTERNAL', `SQLite store ${where}: ${describeError(error)}`, {
    hint: 'this is a NodeWarden bug; report it with the message above',
    cause: error,
  });
}

export class SqliteIncidentStore implements IncidentStore {
  readonly #db: Database.Database;
  readonly #where: string;
  readonly #retention: number;
  readonly #statements = new Map<string, Database.Statement>();
  #closed = false;

  private constructor(db: Database.Database, where: string, retention: number) {
    this.#db = db;
    this.#where = where;
    this.#retention = retention;
  }

  /**
   * Opens (creating if needed) and migrates the store at `path`.
   * Pragmas, and why:
   * - journal_mode=WAL: readers never block the writer, and a killed process
   *   leaves a log SQLite replays on the next open.
   * - synchronous=FULL: in WAL mode NORMAL may lose the last commits on power
   *   loss; we acknowledge a write only once it is on disk, because the
   *   audit trail and a resumed remediation must not forget an action taken.
   * - busy_timeout: a second process (the CLI reading while the controller
   *   writes) waits briefly instead of failing at once.
   * - foreign_keys=ON: SQLite leaves them off unless asked.
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteIncidentStore {
    const retention = check.retention(options.lastWordsRetention ?? DEFAULT_LAST_WORDS_RETENTION);
    const where = path === MEMORY ? 'sqlite::memory:' : `sqlite:${path}`;
    let db: Database.Database | undefined;
    try {
      if (options.createDir === true && path !== MEMORY) {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      }
      db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
      if (path !== MEMORY) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db, where);
      return new SqliteIncidentStore(db, where, retention);
    } catch (error) {
      db?.close();
      if (error instanceof Error && 'code' in error && error.code === 'EACCES') {
        throw new NodeWardenError('UNAVAILABLE', `cannot create the directory of ${where}`, {
          hint: 'set NODEWARDEN_DATA_DIR to a directory you can write',
          cause: error,
        });
      }
      throw storeError(error, where);
    }
  }

  /** Where this store lives, as a store URL. */
  get location(): string {
    return this.#where;
  }

  /** The connection's durability settings as SQLite reports them (see `open` for why). */
  settings(): Promise<{
    journalMode: string;
    synchronous: string;
    foreignKeys: boolean;
    busyTimeoutMs: number;
  }> {
    return this.#call(() => {
      const synchronous = this.#db.pragma('synchronous', { simple: true }) as number;
      return {
        journalMode: String(this.#db.pragma('journal_mode', { simple: true })),
        synchronous: ['OFF', 'NORMAL', 'FULL', 'EXTRA'][synchronous] ?? String(synchronous),
        foreignKeys: this.#db.pragma('foreign_keys', { simple: true }) === 1,
        busyTimeoutMs: this.#db.pragma('busy_timeout', { simple: true }) as number,
      };
    });
  }

  /**
   * SQLite's own consistency checks (page structure and foreign keys); an
   * empty list means the file is sound. For the crash test and `store check`.
   */
  integrityProblems(): Promise<string[]> {
    return this.#call(() => {
      const pages = this.#db.pragma('integrity_check') as { integrity_check: string }[];
      const keys = this.#db.pragma('foreign_key_check') as { table: string; rowid: number }[];
      return [
        ...pages.map((r) => r.integrity_check).filter((r) => r !== 'ok'),
        ...keys.map((r) => `${r.table} row ${r.rowid} points at a missing parent`),
      ];
    });
  }

  createIncident(incident: Incident): Promise<Incident> {
    return this.#call(() => {
      const inc = check.incident(incident);
      this.#db
        .transaction(() => {
          if (this.#exists(inc.id)) throw incidentExists(inc.id);
          this.#sql(
            `INSERT INTO incidents (id, kind, status, opened_at, resolved_at, last_heartbeat_at, root_cause, summary, affected_pods)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(
            inc.id,
            inc.kind,
            inc.status,
            inc.openedAt,
            inc.resolvedAt,
            inc.lastHeartbeatAt,
            inc.rootCause,
            inc.summary,
            JSON.stringify(inc.affectedPods),
          );
          this.#insertNodes(inc.id, inc.nodes);
          this.#insertTimeline(inc.id, inc.timeline);
        })
        .immediate();
      return this.#load(inc.id);
    });
  }

  getIncident(id: string): Promise<Incident> {
    return this.#call(() => this.#read(() => this.#load(check.id(id))));
  }

  listIncidents(query?: IncidentQuery): Promise<Incident[]> {
    return this.#call(() => {
      const q = check.query(query);
      return this.#read(() => {
        const rows = this.#sql(
          `SELECT * FROM incidents i
           WHERE (@status IS NULL OR i.status = @status)
             AND (@node IS NULL OR EXISTS (SELECT 1 FROM incident_nodes n WHERE n.incident_id = i.id AND n.node = @node))
             AND (@before IS NULL OR i.opened_at < @before)
           ORDER BY i.opened_at DESC, i.id DESC
           LIMIT @limit`,
        ).all({
          status: q.status ?? null,
          node: q.node ?? null,
          before: q.before ?? null,
          limit: q.limit,
        }) as IncidentRow[];
        return rows.map((row) => this.#hydrate(row));
      });
    });
  }

  findOpenIncident(node: string): Promise<Incident | null> {
    return this.#call(() => {
      const wanted = check.nodeName(node);
      return this.#read(() => {
        const row = this.#sql(
          `SELECT i.* FROM incidents i JOIN incident_nodes n ON n.incident_id = i.id
           WHERE n.node = ? AND i.status = 'open'
           ORDER BY i.opened_at DESC, i.id DESC LIMIT 1`,
        ).get(wanted) as IncidentRow | undefined;
        return row === undefined ? null : this.#hydrate(row);
      });
    });
  }

  updateIncident(id: string, patch: IncidentPatch): Promise<Incident> {
    return this.#call(() => {
      const incidentId = check.id(id);
      return this.#db
        .transaction(() => {
          const next = check.patched(this.#load(incidentId), patch);
          this.#sql(
            `UPDATE incidents SET status = ?, resolved_at = ?, last_heartbeat_at = ?, root_cause = ?, summary = ?, affected_pods = ?
               WHERE id = ?`,
          ).run(
            next.status,
            next.resolvedAt,
            next.lastHeartbeatAt,
            next.rootCause,
            next.summary,
            JSON.stringify(next.affectedPods),
            incidentId,
          );
          if (patch.nodes !== undefined) {
            this.#sql('DELETE FROM incident_nodes WHERE incident_id = ?').run(incidentId);
            this.#insertNodes(incidentId, next.nodes);
          }
          return this.#load(incidentId);
        })
        .immediate();
    });
  }

  appendTimeline(id: string, entries: readonly TimelineEntry[]): Promise<void> {
    return this.#call(() => {
      const incidentId = check.id(id);
      const checked = check.timeline(entries, 'entries');
      this.#db
        .transaction(() => {
          if (!this.#exists(incidentId)) throw incidentNotFound(incidentId);
          this.#insertTimeline(incidentId, checked);
        })
        .immediate();
    });
  }

  appendAudit(record: AuditRecord): Promise<void> {
    return this.#call(() => {
      const { record: r, evidenceJson } = check.audit(record);
      this.#db
        .transaction(() => {
          if (r.incidentId !== null && !this.#exists(r.incidentId)) {
            throw incidentNotFound(r.incidentId);
          }
          if (this.#sql('SELECT 1 FROM audit WHERE id = ?').get(r.id) !== undefined) {
            throw auditExists(r.id);
          }
          this.#sql(
            `INSERT INTO audit (id, incident_id, at, actor, action, reason, evidence, result, duration_ms)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          ).run(
            r.id,
            r.incidentId,
            r.at,
            r.actor,
            r.action,
            r.reason,
            evidenceJson,
            r.result,
            r.durationMs,
          );
        })
        .immediate();
    });
  }

  listAudit(incidentId: string | null): Promise<AuditRecord[]> {
    return this.#call(() => {
      const wanted = incidentId === null ? null : check.id(incidentId, 'incidentId');
      if (wanted !== null && !this.#exists(wanted)) throw incidentNotFound(wanted);
      const rows = this.#sql('SELECT * FROM audit WHERE incident_id IS ? ORDER BY at, seq').all(
        wanted,
      ) as AuditRow[];
      return rows.map(auditRecord);
    });
  }

  findAudit(query: AuditQuery): Promise<AuditRecord[]> {
    return this.#call(() => {
      const q = check.auditQuery(query);
      // The node an audit record is about: a string evidence.node, else a string evidence.report.node.
      const rows = this.#sql(
        `SELECT * FROM audit
         WHERE action = @action
           AND (@id IS NULL OR id = @id)
           AND (@node IS NULL OR CASE
                 WHEN json_type(evidence, '$.node') = 'text' THEN json_extract(evidence, '$.node')
                 WHEN json_type(evidence, '$.report.node') = 'text' THEN json_extract(evidence, '$.report.node')
               END = @node)
         ORDER BY at DESC, seq DESC
         LIMIT @limit`,
      ).all({ ...q, limit: q.limit ?? -1 }) as AuditRow[];
      return rows.map(auditRecord);
    });
  }

  putLastWords(node: string, at: string, kind: string, data: JsonValue): Promise<void> {
    return this.#call(() => {
      const row = {
        node: check.nodeName(node),
        at: check.instant(at, 'last words at'),
        kind: check.lastWordsKind(kind),
        data: check.jsonText(data, 'last words data'),
      };
      this.#db
        .transaction(() => {
          this.#sql(
            'INSERT INTO last_words (node, kind, at, data) VALUES (@node, @kind, @at, @data)',
          ).run(row);
          // Retention: newest by time (then arrival) survive; a late blob with an old time is the first to go.
          this.#sql(
            `DELETE FROM last_words WHERE node = @node AND kind = @kind AND seq NOT IN (
                 SELECT seq FROM last_words WHERE node = @node AND kind = @kind
                 ORDER BY at DESC, seq DESC LIMIT @keep)`,
          ).run({ node: row.node, kind: row.kind, keep: this.#retention });
        })
        .immediate();
    });
  }

  lastWords(node: string, sinceIso: string): Promise<LastWords[]> {
    return this.#call(() => {
      const rows = this.#sql(
        'SELECT node, at, kind, data FROM last_words WHERE node = ? AND at >= ? ORDER BY at, seq',
      ).all(check.nodeName(node), check.instant(sinceIso, 'since')) as LastWordsRow[];
      return rows.map((r) => ({
        node: r.node,
        at: r.at,
        kind: r.kind,
        data: check.parseJson(r.data),
      }));
    });
  }

  latestLastWords(kind: string): Promise<LastWords[]> {
    return this.#call(() => {
      const rows = this.#sql(
        `SELECT node, at, kind, data FROM last_words AS l WHERE kind = @kind AND seq = (
           SELECT seq FROM last_words WHERE node = l.node AND kind = @kind
           ORDER BY at DESC, seq DESC LIMIT 1)`,
      ).all({ kind: check.lastWordsKind(kind) }) as LastWordsRow[];
      return check.byNode(
        rows.map((r) => ({ node: r.node, at: r.at, kind: r.kind, data: check.parseJson(r.data) })),
      );
    });
  }

  getMeta(key: string): Promise<JsonValue | undefined> {
    return this.#call(() => {
      const row = this.#sql('SELECT value FROM meta WHERE key = ?').get(check.metaKey(key)) as
        { value: string } | undefined;
      return row === undefined ? undefined : check.parseJson(row.value);
    });
  }

  setMeta(key: string, value: JsonValue): Promise<void> {
    return this.#call(() => {
      setMeta(this.#db, check.metaKey(key), check.jsonText(value, `meta ${key}`));
    });
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }

  /** Runs a synchronous body as the port's promise, with errors mapped to the port's codes. */
  #call<T>(body: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(storeClosed(this.#where));
    try {
      return Promise.resolve(body());
    } catch (error) {
      return Promise.reject(storeError(error, this.#where));
    }
  }

  /** Each SQL text is prepared once and reused. */
  #sql(text: string): Database.Statement {
    let statement = this.#statements.get(text);
    if (statement === undefined) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  /** A deferred read transaction: an incident and its timeline come from one snapshot. */
  #read<T>(body: () => T): T {
    return this.#db.transaction(body)();
  }

  #exists(incidentId: string): boolean {
    return this.#sql('SELECT 1 FROM incidents WHERE id = ?').get(incidentId) !== undefined;
  }

  #insertNodes(incidentId: string, nodes: readonly string[]): void {
    const insert = this.#sql(
      'INSERT INTO incident_nodes (incident_id, node, position) VALUES (?, ?, ?)',
    );
    nodes.forEach((node, position) => insert.run(incidentId, node, position));
  }

  #insertTimeline(incidentId: string, entries: readonly TimelineEntry[]): void {
    const insert = this.#sql(
      'INSERT INTO timeline (incident_id, at, kind, message, node) VALUES (?, ?, ?, ?, ?)',
    );
    for (const e of entries) insert.run(incidentId, e.at, e.kind, e.message, e.node ?? null);
  }

  #load(incidentId: string): Incident {
    const row = this.#sql('SELECT * FROM incidents WHERE id = ?').get(incidentId) as
      IncidentRow | undefined;
    if (row === undefined) throw incidentNotFound(incidentId);
    return this.#hydrate(row);
  }

  #hydrate(row: IncidentRow): Incident {
    const nodes = this.#sql(
      'SELECT node FROM incident_nodes WHERE incident_id = ? ORDER BY position',
    )
      .pluck()
      .all(row.id) as string[];
    const timeline = this.#sql(
      'SELECT at, kind, message, node FROM timeline WHERE incident_id = ? ORDER BY at, seq',
    ).all(row.id) as TimelineRow[];
    return {
      id: row.id,
      kind: row.kind,
      status: row.status,
      nodes,
      openedAt: row.opened_at,
      resolvedAt: row.resolved_at,
      lastHeartbeatAt: row.last_heartbeat_at,
      rootCause: row.root_cause,
      summary: row.summary,
      timeline: timeline.map((t) => ({
        at: t.at,
        kind: t.kind,
        message: t.message,
        ...(t.node === null ? {} : { node: t.node }),
      })),
      affectedPods: check.parseJson(row.affected_pods) as unknown as Incident['affectedPods'],
    };
  }
}

function setMeta(db: Database.Database, key: string, json: string): void {
  db.prepare(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  ).run(key, json);
}

/**
 * Applies the missing migrations in one IMMEDIATE transaction: two processes
 * opening a new file together serialise on SQLite's write lock, and the
 * second finds the work done.
 */
function migrate(db: Database.Database, where: string): void {
  const latest = latestVersion(SQLITE_MIGRATIONS);
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL
    ) STRICT`);
    const applied = (db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() ??
      0) as number;
    if (applied > latest) throw schemaTooNew(where, applied, latest);
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version > applied)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
    }
    if (applied < latest) setMeta(db, SCHEMA_VERSION_KEY, JSON.stringify(latest));
  }).immediate();
}

/** Opens (and migrates) a SQLite store; `:memory:` for a private, throwaway one. */
export function openSqliteStore(
  path: string,
  options: SqliteStoreOptions = {},
): Promise<SqliteIncidentStore> {
  try {
    return Promise.resolve(SqliteIncidentStore.open(path, options));
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
