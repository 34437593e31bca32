import { describe, expect, it } from 'vitest';
import type {
  ApiConnection,
  ClusterChange,
  ClusterView,
  LeaseSnapshot,
  NodeSnapshot,
} from '../core/cluster.ts';
import { ManualClock } from '../core/clock.ts';
import { readyNode } from '../../test/support/nodes.ts';
import { DetectionLoop } from './detection-loop.ts';

/** A cluster view whose first list finishes when the test says so. */
class SlowListView implements ClusterView {
  emit: (c: ClusterChange) => void = () => undefined;
  finishList: () => void = () => undefined;
  start(onChange: (c: ClusterChange) => void): Promise<void> {
    this.emit = onChange;
    return new Promise((resolve) => (this.finishList = resolve));
  }
  stop = (): Promise<void> => Promise.resolve();
  nodes = (): readonly NodeSnapshot[] => [];
  node = (_name: string): NodeSnapshot | undefined => undefined;
  leases = (): readonly LeaseSnapshot[] => [];
  lease = (_name: string): LeaseSnapshot | undefined => undefined;
  pods = () => [];
  podsOnNode = () => [];
  events = () => [];
  connection = (): ApiConnection => ({
    connected: true,
    lastContactAt: new Date(0).toISOString(),
    error: null,
  });
}

const change: ClusterChange = { kind: 'connection', connected: true };

describe('DetectionLoop', () => {
  it('does not evaluate a half-listed cluster: the first evaluation waits for the sync', async () => {
    const clock = new ManualClock(0);
    const view = new SlowListView();
    const loop = new DetectionLoop(view, clock, null);
    const started = loop.start();
    for (let i = 0; i < 5; i += 1) view.emit(change);
    // A new leader's reload asks for an evaluation too; it must wait as well.
    loop.evaluate();
    await clock.advanceAsync(1_000);
    expect(loop.evaluations).toBe(0);
    view.finishList();
    await started;
    expect(loop.evaluations).toBe(1);
  });

  it('spaces evaluations triggered by a stream of changes at least minEvaluateIntervalMs apart', async () => {
    const clock = new ManualClock(0);
    const view = new SlowListView();
    const loop = new DetectionLoop(view, clock, null, { minEvaluateIntervalMs: 250 });
    const started = loop.start();
    view.finishList();
    await started;
    // 500 changes a second for one second, as 5,000 nodes renewing every 10 s produce.
    for (let ms = 0; ms < 1_000; ms += 2) {
      view.emit(change);
      await clock.advanceAsync(2);
    }
    expect(loop.evaluations).toBeGreaterThanOrEqual(4);
    expect(loop.evaluations).toBeLessThanOrEqual(6);
  });

  it('wakes for due nodes at most every minEvaluateIntervalMs, and evaluates only those nodes', async () => {
    // 1,000 healthy nodes whose renewals are spread over 10 s: their due times are 10 ms apart.
    const clock = new ManualClock(Date.parse('2025-08-25T03:58:00Z'));
    const names = Array.from({ length: 1_000 }, (_, i) => `node-${i}`);
    const node = (name: string): NodeSnapshot => readyNode(name, '10.0.0.1');
    const leases = new Map<string, LeaseSnapshot>();
    const renew = (name: string, at: number): void => {
      leases.set(name, {
        node: name,
        holderIdentity: name,
        renewTime: new Date(at).toISOString(),
        leaseDurationSeconds: 40,
      });
    };
    names.forEach((name, i) => renew(name, clock.now() - i * 10));
    const view = new SlowListView();
    view.nodes = () => names.map(node);
    view.node = (name: string) => node(name);
    view.lease = (name: string) => leases.get(name);
    view.connection = () => ({
      connected: true,
      lastContactAt: new Date(clock.now()).toISOString(),
      error: null,
    });
    const loop = new DetectionLoop(view, clock, null, { minEvaluateIntervalMs: 250 });
    const started = loop.start();
    view.finishList();
    await started;
    expect(loop.nodeEvaluations).toBe(1_000);
    // Thirty seconds in which every kubelet renews every 10.5 s (a little after its
    // 10 s period, as real ones do), each renewal a watch event. Between a renewal
    // period's end and the renewal, its node falls due (rule: stale after 10 s).
    const lastRenewal = new Map(names.map((name, i) => [name, clock.now() - i * 10]));
    const start = clock.now();
    for (let ms = 0; ms < 30_000; ms += 10) {
      for (const name of names) {
        if ((lastRenewal.get(name) ?? 0) > clock.now() - 10_500) continue;
        lastRenewal.set(name, clock.now());
        renew(name, clock.now());
        view.emit({ kind: 'lease', action: 'upsert', lease: leases.get(name) as LeaseSnapshot });
      }
      await clock.advanceAsync(10);
    }
    const seconds = (clock.now() - start) / 1000;
    expect(loop.evaluations).toBeLessThanOrEqual(1 + (seconds * 1000) / 250 + 2);
    // About one evaluation per renewal and one per node falling due: ~2,900 renewals and as many dues.
    expect(loop.nodeEvaluations).toBeLessThan(1_000 + 2 * 3_000);
    expect([...(loop.state?.nodes.values() ?? [])].every((n) => n.health === 'Healthy')).toBe(true);
  });
});
