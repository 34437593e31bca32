/**
 * The HTTP API over loopback, served by the demo (scenario approve: the
 * simulated seed cluster, the real detection loop, diagnosis, an in-memory
 * SQLite store and the remediation executor waiting for approvals) with
 * token-file authentication: every route, the auth failures, bad input,
 * SSE delivery and replay, the approve flow to a resolved incident, and the
 * dashboard files.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO, runDemo, type DemoResult } from '../../src/demo/demo.ts';
import { TokenFileAuth } from '../../src/server/api/auth.ts';
import { API_ROUTE_SPECS } from '../../src/server/api/router.ts';
import type {
  IncidentDetail,
  IncidentsView,
  MeshView,
  NodesView,
  RemediationsView,
  StatusView,
} from '../../src/server/api/types.ts';
import { until } from '../support/until.ts';

const READ = 'read-token-0123456789abcdef';
const ADMIN = 'admin-token-0123456789abcdef';
const MIG = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';

let dir = '';
let base = '';
let demo: Promise<DemoResult>;
const abort = new AbortController();
const lines: string[] = [];

async function call(
  path: string,
  init: RequestInit & { token?: string | null } = {},
): Promise<Response> {
  const { token = ADMIN, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  return fetch(new URL(path, base), { ...rest, headers, signal: AbortSignal.timeout(10_000) });
}

async function get<T>(path: string, token: string | null = ADMIN): Promise<T> {
  const res = await call(path, { token });
  expect(res.status, `${path}: ${res.status}`).toBe(200);
  return (await res.json()) as T;
}

const awaiting = async () => {
  const view = await get<RemediationsView>('/api/v1/remediations');
  const r = view.remediations[0];
  const index = r?.steps.findIndex((s) => s.status === 'awaiting-approval') ?? -1;
  return r !== undefined && index >= 0 ? { id: r.id, index, step: r.steps[index]?.step } : null;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nw-api-test-'));
  await writeFile(join(dir, 'read-tokens'), `# dashboards\n${READ}\n`);
  await writeFile(join(dir, 'admin-tokens'), `${ADMIN}\n`);
  const web = join(dir, 'web');
  await mkdir(join(web, 'assets'), { recursive: true });
  await writeFile(join(web, 'index.html'), '<!doctype html><title>NodeWarden</title>\n');
  await writeFile(join(web, 'assets', 'app-1a2b3c.js'), 'console.log("nw")\n');
  const listening = new Promise<string>((resolve) => {
    demo = runDemo(
      {
        ...DEFAULT_DEMO,
        scenario: 'approve',
        // 60 simulated seconds per second: the fault comes after ~1 s, an approval may wait 60 s.
        speed: 60,
        reportDir: dir,
        serve: { host: '127.0.0.1', port: 0 },
        keepServing: true,
        webRoot: web,
        auth: new TokenFileAuth({
          readTokenFile: join(dir, 'read-tokens'),
          adminTokenFile: join(dir, 'admin-tokens'),
        }),
        onListening: resolve,
      },
      (l) => lines.push(l),
      abort.signal,
    );
    demo.catch(() => resolve(''));
  });
  base = await listening;
  expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  // The MIG node is cut, the incident diagnosed, and the ladder waits for a person.
  await until('a step awaiting approval', 20_000, awaiting, 50);
}, 60_000);

afterAll(async () => {
  abort.abort();
  await demo;
  await rm(dir, { recursive: true, force: true });
});

describe('HTTP API: routes', () => {
  it('every route in the table answers (GET 200, approve/reject reach the ladder)', async () => {
    const incident = (await get<IncidentsView>('/api/v1/incidents')).incidents[0]?.id ?? '';
    const pending = await awaiting();
    for (const r of API_ROUTE_SPECS) {
      const path = r.path
        .replace(
          '{id}',
          encodeURIComponent(r.path.includes('remediations') ? (pending?.id ?? '') : incident),
        )
        .replace('{step}', '0');
      const res = await call(path, { method: r.method, signal: AbortSignal.timeout(10_000) });
      // The demo runs no stability test: the route answers, the id is unknown
      // (src/stability/stored.test.ts reads stored ones).
      if (r.path.includes('/stability-tests/{id}'))
        expect({ path, status: res.status }).toEqual({ path, status: 404 });
      else if (r.method === 'GET')
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
      // Step 0 (capture-console) ran without approval: the ladder itself refuses with CONFLICT.
      else expect({ path, status: res.status }).toEqual({ path, status: 409 });
      await res.body?.cancel();
    }
  });

  it('stability tests: none in the demo; an unknown id and a bad format are named', async () => {
    expect(await get('/api/v1/stability-tests?limit=5', READ)).toEqual({ tests: [] });
    const missing = await call('/api/v1/stability-tests/stability-x/report', { token: READ });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      error: 'NOT_FOUND',
      message: 'no stability test stability-x',
    });
    const bad = await call('/api/v1/stability-tests/stability-x/report?format=pdf', {
      token: READ,
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ param: 'query.format' });
  });

  it('status: demo mode, simulated clock, token auth', async () => {
    const s = await get<StatusView>('/api/v1/status', READ);
    expect(s).toMatchObject({ mode: 'demo', scenario: 'approve', speed: 60, auth: 'tokens' });
    expect(s.zone).toBe('Asia/Seoul');
    expect(s.now.startsWith('2025-08-25T')).toBe(true);
    expect(s.nodes.total).toBe(5);
    expect(s.openIncidents).toBe(1);
  });

  it('nodes: the MIG node is Down with its open incident, role and MIG memory', async () => {
    const { nodes } = await get<NodesView>('/api/v1/nodes', READ);
    expect(nodes).toHaveLength(5);
    const mig = nodes.find((n) => n.name === MIG);
    expect(mig).toMatchObject({ internalIP: '10.62.0.30', role: 'mig', health: 'Down' });
    expect(mig?.openIncident).toMatch(/^inc-20250825-\d{6}-tkai-oks-md-1/);
    expect(mig?.leaseAgeMs).toBeGreaterThan(10_000);
    expect(mig?.gpu).toMatchObject({ origin: 'dcgm', mig: true, maxUsedPct: 45.5 });
    expect(mig?.gpu?.readings.map((r) => r.migProfile)).toEqual(['1g.10gb', '1g.10gb']);
    const survivors = nodes.filter((n) => n.name !== MIG);
    expect(survivors.every((n) => n.health === 'Healthy' && n.gpu === null)).toBe(true);
  });

  it('mesh: every observer fails the MIG node at L2; with ?layer the cell carries that layer', async () => {
    const mesh = await get<MeshView>('/api/v1/mesh?layer=L2', READ);
    expect(mesh.layer).toBe('L2');
    expect(mesh.targets).toHaveLength(5);
    expect(mesh.observers).toContain('controller');
    const toMig = mesh.cells.filter((c) => c.target === MIG);
    expect(toMig.length).toBeGreaterThanOrEqual(2);
    for (const c of toMig) {
      expect(c).toMatchObject({ healthy: false, failedLayer: 'L2', status: 'failed' });
      expect(c.layers).toEqual({ L2: 'failed', L3: 'skipped', L4: 'skipped', L7: 'skipped' });
    }
    const healthy = mesh.cells.find((c) => c.target !== MIG);
    expect(healthy?.layers).toEqual({ L2: 'ok', L3: 'ok', L4: 'ok', L7: 'ok' });
    expect((await get<MeshView>('/api/v1/mesh', READ)).cells[0]).not.toHaveProperty('status');
  });

  it('incidents: list with verdict and filters', async () => {
    const { incidents } = await get<IncidentsView>('/api/v1/incidents?status=open&limit=5', READ);
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({
      kind: 'node',
      status: 'open',
      nodes: [MIG],
      rootCause: 'NODE_HALTED',
      confidence: 0.85,
    });
    expect(incidents[0]?.mttdSeconds).toBeLessThan(15);
    expect((await get<IncidentsView>('/api/v1/incidents?status=resolved')).incidents).toEqual([]);
    expect(
      (await get<IncidentsView>('/api/v1/incidents?node=tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7'))
        .incidents,
    ).toEqual([]);
    expect(
      (await get<IncidentsView>('/api/v1/incidents?before=2025-08-25T03:00:00Z')).incidents,
    ).toEqual([]);
  });

  it('one incident: timeline, evidence from every source, verdict, remediation waiting, audit, report links', async () => {
    const id = (await get<IncidentsView>('/api/v1/incidents')).incidents[0]?.id ?? '';
    const d = await get<IncidentDetail>(`/api/v1/incidents/${encodeURIComponent(id)}`, READ);
    expect(d.incident.id).toBe(id);
    expect(d.incident.timeline.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['last-heartbeat', 'incident-opened']),
    );
    expect(d.diagnosis?.verdict).toMatchObject({ rootCause: 'NODE_HALTED', confidence: 0.85 });
    expect(new Set(d.diagnosis?.evidence.map((e) => e.source))).toEqual(
      new Set(['kubernetes', 'network', 'cloud', 'gpu', 'kernel', 'cni', 'impact']),
    );
    expect(d.remediation.enabled).toBe(true);
    expect(d.remediation.mode).toBe('approve');
    expect(d.remediation.remediations).toHaveLength(1);
    expect(d.remediation.remediations[0]?.steps.map((s) => s.status)).toContain(
      'awaiting-approval',
    );
    expect(d.audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['diagnose', 'remediation']),
    );
    expect(d.reports?.ko).toBe(`/api/v1/incidents/${encodeURIComponent(id)}/report?lang=ko`);
  });

  it('report: Korean and English Markdown, JSON, download as an attachment', async () => {
    const id = (await get<IncidentsView>('/api/v1/incidents')).incidents[0]?.id ?? '';
    const path = `/api/v1/incidents/${encodeURIComponent(id)}/report`;
    const ko = await call(`${path}?lang=ko&download=1`, { token: READ });
    expect(ko.status).toBe(200);
    expect(ko.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
    expect(ko.headers.get('content-disposition')).toBe(`attachment; filename="${id}.ko.md"`);
    const koText = await ko.text();
    expect(koText).toContain('10.62.0.30');
    expect(koText).toContain('판정: NODE_HALTED');
    const en = await (await call(path, { token: READ })).text();
    expect(en).toContain('NODE_HALTED');
    expect(en).toContain('0% → 45.5%');
    const json = await call(`${path}?format=json`, { token: READ });
    expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await json.json()).toMatchObject({ verdict: { rootCause: 'NODE_HALTED' } });
  });

  it('openapi.json needs no token', async () => {
    const res = await call('/api/v1/openapi.json', { token: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ openapi: '3.1.0' });
  });
});

describe('HTTP API: authentication and roles', () => {
  it('401 without a token, with a wrong one, and with another scheme', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer not-a-known-token-123456' },
      { authorization: 'Basic dXNlcjpwdw==' },
    ]) {
      const res = await call('/api/v1/nodes', { token: null, headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="nodewarden"');
      const body = (await res.json()) as { error: string; param: string; hint: string };
      expect(body.error).toBe('UNAUTHENTICATED');
      expect(body.param).toBe('header.authorization');
      expect(body.hint).not.toBe('');
    }
  });

  it('a read token reads but may not approve (403); /me says who is calling', async () => {
    expect(await get('/api/v1/me', READ)).toMatchObject({ role: 'read', auth: 'tokens' });
    expect(await get('/api/v1/me', ADMIN)).toMatchObject({ role: 'admin' });
    const pending = await awaiting();
    const res = await call(
      `/api/v1/remediations/${pending?.id ?? ''}/steps/${pending?.index ?? 0}/approve`,
      {
        method: 'POST',
        token: READ,
      },
    );
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'FORBIDDEN' });
    // Nothing was approved.
    expect(await awaiting()).toEqual(pending);
  });

  it('the events stream takes the token as ?access_token= (EventSource cannot send headers); other routes do not', async () => {
    const res = await call(`/api/v1/events?access_token=${READ}`, { token: null });
    expect(res.status).toBe(200);
    await res.body?.cancel();
    const elsewhere = await call(`/api/v1/nodes?access_token=${READ}`, { token: null });
    expect(elsewhere.status).toBe(401);
  });
});

describe('HTTP API: bad input', () => {
  const cases: readonly [string, string, number, string, string?][] = [
    ['GET', '/api/v1/incidents?limit=0', 400, 'BAD_INPUT', 'query.limit'],
    ['GET', '/api/v1/incidents?limit=ten', 400, 'BAD_INPUT', 'query.limit'],
    ['GET', '/api/v1/incidents?status=closed', 400, 'BAD_INPUT', 'query.status'],
    ['GET', '/api/v1/incidents?before=yesterday', 400, 'BAD_INPUT', 'query.before'],
    ['GET', '/api/v1/incidents?node=', 400, 'BAD_INPUT', 'query.node'],
    ['GET', '/api/v1/mesh?layer=L5', 400, 'BAD_INPUT', 'query.layer'],
    ['GET', '/api/v1/nodes?verbose=1', 400, 'BAD_INPUT', 'query.verbose'],
    ['GET', '/api/v1/incidents/inc-nope', 404, 'NOT_FOUND', 'path.id'],
    ['GET', '/api/v1/incidents/inc-nope/report', 404, 'NOT_FOUND', 'path.id'],
    ['GET', '/api/v1/incidents/%E0%A4%A/report', 400, 'BAD_INPUT', 'path.id'],
    ['GET', '/api/v1/nope', 404, 'NOT_FOUND', 'path'],
    ['DELETE', '/api/v1/incidents', 405, 'METHOD_NOT_ALLOWED'],
    ['POST', '/api/v1/nodes', 405, 'METHOD_NOT_ALLOWED'],
    ['GET', '/api/v1/remediations/rem-x/steps/0/approve', 405, 'METHOD_NOT_ALLOWED'],
    ['POST', '/api/v1/remediations/rem-nope/steps/0/approve', 404, 'NOT_FOUND', 'path.id'],
  ];
  it.each(cases)('%s %s → %i %s', async (method, path, status, code, param) => {
    const res = await call(path, { method });
    expect(res.status).toBe(status);
    const body = (await res.json()) as {
      error: string;
      message: string;
      hint: string;
      param?: string;
    };
    expect(body.error).toBe(code);
    expect(body.message.length).toBeGreaterThan(10);
    expect(body.hint.length).toBeGreaterThan(5);
    if (param !== undefined) expect(body.param).toBe(param);
    if (status === 405) expect(res.headers.get('allow')).toMatch(/^(GET|POST)$/);
  });

  it('report: an unknown format or lang with JSON is refused, naming the parameter', async () => {
    const id = (await get<IncidentsView>('/api/v1/incidents')).incidents[0]?.id ?? '';
    const path = `/api/v1/incidents/${encodeURIComponent(id)}/report`;
    for (const [query, param] of [
      ['format=pdf', 'query.format'],
      ['lang=de', 'query.lang'],
      ['format=json&lang=ko', 'query.lang'],
    ] as const) {
      const res = await call(`${path}?${query}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ param });
    }
  });

  it('approve: unknown step 404, a body with fields 400, a non-JSON body 415', async () => {
    const pending = await awaiting();
    const path = `/api/v1/remediations/${pending?.id ?? ''}/steps`;
    const unknown = await call(`${path}/99/approve`, { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ param: 'path.step' });
    const fields = await call(`${path}/${pending?.index ?? 0}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"reason":"why not"}',
    });
    expect(fields.status).toBe(400);
    expect(await fields.json()).toMatchObject({ param: 'body.reason' });
    const text = await call(`${path}/${pending?.index ?? 0}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'yes',
    });
    expect(text.status).toBe(415);
    expect(await awaiting()).toEqual(pending);
  });
});

/** Reads an SSE stream until `done(events)` or the bounded wait ends. */
async function readEvents(
  res: Response,
  done: (events: { id: string | null; event: string; data: unknown }[]) => boolean,
): Promise<{ id: string | null; event: string; data: unknown }[]> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: { id: string | null; event: string; data: unknown }[] = [];
  let buffer = '';
  for (let i = 0; i < 400 && !done(events); i++) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const field = (name: string) =>
        block
          .split('\n')
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2) ?? null;
      const event = field('event');
      const data = field('data');
      if (event !== null && data !== null)
        events.push({ id: field('id'), event, data: JSON.parse(data) });
    }
  }
  await reader.cancel();
  return events;
}

describe('HTTP API: live events and the approve flow', () => {
  it('replays what happened since Last-Event-ID 0 (incident opened, verdict, node Down)', async () => {
    const res = await call('/api/v1/events', { headers: { 'last-event-id': '0' } });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = await readEvents(res, (e) => e.some((x) => x.event === 'verdict'));
    expect(events[0]?.event).toBe('hello');
    expect(events.map((e) => e.event)).toEqual(
      expect.arrayContaining(['node', 'incident', 'verdict']),
    );
    expect(events.find((e) => e.event === 'verdict')?.data).toMatchObject({
      rootCause: 'NODE_HALTED',
      confidence: 0.85,
    });
    expect(
      events.find((e) => e.event === 'node' && (e.data as { to: string }).to === 'Down')?.data,
    ).toMatchObject({ node: MIG });
    // Replayed events carry increasing ids.
    const ids = events.filter((e) => e.id !== null).map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('approving each waiting step (admin) remediates: events arrive, the node comes back, the incident resolves', async () => {
    const res = await call('/api/v1/events');
    const stream = readEvents(res, (e) => e.some((x) => x.event === 'remediation'));
    const first = await awaiting();
    const ok = await call(
      `/api/v1/remediations/${first?.id ?? ''}/steps/${first?.step ?? ''}/approve`,
      {
        method: 'POST',
      },
    );
    expect(ok.status).toBe(200);
    const approved = (await ok.json()) as {
      steps: { status: string; approvedBy: string | null }[];
    };
    expect(approved.steps[first?.index ?? 0]?.approvedBy).toBe(
      `user:admin token ${join(dir, 'admin-tokens')}:1`,
    );
    const events = await stream;
    expect(events.some((e) => e.event === 'remediation')).toBe(true);

    // Approve what comes next (the soft reboot) until the ladder has nothing left to ask.
    const resolved = await until(
      'the incident to resolve',
      30_000,
      async () => {
        const next = await awaiting();
        if (next !== null)
          await call(`/api/v1/remediations/${next.id}/steps/${next.index}/approve`, {
            method: 'POST',
          });
        const { incidents } = await get<IncidentsView>('/api/v1/incidents');
        return incidents[0]?.status === 'resolved' ? incidents[0] : null;
      },
      50,
    );
    expect(resolved.mttrSeconds).toBeLessThan(10 * 60);
    const view = await get<RemediationsView>('/api/v1/remediations');
    expect(view.remediations[0]?.status).toBe('succeeded');
    expect(view.remediations[0]?.steps.find((s) => s.step === 'soft-reboot')?.status).toBe(
      'succeeded',
    );
    const mig = (await get<NodesView>('/api/v1/nodes')).nodes.find((n) => n.name === MIG);
    expect(mig?.health).toBe('Healthy');
    expect(mig?.openIncident).toBeNull();
    // The demo printed its summary and keeps serving.
    expect(lines.join('\n')).toMatch(/Remediation \(approve\): succeeded/);
    expect((await call('/api/v1/status')).status).toBe(200);
  }, 60_000);
});

describe('the dashboard at /', () => {
  it('serves index.html (no-cache), hashed assets (immutable), the SPA fallback, and 404 for missing files', async () => {
    const index = await call('/', { token: null });
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(await index.text()).toContain('<title>NodeWarden</title>');
    const asset = await call('/assets/app-1a2b3c.js', { token: null });
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const etag = asset.headers.get('etag') ?? '';
    await asset.text();
    const again = await call('/assets/app-1a2b3c.js', {
      token: null,
      headers: { 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
    const deep = await call('/incidents/inc-1', { token: null });
    expect(await deep.text()).toContain('<title>NodeWarden</title>');
    expect((await call('/assets/missing.js', { token: null })).status).toBe(404);
    // An encoded slash survives URL parsing: decoded, it would climb out of the bundle.
    const climb = await call('/..%2f..%2f..%2fetc%2fpasswd', { token: null });
    expect(climb.status).toBe(404);
    expect(await climb.text()).not.toContain('root:');
    expect((await call('/', { token: null, method: 'POST' })).status).toBe(405);
  });
});
