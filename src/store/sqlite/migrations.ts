import type { Migration } from '../migrations.ts';

/**
 * SQLite schema. Instants are TEXT in `toISOString()` form, so text order is
 * time order; JSON is TEXT checked by json_valid; STRICT tables refuse values
 * of the wrong type. Timeline and audit rows refuse UPDATE and DELETE.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'incidents-timeline-audit-last-words-meta',
    sql: `
CREATE TABLE incidents (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('node', 'partition')),
  status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
  opened_at TEXT NOT NULL,
  resolved_at TEXT,
  last_heartbeat_at TEXT,
  root_cause TEXT,
  summary TEXT NOT NULL,
  affected_pods TEXT NOT NULL CHECK (json_valid(affected_pods)),
  CHECK ((status = 'open') = (resolved_at IS NULL))
) STRICT;
CREATE INDEX incidents_by_opened ON incidents (opened_at DESC, id DESC);
CREATE INDEX incidents_by_status ON incidents (status, opened_at DESC, id DESC);

CREATE TABLE incident_nodes (
  incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  node TEXT NOT NULL,
  position INTEGER NOT NULL,
  PRIMARY KEY (incident_id, node)
) STRICT, WITHOUT ROWID;
CREATE INDEX incident_nodes_by_node ON incident_nodes (node);

CREATE TABLE timeline (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT NOT NULL REFERENCES incidents (id),
  at TEXT NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL,
  node TEXT
) STRICT;
CREATE INDEX timeline_by_incident ON timeline (incident_id, at, seq);
CREATE TRIGGER timeline_no_update BEFORE UPDATE ON timeline
  BEGIN SELECT RAISE(ABORT, 'timeline is append-only'); END;
CREATE TRIGGER timeline_no_delete BEFORE DELETE ON timeline
  BEGIN SELECT RAISE(ABORT, 'timeline is append-only'); END;

CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  incident_id TEXT REFERENCES incidents (id),
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  reason TEXT NOT NULL,
  evidence TEXT NOT NULL CHECK (json_valid(evidence)),
  result TEXT NOT NULL,
  duration_ms REAL NOT NULL
) STRICT;
CREATE INDEX audit_by_incident ON audit (incident_id, at, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

CREATE TABLE last_words (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  node TEXT NOT NULL,
  kind TEXT NOT NULL,
  at TEXT NOT NULL,
  data TEXT NOT NULL CHECK (json_valid(data))
) STRICT;
CREATE INDEX last_words_by_series ON last_words (node, kind, at, seq);
CREATE INDEX last_words_by_node ON last_words (node, at, seq);

CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL CHECK (json_valid(value))
) STRICT;
`,
  },
  {
    version: 2,
    name: 'audit-by-action',
    // findAudit: one action's records, newest first, without reading the whole audit log.
    sql: `CREATE INDEX audit_by_action ON audit (action, at, seq);`,
  },
];
