/**
 * The contract every CloudProvider keeps, as one vitest suite run against
 * each adapter on the same world: the 2025-08-25 cluster described in
 * test/fixtures/openstack (world.ts for the FakeCloud, the JSON files for
 * the OpenStack adapter through the fixture server). An adapter that cannot
 * keep a rule names it in `knownGaps` with the reason: the test still runs,
 * must fail (`it.fails`), and turns red the day the gap closes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CloudProvider, GenevePair } from '../core/cloud.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import { NodeWardenError, type ErrorCode } from '../core/errors.ts';
import {
  CAPO_USER_ID,
  NAME,
  OPS_USER_ID,
  PORT,
  SERVER,
  SG,
  USER_ID,
  WORLD_NOW,
} from '../../test/fixtures/openstack/world.ts';

export interface CloudHandle {
  readonly cloud: CloudProvider;
  close(): Promise<void>;
}

/** A fresh world per call, whose clock reads `clock.now()`. */
export type MakeCloud = (clock: Clock) => Promise<CloudHandle>;

export const CLOUD_CONTRACT_TESTS = [
  'instance: a running server with power, task and vm state, host status and hypervisor',
  'instance: a server whose guest powered off, stopped by Nova',
  'instance: a hard reboot in flight on a host in maintenance',
  'instance: host status UNKNOWN when nova-compute stopped reporting',
  'instance: a server in a Nova cell that is down tells only its id and status',
  'instance: a deleted server is null',
  'instance: accepts the regional providerID of its own region',
  'instance: refuses a providerID that is not openstack:///<uuid>, or of another region',
  'actions: newest first; a stop with no user is Nova power sync, a reboot is a user',
  'actions: since keeps the actions changed at or after it',
  'actions: refuses a since that is not a time',
  'actions: an unknown server is NOT_FOUND',
  'console: the whole log as Nova serves it',
  'console: the last lines as Nova tails them',
  'console: refuses a line count out of range',
  'console: an unknown server is NOT_FOUND',
  'diagnostics: NIC counters from the hypervisor',
  'reboot: SOFT of an active server is accepted and shows as a task and a user action',
  'reboot: HARD of a stopped server is accepted',
  'reboot: during a task in flight is CONFLICT with Nova’s message',
  'reboot: SOFT of a stopped server is CONFLICT naming its vm_state',
  'reboot: an unknown server is NOT_FOUND',
  'reboot: refuses a type other than SOFT or HARD',
  'ports: status, admin state, binding, fixed IPs and groups',
  'ports: a server without ports has none',
  'ports: setPortAdminState turns a port down and up again',
  'ports: setPortAdminState on an unknown port is NOT_FOUND',
  'geneve: blocked into the MIG node whose group opens 6081 as TCP, allowed elsewhere',
  'geneve: a server without ports is unknown, not allowed',
  'geneve: refuses fewer than two distinct servers',
  'ids that are not UUIDs are BAD_INPUT',
] as const;

export type CloudContractTest = (typeof CLOUD_CONTRACT_TESTS)[number];

export interface CloudContractOptions {
  readonly knownGaps?: Partial<Record<CloudContractTest, string>>;
}

/** The world's clock: frozen at 10:46Z on the day, with real timers underneath. */
export const worldClock: Clock = {
  now: () => WORLD_NOW,
  setTimer: (ms, fn) => systemClock.setTimer(ms, fn),
  sleep: (ms, signal) => systemClock.sleep(ms, signal),
};

const NOW_ISO = new Date(WORLD_NOW).toISOString();

async function failure(promise: Promise<unknown>): Promise<NodeWardenError> {
  const outcome = await promise.then(
    () => new Error('expected the call to fail, and it succeeded'),
    (error: unknown) => error,
  );
  if (!(outcome instanceof NodeWardenError)) throw outcome;
  return outcome;
}

/** Asserts a NodeWardenError with `code`, a hint, and a message containing `mentions`. */
async function expectFailure(
  promise: Promise<unknown>,
  code: ErrorCode,
  mentions = '',
): Promise<NodeWardenError> {
  const error = await failure(promise);
  expect({ code: error.code, message: error.message }).toEqual({
    code,
    message: expect.stringContaining(mentions) as string,
  });
  expect(error.hint).toBeTruthy();
  return error;
}

const MIG_CONSOLE_TAIL_3 =
  '[2146164.112741]       Tainted: P           OEL     6.8.0-79-generic #79-Ubuntu\n' +
  '[2146164.112744] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.\n';

const rule = (group: 'w' | 'm', n: number): string =>
  `d000000${group === 'w' ? 1 : 2}-0a0a-4b0b-8c0c-00000000000${n}`;

/** Registers the contract suite for one adapter. */
export function cloudContract(
  name: string,
  makeCloud: MakeCloud,
  options: CloudContractOptions = {},
) {
  const gaps: Partial<Record<CloudContractTest, string>> = options.knownGaps ?? {};
  let handle: CloudHandle | undefined;
  const cloud = (): CloudProvider => {
    if (handle === undefined) throw new Error('the contract cloud was not opened');
    return handle.cloud;
  };

  function test(title: CloudContractTest, body: () => Promise<void>): void {
    const gap = gaps[title];
    if (gap === undefined) it(title, body);
    else it.fails(`${title} [known gap: ${gap}]`, body);
  }

  describe(`CloudProvider contract: ${name}`, () => {
    beforeEach(async () => {
      handle = await makeCloud(worldClock);
    });
    afterEach(async () => {
      await handle?.close();
      handle = undefined;
    });

    test('instance: a running server with power, task and vm state, host status and hypervisor', async () => {
      expect(await cloud().instance(`openstack:///${SERVER.mig}`)).toEqual({
        id: SERVER.mig,
        name: NAME.mig,
        status: 'ACTIVE',
        powerState: 'RUNNING',
        taskState: null,
        vmState: 'active',
        hostStatus: 'UP',
        hypervisorHost: 'gpu-compute-07.tkai.internal',
        updatedAt: '2025-08-11T06:20:41.000Z',
      });
    });

    test('instance: a server whose guest powered off, stopped by Nova', async () => {
      expect(await cloud().instance(`openstack:///${SERVER.stopped}`)).toMatchObject({
        status: 'SHUTOFF',
        powerState: 'SHUTDOWN',
        taskState: null,
        vmState: 'stopped',
        hostStatus: 'UP',
        updatedAt: '2025-08-25T04:09:47.000Z',
      });
    });

    test('instance: a hard reboot in flight on a host in maintenance', async () => {
      expect(await cloud().instance(`openstack:///${SERVER.rebooting}`)).toMatchObject({
        name: NAME.rebooting,
        status: 'HARD_REBOOT',
        powerState: 'RUNNING',
        taskState: 'reboot_started_hard',
        vmState: 'active',
        hostStatus: 'MAINTENANCE',
      });
    });

    test('instance: host status UNKNOWN when nova-compute stopped reporting', async () => {
      expect(await cloud().instance(`openstack:///${SERVER.hostUnknown}`)).toMatchObject({
        status: 'ACTIVE',
        powerState: 'RUNNING',
        hostStatus: 'UNKNOWN',
      });
    });

    test('instance: a server in a Nova cell that is down tells only its id and status', async () => {
      const instance = await cloud().instance(`openstack:///${SERVER.cellDown}`);
      expect(instance).toEqual({
        id: SERVER.cellDown,
        name: '',
        status: 'UNKNOWN',
        powerState: 'NOSTATE',
        taskState: null,
        vmState: null,
        hostStatus: null,
        updatedAt: null,
      });
      expect(instance).not.toHaveProperty('hypervisorHost');
    });

    test('instance: a deleted server is null', async () => {
      expect(await cloud().instance(`openstack:///${SERVER.gone}`)).toBeNull();
    });

    test('instance: accepts the regional providerID of its own region', async () => {
      const instance = await cloud().instance(`openstack://RegionOne/${SERVER.mig.toUpperCase()}`);
      expect(instance?.id).toBe(SERVER.mig);
    });

    test('instance: refuses a providerID that is not openstack:///<uuid>, or of another region', async () => {
      for (const bad of [
        SERVER.mig,
        `aws:///${SERVER.mig}`,
        'openstack:///bkqzq',
        `openstack:///${SERVER.mig}/x`,
        '',
      ]) {
        await expectFailure(cloud().instance(bad), 'BAD_INPUT', 'providerID');
      }
      await expectFailure(
        cloud().instance(`openstack://RegionTwo/${SERVER.mig}`),
        'BAD_INPUT',
        'region RegionTwo',
      );
    });

    test('actions: newest first; a stop with no user is Nova power sync, a reboot is a user', async () => {
      expect(await cloud().instanceActions(SERVER.stopped)).toEqual([
        {
          action: 'stop',
          requestId: 'req-4b6f2c1e-8d3a-4e5f-9a7b-1c3d5e7f9a2b',
          userId: null,
          startTime: '2025-08-25T04:09:46.318Z',
          message: null,
          initiatedBy: 'nova-power-sync',
        },
        {
          action: 'reboot',
          requestId: 'req-0e9d8c7b-6a5f-4e4d-8c3b-2a1f0e9d8c7b',
          userId: OPS_USER_ID,
          startTime: '2025-08-24T23:12:05.774Z',
          message: null,
          initiatedBy: 'user',
        },
        {
          action: 'create',
          requestId: 'req-6c5b4a3f-2e1d-4c0b-9a8f-7e6d5c4b3a2f',
          userId: CAPO_USER_ID,
          startTime: '2025-06-02T01:14:09.662Z',
          message: null,
          initiatedBy: 'user',
        },
      ]);
    });

    test('actions: since keeps the actions changed at or after it', async () => {
      const since = await cloud().instanceActions(SERVER.stopped, '2025-08-25T13:00:00+09:00');
      expect(since.map((a) => a.action)).toEqual(['stop']);
      // At the stop's last update exactly: kept (Nova's changes-since is inclusive).
      const edge = await cloud().instanceActions(SERVER.stopped, '2025-08-25T04:09:47.901Z');
      expect(edge.map((a) => a.action)).toEqual(['stop']);
      expect(await cloud().instanceActions(SERVER.stopped, '2025-08-25T05:00:00Z')).toEqual([]);
      expect(await cloud().instanceActions(SERVER.hostUnknown)).toEqual([]);
    });

    test('actions: refuses a since that is not a time', async () => {
      await expectFailure(
        cloud().instanceActions(SERVER.stopped, 'yesterday'),
        'BAD_INPUT',
        'since',
      );
    });

    test('actions: an unknown server is NOT_FOUND', async () => {
      await expectFailure(
        cloud().instanceActions(SERVER.gone),
        'NOT_FOUND',
        `Instance ${SERVER.gone} could not be found.`,
      );
    });

    test('console: the whole log as Nova serves it', async () => {
      const log = await cloud().consoleLog(SERVER.mig);
      expect(log).toContain(
        'NVRM: Xid (PCI:0000:00:06): 119, pid=2381746, name=python, Timeout after 6s of waiting for RPC response from GPU0 GSP!',
      );
      expect(log).toContain(
        'watchdog: BUG: soft lockup - CPU#37 stuck for 26s! [ovs-vswitchd:1843]',
      );
      // Nova strips control characters (the ESC of ANSI colours, carriage returns) and
      // replaces each non-ASCII byte (the UTF-8 en dash) with U+FFFD.
      expect(log).toContain(
        '[[0;32m  OK  [0m] Started [0;1;39mkubelet.service[0m \ufffd\ufffd\ufffd kubelet',
      );
      expect(log.includes('\r') || log.includes('\u001b')).toBe(false);
      expect(log.split('\n')).toHaveLength(15);
      expect(await cloud().consoleLog(SERVER.hostUnknown)).toBe('');
    });

    test('console: the last lines as Nova tails them', async () => {
      // The log ends in a newline, so Nova's last 3 "lines" are 2 lines and an empty one.
      expect(await cloud().consoleLog(SERVER.mig, 3)).toBe(MIG_CONSOLE_TAIL_3);
      expect(await cloud().consoleLog(SERVER.mig, 1)).toBe('');
      expect((await cloud().consoleLog(SERVER.mig, 1000)).length).toBe(
        (await cloud().consoleLog(SERVER.mig)).length,
      );
    });

    test('console: refuses a line count out of range', async () => {
      for (const lines of [0, -1, 2.5, 100_001]) {
        await expectFailure(cloud().consoleLog(SERVER.mig, lines), 'BAD_INPUT', 'console lines');
      }
    });

    test('console: an unknown server is NOT_FOUND', async () => {
      await expectFailure(cloud().consoleLog(SERVER.gone), 'NOT_FOUND', SERVER.gone);
    });

    test('diagnostics: NIC counters from the hypervisor', async () => {
      expect(await cloud().diagnostics(SERVER.mig)).toEqual({
        state: 'running',
        driver: 'libvirt',
        uptimeSeconds: 2146271,
        nics: [
          {
            macAddress: 'fa:16:3e:5d:30:1e',
            rxOctets: 918237746311,
            rxPackets: 701398512,
            rxErrors: 0,
            rxDrop: 0,
            txOctets: 655204813347,
            txPackets: 688102455,
            txErrors: 0,
            txDrop: 0,
          },
        ],
      });
    });

    test('reboot: SOFT of an active server is accepted and shows as a task and a user action', async () => {
      await cloud().reboot(SERVER.hostUnknown, 'SOFT');
      expect(await cloud().instance(`openstack:///${SERVER.hostUnknown}`)).toMatchObject({
        status: 'REBOOT',
        taskState: 'rebooting',
        vmState: 'active',
        updatedAt: NOW_ISO,
      });
      const [latest, ...rest] = await cloud().instanceActions(SERVER.hostUnknown);
      expect(rest).toEqual([]);
      expect(latest).toEqual({
        action: 'reboot',
        requestId: expect.stringMatching(/^req-[0-9a-f-]{36}$/) as string,
        userId: USER_ID,
        startTime: NOW_ISO,
        message: null,
        initiatedBy: 'user',
      });
    });

    test('reboot: HARD of a stopped server is accepted', async () => {
      await cloud().reboot(SERVER.stopped, 'HARD');
      expect(await cloud().instance(`openstack:///${SERVER.stopped}`)).toMatchObject({
        status: 'SHUTOFF',
        taskState: 'rebooting_hard',
        vmState: 'stopped',
      });
      expect((await cloud().instanceActions(SERVER.stopped))[0]).toMatchObject({
        action: 'reboot',
        userId: USER_ID,
      });
    });

    test('reboot: during a task in flight is CONFLICT with Nova’s message', async () => {
      const error = await expectFailure(
        cloud().reboot(SERVER.rebooting, 'HARD'),
        'CONFLICT',
        `Cannot 'reboot' instance ${SERVER.rebooting} while it is in task_state reboot_started_hard`,
      );
      expect(error.hint).toContain('task');
      await expectFailure(
        cloud().reboot(SERVER.rebooting, 'SOFT'),
        'CONFLICT',
        'task_state reboot_started_hard',
      );
      // A soft reboot just accepted leaves task_state `rebooting`: a second soft one is refused, a hard one is not.
      const accepted = await cloud().reboot(SERVER.mig, 'SOFT');
      // The accepted request is the instance action's: its id names the action the cloud lists.
      expect(accepted.requestId).not.toBeNull();
      expect((await cloud().instanceActions(SERVER.mig))[0]).toMatchObject({
        action: 'reboot',
        requestId: accepted.requestId,
      });
      await expectFailure(cloud().reboot(SERVER.mig, 'SOFT'), 'CONFLICT', 'task_state rebooting');
      await cloud().reboot(SERVER.mig, 'HARD');
      expect(await cloud().instance(`openstack:///${SERVER.mig}`)).toMatchObject({
        status: 'HARD_REBOOT',
        taskState: 'rebooting_hard',
      });
    });

    test('reboot: SOFT of a stopped server is CONFLICT naming its vm_state', async () => {
      const error = await expectFailure(
        cloud().reboot(SERVER.stopped, 'SOFT'),
        'CONFLICT',
        `Cannot 'reboot' instance ${SERVER.stopped} while it is in vm_state stopped`,
      );
      expect(error.hint).toContain('HARD');
    });

    test('reboot: an unknown server is NOT_FOUND', async () => {
      await expectFailure(cloud().reboot(SERVER.gone, 'HARD'), 'NOT_FOUND', SERVER.gone);
    });

    test('reboot: refuses a type other than SOFT or HARD', async () => {
      await expectFailure(cloud().reboot(SERVER.mig, 'WARM' as 'SOFT'), 'BAD_INPUT', 'WARM');
    });

    test('ports: status, admin state, binding, fixed IPs and groups', async () => {
      expect(await cloud().ports(SERVER.mig)).toEqual([
        {
          id: PORT.mig,
          name: `${NAME.mig}-0`,
          deviceId: SERVER.mig,
          networkId: '1d6f0e4a-5b2c-4c8d-9e7f-3a1b5c7d9e0f',
          macAddress: 'fa:16:3e:5d:30:1e',
          status: 'ACTIVE',
          adminStateUp: true,
          bindingHost: 'gpu-compute-07',
          vifType: 'ovs',
          fixedIps: [{ ipAddress: '10.62.0.30', subnetId: '2e7a1f5b-6c3d-4d9e-8f0a-4b2c6d8e0f1a' }],
          securityGroupIds: [SG.mig],
          portSecurityEnabled: true,
        },
      ]);
      expect(await cloud().ports(SERVER.stopped)).toMatchObject([
        { id: PORT.stopped, status: 'DOWN' },
      ]);
    });

    test('ports: a server without ports has none', async () => {
      expect(await cloud().ports(SERVER.gone)).toEqual([]);
    });

    test('ports: setPortAdminState turns a port down and up again', async () => {
      const down = await cloud().setPortAdminState(PORT.hostUnknown, false);
      expect(down).toMatchObject({
        id: PORT.hostUnknown,
        adminStateUp: false,
        deviceId: SERVER.hostUnknown,
      });
      expect(await cloud().ports(SERVER.hostUnknown)).toMatchObject([{ adminStateUp: false }]);
      const up = await cloud().setPortAdminState(PORT.hostUnknown, true);
      expect(up.adminStateUp).toBe(true);
      expect(await cloud().ports(SERVER.hostUnknown)).toMatchObject([{ adminStateUp: true }]);
    });

    test('ports: setPortAdminState on an unknown port is NOT_FOUND', async () => {
      await expectFailure(
        cloud().setPortAdminState(PORT.gone, false),
        'NOT_FOUND',
        `Port ${PORT.gone} could not be found.`,
      );
    });

    test('geneve: blocked into the MIG node whose group opens 6081 as TCP, allowed elsewhere', async () => {
      const report = await cloud().geneveAllowed([SERVER.mig, SERVER.stopped, SERVER.rebooting]);
      expect(report.udpPort).toBe(6081);
      expect(report.verdict).toBe('blocked');
      const pair = (from: string, to: string): GenevePair | undefined =>
        report.pairs.find((p) => p.from === from && p.to === to);
      expect(report.pairs).toHaveLength(6);
      for (const to of [SERVER.stopped, SERVER.rebooting]) {
        expect(pair(SERVER.mig, to)).toMatchObject({
          verdict: 'allowed',
          egressRuleId: rule('m', 1),
          ingressRuleId: rule('w', 7),
          offending: [],
        });
      }
      expect(pair(SERVER.stopped, SERVER.rebooting)).toMatchObject({
        verdict: 'allowed',
        ingressRuleId: rule('w', 7),
      });
      expect(pair(SERVER.rebooting, SERVER.stopped)).toMatchObject({ verdict: 'allowed' });
      for (const from of [SERVER.stopped, SERVER.rebooting]) {
        const blocked = pair(from, SERVER.mig);
        expect(blocked).toMatchObject({
          verdict: 'blocked',
          fromPortId: from === SERVER.stopped ? PORT.stopped : PORT.rebooting,
          toPortId: PORT.mig,
          egressRuleId: rule('w', 1),
          ingressRuleId: null,
        });
        expect(blocked?.reason).toContain(
          'no ingress rule in tkai-oks-mig allows UDP 6081 from 10.62.0.1',
        );
        expect(
          blocked?.offending.map((o) => [o.groupId, o.direction, o.rules.map((r) => r.id)]),
        ).toEqual([[SG.mig, 'ingress', [3, 4, 5, 6].map((n) => rule('m', n))]]);
      }
    });

    test('geneve: a server without ports is unknown, not allowed', async () => {
      const report = await cloud().geneveAllowed([SERVER.mig, SERVER.gone]);
      expect(report.verdict).toBe('unknown');
      expect(report.pairs.map((p) => [p.verdict, p.reason])).toEqual([
        ['unknown', `server ${SERVER.gone} has no Neutron port`],
        ['unknown', `server ${SERVER.gone} has no Neutron port`],
      ]);
    });

    test('geneve: refuses fewer than two distinct servers', async () => {
      await expectFailure(
        cloud().geneveAllowed([SERVER.mig, SERVER.mig]),
        'BAD_INPUT',
        'at least two',
      );
    });

    test('ids that are not UUIDs are BAD_INPUT', async () => {
      const bad = '../servers/detail';
      await expectFailure(cloud().instanceActions(bad), 'BAD_INPUT', 'not a UUID');
      await expectFailure(cloud().consoleLog(bad), 'BAD_INPUT', 'not a UUID');
      await expectFailure(cloud().diagnostics(bad), 'BAD_INPUT', 'not a UUID');
      await expectFailure(cloud().reboot(bad, 'SOFT'), 'BAD_INPUT', 'not a UUID');
      await expectFailure(cloud().ports(bad), 'BAD_INPUT', 'not a UUID');
      await expectFailure(cloud().setPortAdminState(bad, true), 'BAD_INPUT', 'not a UUID');
      await expectFailure(cloud().geneveAllowed([SERVER.mig, bad]), 'BAD_INPUT', 'not a UUID');
    });
  });
}
