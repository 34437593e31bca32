/**
 * What NodeWarden says when an incident opens, when its verdict is known and
 * when it resolves — as a Slack-compatible webhook message and as an
 * Alertmanager API v2 alert. Pure: an incident and a report link in, JSON
 * bodies out.
 *
 * The seed's node sat unnoticed for 3 h 24 min; the first message goes out
 * the moment the incident opens, before any diagnosis, and says what is known
 * then (which node, since when, what the mesh saw).
 */
import type { Incident } from '../core/incident.ts';

export type NotificationKind = 'opened' | 'verdict' | 'resolved';

export interface NotificationEvent {
  readonly kind: NotificationKind;
  readonly incident: Incident;
  /** Where a person reads the report; null without --public-url. */
  readonly reportUrl: string | null;
  /** The verdict's confidence (0–1), when there is one. */
  readonly confidence?: number | null;
}

/** The report link of an incident under the controller's public URL (the HTTP API serves it). */
export function reportUrlFor(publicUrl: string | null, incidentId: string): string | null {
  if (publicUrl === null) return null;
  return `${publicUrl.replace(/\/+$/, '')}/api/v1/incidents/${encodeURIComponent(incidentId)}/report`;
}

const minutes = (fromIso: string, toIso: string): string => {
  const s = Math.max(0, Math.round((Date.parse(toIso) - Date.parse(fromIso)) / 1000));
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
};

function headline(event: NotificationEvent): string {
  const i = event.incident;
  const what = i.kind === 'partition' ? `partition of ${i.nodes.length} nodes` : i.nodes.join(', ');
  switch (event.kind) {
    case 'opened':
      return `:rotating_light: NodeWarden incident opened: ${what}`;
    case 'verdict':
      return `:mag: NodeWarden verdict for ${what}: ${i.rootCause ?? 'undetermined'}`;
    case 'resolved':
      return `:white_check_mark: NodeWarden incident resolved: ${what}`;
  }
}

/** The lines under the headline, shared by both formats. */
export function detailLines(event: NotificationEvent): string[] {
  const i = event.incident;
  const lines = [`Incident ${i.id} (${i.kind}), opened ${i.openedAt}`];
  if (i.lastHeartbeatAt !== null) lines.push(`Last heartbeat ${i.lastHeartbeatAt}`);
  if (i.summary) lines.push(i.summary);
  if (i.rootCause !== null) {
    const c = event.confidence;
    lines.push(
      `Verdict: ${i.rootCause}${c === null || c === undefined ? '' : ` (confidence ${c.toFixed(2)})`}`,
    );
  }
  if (event.kind === 'resolved' && i.resolvedAt !== null) {
    lines.push(`Resolved ${i.resolvedAt} (${minutes(i.openedAt, i.resolvedAt)} after it opened)`);
  }
  if (i.affectedPods.length > 0) lines.push(`${i.affectedPods.length} pods affected`);
  lines.push(
    event.reportUrl === null ? 'Report: nodewarden report ' + i.id : `Report: ${event.reportUrl}`,
  );
  return lines;
}

/** A Slack incoming-webhook body (also accepted by Mattermost, Rocket.Chat and Teams' Slack-compatible hooks). */
export function slackMessage(event: NotificationEvent): { text: string; blocks: unknown[] } {
  const head = headline(event);
  const lines = detailLines(event);
  return {
    // `text` is the fallback (notifications, clients without blocks).
    text: `${head}\n${lines.join('\n')}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${head}*` } },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: lines
            .map((l) =>
              l.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] ?? c),
            )
            .join('\n'),
        },
      },
    ],
  };
}

export interface AlertmanagerAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: string;
  /** Set on resolution: Alertmanager then treats the alert as resolved. */
  readonly endsAt?: string;
  readonly generatorURL?: string;
}

/**
 * One alert per incident (labels identify it, so re-posting updates the same
 * alert and routes/silences match on alertname, node, kind, root_cause).
 * Resolved: `endsAt` = the incident's resolution time.
 */
export function alertmanagerAlert(event: NotificationEvent): AlertmanagerAlert {
  const i = event.incident;
  const labels: Record<string, string> = {
    alertname: 'NodeWardenIncident',
    incident: i.id,
    kind: i.kind,
    severity: 'critical',
    source: 'nodewarden',
  };
  if (i.nodes.length === 1) labels['node'] = i.nodes[0] ?? '';
  const annotations: Record<string, string> = {
    summary: headline(event).replace(/^:[a-z_]+: /, ''),
    description: detailLines(event).join('\n'),
  };
  if (i.rootCause !== null) annotations['root_cause'] = i.rootCause;
  if (event.reportUrl !== null) annotations['report_url'] = event.reportUrl;
  return {
    labels,
    annotations,
    startsAt: i.openedAt,
    ...(event.kind === 'resolved' && i.resolvedAt !== null ? { endsAt: i.resolvedAt } : {}),
    ...(event.reportUrl !== null ? { generatorURL: event.reportUrl } : {}),
  };
}
