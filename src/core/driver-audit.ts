/**
 * The driver compatibility audit: from each agent's inventory (kernel,
 * NVIDIA driver, GSP firmware, NIC drivers, OVS/OVN), the fleet's
 * combinations, the nodes that differ from the rest of their pool, and the
 * nodes whose versions are on a known-bad list. Pure: the CLI reads the
 * inventories (store last words of kind `inventory`) and the list (a JSON
 * data file) and hands them in.
 */
import { badInput } from './errors.ts';

/** The parts of a node's software stack that the audit compares. */
export const DRIVER_COMPONENTS = [
  'kernel',
  'nvidiaDriver',
  'gspFirmware',
  'nicDrivers',
  'ovs',
  'ovn',
] as const;
export type DriverComponent = (typeof DRIVER_COMPONENTS)[number];

export const COMPONENT_LABEL: Readonly<Record<DriverComponent, string>> = {
  kernel: 'kernel',
  nvidiaDriver: 'NVIDIA driver',
  gspFirmware: 'GSP firmware',
  nicDrivers: 'NIC drivers',
  ovs: 'OVS',
  ovn: 'OVN',
};

/** One value per component; null when the node does not have it or the agent could not read it. */
export type DriverStack = Readonly<Record<DriverComponent, string | null>>;

export interface NodeInventory {
  readonly node: string;
  /** When the agent read it (the last-words blob's time). */
  readonly at: string;
  readonly pool: string;
  readonly stack: DriverStack;
  /** What the agent could not read, as it said. */
  readonly errors: readonly string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(str).filter((s): s is string => s !== null) : [];

/** `ovs-vswitchd (Open vSwitch) 3.1.0` → `3.1.0`; the text itself when it holds no version. */
function programVersion(line: string | null): string | null {
  if (line === null) return null;
  return /\b(\d+\.\d+(?:\.\d+)?)\b/.exec(line)?.[1] ?? line;
}

/**
 * Reads an agent's inventory blob (src/agent/host-facts.ts `Inventory`, as
 * JSON). Fields that are missing or of the wrong type read as null, so an
 * older or newer agent still gives what it has. GSP firmware and NIC drivers
 * are the distinct values over all GPUs / interfaces, sorted, joined by ", ".
 * "N/A" GSP firmware (nvidia-smi's word for GSP off) reads as null.
 */
export function inventoryFromLastWords(
  node: string,
  at: string,
  data: unknown,
  pool: string = poolOf(node),
): NodeInventory {
  const d = isRecord(data) ? data : {};
  const kernel = isRecord(d['kernel']) ? d['kernel'] : {};
  const nvidia = isRecord(d['nvidia']) ? d['nvidia'] : {};
  const gsp = [...new Set(strings(nvidia['gspFirmware']).filter((v) => v !== 'N/A'))].sort();
  const nics = isRecord(d['nicDrivers']) ? d['nicDrivers'] : {};
  const nicList = [
    ...new Set(
      Object.values(nics).flatMap((n) => {
        if (!isRecord(n)) return [];
        const driver = str(n['driver']);
        if (driver === null) return [];
        const version = str(n['version']);
        return [version === null ? driver : `${driver} ${version}`];
      }),
    ),
  ].sort();
  return {
    node,
    at,
    pool,
    stack: {
      kernel: str(kernel['release']),
      nvidiaDriver: str(nvidia['driverVersion']),
      gspFirmware: gsp.length === 0 ? null : gsp.join(', '),
      nicDrivers: nicList.length === 0 ? null : nicList.join(', '),
      ovs: programVersion(str(d['ovs'])),
      ovn: programVersion(str(d['ovn'])),
    },
    errors: strings(d['errors']),
  };
}

/**
 * A node's pool from its name, for clusters whose node names are machine
 * names: Cluster API's `<cluster>-<machine deployment>-<hash>-<random>[-<random>]`
 * (`tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq` → `tkai-oks-md-1`). Rules: drop
 * trailing segments of exactly 5 lowercase letters/digits containing a digit
 * or none of a/e/i/o/u (the random suffixes Kubernetes generates), then one
 * trailing hex hash of 8–16 characters. A name with nothing to drop is its
 * own pool.
 */
export function poolOf(node: string): string {
  const parts = node.split('-');
  const generated = (s: string) => /^[a-z0-9]{5}$/.test(s) && (/\d/.test(s) || !/[aeiou]/.test(s));
  while (parts.length > 1 && generated(parts[parts.length - 1] ?? '')) parts.pop();
  if (parts.length > 1 && /^[0-9a-f]{8,16}$/.test(parts[parts.length - 1] ?? '')) parts.pop();
  return parts.join('-');
}

/**
 * Orders versions segment by segment: runs of digits compare as numbers,
 * anything else as text (`525.85.12` < `525.105.17`, `5.15.0-91` < `5.15.0-105`).
 * A version that is a prefix of the other is older (`525.105` < `525.105.17`).
 */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => v.split(/[.\-+_~ ]/).filter((s) => s !== '');
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < Math.max(x.length, y.length); i += 1) {
    const p = x[i];
    const q = y[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (/^\d+$/.test(p) && /^\d+$/.test(q)) {
      const d = Number(p) - Number(q);
      if (d !== 0) return Math.sign(d);
    } else if (p !== q) {
      return p < q ? -1 : 1;
    }
  }
  return 0;
}

export interface KnownBadSource {
  readonly title: string;
  readonly url: string;
  /** What the source says, in short, for the reader to check against it. */
  readonly says: string;
}

/** One entry of the known-bad list (data/known-bad-drivers.json). */
export interface KnownBadEntry {
  readonly id: string;
  readonly title: string;
  readonly severity: 'critical' | 'warning';
  readonly component: DriverComponent;
  /** Affected from this version (inclusive); absent: every version below `fixedIn`. */
  readonly from?: string;
  /** First version without the problem (exclusive bound); absent: no fix known. */
  readonly fixedIn?: string;
  /** For `nicDrivers`: the kernel module the entry is about (e.g. `mlx5_core`); required there. */
  readonly driver?: string;
  /** Extra condition: `gsp-enabled` — only nodes that report a GSP firmware version. */
  readonly when?: 'gsp-enabled';
  readonly symptom: string;
  readonly fix: string;
  readonly sources: readonly KnownBadSource[];
}

function field(entry: Record<string, unknown>, name: string, where: string): string {
  const v = entry[name];
  if (typeof v !== 'string' || v.trim() === '') {
    throw badInput(`${where}: "${name}" must be a non-empty string`, 'fix the known-bad list');
  }
  return v;
}

function optional(entry: Record<string, unknown>, name: string, where: string): string | undefined {
  return entry[name] === undefined ? undefined : field(entry, name, where);
}

/**
 * Checks a parsed known-bad list: `{ "entries": [...] }`, every entry with an
 * id, title, severity, component, a version bound, a symptom, a fix and at
 * least one source with a URL. BAD_INPUT names the entry and the field.
 */
export function parseKnownBadList(json: unknown, origin: string): KnownBadEntry[] {
  const entries = isRecord(json) ? json['entries'] : undefined;
  if (!Array.isArray(entries)) {
    throw badInput(
      `${origin}: no "entries" array`,
      'the file must be {"entries": [...]}; see data/known-bad-drivers.json',
    );
  }
  const seen = new Set<string>();
  return entries.map((raw, i) => {
    const where = `${origin}: entries[${i}]`;
    if (!isRecord(raw)) throw badInput(`${where} is not an object`, 'fix the known-bad list');
    const id = field(raw, 'id', where);
    if (seen.has(id))
      throw badInput(`${where}: id "${id}" appears twice`, 'give each entry its own id');
    seen.add(id);
    const severity = field(raw, 'severity', where);
    if (severity !== 'critical' && severity !== 'warning') {
      throw badInput(
        `${where}: severity "${severity}" is not critical or warning`,
        'fix the known-bad list',
      );
    }
    const component = field(raw, 'component', where);
    if (!(DRIVER_COMPONENTS as readonly string[]).includes(component)) {
      throw badInput(
        `${where}: component "${component}" is not one of ${DRIVER_COMPONENTS.join(', ')}`,
        'fix the known-bad list',
      );
    }
    const from = optional(raw, 'from', where);
    const fixedIn = optional(raw, 'fixedIn', where);
    if (from === undefined && fixedIn === undefined) {
      throw badInput(`${where}: needs "from", "fixedIn" or both`, 'bound the affected versions');
    }
    const driver = optional(raw, 'driver', where);
    if (component === 'nicDrivers' && driver === undefined) {
      throw badInput(
        `${where}: a nicDrivers entry needs "driver"`,
        'name the kernel module, e.g. "driver": "mlx5_core"',
      );
    }
    const when = optional(raw, 'when', where);
    if (when !== undefined && when !== 'gsp-enabled') {
      throw badInput(`${where}: "when" "${when}" is not gsp-enabled`, 'fix the known-bad list');
    }
    const sources = Array.isArray(raw['sources']) ? raw['sources'] : [];
    if (sources.length === 0) {
      throw badInput(`${where}: no sources`, 'every entry names where its facts come from');
    }
    return {
      id,
      title: field(raw, 'title', where),
      severity,
      component: component as DriverComponent,
      ...(from === undefined ? {} : { from }),
      ...(fixedIn === undefined ? {} : { fixedIn }),
      ...(driver === undefined ? {} : { driver }),
      ...(when === undefined ? {} : { when }),
      symptom: field(raw, 'symptom', where),
      fix: field(raw, 'fix', where),
      sources: sources.map((s, j) => {
        const w = `${where}.sources[${j}]`;
        if (!isRecord(s)) throw badInput(`${w} is not an object`, 'fix the known-bad list');
        return { title: field(s, 'title', w), url: field(s, 'url', w), says: field(s, 'says', w) };
      }),
    };
  });
}

/** Whether a version falls in an entry's range [from, fixedIn). */
export function affects(entry: KnownBadEntry, version: string): boolean {
  if (entry.from !== undefined && compareVersions(version, entry.from) < 0) return false;
  if (entry.fixedIn !== undefined && compareVersions(version, entry.fixedIn) >= 0) return false;
  return true;
}

export interface Combination {
  readonly stack: DriverStack;
  readonly nodes: readonly string[];
}

export interface Drift {
  readonly node: string;
  readonly component: DriverComponent;
  readonly value: string | null;
  /** The pool's most common value. */
  readonly baseline: string | null;
}

export interface PoolReport {
  readonly pool: string;
  readonly nodes: readonly string[];
  readonly baseline: DriverStack;
  readonly drift: readonly Drift[];
}

export interface KnownBadHit {
  readonly node: string;
  readonly version: string;
  readonly entry: KnownBadEntry;
}

export interface DriverAudit {
  readonly nodes: readonly NodeInventory[];
  readonly combinations: readonly Combination[];
  readonly pools: readonly PoolReport[];
  readonly knownBad: readonly KnownBadHit[];
  /** Inventories older than `staleAfterMs` at `now`: the agent has not reported lately. */
  readonly stale: readonly { readonly node: string; readonly at: string }[];
}

export interface DriverAuditOptions {
  readonly now: number;
  /** Default 24 h: agents re-send the inventory when it changes, so an old one can still be current. */
  readonly staleAfterMs?: number;
}

const stackKey = (s: DriverStack): string => JSON.stringify(DRIVER_COMPONENTS.map((c) => s[c]));

/** Most common value; a tie goes to the higher version (an upgrade half rolled out flags the old nodes). */
function majority(values: readonly (string | null)[]): string | null {
  const counts = new Map<string | null, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | null = null;
  let bestCount = -1;
  for (const [v, n] of counts) {
    const higher = v !== null && (best === null || compareVersions(v, best) > 0);
    if (n > bestCount || (n === bestCount && higher)) {
      best = v;
      bestCount = n;
    }
  }
  return best;
}

/**
 * Rules:
 * 1. Combinations: nodes grouped by their whole stack, largest group first.
 * 2. Drift: in a pool of two or more nodes, each component's baseline is its
 *    most common value (ties: the higher version); a node whose value differs
 *    drifts on that component. A pool of one has nothing to drift from.
 * 3. Known-bad: a node is hit by an entry when its component's version is in
 *    [from, fixedIn) and, for `gsp-enabled` entries, it reports a GSP
 *    firmware version. Components with several values are checked per
 *    value; for NIC drivers only the entry's `driver` counts, and a driver
 *    without a module version never matches (nothing to compare).
 * 4. Stale: the inventory is older than `staleAfterMs`.
 */
export function auditDrivers(
  inventories: readonly NodeInventory[],
  knownBad: readonly KnownBadEntry[],
  options: DriverAuditOptions,
): DriverAudit {
  const nodes = [...inventories].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const groups = new Map<string, { stack: DriverStack; nodes: string[] }>();
  for (const n of nodes) {
    const key = stackKey(n.stack);
    const g = groups.get(key) ?? { stack: n.stack, nodes: [] };
    g.nodes.push(n.node);
    groups.set(key, g);
  }
  const combinations = [...groups.values()].sort((a, b) => b.nodes.length - a.nodes.length);

  const byPool = new Map<string, NodeInventory[]>();
  for (const n of nodes) byPool.set(n.pool, [...(byPool.get(n.pool) ?? []), n]);
  const pools: PoolReport[] = [...byPool.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([pool, members]) => {
      const baseline = Object.fromEntries(
        DRIVER_COMPONENTS.map((c) => [c, majority(members.map((m) => m.stack[c]))]),
      ) as Record<DriverComponent, string | null>;
      const drift =
        members.length < 2
          ? []
          : members.flatMap((m) =>
              DRIVER_COMPONENTS.filter((c) => m.stack[c] !== baseline[c]).map((c) => ({
                node: m.node,
                component: c,
                value: m.stack[c],
                baseline: baseline[c],
              })),
            );
      return { pool, nodes: members.map((m) => m.node), baseline, drift };
    });

  const hits: KnownBadHit[] = [];
  for (const n of nodes) {
    for (const entry of knownBad) {
      if (entry.when === 'gsp-enabled' && n.stack.gspFirmware === null) continue;
      const value = n.stack[entry.component];
      if (value === null) continue;
      // NIC drivers read "mlx5_core 5.8, virtio_net": the entry's driver, each with its version.
      const versions =
        entry.component === 'nicDrivers'
          ? value
              .split(', ')
              .map((v) => v.split(' '))
              .filter(([name, v]) => name === entry.driver && v !== undefined)
              .map(([, v]) => v ?? '')
          : value.split(', ');
      const version = versions.find((v) => affects(entry, v));
      if (version !== undefined) hits.push({ node: n.node, version, entry });
    }
  }

  const staleAfter = options.staleAfterMs ?? 24 * 3_600_000;
  const stale = nodes
    .filter((n) => options.now - Date.parse(n.at) > staleAfter)
    .map((n) => ({ node: n.node, at: n.at }));
  return { nodes, combinations, pools, knownBad: hits, stale };
}
