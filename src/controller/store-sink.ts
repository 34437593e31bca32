import type { Incident } from '../core/incident.ts';
import type { IncidentCommand } from '../core/incidents.ts';
import type { Logger } from '../core/logger.ts';
import type { IncidentStore } from '../store/port.ts';

/** `incident timeline` lines one append logs in full; the rest are counted by kind. */
export const TIMELINE_LINES_PER_APPEND = 20;

/**
 * Writes incident commands to the store, in order, re-checking leadership
 * before every write (a replica that lost its Lease between deciding and
 * writing must not write), and logs each incident opening and resolution in
 * an SRE's words.
 */
export function storeSink(
  store: IncidentStore,
  log: Logger,
  assertLeader: (action: string) => void,
) {
  return async (
    commands: readonly IncidentCommand[],
    incidents: readonly Incident[],
  ): Promise<void> => {
    for (const command of commands) {
      switch (command.kind) {
        case 'open': {
          assertLeader(`open incident ${command.incident.id}`);
          await store.createIncident(command.incident);
          const i = command.incident;
          log.log('warn', 'incident opened', {
            incident: i.id,
            kind: i.kind,
            nodes: i.nodes,
            lastHeartbeatAt: i.lastHeartbeatAt,
            summary: i.summary,
          });
          break;
        }
        case 'append':
          assertLeader(`append to incident ${command.id}`);
          await store.appendTimeline(command.id, command.entries);
          for (const e of command.entries.slice(0, TIMELINE_LINES_PER_APPEND))
            log.log('info', 'incident timeline', {
              incident: command.id,
              kind: e.kind,
              at: e.at,
              message: e.message,
            });
          if (command.entries.length > TIMELINE_LINES_PER_APPEND) {
            // A partition of 1,500 nodes appends thousands at once; the store has them all.
            const rest = command.entries.slice(TIMELINE_LINES_PER_APPEND);
            const kinds: Record<string, number> = {};
            for (const e of rest) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
            log.log('info', 'incident timeline: more entries in this append', {
              incident: command.id,
              more: rest.length,
              kinds,
            });
          }
          break;
        case 'update':
          assertLeader(`update incident ${command.id}`);
          await store.updateIncident(command.id, command.patch);
          // A flap within the reopen window reopens the same incident rather than a new one.
          if (command.patch.status === 'open')
            log.log('warn', 'incident reopened', {
              incident: command.id,
              nodes: command.patch.nodes,
            });
          break;
        case 'resolve': {
          assertLeader(`resolve incident ${command.id}`);
          await store.appendTimeline(command.id, [command.entry]);
          await store.updateIncident(command.id, {
            status: 'resolved',
            resolvedAt: command.resolvedAt,
          });
          const i = incidents.find((x) => x.id === command.id);
          log.log('info', 'incident resolved', {
            incident: command.id,
            nodes: i?.nodes,
            resolvedAt: command.resolvedAt,
          });
          break;
        }
      }
    }
  };
}
