/**
 * The executor end to end on the simulated 2025-08-25 cluster: SimCluster
 * (Kubernetes' timing, and the write side), the detection loop writing
 * incidents to a real SQLite store, FakeCloud whose reboots finish after a
 * boot delay and bring the simulated node back. The root cause is set on
 * the incident as the diagnosis would (that part is tested in src/diagnose).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BOOT_DELAY_MS, closeWorlds, remediationWorld as world } from './sim-world.ts';
import { silentLogger } from '../core/logger.ts';
import { DEFAULT_POLICY } from '../core/remediation-policy.ts';
import { openStore } from '../store/open.ts';
import type { Incident } from '../core/incident.ts';
import type { IncidentQuery, IncidentStore } from '../store/port.ts';
import { remediationIncidents, RemediationExecutor, REMEDIATION_STATE_KEY } from './executor.ts';

afterEach(closeWorlds);

describe('RemediationExecutor on the simulated seed cluster', () => {
  it('auto: console captured, cordon, soft reboot, node back after the boot delay, taints removed, incident resolved', async () => {
    const { clock, sim, mig, cutAt, db, cloud, loop, executor } = await world('auto');
    await clock.advanceAsync(cutAt - clock.now());
    sim.cutNode(mig);
    await clock.advanceAsync(30_000);
    const r = executor.overview().remediations[0];
    expect(r?.node).toBe(mig);
    expect(r?.steps.slice(0, 3).map((s) => `${s.step}:${s.status}`)).toEqual([
      'capture-console:succeeded',
      'cordon:succeeded',
      'soft-reboot:waiting',
    ]);
    expect(sim.node(mig)?.unschedulable).toBe(true);
    expect(sim.node(mig)?.taints.map((t) => t.key)).toContain('nodewarden.io/remediating');
    expect(cloud.calls.filter((c) => c.method === 'reboot').map((c) => c.args[1])).toEqual([
      'SOFT',
    ]);

    await clock.advanceAsync(BOOT_DELAY_MS + 30_000);
    const done = executor.get(r?.id ?? '');
    expect(done.status).toBe('succeeded');
    expect(done.steps.map((s) => s.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'skipped',
      'skipped',
      'skipped',
      'succeeded',
      'skipped',
    ]);
    expect(sim.node(mig)?.unschedulable).toBe(false);
    expect(sim.node(mig)?.taints.map((t) => t.key)).not.toContain('nodewarden.io/remediating');

    // The incident resolves after the stable period, with its MTTR.
    await clock.advanceAsync(90_000);
    const incident = (await db.listIncidents({ limit: 5 }))[0];
    expect(incident?.status).toBe('resolved');
    const audit = await db.listAudit(incident?.id ?? '');
    expect(audit.map((a) => `${a.action}:${a.result}`)).toEqual(
      expect.arrayContaining([
        'remediation:started',
        'remediation-capture-console:succeeded',
        'remediation-cordon:succeeded',
        'remediation-soft-reboot:started',
        'remediation-soft-reboot:succeeded',
        'remediation-remove-taints:succeeded',
        'remediation:succeeded',
      ]),
    );
    const consoleRecord = audit.find((a) => a.action === 'remediation-capture-console');
    expect(JSON.stringify(consoleRecord?.evidence)).toContain('login:');
    // The reboot's audit record names the cloud's instance action by its request id.
    // (on the step's `started` record: the moment the cloud accepted it; `succeeded` is the node Ready again)
    const rebootRecord = audit.find(
      (a) => a.action === 'remediation-soft-reboot' && a.result === 'started',
    );
    const serverId = cloud.calls.find((c) => c.method === 'reboot')?.args[0] as string;
    const novaReboot = (await cloud.instanceActions(serverId)).find((a) => a.action === 'reboot');
    expect(rebootRecord?.evidence).toMatchObject({
      result: { cloudAction: { action: 'reboot', requestId: novaReboot?.requestId } },
    });
    expect((await db.lastWords(mig, '2025-08-25T00:00:00Z')).map((w) => w.kind)).toEqual([
      'console-log',
    ]);
    expect(
      incident?.timeline.some((e) => e.message.startsWith('remediation soft-reboot started')),
    ).toBe(true);
    await executor.stop();
    await loop.stop();
  });

  it('approve: nothing changes on the node until a person approves', async () => {
    const { clock, sim, mig, cutAt, cloud, loop, executor } = await world('approve');
    await clock.advanceAsync(cutAt - clock.now());
    sim.cutNode(mig);
    await clock.advanceAsync(60_000);
    const r = executor.overview().remediations[0];
    expect(r?.steps[1]?.status).toBe('awaiting-approval');
    expect(sim.node(mig)?.unschedulable).toBe(false);
    expect(cloud.calls.filter((c) => c.method === 'reboot')).toEqual([]);
    await expect(executor.approve(r?.id ?? '', 2, 'alice')).rejects.toThrow(
      'not awaiting approval',
    );
    await expect(executor.approve(r?.id ?? '', 1, ' ')).rejects.toThrow('needs the name');
    const after = await executor.approve(r?.id ?? '', 1, 'alice');
    await executor.idle();
    expect(sim.node(mig)?.unschedulable).toBe(true);
    expect(after.steps[1]?.approvedBy).toBe('user:alice');
    await executor.stop();
    await loop.stop();
  });

  it('a controller restart resumes the remediation from the store', async () => {
    const db = await openStore('sqlite::memory:');
    const first = await world('auto', { store: db });
    await first.clock.advanceAsync(first.cutAt - first.clock.now());
    first.sim.cutNode(first.mig);
    await first.clock.advanceAsync(30_000);
    await first.executor.stop();
    await first.loop.stop();
    const saved = (await db.getMeta(REMEDIATION_STATE_KEY)) as {
      remediations: { status: string }[];
    };
    expect(saved.remediations[0]?.status).toBe('in-progress');

    // A new executor on the same store picks it up where it was.
    const exec2 = new RemediationExecutor({
      view: first.sim,
      writer: first.sim,
      cloud: first.cloud,
      store: db,
      clock: first.clock,
      log: silentLogger,
      policy: DEFAULT_POLICY,
      policySource: 'built-in',
      mode: 'auto',
      actor: 'controller/second',
      isLeader: () => true,
      assertLeader: () => undefined,
      health: () => new Map(),
      incidents: async (underWay) =>
        (await remediationIncidents(db, underWay)).map((i) => ({
          ...i,
          rootCause: 'NODE_HALTED' as const,
        })),
    });
    await exec2.evaluate();
    expect(exec2.overview().remediations[0]?.status).toBe('in-progress');
    expect(exec2.overview().remediations[0]?.steps[2]?.status).toBe('waiting');
    await db.close();
  });
});

/** A node incident opened `second` seconds into 2025-08-25, resolved a minute later unless open. */
function incidentAt(second: number, status: 'open' | 'resolved'): Incident {
  const opened = Date.UTC(2025, 7, 25, 0, 0, 0) + second * 1000;
  return {
    id: `inc-20250825-${String(second).padStart(6, '0')}-node-${second}`,
    kind: 'node',
    status,
    nodes: [`node-${second}`],
    openedAt: new Date(opened).toISOString(),
    resolvedAt: status === 'open' ? null : new Date(opened + 60_000).toISOString(),
    lastHeartbeatAt: null,
    rootCause: null,
    summary: `node-${second} down`,
    timeline: [],
    affectedPods: [],
  };
}

/** The real SQLite store, with every incident read it answers written down. */
function recorded(store: IncidentStore): { store: IncidentStore; reads: string[] } {
  const reads: string[] = [];
  const wrapped: IncidentStore = Object.create(store) as IncidentStore;
  Object.assign(wrapped, {
    listIncidents: async (q?: IncidentQuery) => {
      const out = await store.listIncidents(q);
      reads.push(`list ${JSON.stringify(q ?? {})} → ${out.length}`);
      return out;
    },
    getIncident: async (id: string) => {
      reads.push(`get ${id}`);
      return store.getIncident(id);
    },
  });
  return { store: wrapped, reads };
}

describe('what the executor reads from the store each decision', () => {
  it('every open incident (even behind 300 newer resolved ones), and a resolved one only while its remediation is under way', async () => {
    const db = await openStore('sqlite::memory:');
    const oldOpen = incidentAt(1, 'open');
    await db.createIncident(oldOpen);
    for (let s = 10; s < 310; s++) await db.createIncident(incidentAt(s, 'resolved'));
    const newOpen = incidentAt(400, 'open');
    await db.createIncident(newOpen);
    const { store, reads } = recorded(db);

    const open = await remediationIncidents(store, []);
    expect(open.map((i) => i.id).sort()).toEqual([oldOpen.id, newOpen.id].sort());
    // The open ones through the status index, nothing resolved.
    expect(reads).toEqual(['list {"status":"open","limit":1000} → 2']);

    reads.length = 0;
    const resolved = incidentAt(123, 'resolved').id;
    const withRemediated = await remediationIncidents(store, [
      newOpen.id,
      resolved,
      'inc-20250101-000000-gone-1',
    ]);
    expect(withRemediated.map((i) => i.id).sort()).toEqual(
      [oldOpen.id, newOpen.id, resolved].sort(),
    );
    expect(withRemediated.find((i) => i.id === resolved)?.status).toBe('resolved');
    expect(reads).toEqual([
      'list {"status":"open","limit":1000} → 2',
      `get ${resolved}`,
      'get inc-20250101-000000-gone-1',
    ]);
    await db.close();
  });

  it('more than a page of open incidents is read page by page', async () => {
    const db = await openStore('sqlite::memory:');
    for (let s = 0; s < 1003; s++) await db.createIncident(incidentAt(s, 'open'));
    const { store, reads } = recorded(db);
    const open = await remediationIncidents(store, []);
    expect(new Set(open.map((i) => i.id)).size).toBe(1003);
    expect(reads).toEqual([
      'list {"status":"open","limit":1000} → 1000',
      `list {"status":"open","limit":1000,"before":"${incidentAt(3, 'open').openedAt}"} → 3`,
    ]);
    await db.close();
  });

  it('the executor asks for the incidents of the remediations under way, by id', async () => {
    const asked: (readonly string[])[] = [];
    const w = await world('auto');
    const exec = new RemediationExecutor({
      view: w.sim,
      writer: w.sim,
      cloud: w.cloud,
      store: w.db,
      clock: w.clock,
      log: silentLogger,
      policy: DEFAULT_POLICY,
      policySource: 'built-in',
      mode: 'auto',
      actor: 'controller/reads',
      isLeader: () => true,
      assertLeader: () => undefined,
      health: () => new Map(),
      incidents: async (underWay) => {
        asked.push(underWay);
        return (await remediationIncidents(w.db, underWay)).map((i) =>
          i.kind === 'node' ? { ...i, rootCause: 'NODE_HALTED' as const } : i,
        );
      },
    });
    await w.executor.stop();
    await w.clock.advanceAsync(w.cutAt - w.clock.now());
    w.sim.cutNode(w.mig);
    await w.clock.advanceAsync(20_000);
    await exec.evaluate();
    await exec.idle();
    const r = exec.overview().remediations[0];
    expect(r?.status).toBe('in-progress');
    expect(asked[0]).toEqual([]);
    await exec.evaluate();
    expect(asked.at(-1)).toEqual([r?.incidentId]);
    await exec.stop();
    await w.loop.stop();
  });
});
