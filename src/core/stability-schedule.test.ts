import { describe, expect, it } from 'vitest';
import {
  decideStabilityRun,
  matchesNodeSelector,
  nextCronTime,
  parseCron,
  parseNodeSelector,
  type ScheduleState,
} from './stability-schedule.ts';

const at = (iso: string) => Date.parse(iso);
const next = (expr: string, iso: string) => {
  const t = nextCronTime(parseCron(expr), at(iso));
  return t === null ? null : new Date(t).toISOString();
};

describe('parseCron / nextCronTime (UTC)', () => {
  it('finds the next minute each expression names', () => {
    expect(next('0 3 * * *', '2025-08-25T03:00:00Z')).toBe('2025-08-26T03:00:00.000Z');
    expect(next('0 3 * * *', '2025-08-25T02:59:30Z')).toBe('2025-08-25T03:00:00.000Z');
    expect(next('*/15 * * * *', '2025-08-25T03:07:00Z')).toBe('2025-08-25T03:15:00.000Z');
    // 2025-08-25 is a Monday: weekdays 1-5 at 22:30 → the same day.
    expect(next('30 22 * * 1-5', '2025-08-25T12:00:00Z')).toBe('2025-08-25T22:30:00.000Z');
    expect(next('30 22 * * 1-5', '2025-08-29T23:00:00Z')).toBe('2025-09-01T22:30:00.000Z');
    expect(next('@monthly', '2025-08-25T00:00:00Z')).toBe('2025-09-01T00:00:00.000Z');
    expect(next('0 0 29 2 *', '2025-03-01T00:00:00Z')).toBe(null);
    expect(next('0 0 29 2 *', '2027-03-01T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z');
    // Both day fields restricted: either matches (the 1st, or any Sunday; 7 is Sunday too).
    expect(next('0 0 1 * 7', '2025-08-25T00:00:00Z')).toBe('2025-08-31T00:00:00.000Z');
  });

  it('names the field that is wrong', () => {
    expect(() => parseCron('0 3 * *')).toThrow('has 4 fields, not 5');
    expect(() => parseCron('60 3 * * *')).toThrow('minute "60" is not');
    expect(() => parseCron('0 3 * * mon')).toThrow('day of week "mon"');
    expect(() => parseCron('0 5-3 * * *')).toThrow('hour "5-3"');
  });
});

describe('decideStabilityRun', () => {
  const daily = parseCron('0 3 * * *');
  const base: ScheduleState = {
    now: at('2025-08-25T03:00:20Z'),
    lastSlotMs: at('2025-08-24T03:00:00Z'),
    candidates: ['gpu-a', 'gpu-b', 'gpu-c'],
    ready: new Set(['gpu-a', 'gpu-b', 'gpu-c']),
    openIncidents: 0,
    running: null,
    lastTested: { 'gpu-a': at('2025-08-24T03:00:00Z'), 'gpu-c': at('2025-08-23T03:00:00Z') },
  };

  it('runs the never-tested node first, then the one tested longest ago', () => {
    expect(decideStabilityRun(daily, base)).toMatchObject({
      run: 'gpu-b',
      slotMs: at('2025-08-25T03:00:00Z'),
    });
    expect(
      decideStabilityRun(daily, {
        ...base,
        lastTested: { ...base.lastTested, 'gpu-b': at('2025-08-24T04:00:00Z') },
      }),
    ).toMatchObject({ run: 'gpu-c' });
  });

  it('waits when no slot is due', () => {
    const d = decideStabilityRun(daily, { ...base, lastSlotMs: at('2025-08-25T03:00:00Z') });
    expect(d).toEqual({
      run: null,
      reason: 'no slot due',
      nextCheckMs: at('2025-08-26T03:00:00Z'),
    });
  });

  it('never runs two at once, and never while an incident is open; the slot stays due', () => {
    expect(decideStabilityRun(daily, { ...base, running: 'gpu-a' })).toMatchObject({
      run: null,
      reason: 'a test is running on gpu-a',
    });
    const open = decideStabilityRun(daily, { ...base, openIncidents: 1 });
    expect(open).toMatchObject({
      run: null,
      reason: '1 incident(s) open: no stability test until they close',
    });
    expect(open.run === null && open.skippedSlotMs).toBeFalsy();
    // The incident closes an hour later: the same slot runs then.
    expect(decideStabilityRun(daily, { ...base, now: at('2025-08-25T04:00:00Z') })).toMatchObject({
      run: 'gpu-b',
    });
  });

  it('skips nodes that are not Ready, and the slot when none is', () => {
    expect(decideStabilityRun(daily, { ...base, ready: new Set(['gpu-a']) })).toMatchObject({
      run: 'gpu-a',
    });
    const none = decideStabilityRun(daily, { ...base, ready: new Set() });
    expect(none).toMatchObject({
      run: null,
      skippedSlotMs: at('2025-08-25T03:00:00Z'),
      nextCheckMs: at('2025-08-26T03:00:00Z'),
    });
    expect(none.reason).toContain('none of gpu-a, gpu-b, gpu-c is Ready');
  });

  it('before the first slot ever handled, a slot that just passed is due', () => {
    expect(decideStabilityRun(daily, { ...base, lastSlotMs: null })).toMatchObject({
      run: 'gpu-b',
    });
    expect(
      decideStabilityRun(daily, { ...base, lastSlotMs: null, now: at('2025-08-25T03:05:00Z') }),
    ).toMatchObject({ run: null, reason: 'no slot due' });
  });
});

describe('parseNodeSelector / matchesNodeSelector', () => {
  it('every requirement must hold; != holds for an absent key, as in Kubernetes', () => {
    const s = parseNodeSelector('node-role=mig, nvidia.com/gpu.product ,!skip,zone!=b');
    expect(s).toEqual([
      { op: 'equals', key: 'node-role', value: 'mig' },
      { op: 'exists', key: 'nvidia.com/gpu.product' },
      { op: 'absent', key: 'skip' },
      { op: 'differs', key: 'zone', value: 'b' },
    ]);
    const gpu = { 'node-role': 'mig', 'nvidia.com/gpu.product': 'A100' };
    expect(matchesNodeSelector(gpu, s)).toBe(true);
    expect(matchesNodeSelector({ ...gpu, zone: 'a' }, s)).toBe(true);
    expect(matchesNodeSelector({ ...gpu, zone: 'b' }, s)).toBe(false);
    expect(matchesNodeSelector({ ...gpu, skip: '' }, s)).toBe(false);
    expect(matchesNodeSelector({ 'node-role': 'mig' }, s)).toBe(false);
    expect(parseNodeSelector('pool==gpu')).toEqual([{ op: 'equals', key: 'pool', value: 'gpu' }]);
  });

  it('names the part that is wrong', () => {
    expect(() => parseNodeSelector(' , ')).toThrow('node selector " , " is empty');
    expect(() => parseNodeSelector('pool in (a,b)')).toThrow(
      '"pool in (a" is not a label requirement',
    );
    expect(() => parseNodeSelector('!pool=gpu')).toThrow('"!pool=gpu" is not a label requirement');
    expect(() => parseNodeSelector('pool=a b')).toThrow('"pool=a b" is not a label requirement');
  });
});
