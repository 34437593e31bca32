/** One benchmark run's timeline, shared by the simulated and the lab runs of bench/recovery.ts. */
import type { Incident } from '../src/core/incident.ts';
import { nodeSuffix } from '../src/lab/topology.ts';

export interface Run {
  readonly label: string;
  readonly rows: [number, string][];
}

/**
 * The rows of one run from its incident (opened, Kubernetes' NotReady and
 * taints, remediation steps, evictions, resolved) and when the node was
 * Ready again (ms; null: never), in seconds after the last heartbeat.
 */
export function timelineRows(
  incident: Incident | undefined,
  node: string,
  faultAt: number,
  readyAgainAt: number | null,
  sawNotReady: boolean,
  endedAt: number,
): [number, string][] {
  const rows: [number, string][] = [];
  const hb = Date.parse(incident?.lastHeartbeatAt ?? new Date(faultAt).toISOString());
  const at = (iso: string): number => (Date.parse(iso) - hb) / 1000;
  const name = nodeSuffix(node);
  const short = (text: string): string => {
    const line = text.replaceAll(node, name);
    return line.length > 100 ? `${line.slice(0, 99)}…` : line;
  };
  rows.push([0, 'last heartbeat (Lease renewal)']);
  if (incident !== undefined) {
    rows.push([at(incident.openedAt), `NodeWarden: incident opened`]);
    const evicted = incident.timeline.filter((e) => e.kind === 'pod-evicted');
    for (const e of incident.timeline) {
      if (e.kind === 'k8s-not-ready' || e.kind === 'k8s-taint')
        rows.push([at(e.at), short(e.message)]);
      if (e.kind === 'diagnosis') rows.push([at(e.at), short(e.message)]);
      if (
        e.kind === 'note' &&
        e.message.startsWith('remediation') &&
        /started|succeeded|timed-out|failed/.test(e.message)
      )
        rows.push([at(e.at), short(e.message)]);
    }
    if (evicted[0] !== undefined)
      rows.push([at(evicted[0].at), `Kubernetes: ${evicted.length} pods evicted`]);
    if (incident.resolvedAt !== null)
      rows.push([
        at(incident.resolvedAt),
        `NodeWarden: incident resolved (MTTR ${at(incident.resolvedAt).toFixed(1)} s)`,
      ]);
  }
  if (readyAgainAt !== null)
    rows.push([(readyAgainAt - hb) / 1000, `${name} Ready again (kubelet renewing)`]);
  else rows.push([(endedAt - hb) / 1000, `${name} still not Ready when the run ended`]);
  if (!sawNotReady)
    rows.push([((readyAgainAt ?? endedAt) - hb) / 1000, 'Kubernetes never marked it NotReady']);
  return rows.sort((a, b) => a[0] - b[0]);
}
