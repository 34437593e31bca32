import { describe, expect, it } from 'vitest';
import type { Incident, TimelineEntry } from '../core/incident.ts';
import type { LogFields, Logger } from '../core/logger.ts';
import { openStore } from '../store/open.ts';
import { storeSink, TIMELINE_LINES_PER_APPEND } from './store-sink.ts';

describe('storeSink', () => {
  it('stores every entry of a big append but logs the first ones and a count of the rest', async () => {
    const lines: { msg: string; fields: LogFields | undefined }[] = [];
    const log: Logger = {
      log: (_level, msg, fields) => void lines.push({ msg, fields }),
      child: () => log,
    };
    const store = await openStore('sqlite::memory:');
    const at = '2025-08-25T03:58:30.000Z';
    const incident: Incident = {
      id: 'inc-20250825-035830-partition-1',
      kind: 'partition',
      status: 'open',
      nodes: ['gpu-0', 'gpu-1'],
      openedAt: at,
      resolvedAt: null,
      lastHeartbeatAt: null,
      rootCause: null,
      summary: 'partition',
      timeline: [],
      affectedPods: [],
    };
    const entries: TimelineEntry[] = Array.from({ length: 1_500 }, (_, i) => ({
      at,
      kind: i % 3 === 0 ? 'down' : 'suspect',
      node: `gpu-${i}`,
      message: `entry ${i}`,
    }));
    const sink = storeSink(store, log, () => undefined);
    await sink(
      [
        { kind: 'open', incident },
        { kind: 'append', id: incident.id, entries },
      ],
      [incident],
    );
    expect((await store.getIncident(incident.id)).timeline).toHaveLength(1_500);
    expect(lines.filter((l) => l.msg === 'incident timeline')).toHaveLength(
      TIMELINE_LINES_PER_APPEND,
    );
    const more = lines.find((l) => l.msg === 'incident timeline: more entries in this append');
    expect(more?.fields).toMatchObject({
      incident: incident.id,
      more: 1_500 - TIMELINE_LINES_PER_APPEND,
    });
    const kinds = (more?.fields?.['kinds'] ?? {}) as Record<string, number>;
    expect(Object.values(kinds).reduce((a, b) => a + b, 0)).toBe(1_500 - TIMELINE_LINES_PER_APPEND);
    await store.close();
  });
});
