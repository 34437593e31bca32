import { describe, expect, it } from 'vitest';
import { parseQuantity } from './quantity.ts';

describe('parseQuantity', () => {
  it.each([
    ['500m', 0.5],
    ['16', 16],
    ['1500m', 1.5],
    ['64Gi', 64 * 2 ** 30],
    ['700Mi', 700 * 2 ** 20],
    ['1.5G', 1.5e9],
    ['2e3', 2000],
    ['100k', 1e5],
    ['0', 0],
  ])('%s → %d', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value, 9);
  });

  it.each(['', 'abc', '5 Gi', '1Q', 'Gi'])('rejects %j with the input named', (text) => {
    expect(() => parseQuantity(text)).toThrow(`"${text}" is not a Kubernetes quantity`);
  });
});
