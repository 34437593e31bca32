/**
 * A real, throwaway PostgreSQL server for tests, from Debian's `postgresql`
 * package: initdb in a fresh temp dir, listening on 127.0.0.1 on a free port
 * with its unix socket in that dir, one database created. As root the server
 * runs as the `postgres` OS user (initdb and postgres refuse root). One server
 * per test file: start it in beforeAll, stop it in afterAll.
 *
 * Without the binaries, suites built with `describeWithPostgres` fail loudly
 * under CI=true and are skipped, with the reason printed, elsewhere.
 */
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { NodeWardenError } from '../../src/core/errors.ts';
import { runChecked, runCommand } from '../../src/host/command.ts';

export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/nodewarden_test` (trust auth, no password). */
  readonly url: string;
  readonly port: number;
  readonly binDir: string;
  /** The cluster's data directory (inside the temp dir). */
  readonly dataDir: string;
  /** Stops the server abruptly (`-m immediate`: no checkpoint, recovery on next start) — a crash. */
  crash(): Promise<void>;
  /** Starts it again after `crash()` on the same port and data. */
  restart(): Promise<void>;
  /** Stops the server and deletes its files. */
  stop(): Promise<void>;
}

export const TEST_DATABASE = 'nodewarden_test';

/** The newest /usr/lib/postgresql/<major>/bin with initdb and postgres, or $NODEWARDEN_PG_BIN. */
export function locatePostgres(): string | null {
  const explicit = process.env.NODEWARDEN_PG_BIN;
  const candidates =
    explicit !== undefined && explicit !== ''
      ? [explicit]
      : existsSync('/usr/lib/postgresql')
        ? readdirSync('/usr/lib/postgresql')
            .filter((v) => /^\d+$/.test(v))
            .sort((a, b) => Number(b) - Number(a))
            .map((v) => join('/usr/lib/postgresql', v, 'bin'))
        : [];
  return (
    candidates.find((dir) =>
      ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b))),
    ) ?? null
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const uid = await runChecked('id', ['-u', name], { timeoutMs: 5000 });
  const gid = await runChecked('id', ['-g', name], { timeoutMs: 5000 });
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Starts a fresh server; rejects with the server's log tail if it will not start. */
export async function startPostgres(): Promise<PostgresServer> {
  const binDir = locatePostgres();
  if (binDir === null) {
    throw new NodeWardenError('MISSING_TOOL', 'PostgreSQL server binaries not found', {
      hint: 'apt-get install -y postgresql (or set NODEWARDEN_PG_BIN to the bin directory)',
    });
  }
  const isRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'nw-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const owner = isRoot ? await osUser('postgres') : null;
  if (owner !== null) await chown(dir, owner.uid, owner.gid);
  await chmod(dir, 0o700);
  // initdb, pg_ctl and postgres refuse to run as root.
  const as = (file: string, args: string[], timeoutMs: number) =>
    isRoot
      ? runChecked('runuser', ['-u', 'postgres', '--', join(binDir, file), ...args], { timeoutMs })
      : runChecked(join(binDir, file), args, { timeoutMs });

  await as(
    'initdb',
    [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--no-locale',
      '--no-sync',
    ],
    120_000,
  );
  let port = 0;
  const start = async (): Promise<void> => {
    await as('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start'], 90_000);
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 3 && port === 0; attempt += 1) {
    // Another process may take the port between our probe and the server's bind: try another.
    const candidate = await freePort();
    await appendFile(
      join(dataDir, 'postgresql.conf'),
      [
        '',
        '# nodewarden test server',
        "listen_addresses = '127.0.0.1'",
        `port = ${candidate}`,
        `unix_socket_directories = '${dir}'`,
        'max_connections = 200',
        "log_min_messages = 'warning'",
        '',
      ].join('\n'),
    );
    try {
      await start();
      port = candidate;
    } catch (error) {
      lastError = error;
    }
  }
  if (port === 0) {
    const log = await runCommand('tail', ['-n', '20', logFile], { timeoutMs: 5000 });
    await rm(dir, { recursive: true, force: true });
    throw new NodeWardenError('COMMAND_FAILED', `PostgreSQL did not start: ${log.stdout}`, {
      hint: 'read the server log above',
      cause: lastError,
    });
  }
  const admin = new pg.Client({
    connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
  });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${TEST_DATABASE}`);
  } finally {
    await admin.end();
  }
  let running = true;
  const ctl = async (args: string[]) => {
    await as('pg_ctl', ['-D', dataDir, '-w', '-t', '60', ...args], 90_000);
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/${TEST_DATABASE}`,
    port,
    binDir,
    dataDir,
    crash: async () => {
      await ctl(['-m', 'immediate', 'stop']);
      running = false;
    },
    restart: async () => {
      await start();
      running = true;
    },
    stop: async () => {
      if (running) await ctl(['-m', 'fast', 'stop']);
      running = false;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A describe block with one PostgreSQL server for its tests (`server()`).
 * Missing binaries: a failing test under CI=true; elsewhere a skipped block
 * whose title, and a line on stderr, say why.
 */
export function describeWithPostgres(
  name: string,
  body: (server: () => PostgresServer) => void,
): void {
  const bin = locatePostgres();
  if (bin === null) {
    const reason =
      'PostgreSQL server binaries not found in $NODEWARDEN_PG_BIN or /usr/lib/postgresql/*/bin; apt-get install -y postgresql';
    if (process.env.CI === 'true') {
      describe(name, () => {
        it('has the PostgreSQL server binaries it needs (CI=true)', () => {
          throw new Error(reason);
        });
      });
    } else {
      process.stderr.write(`skipping "${name}": ${reason}\n`);
      describe.skip(`${name} [skipped: ${reason}]`, () => body(() => undefined as never));
    }
    return;
  }
  describe(name, () => {
    let server: PostgresServer | undefined;
    beforeAll(async () => {
      server = await startPostgres();
    }, 180_000);
    afterAll(async () => {
      await server?.stop();
    }, 90_000);
    body(() => {
      if (server === undefined) throw new Error('PostgreSQL test server did not start');
      return server;
    });
  });
}
