import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Incident } from '../core/incident.ts';
import { incidentMetrics, withIncidentMetrics } from './incident-metrics.ts';

const incident = (over: Partial<Incident> = {}): Incident => ({
  id: 'inc-1',
  kind: 'node',
  status: 'open',
  nodes: ['gpu-1'],
  openedAt: '2025-08-25T03:58:09.000Z',
  resolvedAt: null,
  lastHeartbeatAt: '2025-08-25T03:58:02.200Z',
  rootCause: null,
  summary: 'gpu-1 down',
  timeline: [],
  affectedPods: [],
  ...over,
});

async function values(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} not registered`);
  const out: Record<string, number> = {};
  for (const v of (await metric.get()).values) {
    const labels = Object.entries(v.labels)
      .map(([k, l]) => `${k}=${String(l)}`)
      .join(',');
    const metricName = (v as { metricName?: string }).metricName ?? name;
    out[`${metricName}{${labels}}`] = v.value;
  }
  return out;
}

describe('incident metrics', () => {
  it('observes detection at open and recovery at resolve, once each, by kind', async () => {
    const registry = new Registry();
    const observe = incidentMetrics(registry);
    const open = incident();
    observe([{ kind: 'open', incident: open }], [open]);
    const resolvedAt = '2025-08-25T04:02:02.200Z';
    observe(
      [
        {
          kind: 'resolve',
          id: 'inc-1',
          resolvedAt,
          entry: { at: resolvedAt, kind: 'resolved', message: 'healthy again' },
        },
      ],
      [open],
    );
    const detection = await values(registry, 'nodewarden_incident_detection_seconds');
    expect(detection['nodewarden_incident_detection_seconds_sum{kind=node}']).toBeCloseTo(6.8);
    expect(detection['nodewarden_incident_detection_seconds_bucket{le=10,kind=node}']).toBe(1);
    expect(detection['nodewarden_incident_detection_seconds_bucket{le=5,kind=node}']).toBe(0);
    const recovery = await values(registry, 'nodewarden_incident_recovery_seconds');
    expect(recovery['nodewarden_incident_recovery_seconds_sum{kind=node}']).toBe(240);
    expect(await values(registry, 'nodewarden_incidents_opened_total')).toEqual({
      'nodewarden_incidents_opened_total{kind=node}': 1,
    });
    expect(await values(registry, 'nodewarden_incidents_resolved_total')).toEqual({
      'nodewarden_incidents_resolved_total{kind=node}': 1,
    });
  });

  it('an incident without a known heartbeat counts as opened but has no detection time', async () => {
    const registry = new Registry();
    const open = incident({ kind: 'partition', lastHeartbeatAt: null });
    incidentMetrics(registry)([{ kind: 'open', incident: open }], [open]);
    const detection = await values(registry, 'nodewarden_incident_detection_seconds');
    expect(
      detection['nodewarden_incident_detection_seconds_count{kind=partition}'],
    ).toBeUndefined();
    expect(await values(registry, 'nodewarden_incidents_opened_total')).toEqual({
      'nodewarden_incidents_opened_total{kind=partition}': 1,
    });
  });

  it('observes only what the sink wrote: a failed write is not counted', async () => {
    const registry = new Registry();
    const sink = withIncidentMetrics(
      () => Promise.reject(new Error('store down')),
      incidentMetrics(registry),
    );
    const open = incident();
    await expect(sink([{ kind: 'open', incident: open }], [open])).rejects.toThrow('store down');
    expect(await values(registry, 'nodewarden_incidents_opened_total')).toEqual({});
  });
});
