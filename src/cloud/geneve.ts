/**
 * Does OpenStack let Geneve through between the nodes? Kube-OVN (and OVN,
 * Cilium, Antrea) tunnel pod traffic between nodes in UDP 6081; the nodes'
 * Neutron security groups filter it like any other packet, so a group that
 * allows the kubelet and NodePorts but not UDP 6081 gives a cluster whose
 * nodes are Ready while cross-node pod traffic silently dies. Pure: both
 * cloud adapters feed it the ports and groups they read.
 */
import {
  GENEVE_UDP_PORT,
  type CloudPort,
  type GenevePair,
  type GeneveReport,
  type GeneveVerdict,
  type OffendingRuleSet,
  type RuleDirection,
  type SecurityGroup,
  type SecurityGroupRule,
} from '../core/cloud.ts';

export interface GeneveServer {
  readonly id: string;
  readonly ports: readonly CloudPort[];
}

export interface GeneveOptions {
  /** Only judge ports on this network (the tunnel network); default: every shared network. */
  readonly networkId?: string;
}

interface Leg {
  readonly verdict: GeneveVerdict;
  readonly ruleId: string | null;
  readonly reason: string;
  readonly offending: readonly OffendingRuleSet[];
}

interface Path {
  readonly from: CloudPort;
  readonly to: CloudPort;
  readonly verdict: GeneveVerdict;
  readonly egress: Leg | null;
  readonly ingress: Leg | null;
  readonly reason: string;
}

const RANK: Record<GeneveVerdict, number> = { allowed: 0, unknown: 1, blocked: 2 };

function worst(verdicts: readonly GeneveVerdict[]): GeneveVerdict {
  return verdicts.reduce<GeneveVerdict>((w, v) => (RANK[v] > RANK[w] ? v : w), 'allowed');
}

/**
 * Judges every ordered pair of distinct servers. Rules:
 * - a pair is judged on each pair of their ports on a shared network (the
 *   `networkId` option narrows to one); servers that share none are judged on
 *   every pair of ports (a routed underlay);
 * - addresses: IPv4 when both ports have one, else IPv6;
 * - the packet must leave the sender (an egress rule of one of its groups)
 *   and enter the receiver (an ingress rule); a port with port security off
 *   filters nothing; a port with port security and no group drops everything;
 * - a rule matches on ethertype, protocol (`udp`/`17`, or any: null, `any`,
 *   `0`), destination port range containing 6081 (null: every port), and
 *   remote: a remote group the peer's port belongs to, a prefix containing
 *   the peer's address, or neither (anywhere);
 * - a rule with a remote address group, or a group the caller cannot see,
 *   makes an otherwise blocked leg `unknown`, never `allowed`;
 * - a pair's verdict is its worst path; the report's, its worst pair.
 */
export function judgeGeneve(
  servers: readonly GeneveServer[],
  groups: readonly SecurityGroup[],
  options: GeneveOptions = {},
): GeneveReport {
  const byId = new Map(groups.map((g) => [g.id, g]));
  const pairs: GenevePair[] = [];
  for (const from of servers) {
    for (const to of servers) {
      if (from.id !== to.id) pairs.push(judgePair(from, to, byId, options));
    }
  }
  return {
    udpPort: GENEVE_UDP_PORT,
    verdict: worst(pairs.map((p) => p.verdict)),
    pairs,
  };
}

function judgePair(
  from: GeneveServer,
  to: GeneveServer,
  groups: ReadonlyMap<string, SecurityGroup>,
  options: GeneveOptions,
): GenevePair {
  const empty = from.ports.length === 0 ? from : to.ports.length === 0 ? to : null;
  if (empty !== null) {
    return unknownPair(from, to, `server ${empty.id} has no Neutron port`);
  }
  const onNetwork = (p: CloudPort): boolean =>
    options.networkId === undefined || p.networkId === options.networkId;
  const candidates: [CloudPort, CloudPort][] = [];
  for (const a of from.ports.filter(onNetwork)) {
    for (const b of to.ports.filter(onNetwork)) {
      if (a.networkId === b.networkId) candidates.push([a, b]);
    }
  }
  if (candidates.length === 0) {
    if (options.networkId !== undefined) {
      return unknownPair(
        from,
        to,
        `servers ${from.id} and ${to.id} do not both have a port on network ${options.networkId}`,
      );
    }
    for (const a of from.ports) for (const b of to.ports) candidates.push([a, b]);
  }
  const paths = candidates.map(([a, b]) => judgePath(a, b, groups));
  const verdict = worst(paths.map((p) => p.verdict));
  const path = paths.find((p) => p.verdict === verdict) ?? paths[0];
  if (path === undefined) return unknownPair(from, to, 'no port to judge');
  return {
    from: from.id,
    to: to.id,
    verdict,
    fromPortId: path.from.id,
    toPortId: path.to.id,
    egressRuleId: path.egress?.ruleId ?? null,
    ingressRuleId: path.ingress?.ruleId ?? null,
    reason: path.reason,
    offending:
      verdict === 'allowed'
        ? []
        : [...(path.egress?.offending ?? []), ...(path.ingress?.offending ?? [])],
  };
}

function unknownPair(from: GeneveServer, to: GeneveServer, reason: string): GenevePair {
  return {
    from: from.id,
    to: to.id,
    verdict: 'unknown',
    fromPortId: null,
    toPortId: null,
    egressRuleId: null,
    ingressRuleId: null,
    reason,
    offending: [],
  };
}

function judgePath(
  from: CloudPort,
  to: CloudPort,
  groups: ReadonlyMap<string, SecurityGroup>,
): Path {
  const addresses = pickAddresses(from, to);
  if (addresses === null) {
    return {
      from,
      to,
      verdict: 'unknown',
      egress: null,
      ingress: null,
      reason: `ports ${from.id} and ${to.id} have no address family in common`,
    };
  }
  const { family, fromIp, toIp } = addresses;
  const egress = judgeLeg('egress', from, family, toIp, to.securityGroupIds, groups);
  const ingress = judgeLeg('ingress', to, family, fromIp, from.securityGroupIds, groups);
  const verdict = worst([egress.verdict, ingress.verdict]);
  const legs = [egress, ingress].filter((l) => l.verdict === verdict);
  const reason =
    verdict === 'allowed'
      ? `${fromIp} → ${toIp} UDP ${GENEVE_UDP_PORT}: ${egress.reason}; ${ingress.reason}`
      : `${fromIp} → ${toIp} UDP ${GENEVE_UDP_PORT}: ${legs.map((l) => l.reason).join('; ')}`;
  return { from, to, verdict, egress, ingress, reason };
}

function pickAddresses(
  from: CloudPort,
  to: CloudPort,
): { family: 'IPv4' | 'IPv6'; fromIp: string; toIp: string } | null {
  for (const family of ['IPv4', 'IPv6'] as const) {
    const fromIp = from.fixedIps.find((f) => familyOf(f.ipAddress) === family)?.ipAddress;
    const toIp = to.fixedIps.find((f) => familyOf(f.ipAddress) === family)?.ipAddress;
    if (fromIp !== undefined && toIp !== undefined) return { family, fromIp, toIp };
  }
  return null;
}

function judgeLeg(
  direction: RuleDirection,
  port: CloudPort,
  family: 'IPv4' | 'IPv6',
  peerIp: string,
  peerGroupIds: readonly string[],
  groups: ReadonlyMap<string, SecurityGroup>,
): Leg {
  const where = direction === 'egress' ? `out of port ${port.id}` : `into port ${port.id}`;
  if (!port.portSecurityEnabled) {
    return {
      verdict: 'allowed',
      ruleId: null,
      reason: `port security is off ${where}`,
      offending: [],
    };
  }
  if (port.securityGroupIds.length === 0) {
    return {
      verdict: 'blocked',
      ruleId: null,
      reason: `port ${port.id} has port security on and no security group: Neutron drops everything`,
      offending: [],
    };
  }
  const visible: SecurityGroup[] = [];
  const hidden: string[] = [];
  for (const id of port.securityGroupIds) {
    const group = groups.get(id);
    if (group === undefined) hidden.push(id);
    else visible.push(group);
  }
  const unresolved: string[] = [];
  for (const group of visible) {
    for (const rule of group.rules) {
      if (rule.direction !== direction) continue;
      const match = ruleMatches(rule, family, peerIp, peerGroupIds);
      if (match === 'match') {
        const peer = direction === 'egress' ? `out to ${peerIp}` : `in from ${peerIp}`;
        return {
          verdict: 'allowed',
          ruleId: rule.id,
          reason: `rule ${rule.id} of group ${group.name} lets it ${peer}`,
          offending: [],
        };
      }
      if (match === 'unresolved') unresolved.push(rule.id);
    }
  }
  const offending = visible.map((g) => ({
    groupId: g.id,
    groupName: g.name,
    direction,
    rules: g.rules.filter((r) => r.direction === direction),
  }));
  const names = visible.map((g) => g.name).join(', ');
  const peer = direction === 'egress' ? `to ${peerIp}` : `from ${peerIp}`;
  if (hidden.length > 0 || unresolved.length > 0) {
    const why = [
      hidden.length > 0 ? `security groups ${hidden.join(', ')} are not visible` : '',
      unresolved.length > 0 ? `rules ${unresolved.join(', ')} use remote address groups` : '',
    ]
      .filter(Boolean)
      .join(' and ');
    return {
      verdict: 'unknown',
      ruleId: null,
      reason: `no visible ${direction} rule ${where} allows UDP ${GENEVE_UDP_PORT} ${peer}, but ${why}`,
      offending,
    };
  }
  return {
    verdict: 'blocked',
    ruleId: null,
    reason: `no ${direction} rule in ${names || 'its groups'} allows UDP ${GENEVE_UDP_PORT} ${peer} (${where})`,
    offending,
  };
}

function ruleMatches(
  rule: SecurityGroupRule,
  family: 'IPv4' | 'IPv6',
  peerIp: string,
  peerGroupIds: readonly string[],
): 'match' | 'no' | 'unresolved' {
  if (rule.ethertype !== family) return 'no';
  const protocol = rule.protocol?.toLowerCase() ?? null;
  const anyProtocol = protocol === null || protocol === 'any' || protocol === '0';
  if (!anyProtocol && protocol !== 'udp' && protocol !== '17') return 'no';
  if (!anyProtocol && rule.portRangeMin !== null) {
    const max = rule.portRangeMax ?? rule.portRangeMin;
    if (GENEVE_UDP_PORT < rule.portRangeMin || GENEVE_UDP_PORT > max) return 'no';
  }
  if (rule.remoteGroupId !== null)
    return peerGroupIds.includes(rule.remoteGroupId) ? 'match' : 'no';
  if (rule.remoteAddressGroupId !== null) return 'unresolved';
  if (rule.remoteIpPrefix !== null)
    return cidrContains(rule.remoteIpPrefix, peerIp) ? 'match' : 'no';
  return 'match';
}

function familyOf(ip: string): 'IPv4' | 'IPv6' | null {
  if (parseIpv4(ip) !== null) return 'IPv4';
  if (parseIpv6(ip) !== null) return 'IPv6';
  return null;
}

/** Whether `ip` lies in `cidr` (a bare address is a /32 or /128); false across families or on junk. */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base = '', bitsText] = cidr.split('/');
  const v4 = parseIpv4(base);
  const family = v4 !== null ? 4 : 6;
  const width = family === 4 ? 32 : 128;
  const net = v4 ?? parseIpv6(base);
  const addr = family === 4 ? parseIpv4(ip) : parseIpv6(ip);
  if (net === null || addr === null) return false;
  const bits = bitsText === undefined ? width : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > width) return false;
  const shift = BigInt(width - bits);
  return net >> shift === addr >> shift;
}

function parseIpv4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function parseIpv6(text: string): bigint | null {
  const address = text.split('%')[0] ?? '';
  if (!address.includes(':')) return null;
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string | undefined): number[] | null => {
    if (half === undefined || half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIpv4(part);
        if (v4 === null) return null;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-f]{1,4}$/i.test(part)) return null;
        out.push(parseInt(part, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array<number>(halves.length === 1 ? 0 : missing).fill(0), ...tail];
  return all.reduce((v, g) => (v << 16n) | BigInt(g), 0n);
}
