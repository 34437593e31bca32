import { describe, expect, it } from 'vitest';
import type { InstanceAction } from '../core/cloud.ts';
import { planHypervisor, unseenActions } from './hypervisor-plan.ts';
import { initialVm, MAX_ACTIONS, poweredOff, withAction, type LabVm } from './vm.ts';

const t0 = '2026-12-04T12:00:00.000Z';
const t1 = '2026-12-04T12:01:00.000Z';
const t2 = '2026-12-04T12:02:00.000Z';
const now = '2026-12-04T12:03:00.000Z';
const DELAY = 5_000;
const ACTIVE = { status: 'ACTIVE', taskState: null };
const SHUTOFF = { status: 'SHUTOFF', taskState: null };

function nova(action: string, startTime: string, requestId: string): InstanceAction {
  return { action, requestId, userId: 'u-member', startTime, message: null, initiatedBy: 'user' };
}

/** A VM that has seen Nova's create (as `lab up --openstack` records it). */
const created: LabVm = withAction(initialVm(t0), 'create', 'u-member', t0, null, 'req-create');
const CREATE = nova('create', t0, 'req-create');

describe('the lab hypervisor plan', () => {
  it('does nothing when Nova and the lab agree', () => {
    expect(planHypervisor({ vm: created, server: ACTIVE, actions: [CREATE], now }, DELAY)).toEqual(
      [],
    );
  });

  it('applies a reboot requested through Nova: the node restarts, booting after the delay', () => {
    const reboot = nova('reboot', t1, 'req-reboot');
    const steps = planHypervisor(
      { vm: created, server: ACTIVE, actions: [reboot, CREATE], now },
      DELAY,
    );
    expect(steps).toEqual([{ kind: 'apply', action: reboot, effect: 'reboot' }]);
  });

  it('boots a restart once its time has come, and not before', () => {
    const booting: LabVm = { ...created, task: 'rebooting', bootAt: t2 };
    expect(planHypervisor({ vm: booting, server: ACTIVE, actions: [CREATE], now }, DELAY)).toEqual([
      { kind: 'boot' },
    ]);
    const early = { ...booting, bootAt: '2026-12-04T12:04:00.000Z' };
    expect(planHypervisor({ vm: early, server: ACTIVE, actions: [CREATE], now }, DELAY)).toEqual(
      [],
    );
  });

  it('stop powers the node off, start boots it; a stop of a node already off is only recorded', () => {
    const stop = nova('stop', t1, 'req-stop');
    const start = nova('start', t2, 'req-start');
    expect(
      planHypervisor({ vm: created, server: ACTIVE, actions: [start, stop, CREATE], now }, DELAY),
    ).toEqual([
      { kind: 'apply', action: stop, effect: 'power-off' },
      { kind: 'apply', action: start, effect: 'power-on' },
    ]);
    const off = poweredOff(created, t1);
    expect(
      planHypervisor({ vm: off, server: SHUTOFF, actions: [stop, CREATE], now }, DELAY),
    ).toEqual([{ kind: 'apply', action: stop, effect: 'record' }]);
  });

  it('records actions that do not touch power (interface detach and attach)', () => {
    const detach = nova('detach_interface', t1, 'req-d');
    expect(
      planHypervisor({ vm: created, server: ACTIVE, actions: [detach, CREATE], now }, DELAY),
    ).toEqual([{ kind: 'apply', action: detach, effect: 'record' }]);
  });

  it('never applies an action twice: the record holds its request id', () => {
    const reboot = nova('reboot', t1, 'req-reboot');
    const seen = withAction(created, 'reboot', 'u-member', t1, null, 'req-reboot');
    expect(unseenActions(seen, [reboot, CREATE])).toEqual([]);
  });

  it('ignores actions older than a full record (history that fell off it)', () => {
    let vm = created;
    for (let i = 0; i < MAX_ACTIONS; i++) {
      vm = withAction(vm, 'reboot', 'u', `2026-12-04T12:01:${String(i).padStart(2, '0')}.000Z`);
    }
    const old = nova('reboot', '2026-12-04T11:00:00.000Z', 'req-old');
    const fresh = nova('reboot', '2026-12-04T12:05:00.000Z', 'req-fresh');
    expect(unseenActions(vm, [fresh, old])).toEqual([fresh]);
  });

  it('mirrors a lab power-off into Nova as a stop, and a lab boot as a start', () => {
    const off = poweredOff(created, t1);
    expect(planHypervisor({ vm: off, server: ACTIVE, actions: [CREATE], now }, DELAY)).toEqual([
      { kind: 'mirror', call: 'stop', reason: 'powered off in the lab' },
    ]);
    expect(planHypervisor({ vm: created, server: SHUTOFF, actions: [CREATE], now }, DELAY)).toEqual(
      [{ kind: 'mirror', call: 'start', reason: 'running again in the lab' }],
    );
  });

  it('mirrors nothing while a task is in flight on either side, or Nova has no server', () => {
    const off = poweredOff(created, t1);
    const busy = { status: 'ACTIVE', taskState: 'powering-off' };
    expect(planHypervisor({ vm: off, server: busy, actions: [CREATE], now }, DELAY)).toEqual([]);
    expect(planHypervisor({ vm: off, server: null, actions: [], now }, DELAY)).toEqual([]);
    const booting: LabVm = { ...off, task: 'powering-on', bootAt: '2026-12-04T13:00:00.000Z' };
    expect(planHypervisor({ vm: booting, server: ACTIVE, actions: [CREATE], now }, DELAY)).toEqual(
      [],
    );
  });

  it('a Nova stop seen in the same poll as the server it shut off is applied, not undone', () => {
    // The server was read SHUTOFF after the API stop; the stop is in the actions read after it.
    const stop = nova('stop', t1, 'req-stop');
    expect(
      planHypervisor({ vm: created, server: SHUTOFF, actions: [stop, CREATE], now }, DELAY),
    ).toEqual([{ kind: 'apply', action: stop, effect: 'power-off' }]);
  });
});
