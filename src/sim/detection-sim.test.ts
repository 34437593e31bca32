/**
 * Detection and incidents end to end on the simulated 2025-08-25 cluster:
 * the mesh probes through SimProber, the loop evaluates the pure functions
 * whenever something changes, Kubernetes' own controllers run alongside.
 */
import { describe, expect, it } from 'vitest';
import { mttdSeconds, mttrSeconds, type Incident } from '../core/incident.ts';
import { DetectionLoop } from '../controller/detection-loop.ts';
import { SimMesh } from './mesh.ts';
import { seedScenario } from './seed-scenario.ts';

const at = (hhmmss: string): number => Date.parse(`2025-08-25T${hhmmss}Z`);

async function start(
  withMesh: boolean,
): Promise<ReturnType<typeof seedScenario> & { loop: DetectionLoop; mesh: SimMesh | null }> {
  const scenario = seedScenario();
  const mesh = withMesh ? new SimMesh(scenario.sim, scenario.clock) : null;
  const loop = new DetectionLoop(scenario.sim, scenario.clock, mesh);
  await loop.start();
  return { ...scenario, loop, mesh };
}

async function until(
  clock: { now(): number; advanceAsync(ms: number): Promise<number> },
  t: number,
): Promise<void> {
  await clock.advanceAsync(t - clock.now());
}

function only(incidents: readonly Incident[]): Incident {
  expect(incidents).toHaveLength(1);
  return incidents[0] as Incident;
}

describe('link-down on the MIG node, with the mesh (4 agents + the controller)', () => {
  it('Suspect within 2 s of the first failing probes, incident ≤ 5 s after the last good probe, NotReady at ~50 s', async () => {
    const { clock, sim, mig, cutAt, loop, mesh } = await start(true);
    await until(clock, cutAt);
    sim.cutNode(mig);
    await clock.advanceAsync(10_000);
    const observations = mesh?.observations(mig) ?? [];
    const firstFail = Math.min(...observations.filter((o) => !o.healthy).map((o) => o.at));
    const suspect = loop.firstTransition(mig, 'Suspect') ?? loop.firstTransition(mig, 'Down');
    const incident = only(loop.incidents);
    const lastGood = loop.state?.nodes.get(mig)?.lastGoodProbeAt ?? 0;
    expect(firstFail - cutAt).toBeGreaterThanOrEqual(3000); // probes time out after 3 s
    expect((suspect?.at ?? Infinity) - firstFail).toBeLessThanOrEqual(2000);
    expect(lastGood).toBeLessThan(cutAt);
    expect(Date.parse(incident.openedAt) - lastGood).toBeLessThanOrEqual(5000);
    expect(incident.kind).toBe('node');
    expect(incident.nodes).toEqual([mig]);
    expect(incident.lastHeartbeatAt).toBe('2025-08-25T03:58:02.500Z');
    expect(incident.timeline.find((e) => e.kind === 'down')?.message).toMatch(
      /^down: the host answers no one: \d of 5 observers fail it at L2 \(.*no ARP reply \(kernel neighbour: STALE\)\)/,
    );

    // Kubernetes notices ~50 s after the last renewal, at its next 5 s pass.
    await until(clock, at('03:59:10'));
    const notReady = loop.incidents[0]?.timeline.find((e) => e.kind === 'k8s-not-ready');
    const heartbeat = Date.parse(incident.lastHeartbeatAt ?? '');
    expect(Date.parse(notReady?.at ?? '') - heartbeat).toBeGreaterThanOrEqual(50_000);
    expect(Date.parse(notReady?.at ?? '') - heartbeat).toBeLessThanOrEqual(55_000);
    expect(loop.incidents[0]?.timeline.filter((e) => e.kind === 'k8s-taint')).toHaveLength(2);
    // NodeWarden's incident came ~45 s before Kubernetes' NotReady.
    expect(Date.parse(notReady?.at ?? '') - Date.parse(incident.openedAt)).toBeGreaterThan(40_000);

    // The evictions 300 s later land in the same incident, one entry per pod (DaemonSets stay).
    await until(clock, at('04:04:00'));
    const evicted = loop.incidents[0]?.timeline.filter((e) => e.kind === 'pod-evicted') ?? [];
    expect(evicted).toHaveLength(10);
    expect(evicted.every((e) => e.at === '2025-08-25T04:03:55.000Z')).toBe(true);
    expect(loop.incidents).toHaveLength(1);
    await loop.stop();
  });

  it('meets the ≤ 5 s target whatever the cut-off time relative to Lease renewals and probe rounds', async () => {
    const latencies: number[] = [];
    for (const offset of [0, 311, 1250, 2499, 2501, 3700, 5050, 6666, 8123, 9990]) {
      const { clock, sim, mig, loop } = await start(true);
      const cut = at('03:58:00') + offset;
      await until(clock, cut);
      sim.cutNode(mig);
      await clock.advanceAsync(12_000);
      const incident = only(loop.incidents);
      const lastGood = loop.state?.nodes.get(mig)?.lastGoodProbeAt ?? 0;
      latencies.push(Date.parse(incident.openedAt) - lastGood);
      await loop.stop();
    }
    expect(Math.max(...latencies)).toBeLessThanOrEqual(5000);
    expect(Math.min(...latencies)).toBeGreaterThan(3000); // nothing is faster than a probe timeout
  });
});

describe('Lease-only detection (no probes)', () => {
  it('Suspect at 20 s, Down and an incident at 40 s after the last renewal — before Kubernetes at 50 s', async () => {
    const { clock, sim, mig, cutAt, loop } = await start(false);
    await until(clock, cutAt);
    sim.cutNode(mig);
    await until(clock, at('03:59:00'));
    expect(loop.firstTransition(mig, 'Suspect')?.at).toBe(at('03:58:22.501'));
    expect(loop.firstTransition(mig, 'Down')?.at).toBe(at('03:58:42.501'));
    expect(loop.firstTransition(mig, 'Down')?.reason).toBe(
      'Lease not renewed for 40 s (grace period 40 s)',
    );
    const incident = only(loop.incidents);
    expect(incident.openedAt).toBe('2025-08-25T03:58:42.501Z');
    expect(mttdSeconds(incident)).toBe(40.001);
    expect(incident.timeline.map((e) => e.kind)).toEqual([
      'last-heartbeat',
      'suspect',
      'down',
      'incident-opened',
      'k8s-not-ready',
      'k8s-taint',
      'k8s-taint',
    ]);
    expect(incident.timeline[4]?.at).toBe('2025-08-25T03:58:55.000Z');
    await loop.stop();
  });
});

describe('many nodes at once', () => {
  for (const withMesh of [true, false]) {
    it(`3 of 5 cut together → one partition incident, zero node incidents (${withMesh ? 'mesh' : 'Lease only'})`, async () => {
      const { clock, sim, mig, survivors, loop } = await start(withMesh);
      const cut = [mig, survivors[0] ?? '', survivors[1] ?? ''];
      await until(clock, at('03:58:05'));
      for (const n of cut) sim.cutNode(n);
      await until(clock, at('04:00:00'));
      const incident = only(loop.incidents);
      expect(incident.kind).toBe('partition');
      expect(incident.nodes).toEqual([...cut].sort());
      expect(incident.summary).toMatch(/^partition: 3 of 5 nodes began failing within/);
      expect(loop.incidentsOf('node')).toEqual([]);
      expect(loop.situations.map((s) => s.situation)).toEqual(['normal', 'partition']);
      // Every member reached Down, and Kubernetes' own NotReady is on the one incident.
      expect(cut.every((n) => loop.state?.nodes.get(n)?.health === 'Down')).toBe(true);
      expect(
        incident.timeline
          .filter((e) => e.kind === 'k8s-not-ready')
          .map((e) => e.node)
          .sort(),
      ).toEqual([...cut].sort());

      for (const n of cut) sim.healNode(n);
      await until(clock, at('04:02:30'));
      expect(only(loop.incidents).status).toBe('resolved');
      expect(loop.incidentsOf('node')).toEqual([]);
      await loop.stop();
    });
  }
});

describe('the controller losing the API server', () => {
  for (const withMesh of [true, false]) {
    it(`opens no incident while its view is stale, and none after it reconnects (${withMesh ? 'mesh' : 'Lease only'})`, async () => {
      const { clock, sim, loop } = await start(withMesh);
      await until(clock, at('03:58:00'));
      sim.disconnectApi();
      await until(clock, at('04:01:00'));
      expect(loop.state?.api.trusted).toBe(false);
      expect(loop.situations.map((s) => s.situation)).toEqual(['normal', 'control-plane-side']);
      // Every Lease in the frozen view is three minutes old, yet no node is Down.
      expect([...(loop.state?.nodes.values() ?? [])].map((s) => s.health)).toEqual(
        Array(5).fill('Healthy'),
      );
      sim.reconnectApi();
      await until(clock, at('04:02:00'));
      expect(loop.situations.map((s) => s.situation)).toEqual([
        'normal',
        'control-plane-side',
        'normal',
      ]);
      expect(loop.incidents).toEqual([]);
      expect(loop.transitions).toEqual([]);
      await loop.stop();
    });
  }
});

describe('flapping and the whole lifecycle', () => {
  it('down/up/down within the windows → one incident with flap entries, resolved after 60 s of health', async () => {
    const { clock, sim, mig, cutAt, loop } = await start(true);
    await until(clock, cutAt);
    sim.cutNode(mig);
    await until(clock, at('04:00:00'));
    sim.healNode(mig);
    await until(clock, at('04:00:30')); // Recovering, not yet stable
    expect(loop.state?.nodes.get(mig)?.health).toBe('Recovering');
    sim.cutNode(mig); // relapse
    await until(clock, at('04:01:00'));
    expect(loop.state?.nodes.get(mig)?.health).toBe('Down');
    sim.healNode(mig);
    await until(clock, at('04:03:00'));
    expect(only(loop.incidents).status).toBe('resolved');
    sim.cutNode(mig); // down again 1–2 min after resolving: reopens
    await until(clock, at('04:04:00'));
    expect(only(loop.incidents).status).toBe('open');
    sim.healNode(mig);
    await until(clock, at('04:06:00'));

    const incident = only(loop.incidents);
    expect(incident.status).toBe('resolved');
    const kinds = incident.timeline
      .map((e) => e.kind)
      .filter((k) => !['pod-evicted', 'k8s-taint', 'last-heartbeat'].includes(k));
    expect(kinds).toEqual([
      'suspect',
      'down',
      'incident-opened',
      'k8s-not-ready',
      'recovering',
      'ready-again',
      'flap',
      'down',
      'recovering',
      'resolved',
      'suspect',
      'flap',
      'down',
      'k8s-not-ready', // down a full minute this time: Kubernetes notices too
      'recovering',
      'ready-again',
      'resolved',
    ]);
    expect(incident.timeline.filter((e) => e.kind === 'flap').map((e) => e.message)).toEqual([
      expect.stringMatching(/^flap: .* relapsed \d+(\.\d)? s after it began recovering$/),
      expect.stringMatching(/^flap: .* down again \d+(\.\d)? s after the incident resolved$/),
    ]);
    await loop.stop();
  });

  it('MTTD and MTTR of the replayed seed: seconds, not the seed’s 4 min and 6 h 48 min', async () => {
    const { clock, sim, mig, cutAt, loop } = await start(true);
    await until(clock, cutAt);
    sim.cutNode(mig);
    await until(clock, at('04:30:00'));
    sim.healNode(mig);
    await until(clock, at('04:33:00'));
    const incident = only(loop.incidents);
    expect(incident.status).toBe('resolved');
    const mttd = mttdSeconds(incident) ?? Infinity;
    const mttr = mttrSeconds(incident) ?? Infinity;
    // Heartbeat 03:58:02.5, cut 03:58:05, first failing probes 3 s later.
    expect(mttd).toBeGreaterThan(5);
    expect(mttd).toBeLessThan(10);
    // Healed at 04:30:00: renews within 1 s, then 60 s of stable health.
    const sinceHeal = Date.parse(incident.resolvedAt ?? '') - at('04:30:00');
    expect(sinceHeal).toBeGreaterThanOrEqual(60_000);
    expect(sinceHeal).toBeLessThanOrEqual(63_000);
    expect(mttr).toBeCloseTo((at('04:30:00') + sinceHeal - at('03:58:02.5')) / 1000, 3);
    await loop.stop();
  });
});

describe('a long-running loop forgets what the store keeps', () => {
  it('drops incidents resolved longer than the reopen window ago and bounds its history', async () => {
    const scenario = seedScenario();
    const { clock, sim, mig, cutAt } = scenario;
    const loop = new DetectionLoop(sim, clock, new SimMesh(sim, clock), {
      retention: { resolvedIncidentsMs: 10 * 60_000, historyEntries: 3 },
    });
    await loop.start();
    await until(clock, cutAt);
    sim.cutNode(mig);
    await until(clock, at('04:00:00'));
    sim.healNode(mig);
    await until(clock, at('04:02:00'));
    expect(only(loop.incidents).status).toBe('resolved');
    expect(loop.transitions.length).toBeLessThanOrEqual(3);
    expect(loop.transitions.at(-1)?.to).toBe('Healthy');
    // Still within the reopen window: kept, so a flap would reopen it.
    await until(clock, at('04:10:00'));
    expect(loop.incidents).toHaveLength(1);
    await until(clock, at('04:13:00'));
    expect(loop.incidents).toHaveLength(0);
    // Down again much later: a new incident, not a reopened one.
    sim.cutNode(mig);
    await until(clock, at('04:14:00'));
    expect(only(loop.incidents).status).toBe('open');
    expect(only(loop.incidents).timeline.some((e) => e.kind === 'flap')).toBe(false);
    await loop.stop();
  });
});
