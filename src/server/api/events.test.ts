import { afterEach, describe, expect, it } from 'vitest';
import type { Incident } from '../../core/incident.ts';
import { openStore } from '../../store/open.ts';
import type { IncidentStore } from '../../store/port.ts';
import {
  EventHub,
  observedStore,
  TIMELINE_EVENT_INTERVAL_MS,
  type NumberedEvent,
} from './events.ts';

const stores: IncidentStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

const incident: Incident = {
  id: 'inc-20250825-035809-bkqzq-1',
  kind: 'node',
  status: 'open',
  nodes: ['bkqzq'],
  openedAt: '2025-08-25T03:58:09Z',
  resolvedAt: null,
  lastHeartbeatAt: '2025-08-25T03:58:02.5Z',
  rootCause: null,
  summary: 'bkqzq is down',
  timeline: [],
  affectedPods: [],
};

describe('EventHub', () => {
  it('numbers events, replays those after an id, keeps a bounded window and no ticks', () => {
    const hub = new EventHub(3);
    const seen: NumberedEvent[] = [];
    const off = hub.subscribe((e) => seen.push(e));
    for (let i = 0; i < 5; i++)
      hub.publish({
        type: 'remediation',
        incidentId: null,
        action: `a${i}`,
        result: 'ok',
        at: '2025-08-25T04:00:00Z',
      });
    hub.publish({ type: 'tick', status: {} as never });
    expect(seen.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(hub.since(0).map((e) => e.id)).toEqual([3, 4, 5]);
    expect(hub.since(4).map((e) => e.id)).toEqual([5]);
    // An id from before a restart (never given out here): everything kept.
    expect(hub.since(99).map((e) => e.id)).toEqual([3, 4, 5]);
    off();
    hub.publish({ type: 'remediation', incidentId: null, action: 'x', result: 'ok', at: '' });
    expect(seen).toHaveLength(6);
    expect(hub.subscribers).toBe(0);
  });
});

/** An in-memory SQLite store, observed, with every event it publishes. */
async function observed(): Promise<{
  raw: IncidentStore;
  events: NumberedEvent[];
  store: IncidentStore;
}> {
  const raw = await openStore('sqlite::memory:');
  stores.push(raw);
  const hub = new EventHub();
  const events: NumberedEvent[] = [];
  hub.subscribe((e) => events.push(e));
  return { raw, events, store: observedStore(raw, hub) };
}

describe('observedStore', () => {
  it("publishes each write after it is stored, in the store's form; reads pass through", async () => {
    const { events, store } = await observed();
    await store.createIncident(incident);
    await store.appendTimeline(incident.id, [
      { at: '2025-08-25T03:58:55Z', kind: 'k8s-not-ready', message: 'NotReady' },
    ]);
    await store.appendAudit({
      id: 'a1',
      incidentId: incident.id,
      at: '2025-08-25T03:58:13Z',
      actor: 'controller/test',
      action: 'remediation-cordon',
      reason: 'cordoned',
      evidence: null,
      result: 'succeeded',
      durationMs: 5,
    });
    await store.updateIncident(incident.id, {
      status: 'resolved',
      resolvedAt: '2025-08-25T04:00:15Z',
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(events.map((e) => e.event.type)).toEqual([
      'incident',
      'incident',
      'remediation',
      'incident',
    ]);
    expect(events[0]?.event).toMatchObject({
      change: 'opened',
      incident: { openedAt: '2025-08-25T03:58:09.000Z', mttdSeconds: 6.5 },
    });
    expect(events[1]?.event).toMatchObject({ change: 'timeline' });
    expect(events[3]?.event).toMatchObject({
      change: 'resolved',
      incident: { mttrSeconds: 132.5 },
    });
    expect((await store.listIncidents()).map((i) => i.id)).toEqual([incident.id]);
    expect(await store.listAudit(incident.id)).toHaveLength(1);
  });

  it('publishes a burst of appends to one incident as its first and its last event', async () => {
    const { raw, events, store } = await observed();
    await store.createIncident(incident);
    for (let i = 0; i < 20; i++) {
      await store.appendTimeline(incident.id, [
        { at: `2025-08-25T03:59:${String(i).padStart(2, '0')}Z`, kind: 'note', message: `n${i}` },
      ]);
    }
    const timeline = () =>
      events.filter((e) => e.event.type === 'incident' && e.event.change === 'timeline');
    await new Promise((r) => setTimeout(r, 20));
    expect(timeline()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, TIMELINE_EVENT_INTERVAL_MS + 100));
    expect(timeline()).toHaveLength(2);
    // The trailing event came after the last append, so a reader it prompts sees all 20.
    expect(
      (await store.getIncident(incident.id)).timeline.filter((e) => e.kind === 'note'),
    ).toHaveLength(20);
    await store.appendTimeline(incident.id, [
      { at: '2025-08-25T04:00:00Z', kind: 'note', message: 'late' },
    ]);
    await store.close();
    stores.splice(stores.indexOf(raw), 1);
    await new Promise((r) => setTimeout(r, TIMELINE_EVENT_INTERVAL_MS + 100));
    // Closing dropped the waiting event instead of reading a closed store.
    expect(timeline()).toHaveLength(2);
  });

  it('a failed write publishes nothing', async () => {
    const { events, store } = await observed();
    await expect(store.updateIncident('inc-none', { summary: 'x' })).rejects.toThrow();
    expect(events).toEqual([]);
  });
});
