import { describe, expect, it } from 'vitest';
import { NodeWardenError } from '../core/errors.ts';
import {
  SEED_MIG_NODE,
  nodeOffsets,
  parseIpv4,
  parseSubnet,
  planLab,
  resolveNode,
  workerSuffixes,
} from './topology.ts';

function badInputMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(NodeWardenError);
    expect((error as NodeWardenError).code).toBe('BAD_INPUT');
    expect((error as NodeWardenError).hint).toBeTruthy();
    return (error as NodeWardenError).message;
  }
  throw new Error('expected BAD_INPUT');
}

describe('planLab', () => {
  it('lays out the seed: the MIG node at .30, the four survivors at .10–.13', () => {
    const plan = planLab(5, '10.62.0.0/24');
    expect(plan.hub).toEqual({ namespace: 'nw-hub', bridge: 'nwbr0', ip: '10.62.0.1' });
    expect(plan.gateway).toBe('10.62.0.1');
    expect(plan.nodes.map((n) => [n.name, n.role, n.ip, n.hubVeth])).toEqual([
      ['tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq', 'mig', '10.62.0.30', 'nwh-bkqzq'],
      ['tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7', 'worker', '10.62.0.10', 'nwh-85zt7'],
      ['tkai-oks-md-0-193cfbbbb78b-5gblf-9f79t', 'worker', '10.62.0.11', 'nwh-9f79t'],
      ['tkai-oks-md-0-193cfbbbb78b-5gblf-pkmt5', 'worker', '10.62.0.12', 'nwh-pkmt5'],
      ['tkai-oks-md-0-193cfbbbb78b-5gblf-wn4gb', 'worker', '10.62.0.13', 'nwh-wn4gb'],
    ]);
    expect(plan.nodes[0]?.namespace).toBe(`nw-${SEED_MIG_NODE}`);
  });

  it('skips .30 for workers and generates distinct, stable names past the seed', () => {
    const plan = planLab(64, '10.62.0.0/24');
    const ips = plan.nodes.map((n) => n.ip);
    expect(new Set(ips).size).toBe(64);
    expect(ips.filter((ip) => ip === '10.62.0.30')).toHaveLength(1);
    expect(plan.nodes[21]?.ip).toBe('10.62.0.31'); // worker 21 would have been .30
    expect(new Set(plan.nodes.map((n) => n.name)).size).toBe(64);
    for (const node of plan.nodes) {
      expect(node.hubVeth.length).toBeLessThanOrEqual(15);
      expect(node.name).toMatch(/^tkai-oks-md-[01]-193cfbbbb78b-[a-z0-9]{5}-[a-z0-9]{5}$/);
    }
    expect(planLab(64, '10.62.0.0/24').nodes.map((n) => n.name)).toEqual(
      plan.nodes.map((n) => n.name),
    );
  });

  it('puts the MIG node first in a /28, which has no .30', () => {
    const plan = planLab(5, '192.168.7.16/28');
    expect(plan.nodes.map((n) => n.ip)).toEqual([
      '192.168.7.26',
      '192.168.7.27',
      '192.168.7.28',
      '192.168.7.29',
      '192.168.7.30',
    ]);
    expect(badInputMessage(() => planLab(6, '192.168.7.16/28'))).toMatch(/no room for 6 nodes/);
  });

  it('rejects node counts outside 2–64', () => {
    expect(badInputMessage(() => planLab(1, '10.62.0.0/24'))).toMatch(/--nodes 1 is out of range/);
    expect(badInputMessage(() => planLab(65, '10.62.0.0/24'))).toMatch(/2 to 64/);
  });

  it('fits 64 nodes in a /24 (.10–.73) but not 30 in a /27', () => {
    expect(() => planLab(64, '10.62.0.0/24')).not.toThrow();
    expect(badInputMessage(() => planLab(30, '10.62.0.0/27'))).toMatch(/no room for 30 nodes/);
  });
});

describe('parseSubnet', () => {
  it('accepts /16 to /28 network addresses', () => {
    expect(parseSubnet('10.62.0.0/16')).toEqual({
      base: parseIpv4('10.62.0.0'),
      prefixLength: 16,
      size: 65536,
    });
    expect(parseSubnet('10.62.0.240/28').size).toBe(16);
  });

  it.each([
    ['10.62.0.0', /not an IPv4 CIDR/],
    ['10.62.0/24', /not an IPv4 CIDR/],
    ['10.62.0.256/24', /not an IPv4 CIDR/],
    ['10.62.0.01/24', /not an IPv4 CIDR/],
    ['fd00::/64', /not an IPv4 CIDR/],
    ['10.62.0.0/15', /needs \/16 to \/28/],
    ['10.62.0.0/29', /needs \/16 to \/28/],
    ['10.62.0.5/24', /host bits are set/],
  ])('rejects %s', (text, message) => {
    expect(badInputMessage(() => parseSubnet(text))).toMatch(message);
  });

  it('names the network address to use instead', () => {
    try {
      parseSubnet('10.62.0.5/24');
    } catch (error) {
      expect((error as NodeWardenError).hint).toBe(
        'use its network address: --subnet 10.62.0.0/24',
      );
    }
  });
});

describe('nodeOffsets and workerSuffixes', () => {
  it('gives workers .10 upwards around the MIG node', () => {
    expect(nodeOffsets(3, 256)).toEqual({ mig: 30, workers: [10, 11] });
    expect(nodeOffsets(3, 16)).toEqual({ mig: 10, workers: [11, 12] });
  });

  it('uses the seed survivors first, then Kubernetes-style suffixes', () => {
    const suffixes = workerSuffixes(10);
    expect(suffixes.slice(0, 4)).toEqual(['85zt7', '9f79t', 'pkmt5', 'wn4gb']);
    for (const s of suffixes.slice(4)) expect(s).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(workerSuffixes(2)).toEqual(['85zt7', '9f79t']);
  });
});

describe('resolveNode', () => {
  const nodes = planLab(5, '10.62.0.0/24').nodes;

  it('finds a node by full name, IP, suffix or prefix', () => {
    expect(resolveNode(nodes, SEED_MIG_NODE).ip).toBe('10.62.0.30');
    expect(resolveNode(nodes, '10.62.0.30').name).toBe(SEED_MIG_NODE);
    expect(resolveNode(nodes, 'bkqzq').name).toBe(SEED_MIG_NODE);
    expect(resolveNode(nodes, 'tkai-oks-md-1').name).toBe(SEED_MIG_NODE);
    expect(resolveNode(nodes, '85zt7').ip).toBe('10.62.0.10');
  });

  it('refuses an ambiguous or unknown name and lists the nodes', () => {
    expect(badInputMessage(() => resolveNode(nodes, 'tkai-oks-md-0'))).toMatch(
      /matches 4 lab nodes/,
    );
    expect(badInputMessage(() => resolveNode(nodes, 'zzzzz'))).toBe('no lab node matches "zzzzz"');
    expect(badInputMessage(() => resolveNode(nodes, ''))).toMatch(/no lab node matches/);
    expect(badInputMessage(() => resolveNode(nodes, '10.62.0.99'))).toMatch(/no lab node matches/);
  });
});
