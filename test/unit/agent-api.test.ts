/**
 * The controller's agent API on a real HTTP server on 127.0.0.1: every
 * refusal path (401, 403, 405, 413, 415, 400 with the bad field's path, 404)
 * and the happy paths (plan with ETag/304, results into the mesh, last words
 * into a real SQLite store, probe-now queued, delivered and answered).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultBatch, WireResult } from '../../src/agent/protocol.ts';
import { systemClock } from '../../src/core/clock.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { AgentMesh } from '../../src/controller/mesh.ts';
import { AgentAuth } from '../../src/server/agent-api-auth.ts';
import { agentApiRoutes } from '../../src/server/agent-api.ts';
import { startOpsServer } from '../../src/server/ops-server.ts';
import type { IncidentStore } from '../../src/store/port.ts';
import { MEMORY, openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { readyNode as node } from '../support/nodes.ts';

const TOKEN_A = 'token-for-node-a-0123456789';
const TOKEN_B = 'token-for-node-b-0123456789';
const ADMIN = 'admin-token-0123456789abcdef';

const nodes = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e'].map((n, i) =>
  node(n, `10.62.0.${i + 10}`),
);

let base = '';
let close: () => Promise<void>;
let mesh: AgentMesh;
let store: IncidentStore;
const requests: [string, number][] = [];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-agent-api-'));
  writeFileSync(join(dir, 'agents'), `# node bindings\nnode-a ${TOKEN_A}\nnode-b ${TOKEN_B}\n`);
  writeFileSync(join(dir, 'admin'), `${ADMIN}\n`);
  mesh = new AgentMesh(() => nodes, systemClock, silentLogger, { plan: { k: 3 } });
  store = await openSqliteStore(MEMORY);
  const server = await startOpsServer({
    listen: '127.0.0.1:0',
    registry: new Registry(),
    healthy: () => ({ ok: true, reason: '' }),
    ready: () => ({ ok: true, reason: '' }),
    routes: agentApiRoutes({
      mesh,
      store,
      log: silentLogger,
      auth: new AgentAuth({
        agentTokenFile: join(dir, 'agents'),
        adminTokenFile: join(dir, 'admin'),
      }),
      onRequest: (route, status) => requests.push([route, status]),
    }),
  });
  base = `http://127.0.0.1:${server.port}`;
  close = () => server.close();
});

afterAll(async () => {
  await close();
  await store.close();
});

function result(target: string, ip: string, overrides: Partial<WireResult> = {}): WireResult {
  return {
    target,
    ip,
    startedAt: Date.now() - 5,
    durationMs: 3,
    mode: 'l4',
    healthy: true,
    failedLayer: null,
    summary: 'all tested layers answered',
    layers: [
      {
        layer: 'L4',
        status: 'ok',
        latencyMs: 0.5,
        command: `nc -vz -w 1 ${ip} 10250`,
        detail: 'connected to port 10250',
      },
    ],
    ...overrides,
  };
}

function batch(nodeName: string, results: WireResult[]): ResultBatch {
  return { node: nodeName, sentAt: Date.now(), planVersion: null, dropped: 0, results };
}

async function call(
  method: string,
  path: string,
  options: {
    token?: string;
    body?: unknown;
    raw?: string;
    type?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const body =
    options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) headers['content-type'] = options.type ?? 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  return {
    status: res.status,
    json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    headers: res.headers,
  };
}

describe('agent API: plan', () => {
  it('serves the agent its targets with an ETag, then 304 while unchanged', async () => {
    const first = await call('GET', '/v1/agents/node-a/plan', { token: TOKEN_A });
    expect(first.status).toBe(200);
    const plan = first.json.plan as {
      version: string;
      observer: string;
      member: boolean;
      targets: { target: string }[];
    };
    expect(plan.observer).toBe('node-a');
    expect(plan.member).toBe(true);
    expect(plan.targets.length).toBeGreaterThan(0);
    expect(plan.targets.map((t) => t.target)).not.toContain('node-a');
    expect(plan.version).toBe(mesh.plans.version);
    expect(first.headers.get('etag')).toBe(`"${plan.version}"`);
    const again = await call('GET', '/v1/agents/node-a/plan', {
      token: TOKEN_A,
      headers: { 'if-none-match': `"${plan.version}"` },
    });
    expect(again.status).toBe(304);
  });

  it('refuses a missing or unknown token with 401 and another node’s token with 403', async () => {
    expect((await call('GET', '/v1/agents/node-a/plan')).status).toBe(401);
    const wrong = await call('GET', '/v1/agents/node-a/plan', {
      token: 'not-a-token-at-all-xxxxxx',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('UNAUTHENTICATED');
    const other = await call('GET', '/v1/agents/node-a/plan', { token: TOKEN_B });
    expect(other.status).toBe(403);
    expect(other.json.message).toMatch(/belongs to node node-b/);
    const admin = await call('GET', '/v1/agents/node-a/plan', { token: ADMIN });
    expect(admin.status).toBe(403);
  });

  it('refuses a path node that is not a node name with 400', async () => {
    const bad = await call('GET', '/v1/agents/Node_A/plan', { token: TOKEN_A });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/not a node name/);
  });
});

describe('agent API: results', () => {
  it('takes a valid batch into the mesh evidence', async () => {
    const res = await call('POST', '/v1/agents/node-a/results', {
      token: TOKEN_A,
      body: batch('node-a', [result('node-c', '10.62.0.12')]),
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      accepted: 1,
      ignored: 0,
      planVersion: mesh.plans.version,
      directives: [],
    });
    const seen = mesh.observations('node-c').filter((o) => o.observer === 'node-a');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.healthy).toBe(true);
  });

  it('ignores results for unknown nodes and for the reporting node itself', async () => {
    const res = await call('POST', '/v1/agents/node-a/results', {
      token: TOKEN_A,
      body: batch('node-a', [result('node-zz', '10.62.0.99'), result('node-a', '10.62.0.10')]),
    });
    expect(res.json).toMatchObject({ accepted: 0, ignored: 2 });
  });

  it('405 for the wrong method, 415 for a body that is not JSON-typed', async () => {
    expect((await call('GET', '/v1/agents/node-a/results', { token: TOKEN_A })).status).toBe(405);
    const typed = await call('POST', '/v1/agents/node-a/results', {
      token: TOKEN_A,
      raw: '{}',
      type: 'text/plain',
    });
    expect(typed.status).toBe(415);
  });

  it('400 for bad JSON, and 400 naming the path of a bad or unknown field', async () => {
    const broken = await call('POST', '/v1/agents/node-a/results', {
      token: TOKEN_A,
      raw: '{"node": "node-a",',
    });
    expect(broken.status).toBe(400);
    expect(broken.json.message).toMatch(/not JSON/);
    const bad = batch('node-a', [result('node-c', '10.62.0.12')]);
    const badLayer = JSON.parse(JSON.stringify(bad)) as {
      results: { layers: { status: string }[] }[];
    };
    badLayer.results[0]!.layers[0]!.status = 'fine';
    const r1 = await call('POST', '/v1/agents/node-a/results', { token: TOKEN_A, body: badLayer });
    expect(r1.status).toBe(400);
    expect(r1.json.path).toBe('results[0].layers[0].status');
    expect(r1.json.message).toMatch(/expected one of ok, failed, skipped, got "fine"/);
    const r2 = await call('POST', '/v1/agents/node-a/results', {
      token: TOKEN_A,
      body: { ...bad, extra: 1 },
    });
    expect(r2.json.path).toBe('extra');
    const r3 = await call('POST', '/v1/agents/node-a/results', {
      token: TOKEN_A,
      body: { ...bad, results: [{ ...result('node-c', '10.62.0.12'), startedAt: 'yesterday' }] },
    });
    expect(r3.status).toBe(400);
    expect(r3.json.path).toBe('results[0].startedAt');
    const r4 = await call('POST', '/v1/agents/node-a/results', {
      token: TOKEN_A,
      body: {
        ...bad,
        results: [result('node-c', '10.62.0.12', { healthy: true, failedLayer: 'L3' })],
      },
    });
    expect(r4.json.path).toBe('results[0].failedLayer');
  });

  it('403 when the body reports for another node than the route and token', async () => {
    const res = await call('POST', '/v1/agents/node-a/results', {
      token: TOKEN_A,
      body: batch('node-b', [result('node-c', '10.62.0.12')]),
    });
    expect(res.status).toBe(403);
    expect(res.json.path).toBe('node');
  });

  it('413 for a body over 1 MiB, declared or streamed without a length', async () => {
    const huge = JSON.stringify(
      batch('node-a', [result('node-c', '10.62.0.12', { summary: 'x'.repeat(1_100_000) })]),
    );
    const declared = await call('POST', '/v1/agents/node-a/results', { token: TOKEN_A, raw: huge });
    expect(declared.status).toBe(413);
    const bytes = new TextEncoder().encode(huge);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024)
          controller.enqueue(bytes.slice(i, i + 64 * 1024));
        controller.close();
      },
    });
    const res = await fetch(`${base}/v1/agents/node-a/results`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN_A}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    });
    expect(res.status).toBe(413);
    // The server is still answering.
    expect((await call('GET', '/v1/agents/node-a/plan', { token: TOKEN_A })).status).toBe(200);
  });
});

describe('agent API: last words', () => {
  it('stores each item in the store under its kind', async () => {
    const at = new Date().toISOString();
    const res = await call('POST', '/v1/agents/node-b/last-words', {
      token: TOKEN_B,
      body: {
        node: 'node-b',
        sentAt: Date.now(),
        items: [
          {
            kind: 'kernel-log',
            at,
            data: { events: [{ id: 'gpu.xid.79', text: 'NVRM: Xid (PCI:0000:3b:00): 79' }] },
          },
          { kind: 'gpu-samples', at, data: { ok: false, failure: 'timeout' } },
          { kind: 'inventory', at, data: { kernel: '6.1.0' } },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.json.stored).toBe(3);
    const kept = await store.lastWords('node-b', new Date(Date.now() - 60_000).toISOString());
    expect(kept.map((k) => k.kind).sort()).toEqual(['gpu-samples', 'inventory', 'kernel-log']);
  });

  it('400 with the path for an unknown kind or a non-object datum', async () => {
    const at = new Date().toISOString();
    const kind = await call('POST', '/v1/agents/node-b/last-words', {
      token: TOKEN_B,
      body: { node: 'node-b', sentAt: Date.now(), items: [{ kind: 'gossip', at, data: {} }] },
    });
    expect(kind.status).toBe(400);
    expect(kind.json.path).toBe('items[0].kind');
    const data = await call('POST', '/v1/agents/node-b/last-words', {
      token: TOKEN_B,
      body: { node: 'node-b', sentAt: Date.now(), items: [{ kind: 'inventory', at, data: [1] }] },
    });
    expect(data.json.path).toBe('items[0].data');
  });
});

describe('agent API: probe-now', () => {
  it('needs an admin token; 404 for a node the plan does not hold', async () => {
    expect((await call('POST', '/v1/nodes/node-c/probe-now', { token: TOKEN_A })).status).toBe(403);
    expect((await call('POST', '/v1/nodes/node-c/probe-now')).status).toBe(401);
    const unknown = await call('POST', '/v1/nodes/node-zz/probe-now', { token: ADMIN });
    expect(unknown.status).toBe(404);
    expect(unknown.json.message).toMatch(/node-zz is not in the probe plan/);
  });

  it('queues a directive for every observer, delivers it on plan poll and push, and records answers', async () => {
    const queued = await call('POST', '/v1/nodes/node-c/probe-now', { token: ADMIN });
    expect(queued.status).toBe(202);
    const observers = queued.json.observers as string[];
    expect(observers).toEqual(mesh.plans.observersOf('node-c'));
    expect(queued.json.pending).toEqual(observers);
    const id = queued.json.id as string;

    // k = 3 of the 4 other nodes: node-a or node-b is among them. It gets the directive even with a current ETag.
    const observer = observers.find((o) => o === 'node-a' || o === 'node-b')!;
    const token = observer === 'node-a' ? TOKEN_A : TOKEN_B;
    const plan = await call('GET', `/v1/agents/${observer}/plan`, {
      token,
      headers: { 'if-none-match': `"${mesh.plans.version}"` },
    });
    expect(plan.status).toBe(200);
    expect((plan.json.directives as { id: string }[]).map((d) => d.id)).toContain(id);

    const answer = await call('POST', `/v1/agents/${observer}/results`, {
      token,
      body: batch(observer, [
        result('node-c', '10.62.0.12', {
          mode: 'full',
          directive: id,
          healthy: false,
          failedLayer: 'L3',
          summary: 'L3 failed: Destination Host Unreachable',
        }),
      ]),
    });
    expect(answer.status).toBe(200);
    expect((answer.json.directives as { id: string }[]).map((d) => d.id)).not.toContain(id);
    const status = await call('GET', `/v1/nodes/node-c/probe-now/${id}`, { token: ADMIN });
    expect(status.status).toBe(200);
    expect((status.json.answered as { observer: string }[]).map((a) => a.observer)).toEqual([
      observer,
    ]);
    expect(status.json.pending).toEqual(observers.filter((o) => o !== observer));
    const probes = await call('GET', '/v1/nodes/node-c/probes', { token: ADMIN });
    expect((probes.json.latest as { observer: string }[]).map((l) => l.observer)).toContain(
      observer,
    );
    expect((await call('GET', `/v1/nodes/node-c/probe-now/pn-nope`, { token: ADMIN })).status).toBe(
      404,
    );
  });

  it('counted every request by route and status', () => {
    expect(requests.some(([route, status]) => route === 'results' && status === 413)).toBe(true);
    expect(requests.some(([route, status]) => route === 'plan' && status === 304)).toBe(true);
  });
});
