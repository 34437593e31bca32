import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { classify } from '../core/classify.ts';
import { ManualClock } from '../core/clock.ts';
import { NodeWardenError } from '../core/errors.ts';
import type { Incident } from '../core/incident.ts';
import type { ProbeObservation } from '../core/detection.ts';
import type { ObservationSource } from '../controller/detection-loop.ts';
import { HttpPrometheusClient } from '../metrics/prometheus-client.ts';
import { seedScenario } from '../sim/seed-scenario.ts';
import { openStore } from '../store/open.ts';
import type { IncidentStore } from '../store/port.ts';
import {
  cloudCollector,
  cniCollector,
  ConsoleCapture,
  gpuCollector,
  kernelCollector,
  networkCollector,
  type CollectContext,
} from './collectors.ts';
import {
  FallbackGpuHistory,
  gpuHistoryOf,
  MemoryGpuHistory,
  PrometheusGpuHistory,
  StoreGpuHistory,
} from './gpu-history.ts';
import { diagnose } from './pipeline.ts';
import { fakeCloudFor } from './sim-sources.ts';

const HEARTBEAT = '2025-08-25T03:58:02.500Z';

function world() {
  const seed = seedScenario();
  const incident: Incident = {
    id: 'inc-test-1',
    kind: 'node',
    status: 'open',
    nodes: [seed.mig],
    openedAt: '2025-08-25T03:58:09Z',
    resolvedAt: null,
    lastHeartbeatAt: HEARTBEAT,
    rootCause: null,
    summary: 'test',
    timeline: [],
    affectedPods: [],
  };
  const ctx: CollectContext = {
    incident,
    node: seed.mig,
    clock: seed.clock,
    fromMs: Date.parse(HEARTBEAT) - 10 * 60_000,
  };
  return { seed, incident, ctx, signal: new AbortController().signal };
}

const one = <T>(x: T | readonly T[]): T[] => (Array.isArray(x) ? [...(x as T[])] : [x as T]);

const stores: IncidentStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});
async function memoryStore(): Promise<IncidentStore> {
  const s = await openStore('sqlite::memory:');
  stores.push(s);
  return s;
}

describe('cloud collector', () => {
  it('missing without a cloud or a providerID; error when Nova fails; not found is data, not an error', async () => {
    const { seed, ctx, signal } = world();
    const none = await cloudCollector(null, seed.sim, new ConsoleCapture(null, seed.sim)).collect(
      ctx,
      signal,
    );
    expect(one(none)[0]).toMatchObject({
      status: 'missing',
      summary: 'no cloud configured',
      data: null,
    });

    const cloud = fakeCloudFor(seed.sim, seed.clock);
    cloud.failNext('instance', new NodeWardenError('UNAVAILABLE', 'Nova answered 503'));
    const failed = one(
      await cloudCollector(cloud, seed.sim, new ConsoleCapture(cloud, seed.sim), {
        diagnosticsSamples: 1,
      }).collect(ctx, signal),
    )[0];
    expect(failed?.status).toBe('error');
    expect(failed?.summary).toContain('Nova answered 503');

    const providerID = seed.sim.node(seed.mig)?.providerID ?? '';
    cloud.deleteServer(providerID.replace('openstack:///', ''), 'a-person');
    const gone = one(
      await cloudCollector(cloud, seed.sim, new ConsoleCapture(cloud, seed.sim), {
        diagnosticsSamples: 1,
      }).collect(ctx, signal),
    )[0];
    expect(gone?.status).toBe('ok');
    expect(gone?.data).toMatchObject({ found: false });
  });

  it('a console log refused by policy leaves the tail null and the rest of the evidence intact', async () => {
    const { seed, ctx, signal } = world();
    const cloud = fakeCloudFor(seed.sim, seed.clock);
    cloud.failNext(
      'consoleLog',
      new NodeWardenError('BAD_INPUT', 'policy does not allow os-getConsoleOutput'),
    );
    const item = one(
      await cloudCollector(cloud, seed.sim, new ConsoleCapture(cloud, seed.sim), {
        diagnosticsSamples: 1,
      }).collect(ctx, signal),
    )[0];
    expect(item?.status).toBe('ok');
    expect(item?.data?.consoleLogTail).toBeNull();
    expect(item?.data?.status).toBe('ACTIVE');
    expect(item?.summary).toContain('console log not captured');
  });
});

describe('kernel collector', () => {
  it("reads the agent's own last-words shape (events: match/gap), as the lab's agents push it", async () => {
    const { seed, ctx, signal } = world();
    const store = await memoryStore();
    await store.putLastWords(seed.mig, '2025-08-25T03:57:50Z', 'kernel-log', {
      events: [
        { kind: 'gap', missed: 3, reason: 'ring buffer overwrote records' },
        {
          kind: 'match',
          at: '2025-08-25T03:57:41Z',
          text: "NVRM: Xid (PCI:0000:3b:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.",
          id: 'gpu.xid.79',
          category: 'gpu',
          severity: 'critical',
          title: 'GPU has fallen off the bus',
          key: 'gpu-lost:0000:3b:00',
          networkCritical: false,
          detail: {},
        },
      ],
      droppedEvents: 0,
      error: null,
    });
    const items = one(await kernelCollector(store, null).collect(ctx, signal));
    expect(items[0]?.data).toMatchObject({
      origin: 'agent',
      signatures: [{ id: 'gpu.xid.79', xid: 79, at: '2025-08-25T03:57:41Z' }],
    });
  });

  it('agent last words with an OOM kill of ovs-vswitchd before the cut make the seed cut OOM_KILLED_NETWORK', async () => {
    const { seed, ctx, incident, signal } = world();
    const store = await memoryStore();
    await store.putLastWords(seed.mig, '2025-08-25T03:57:50Z', 'kernel-log', {
      lines: [
        {
          line: '[ 8001.100000] Out of memory: Killed process 1187 (ovs-vswitchd) total-vm:2871204kB, anon-rss:1803328kB, file-rss:10240kB, shmem-rss:0kB, UID:0 pgtables:4120kB oom_score_adj:0',
          at: '2025-08-25T03:57:49Z',
        },
        'an unrelated line',
      ],
    });
    const items = one(await kernelCollector(store, null).collect(ctx, signal));
    expect(items).toHaveLength(1);
    expect(items[0]?.data).toMatchObject({
      origin: 'agent',
      signatures: [
        {
          id: 'oom.killed-process',
          category: 'oom',
          process: 'ovs-vswitchd',
          at: '2025-08-25T03:57:49Z',
        },
      ],
    });
    // Through the classifier with the rest of a dead node's evidence.
    const cloud = fakeCloudFor(seed.sim, seed.clock);
    seed.sim.cutNode(seed.mig);
    await seed.clock.advanceAsync(40_000);
    const d = await (async () => {
      let done = false;
      const p = diagnose(
        { ...incident, openedAt: new Date(seed.clock.now()).toISOString() },
        {
          cluster: seed.sim,
          network: {
            observations: null,
            controller: seed.sim.prober('controller'),
            probeFrom: () => null,
          },
          cloud,
          lastWords: store,
        },
        { clock: seed.clock },
      ).finally(() => (done = true));
      for (let i = 0; i < 200 && !done; i++) await seed.clock.advanceAsync(100);
      return p;
    })();
    expect(classify({ incident, evidence: d.evidence, now: d.verdict.decidedAt }).rootCause).toBe(
      'OOM_KILLED_NETWORK',
    );
    expect(d.evidence.filter((e) => e.source === 'kernel').map((e) => e.data?.origin)).toEqual([
      'agent',
      'console',
    ]);
  });

  it('finds an Xid 79 in the console log (uptime stamps: at null); both absent → one missing item naming both', async () => {
    const { seed, ctx, signal } = world();
    const cloud = fakeCloudFor(seed.sim, seed.clock);
    const serverId = (seed.sim.node(seed.mig)?.providerID ?? '').replace('openstack:///', '');
    cloud.appendConsole(
      serverId,
      "[ 9001.000001] NVRM: Xid (PCI:0000:3b:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.\n",
    );
    const items = one(
      await kernelCollector(null, new ConsoleCapture(cloud, seed.sim)).collect(ctx, signal),
    );
    expect(items[0]?.data?.origin).toBe('console');
    expect(items[0]?.data?.signatures).toMatchObject([
      { id: 'gpu.xid.79', category: 'gpu', xid: 79, at: null },
    ]);

    const store = await memoryStore();
    const none = one(await kernelCollector(store, null).collect(ctx, signal));
    expect(none).toHaveLength(1);
    expect(none[0]).toMatchObject({ status: 'missing', data: null });
    expect(none[0]?.summary).toBe('no agent last words for this node; no console log source');
  });
});

describe('GPU history', () => {
  it('store adapter: a MIG GPU charted per instance from gpu-samples last words, Xid changes counted', async () => {
    const { seed, ctx, signal } = world();
    const store = await memoryStore();
    const snap = (used1: number, xid: number) => ({
      source: 'dcgm',
      gpus: [
        {
          index: 0,
          uuid: 'GPU-4f8a',
          migEnabled: true,
          lastXid: xid,
          memory: { usedPercent: null },
        },
      ],
      instances: [
        {
          gpu: 0,
          gpuUuid: 'GPU-4f8a',
          gpuInstanceId: 1,
          profile: '1g.10gb',
          memory: { usedMiB: used1, freeMiB: 9856 - used1 },
        },
        {
          gpu: 0,
          gpuUuid: 'GPU-4f8a',
          gpuInstanceId: 2,
          profile: '1g.10gb',
          memory: { usedPercent: null },
        },
      ],
    });
    await store.putLastWords(seed.mig, '2025-08-25T03:57:00Z', 'gpu-samples', snap(0, 0));
    await store.putLastWords(seed.mig, '2025-08-25T03:57:30Z', 'gpu-samples', snap(4485, 0));
    await store.putLastWords(seed.mig, '2025-08-25T03:58:00Z', 'gpu-samples', snap(4485, 79));
    await seed.clock.advanceAsync(70_000);
    const item = one(await gpuCollector(new StoreGpuHistory(store)).collect(ctx, signal))[0];
    expect(item?.status).toBe('ok');
    expect(item?.data?.origin).toBe('agent');
    // Instance 2 never had a number: no series, never zeros.
    expect(item?.data?.series).toEqual([
      {
        gpu: '0',
        uuid: 'GPU-4f8a',
        migInstance: '1',
        migProfile: '1g.10gb',
        points: [
          { at: '2025-08-25T03:57:00.000Z', usedPct: 0 },
          { at: '2025-08-25T03:57:30.000Z', usedPct: 45.5 },
          { at: '2025-08-25T03:58:00.000Z', usedPct: 45.5 },
        ],
      },
    ]);
    expect(item?.data?.xids).toEqual([
      { gpu: '0', xid: 79, count: 1, lastAt: '2025-08-25T03:58:00.000Z' },
    ]);
    const none = one(
      await gpuCollector(new StoreGpuHistory(await memoryStore())).collect(ctx, signal),
    )[0];
    expect(none?.status).toBe('missing');
  });

  let server: Server | null = null;
  afterEach(async () => {
    await new Promise<void>((r) => (server === null ? r() : server.close(() => r())));
    server = null;
  });

  it('Prometheus adapter: FB_USED/FB_FREE range queries with MIG labels over a real HTTP server on loopback', async () => {
    const queries: string[] = [];
    const starts: string[] = [];
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const q = url.searchParams.get('query') ?? '';
      queries.push(q);
      starts.push(url.searchParams.get('start') ?? '');
      const labels = {
        gpu: '0',
        UUID: 'GPU-4f8a',
        GPU_I_ID: '1',
        GPU_I_PROFILE: '1g.10gb',
        Hostname: 'n1',
      };
      const t0 = Date.parse('2025-08-25T03:57:00Z') / 1000;
      const result = q.includes('DCGM_FI_DEV_FB_USED')
        ? [
            {
              metric: labels,
              values: [
                [t0, '0'],
                [t0 + 30, '4485'],
                [t0 + 60, 'NaN'],
              ],
            },
          ]
        : q.includes('DCGM_FI_DEV_FB_FREE')
          ? [
              {
                metric: labels,
                values: [
                  [t0, '9856'],
                  [t0 + 30, '5371'],
                  [t0 + 60, '5371'],
                ],
              },
            ]
          : [];
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result } }));
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const history = new PrometheusGpuHistory(new HttpPrometheusClient(`http://127.0.0.1:${port}`));
    const data = await history.series(
      'n1',
      Date.parse('2025-08-25T03:50:00Z'),
      Date.parse('2025-08-25T03:59:00Z'),
    );
    // The last sample of each 15 s step, on a grid that ends at the window's end (03:59:00).
    expect(queries).toContain('last_over_time(DCGM_FI_DEV_FB_USED{Hostname="n1"}[15s])');
    expect(starts).toContain(String(Date.parse('2025-08-25T03:50:00Z') / 1000) + '.000');
    expect(data?.series).toEqual([
      {
        gpu: '0',
        uuid: 'GPU-4f8a',
        migInstance: '1',
        migProfile: '1g.10gb',
        points: [
          { at: '2025-08-25T03:57:00.000Z', usedPct: 0 },
          { at: '2025-08-25T03:57:30.000Z', usedPct: 45.5 },
        ],
      },
    ]);
  });

  it('Prometheus adapter: an error answer and an unreachable server are NodeWardenErrors naming the server', async () => {
    server = createServer((_req, res) => {
      res.statusCode = 400;
      res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }));
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const range = { startMs: 0, endMs: 60_000, stepSeconds: 15 };
    await expect(
      new HttpPrometheusClient(`http://127.0.0.1:${port}`).queryRange('up', range),
    ).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('parse error') as unknown,
    });
    await new Promise<void>((r) => server?.close(() => r()));
    server = null;
    await expect(
      new HttpPrometheusClient(`http://127.0.0.1:${port}`).queryRange('up', range),
    ).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    expect(() => new HttpPrometheusClient('ftp://x')).toThrow(/not http/);
  });

  it('Prometheus, else the agents: a failing or empty Prometheus falls back to the agent samples and says why', async () => {
    const { seed, ctx, signal } = world();
    const n1 = seed.mig;
    const store = await memoryStore();
    const at = new Date(ctx.clock.now() - 30_000).toISOString();
    await store.putLastWords(n1, at, 'gpu-samples', {
      gpus: [
        { index: 0, uuid: 'GPU-1', migEnabled: false, lastXid: 0, memory: { usedPercent: 45.5 } },
      ],
      instances: [],
    });
    const from = ctx.fromMs;
    const to = ctx.clock.now();
    const dcgm = new MemoryGpuHistory('dcgm');
    dcgm.record(n1, {
      atMs: from + 1_000,
      gpu: '0',
      migInstance: null,
      migProfile: null,
      usedPct: 1,
    });
    const fromPrometheus = await new FallbackGpuHistory(dcgm, new StoreGpuHistory(store)).series(
      n1,
      from,
      to,
    );
    expect(fromPrometheus?.origin).toBe('dcgm');
    expect(fromPrometheus?.fallback).toBeUndefined();

    const empty = await new FallbackGpuHistory(
      new MemoryGpuHistory('dcgm'),
      new StoreGpuHistory(store),
    ).series(n1, from, to);
    expect(empty?.origin).toBe('agent');
    expect(empty?.fallback).toBe(`Prometheus held no GPU series for ${n1}`);
    expect(empty?.series[0]?.points).toEqual([{ at, usedPct: 45.5 }]);

    // An unreachable Prometheus (a closed loopback port): the agents, and the collector says so.
    server = createServer((_req, res) => res.end());
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((r) => server?.close(() => r()));
    server = null;
    const history = gpuHistoryOf(new HttpPrometheusClient(`http://127.0.0.1:${port}`), store);
    const item = one(await gpuCollector(history).collect(ctx, signal))[0];
    expect(item?.status).toBe('ok');
    expect(item?.data?.origin).toBe('agent');
    expect(item?.summary).toMatch(
      /^agent samples: 1 series .*; Prometheus failed: cannot reach Prometheus at http:\/\/127\.0\.0\.1:\d+/,
    );

    // Nothing configured but the agents, or nothing at all.
    expect(gpuHistoryOf(null, store)).toBeInstanceOf(StoreGpuHistory);
    expect(gpuHistoryOf(new HttpPrometheusClient('http://127.0.0.1:1'), null)).toBeInstanceOf(
      PrometheusGpuHistory,
    );
    expect(gpuHistoryOf(null, null)).toBeNull();
  });

  it('in-memory history: null outside the window', async () => {
    const h = new MemoryGpuHistory();
    h.record('n', { atMs: 1000, gpu: '0', migInstance: null, migProfile: null, usedPct: 12.34 });
    expect(await h.series('n', 2000, 3000)).toBeNull();
    expect((await h.series('n', 0, 3000))?.series[0]?.points).toEqual([
      { at: new Date(1000).toISOString(), usedPct: 12.3 },
    ]);
  });
});

describe('network collector', () => {
  it('without a way to re-probe, uses the observers’ summaries: the failed layer, every other layer skipped', async () => {
    const { seed, ctx, signal } = world();
    const now = seed.clock.now();
    const obs: ProbeObservation[] = [
      {
        observer: 'w1',
        startedAt: now - 4000,
        at: now - 1000,
        healthy: false,
        failedLayer: 'L3',
        detail: 'L3 failed: Destination Host Unreachable (from 10.62.0.10)',
      },
      {
        observer: 'w2',
        startedAt: now - 4000,
        at: now - 900,
        healthy: true,
        failedLayer: null,
        detail: 'all tested layers answered',
      },
      {
        observer: 'w3',
        startedAt: now - 60_000,
        at: now - 50_000,
        healthy: false,
        failedLayer: 'L2',
        detail: 'too old',
      },
    ];
    const source: ObservationSource = {
      start: () => undefined,
      stop: () => undefined,
      observations: () => obs,
    };
    const item = one(
      await networkCollector(seed.sim, { observations: source }).collect(ctx, signal),
    )[0];
    expect(item?.data?.observers.map((o) => o.observer)).toEqual(['w1', 'w2']);
    const w1 = item?.data?.observers[0];
    expect(w1?.result?.layers.map((l) => l.status)).toEqual([
      'skipped',
      'failed',
      'skipped',
      'skipped',
    ]);
    expect(w1?.result?.layers[1]?.detail).toBe('Destination Host Unreachable (from 10.62.0.10)');
    expect(item?.data?.observers[1]).toMatchObject({
      result: null,
      error: expect.stringContaining('no layer detail') as unknown,
    });
  });

  it('a node without an InternalIP is missing, not probed', async () => {
    const { ctx, signal } = world();
    const clock = new ManualClock('2025-08-25T04:00:00Z');
    const empty = seedScenario().sim;
    const item = one(
      await networkCollector(empty, { observations: null }).collect(
        { ...ctx, node: 'ghost', clock },
        signal,
      ),
    )[0];
    expect(item).toMatchObject({ status: 'missing', data: null });
  });
});

describe('cni collector', () => {
  it('counts a restart in the window from the pod’s last termination; a view without restart counts is missing', async () => {
    const { seed, ctx, signal } = world();
    const pods = seed.sim.podsOnNode(seed.mig).map((p) =>
      p.name.startsWith('ovs-ovn')
        ? {
            ...p,
            restarts: {
              count: 3,
              lastRestartAt: '2025-08-25T03:57:40Z',
              lastTerminationReason: 'OOMKilled',
            },
          }
        : p,
    );
    const view = Object.assign(Object.create(seed.sim) as typeof seed.sim, {
      podsOnNode: () => pods,
    });
    const item = one(await cniCollector(view).collect(ctx, signal))[0];
    expect(item?.summary).toBe(
      'kube-ovn: 3 components on the node, restarted around the outage: ovs-ovn',
    );
    expect(item?.data?.components.find((c) => c.component === 'ovs-ovn')).toMatchObject({
      restarts: 3,
      restartsInWindow: 1,
      lastTerminationReason: 'OOMKilled',
    });
    const unknown = pods.map((p) => {
      const copy: { -readonly [K in keyof typeof p]?: (typeof p)[K] } = { ...p };
      delete copy.restarts;
      return copy as typeof p;
    });
    const blind = Object.assign(Object.create(seed.sim) as typeof seed.sim, {
      podsOnNode: () => unknown,
    });
    expect(one(await cniCollector(blind).collect(ctx, signal))[0]).toMatchObject({
      status: 'missing',
      data: null,
    });
  });
});
