import { describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';

describe('until', () => {
  it('returns the first value that is neither null nor false, polling at the interval', async () => {
    let calls = 0;
    const value = await until('the third call', 1_000, () => (++calls === 3 ? 'ready' : null), 5);
    expect(value).toBe('ready');
    expect(calls).toBe(3);
  });

  it('takes a boolean check, sync or async: false means not yet, true is returned', async () => {
    let calls = 0;
    await expect(until('two calls', 1_000, () => Promise.resolve(++calls >= 2), 5)).resolves.toBe(
      true,
    );
    expect(calls).toBe(2);
  });

  it('keeps falsy values other than null and false (0, empty string)', async () => {
    await expect(until('a zero', 100, () => 0)).resolves.toBe(0);
    await expect(until('an empty string', 100, () => '')).resolves.toBe('');
  });

  it('throws after the timeout, naming what it waited for', async () => {
    const started = Date.now();
    await expect(until('the moon', 50, () => null, 10)).rejects.toThrow(
      'timed out after 0.05 s waiting for the moon',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
  });

  it('stops at once when the check throws', async () => {
    let calls = 0;
    const check = (): null => {
      calls += 1;
      throw new Error('the process exited');
    };
    await expect(until('a dead process', 1_000, check, 5)).rejects.toThrow('the process exited');
    expect(calls).toBe(1);
  });
});
