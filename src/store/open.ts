/**
 * One entry point from a store URL to a ready (connected, migrated) store,
 * so the controller, the CLI and the demo accept the same `--store` values.
 */
import { badInput } from '../core/errors.ts';
import type { IncidentStore } from './port.ts';
import { openPostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.ts';
import { redactUrl } from './postgres/postgres-url.ts';
import {
  defaultSqlitePath,
  processDataDirContext,
  type DataDirContext,
} from './sqlite/data-dir.ts';
import { MEMORY, openSqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.ts';

/** The forms openStore accepts, as shown in its BAD_INPUT hint. */
export const STORE_URL_FORMS = [
  'sqlite:<path> (relative to the working directory, or absolute)',
  'sqlite:///<absolute path>',
  'sqlite::memory: (private, gone on close)',
  'sqlite: (empty: <data dir>/nodewarden.db, data dir from NODEWARDEN_DATA_DIR)',
  'postgres://user:password@host:5432/database[?schema=name]',
  'postgresql://… (the same)',
] as const;

export type StoreTarget =
  | { readonly kind: 'sqlite'; readonly path: string; readonly isDefault: boolean }
  | { readonly kind: 'postgres'; readonly url: string };

function unknownForm(url: string, why: string) {
  return badInput(
    `store URL ${JSON.stringify(redactUrl(url))} ${why}`,
    `use one of: ${STORE_URL_FORMS.join('; ')}`,
  );
}

/** Reads a store URL; undefined means the default SQLite file. */
export function parseStoreUrl(
  url: string | undefined,
  ctx: DataDirContext = processDataDirContext(),
): StoreTarget {
  if (url === undefined || url === 'sqlite:') {
    return { kind: 'sqlite', path: defaultSqlitePath(ctx), isDefault: true };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return { kind: 'postgres', url };
  }
  if (url.startsWith('sqlite:')) {
    const rest = url.slice('sqlite:'.length);
    if (rest === MEMORY) return { kind: 'sqlite', path: MEMORY, isDefault: false };
    if (rest.startsWith('//')) {
      if (!rest.startsWith('///')) {
        throw unknownForm(url, 'names a host; SQLite files are local');
      }
      return { kind: 'sqlite', path: rest.slice(2), isDefault: false };
    }
    return { kind: 'sqlite', path: rest, isDefault: false };
  }
  throw unknownForm(url, url === '' ? 'is empty' : 'is not a SQLite or PostgreSQL URL');
}

export interface OpenStoreOptions extends SqliteStoreOptions, PostgresStoreOptions {
  /** Where the default SQLite file lives; the process's environment unless given. */
  readonly dataDir?: DataDirContext;
}

/**
 * Opens the store a URL names, creating and migrating it as needed:
 * `sqlite:<path>`, `sqlite::memory:`, `postgres://…`, `postgresql://…`,
 * or nothing for `<data dir>/nodewarden.db` (its directory created, mode 0700).
 */
export async function openStore(
  url?: string,
  options: OpenStoreOptions = {},
): Promise<IncidentStore> {
  const target = parseStoreUrl(url, options.dataDir);
  if (target.kind === 'postgres') return openPostgresStore(target.url, options);
  return openSqliteStore(target.path, { ...options, createDir: target.isDefault });
}
