import { badInput, NodeWardenError } from '../../core/errors.ts';

export interface PostgresTarget {
  /** What node-postgres connects with (our own `schema` parameter removed). */
  readonly connectionString: string;
  /** For messages and logs: the URL with its password masked. */
  readonly where: string;
  /** The schema the store's tables live in; null: the user's default (search_path). */
  readonly schema: string | null;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A URL with its password replaced by `***`, safe for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a URL we can parse: mask anything between ':' and '@' after the scheme.
    return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
  }
}

/**
 * Reads a `postgres://` or `postgresql://` URL. `?schema=<name>` (lower-case
 * letters, digits, underscore) puts the tables in their own schema, so several
 * installations, or tests, can share one database.
 */
export function parsePostgresUrl(url: string): PostgresTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new NodeWardenError('BAD_INPUT', `store URL ${redactUrl(url)} is not a valid URL`, {
      hint: 'write postgres://user:password@host:5432/database',
      cause: error,
    });
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw badInput(
      `store URL ${redactUrl(url)} is not a PostgreSQL URL`,
      'write postgres://user:password@host:5432/database',
    );
  }
  const schema = parsed.searchParams.get('schema');
  if (schema !== null && !SCHEMA_NAME.test(schema)) {
    throw badInput(
      `schema ${JSON.stringify(schema)} in store URL ${redactUrl(url)} is not a plain identifier`,
      'use lower-case letters, digits and underscores, starting with a letter, e.g. ?schema=nodewarden',
    );
  }
  parsed.searchParams.delete('schema');
  return { connectionString: parsed.toString(), where: redactUrl(parsed.toString()), schema };
}
