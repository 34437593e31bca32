/**
 * `nodewarden diagnose` and `nodewarden report` through `main`: bad input,
 * a real (loopback) API server, a real SQLite store file. The only probed
 * address is 127.0.0.1: the node under diagnosis is given that InternalIP.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli as run } from '../../test/support/cli.ts';
import { parse } from 'yaml';
import type { Incident } from '../core/incident.ts';
import { openStore } from '../store/open.ts';
import { MIG_NODE, SEED_FILE } from '../../test/fixtures/audit/builders.ts';
import { startFakeApiServer } from '../../test/fixtures/audit/fake-api-server.ts';
import { recordDiagnosis } from './stored.ts';
import type { Diagnosis } from './pipeline.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nw-diagnose-cli-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('nodewarden diagnose: bad input', () => {
  it.each([
    [[], 'diagnose needs the node to diagnose', 'kubectl get nodes'],
    [['a', 'b'], 'diagnose takes one node, got 2', 'e.g. nodewarden diagnose'],
    [['Not_A_Node'], '"Not_A_Node" is not a Kubernetes node name', 'RFC 1123'],
    [['n1', '--lang', 'fr'], '--lang "fr" is not one of en, ko', '--lang ko'],
    [
      ['n1', '--gateway', '10.0.0'],
      '--gateway "10.0.0" is not an IP address',
      '--gateway 100.64.0.1',
    ],
    [
      ['n1', '--timeout-ms', '5'],
      '--timeout-ms "5" is not a whole number from 100 to 60000',
      '--timeout-ms 3000',
    ],
    [
      ['n1', '--zone', 'Mars/Olympus'],
      '--zone "Mars/Olympus" is not an IANA time zone',
      'Asia/Seoul',
    ],
    [['n1', '--bogus'], "Unknown option '--bogus'", 'nodewarden diagnose --help'],
    [
      ['n1', '--kubeconfig', '/nonexistent/kubeconfig'],
      'cannot read kubeconfig /nonexistent/kubeconfig',
      '--kubeconfig',
    ],
  ])('%j → exit 2 with the reason and a hint', async (args, message, hint) => {
    const r = await run('diagnose', ...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.err).toContain(hint);
  });

  it('--help teaches the command', async () => {
    const r = await run('diagnose', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage:');
    expect(r.out).toContain('--store URL');
    expect(r.out).toContain('OS_AUTH_URL');
  });
});

async function seedItems(): Promise<Record<string, unknown>[]> {
  const items = (parse(await readFile(SEED_FILE, 'utf8')) as { items: Record<string, unknown>[] })
    .items;
  // The only address a test may probe is loopback.
  return items.map((item) => {
    const meta = item['metadata'] as { name?: string };
    if (item['kind'] !== 'Node' || meta.name !== MIG_NODE) return item;
    const status = item['status'] as Record<string, unknown>;
    return {
      ...item,
      status: { ...status, addresses: [{ type: 'InternalIP', address: '127.0.0.1' }] },
    };
  });
}

describe('nodewarden diagnose: against an API server on loopback', () => {
  it('an unknown node is NOT_FOUND, with the cluster’s nodes as the hint', async () => {
    const server = await startFakeApiServer(await seedItems());
    try {
      const r = await run('diagnose', 'no-such-node', '--kubeconfig', server.kubeconfig);
      expect(r.code).toBe(1);
      expect(r.err).toContain('node "no-such-node" is not in the cluster');
      expect(r.err).toContain(MIG_NODE);
    } finally {
      await server.close();
    }
  });

  it('diagnoses the node on demand: every step printed, the verdict, both reports written', async () => {
    const server = await startFakeApiServer(await seedItems());
    const out = await tempDir();
    const prevAuth = process.env['OS_AUTH_URL'];
    delete process.env['OS_AUTH_URL'];
    try {
      const r = await run(
        'diagnose',
        MIG_NODE,
        '--kubeconfig',
        server.kubeconfig,
        '--out',
        out,
        '--lang',
        'ko',
        '--timeout-ms',
        '500',
        '--gateway',
        '127.0.0.1',
      );
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      for (const source of ['kubernetes', 'network', 'cloud', 'gpu', 'kernel', 'cni', 'impact']) {
        expect(r.out).toMatch(new RegExp(`[✓✗] ${source} +(ok|missing|error|timeout) `));
      }
      expect(r.out).toMatch(/✗ cloud +missing .*no cloud configured/);
      expect(r.out).toMatch(/root cause: [A-Z_]+ \(confidence [\d.]+, rule [a-z-]+\)/);
      const path = /report: (\S+\.ko\.md)/.exec(r.out)?.[1] ?? '';
      expect(path.startsWith(out)).toBe(true);
      const ko = await readFile(path, 'utf8');
      expect(ko).toContain('127.0.0.1');
      expect(ko).toContain('### Root Cause Analysis');
      const en = await readFile(path.replace('.ko.md', '.en.md'), 'utf8');
      expect(en).toContain(MIG_NODE);
    } finally {
      if (prevAuth !== undefined) process.env['OS_AUTH_URL'] = prevAuth;
      await server.close();
    }
  }, 30_000);
});

const SEED_INCIDENT = 'test/fixtures/report/seed/incident.json';
const SEED_EVIDENCE = 'test/fixtures/report/seed/evidence.json';

describe('nodewarden report', () => {
  it.each([
    [[], 'report needs the incident id'],
    [['a', 'b'], 'report takes one incident id, got 2'],
    [['x', '--format', 'pdf'], '--format "pdf" is not one of md, json'],
    [['x', '--lang', 'de'], '--lang "de" is not one of en, ko'],
    [['x', '--store', 'mysql://db'], 'is not a SQLite or PostgreSQL URL'],
  ])('%j → exit 2', async (args, message) => {
    const r = await run('report', ...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it('renders the stored seed incident in both languages and as JSON; unknown and undiagnosed incidents are NOT_FOUND', async () => {
    const dir = await tempDir();
    const url = `sqlite:${join(dir, 'nw.db')}`;
    const incident = JSON.parse(await readFile(SEED_INCIDENT, 'utf8')) as Incident;
    const evidence = JSON.parse(await readFile(SEED_EVIDENCE, 'utf8')) as Diagnosis['evidence'];
    const store = await openStore(url);
    try {
      await store.createIncident(incident);
      await store.createIncident({ ...incident, id: `${incident.id}-bare` });
      const { classify } = await import('../core/classify.ts');
      const verdict = classify({ incident, evidence, now: '2025-08-25T04:02:05Z' });
      await recordDiagnosis(
        store,
        incident,
        {
          evidence,
          verdict,
          report: { en: '', ko: '', json: '' },
          timings: [],
          totalMs: 5_000,
          zone: 'Asia/Seoul',
        },
        'controller/test',
      );
    } finally {
      await store.close();
    }
    const en = await run('report', incident.id, '--store', url);
    expect(en.err).toBe('');
    expect(en.code).toBe(0);
    expect(en.out).toContain('NODE_HALTED');
    expect(en.out).toContain('10.62.0.30');
    expect(en.out).toContain('12:58 KST');
    expect(en.out).toContain('**MTTR**: 6 h 48 min');
    const ko = await run('report', incident.id, '--store', url, '--lang', 'ko');
    expect(ko.code).toBe(0);
    expect(ko.out).toContain('NODE_HALTED');
    const json = await run('report', incident.id, '--store', url, '--format', 'json');
    expect(JSON.parse(json.out)).toMatchObject({
      verdict: { rootCause: 'NODE_HALTED', confidence: 0.85 },
    });

    const missing = await run('report', 'inc-nope', '--store', url);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('inc-nope');
    const bare = await run('report', `${incident.id}-bare`, '--store', url);
    expect(bare.code).toBe(1);
    expect(bare.err).toContain('has no stored diagnosis');
    expect(bare.err).toContain('nodewarden diagnose');
  });
});
