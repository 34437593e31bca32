import type { NodeUsage, SurvivorUsage } from '../../../src/core/evidence.ts';
import { s } from '../dom.ts';
import { percent, shortNode } from '../format.ts';
import { linear, valueTicks } from './scale.ts';

type Metric = readonly [label: string, pick: (u: NodeUsage) => number];

const METRICS: readonly Metric[] = [
  ['CPU requests', (u) => u.cpu.requestsPct],
  ['CPU limits', (u) => u.cpu.limitsPct],
  ['memory requests', (u) => u.memory.requestsPct],
  ['memory limits', (u) => u.memory.limitsPct],
];

const W = 720;
const ROW = 16;
const GROUP_GAP = 14;
const LEFT = 210;
const RIGHT = 60;

/**
 * The survivors' requests and limits as % of allocatable, before and after
 * the failed node's pods moved: the seed's table (CPU limits 340–601%) as a
 * picture. A line marks 100%: beyond it the node has promised more than it has.
 */
export function usageBars(survivors: readonly SurvivorUsage[], caption: string): SVGSVGElement {
  const values = survivors.flatMap((n) =>
    METRICS.flatMap(([, pick]) => [pick(n.after), n.before === null ? 0 : pick(n.before)]),
  );
  const ticks = valueTicks(0, Math.max(100, ...values), 5);
  const max = ticks[ticks.length - 1] ?? 100;
  const x = linear(0, max, LEFT, W - RIGHT);
  const groupH = METRICS.length * ROW + GROUP_GAP + 18;
  const top = 24;
  const H = top + survivors.length * groupH + 8;
  const id = `usage-${Math.random().toString(36).slice(2, 8)}`;
  const worst = survivors
    .map(
      (n) =>
        `${n.node}: CPU limits ${percent(n.before?.cpu.limitsPct)} before, ${percent(n.after.cpu.limitsPct)} after`,
    )
    .join('; ');

  return s(
    'svg',
    {
      viewBox: `0 0 ${W} ${H}`,
      class: 'chart usage',
      role: 'img',
      'aria-labelledby': `${id}-t ${id}-d`,
    },
    s('title', { id: `${id}-t` }, caption),
    s('desc', { id: `${id}-d` }, worst),
    ticks.map((v) =>
      s(
        'g',
        { class: 'tick' },
        s('line', {
          x1: x(v),
          x2: x(v),
          y1: top - 4,
          y2: H - 8,
          class: v === 100 ? 'limit' : 'grid',
        }),
        s('text', { x: x(v), y: top - 8, 'text-anchor': 'middle' }, `${v}%`),
      ),
    ),
    survivors.map((n, g) => {
      const y0 = top + g * groupH;
      return s(
        'g',
        { class: 'node' },
        s('text', { x: 4, y: y0 + 12, class: 'node-name' }, shortNode(n.node)),
        METRICS.map(([label, pick], i) => {
          const y = y0 + 18 + i * ROW;
          const after = pick(n.after);
          const before = n.before === null ? null : pick(n.before);
          return s(
            'g',
            null,
            s('text', { x: LEFT - 8, y: y + 10, 'text-anchor': 'end', class: 'metric' }, label),
            before === null
              ? null
              : s('rect', {
                  class: 'before',
                  x: LEFT,
                  y: y + 1,
                  width: Math.max(0, x(before) - LEFT),
                  height: 5,
                }),
            s('rect', {
              class: after > 100 ? 'after over' : 'after',
              x: LEFT,
              y: y + 6,
              width: Math.max(0, x(after) - LEFT),
              height: 8,
            }),
            s('text', { x: x(after) + 4, y: y + 13, class: 'value' }, percent(after)),
          );
        }),
      );
    }),
  );
}
