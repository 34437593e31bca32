import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeWardenError } from '../../src/core/errors.ts';
import { SCHEMA_VERSION_KEY } from '../../src/store/port.ts';
import { openStore, parseStoreUrl, STORE_URL_FORMS } from '../../src/store/open.ts';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.ts';
import { parsePostgresUrl, redactUrl } from '../../src/store/postgres/postgres-url.ts';
import { dataDir, type DataDirContext } from '../../src/store/sqlite/data-dir.ts';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.ts';
import { latestVersion } from '../../src/store/migrations.ts';

const dir = mkdtempSync(join(tmpdir(), 'nw-store-open-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const user = (env: Record<string, string> = {}): DataDirContext => ({
  env,
  isRoot: false,
  home: '/home/sre',
});

function thrown(body: () => unknown): NodeWardenError {
  try {
    body();
  } catch (error) {
    if (error instanceof NodeWardenError) return error;
    throw error;
  }
  throw new Error('expected a NodeWardenError');
}

describe('store URLs', () => {
  it('reads every accepted form', () => {
    const ctx = user({ NODEWARDEN_DATA_DIR: '/srv/nw' });
    expect(parseStoreUrl(undefined, ctx)).toEqual({
      kind: 'sqlite',
      path: '/srv/nw/nodewarden.db',
      isDefault: true,
    });
    expect(parseStoreUrl('sqlite:', ctx)).toEqual(parseStoreUrl(undefined, ctx));
    expect(parseStoreUrl('sqlite::memory:', ctx)).toEqual({
      kind: 'sqlite',
      path: ':memory:',
      isDefault: false,
    });
    expect(parseStoreUrl('sqlite:/var/lib/x.db', ctx)).toMatchObject({ path: '/var/lib/x.db' });
    expect(parseStoreUrl('sqlite:///var/lib/x.db', ctx)).toMatchObject({ path: '/var/lib/x.db' });
    expect(parseStoreUrl('sqlite:data/x.db', ctx)).toMatchObject({ path: 'data/x.db' });
    for (const url of ['postgres://nw:pw@db:5432/nw', 'postgresql://db/nw?schema=nw']) {
      expect(parseStoreUrl(url, ctx)).toEqual({ kind: 'postgres', url });
    }
  });

  it('refuses anything else with BAD_INPUT naming the URL (password masked) and the forms', () => {
    for (const url of [
      'mysql://root:hunter2@db/nw',
      'nodewarden.db',
      '',
      'sqlite://db-host/x.db',
    ]) {
      const error = thrown(() => parseStoreUrl(url, user()));
      expect(error.code).toBe('BAD_INPUT');
      expect(error.message).toContain(JSON.stringify(redactUrl(url)));
      expect(error.message).not.toContain('hunter2');
      for (const form of STORE_URL_FORMS) expect(error.hint).toContain(form);
    }
  });

  it('masks passwords and extracts ?schema= from PostgreSQL URLs', () => {
    expect(redactUrl('postgres://nw:s3cret@db:5432/nw')).toBe('postgres://nw:***@db:5432/nw');
    expect(redactUrl('postgres://nw@db/nw')).toBe('postgres://nw@db/nw');
    expect(parsePostgresUrl('postgresql://nw:s3cret@db/nw?schema=nw_prod&sslmode=require')).toEqual(
      {
        connectionString: 'postgresql://nw:s3cret@db/nw?sslmode=require',
        where: 'postgresql://nw:***@db/nw?sslmode=require',
        schema: 'nw_prod',
      },
    );
    expect(parsePostgresUrl('postgres://db/nw').schema).toBeNull();
    expect(thrown(() => parsePostgresUrl('postgres://db/nw?schema=Robert%27);')).code).toBe(
      'BAD_INPUT',
    );
  });
});

describe('data dir', () => {
  it('follows NODEWARDEN_DATA_DIR, then root, then XDG_DATA_HOME, then ~/.local/share', () => {
    expect(dataDir({ ...user({ NODEWARDEN_DATA_DIR: '/data' }), isRoot: true })).toBe('/data');
    expect(dataDir({ ...user(), isRoot: true })).toBe('/var/lib/nodewarden');
    expect(dataDir(user({ XDG_DATA_HOME: '/xdg' }))).toBe('/xdg/nodewarden');
    expect(dataDir(user({ XDG_DATA_HOME: 'relative' }))).toBe('/home/sre/.local/share/nodewarden');
    expect(dataDir(user())).toBe('/home/sre/.local/share/nodewarden');
  });
});

describe('openStore', () => {
  it('creates the default file, and its directory with mode 0700, under the data dir', async () => {
    const data = join(dir, 'nested', 'data');
    const store = await openStore(undefined, { dataDir: user({ NODEWARDEN_DATA_DIR: data }) });
    expect(await store.getMeta(SCHEMA_VERSION_KEY)).toBe(latestVersion(SQLITE_MIGRATIONS));
    await store.close();
    expect(existsSync(join(data, 'nodewarden.db'))).toBe(true);
    expect(statSync(data).mode & 0o777).toBe(0o700);
  });

  it('opens sqlite:<path> and sqlite::memory:', async () => {
    const path = join(dir, 'explicit.db');
    for (const url of [`sqlite:${path}`, 'sqlite::memory:']) {
      const store = await openStore(url);
      expect(await store.listIncidents()).toEqual([]);
      await store.close();
    }
    expect(existsSync(path)).toBe(true);
  });

  it('does not create the directory of an explicit path: UNAVAILABLE naming it', async () => {
    const path = join(dir, 'typo-dir', 'x.db');
    const error = await openStore(`sqlite:${path}`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NodeWardenError);
    expect((error as NodeWardenError).code).toBe('UNAVAILABLE');
    expect((error as NodeWardenError).message).toContain(path);
  });

  it('dispatches postgresql:// to PostgreSQL: UNAVAILABLE with the address when nothing listens', async () => {
    const error = await openStore('postgresql://nw:pw@127.0.0.1:9/nw', {
      connectTimeoutMs: 2000,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NodeWardenError);
    expect((error as NodeWardenError).code).toBe('UNAVAILABLE');
    expect((error as NodeWardenError).message).toContain('postgresql://nw:***@127.0.0.1:9/nw');
  });
});

describe('migrations', () => {
  it('have the same numbers and names in both dialects', () => {
    const shape = (list: typeof SQLITE_MIGRATIONS) => list.map((m) => [m.version, m.name]);
    expect(shape(POSTGRES_MIGRATIONS)).toEqual(shape(SQLITE_MIGRATIONS));
    expect(latestVersion(SQLITE_MIGRATIONS)).toBe(SQLITE_MIGRATIONS.length);
  });

  it('refuses a list with a gap', () => {
    const [first] = SQLITE_MIGRATIONS;
    if (first === undefined) throw new Error('no migrations');
    expect(thrown(() => latestVersion([first, { ...first, version: 3 }])).code).toBe('INTERNAL');
  });
});
