/**
 * The controller's stability schedule on a ManualClock: slots fire at their
 * cron minute, one test at a time, none while an incident is open (and a
 * running one stops when one opens), only on the leader, nodes picked by
 * selector and GPU, each run recorded.
 */
import { describe, expect, it } from 'vitest';
import type { NodeSnapshot } from '../core/cluster.ts';
import { ManualClock } from '../core/clock.ts';
import { silentLogger } from '../core/logger.ts';
import { parseCron, parseNodeSelector } from '../core/stability-schedule.ts';
import { stabilityRunFixture } from '../../test/support/stability-run.ts';
import type { StabilityRun } from './run.ts';
import { StabilityScheduler, type StabilitySchedulerDeps } from './scheduler.ts';

const MIG = { 'nvidia.com/mig-1g.10gb': '7' };

function node(
  name: string,
  o: { gpu?: boolean; ready?: boolean; labels?: Record<string, string>; cordoned?: boolean } = {},
): NodeSnapshot {
  return {
    name,
    uid: name,
    labels: o.labels ?? {},
    annotations: {},
    internalIP: '10.62.0.30',
    providerID: null,
    unschedulable: o.cordoned ?? false,
    taints: [],
    conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    capacity: {},
    allocatable: o.gpu === false ? { cpu: '16' } : MIG,
    createdAt: '2025-08-01T00:00:00Z',
  } as unknown as NodeSnapshot;
}

function harness(over: Partial<StabilitySchedulerDeps> & { cron?: string; testMs?: number } = {}) {
  const clock = new ManualClock('2025-08-25T02:59:30Z');
  const world = {
    nodes: [node('gpu-b'), node('gpu-a'), node('worker-1', { gpu: false })],
    incidents: 0,
    leader: true,
    started: [] as string[],
    recorded: [] as StabilityRun[],
    running: 0,
    maxRunning: 0,
    cancelledBy: [] as string[],
  };
  const testMs = over.testMs ?? 60_000;
  const scheduler = new StabilityScheduler({
    clock,
    schedule: parseCron(over.cron ?? '0 3 * * *'),
    selector: null,
    nodes: () => world.nodes,
    openIncidents: () => world.incidents,
    isLeader: () => world.leader,
    runTest: async (n, signal) => {
      world.started.push(`${new Date(clock.now()).toISOString().slice(11, 16)} ${n}`);
      world.running += 1;
      world.maxRunning = Math.max(world.maxRunning, world.running);
      await clock.sleep(testMs, signal).catch(() => {
        world.cancelledBy.push(String((signal.reason as Error).message));
      });
      world.running -= 1;
      return stabilityRunFixture(n, clock.now(), { cancelled: signal.aborted });
    },
    record: (run) => {
      world.recorded.push(run);
      return Promise.resolve();
    },
    history: () => Promise.resolve({}),
    log: silentLogger,
    // Hours between idle decisions keep a simulated day cheap; the rules do not depend on it.
    maxWaitMs: 3_600_000,
    ...over,
  });
  return { clock, world, scheduler };
}

describe('StabilityScheduler', () => {
  it('runs at each slot, one node per slot, the one tested longest ago; records each run', async () => {
    const { clock, world, scheduler } = harness();
    scheduler.start();
    await clock.advanceAsync(20_000);
    expect(world.started).toEqual([]);
    await clock.advanceAsync(15_000); // 03:00 passes
    expect(world.started).toEqual(['03:00 gpu-a']);
    expect(scheduler.status().running).toBe('gpu-a');
    await clock.advanceAsync(120_000);
    expect(world.recorded.map((r) => r.node)).toEqual(['gpu-a']);
    expect(scheduler.status()).toMatchObject({
      running: null,
      runs: { pass: 1 },
      outcomes: [{ node: 'gpu-a', verdict: 'pass' }],
    });
    await clock.advanceAsync(86_400_000);
    expect(world.started).toEqual(['03:00 gpu-a', '03:00 gpu-b']);
    await clock.advanceAsync(86_400_000);
    expect(world.started).toEqual(['03:00 gpu-a', '03:00 gpu-b', '03:00 gpu-a']);
    // Never a node without a GPU, never two at once.
    expect(world.maxRunning).toBe(1);
    await scheduler.stop();
  });

  it('never two at once: slots that come due during a long test are skipped, not queued', async () => {
    const { clock, world, scheduler } = harness({ cron: '*/5 * * * *', testMs: 12 * 60_000 });
    scheduler.start();
    await clock.advanceAsync(40 * 60_000);
    expect(world.maxRunning).toBe(1);
    // 03:00 runs 12 min: 03:05 and 03:10 are skipped; 03:15 runs to 03:27; 03:20, 03:25 skipped.
    expect(world.started).toEqual(['03:00 gpu-a', '03:15 gpu-b', '03:30 gpu-a']);
    expect(scheduler.status().skippedSlots).toBe(4);
    await scheduler.stop();
  });

  it('skips while an incident is open, runs the slot once it closes, and stops a test when one opens', async () => {
    const { clock, world, scheduler } = harness();
    world.incidents = 1;
    scheduler.start();
    await clock.advanceAsync(10 * 60_000);
    expect(world.started).toEqual([]);
    expect(scheduler.status().lastDecision).toBe(
      '1 incident(s) open: no stability test until they close',
    );
    world.incidents = 0;
    await clock.advanceAsync(61_000);
    expect(world.started).toEqual(['03:10 gpu-a']);
    await clock.advanceAsync(5_000);
    world.incidents = 1; // a node goes down mid-test
    await clock.advanceAsync(2_000);
    expect(world.cancelledBy).toEqual(['an incident opened']);
    expect(scheduler.status().running).toBe(null);
    expect(scheduler.status().outcomes[0]).toMatchObject({
      node: 'gpu-a',
      verdict: 'inconclusive',
    });
    expect(scheduler.status().outcomes[0]?.summary).toContain('(an incident opened)');
    expect(world.recorded).toHaveLength(1);
    await scheduler.stop();
  });

  it('only the leader tests (a slot it missed as standby is not made up); losing leadership stops a test', async () => {
    const { clock, world, scheduler } = harness();
    world.leader = false;
    scheduler.start();
    await clock.advanceAsync(5 * 60_000);
    expect(world.started).toEqual([]);
    world.leader = true;
    await clock.advanceAsync(6 * 60 * 60_000);
    expect(world.started).toEqual([]);
    await clock.advanceAsync(Date.parse('2025-08-26T03:00:30Z') - clock.now());
    expect(world.started).toEqual(['03:00 gpu-a']);
    expect(scheduler.status().running).toBe('gpu-a');
    world.leader = false;
    await clock.advanceAsync(2_000);
    expect(world.cancelledBy).toEqual(['this replica lost leadership']);
    await scheduler.stop();
  });

  it('selects by label, skips nodes not Ready or cordoned, and skips the slot when none is left', async () => {
    const { clock, world, scheduler } = harness({
      selector: parseNodeSelector('pool=gpu,!nodewarden.io/no-stability-test'),
    });
    world.nodes = [
      node('gpu-a', { labels: { pool: 'gpu' }, ready: false }),
      node('gpu-b', { labels: { pool: 'gpu' }, cordoned: true }),
      node('gpu-c', { labels: { pool: 'gpu', 'nodewarden.io/no-stability-test': '' } }),
      node('gpu-d', { labels: { pool: 'other' } }),
    ];
    expect(scheduler.candidates()).toEqual(['gpu-a', 'gpu-b']);
    scheduler.start();
    await clock.advanceAsync(60_000);
    expect(world.started).toEqual([]);
    expect(scheduler.status().skippedSlots).toBe(1);
    expect(scheduler.status().lastDecision).toContain('none of gpu-a, gpu-b is Ready');
    world.nodes = [node('gpu-a', { labels: { pool: 'gpu' } })];
    await clock.advanceAsync(10 * 60_000);
    expect(world.started).toEqual([]); // the skipped slot is not retried
    await clock.advanceAsync(86_400_000);
    expect(world.started).toEqual(['03:00 gpu-a']);
    await scheduler.stop();
  });

  it('starts from the history in the store, and a test that cannot run is an error outcome', async () => {
    const { clock, world, scheduler } = harness({
      history: () => Promise.resolve({ 'gpu-a': Date.parse('2025-08-24T03:00:00Z') }),
      runTest: () => Promise.reject(new Error('no node gpu-b in the cluster')),
    });
    scheduler.start();
    await clock.advanceAsync(60_000);
    expect(scheduler.status().outcomes).toMatchObject([
      {
        node: 'gpu-b',
        verdict: 'error',
        summary: 'the test could not run: no node gpu-b in the cluster',
      },
    ]);
    expect(scheduler.status().runs.error).toBe(1);
    expect(world.recorded).toEqual([]);
    await scheduler.stop();
  });

  it('re-reads the store: a run by hand between slots counts when the next node is chosen', async () => {
    const store: Record<string, number> = {};
    const { clock, world, scheduler } = harness({ history: () => Promise.resolve({ ...store }) });
    scheduler.start();
    await clock.advanceAsync(3 * 60_000); // 03:00: gpu-a (never tested; names sort first)
    expect(world.started).toEqual(['03:00 gpu-a']);
    // Someone tests gpu-b by hand at noon (`stability-test --store`): it lands only in the store.
    await clock.advanceAsync(9 * 3_600_000);
    store['gpu-b'] = clock.now();
    await clock.advanceAsync(86_400_000 - 9 * 3_600_000);
    // Next 03:00: gpu-b was tested after gpu-a, so gpu-a again (without the re-read: gpu-b).
    expect(world.started).toEqual(['03:00 gpu-a', '03:00 gpu-a']);
    await scheduler.stop();
  });

  it('stop() cancels a running test and waits for it', async () => {
    const { clock, world, scheduler } = harness();
    scheduler.start();
    await clock.advanceAsync(40_000);
    expect(scheduler.status().running).toBe('gpu-a');
    await scheduler.stop();
    expect(world.cancelledBy).toEqual(['the controller is stopping']);
    expect(world.recorded).toHaveLength(1);
    await clock.advanceAsync(86_400_000);
    expect(world.started).toHaveLength(1);
  });
});
