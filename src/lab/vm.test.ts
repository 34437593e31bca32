import { describe, expect, it } from 'vitest';
import {
  booted,
  initialVm,
  MAX_ACTIONS,
  poweredOff,
  rebootRefusal,
  startPowerOn,
  startReboot,
  vmStatus,
  withAction,
} from './vm.ts';

const t0 = '2026-12-04T12:00:00.000Z';
const t1 = '2026-12-04T12:01:00.000Z';

describe('lab VM record', () => {
  it('starts running, with the create action of lab up', () => {
    const vm = initialVm(t0);
    expect(vmStatus(vm)).toEqual({
      status: 'ACTIVE',
      powerState: 'RUNNING',
      vmState: 'active',
      taskState: null,
    });
    expect(vm.actions.map((a) => [a.action, a.userId, a.startTime])).toEqual([
      ['create', 'lab', t0],
    ]);
  });

  it("power-off is SHUTOFF with a stop by Nova's power sync (no user)", () => {
    const vm = poweredOff(initialVm(t0), t1);
    expect(vmStatus(vm)).toMatchObject({ status: 'SHUTOFF', powerState: 'SHUTDOWN' });
    expect(vm.actions.at(-1)).toMatchObject({ action: 'stop', userId: null, startTime: t1 });
  });

  it('a panicked guest still reads ACTIVE/RUNNING', () => {
    expect(vmStatus({ ...initialVm(t0), panicked: true })).toMatchObject({
      status: 'ACTIVE',
      powerState: 'RUNNING',
    });
  });

  it('refuses a soft reboot of a stopped or busy server, never a first hard one', () => {
    const running = initialVm(t0);
    const off = poweredOff(running, t1);
    const soft = startReboot(running, 'SOFT', 'nodewarden', t1, 3_000);
    expect(rebootRefusal(running, 'SOFT')).toBeNull();
    expect(rebootRefusal(off, 'SOFT')).toMatch(/vm_state stopped/);
    expect(rebootRefusal(off, 'HARD')).toBeNull();
    expect(rebootRefusal(soft, 'SOFT')).toMatch(/task_state rebooting/);
    expect(rebootRefusal(soft, 'HARD')).toBeNull();
    const hard = startReboot(soft, 'HARD', 'nodewarden', t1, 3_000);
    expect(rebootRefusal(hard, 'HARD')).toMatch(/task_state rebooting_hard/);
  });

  it('a reboot records who asked, shows the task and when the node boots', () => {
    const vm = startReboot(initialVm(t0), 'HARD', 'controller/a', t1, 4_000);
    expect(vmStatus(vm)).toEqual({
      status: 'HARD_REBOOT',
      powerState: 'RUNNING',
      vmState: 'active',
      taskState: 'rebooting_hard',
    });
    expect(vm.bootAt).toBe('2026-12-04T12:01:04.000Z');
    expect(vm.actions.at(-1)).toMatchObject({ action: 'reboot', userId: 'controller/a' });
  });

  it('booting clears task and panic; only a hard boot starts a new console', () => {
    const panicked = { ...initialVm(t0), panicked: true, consoleOffset: 10 };
    const soft = booted(startReboot(panicked, 'SOFT', 'x', t1, 0), t1, 500, false);
    expect(soft).toMatchObject({ task: null, bootAt: null, panicked: false, consoleOffset: 10 });
    expect(soft.bootedAt).toBe(t1);
    const hard = booted(startReboot(panicked, 'HARD', 'x', t1, 0), t1, 500, true);
    expect(hard.consoleOffset).toBe(500);
    expect(vmStatus(hard).status).toBe('ACTIVE');
  });

  it('keeps the newest actions only, with distinct request ids', () => {
    let vm = initialVm(t0);
    for (let i = 0; i < MAX_ACTIONS + 5; i++) vm = withAction(vm, 'reboot', 'u', t1);
    expect(vm.actions).toHaveLength(MAX_ACTIONS);
    expect(vm.actions[0]?.action).toBe('reboot');
    expect(new Set(vm.actions.map((a) => a.requestId)).size).toBeGreaterThan(1);
  });
});

describe('lab VM record: a start through Nova (lab up --openstack)', () => {
  it('stays SHUTOFF with task powering-on until it boots, and takes no reboot meanwhile', () => {
    const off = poweredOff(initialVm(t0), t1, 'u-admin', 'req-stop');
    expect(off.actions.at(-1)).toMatchObject({
      action: 'stop',
      userId: 'u-admin',
      requestId: 'req-stop',
    });
    const starting = startPowerOn(off, 'u-member', t1, 3_000, 'req-start');
    expect(vmStatus(starting)).toEqual({
      status: 'SHUTOFF',
      powerState: 'SHUTDOWN',
      vmState: 'stopped',
      taskState: 'powering-on',
    });
    expect(starting.bootAt).toBe('2026-12-04T12:01:03.000Z');
    expect(starting.actions.at(-1)).toMatchObject({ action: 'start', requestId: 'req-start' });
    expect(rebootRefusal(starting, 'HARD')).toMatch(/task_state powering-on/);
    expect(rebootRefusal(starting, 'SOFT')).toMatch(/task_state powering-on/);
  });
});
