import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.ts';
import { NodeWardenError } from '../../core/errors.ts';
import {
  SERVER,
  PORT,
  USER_ID,
  WORLD_NOW,
  fakeWorld,
  fixtureJson,
  migConsoleRaw,
} from '../../../test/fixtures/openstack/world.ts';
import { cloudContract } from '../contract.ts';
import { FakeCloud, novaConsoleOutput, novaStatus } from './fake-cloud.ts';

cloudContract('FakeCloud', (clock) =>
  Promise.resolve({ cloud: new FakeCloud(fakeWorld(clock)), close: () => Promise.resolve() }),
);

function world(): { cloud: FakeCloud; clock: ManualClock } {
  const clock = new ManualClock(WORLD_NOW);
  return { cloud: new FakeCloud(fakeWorld(clock)), clock };
}

describe('FakeCloud world controls', () => {
  it('serves the console exactly as Nova did for the fixture (Python’s decode and strip)', () => {
    const nova = fixtureJson<{ output: string }>('nova-console-output-bkqzq.json').output;
    expect(novaConsoleOutput(migConsoleRaw())).toBe(nova);
    expect(novaConsoleOutput('a\r\nb\tc\x07\n', 1)).toBe('');
    expect(novaConsoleOutput('a\nb\nc', 2)).toBe('b\nc');
    expect(novaConsoleOutput('größe\n')).toBe('gr\ufffd\ufffd\ufffd\ufffde\n');
  });

  it('maps vm and task states to Nova statuses', () => {
    expect(novaStatus('active', null)).toBe('ACTIVE');
    expect(novaStatus('active', 'reboot_pending_hard')).toBe('HARD_REBOOT');
    expect(novaStatus('active', 'reboot_started')).toBe('REBOOT');
    expect(novaStatus('stopped', 'rebooting_hard')).toBe('SHUTOFF');
    expect(novaStatus('error', null)).toBe('ERROR');
    expect(novaStatus('shelved_offloaded', null)).toBe('SHELVED_OFFLOADED');
    expect(novaStatus('bogus', null)).toBe('UNKNOWN');
  });

  it('a guest that powers off is stopped by Nova’s power sync, with no user', async () => {
    const { cloud, clock } = world();
    clock.advance(60_000);
    cloud.hypervisorReports(SERVER.mig, 'SHUTDOWN');
    expect(await cloud.instance(`openstack:///${SERVER.mig}`)).toMatchObject({
      status: 'SHUTOFF',
      powerState: 'SHUTDOWN',
      vmState: 'stopped',
      updatedAt: new Date(WORLD_NOW + 60_000).toISOString(),
    });
    const [stop] = await cloud.instanceActions(SERVER.mig);
    expect(stop).toMatchObject({ action: 'stop', userId: null, initiatedBy: 'nova-power-sync' });
  });

  it('a crashed guest is stopped the same way; a paused one is left alone; a stopped one found running is force-stopped', async () => {
    const { cloud } = world();
    cloud.hypervisorReports(SERVER.hostUnknown, 'CRASHED');
    expect((await cloud.instance(`openstack:///${SERVER.hostUnknown}`))?.vmState).toBe('stopped');
    cloud.hypervisorReports(SERVER.mig, 'PAUSED');
    expect(await cloud.instance(`openstack:///${SERVER.mig}`)).toMatchObject({
      vmState: 'active',
      powerState: 'PAUSED',
    });
    cloud.hypervisorReports(SERVER.stopped, 'RUNNING');
    expect(await cloud.instance(`openstack:///${SERVER.stopped}`)).toMatchObject({
      vmState: 'stopped',
      powerState: 'SHUTDOWN',
    });
    const actions = await cloud.instanceActions(SERVER.stopped);
    expect(actions.filter((a) => a.initiatedBy === 'nova-power-sync')).toHaveLength(2);
  });

  it('power sync skips a server with a task in flight', async () => {
    const { cloud } = world();
    cloud.hypervisorReports(SERVER.rebooting, 'SHUTDOWN');
    expect(await cloud.instance(`openstack:///${SERVER.rebooting}`)).toMatchObject({
      vmState: 'active',
      taskState: 'reboot_started_hard',
      powerState: 'SHUTDOWN',
    });
  });

  it('a hard reboot that completes wipes the console; a soft one keeps it', async () => {
    const { cloud } = world();
    const before = await cloud.consoleLog(SERVER.mig);
    await cloud.reboot(SERVER.mig, 'SOFT');
    cloud.completeTask(SERVER.mig);
    const afterSoft = await cloud.consoleLog(SERVER.mig);
    expect(afterSoft.startsWith(before)).toBe(true);
    expect(afterSoft.length).toBeGreaterThan(before.length);
    await cloud.reboot(SERVER.mig, 'HARD');
    cloud.completeTask(SERVER.mig);
    const afterHard = await cloud.consoleLog(SERVER.mig);
    expect(afterHard).not.toContain('NVRM: Xid');
    expect(afterHard).toContain('Linux version');
    expect(await cloud.instance(`openstack:///${SERVER.mig}`)).toMatchObject({
      status: 'ACTIVE',
      taskState: null,
      powerState: 'RUNNING',
    });
  });

  it('a hard reboot of a stopped server brings it back active', async () => {
    const { cloud } = world();
    await cloud.reboot(SERVER.stopped, 'HARD');
    cloud.completeTask(SERVER.stopped);
    expect(await cloud.instance(`openstack:///${SERVER.stopped}`)).toMatchObject({
      status: 'ACTIVE',
      vmState: 'active',
      powerState: 'RUNNING',
    });
  });

  it('a deleted server is gone, its ports too, and its actions still say who deleted it', async () => {
    const { cloud } = world();
    cloud.deleteServer(SERVER.hostUnknown);
    expect(await cloud.instance(`openstack:///${SERVER.hostUnknown}`)).toBeNull();
    expect(await cloud.ports(SERVER.hostUnknown)).toEqual([]);
    expect((await cloud.instanceActions(SERVER.hostUnknown))[0]).toMatchObject({
      action: 'delete',
      userId: USER_ID,
    });
    await expect(cloud.consoleLog(SERVER.hostUnknown)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('records every call with its outcome, and injected failures come once each', async () => {
    const { cloud } = world();
    cloud.failNext('reboot', new NodeWardenError('UNAVAILABLE', 'Nova is down', { hint: 'retry' }));
    await expect(cloud.reboot(SERVER.mig, 'HARD')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await cloud.reboot(SERVER.mig, 'HARD');
    await cloud.setPortAdminState(PORT.mig, false);
    await expect(cloud.reboot(SERVER.stopped, 'SOFT')).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(cloud.calls.map((c) => [c.method, c.args, c.outcome])).toEqual([
      ['reboot', [SERVER.mig, 'HARD'], 'UNAVAILABLE'],
      ['reboot', [SERVER.mig, 'HARD'], 'ok'],
      ['setPortAdminState', [PORT.mig, false], 'ok'],
      ['reboot', [SERVER.stopped, 'SOFT'], 'CONFLICT'],
    ]);
    expect(cloud.calls[0]?.at).toBe(new Date(WORLD_NOW).toISOString());
  });

  it('host status and port status follow the world', async () => {
    const { cloud } = world();
    cloud.setHostStatus(SERVER.mig, 'DOWN');
    cloud.setPortStatus(PORT.mig, 'DOWN');
    cloud.appendConsole(
      SERVER.mig,
      '[2146200.000000] Kernel panic - not syncing: hung_task: blocked tasks\n',
    );
    expect((await cloud.instance(`openstack:///${SERVER.mig}`))?.hostStatus).toBe('DOWN');
    expect((await cloud.ports(SERVER.mig))[0]?.status).toBe('DOWN');
    expect(await cloud.consoleLog(SERVER.mig, 2)).toBe(
      '[2146200.000000] Kernel panic - not syncing: hung_task: blocked tasks\n',
    );
  });

  it('answers on a later turn, like a real cloud', async () => {
    const { cloud } = world();
    let answered = false;
    const pending = cloud.ports(SERVER.mig).then(() => (answered = true));
    expect(answered).toBe(false);
    await pending;
    expect(answered).toBe(true);
  });
});
