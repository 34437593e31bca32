/**
 * The agent against a real controller API on 127.0.0.1 (or none): backlog
 * bounding and drop counting while the controller is down, draining when it
 * returns; plan fallback from the saved file after a restart; escalation
 * from the L4 connect to the full probe; O(k) metric series; the real timer
 * loops end to end; and mesh evidence driving detection to Suspect/Down.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, type AgentSettings } from '../../src/agent/agent.ts';
import { AgentMetrics } from '../../src/agent/agent-metrics.ts';
import { ControllerClient, TokenFile } from '../../src/agent/controller-client.ts';
import { FakeProber, type FakePeerState } from '../../src/agent/fake-prober.ts';
import { PlanFile } from '../../src/agent/plan-file.ts';
import type { ResultBatch, WireResult } from '../../src/agent/protocol.ts';
import { ManualClock, systemClock } from '../../src/core/clock.ts';
import { detectCluster } from '../../src/core/detection-cluster.ts';
import { evaluateNode } from '../../src/core/detection.ts';
import { silentLogger } from '../../src/core/logger.ts';
import {
  AgentMesh,
  combineObservationSources,
  MeshObservations,
} from '../../src/controller/mesh.ts';
import { AgentAuth } from '../../src/server/agent-api-auth.ts';
import { agentApiRoutes } from '../../src/server/agent-api.ts';
import { startOpsServer } from '../../src/server/ops-server.ts';
import type { NodeSnapshot } from '../../src/core/cluster.ts';
import { readyNode as node } from '../support/nodes.ts';
import { until } from '../support/until.ts';

const TOKEN = 'shared-lab-token-0123456789abcdef';

function cluster(n: number): NodeSnapshot[] {
  return Array.from({ length: n }, (_, i) =>
    node(`node-${String(i).padStart(3, '0')}`, `10.62.${Math.floor(i / 250)}.${(i % 250) + 2}`),
  );
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'nw-agent-'));
}

/** A controller's agent API on 127.0.0.1 (port 0: any). */
async function controller(
  nodes: NodeSnapshot[],
  port = 0,
  plan: { k?: number; intervalMs?: number } = { k: 3 },
) {
  const dir = tempDir();
  writeFileSync(join(dir, 'agents'), `${TOKEN}\n`);
  const mesh = new AgentMesh(() => nodes, systemClock, silentLogger, {
    plan,
    observations: { keepMs: 600_000, perObserver: 1_000 },
  });
  const server = await startOpsServer({
    listen: `127.0.0.1:${port}`,
    registry: new Registry(),
    healthy: () => ({ ok: true, reason: '' }),
    ready: () => ({ ok: true, reason: '' }),
    routes: agentApiRoutes({
      mesh,
      log: silentLogger,
      auth: new AgentAuth({ agentTokenFile: join(dir, 'agents') }),
    }),
  });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    server.server.closeAllConnections();
    await server.close();
  };
  cleanups.push(close);
  return { mesh, port: server.port, close };
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const c = await controller([node('x', '10.0.0.1')]);
  await c.close();
  return c.port;
}

function makeAgent(
  name: string,
  port: number,
  states: Map<string, FakePeerState>,
  settings: Partial<AgentSettings> = {},
  stateDir?: string,
) {
  const dir = tempDir();
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  const quick = new FakeProber('l4', states);
  const full = new FakeProber('full', states);
  const client = new ControllerClient({
    baseUrl: `http://127.0.0.1:${port}`,
    node: name,
    token: () => new TokenFile(join(dir, 'token'), systemClock).token(),
    timeoutMs: 1_000,
  });
  let agent: Agent | null = null;
  const metrics = new AgentMetrics({
    backlogSize: () => agent?.backlog.size ?? 0,
    backlogCapacity: () => agent?.backlog.capacity ?? 0,
    controllerReachable: () => agent?.controllerReachable === true,
    planTargets: () => agent?.plan?.targets.length ?? 0,
    planFromFile: () => agent?.planSource === 'file',
    lastWordsPending: () => 0,
  });
  agent = new Agent(
    { node: name, pushIntervalMs: 60_000, planPollMs: 60_000, fullEveryMs: 0, ...settings },
    {
      quick,
      full,
      controller: client,
      clock: systemClock,
      log: silentLogger,
      metrics,
      ...(stateDir === undefined ? {} : { planFile: new PlanFile(stateDir, silentLogger) }),
    },
  );
  const a = agent;
  cleanups.push(() => a.stop());
  return { agent: a, quick, full, metrics };
}

/** The agent's timers run on a 50 ms scale: poll every 20 ms, for 5 s unless told. */
const waitFor = (what: string, check: () => boolean, timeoutMs = 5_000): Promise<true> =>
  until(what, timeoutMs, check, 20);

async function series(registry: Registry, prefix: string): Promise<number> {
  const metrics = await registry.getMetricsAsJSON();
  return metrics.filter((m) => m.name.startsWith(prefix)).reduce((n, m) => n + m.values.length, 0);
}

describe('agent: escalation', () => {
  it('connects at L4 each tick and runs the full probe only for the peer whose connect failed', async () => {
    const nodes = cluster(6);
    const c = await controller(nodes);
    const states = new Map<string, FakePeerState>();
    const { agent, quick, full } = makeAgent('node-000', c.port, states);
    await agent.pollPlan();
    const targets = agent.plan!.targets;
    expect(targets).toHaveLength(3);
    const sick = targets[1]!;
    states.set(sick.ip, 'kubelet-down');
    const results = await Promise.all(targets.map((t) => agent.probePeer(t.target)));
    expect(quick.calls.sort()).toEqual(targets.map((t) => t.ip).sort());
    expect(full.calls).toEqual([sick.ip]);
    const bad = results.find((r) => r?.target === sick.target)!;
    expect(bad.mode).toBe('full');
    expect(bad.layers.map((l) => `${l.layer}:${l.status}`)).toEqual([
      'L2:ok',
      'L3:ok',
      'L4:failed',
      'L7:failed',
    ]);
    expect(bad.failedLayer).toBe('L4');
    expect(results.filter((r) => r?.mode === 'l4' && r.healthy)).toHaveLength(2);
    expect(agent.stats.escalations).toBe(1);
    await agent.push();
    expect(agent.backlog.size).toBe(0);
    const seen = c.mesh.observations(sick.target);
    expect(seen.some((o) => o.observer === 'node-000' && o.failedLayer === 'L4')).toBe(true);
  });

  it('also runs the full probe on a healthy peer when it is due (fullEveryMs), so L7-only faults show', async () => {
    const c = await controller(cluster(4));
    const { agent, full } = makeAgent('node-000', c.port, new Map(), { fullEveryMs: 60_000 });
    await agent.pollPlan();
    const t = agent.plan!.targets[0]!;
    expect((await agent.probePeer(t.target))?.mode).toBe('full');
    expect((await agent.probePeer(t.target))?.mode).toBe('l4');
    expect(full.calls).toEqual([t.ip]);
  });
});

describe('agent: backlog while the controller is down', () => {
  it('keeps the newest results up to its capacity, counts drops, and drains when the controller returns', async () => {
    const port = await freePort();
    const nodes = cluster(5);
    const dir = tempDir();
    // A plan saved by an earlier run, so the agent has peers without the controller.
    // Ten-minute intervals and a late phase: only the test's own ticks run.
    const first = await controller(nodes, 0, { k: 3, intervalMs: 600_000 });
    const seed = makeAgent('node-000', first.port, new Map(), {}, dir);
    await seed.agent.pollPlan();
    await first.close();

    const { agent, metrics } = makeAgent(
      'node-000',
      port,
      new Map(),
      { backlogCapacity: 10, maxBatch: 4, random: () => 0.999 },
      dir,
    );
    await agent.start();
    expect(agent.planSource).toBe('file');
    const targets = agent.plan!.targets;
    for (let i = 0; i < 25; i += 1) await agent.probePeer(targets[i % targets.length]!.target);
    await agent.push();
    expect(agent.controllerReachable).toBe(false);
    expect(agent.backlog.size).toBe(10);
    expect(agent.backlog.dropped).toBe(15);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^nodewarden_agent_backlog_dropped_total 15$/m);
    expect(text).toMatch(/^nodewarden_agent_backlog_results 10$/m);
    expect(text).toMatch(/^nodewarden_agent_controller_reachable 0$/m);
    expect(text).toMatch(/^nodewarden_agent_plan_from_file 1$/m);

    const back = await controller(nodes, port, { k: 3, intervalMs: 600_000 });
    await agent.push();
    expect(agent.controllerReachable).toBe(true);
    expect(agent.backlog.size).toBe(0);
    expect(agent.stats.pushed).toBe(10);
    const received = targets.reduce((n, t) => n + back.mesh.observations(t.target).length, 0);
    expect(received).toBe(10);
    // The controller heard how many were lost.
    expect(back.mesh.contacts().get('node-000')?.dropped).toBe(15);
    await waitFor('the plan to be confirmed', () => agent.planSource === 'controller');
  });

  it('puts an undelivered batch back in front, dropping only what no longer fits', async () => {
    const { Backlog } = await import('../../src/agent/backlog.ts');
    const b = new Backlog<number>(5);
    for (let i = 1; i <= 5; i += 1) b.push(i);
    const taken = b.take(3);
    expect(taken).toEqual([1, 2, 3]);
    b.push(6);
    b.push(7);
    b.restore(taken); // room for 1 of 3: the two oldest go
    expect(b.dropped).toBe(2);
    expect(b.take(10)).toEqual([3, 4, 5, 6, 7]);
  });
});

describe('agent: plan fallback after a restart', () => {
  it('probes its peers from the saved plan when the controller is unreachable at start', async () => {
    const nodes = cluster(8);
    const dir = tempDir();
    const c = await controller(nodes, 0, { k: 3, intervalMs: 50 });
    const before = makeAgent('node-003', c.port, new Map(), {}, dir);
    await before.agent.pollPlan();
    const plan = before.agent.plan!;
    expect(before.agent.planSource).toBe('controller');
    await before.agent.stop();
    await c.close();

    const after = makeAgent('node-003', c.port, new Map(), {}, dir);
    await after.agent.start();
    expect(after.agent.planSource).toBe('file');
    expect(after.agent.plan?.version).toBe(plan.version);
    // The timers run: every peer gets probed without the controller.
    await waitFor('every saved peer to be probed', () =>
      plan.targets.every((t) => after.quick.calls.includes(t.ip)),
    );
    await waitFor(
      'the controller to be seen as unreachable',
      () => after.agent.controllerReachable === false,
    );
    expect(after.agent.health().ok).toBe(true);
  });

  it('ignores a saved plan of another node or a damaged file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'plan.json'), '{"savedAt":"x","plan":{"version":"v"');
    expect(await new PlanFile(dir, silentLogger).load('node-001')).toBeNull();
    writeFileSync(
      join(dir, 'plan.json'),
      JSON.stringify({
        savedAt: 'x',
        plan: { version: 'v', generatedAt: 'g', observer: 'node-002', member: true, targets: [] },
      }),
    );
    expect(await new PlanFile(dir, silentLogger).load('node-001')).toBeNull();
    expect((await new PlanFile(dir, silentLogger).load('node-002'))?.plan.version).toBe('v');
  });
});

describe('agent: metrics cardinality is O(k)', () => {
  it('exports per-peer series only for its own peers, whatever the cluster size', async () => {
    const counts: { n: number; targets: number; perPeer: number; total: number }[] = [];
    for (const n of [20, 200]) {
      const c = await controller(cluster(n), 0, { k: 4 });
      const states = new Map<string, FakePeerState>();
      // The busiest observer: the most per-peer series any agent of this cluster exports.
      const busiest = [...c.mesh.plans.plan.assignments].sort(
        (a, b) => b[1].length - a[1].length,
      )[0]![0];
      const { agent, metrics } = makeAgent(busiest, c.port, states);
      await agent.pollPlan();
      const targets = agent.plan!.targets;
      states.set(targets[0]!.ip, 'host-down');
      for (const t of targets) await agent.probePeer(t.target);
      const perPeer = await series(metrics.registry, 'nodewarden_agent_peer_');
      counts.push({
        n,
        targets: targets.length,
        perPeer,
        total: await series(metrics.registry, 'nodewarden_agent_'),
      });
      // up per peer, L4 up + latency per healthy peer, four layers' up for the failing one, no latency where it failed.
      expect(perPeer).toBe(targets.length + 2 * (targets.length - 1) + 4);
      expect(perPeer).toBeLessThanOrEqual(9 * targets.length);
      const peers = new Set(
        (await metrics.registry.getMetricsAsJSON())
          .flatMap((m) => m.values.map((v) => v.labels.peer))
          .filter((p) => p !== undefined),
      );
      expect([...peers].sort()).toEqual(targets.map((t) => t.target).sort());

      // A plan that drops peers drops their series.
      agent.applyPlan(
        { ...agent.plan!, version: 'smaller', targets: targets.slice(0, 1) },
        'controller',
      );
      expect(await series(metrics.registry, 'nodewarden_agent_peer_')).toBe(5);
      await c.close();
    }
    // Ten times the nodes, the same order of series: bounded by the plan's load cap, not by N.
    const [small, large] = counts;
    expect(large!.total - large!.perPeer).toBe(small!.total - small!.perPeer);
    expect(large!.perPeer).toBeLessThanOrEqual(9 * Math.ceil(1.5 * 4) + 9);
  });
});

describe('agent: the real loops end to end', () => {
  it('sends a failure at once, without waiting for the push interval', async () => {
    const c = await controller(cluster(6), 0, { k: 3, intervalMs: 50 });
    const states = new Map<string, FakePeerState>();
    const { agent } = makeAgent('node-004', c.port, states, { pushIntervalMs: 60_000 });
    await agent.pollPlan();
    const sick = agent.plan!.targets[0]!;
    states.set(sick.ip, 'host-down');
    await agent.start();
    await waitFor('the failure at the controller', () =>
      c.mesh
        .observations(sick.target)
        .some((o) => o.observer === 'node-004' && o.failedLayer === 'L2'),
    );
  });

  it('fetches its plan, probes at the plan interval and the controller receives results from every peer', async () => {
    const nodes = cluster(6);
    const c = await controller(nodes, 0, { k: 3, intervalMs: 50 });
    const { agent } = makeAgent('node-002', c.port, new Map(), { pushIntervalMs: 100 });
    await agent.start();
    await waitFor('a plan', () => agent.planSource === 'controller');
    const targets = agent.plan!.targets.map((t) => t.target);
    await waitFor('observations of every peer', () =>
      targets.every((t) =>
        c.mesh.observations(t).some((o) => o.observer === 'node-002' && o.healthy),
      ),
    );
    expect(agent.controllerReachable).toBe(true);
  });
});

function batch(observer: string, sentAt: number, results: Partial<WireResult>[]): ResultBatch {
  return {
    node: observer,
    sentAt,
    planVersion: null,
    dropped: 0,
    results: results.map((r) => ({
      target: 'gpu-1',
      ip: '10.62.0.30',
      startedAt: sentAt - 1_000,
      durationMs: 1_000,
      mode: 'full' as const,
      healthy: false,
      failedLayer: 'L4' as const,
      summary: 'L4 failed: timeout after 1000 ms',
      layers: [],
      ...r,
    })),
  };
}

describe('mesh evidence feeds detection', () => {
  const start = Date.parse('2025-08-25T03:57:00Z');
  const lease = { renewTime: start - 2_000, durationSeconds: 40 };

  it('two observers failing at L4 make the node Suspect; one alone does not', () => {
    const clock = new ManualClock(start);
    const mesh = new MeshObservations(clock, (n) => n === 'gpu-1');
    mesh.ingest('obs-a', batch('obs-a', start, [{}]));
    mesh.ingest(
      'obs-b',
      batch('obs-b', start, [{ healthy: true, failedLayer: null, summary: 'ok' }]),
    );
    mesh.ingest(
      'obs-c',
      batch('obs-c', start, [{ healthy: true, failedLayer: null, summary: 'ok' }]),
    );
    const one = evaluateNode(
      undefined,
      { node: 'gpu-1', lease, ready: 'True', observations: mesh.observations('gpu-1') },
      start,
    );
    expect(one.state.health).toBe('Healthy');

    clock.advance(1_000);
    mesh.ingest('obs-b', batch('obs-b', start + 1_000, [{ startedAt: start }]));
    const two = evaluateNode(
      one.state,
      { node: 'gpu-1', lease, ready: 'True', observations: mesh.observations('gpu-1') },
      start + 1_000,
    );
    expect(two.state.health).toBe('Suspect');
    expect(two.transition?.reason).toMatch(/2 of 3 observers fail it at L4/);
  });

  it('two observers failing at L3 take it Down through detectCluster (the host answers nobody)', () => {
    const clock = new ManualClock(start);
    const mesh = new MeshObservations(clock, (n) => n === 'gpu-1');
    const l3 = { failedLayer: 'L3' as const, summary: 'L3 failed: Destination Host Unreachable' };
    mesh.ingest('obs-a', batch('obs-a', start, [l3]));
    mesh.ingest('obs-b', batch('obs-b', start, [l3]));
    const source = combineObservationSources(mesh);
    const result = detectCluster(
      null,
      {
        connection: { connected: true, lastContactAt: new Date(start).toISOString(), error: null },
        nodes: [
          { node: 'gpu-1', lease, ready: 'True', observations: source.observations('gpu-1') },
        ],
      },
      start,
    );
    const state = result.state.nodes.get('gpu-1')!;
    expect(state.health).toBe('Down');
    expect(state.suspectAt).toBe(start);
  });

  it('corrects an agent clock that is a minute ahead, and keeps a drained backlog old', () => {
    const clock = new ManualClock(start);
    const mesh = new MeshObservations(clock, () => true, { keepMs: 15_000 });
    const skewed = start + 60_000;
    mesh.ingest('obs-a', batch('obs-a', skewed, [{ startedAt: skewed - 500, durationMs: 200 }]));
    const [o] = mesh.observations('gpu-1');
    expect(o?.startedAt).toBe(start - 500);
    expect(o?.at).toBe(start - 300);
    // A result that waited 30 s in the backlog is older than the window: ignored.
    const outcome = mesh.ingest('obs-b', batch('obs-b', start, [{ startedAt: start - 30_000 }]));
    expect(outcome).toEqual({ accepted: 0, ignored: 1 });
  });

  it('keeps observations bounded per observer and per target', () => {
    const clock = new ManualClock(start);
    const mesh = new MeshObservations(clock, () => true, {
      perObserver: 3,
      maxObserversPerTarget: 5,
    });
    for (let i = 0; i < 10; i += 1) {
      mesh.ingest(
        `obs-${i}`,
        batch(
          `obs-${i}`,
          start,
          Array.from({ length: 6 }, (_, j) => ({ startedAt: start - 900 + j })),
        ),
      );
    }
    const all = mesh.observations('gpu-1');
    expect(all).toHaveLength(15);
    expect(new Set(all.map((o) => o.observer))).toEqual(
      new Set(['obs-5', 'obs-6', 'obs-7', 'obs-8', 'obs-9']),
    );
    clock.advance(20_000);
    mesh.prune();
    expect(mesh.observations('gpu-1')).toHaveLength(0);
  });
});

describe('plan server', () => {
  it('recomputes only when a node joins or leaves, or an address changes', () => {
    const nodes = cluster(10);
    const mesh = new AgentMesh(() => nodes, new ManualClock(0), silentLogger, { plan: { k: 3 } });
    const v1 = mesh.plans.version;
    expect(mesh.plans.refresh()).toBe(false);
    nodes.push(node('node-new', '10.62.9.9'));
    expect(mesh.plans.refresh()).toBe(true);
    expect(mesh.plans.version).not.toBe(v1);
    expect(mesh.plans.observersOf('node-new')).toHaveLength(3);
    nodes[0] = { ...nodes[0]!, labels: { unrelated: 'x' } };
    expect(mesh.plans.refresh()).toBe(false);
    nodes[0] = { ...nodes[0], internalIP: '10.62.9.10' };
    expect(mesh.plans.refresh()).toBe(true);
    expect(mesh.plans.replans).toBe(2);
  });
});
