import type { Migration } from '../migrations.ts';

/**
 * PostgreSQL schema, the same tables and numbers as the SQLite one:
 * timestamptz for instants, JSONB for JSON, identity columns for insertion
 * order. Timeline and audit rows refuse UPDATE and DELETE with a trigger.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'incidents-timeline-audit-last-words-meta',
    sql: `
CREATE TABLE incidents (
  id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('node', 'partition')),
  status text NOT NULL CHECK (status IN ('open', 'resolved')),
  opened_at timestamptz NOT NULL,
  resolved_at timestamptz,
  last_heartbeat_at timestamptz,
  root_cause text,
  summary text NOT NULL,
  affected_pods jsonb NOT NULL,
  CHECK ((status = 'open') = (resolved_at IS NULL))
);
CREATE INDEX incidents_by_opened ON incidents (opened_at DESC, id COLLATE "C" DESC);
CREATE INDEX incidents_by_status ON incidents (status, opened_at DESC, id COLLATE "C" DESC);

CREATE TABLE incident_nodes (
  incident_id text NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  node text NOT NULL,
  position integer NOT NULL,
  PRIMARY KEY (incident_id, node)
);
CREATE INDEX incident_nodes_by_node ON incident_nodes (node);

CREATE FUNCTION nodewarden_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TABLE timeline (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  incident_id text NOT NULL REFERENCES incidents (id),
  at timestamptz NOT NULL,
  kind text NOT NULL,
  message text NOT NULL,
  node text
);
CREATE INDEX timeline_by_incident ON timeline (incident_id, at, seq);
CREATE TRIGGER timeline_append_only BEFORE UPDATE OR DELETE ON timeline
  FOR EACH ROW EXECUTE FUNCTION nodewarden_append_only();

CREATE TABLE audit (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  incident_id text REFERENCES incidents (id),
  at timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  reason text NOT NULL,
  evidence jsonb NOT NULL,
  result text NOT NULL,
  duration_ms double precision NOT NULL
);
CREATE INDEX audit_by_incident ON audit (incident_id, at, seq);
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION nodewarden_append_only();

CREATE TABLE last_words (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  node text NOT NULL,
  kind text NOT NULL,
  at timestamptz NOT NULL,
  data jsonb NOT NULL
);
CREATE INDEX last_words_by_series ON last_words (node, kind, at, seq);
CREATE INDEX last_words_by_node ON last_words (node, at, seq);

CREATE TABLE meta (
  key text PRIMARY KEY,
  value jsonb NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'audit-by-action',
    // findAudit: one action's records, newest first, without reading the whole audit log.
    sql: `CREATE INDEX audit_by_action ON audit (action, at, seq);`,
  },
];
