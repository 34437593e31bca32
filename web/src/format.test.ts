import { describe, expect, it } from 'vitest';
import { clock, dateTime, duration, percent, shortNode } from './format.ts';

describe('format', () => {
  it('writes durations the way the report does', () => {
    expect(duration(6.84)).toBe('6.8 s');
    expect(duration(42)).toBe('42 s');
    expect(duration(245)).toBe('4 min 5 s');
    expect(duration(240)).toBe('4 min');
    expect(duration(3 * 3600 + 24 * 60)).toBe('3 h 24 min');
    expect(duration(null)).toBe('—');
    expect(duration(-1)).toBe('0.0 s');
  });

  it('shows times in the cluster zone (KST for the seed), not the browser’s', () => {
    expect(clock('2025-08-25T03:58:09Z', 'Asia/Seoul')).toBe('12:58:09');
    expect(dateTime('2025-08-25T03:58:09Z', 'Asia/Seoul')).toBe('2025-08-25 12:58:09 KST');
    expect(clock('not a time', 'UTC')).toBe('—');
  });

  it('percentages and short node names', () => {
    expect(percent(45.5)).toBe('45.5%');
    expect(percent(601.3)).toBe('601%');
    expect(percent(0)).toBe('0%');
    expect(shortNode('tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq')).toBe('bkqzq');
    expect(shortNode('controller')).toBe('controller');
  });
});
