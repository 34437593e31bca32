import { badInput } from '../core/errors.ts';

/**
 * The lab's plan, drawn from the 2025-08-25 seed: which nodes exist, what they
 * are called, which address each gets. Pure, so `lab up` and the tests agree
 * on names without a running lab.
 */

export type NodeRole = 'mig' | 'worker';

export interface PlannedNode {
  readonly name: string;
  readonly role: NodeRole;
  /** `nw-<name>`. */
  readonly namespace: string;
  readonly ip: string;
  /** The hub-side end of the node's veth pair (≤ 15 chars); the node side is `eth0`. */
  readonly hubVeth: string;
}

export interface LabPlan {
  /** Canonical `a.b.c.d/len`. */
  readonly subnet: string;
  readonly prefixLength: number;
  readonly hub: { readonly namespace: string; readonly bridge: string; readonly ip: string };
  readonly gateway: string;
  /** The MIG node first, then workers in address order. */
  readonly nodes: readonly PlannedNode[];
}

export const HUB_NAMESPACE = 'nw-hub';
export const BRIDGE = 'nwbr0';
export const NAMESPACE_PREFIX = 'nw-';
export const NODE_INTERFACE = 'eth0';
export const DEFAULT_SUBNET = '10.62.0.0/24';
export const DEFAULT_NODES = 5;
export const MIN_NODES = 2;
export const MAX_NODES = 64;

/** The seed's failed node (node-role: mig, 10.62.0.30). */
export const SEED_MIG_NODE = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';
export const SEED_WORKER_PREFIX = 'tkai-oks-md-0-193cfbbbb78b-5gblf-';
/** The four nodes that took the seed's evicted pods, in the report's order. */
export const SEED_WORKER_SUFFIXES: readonly string[] = ['85zt7', '9f79t', 'pkmt5', 'wn4gb'];

const HUB_OFFSET = 1;
const MIG_OFFSET = 30;
const FIRST_WORKER_OFFSET = 10;
const MAX_LINK_NAME = 15;

/**
 * Kubernetes' own random-suffix alphabet (`utilrand`): no vowels, no 0/1/3,
 * so generated names look like the machine names a cluster really has.
 */
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export interface ParsedSubnet {
  /** The network address as a 32-bit unsigned number. */
  readonly base: number;
  readonly prefixLength: number;
  /** Number of addresses, network and broadcast included. */
  readonly size: number;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

/** Parses a dotted IPv4 address strictly (no leading zeros, four octets); null if it is not one. */
export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/**
 * Parses the `--subnet` flag. Rules:
 * - IPv4 CIDR `a.b.c.d/len` with len from 16 to 28 (smaller subnets cannot
 *   hold the hub and two nodes at the seed's offsets; larger ones are a typo);
 * - the address must be the network address, so the plan is unambiguous.
 */
export function parseSubnet(text: string): ParsedSubnet {
  const hint = `pass an IPv4 network from /16 to /28, e.g. --subnet ${DEFAULT_SUBNET}`;
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  const base = match?.[1] === undefined ? null : parseIpv4(match[1]);
  if (match === null || base === null) {
    throw badInput(`--subnet "${text}" is not an IPv4 CIDR like ${DEFAULT_SUBNET}`, hint);
  }
  const prefixLength = Number(match[2]);
  if (prefixLength < 16 || prefixLength > 28) {
    throw badInput(
      `--subnet "${text}" has prefix /${prefixLength}; the lab needs /16 to /28`,
      hint,
    );
  }
  const size = 2 ** (32 - prefixLength);
  const network = base - (base % size);
  if (network !== base) {
    throw badInput(
      `--subnet "${text}" is not a network address (host bits are set)`,
      `use its network address: --subnet ${formatIpv4(network)}/${prefixLength}`,
    );
  }
  return { base, prefixLength, size };
}

/**
 * Host offsets inside the subnet for `count` nodes. Rules:
 * - the hub (and later the API server) is `.1`;
 * - the MIG node sits at the seed's `.30` when the subnet holds it;
 * - workers take `.10`, `.11`, … and skip `.30`;
 * - in a subnet too small for `.30` (a /28) the MIG node takes the first
 *   worker offset instead;
 * - the last offset must leave the broadcast address free.
 */
export function nodeOffsets(count: number, size: number): { mig: number; workers: number[] } {
  const lastUsable = size - 2;
  const migAtSeed = MIG_OFFSET <= lastUsable;
  const mig = migAtSeed ? MIG_OFFSET : FIRST_WORKER_OFFSET;
  const workers: number[] = [];
  let next = migAtSeed ? FIRST_WORKER_OFFSET : FIRST_WORKER_OFFSET + 1;
  while (workers.length < count - 1) {
    if (next !== mig) workers.push(next);
    next += 1;
  }
  return { mig, workers };
}

/** Deterministic 32-bit generator (mulberry32): the same index gives the same suffix. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Worker name suffixes: the seed's four survivors first, then generated ones, all distinct. */
export function workerSuffixes(count: number): string[] {
  const taken = new Set<string>(['bkqzq']);
  const suffixes: string[] = [];
  for (const seed of SEED_WORKER_SUFFIXES) {
    if (suffixes.length === count) return suffixes;
    suffixes.push(seed);
    taken.add(seed);
  }
  const next = generator(0x6e770000);
  while (suffixes.length < count) {
    let suffix = '';
    for (let i = 0; i < 5; i += 1) {
      suffix += SUFFIX_ALPHABET[Math.floor(next() * SUFFIX_ALPHABET.length)] ?? 'b';
    }
    if (taken.has(suffix)) continue;
    taken.add(suffix);
    suffixes.push(suffix);
  }
  return suffixes;
}

/** The short, unique tail of a node name (`bkqzq`), used for link names. */
export function nodeSuffix(name: string): string {
  return name.slice(name.lastIndexOf('-') + 1);
}

/**
 * The whole lab plan for `count` nodes on `subnet`; throws BAD_INPUT naming
 * the flag when the count is out of range or the subnet has no room.
 */
export function planLab(count: number, subnetText: string): LabPlan {
  if (!Number.isInteger(count) || count < MIN_NODES || count > MAX_NODES) {
    throw badInput(
      `--nodes ${count} is out of range: the lab runs ${MIN_NODES} to ${MAX_NODES} nodes`,
      `pass e.g. --nodes ${DEFAULT_NODES}`,
    );
  }
  const subnet = parseSubnet(subnetText);
  const { mig, workers } = nodeOffsets(count, subnet.size);
  const highest = Math.max(mig, ...workers);
  if (highest > subnet.size - 2) {
    const fits = Math.max(0, subnet.size - 2 - FIRST_WORKER_OFFSET + 1);
    throw badInput(
      `--subnet ${subnetText} has no room for ${count} nodes (they need addresses up to .${highest} of the subnet)`,
      `use a larger subnet (e.g. --subnet ${DEFAULT_SUBNET}) or at most --nodes ${fits}`,
    );
  }
  const address = (offset: number): string => formatIpv4(subnet.base + offset);
  const node = (name: string, role: NodeRole, offset: number): PlannedNode => {
    const hubVeth = `nwh-${nodeSuffix(name)}`;
    if (hubVeth.length > MAX_LINK_NAME) throw new Error(`link name ${hubVeth} is too long`);
    return { name, role, namespace: NAMESPACE_PREFIX + name, ip: address(offset), hubVeth };
  };
  const suffixes = workerSuffixes(count - 1);
  const nodes = [
    node(SEED_MIG_NODE, 'mig', mig),
    ...workers.map((offset, i) => node(SEED_WORKER_PREFIX + (suffixes[i] ?? ''), 'worker', offset)),
  ];
  const hubIp = address(HUB_OFFSET);
  return {
    subnet: `${formatIpv4(subnet.base)}/${subnet.prefixLength}`,
    prefixLength: subnet.prefixLength,
    hub: { namespace: HUB_NAMESPACE, bridge: BRIDGE, ip: hubIp },
    gateway: hubIp,
    nodes,
  };
}

export interface NamedNode {
  readonly name: string;
  readonly ip: string;
}

/**
 * Finds a node by what a person types. Rules, in order:
 * - the full name or the IP address;
 * - otherwise a unique prefix or suffix of the name (`bkqzq`, `tkai-oks-md-1`).
 * No match and an ambiguous match are BAD_INPUT listing the candidates.
 */
export function resolveNode<N extends NamedNode>(nodes: readonly N[], query: string): N {
  const exact = nodes.find((n) => n.name === query || n.ip === query);
  if (exact) return exact;
  const matches = query
    ? nodes.filter((n) => n.name.startsWith(query) || n.name.endsWith(query))
    : [];
  const [only, second] = matches;
  if (only !== undefined && second === undefined) return only;
  const list = (ns: readonly N[]): string =>
    ns.map((n) => `${nodeSuffix(n.name)} (${n.ip})`).join(', ');
  if (only === undefined) {
    throw badInput(
      `no lab node matches "${query}"`,
      `name a node by full name, unique prefix/suffix or IP: ${list(nodes)}`,
    );
  }
  throw badInput(
    `"${query}" matches ${matches.length} lab nodes: ${list(matches)}`,
    'give more of the name, or the IP',
  );
}
