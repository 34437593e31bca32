import { describe, expect, it } from 'vitest';
import type { CloudPort, SecurityGroup, SecurityGroupRule } from '../core/cloud.ts';
import { cidrContains, judgeGeneve, type GeneveServer } from './geneve.ts';

let ruleSeq = 0;
function rule(over: Partial<SecurityGroupRule>): SecurityGroupRule {
  ruleSeq += 1;
  return {
    id: `r${ruleSeq}`,
    direction: 'ingress',
    ethertype: 'IPv4',
    protocol: 'udp',
    portRangeMin: 6081,
    portRangeMax: 6081,
    remoteIpPrefix: null,
    remoteGroupId: null,
    remoteAddressGroupId: null,
    ...over,
  };
}

const EGRESS_ALL = (): SecurityGroupRule[] => [
  rule({
    id: 'egress-v4',
    direction: 'egress',
    protocol: null,
    portRangeMin: null,
    portRangeMax: null,
  }),
  rule({
    id: 'egress-v6',
    direction: 'egress',
    ethertype: 'IPv6',
    protocol: null,
    portRangeMin: null,
    portRangeMax: null,
  }),
];

function group(id: string, rules: SecurityGroupRule[]): SecurityGroup {
  return { id, name: `sg-${id}`, rules };
}

function port(
  server: string,
  ips: string[],
  groups: string[],
  over: Partial<CloudPort> = {},
): CloudPort {
  return {
    id: `port-${server}`,
    name: '',
    deviceId: server,
    networkId: 'net-a',
    macAddress: 'fa:16:3e:00:00:00',
    status: 'ACTIVE',
    adminStateUp: true,
    bindingHost: null,
    vifType: 'ovs',
    fixedIps: ips.map((ipAddress) => ({ ipAddress, subnetId: 's' })),
    securityGroupIds: groups,
    portSecurityEnabled: true,
    ...over,
  };
}

const server = (id: string, ...ports: CloudPort[]): GeneveServer => ({ id, ports });

function verdicts(servers: GeneveServer[], groups: SecurityGroup[], networkId?: string): string[] {
  const report = judgeGeneve(servers, groups, networkId === undefined ? {} : { networkId });
  return report.pairs.map((p) => `${p.from}>${p.to}:${p.verdict}`);
}

describe('judgeGeneve', () => {
  it('allows by a remote group both ports are in, and names the rules', () => {
    const sg = group('nodes', [...EGRESS_ALL(), rule({ id: 'geneve', remoteGroupId: 'nodes' })]);
    const report = judgeGeneve(
      [
        server('a', port('a', ['10.0.0.1'], ['nodes'])),
        server('b', port('b', ['10.0.0.2'], ['nodes'])),
      ],
      [sg],
    );
    expect(report.verdict).toBe('allowed');
    expect(report.pairs[0]).toMatchObject({
      from: 'a',
      to: 'b',
      egressRuleId: 'egress-v4',
      ingressRuleId: 'geneve',
    });
    expect(report.pairs[0]?.reason).toBe(
      '10.0.0.1 → 10.0.0.2 UDP 6081: rule egress-v4 of group sg-nodes lets it out to 10.0.0.2; rule geneve of group sg-nodes lets it in from 10.0.0.1',
    );
  });

  it('a remote group the sender is not in does not match', () => {
    const groups = [
      group('a', [...EGRESS_ALL(), rule({ remoteGroupId: 'a' })]),
      group('b', [...EGRESS_ALL(), rule({ remoteGroupId: 'a' })]),
    ];
    expect(
      verdicts(
        [server('a', port('a', ['10.0.0.1'], ['a'])), server('b', port('b', ['10.0.0.2'], ['b']))],
        groups,
      ),
    ).toEqual(['a>b:allowed', 'b>a:blocked']);
  });

  it('matches protocol any (null, "any", "0") and udp by number, and port ranges around 6081', () => {
    for (const [r, expected] of [
      [rule({ protocol: null, portRangeMin: null, portRangeMax: null }), 'allowed'],
      [rule({ protocol: 'any', portRangeMin: null, portRangeMax: null }), 'allowed'],
      [rule({ protocol: '0', portRangeMin: null, portRangeMax: null }), 'allowed'],
      [rule({ protocol: '17' }), 'allowed'],
      [rule({ protocol: 'UDP' }), 'allowed'],
      [rule({ portRangeMin: 1, portRangeMax: 65535 }), 'allowed'],
      [rule({ portRangeMin: null, portRangeMax: null }), 'allowed'],
      [rule({ portRangeMin: 6081, portRangeMax: null }), 'allowed'],
      [rule({ protocol: 'tcp' }), 'blocked'],
      [rule({ protocol: '6' }), 'blocked'],
      [rule({ portRangeMin: 4789, portRangeMax: 4789 }), 'blocked'],
      [rule({ portRangeMin: 6082, portRangeMax: 7000 }), 'blocked'],
      [rule({ ethertype: 'IPv6' }), 'blocked'],
      [rule({ direction: 'egress' }), 'blocked'],
    ] as const) {
      const groups = [group('g', [...EGRESS_ALL(), r])];
      const [, backwards] = verdicts(
        [server('a', port('a', ['10.0.0.1'], ['g'])), server('b', port('b', ['10.0.0.2'], ['g']))],
        groups,
      );
      expect([
        r.protocol,
        r.portRangeMin,
        r.portRangeMax,
        r.ethertype,
        r.direction,
        backwards,
      ]).toEqual([
        r.protocol,
        r.portRangeMin,
        r.portRangeMax,
        r.ethertype,
        r.direction,
        `b>a:${expected}`,
      ]);
    }
  });

  it('matches remote prefixes by CIDR (the sender 10.62.1.7 into 10.62.0.30)', () => {
    const at = (prefix: string): string => {
      const groups = [group('g', [...EGRESS_ALL(), rule({ remoteIpPrefix: prefix })])];
      const servers = [
        server('a', port('a', ['10.62.0.30'], ['g'])),
        server('b', port('b', ['10.62.1.7'], ['g'])),
      ];
      return verdicts(servers, groups)[1] ?? '';
    };
    expect(at('10.62.0.0/16')).toBe('b>a:allowed');
    expect(at('10.62.0.0/24')).toBe('b>a:blocked');
    expect(at('10.62.1.7/32')).toBe('b>a:allowed');
    expect(at('10.62.1.7')).toBe('b>a:allowed');
    expect(at('10.62.1.8/32')).toBe('b>a:blocked');
    expect(at('0.0.0.0/0')).toBe('b>a:allowed');
  });

  it('egress matters too: a group with no egress rule blocks the sender', () => {
    const groups = [group('quiet', [rule({})]), group('open', [...EGRESS_ALL(), rule({})])];
    const report = judgeGeneve(
      [
        server('a', port('a', ['10.0.0.1'], ['quiet'])),
        server('b', port('b', ['10.0.0.2'], ['open'])),
      ],
      groups,
    );
    expect(report.pairs[0]).toMatchObject({
      from: 'a',
      verdict: 'blocked',
      egressRuleId: null,
      ingressRuleId: expect.any(String) as string,
    });
    expect(report.pairs[0]?.offending.map((o) => [o.groupId, o.direction])).toEqual([
      ['quiet', 'egress'],
    ]);
    expect(report.pairs[0]?.reason).toContain(
      'no egress rule in sg-quiet allows UDP 6081 to 10.0.0.2',
    );
  });

  it('port security off filters nothing; port security on with no group drops everything', () => {
    const open = port('a', ['10.0.0.1'], [], { portSecurityEnabled: false });
    const closed = port('b', ['10.0.0.2'], []);
    const report = judgeGeneve([server('a', open), server('b', closed)], []);
    expect(report.pairs.map((p) => p.verdict)).toEqual(['blocked', 'blocked']);
    expect(report.pairs[0]?.reason).toContain(
      'port port-b has port security on and no security group',
    );
    const both = judgeGeneve(
      [server('a', open), server('b', { ...closed, portSecurityEnabled: false })],
      [],
    );
    expect(both.verdict).toBe('allowed');
    expect(both.pairs[0]?.reason).toContain('port security is off');
  });

  it('a group it cannot see, or a remote address group, makes a miss unknown, not blocked', () => {
    const hidden = judgeGeneve(
      [
        server('a', port('a', ['10.0.0.1'], ['g'])),
        server('b', port('b', ['10.0.0.2'], ['g', 'secret'])),
      ],
      [group('g', EGRESS_ALL())],
    );
    expect(hidden.pairs.find((p) => p.to === 'b')).toMatchObject({ verdict: 'unknown' });
    expect(hidden.pairs.find((p) => p.to === 'b')?.reason).toContain(
      'security groups secret are not visible',
    );
    const addressGroup = judgeGeneve(
      [server('a', port('a', ['10.0.0.1'], ['g'])), server('b', port('b', ['10.0.0.2'], ['g']))],
      [group('g', [...EGRESS_ALL(), rule({ id: 'ag', remoteAddressGroupId: 'nodes-ag' })])],
    );
    expect(addressGroup.verdict).toBe('unknown');
    expect(addressGroup.pairs[0]?.reason).toContain('rules ag use remote address groups');
    // … but a rule that does match still allows.
    const matched = judgeGeneve(
      [
        server('a', port('a', ['10.0.0.1'], ['g'])),
        server('b', port('b', ['10.0.0.2'], ['g', 'secret'])),
      ],
      [group('g', [...EGRESS_ALL(), rule({})])],
    );
    expect(matched.verdict).toBe('allowed');
  });

  it('IPv6-only nodes are judged on IPv6 rules', () => {
    const groups = [
      group('g', [...EGRESS_ALL(), rule({ ethertype: 'IPv6', remoteIpPrefix: 'fd00:62::/64' })]),
    ];
    expect(
      verdicts(
        [
          server('a', port('a', ['fd00:62::a'], ['g'])),
          server('b', port('b', ['fd00:62::b'], ['g'])),
        ],
        groups,
      ),
    ).toEqual(['a>b:allowed', 'b>a:allowed']);
    const mixed = judgeGeneve(
      [server('a', port('a', ['10.0.0.1'], ['g'])), server('b', port('b', ['fd00:62::b'], ['g']))],
      groups,
    );
    expect(mixed.pairs[0]).toMatchObject({ verdict: 'unknown' });
    expect(mixed.pairs[0]?.reason).toContain('no address family in common');
  });

  it('judges ports on shared networks; a second network that blocks makes the pair blocked unless narrowed', () => {
    const groups = [group('g', [...EGRESS_ALL(), rule({})]), group('storage', EGRESS_ALL())];
    const servers = [
      server(
        'a',
        port('a', ['10.0.0.1'], ['g']),
        port('a', ['192.168.0.1'], ['storage'], { id: 'a-storage', networkId: 'net-storage' }),
      ),
      server(
        'b',
        port('b', ['10.0.0.2'], ['g']),
        port('b', ['192.168.0.2'], ['storage'], { id: 'b-storage', networkId: 'net-storage' }),
      ),
    ];
    const report = judgeGeneve(servers, groups);
    expect(report.pairs[0]).toMatchObject({
      verdict: 'blocked',
      fromPortId: 'a-storage',
      toPortId: 'b-storage',
    });
    expect(verdicts(servers, groups, 'net-a')).toEqual(['a>b:allowed', 'b>a:allowed']);
    expect(judgeGeneve(servers, groups, { networkId: 'net-z' }).pairs[0]?.reason).toContain(
      'do not both have a port on network net-z',
    );
  });

  it('servers on different networks are judged port to port (a routed underlay)', () => {
    const groups = [group('g', [...EGRESS_ALL(), rule({ remoteIpPrefix: '10.0.0.0/8' })])];
    expect(
      verdicts(
        [
          server('a', port('a', ['10.1.0.1'], ['g'])),
          server('b', port('b', ['10.2.0.1'], ['g'], { networkId: 'net-b' })),
        ],
        groups,
      ),
    ).toEqual(['a>b:allowed', 'b>a:allowed']);
  });
});

describe('cidrContains', () => {
  it('IPv4 and IPv6, bare addresses, across families, junk', () => {
    expect(cidrContains('10.62.0.0/24', '10.62.0.255')).toBe(true);
    expect(cidrContains('10.62.0.0/24', '10.62.1.0')).toBe(false);
    expect(cidrContains('10.62.0.30', '10.62.0.30')).toBe(true);
    expect(cidrContains('0.0.0.0/0', '203.0.113.9')).toBe(true);
    expect(cidrContains('fd00:62::/64', 'fd00:62::1:2')).toBe(true);
    expect(cidrContains('fd00:62::/64', 'fd00:63::1')).toBe(false);
    expect(cidrContains('::/0', '2001:db8::1')).toBe(true);
    expect(cidrContains('::ffff:10.0.0.0/120', '::ffff:10.0.0.7')).toBe(true);
    expect(cidrContains('10.0.0.0/8', 'fd00::1')).toBe(false);
    expect(cidrContains('fd00::/8', '10.0.0.1')).toBe(false);
    expect(cidrContains('10.0.0.0/33', '10.0.0.1')).toBe(false);
    expect(cidrContains('10.0.0.0/8', '10.0.0.256')).toBe(false);
    expect(cidrContains('1::2::3/64', '1::3')).toBe(false);
  });
});
