import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseKernelLogLine } from './kmsg-line.ts';
import {
  matchKernelLogLine,
  matchSignature,
  SIGNATURE_CATALOGUE,
  type MatchedLine,
  type SignatureMatch,
} from './kmsg-signatures.ts';

const dir = new URL('../../test/fixtures/kmsg/', import.meta.url);
const fixture = (name: string): string[] =>
  readFileSync(new URL(name, dir), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

/** Every line of a fixture that carries a message, parsed and matched. */
function matched(name: string): MatchedLine[] {
  return fixture(name)
    .map((l) => matchKernelLogLine(l))
    .filter((m): m is MatchedLine => m !== null);
}

type Expect = null | {
  id: string;
  detail?: Record<string, unknown>;
  more?: Partial<SignatureMatch>;
};

/** Checks each message line against its expectation, in order. */
function expectLines(name: string, expected: Expect[]): MatchedLine[] {
  const lines = matched(name);
  expect(lines.map((l, i) => `${i + 1}: ${l.match?.id ?? 'no match'}`)).toEqual(
    expected.map((e, i) => `${i + 1}: ${e?.id ?? 'no match'}`),
  );
  lines.forEach((l, i) => {
    const e = expected[i];
    if (!e) return;
    if (e.detail) expect(l.match!.detail, `${name} line ${i + 1}`).toMatchObject(e.detail);
    if (e.more) expect(l.match, `${name} line ${i + 1}`).toMatchObject(e.more);
  });
  return lines;
}

describe('NVIDIA Xid signatures (dmesg form)', () => {
  it('parses every Xid the agent cares about, MIG instance ids included', () => {
    const lines = expectLines('gpu-xid.dmesg.txt', [
      {
        id: 'gpu.xid.31',
        detail: {
          pci: '0000:3b:00',
          xid: 31,
          gpuInstance: 9,
          computeInstance: 0,
          pid: 48211,
          process: 'python3',
          channel: '0x00000008',
          engine: 'GRAPHICS GPC0',
          client: 'GPCCLIENT_T1_0',
          address: '0x7f3a_61000000',
          faultType: 'FAULT_PDE',
          accessType: 'ACCESS_TYPE_VIRT_READ',
        },
        more: { severity: 'warning', category: 'gpu', key: 'xid:0000:3b:00:9:31' },
      },
      {
        id: 'gpu.xid.94',
        detail: {
          gpuInstance: 9,
          computeInstance: null,
          contained: true,
          unit: 'CE User Channel (0x9)',
          resetRequired: false,
          drainAndResetRequired: false,
        },
        more: { severity: 'error' },
      },
      { id: 'gpu.xid.94', detail: { gpuInstance: 10, pid: 48377, process: null } },
      {
        id: 'gpu.xid.95',
        detail: {
          pid: null,
          process: null,
          contained: false,
          unit: 'LTC TAG (0x2,0x1)',
          resetRequired: true,
          drainAndResetRequired: false,
        },
        more: { severity: 'critical' },
      },
      {
        id: 'gpu.xid.48',
        detail: { physAddr: '0x7fdf0de80', partition: 5, subpartition: 1 },
        more: { severity: 'critical', title: 'Uncorrectable double-bit ECC error (DBE)' },
      },
      {
        id: 'gpu.xid.119',
        detail: {
          timeoutSeconds: 6,
          rpcFunction: '76 (GSP_RM_CONTROL)',
          pid: 2911,
          process: 'nv-hostengine',
        },
        more: { severity: 'critical', title: 'GSP RPC timeout' },
      },
      { id: 'gpu.xid.120', detail: { message: 'GSP task exception: load access fault' } },
      {
        id: 'gpu.xid.79',
        detail: { pci: '0000:3b:00', message: 'GPU has fallen off the bus.' },
        more: { key: 'gpu-lost:0000:3b:00', severity: 'critical' },
      },
      {
        id: 'gpu.fallen-off-bus',
        detail: { pci: '0000:3b:00' },
        more: { key: 'gpu-lost:0000:3b:00' },
      },
      null,
      {
        id: 'gpu.xid.154',
        detail: {
          fromCode: 0,
          fromAction: 'None',
          toCode: 2,
          toAction: 'Node Reboot Required',
          action: 'node-reboot',
        },
        more: { severity: 'critical' },
      },
      {
        id: 'gpu.xid.154',
        detail: { pci: '0000:86:00', toAction: 'GPU Reset Required', action: 'gpu-reset' },
        more: { severity: 'critical' },
      },
      {
        id: 'gpu.xid.154',
        detail: { fromCode: 1, toCode: 4, toAction: 'Drain and Reset', action: 'drain-and-reset' },
      },
      { id: 'gpu.xid.154', detail: { action: 'none' }, more: { severity: 'info' } },
      {
        id: 'gpu.xid.48',
        detail: { pci: '0000:8a:00', pid: null, partition: 4, subpartition: 1, physAddr: null },
      },
      {
        id: 'gpu.xid.79',
        detail: { pci: '0000:06:00', pid: null, message: 'GPU has fallen off the bus.' },
      },
      {
        id: 'gpu.xid',
        detail: { xid: 13, process: 'python3' },
        more: { title: 'NVIDIA Xid 13', severity: 'warning' },
      },
      {
        id: 'gpu.xid.31',
        detail: {
          pci: '0000:2b:00',
          channel: '00000008',
          engine: 'GRAPHICS',
          client: 'GPCCLIENT_T1_13',
          faultType: 'FAULT_PTE',
          accessType: 'ACCESS_TYPE_VIRT_WRITE',
          gpuInstance: null,
        },
      },
      {
        id: 'gpu.xid.119',
        detail: { pci: '0004:01:00', timeoutSeconds: null, rpcFunction: null, process: 'nv_queue' },
      },
      { id: 'gpu.xid', detail: { xid: 46, message: '', pid: null } },
    ]);
    expect(lines[0]!.line).toMatchObject({ format: 'dmesg', monotonicUs: 8_345_118_322 });
    expect(lines[17]!.line).toMatchObject({ format: 'dmesg', monotonicUs: 130_456_250 });
    expect(lines[17]!.line.text.startsWith('NVRM: Xid')).toBe(true);
  });
});

describe('kernel, OOM and network signatures (/dev/kmsg records)', () => {
  it('matches lockups, hung tasks, OOM kills and NIC timeouts, flagging network-critical processes', () => {
    const lines = expectLines('kernel.kmsg.txt', [
      { id: 'kernel.soft-lockup', detail: { cpu: 3, seconds: 22, task: 'kworker/3:1', pid: 1234 } },
      null,
      {
        id: 'kernel.hung-task',
        detail: { task: 'kworker/u16:3', pid: 412, seconds: 120 },
        more: { networkCritical: false, severity: 'error' },
      },
      null,
      null,
      {
        id: 'kernel.hung-task',
        detail: { task: 'ovs-vswitchd', pid: 1187, seconds: 122 },
        more: { networkCritical: true, severity: 'critical' },
      },
      null,
      {
        id: 'oom.kill-summary',
        detail: {
          process: 'ovs-vswitchd',
          pid: 1187,
          uid: 0,
          scope: 'global',
          constraint: 'CONSTRAINT_NONE',
          memcg: '/system.slice/ovs-vswitchd.service',
        },
        more: { networkCritical: true, severity: 'critical', key: 'oom:1187', category: 'oom' },
      },
      {
        id: 'oom.killed-process',
        detail: {
          process: 'ovs-vswitchd',
          pid: 1187,
          scope: 'global',
          anonRssKb: 1_803_328,
          totalVmKb: 2_871_204,
        },
        more: { networkCritical: true, key: 'oom:1187' },
      },
      null,
      {
        id: 'oom.kill-summary',
        detail: { process: 'python3', pid: 30211, uid: 1000, scope: 'cgroup' },
        more: { networkCritical: false, severity: 'warning' },
      },
      {
        id: 'oom.killed-process',
        detail: { process: 'python3', scope: 'cgroup' },
        more: { networkCritical: false },
      },
      {
        id: 'oom.kill-summary',
        detail: { process: 'containerd-shim' },
        more: { networkCritical: false },
      },
      {
        id: 'oom.killed-process',
        detail: { process: 'containerd-shim' },
        more: { networkCritical: false },
      },
      {
        id: 'network.netdev-watchdog',
        detail: { interface: 'ens3', driver: 'virtio_net', queue: 0, timedOutMs: 5440, cpu: null },
        more: { category: 'network', severity: 'error' },
      },
      {
        id: 'network.tx-timeout',
        detail: { interface: 'ens3', driver: 'virtio_net', queue: 0, agoUs: 8_856_000 },
      },
      {
        id: 'network.netdev-watchdog',
        detail: { interface: 'ens3', driver: 'virtio_net', queue: 0, timedOutMs: 5512, cpu: 2 },
      },
      { id: 'kernel.panic', detail: { reason: 'Hard LOCKUP' }, more: { severity: 'critical' } },
    ]);
    expect(lines[0]!.line).toMatchObject({
      format: 'kmsg',
      level: 4,
      facility: 0,
      seq: 2251,
      monotonicUs: 612_345_678,
    });
    expect(lines.at(-1)!.line).toMatchObject({ level: 0, seq: 2300 });
    // The record with a caller field in its prefix still yields its message.
    expect(lines[16]!.line.text.startsWith('virtio_net virtio1 ens3: NETDEV WATCHDOG')).toBe(true);
  });
});

describe('syslog, journal and console forms', () => {
  it('matches the same signatures behind syslog and ISO journal prefixes', () => {
    const lines = expectLines('syslog.txt', [
      {
        id: 'oom.killed-process',
        detail: { process: 'kubelet', pid: 1402 },
        more: { networkCritical: true },
      },
      {
        id: 'oom.kill-summary',
        detail: { process: 'containerd', pid: 1033 },
        more: { networkCritical: true },
      },
      {
        id: 'oom.killed-process',
        detail: { process: 'containerd', pid: 1033 },
        more: { networkCritical: true },
      },
      {
        id: 'oom.killed-process',
        detail: { process: 'ovn-controller' },
        more: { networkCritical: true },
      },
      {
        id: 'oom.killed-process',
        detail: { process: 'ovsdb-server' },
        more: { networkCritical: true },
      },
      { id: 'network.netdev-watchdog', detail: { interface: 'ens3', cpu: 1, timedOutMs: 5500 } },
      { id: 'storage.io-error', detail: { device: 'vda1', block: 1_048_577, sector: null } },
      { id: 'storage.io-error', detail: { device: 'vda', sector: 8_390_656, block: null } },
      { id: 'storage.io-error', detail: { device: 'vdb', sector: 2048 } },
      { id: 'storage.fs-error', detail: { filesystem: 'EXT4', device: 'vda1' } },
      { id: 'storage.read-only', detail: { filesystem: 'EXT4', device: 'vda1' } },
      {
        id: 'network.unregister-netdevice',
        detail: { interface: 'genev_sys_6081', usageCount: 2 },
      },
      { id: 'gpu.xid.79', detail: { pci: '0000:3b:00' } },
    ]);
    expect(lines[0]!.line).toMatchObject({
      format: 'syslog',
      host: 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq',
      printedTime: 'Aug 25 03:57:41',
      monotonicUs: 8_349_001_234,
    });
    expect(lines[1]!.line).toMatchObject({
      format: 'journal-iso',
      wallMs: Date.parse('2025-08-25T03:58:03.412Z'),
    });
    expect(lines[12]!.line.format).toBe('plain');
  });

  it('matches lockups, stalls, oopses and panics in dmesg -T and raw console output', () => {
    const lines = expectLines('console-ctime.txt', [
      { id: 'kernel.rcu-stall', detail: { flavour: 'rcu_preempt' } },
      null,
      { id: 'kernel.soft-lockup', detail: { cpu: 7, seconds: 26, task: 'python3', pid: 48211 } },
      { id: 'kernel.hard-lockup', detail: { cpu: 5 }, more: { severity: 'critical' } },
      { id: 'kernel.oops', detail: { what: 'kernel NULL pointer dereference' } },
      { id: 'kernel.oops', detail: { what: 'unable to handle kernel NULL pointer dereference' } },
      { id: 'kernel.panic', detail: { reason: 'Hard LOCKUP' }, more: { key: 'panic' } },
      { id: 'kernel.panic', detail: { reason: 'Hard LOCKUP' }, more: { key: 'panic' } },
      { id: 'kernel.panic', detail: { reason: 'softlockup: hung tasks' } },
    ]);
    expect(lines[0]!.line).toMatchObject({
      format: 'dmesg-ctime',
      printedTime: 'Mon Aug 25 12:58:31 2025',
    });
    expect(lines[8]!.line).toMatchObject({ format: 'dmesg', level: 0, monotonicUs: 8_359_551_001 });
  });
});

describe('lines that must not match', () => {
  it('ignores driver banners, the oom-killer invoker, reaper lines, kernel command lines and other noise', () => {
    const lines = matched('no-match.txt');
    expect(lines.length).toBe(fixture('no-match.txt').length);
    for (const l of lines) expect(l.match, l.line.text).toBeNull();
  });
});

describe('parseKernelLogLine', () => {
  it('drops kmsg dictionary continuations and blank lines, keeps everything else', () => {
    expect(parseKernelLogLine(' SUBSYSTEM=net')).toBeNull();
    expect(parseKernelLogLine('')).toBeNull();
    expect(parseKernelLogLine('   ')).toBeNull();
    expect(parseKernelLogLine(' ? __schedule+0x2c2/0x770')).toMatchObject({ format: 'plain' });
    expect(parseKernelLogLine('[    0.000000] Linux version 6.8.0\r')).toMatchObject({
      format: 'dmesg',
      monotonicUs: 0,
      text: 'Linux version 6.8.0',
    });
    expect(parseKernelLogLine('[12.5] x')?.monotonicUs).toBe(12_500_000);
  });
});

describe('the catalogue', () => {
  it('has a unique id per entry and covers every id the fixtures produce', () => {
    const ids = SIGNATURE_CATALOGUE.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    const produced = new Set(
      ['gpu-xid.dmesg.txt', 'kernel.kmsg.txt', 'syslog.txt', 'console-ctime.txt']
        .flatMap((f) => matched(f))
        .map((l) => l.match?.id)
        .filter((id): id is string => id !== undefined),
    );
    expect([...produced].sort()).toEqual([...ids].sort());
  });

  it('reports detail fields the catalogue lists, and no others', () => {
    for (const f of ['gpu-xid.dmesg.txt', 'kernel.kmsg.txt', 'syslog.txt', 'console-ctime.txt']) {
      for (const l of matched(f)) {
        if (!l.match) continue;
        const info = SIGNATURE_CATALOGUE.find((s) => s.id === l.match!.id)!;
        expect(Object.keys(l.match.detail).sort(), l.line.text).toEqual([...info.fields].sort());
      }
    }
  });

  it('matches a bare message as well as a prefixed line', () => {
    expect(matchSignature('Kernel panic - not syncing: Fatal exception')?.id).toBe('kernel.panic');
    expect(matchSignature('nothing to see here')).toBeNull();
  });
});

describe('the fixture folder', () => {
  it('explains every fixture in its README, and names no file that is missing', () => {
    const files = readdirSync(dir).filter((f) => f !== 'README.md');
    const readme = readFileSync(new URL('README.md', dir), 'utf8');
    const named = [...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    expect([...named].sort()).toEqual([...files].sort());
  });
});
