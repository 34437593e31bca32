import type { GpuSeries } from '../../../src/core/evidence.ts';
import { s } from '../dom.ts';
import { clock, percent } from '../format.ts';
import { linear, linePath, timeTicks, valueTicks, withGaps } from './scale.ts';

/** A vertical line on the chart: the last heartbeat, the incident's opening, … */
export interface Marker {
  readonly at: string;
  readonly label: string;
  readonly tone: 'bad' | 'info';
}

const W = 720;
const H = 240;
const M = { top: 16, right: 16, bottom: 40, left: 48 };

/** The seriesʼ name as the report writes it: `GPU 0 MIG 1 (1g.10gb)`. */
export function seriesLabel(series: GpuSeries): string {
  const mig =
    series.migInstance === null
      ? ''
      : ` MIG ${series.migInstance}${series.migProfile === null ? '' : ` (${series.migProfile})`}`;
  return `GPU ${series.gpu}${mig}`;
}

/**
 * GPU framebuffer use (%) over time around the incident, one line per GPU or
 * MIG instance, with markers. An inline SVG (no chart library, no CDN).
 */
export function gpuChart(
  series: readonly GpuSeries[],
  markers: readonly Marker[],
  timeZone: string,
  caption: string,
): SVGSVGElement {
  const all = series.flatMap((x) => x.points.map((p) => Date.parse(p.at)));
  const marks = markers.map((m) => Date.parse(m.at)).filter((t) => !Number.isNaN(t));
  const from = Math.min(...all, ...marks);
  // Room after the last mark, so the silence after the cut shows and the labels fit.
  const last = Math.max(...all, ...marks);
  const to = last + Math.max(60_000, (last - from) * 0.15);
  const peak = Math.max(10, ...series.flatMap((x) => x.points.map((p) => p.usedPct)));
  const yTicks = valueTicks(0, Math.min(100, peak), 4);
  const yMax = yTicks[yTicks.length - 1] ?? 100;
  const x = linear(from, to, M.left, W - M.right);
  const y = linear(0, yMax, H - M.bottom, M.top);
  const id = `gpu-${Math.random().toString(36).slice(2, 8)}`;
  const peaks = series.map(
    (x) => `${seriesLabel(x)} peak ${percent(Math.max(0, ...x.points.map((p) => p.usedPct)))}`,
  );

  return s(
    'svg',
    {
      viewBox: `0 0 ${W} ${H}`,
      class: 'chart',
      role: 'img',
      'aria-labelledby': `${id}-t ${id}-d`,
    },
    s('title', { id: `${id}-t` }, caption),
    s(
      'desc',
      { id: `${id}-d` },
      `${peaks.join('; ')}. ${markers.map((m) => `${m.label} at ${clock(m.at, timeZone)}`).join('; ')}.`,
    ),
    yTicks.map((v) =>
      s(
        'g',
        { class: 'tick' },
        s('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: 'grid' }),
        s('text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, `${v}%`),
      ),
    ),
    timeTicks(from, to, 6).map((t) =>
      s(
        'text',
        { x: x(t), y: H - M.bottom + 16, 'text-anchor': 'middle', class: 'tick' },
        clock(new Date(t).toISOString(), timeZone),
      ),
    ),
    markers.map((m, k) => {
      const t = Date.parse(m.at);
      if (Number.isNaN(t)) return null;
      // Labels on their own rows, so marks seconds apart stay readable.
      return s(
        'g',
        { class: `marker ${m.tone}` },
        s('line', { x1: x(t), x2: x(t), y1: M.top, y2: H - M.bottom }),
        s(
          'text',
          x(t) > W * 0.6
            ? { x: x(t) - 4, y: M.top + 10 + k * 14, 'text-anchor': 'end' }
            : { x: x(t) + 4, y: M.top + 10 + k * 14 },
          `${m.label} ${clock(m.at, timeZone)}`,
        ),
      );
    }),
    series.map((one, i) =>
      s('path', {
        class: `series s${i % 4}`,
        d: linePath(
          withGaps(one.points.map((p) => ({ t: Date.parse(p.at), v: p.usedPct }))).map((p) => ({
            x: x(p.t),
            y: p.v === null ? null : y(p.v),
          })),
        ),
      }),
    ),
    series.map((one, i) =>
      s(
        'g',
        { class: `legend s${i % 4}` },
        s('rect', { x: M.left + i * 200, y: H - 14, width: 12, height: 4 }),
        s('text', { x: M.left + i * 200 + 16, y: H - 9 }, seriesLabel(one)),
      ),
    ),
  );
}
