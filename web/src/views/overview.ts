import type { IncidentsView, NodesView, StatusView } from '../../../src/server/api/types.ts';
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { clock, dateTime, duration, zoneLabel } from '../format.ts';
import { href } from '../router.ts';
import { dataTable } from '../table.ts';
import { gpuBadge, healthBadge, nodeName } from '../ui.ts';
import type { Context, View } from '../view.ts';

interface Data {
  /** Read with the nodes, so the line above the table is as fresh as the table. */
  readonly status: StatusView;
  readonly nodes: NodesView;
  readonly incidents: IncidentsView;
}

/** One line on what is serving and the cluster at a glance. */
export function statusLine(status: StatusView, zone: string): HTMLElement {
  const counts = Object.entries(status.nodes.byHealth)
    .filter(([, n]) => n > 0)
    .map(([health, n]) => `${n} ${health}`)
    .join(', ');
  return h(
    'p',
    { class: 'status-line' },
    status.mode === 'demo'
      ? h('span', { class: 'badge info' }, `demo · scenario ${status.scenario ?? '?'}`)
      : h('span', { class: 'badge muted' }, `controller ${status.version}`),
    ` clock ${dateTime(status.now, zone)}`,
    status.speed === 1 ? null : ` (simulated, ×${status.speed})`,
    ` · ${status.nodes.total} nodes: ${counts}`,
    ` · situation ${status.situation}`,
    status.synced ? null : h('span', { class: 'badge warn' }, ' caches not synced yet'),
    status.apiServerConnected ? null : h('span', { class: 'badge bad' }, ' API server unreachable'),
  );
}

export const overview: View<Data> = {
  name: 'overview',
  title: () => 'Cluster overview',
  async load() {
    const [status, nodes, incidents] = await Promise.all([
      api.status(),
      api.nodes(),
      api.incidents(),
    ]);
    return { status, nodes, incidents };
  },
  staleOn: (event) => event.type !== 'hello',
  render({ status, nodes, incidents }, ctx: Context) {
    const open = incidents.incidents.filter((i) => i.status === 'open');
    return h(
      'div',
      null,
      h('h1', null, 'Cluster overview'),
      statusLine(status, ctx.zone),
      open.length === 0
        ? h('p', { class: 'callout good' }, 'No open incident.')
        : h(
            'section',
            { class: 'callout bad', 'aria-labelledby': 'open-h' },
            h('h2', { id: 'open-h' }, `Open incidents (${open.length})`),
            h(
              'ul',
              null,
              open.map((i) =>
                h(
                  'li',
                  null,
                  h('a', { href: href({ view: 'incident', id: i.id }) }, i.id),
                  ` — ${i.summary}`,
                  i.rootCause === null ? ' (diagnosing…)' : ` · verdict ${i.rootCause}`,
                ),
              ),
            ),
          ),
      h(
        'section',
        { 'aria-labelledby': 'nodes-h' },
        h('h2', { id: 'nodes-h' }, `Nodes (${nodes.nodes.length})`),
        dataTable(
          [
            'Node',
            'Role',
            'State',
            'Since',
            'Heartbeat age',
            'Kubernetes Ready',
            'GPU memory',
            'Incident',
          ],
          nodes.nodes.map((n) => [
            [nodeName(n.name), h('div', { class: 'sub' }, n.internalIP ?? '')],
            n.role,
            [
              healthBadge(n.health),
              n.reason === null ? null : h('div', { class: 'sub' }, n.reason),
            ],
            clock(n.healthSince, ctx.zone),
            h(
              'td',
              { class: (n.leaseAgeMs ?? 0) > 40_000 ? 'stale' : null },
              n.leaseAgeMs === null ? 'no Lease' : duration(n.leaseAgeMs / 1000),
            ),
            [n.ready ?? '—', n.unschedulable ? h('div', { class: 'sub' }, 'cordoned') : null],
            gpuBadge(n.gpu),
            n.openIncident === null
              ? '—'
              : h('a', { href: href({ view: 'incident', id: n.openIncident }) }, 'open incident'),
          ]),
          {
            caption: `Every node’s state as NodeWarden sees it, at ${clock(nodes.now, ctx.zone)} ${zoneLabel(ctx.zone)}`,
            captionHidden: true,
            class: 'nodes',
            rowHeader: true,
            rowAttrs: (k) => {
              const n = nodes.nodes[k];
              return { 'data-node': n?.name, class: `health-${n?.health ?? ''}` };
            },
          },
        ),
      ),
    );
  },
};
