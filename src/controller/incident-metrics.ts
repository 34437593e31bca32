import { Counter, Histogram, type Registry } from 'prom-client';
import { mttdSeconds, mttrSeconds, type Incident } from '../core/incident.ts';
import type { IncidentCommand } from '../core/incidents.ts';
import type { IncidentSink } from './detection-loop.ts';

/**
 * Detection and recovery times as Prometheus histograms, observed where the
 * leader records incidents (the sink), so each opening and resolution counts
 * once, on the replica that wrote it:
 * - `nodewarden_incident_detection_seconds{kind}`: last heartbeat → incident
 *   open (MTTD, `mttdSeconds`); not observed when the heartbeat is unknown;
 * - `nodewarden_incident_recovery_seconds{kind}`: last heartbeat → resolved
 *   (MTTR, `mttrSeconds`);
 * - `nodewarden_incidents_opened_total{kind}`, `_resolved_total{kind}`.
 * Buckets span the seed's range: seconds for NodeWarden, hours for the 2025
 * outage (3 h 24 min to notice, 6 h 48 min to recover).
 */
export const DETECTION_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 900, 3600, 14_400];
export const RECOVERY_BUCKETS = [30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400, 28_800, 86_400];

export function incidentMetrics(
  registry: Registry,
): (commands: readonly IncidentCommand[], incidents: readonly Incident[]) => void {
  const registers = [registry];
  const detection = new Histogram({
    name: 'nodewarden_incident_detection_seconds',
    help: "Seconds from a node's last heartbeat to its incident opening",
    labelNames: ['kind'],
    buckets: DETECTION_BUCKETS,
    registers,
  });
  const recovery = new Histogram({
    name: 'nodewarden_incident_recovery_seconds',
    help: "Seconds from a node's last heartbeat to its incident resolving",
    labelNames: ['kind'],
    buckets: RECOVERY_BUCKETS,
    registers,
  });
  const opened = new Counter({
    name: 'nodewarden_incidents_opened_total',
    help: 'Incidents opened by this replica while leading',
    labelNames: ['kind'],
    registers,
  });
  const resolved = new Counter({
    name: 'nodewarden_incidents_resolved_total',
    help: 'Incidents resolved by this replica while leading',
    labelNames: ['kind'],
    registers,
  });
  return (commands, incidents) => {
    for (const command of commands) {
      if (command.kind === 'open') {
        const i = command.incident;
        opened.inc({ kind: i.kind });
        const s = mttdSeconds(i);
        if (s !== null) detection.observe({ kind: i.kind }, Math.max(0, s));
      } else if (command.kind === 'resolve') {
        const i = incidents.find((x) => x.id === command.id);
        if (i === undefined) continue;
        resolved.inc({ kind: i.kind });
        const s = mttrSeconds({ ...i, resolvedAt: command.resolvedAt });
        if (s !== null) recovery.observe({ kind: i.kind }, Math.max(0, s));
      }
    }
  };
}

/** The sink, observing each batch's openings and resolutions once it is written. */
export function withIncidentMetrics(
  sink: IncidentSink,
  observe: (commands: readonly IncidentCommand[], incidents: readonly Incident[]) => void,
): IncidentSink {
  return async (commands, incidents) => {
    await sink(commands, incidents);
    observe(commands, incidents);
  };
}
