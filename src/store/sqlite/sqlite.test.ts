import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { storeContract } from '../contract.ts';
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
