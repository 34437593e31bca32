import { describe, expect, it } from 'vitest';
import { NodeWardenError } from '../core/errors.ts';
import { memoryPercentAt, parseDuration, parseGpuControl } from './gpu-control.ts';

describe('GPU control file', () => {
  it('a ramp is linear between its absolute start and end, flat outside', () => {
    const ramp = { from: 0, to: 45.5, startMs: 1_000, overMs: 60_000 };
    expect(memoryPercentAt(ramp, 0)).toBe(0);
    expect(memoryPercentAt(ramp, 31_000)).toBeCloseTo(22.75, 6);
    expect(memoryPercentAt(ramp, 61_000)).toBe(45.5);
    expect(memoryPercentAt(ramp, 10_000_000)).toBe(45.5);
    expect(memoryPercentAt({ from: 10, to: 10, startMs: 5, overMs: 0 }, 0)).toBe(10);
  });

  it('parses what lab gpu writes', () => {
    const control = parseGpuControl(
      JSON.stringify({
        version: 1,
        devices: {
          '0/7': { memory: { from: 0, to: 45.5, startMs: 1, overMs: 60_000 }, xid: 79 },
          '1': { memory: { from: 3, to: 3, startMs: 2, overMs: 0 } },
        },
        hang: true,
      }),
      '/lab/gpu/bkqzq.json',
    );
    expect(control.devices['0/7']).toEqual({
      memory: { from: 0, to: 45.5, startMs: 1, overMs: 60_000 },
      xid: 79,
    });
    expect(control.devices['1']?.xid).toBe(0);
    expect(control.hang).toBe(true);
  });

  it.each([
    ['not JSON', '{', /not valid JSON|JSON/],
    ['another version', '{"version":2,"devices":{}}', /version 2 is not 1/],
    ['a bad key', '{"version":1,"devices":{"gpu0":{"memory":{}}}}', /device key "gpu0"/],
    [
      'a percentage over 100',
      '{"version":1,"devices":{"0":{"memory":{"from":0,"to":140,"startMs":0,"overMs":1}}}}',
      /to must be a percentage/,
    ],
    [
      'a string start',
      '{"version":1,"devices":{"0":{"memory":{"from":0,"to":1,"startMs":"now","overMs":1}}}}',
      /startMs is not a number/,
    ],
    [
      'a negative duration',
      '{"version":1,"devices":{"0":{"memory":{"from":0,"to":1,"startMs":0,"overMs":-1}}}}',
      /overMs is negative/,
    ],
    [
      'a fractional Xid',
      '{"version":1,"devices":{"0":{"memory":{"from":0,"to":1,"startMs":0,"overMs":1},"xid":7.5}}}',
      /xid is not an Xid/,
    ],
  ])('refuses %s, naming the file', (_what, text, pattern) => {
    let caught: unknown;
    try {
      parseGpuControl(text, '/lab/gpu/bkqzq.json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(NodeWardenError);
    expect((caught as NodeWardenError).code).toBe('CONFLICT');
    expect((caught as Error).message).toContain('/lab/gpu/bkqzq.json');
    expect((caught as Error).message).toMatch(pattern);
  });

  it('reads durations as a person writes them', () => {
    expect(parseDuration('60s', '--over')).toBe(60_000);
    expect(parseDuration('2m', '--over')).toBe(120_000);
    expect(parseDuration('1500ms', '--over')).toBe(1_500);
    expect(parseDuration('1.5', '--over')).toBe(1_500);
    expect(() => parseDuration('soon', '--over')).toThrow(/--over soon is not a duration/);
    expect(() => parseDuration('-3s', '--over')).toThrow(/not a duration/);
  });
});
