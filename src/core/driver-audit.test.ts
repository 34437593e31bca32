import { describe, expect, it } from 'vitest';
import {
  auditDrivers,
  compareVersions,
  inventoryFromLastWords,
  parseKnownBadList,
  poolOf,
  type KnownBadEntry,
} from './driver-audit.ts';
import { FLEET, SHIPPED_KNOWN_BAD_JSON } from '../../test/fixtures/inventory/fleet.ts';

const shipped = parseKnownBadList(SHIPPED_KNOWN_BAD_JSON, 'data/known-bad-drivers.json');
const inventories = FLEET.map((b) => inventoryFromLastWords(b.node, b.at, b.data));
const NOW = Date.parse('2025-08-25T04:00:00Z');
const MIG = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';

describe('compareVersions', () => {
  it('orders NVIDIA, kernel and OVS versions numerically, segment by segment', () => {
    expect(compareVersions('525.85.12', '525.105.17')).toBe(-1);
    expect(compareVersions('525.105.17', '525.105.17')).toBe(0);
    expect(compareVersions('535.216.03', '535.216.3')).toBe(0);
    expect(compareVersions('5.15.0-91-generic', '5.15.0-105-generic')).toBe(-1);
    expect(compareVersions('510', '510.39.01')).toBe(-1);
    expect(compareVersions('3.1.0', '2.17.9')).toBe(1);
  });
});

describe('poolOf', () => {
  it("drops Cluster API's generated suffixes and the machine-set hash", () => {
    expect(poolOf(MIG)).toBe('tkai-oks-md-1');
    expect(poolOf('tkai-oks-md-0-193cfbbbb78b-5gblf-wn4gb')).toBe('tkai-oks-md-0');
    expect(poolOf('gpu-pool-a100-7f9c8d6b5-x2lqp')).toBe('gpu-pool-a100');
  });

  it('keeps names without generated parts whole, and real words at the end', () => {
    expect(poolOf('worker-1')).toBe('worker-1');
    expect(poolOf('node')).toBe('node');
    expect(poolOf('gpu-large')).toBe('gpu-large');
  });
});

describe('inventoryFromLastWords', () => {
  it("reads the agent's inventory: GSP N/A is off, NIC drivers with versions, OVS version from its banner", () => {
    const h100b = inventories.find((i) => i.node.endsWith('h100b'));
    expect(h100b?.stack).toEqual({
      kernel: '5.15.0-105-generic',
      nvidiaDriver: '535.216.03',
      gspFirmware: null,
      nicDrivers: 'mlx5_core 24.04-0.6.6, virtio_net 1.0.0',
      ovs: '3.1.0',
      ovn: '23.03.0',
    });
    expect(h100b?.errors).toEqual(['nvidia-smi -q did not answer within 3000 ms']);
    expect(h100b?.pool).toBe('tkai-oks-md-2');
  });

  it('reads missing or mistyped fields as null instead of failing', () => {
    const i = inventoryFromLastWords('n', '2025-08-25T00:00:00Z', {
      kernel: 'not an object',
      nvidia: { driverVersion: 42, gspFirmware: 'x' },
    });
    expect(i.stack).toEqual({
      kernel: null,
      nvidiaDriver: null,
      gspFirmware: null,
      nicDrivers: null,
      ovs: null,
      ovn: null,
    });
    expect(inventoryFromLastWords('n', 'x', null).errors).toEqual([]);
  });
});

describe('auditDrivers on the fleet fixture with the shipped known-bad list', () => {
  const audit = auditDrivers(inventories, shipped, { now: NOW });

  it('groups nodes by their whole stack, largest group first', () => {
    expect(audit.combinations[0]?.nodes).toEqual([
      'tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7',
      'tkai-oks-md-0-193cfbbbb78b-5gblf-wn4gb',
    ]);
    expect(audit.combinations).toHaveLength(7);
    expect(audit.combinations.flatMap((c) => c.nodes)).toHaveLength(8);
  });

  it('finds each node that differs from most of its pool, component by component', () => {
    const drift = audit.pools.flatMap((p) =>
      p.drift.map((d) => `${p.pool} ${d.node.slice(-5)} ${d.component} ${d.value} ≠ ${d.baseline}`),
    );
    expect(drift).toEqual([
      'tkai-oks-md-0 9f79t kernel 5.15.0-91-generic ≠ 5.15.0-105-generic',
      'tkai-oks-md-0 x2lqp ovs 2.17.9 ≠ 3.1.0',
      // md-1 has one node: nothing to drift from.
      'tkai-oks-md-2 h100a nvidiaDriver 535.161.08 ≠ 535.216.03',
      // Three different GSP values (one unread): the tie goes to the newest.
      'tkai-oks-md-2 h100a gspFirmware 535.161.08 ≠ 535.216.03',
      'tkai-oks-md-2 h100b gspFirmware null ≠ 535.216.03',
    ]);
    expect(audit.pools.map((p) => p.pool)).toEqual([
      'tkai-oks-md-0',
      'tkai-oks-md-1',
      'tkai-oks-md-2',
    ]);
  });

  it("flags the seed's MIG node for the Xid 119 GSP timeout range and the R535 node for its GSP fix", () => {
    expect(audit.knownBad.map((h) => `${h.node.slice(-5)} ${h.version} ${h.entry.id}`)).toEqual([
      'bkqzq 525.85.12 gsp-rpc-timeout-xid119',
      'h100a 535.161.08 r535-gsp-task-address-space',
    ]);
    // h100b runs the fixed 535.216.03; nodes without a driver are never matched.
  });

  it('marks inventories older than a day as stale', () => {
    expect(audit.stale).toEqual([
      { node: 'tkai-oks-md-0-193cfbbbb78b-5gblf-x2lqp', at: '2025-08-20T03:40:04.000Z' },
    ]);
    expect(
      auditDrivers(inventories, shipped, { now: NOW, staleAfterMs: 10 * 86_400_000 }).stale,
    ).toEqual([]);
  });
});

describe('known-bad matching rules', () => {
  const entry = (over: Partial<KnownBadEntry>): KnownBadEntry => ({
    id: 'e',
    title: 't',
    severity: 'warning',
    component: 'nvidiaDriver',
    symptom: 's',
    fix: 'f',
    sources: [{ title: 'x', url: 'u', says: 's' }],
    ...over,
  });
  const node = (stack: Partial<Record<string, string | null>>) =>
    inventoryFromLastWords('gpu-1', '2025-08-25T03:00:00Z', {
      kernel: { release: stack['kernel'] ?? '6.1.0' },
      nvidia: {
        driverVersion: stack['driver'] ?? null,
        gspFirmware: stack['gsp'] ? [stack['gsp']] : [],
      },
      nicDrivers: stack['nic'] ? { ens3: { driver: 'mlx5_core', version: stack['nic'] } } : {},
    });
  const hits = (e: KnownBadEntry, n: ReturnType<typeof node>) =>
    auditDrivers([n], [e], { now: NOW }).knownBad.length;

  it('bounds are [from, fixedIn): the fixed version and later are clean', () => {
    const e = entry({ from: '525', fixedIn: '525.105.17' });
    expect(hits(e, node({ driver: '525.60.13' }))).toBe(1);
    expect(hits(e, node({ driver: '525.105.17' }))).toBe(0);
    expect(hits(e, node({ driver: '520.61.05' }))).toBe(0);
    expect(
      hits(entry({ fixedIn: '5.15', component: 'kernel' }), node({ kernel: '5.4.0-150-generic' })),
    ).toBe(1);
  });

  it('a gsp-enabled entry needs a reported GSP version', () => {
    const e = entry({ from: '510', fixedIn: '525.105.17', when: 'gsp-enabled' });
    expect(hits(e, node({ driver: '515.65.01' }))).toBe(0);
    expect(hits(e, node({ driver: '515.65.01', gsp: '515.65.01' }))).toBe(1);
  });

  it("a NIC entry matches only its driver's module version", () => {
    const e = entry({ component: 'nicDrivers', driver: 'mlx5_core', fixedIn: '24.01' });
    expect(hits(e, node({ nic: '23.10-1.1.9' }))).toBe(1);
    expect(hits(e, node({ nic: '24.04-0.6.6' }))).toBe(0);
    expect(hits({ ...e, driver: 'ice' }, node({ nic: '23.10-1.1.9' }))).toBe(0);
  });
});

describe('parseKnownBadList', () => {
  const good = {
    id: 'x',
    title: 't',
    severity: 'critical',
    component: 'nvidiaDriver',
    fixedIn: '1',
    symptom: 's',
    fix: 'f',
    sources: [{ title: 'a', url: 'b', says: 'c' }],
  };
  const bad = (entry: Record<string, unknown>) => () =>
    parseKnownBadList({ entries: [{ ...good, ...entry }] }, 'list.json');

  it('accepts the shipped list: every entry has a bound and a source with what it says', () => {
    expect(shipped.map((e) => e.id)).toEqual([
      'gsp-rpc-timeout-xid119',
      'r535-gsp-task-address-space',
      'r570-gpu-accounting-stale-pointer',
    ]);
    for (const e of shipped) expect(e.sources.length).toBeGreaterThan(0);
  });

  it('names the entry and the field that is wrong', () => {
    expect(() => parseKnownBadList({}, 'list.json')).toThrow('list.json: no "entries" array');
    expect(bad({ severity: 'high' })).toThrow(
      'list.json: entries[0]: severity "high" is not critical or warning',
    );
    expect(bad({ component: 'bios' })).toThrow(
      'component "bios" is not one of kernel, nvidiaDriver',
    );
    expect(bad({ fixedIn: undefined })).toThrow('entries[0]: needs "from", "fixedIn" or both');
    expect(bad({ sources: [] })).toThrow('entries[0]: no sources');
    expect(bad({ sources: [{ title: 'a', url: 'b' }] })).toThrow(
      'entries[0].sources[0]: "says" must be a non-empty string',
    );
    expect(bad({ component: 'nicDrivers' })).toThrow('a nicDrivers entry needs "driver"');
    expect(() => parseKnownBadList({ entries: [good, good] }, 'list.json')).toThrow(
      'id "x" appears twice',
    );
  });
});
