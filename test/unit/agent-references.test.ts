/**
 * Reference points probed from the observers (issue #6): the
 * `probe-references` directive's validation and bounds, the controller's
 * queue (who is asked, expiry, answers, skew), the HTTP route's refusals, and
 * the real agent loop answering a directive through a real controller API on
 * 127.0.0.1 — while an agent that does not name the feature never gets one.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, type ReferenceProber } from '../../src/agent/agent.ts';
import { ControllerClient } from '../../src/agent/controller-client.ts';
import { FakeProber } from '../../src/agent/fake-prober.ts';
import {
  AGENT_FEATURES,
  AGENT_FEATURES_HEADER,
  LIMITS,
  parseAgentFeatures,
  parseDirective,
  parsePushResponse,
  parseReferencesAnswer,
  ProtocolError,
  type ReferencesAnswer,
  type ReferencesDirective,
  type WireReferenceResult,
} from '../../src/agent/protocol.ts';
import { ManualClock, systemClock } from '../../src/core/clock.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { probeVerdict, type LayerResult } from '../../src/core/probe.ts';
import { AgentMesh } from '../../src/controller/mesh.ts';
import { ReferenceQueue, spreadAcrossZones } from '../../src/controller/references.ts';
import { AgentAuth } from '../../src/server/agent-api-auth.ts';
import { agentApiRoutes } from '../../src/server/agent-api.ts';
import { startRoutes } from '../support/ops-server.ts';
import { readyNode as node } from '../support/nodes.ts';

const T0 = 1_756_094_280_000;

const directive = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'rp-1',
  kind: 'probe-references',
  node: 'node-a',
  points: [{ kind: 'gateway', ip: '10.62.0.1', port: 6443 }],
  timeoutMs: 1_500,
  requestedAt: T0,
  expiresAt: T0 + 15_000,
  ...over,
});

/** The path a ProtocolError names, or the error itself when it is not one. */
function badPath(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    if (error instanceof ProtocolError) return error.path;
    throw error;
  }
  throw new Error('expected a ProtocolError');
}

const l3 = (ok: boolean, ip = '10.62.0.1'): LayerResult => ({
  layer: 'L3',
  status: ok ? 'ok' : 'failed',
  latencyMs: ok ? 0.08 : null,
  command: `ping -c 1 -W 1.5 ${ip}`,
  detail: ok ? 'reply in 0.08 ms' : 'timeout after 1500 ms (100% packet loss)',
});

function wireResult(over: Partial<WireReferenceResult> = {}): WireReferenceResult {
  return {
    kind: 'gateway',
    ip: '10.62.0.1',
    port: 6443,
    startedAt: T0,
    durationMs: 2,
    healthy: true,
    layers: [l3(true)],
    ...over,
  };
}

describe('probe-references directive: validation and bounds', () => {
  it('takes a valid directive and push answer', () => {
    const d = parseDirective(directive(), 'directives[0]');
    expect(d).toMatchObject({ kind: 'probe-references', timeoutMs: 1_500 });
    const answer = parsePushResponse({
      accepted: 0,
      ignored: 0,
      planVersion: 'v1',
      directives: [directive()],
    });
    expect(answer.directives).toHaveLength(1);
  });

  it('refuses each bad field, naming it', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ points: [] }, 'directives[0].points'],
      [
        {
          points: Array.from({ length: LIMITS.maxReferencePoints + 1 }, () => ({
            kind: 'gateway',
            ip: '10.62.0.1',
          })),
        },
        'directives[0].points',
      ],
      [{ points: [{ kind: 'router', ip: '10.62.0.1' }] }, 'directives[0].points[0].kind'],
      [{ points: [{ kind: 'gateway', ip: 'gw.example' }] }, 'directives[0].points[0].ip'],
      [
        { points: [{ kind: 'gateway', ip: '10.62.0.1', port: 70_000 }] },
        'directives[0].points[0].port',
      ],
      [{ timeoutMs: 50 }, 'directives[0].timeoutMs'],
      [{ timeoutMs: 60_000 }, 'directives[0].timeoutMs'],
      [{ expiresAt: T0 }, 'directives[0].expiresAt'],
      [{ expiresAt: T0 + LIMITS.maxDirectiveLifeMs + 1 }, 'directives[0].expiresAt'],
      [{ node: 'Node_A' }, 'directives[0].node'],
      [{ kind: 'reboot' }, 'directives[0].kind'],
      [{ extra: true }, 'directives[0].extra'],
    ];
    for (const [over, path] of cases) {
      expect(
        badPath(() => parseDirective(directive(over), 'directives[0]')),
        path,
      ).toBe(path);
    }
  });

  it('an answer holds at most the point limit, at L3/L4 only', () => {
    const answer = (results: unknown[]) => ({
      node: 'node-b',
      sentAt: T0,
      directive: 'rp-1',
      results,
    });
    expect(parseReferencesAnswer(answer([wireResult()])).results).toHaveLength(1);
    expect(
      badPath(() =>
        parseReferencesAnswer(
          answer(Array.from({ length: LIMITS.maxReferencePoints + 1 }, () => wireResult())),
        ),
      ),
    ).toBe('results');
    expect(
      badPath(() =>
        parseReferencesAnswer(answer([wireResult({ layers: [{ ...l3(true), layer: 'L7' }] })])),
      ),
    ).toBe('results[0].layers[0].layer');
    expect(badPath(() => parseReferencesAnswer({ ...answer([]), directive: '' }))).toBe(
      'directive',
    );
  });

  it('reads the features header, ignoring words it does not know', () => {
    expect(parseAgentFeatures('probe-references')).toEqual(['probe-references']);
    expect(parseAgentFeatures(' other, probe-references ')).toEqual(['probe-references']);
    expect(parseAgentFeatures(undefined)).toEqual([]);
    expect(parseAgentFeatures('probe-referencesX')).toEqual([]);
  });
});

describe('ReferenceQueue', () => {
  const points = [{ kind: 'gateway' as const, ip: '10.62.0.1' }];

  it('refuses requests out of bounds with what to do', () => {
    const q = new ReferenceQueue(new ManualClock(T0));
    expect(() => q.request('n', points, [], 1_500)).toThrow(/no observer/);
    expect(() => q.request('n', [], ['a'], 1_500)).toThrow(/no reference point/);
    expect(() =>
      q.request(
        'n',
        Array.from({ length: 5 }, () => points[0]!),
        ['a'],
        1_500,
      ),
    ).toThrow(/at most 4/);
    expect(() => q.request('n', points, ['a'], 10)).toThrow(/outside 100–5000 ms/);
    expect(() => new ReferenceQueue(new ManualClock(T0), { ttlMs: 600_000 })).toThrow(/TTL/);
  });

  it('hands a directive to the observers asked until each answers or it expires', () => {
    const clock = new ManualClock(T0);
    const q = new ReferenceQueue(clock, { ttlMs: 10_000 });
    const status = q.request('node-a', points, ['b', 'c'], 1_500);
    expect(q.pendingFor('b').map((d) => d.id)).toEqual([status.id]);
    expect(q.pendingFor('z')).toEqual([]);
    const answer = (id: string, over: Partial<ReferencesAnswer> = {}): ReferencesAnswer => ({
      node: 'b',
      sentAt: T0 + 1_000 - 400, // the agent's clock is 400 ms behind
      directive: id,
      results: [
        {
          kind: 'gateway',
          ip: '10.62.0.1',
          startedAt: T0 - 400,
          durationMs: 2,
          healthy: true,
          layers: [l3(true)],
        },
      ],
      ...over,
    });
    clock.advance(1_000);
    expect(q.answer('b', answer('rp-nope'))).toBe('unknown');
    expect(q.answer('z', answer(status.id))).toBe('not-asked');
    expect(
      q.answer('b', answer(status.id, { results: [{ ...wireResult(), ip: '10.62.0.9' }] })),
    ).toBe('mismatch');
    expect(q.answer('b', answer(status.id))).toBe('recorded');
    expect(q.pendingFor('b')).toEqual([]);
    const after = q.status(status.id);
    expect(after?.pending).toEqual(['c']);
    // Skew corrected: the agent's startedAt lands on the controller's T0.
    expect(after?.answered[0]?.results[0]?.startedAt).toBe(T0);
    clock.advance(10_000);
    expect(q.pendingFor('c')).toEqual([]);
    expect(q.answer('c', { ...answer(status.id), node: 'c' })).toBe('expired');
  });

  it('remembers a bounded number of requests', () => {
    const q = new ReferenceQueue(new ManualClock(T0), { maxRequests: 2 });
    const first = q.request('n', points, ['a'], 1_500);
    q.request('n', points, ['a'], 1_500);
    q.request('n', points, ['a'], 1_500);
    expect(q.status(first.id)).toBeUndefined();
    expect(q.pendingFor('a')).toHaveLength(2);
  });

  it('spreads the observers asked across zones first', () => {
    const zone: Record<string, string | null> = { a: 'z1', b: 'z1', c: 'z2', d: null, e: 'z3' };
    const zoneOf = (o: string) => zone[o] ?? null;
    expect(spreadAcrossZones(['a', 'b', 'c', 'd', 'e'], zoneOf, 3)).toEqual(['a', 'c', 'e']);
    expect(spreadAcrossZones(['a', 'b', 'd'], zoneOf, 3)).toEqual(['a', 'b', 'd']);
    expect(spreadAcrossZones(['a', 'b'], () => null, 3)).toEqual(['a', 'b']);
  });
});

describe('AgentMesh.requestReferences', () => {
  const nodes = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e'].map((n, i) =>
    node(n, `10.62.0.${i + 10}`, { 'topology.kubernetes.io/zone': i % 2 === 0 ? 'z1' : 'z2' }),
  );

  it('asks only observers heard from lately that named the feature, one per zone first', () => {
    const clock = new ManualClock(T0);
    const mesh = new AgentMesh(() => nodes, clock, silentLogger, { plan: { k: 4 } });
    const points = [{ kind: 'gateway' as const, ip: '10.62.0.1' }];
    expect(() => mesh.requestReferences('node-a', points, 1_500)).toThrow(
      /no observer of node-a that can probe reference points/,
    );
    const observers = mesh.plans.observersOf('node-a');
    expect(observers.length).toBe(4);
    const [old, ...able] = observers;
    mesh.planFor(old!, []); // an older agent: no feature header
    for (const o of able) mesh.planFor(o, AGENT_FEATURES);
    const zoneOf = (o: string) =>
      nodes.find((n) => n.name === o)?.labels['topology.kubernetes.io/zone'] ?? null;
    const status = mesh.requestReferences('node-a', points, 1_500, { max: 2, zoneOf });
    expect(status.observers).toHaveLength(2);
    expect(status.observers).not.toContain(old);
    expect(new Set(status.observers.map(zoneOf)).size).toBe(2);
    expect(mesh.planFor(old!).directives).toEqual([]);
    const asked = status.observers[0]!;
    expect(mesh.planFor(asked).directives.map((d) => d.kind)).toEqual(['probe-references']);
    // Silent for longer than 15 s: not asked again.
    clock.advance(16_000);
    expect(() => mesh.requestReferences('node-a', points, 1_500)).toThrow(/UNAVAILABLE|heard/);
  });
});

describe('the route and the real agent loop on 127.0.0.1', () => {
  const TOKEN_B = 'token-for-node-b-0123456789';
  const TOKEN_C = 'token-for-node-c-0123456789';
  const nodes = ['node-a', 'node-b', 'node-c', 'node-d'].map((n, i) =>
    node(n, `10.62.0.${i + 10}`),
  );
  let mesh: AgentMesh;
  let base = '';
  let close: () => Promise<void>;
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nw-agent-refs-'));
    writeFileSync(join(dir, 'agents'), `node-b ${TOKEN_B}\nnode-c ${TOKEN_C}\n`);
    mesh = new AgentMesh(() => nodes, systemClock, silentLogger, { plan: { k: 3 } });
    ({ base, close } = await startRoutes(
      agentApiRoutes({
        mesh,
        log: silentLogger,
        auth: new AgentAuth({ agentTokenFile: join(dir, 'agents') }),
      }),
    ));
  });
  afterAll(async () => close());

  async function post(path: string, token: string, body: unknown) {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  function agentFor(name: string, token: string, prober: ReferenceProber | undefined) {
    writeFileSync(join(dir, `token-${name}`), `${token}\n`);
    const client = new ControllerClient({
      baseUrl: base,
      node: name,
      token: () => Promise.resolve(token),
      timeoutMs: 2_000,
      ...(prober === undefined ? {} : { features: AGENT_FEATURES }),
    });
    return new Agent(
      { node: name, pushIntervalMs: 60_000, planPollMs: 60_000, fullEveryMs: 0 },
      {
        quick: new FakeProber('l4'),
        full: new FakeProber('full'),
        controller: client,
        clock: systemClock,
        log: silentLogger,
        ...(prober === undefined ? {} : { references: prober }),
      },
    );
  }

  it('refuses answers that are unknown, of another observer, malformed or from the wrong node', async () => {
    const target = mesh.planFor('node-b', AGENT_FEATURES).plan.targets[0]?.target ?? '';
    const status = mesh.requestReferences(target, [{ kind: 'gateway', ip: '10.62.0.1' }], 1_500);
    expect(status.observers).toEqual(['node-b']);
    const answer = {
      node: 'node-b',
      sentAt: Date.now(),
      directive: status.id,
      results: [
        {
          kind: 'gateway',
          ip: '10.62.0.1',
          startedAt: Date.now(),
          durationMs: 1,
          healthy: true,
          layers: [l3(true)],
        },
      ],
    };
    const unknown = await post('/v1/agents/node-b/references', TOKEN_B, {
      ...answer,
      directive: 'rp-nope',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json.path).toBe('directive');
    const notAsked = await post('/v1/agents/node-c/references', TOKEN_C, {
      ...answer,
      node: 'node-c',
    });
    expect(notAsked.status).toBe(403);
    expect(notAsked.json.message).toMatch(/was not sent to node node-c/);
    const otherNode = await post('/v1/agents/node-b/references', TOKEN_C, answer);
    expect(otherNode.status).toBe(403);
    const bad = await post('/v1/agents/node-b/references', TOKEN_B, {
      ...answer,
      results: [{ ...answer.results[0], layers: [{ ...l3(true), layer: 'L2' }] }],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.path).toBe('results[0].layers[0].layer');
    const ok = await post('/v1/agents/node-b/references', TOKEN_B, answer);
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ recorded: 1 });
    expect(mesh.references.status(status.id)?.pending).toEqual([]);
  });

  it('an agent naming the feature gets the directive on its push, probes the points and posts the answer', async () => {
    const probed: string[] = [];
    const prober: ReferenceProber = (point, timeoutMs) => {
      probed.push(`${point.ip}:${point.port ?? '-'}@${timeoutMs}`);
      const layers: LayerResult[] = [
        l3(point.ip === '10.62.0.1', point.ip),
        ...(point.port === undefined
          ? []
          : [
              {
                layer: 'L4' as const,
                status: 'ok' as const,
                latencyMs: 0.2,
                command: `nc -vz -w 2 ${point.ip} ${point.port}`,
                detail: `connected to port ${point.port}`,
              },
            ]),
      ];
      return Promise.resolve({
        target: point.ip,
        port: point.port ?? 0,
        startedAt: new Date().toISOString(),
        durationMs: 1,
        layers,
        verdict: probeVerdict(layers),
      });
    };
    const agent = agentFor('node-c', TOKEN_C, prober);
    await agent.pollPlan(); // names the feature: the controller may now ask it
    const target = agent.plan?.targets[0]?.target ?? '';
    expect(target).not.toBe('');
    const status = mesh.requestReferences(
      target,
      [
        { kind: 'gateway', ip: '10.62.0.1', port: 6443 },
        { kind: 'ovn-gateway', ip: '100.64.0.1' },
      ],
      1_200,
      { max: 3 },
    );
    expect(status.observers).toContain('node-c');
    await agent.probePeer(target); // one result in the backlog: the push carries the directive back
    await agent.push();
    const deadline = Date.now() + 5_000;
    // Until the controller took the answer and the agent heard it did.
    while (Date.now() < deadline && agent.stats.references === 0) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(probed.sort()).toEqual(['10.62.0.1:6443@1200', '100.64.0.1:-@1200']);
    const answered = mesh.references.status(status.id)?.answered ?? [];
    expect(answered.map((a) => a.observer)).toEqual(['node-c']);
    const byIp = new Map(answered[0]?.results.map((r) => [r.ip, r]));
    expect(byIp.get('10.62.0.1')).toMatchObject({ healthy: true, port: 6443 });
    expect(byIp.get('10.62.0.1')?.layers.map((l) => l.layer)).toEqual(['L3', 'L4']);
    expect(byIp.get('100.64.0.1')).toMatchObject({ healthy: false });
    expect(agent.stats.references).toBe(1);
    await agent.stop();
  });

  it('an agent without the feature is never handed the directive; one without a prober ignores it', async () => {
    const old = agentFor('node-b', TOKEN_B, undefined);
    await old.pollPlan();
    const contact = mesh.contacts().get('node-b');
    expect(contact?.features).toEqual([]);
    expect(mesh.planFor('node-b').directives.filter((d) => d.kind === 'probe-references')).toEqual(
      [],
    );
    const ignored = await old.answerReferences(
      parseDirective(
        directive({ requestedAt: Date.now(), expiresAt: Date.now() + 5_000 }),
        'd',
      ) as ReferencesDirective,
    );
    expect(ignored).toBe(false);
    await old.stop();
  });

  it('the client names its features in the request header', async () => {
    let seen: string | undefined;
    const server = await startRoutes([
      (req, res) => {
        const h = req.headers[AGENT_FEATURES_HEADER];
        seen = Array.isArray(h) ? h.join(',') : h;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return true;
      },
    ]);
    try {
      const client = new ControllerClient({
        baseUrl: server.base,
        node: 'node-b',
        token: () => Promise.resolve(TOKEN_B),
        features: AGENT_FEATURES,
      });
      await client.pushReferences({ node: 'node-b', sentAt: 0, directive: 'x', results: [] });
      expect(seen).toBe('probe-references');
    } finally {
      await server.close();
    }
  });
});
