/**
 * `nodewarden audit drivers` as a person runs it: the inventories the
 * agents sent, in a real SQLite store file, through the CLI dispatcher.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/open.ts';
import { FLEET } from '../../test/fixtures/inventory/fleet.ts';
import { runCli as run } from '../../test/support/cli.ts';

let dir = '';
let store = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nodewarden-drivers-'));
  store = `sqlite:${join(dir, 'controller.db')}`;
  const fleet = FLEET;
  const s = await openStore(store);
  // An older inventory of the MIG node: only the newest one counts.
  await s.putLastWords(fleet[0]?.node ?? '', '2025-08-01T00:00:00.000Z', 'inventory', {
    nvidia: { driverVersion: '470.82.01' },
  });
  for (const b of fleet) await s.putLastWords(b.node, b.at, 'inventory', b.data);
  await s.putLastWords(fleet[0]?.node ?? '', '2025-08-25T03:58:00.000Z', 'gpu-samples', {
    fbUsedPercent: 45.5,
  });
  await s.close();
});

describe('nodewarden audit drivers', () => {
  it('prints combinations, drift and known-bad hits with their sources, and exits 1', async () => {
    const r = await run('audit', 'drivers', '--store', store);
    expect(r.err).toBe('');
    expect(r.code).toBe(1);
    expect(r.out).toContain('8 node(s), 7 combination(s), 4 drifting, 2 known-bad match(es)');
    expect(r.out).toMatch(
      /tkai-oks-md-0 +tkai-oks-md-0-193cfbbbb78b-5gblf-9f79t +kernel +5\.15\.0-91-generic +5\.15\.0-105-generic/,
    );
    expect(r.out).toContain(
      'CRITICAL tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq: NVIDIA driver 525.85.12 — GSP RPC timeouts (Xid 119/120) with GSP firmware enabled (gsp-rpc-timeout-xid119; 510 ≤ version < 525.105.17)',
    );
    expect(r.out).toContain('source: Azure/azurehpc pull request #714');
    expect(r.out).not.toContain('470.82.01');
  });

  it('writes Markdown and JSON', async () => {
    const md = await run('audit', 'drivers', '--store', store, '--format', 'md');
    expect(md.out).toContain('## Driver compatibility audit');
    expect(md.out).toContain('| POOL | NODE | COMPONENT | NODE HAS | POOL HAS |');
    const json = await run('audit', 'drivers', '--store', store, '--format', 'json');
    const parsed = JSON.parse(json.out) as {
      knownBad: { entry: { id: string } }[];
      nodes: unknown[];
    };
    expect(parsed.nodes).toHaveLength(8);
    expect(parsed.knownBad.map((h) => h.entry.id)).toEqual([
      'gsp-rpc-timeout-xid119',
      'r535-gsp-task-address-space',
    ]);
  });

  it('takes a known-bad list of its own, and exits 0 when nothing is flagged', async () => {
    const list = join(dir, 'mine.json');
    await writeFile(list, JSON.stringify({ entries: [] }));
    const clean = join(dir, 'clean.db');
    const s = await openStore(`sqlite:${clean}`);
    await s.putLastWords('worker-1', new Date().toISOString(), 'inventory', {
      kernel: { release: '6.1.0-25-amd64' },
    });
    await s.close();
    const r = await run('audit', 'drivers', '--store', `sqlite:${clean}`, '--known-bad', list);
    expect(r.code).toBe(0);
    expect(r.out).toContain('None: every node matches its pool.');
    expect(r.out).toContain('None on the list.');
  });

  it('says what is wrong with bad input', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"entries": [{"id": "x"}]}');
    const r = await run('audit', 'drivers', '--store', store, '--known-bad', bad);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${bad}: entries[0]: "severity" must be a non-empty string`);
    const missing = await run('audit', 'drivers', '--known-bad', join(dir, 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('cannot read the known-bad list');
    const foreign = await run('audit', 'drivers', '--store', store, '--fail', 'x');
    expect(foreign.code).toBe(2);
    expect(foreign.err).toContain('--fail does not apply to nodewarden audit drivers');
    const empty = await run('audit', 'drivers', '--store', `sqlite:${join(dir, 'empty.db')}`);
    expect(empty.code).toBe(1);
    expect(empty.err).toContain('no inventories in sqlite:');
  });
});
