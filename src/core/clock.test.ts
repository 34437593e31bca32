import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from './clock.ts';
import { NodeWardenError } from './errors.ts';

describe('ManualClock', () => {
  it('starts at an ISO instant and fires due timers in due order, then scheduling order', () => {
    const clock = new ManualClock('2025-08-25T03:57:00Z');
    const start = Date.parse('2025-08-25T03:57:00Z');
    expect(clock.now()).toBe(start);
    const fired: [string, number][] = [];
    clock.setTimer(300, () => fired.push(['c', clock.now() - start]));
    clock.setTimer(100, () => fired.push(['a', clock.now() - start]));
    clock.setTimer(100, () => fired.push(['b', clock.now() - start]));
    clock.setTimer(1000, () => fired.push(['late', clock.now() - start]));
    expect(clock.advance(500)).toBe(3);
    expect(fired).toEqual([
      ['a', 100],
      ['b', 100],
      ['c', 300],
    ]);
    expect(clock.now()).toBe(start + 500);
    expect(clock.pendingTimers()).toBe(1);
  });

  it('fires timers that firing timers schedule, within the same advance', () => {
    const clock = new ManualClock(0);
    const at: number[] = [];
    const tick = (): void => {
      at.push(clock.now());
      clock.setTimer(250, tick);
    };
    clock.setTimer(250, tick);
    clock.advance(1000);
    expect(at).toEqual([250, 500, 750, 1000]);
  });

  it('never fires a cancelled timer', () => {
    const clock = new ManualClock(0);
    let fired = false;
    const timer = clock.setTimer(10, () => {
      fired = true;
    });
    timer.cancel();
    timer.cancel();
    clock.advance(100);
    expect(fired).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('resolves sleep when advanced, and rejects it with the signal reason on abort', async () => {
    const clock = new ManualClock(0);
    let woke = 0;
    const sleeping = clock.sleep(1000).then(() => {
      woke = clock.now();
    });
    await clock.advanceAsync(999);
    expect(woke).toBe(0);
    await clock.advanceAsync(1);
    await sleeping;
    expect(woke).toBe(1000);

    const abort = new AbortController();
    const aborted = clock.sleep(1000, abort.signal);
    abort.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('lets promise chains started by a timer settle before the next timer (advanceAsync)', async () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    const loop = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(100);
        await Promise.resolve();
        seen.push(clock.now());
      }
    };
    const done = loop();
    await clock.advanceAsync(1000);
    await done;
    expect(seen).toEqual([100, 200, 300]);
  });

  it('refuses to go backwards or by a non-finite step, and stops a runaway zero-delay loop', () => {
    const clock = new ManualClock(1000);
    expect(() => clock.advanceTo(999)).toThrow(NodeWardenError);
    expect(() => clock.advance(-1)).toThrow(/cannot advance a ManualClock by -1 ms/);
    expect(() => clock.advance(Number.NaN)).toThrow(NodeWardenError);
    expect(() => new ManualClock('yesterday')).toThrow(/not a time/);
    const spin = (): void => {
      clock.setTimer(0, spin);
    };
    clock.setTimer(0, spin);
    try {
      clock.advance(1);
      expect.unreachable('a runaway loop must be stopped');
    } catch (error) {
      expect((error as NodeWardenError).code).toBe('INTERNAL');
      expect((error as NodeWardenError).hint).toMatch(/re-arms itself/);
    }
  });
});

describe('systemClock', () => {
  it('reads wall time and sleeps on real timers', async () => {
    const before = Date.now();
    await systemClock.sleep(5);
    expect(systemClock.now()).toBeGreaterThanOrEqual(before + 4);
  });
});
