import { describe, expect, it } from 'vitest';
import { parseControllerArgs } from './controller.ts';

const env = { POD_NAME: 'nw-controller-0', POD_NAMESPACE: 'nodewarden' };

describe('controller --stability-* flags', () => {
  it('a schedule with its selector and test settings; the Job goes to the controller namespace', () => {
    const { options } = parseControllerArgs(
      [
        '--lease-namespace',
        'nodewarden',
        '--stability-schedule',
        '30 3 * * 1-5',
        '--stability-selector',
        'node-role=mig,!nodewarden.io/no-stability-test',
        '--stability-profile',
        'steps',
        '--stability-to',
        '50%',
        '--stability-duration',
        '5m',
      ],
      env,
    );
    const s = options.stabilitySchedule;
    expect(s?.schedule.text).toBe('30 3 * * 1-5');
    expect(s?.selector).toEqual([
      { op: 'equals', key: 'node-role', value: 'mig' },
      { op: 'absent', key: 'nodewarden.io/no-stability-test' },
    ]);
    expect(s?.settings).toMatchObject({
      profile: 'steps',
      toPercent: 50,
      durationMs: 300_000,
      baselineMs: 30_000,
      namespace: 'nodewarden',
      rateHz: 5,
    });
    const own = parseControllerArgs(
      ['--stability-schedule', '@daily', '--stability-namespace', 'gpu-tests'],
      env,
    );
    expect(own.options.stabilitySchedule?.settings.namespace).toBe('gpu-tests');
    expect(own.options.stabilitySchedule?.selector).toBe(null);
    const p99 = parseControllerArgs(
      ['--stability-schedule', '@daily', '--stability-max-p99', 'L4=1000, L7=2000'],
      env,
    );
    expect(p99.options.stabilitySchedule?.settings.maxP99Ms).toEqual({ L4: 1000, L7: 2000 });
    expect(parseControllerArgs([], env).options.stabilitySchedule).toBeUndefined();
  });

  it('refuses what cannot work, naming the flag', () => {
    const bad = (argv: string[]) => () => parseControllerArgs(argv, env);
    expect(bad(['--stability-schedule', '0 3 * *'])).toThrow('has 4 fields, not 5');
    expect(bad(['--stability-schedule', '0 25 * * *'])).toThrow('hour "25" is not');
    expect(bad(['--stability-schedule', '@daily', '--stability-selector', 'a in (b)'])).toThrow(
      'is not a label requirement',
    );
    expect(bad(['--stability-schedule', '@daily', '--stability-profile', 'wave'])).toThrow(
      '--stability-profile "wave" is not one of ramp, steps, spike',
    );
    expect(bad(['--stability-schedule', '@daily', '--stability-to', '120%'])).toThrow(
      '--stability-to "120%" is not a percentage',
    );
    expect(bad(['--stability-schedule', '@daily', '--stability-duration', '10 min'])).toThrow(
      '--stability-duration "10 min" is not a duration',
    );
    expect(bad(['--stability-schedule', '@daily', '--stability-max-p99', 'L5=3'])).toThrow(
      '--stability-max-p99 "L5=3" is not <layer>=<ms>',
    );
    expect(bad(['--stability-profile', 'spike'])).toThrow(
      '--stability-profile is for scheduled stability tests',
    );
  });
});
