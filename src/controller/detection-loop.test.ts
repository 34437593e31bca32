import { describe, expect, it } from 'vitest';
import type { ClusterChange, ClusterView } from '../core/cluster.ts';
import { ManualClock } from '../core/clock.ts';
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
  nodes = () => [];
  node = () => undefined;
  leases = () => [];
  lease = () => undefined;
  pods = () => [];
  podsOnNode = () => [];
  events = () => [];
  connection = () => ({ connected: true, lastContactAt: new Date(0).toISOString(), error: null });
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
});
