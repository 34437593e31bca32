import { describe, expect, it } from 'vitest';
import { NodeWardenError } from '../core/errors.ts';
import { instant, jsonText, MAX_TEXT, text } from './validate.ts';

function code(body: () => unknown): string {
  try {
    body();
    return 'ok';
  } catch (error) {
    if (error instanceof NodeWardenError) return error.code;
    throw error;
  }
}

describe('instants', () => {
  it('canonicalises any zone to UTC milliseconds', () => {
    expect(instant('2025-08-25T12:58:00+09:00', 'at')).toBe('2025-08-25T03:58:00.000Z');
    expect(instant('2025-08-25T03:58:00.1239Z', 'at')).toBe('2025-08-25T03:58:00.123Z');
    expect(instant('2024-02-29T00:00:00Z', 'at')).toBe('2024-02-29T00:00:00.000Z');
  });

  it('refuses impossible dates and times instead of rolling them over', () => {
    for (const bad of [
      '2025-02-29T00:00:00Z',
      '2025-02-30T00:00:00Z',
      '2025-13-01T00:00:00Z',
      '2025-08-25T24:00:00Z',
      '2025-08-25T23:60:00Z',
      '2025-08-25T23:59:60Z',
      '2025-08-25T03:58:00',
      '2025-08-25 03:58:00Z',
      '2025-08-25T03:58:00+24:00',
      '9999-12-31T23:00:00-05:00',
      1756094280000,
      null,
    ]) {
      expect([bad, code(() => instant(bad, 'at'))]).toEqual([bad, 'BAD_INPUT']);
    }
  });
});

describe('text and JSON', () => {
  it('keeps what both databases store byte for byte and refuses the rest', () => {
    expect(text('한국어 ✓ 😀', 'summary', 100)).toBe('한국어 ✓ 😀');
    expect(code(() => text('a\u0000b', 'summary', 100))).toBe('BAD_INPUT');
    expect(code(() => text('\udc00', 'summary', 100))).toBe('BAD_INPUT');
    expect(code(() => text('', 'summary', 100))).toBe('BAD_INPUT');
    expect(text('', 'summary', 100, true)).toBe('');
    expect(code(() => text('x'.repeat(MAX_TEXT + 1), 'summary', MAX_TEXT))).toBe('BAD_INPUT');
  });

  it('accepts plain JSON and refuses what JSON would silently change', () => {
    expect(jsonText({ a: [1, 'x', null, true, { b: 2.5 }] }, 'data')).toBe(
      '{"a":[1,"x",null,true,{"b":2.5}]}',
    );
    expect(jsonText(Object.assign(Object.create(null) as object, { k: 1 }), 'data')).toBe(
      '{"k":1}',
    );
    let deep: unknown = 1;
    for (let i = 0; i < 70; i += 1) deep = [deep];
    for (const bad of [
      [undefined],
      { f: () => 1 },
      new Map(),
      Number.NaN,
      deep,
      { 'k\u0000': 1 },
    ]) {
      expect(code(() => jsonText(bad, 'data'))).toBe('BAD_INPUT');
    }
  });
});
