import type { Layer, LayerStatus } from '../../../src/core/probe.ts';
import type { MeshCell, MeshView } from '../../../src/server/api/types.ts';
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { clock, duration, shortNode } from '../format.ts';
import { href } from '../router.ts';
import type { View } from '../view.ts';

/** A cell's colour class and its word (the word is what a screen reader and a colour-blind reader get). */
export function cellLook(
  cell: MeshCell | undefined,
  layer: Layer | null,
): { tone: string; word: string } {
  if (cell === undefined) return { tone: 'none', word: 'not probed' };
  if (layer === null)
    return cell.healthy
      ? { tone: 'ok', word: 'ok' }
      : { tone: 'failed', word: `fails at ${cell.failedLayer ?? '?'}` };
  const status: LayerStatus = cell.status ?? cell.layers[layer];
  switch (status) {
    case 'ok':
      return { tone: 'ok', word: `${layer} ok` };
    case 'failed':
      return { tone: 'failed', word: `${layer} failed` };
    case 'skipped':
      return { tone: 'skipped', word: `${layer} not tested` };
  }
}

/** The mesh for one layer (or the overall verdict), observer × target, as a heatmap table. */
export function meshView(layer: Layer | null): View<MeshView> {
  return {
    name: 'mesh',
    title: () => 'Probe mesh',
    load: () => api.mesh(layer),
    staleOn: (event) => event.type !== 'hello',
    render(mesh, ctx) {
      const cells = new Map(mesh.cells.map((c) => [`${c.observer}\u0000${c.target}`, c]));
      const select = h(
        'select',
        {
          id: 'layer',
          on: {
            change: (event) => {
              const value = (event.target as HTMLSelectElement).value;
              location.hash = href({ view: 'mesh', layer: value === '' ? null : (value as Layer) });
            },
          },
        },
        h('option', { value: '', selected: layer === null }, 'all layers (lowest failing)'),
        (['L2', 'L3', 'L4', 'L7'] as const).map((l) =>
          h('option', { value: l, selected: layer === l }, `${l} — ${LAYER_WORDS[l]}`),
        ),
      );
      return h(
        'div',
        null,
        h('h1', null, 'Probe mesh'),
        h(
          'p',
          null,
          'Each row is an observer (an agent on a node, or the controller), each column a target node: its latest probe of that target. ',
          `Read at ${clock(mesh.now, ctx.zone)}.`,
        ),
        h('p', null, h('label', { for: 'layer' }, 'Layer '), select),
        mesh.observers.length === 0
          ? h('p', { class: 'callout' }, 'No probe result yet.')
          : h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                { class: 'heatmap' },
                h(
                  'caption',
                  null,
                  layer === null ? 'Every layer: the lowest failing one' : `Layer ${layer}`,
                ),
                h(
                  'thead',
                  null,
                  h(
                    'tr',
                    null,
                    h('th', { scope: 'col' }, 'observer ╲ target'),
                    mesh.targets.map((t) => h('th', { scope: 'col', title: t }, shortNode(t))),
                  ),
                ),
                h(
                  'tbody',
                  null,
                  mesh.observers.map((o) =>
                    h(
                      'tr',
                      null,
                      h('th', { scope: 'row', title: o }, shortNode(o)),
                      mesh.targets.map((t) => {
                        if (o === t)
                          return h(
                            'td',
                            { class: 'cell self', title: `${o} does not probe itself` },
                            'self',
                          );
                        const cell = cells.get(`${o}\u0000${t}`);
                        const look = cellLook(cell, layer);
                        // An observer that went silent (a dead node's own agent) keeps its last word: say how old it is.
                        const stale = cell !== undefined && cell.ageMs > STALE_MS;
                        return h(
                          'td',
                          {
                            class: `cell ${look.tone}${stale ? ' stale' : ''}`,
                            'data-observer': o,
                            'data-target': t,
                            title:
                              cell === undefined
                                ? `${o} has not probed ${t}`
                                : `${o} → ${t}: ${cell.detail} (${duration(cell.ageMs / 1000)} ago)`,
                          },
                          look.word,
                          stale
                            ? h('div', { class: 'sub' }, `${duration(cell.ageMs / 1000)} old`)
                            : null,
                        );
                      }),
                    ),
                  ),
                ),
              ),
            ),
        h(
          'p',
          { class: 'legend' },
          h('span', { class: 'cell ok' }, 'ok'),
          h('span', { class: 'cell failed' }, 'failed'),
          h(
            'span',
            { class: 'cell skipped' },
            'not tested (a lower layer failed, or the observer cannot test it)',
          ),
          h('span', { class: 'cell none' }, 'not probed'),
          h(
            'span',
            { class: 'cell ok stale' },
            'dashed: older than 10 s (the observer went quiet)',
          ),
        ),
      );
    },
  };
}

/** Observers report every second; a result older than this is from before the observer went quiet. */
const STALE_MS = 10_000;

const LAYER_WORDS: Readonly<Record<Layer, string>> = {
  L2: 'ARP',
  L3: 'ICMP ping',
  L4: 'TCP :10250',
  L7: 'HTTPS /healthz',
};
