import { describe, expect, it } from 'vitest';
import { code, plain, table, block } from './md.ts';
import { formatDuration, formatMs, formatPct, formatSpan, zoneClock } from './zone.ts';

describe('zoneClock', () => {
  it('writes the seed’s times in KST', () => {
    const kst = zoneClock('Asia/Seoul');
    expect(kst.dateTime('2025-08-25T03:58:00Z')).toBe('2025-08-25 12:58 KST');
    expect(kst.clock('2025-08-25T10:46:00Z')).toBe('19:46 KST');
    expect(kst.time('2025-08-25T03:57:30Z')).toBe('12:57:30');
    expect(kst.clockSeconds('2025-08-25T04:02:00.402Z')).toBe('13:02:00 KST');
    // Crossing midnight changes the date in the zone, not in UTC.
    expect(kst.date('2025-08-25T15:30:00Z')).toBe('2025-08-26');
  });

  it('labels zones by Intl’s abbreviation, else by offset; daylight time follows the date', () => {
    const ny = zoneClock('America/New_York');
    expect(ny.clock('2025-08-25T03:58:00Z')).toBe('23:58 EDT');
    expect(ny.clock('2025-01-25T03:58:00Z')).toBe('22:58 EST');
    expect(zoneClock('Asia/Kolkata').clock('2025-08-25T03:58:00Z')).toBe('09:28 IST');
    expect(zoneClock('Europe/Berlin').clock('2025-08-25T03:58:00Z')).toBe('05:58 UTC+2');
    expect(zoneClock('UTC').dateTime('2025-08-25T03:58:00Z')).toBe('2025-08-25 03:58 UTC');
  });

  it('refuses an unknown zone and a time that is not one', () => {
    expect(() => zoneClock('Asia/Nowhere')).toThrow(/time zone "Asia\/Nowhere"/);
    expect(() => zoneClock('UTC').clock('noon')).toThrow(/"noon" is not an ISO-8601 time/);
  });
});

describe('numbers in words', () => {
  it('durations as the seed counts them', () => {
    expect(formatDuration(240, 'en')).toBe('4 min');
    expect(formatDuration(6 * 3600 + 48 * 60, 'en')).toBe('6 h 48 min');
    expect(formatDuration(6 * 3600 + 48 * 60, 'ko')).toBe('6시간 48분');
    expect(formatDuration(3 * 3600 + 24 * 60, 'ko')).toBe('3시간 24분');
    expect(formatDuration(391, 'en')).toBe('6 min 31 s');
    expect(formatDuration(0, 'ko')).toBe('0초');
    expect(formatDuration(2 * 86_400 + 3 * 3600 + 59, 'en')).toBe('2 d 3 h');
  });

  it('spans: tenths below a minute, words above', () => {
    expect(formatMs(351, 'en')).toBe('0.4 s');
    expect(formatMs(3062, 'ko')).toBe('3.1초');
    expect(formatMs(12_400, 'en')).toBe('12 s');
    expect(formatSpan(5000, 'en')).toBe('5.0 s');
    expect(formatSpan(-877, 'ko')).toBe('0.9초');
    expect(formatSpan(391_250, 'en')).toBe('6 min 31 s');
  });

  it('percentages: one decimal, none when whole', () => {
    expect(formatPct(14)).toBe('14%');
    expect(formatPct(88.9)).toBe('88.9%');
    expect(formatPct(601.34)).toBe('601.3%');
    expect(formatPct(45.49)).toBe('45.5%');
    expect(formatPct(99.96)).toBe('100%');
  });
});

describe('markdown pieces', () => {
  it('code spans survive backticks; plain text escapes markers; tables escape pipes', () => {
    expect(code('ping 10.62.0.30')).toBe('`ping 10.62.0.30`');
    expect(code('a`b')).toBe('``a`b``');
    expect(code('`x`')).toBe('`` `x` ``');
    expect(plain('*x* _y_ [z](u) | #')).toBe('\\*x\\* \\_y\\_ \\[z\\](u) \\| \\#');
    expect(table(['a'], [['x|y']])).toBe('| a |\n| --- |\n| x\\|y |');
    expect(block(['```', 'x'])).toBe('````text\n```\nx\n````');
  });
});
