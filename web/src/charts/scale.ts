/**
 * Chart geometry, pure so it can be tested without a browser: linear scales,
 * "nice" value ticks (1, 2, 5 × 10ⁿ) and time ticks on round seconds or
 * minutes.
 */
export type Scale = (value: number) => number;

/** Maps [d0, d1] onto [r0, r1]; a zero-width domain maps everything to the middle. */
export function linear(d0: number, d1: number, r0: number, r1: number): Scale {
  if (d1 === d0) return () => (r0 + r1) / 2;
  const k = (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** A step of 1, 2 or 5 × 10ⁿ giving about `count` intervals over `span`. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0) || !(count > 0)) return 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/** Ticks from 0 (or below `min`) up to at least `max`, on a nice step. */
export function valueTicks(min: number, max: number, count = 5): number[] {
  const step = niceStep(max - min, count);
  const first = Math.floor(min / step) * step;
  const last = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  // Bounded: at most count * 3 ticks whatever the input.
  for (let v = first, i = 0; v <= last + step / 2 && i < count * 3; v += step, i += 1)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const TIME_STEPS_MS = [
  1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
  1_800_000, 3_600_000, 7_200_000, 21_600_000,
];

/** Instants on a round step (1 s … 6 h) inside [fromMs, toMs], about `count` of them. */
export function timeTicks(fromMs: number, toMs: number, count = 6): number[] {
  if (!(toMs > fromMs)) return [fromMs];
  const wanted = (toMs - fromMs) / count;
  const step = TIME_STEPS_MS.find((s) => s >= wanted) ?? TIME_STEPS_MS[TIME_STEPS_MS.length - 1]!;
  const ticks: number[] = [];
  for (let t = Math.ceil(fromMs / step) * step; t <= toMs && ticks.length < count * 3; t += step)
    ticks.push(t);
  return ticks;
}

/** An SVG path through the points, breaking the line where a value is missing. */
export function linePath(
  points: readonly { readonly x: number; readonly y: number | null }[],
): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p.y === null) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`;
    pen = true;
  }
  return d;
}

/**
 * Splits a series where samples stop for longer than three times its usual
 * interval, so a node that went silent shows a gap, not a straight line
 * across the outage.
 */
export function withGaps(
  points: readonly { readonly t: number; readonly v: number }[],
): { t: number; v: number | null }[] {
  if (points.length < 3) return [...points];
  const gaps = points
    .slice(1)
    .map((p, i) => p.t - points[i]!.t)
    .sort((a, b) => a - b);
  const usual = gaps[Math.floor(gaps.length / 2)]!;
  const out: { t: number; v: number | null }[] = [];
  points.forEach((p, i) => {
    const previous = points[i - 1];
    if (previous !== undefined && p.t - previous.t > usual * 3)
      out.push({ t: (p.t + previous.t) / 2, v: null });
    out.push(p);
  });
  return out;
}
