/**
 * Live updates for `/api/v1/events`: a hub that numbers events, keeps the
 * last few for `Last-Event-ID` replay and hands each to every subscriber,
 * and a store decorator that publishes what the store records — so the
 * controller's incidents, diagnoses and remediation steps (written by
 * whichever part of the process) and the demo's reach the API the same way,
 * and only once they are on disk.
 */
import { mttdSeconds, mttrSeconds, type Incident } from '../../core/incident.ts';
import type { IncidentStore } from '../../store/port.ts';
import { DIAGNOSIS_ACTION, loadDiagnosis } from '../../diagnose/stored.ts';
import type { ApiEvent, IncidentSummary } from './types.ts';

export interface NumberedEvent {
  readonly id: number;
  readonly event: ApiEvent;
}

export type EventListener = (event: NumberedEvent) => void;

export class EventHub {
  readonly #listeners = new Set<EventListener>();
  readonly #recent: NumberedEvent[] = [];
  #next = 1;

  constructor(private readonly keep = 256) {}

  publish(event: ApiEvent): void {
    const numbered = { id: this.#next++, event };
    // Ticks are for the live stream only: a reconnecting client gets a fresh hello instead.
    if (event.type !== 'tick') {
      this.#recent.push(numbered);
      if (this.#recent.length > this.keep) this.#recent.shift();
    }
    for (const listener of this.#listeners) listener(numbered);
  }

  /**
   * Events after `lastId` still kept (for Last-Event-ID), oldest first. An id
   * this hub never gave out (the process restarted since) gets everything kept.
   */
  since(lastId: number): readonly NumberedEvent[] {
    if (lastId >= this.#next) return [...this.#recent];
    return this.#recent.filter((e) => e.id > lastId);
  }

  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get subscribers(): number {
    return this.#listeners.size;
  }
}

/** The list form of an incident; rootCause and confidence come from its verdict when known. */
export function incidentSummary(
  incident: Incident,
  verdict: { readonly rootCause: IncidentSummary['rootCause']; readonly confidence: number } | null,
): IncidentSummary {
  return {
    id: incident.id,
    kind: incident.kind,
    status: incident.status,
    nodes: incident.nodes,
    openedAt: incident.openedAt,
    resolvedAt: incident.resolvedAt,
    lastHeartbeatAt: incident.lastHeartbeatAt,
    summary: incident.summary,
    mttdSeconds: mttdSeconds(incident),
    mttrSeconds: mttrSeconds(incident),
    rootCause: verdict?.rootCause ?? incident.rootCause,
    confidence: verdict?.confidence ?? null,
  };
}

/**
 * The store, publishing each write once it resolved (so an event names
 * something a reader can already fetch). Methods not overridden here reach
 * the store unchanged, whatever the port grows. Publishing never fails the
 * write: its errors go to `onPublishError`.
 */
/** Timeline events of one incident are at least this far apart (the last one always comes). */
export const TIMELINE_EVENT_INTERVAL_MS = 1_000;

export function observedStore(
  store: IncidentStore,
  hub: EventHub,
  onPublishError: (error: unknown) => void = () => undefined,
): IncidentStore {
  const publishIncident = async (id: string, change: 'updated' | 'timeline' | 'resolved') => {
    const incident = await store.getIncident(id);
    hub.publish({ type: 'incident', change, incident: incidentSummary(incident, null) });
  };
  const later = (work: () => Promise<void>): void => {
    void work().catch(onPublishError);
  };
  // A timeline event re-reads the whole incident (its MTTD and MTTR come from the timeline).
  // A 1,500-node partition appends every evaluation, and reading its 50,000 entries each
  // time would cost more than deciding them: the first append publishes at once, later
  // ones at most every TIMELINE_EVENT_INTERVAL_MS per incident, the last always.
  const lastTimelineEvent = new Map<string, number>();
  const waitingTimelineEvent = new Map<string, NodeJS.Timeout>();
  const publishTimeline = (id: string): void => {
    if (waitingTimelineEvent.has(id)) return;
    const now = Date.now();
    // Only incidents published within the interval matter: forget the rest (bounded memory).
    for (const [known, at] of lastTimelineEvent) {
      if (now - at >= TIMELINE_EVENT_INTERVAL_MS) lastTimelineEvent.delete(known);
    }
    const wait = (lastTimelineEvent.get(id) ?? -Infinity) + TIMELINE_EVENT_INTERVAL_MS - now;
    const publish = (): void => {
      waitingTimelineEvent.delete(id);
      lastTimelineEvent.set(id, Date.now());
      later(() => publishIncident(id, 'timeline'));
    };
    if (wait <= 0) publish();
    else waitingTimelineEvent.set(id, setTimeout(publish, wait).unref());
  };
  const overrides: Partial<IncidentStore> = {
    createIncident: async (incident) => {
      const stored = await store.createIncident(incident);
      hub.publish({ type: 'incident', change: 'opened', incident: incidentSummary(stored, null) });
      return stored;
    },
    updateIncident: async (id, patch) => {
      const updated = await store.updateIncident(id, patch);
      hub.publish({
        type: 'incident',
        change: patch.status === 'resolved' ? 'resolved' : 'updated',
        incident: incidentSummary(updated, null),
      });
      return updated;
    },
    close: async () => {
      for (const timer of waitingTimelineEvent.values()) clearTimeout(timer);
      waitingTimelineEvent.clear();
      await store.close();
    },
    appendTimeline: async (id, entries) => {
      await store.appendTimeline(id, entries);
      publishTimeline(id);
    },
    appendAudit: async (record) => {
      await store.appendAudit(record);
      const incidentId = record.incidentId;
      if (record.action === DIAGNOSIS_ACTION && incidentId !== null) {
        later(async () => {
          const { verdict } = await loadDiagnosis(store, incidentId);
          hub.publish({
            type: 'verdict',
            incidentId,
            rootCause: verdict.rootCause,
            confidence: verdict.confidence,
            at: verdict.decidedAt,
          });
        });
      } else if (record.action !== DIAGNOSIS_ACTION) {
        hub.publish({
          type: 'remediation',
          incidentId,
          action: record.action,
          result: record.result,
          at: record.at,
        });
      }
    },
  };
  return new Proxy(store, {
    get(target, prop) {
      if (typeof prop === 'string' && Object.hasOwn(overrides, prop))
        return overrides[prop as keyof IncidentStore];
      const value: unknown = Reflect.get(target, prop, target);
      // Adapters keep private fields: their methods must run with the adapter as `this`.
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}
