import { describe, expect, it } from 'vitest';
import { linear, linePath, niceStep, timeTicks, valueTicks, withGaps } from './scale.ts';

describe('chart scales', () => {
  it('maps linearly, and a zero-width domain to the middle', () => {
    const x = linear(0, 10, 100, 200);
    expect([x(0), x(5), x(10)]).toEqual([100, 150, 200]);
    expect(linear(3, 3, 0, 10)(3)).toBe(5);
  });

  it('chooses 1-2-5 steps and ticks that cover the range', () => {
    expect(niceStep(100, 5)).toBe(20);
    expect(niceStep(601.3, 5)).toBe(200);
    expect(valueTicks(0, 45.5, 4)).toEqual([0, 20, 40, 60]);
    expect(valueTicks(0, 601.3, 5)).toEqual([0, 200, 400, 600, 800]);
  });

  it('puts time ticks on round instants inside the window', () => {
    const from = Date.parse('2025-08-25T03:53:07Z');
    const to = Date.parse('2025-08-25T04:02:00Z');
    const ticks = timeTicks(from, to, 6);
    expect(ticks.every((t) => t >= from && t <= to && t % 60_000 === 0)).toBe(true);
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    expect(timeTicks(5, 5)).toEqual([5]);
  });

  it('breaks a line where a value is missing', () => {
    expect(
      linePath([
        { x: 0, y: 1 },
        { x: 1, y: null },
        { x: 2, y: 3 },
        { x: 3, y: 4 },
      ]),
    ).toBe('M0.0,1.0M2.0,3.0L3.0,4.0');
  });

  it('marks a gap where samples stop for longer than three usual intervals', () => {
    const points = [0, 15, 30, 45, 60, 300, 315].map((s) => ({ t: s * 1000, v: 1 }));
    const out = withGaps(points);
    expect(out.filter((p) => p.v === null)).toEqual([{ t: 180_000, v: null }]);
    expect(withGaps(points.slice(0, 5)).some((p) => p.v === null)).toBe(false);
  });
});
