import type { IncidentsView } from '../../../src/server/api/types.ts';
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { dateTime, duration, shortNode } from '../format.ts';
import { href } from '../router.ts';
import { dataTable } from '../table.ts';
import { confidenceMeter, stateBadge } from '../ui.ts';
import type { View } from '../view.ts';

export const incidentsView: View<IncidentsView> = {
  name: 'incidents',
  title: () => 'Incidents',
  load: () => api.incidents(),
  staleOn: (event) => event.type === 'incident' || event.type === 'verdict',
  render({ incidents }, ctx) {
    return h(
      'div',
      null,
      h('h1', null, 'Incidents'),
      incidents.length === 0
        ? h('p', { class: 'callout good' }, 'No incident recorded.')
        : dataTable(
            ['Incident', 'Status', 'Nodes', 'Opened', 'MTTD', 'MTTR', 'Verdict', 'Confidence'],
            incidents.map((i) => [
              [
                h('a', { href: href({ view: 'incident', id: i.id }) }, i.id),
                h('div', { class: 'sub' }, i.summary),
              ],
              [stateBadge(i.status), ` ${i.kind}`],
              i.nodes.map(shortNode).join(', '),
              dateTime(i.openedAt, ctx.zone),
              duration(i.mttdSeconds),
              duration(i.mttrSeconds),
              i.rootCause ?? 'diagnosing…',
              i.confidence === null ? '—' : confidenceMeter(i.confidence),
            ]),
            {
              caption: 'Incidents, newest first',
              captionHidden: true,
              class: 'incidents',
              rowHeader: true,
              rowAttrs: (k) => ({ 'data-incident': incidents[k]?.id }),
            },
          ),
    );
  },
};
