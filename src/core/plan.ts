/**
 * The probe plan: which agent probes which node, how often. Every node is
 * watched by k peers (more for GPU/MIG nodes), never all-pairs, so the mesh
 * costs O(N·k) probes and metric series instead of O(N²) (design §4).
 *
 * Observers are chosen by rendezvous (highest-random-weight) hashing on
 * (observer, target), so adding or removing one node moves few assignments,
 * with a load cap so that no agent carries much more than its share. Pure:
 * the controller computes the plan from its node cache and serves
 * `planFor(observer)` to each agent; `diffPlans` says which agents need a
 * new plan.
 */
import { badInput } from './errors.ts';
import { hashHex, hashString, pairWeight, pairWeightOf } from './plan-hash.ts';

/** A node as the planner sees it. */
export interface PlanNode {
  readonly name: string;
  /** The address probes target (the node's InternalIP). */
  readonly ip: string;
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * False for nodes that are targets but whose agent should not probe others
   * (no agent running, or the controller distrusts its vantage point).
   * Default true.
   */
  readonly observes?: boolean;
}

/** `key` present (any value) or, with `value`, `key=value`. */
export interface LabelRequirement {
  readonly key: string;
  readonly value?: string;
}

/** Selects a node when any one requirement holds. */
export type PrioritySelector = readonly LabelRequirement[];

/** MIG nodes (the seed's `node-role: mig`) and anything GPU Feature Discovery labelled as a GPU node. */
export const DEFAULT_PRIORITY_SELECTOR: PrioritySelector = [
  { key: 'node-role', value: 'mig' },
  { key: 'nvidia.com/gpu.product' },
];

export interface PlanOptions {
  /** Stamped on the plan; the plan is pure, so the caller passes its clock's time. ISO-8601. */
  readonly generatedAt: string;
  /** Observers per ordinary node. Default 8. */
  readonly k?: number;
  /** Observers per selected (GPU/MIG) node. Default 12. */
  readonly kPriority?: number;
  /** Probe interval for ordinary nodes. Default 1000 ms. */
  readonly intervalMs?: number;
  /** Probe interval for selected nodes. Default 500 ms. */
  readonly priorityIntervalMs?: number;
  readonly priority?: PrioritySelector;
  /**
   * No observer is given more than ⌈maxLoadFactor × mean load⌉ targets.
   * Default 1.5. Lower balances better and moves more assignments when a
   * node joins or leaves; pure rendezvous (no cap) gives max/mean ≈ 2.4 at
   * N = 5,000, k = 8.
   */
  readonly maxLoadFactor?: number;
}

export const PLAN_DEFAULTS = {
  k: 8,
  kPriority: 12,
  intervalMs: 1_000,
  priorityIntervalMs: 500,
  maxLoadFactor: 1.5,
} as const;

/** One target of one observer. */
export interface ProbeAssignment {
  readonly target: string;
  readonly ip: string;
  readonly intervalMs: number;
  /** The target matched the priority selector. */
  readonly priority: boolean;
}

export interface ProbePlan {
  /** Hash of every input that shapes the plan (nodes, labels that matter, options); not of `generatedAt`. */
  readonly version: string;
  readonly generatedAt: string;
  readonly k: number;
  readonly kPriority: number;
  /** The most targets any observer may carry: ⌈maxLoadFactor × pairs / observers⌉. */
  readonly loadCap: number;
  /** Observer → its targets, sorted by target name. Every observing node has an entry. */
  readonly assignments: ReadonlyMap<string, readonly ProbeAssignment[]>;
  /** Target → its observers, strongest rendezvous weight first. Every node has an entry. */
  readonly observersOf: ReadonlyMap<string, readonly string[]>;
  /**
   * Pairs placed above `loadCap` because no observer under the cap was left
   * for that target; coverage wins over balance. Zero for any input where a
   * balanced plan exists.
   */
  readonly overCap: number;
}

/** What the controller serves one agent. */
export interface AgentPlan {
  readonly version: string;
  readonly generatedAt: string;
  readonly observer: string;
  /** False when the plan does not know this observer (not a node yet, or `observes: false`). */
  readonly member: boolean;
  readonly targets: readonly ProbeAssignment[];
}

export interface PlanPair {
  readonly observer: string;
  readonly target: string;
}

export interface PlanDiff {
  readonly fromVersion: string;
  readonly toVersion: string;
  /** Pairs in the new plan and not in the old. */
  readonly added: readonly PlanPair[];
  /** Pairs in the old plan and not in the new. */
  readonly removed: readonly PlanPair[];
  /** Pairs in both whose interval or address changed. */
  readonly changed: readonly PlanPair[];
  /** Observers whose target list differs in any way: the agents to push a new plan to. */
  readonly observersToNotify: readonly string[];
}

export interface PlanStats {
  readonly nodes: number;
  readonly observers: number;
  readonly pairs: number;
  readonly meanLoad: number;
  readonly maxLoad: number;
  readonly minLoad: number;
  readonly loadCap: number;
  readonly overCap: number;
}

/** Whether `labels` satisfy any requirement of `selector`. */
export function matchesSelector(
  labels: Readonly<Record<string, string>>,
  selector: PrioritySelector,
): boolean {
  return selector.some((r) =>
    r.value === undefined ? Object.hasOwn(labels, r.key) : labels[r.key] === r.value,
  );
}

export const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
export const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/**
 * Parses `node-role=mig,nvidia.com/gpu.product` (comma-separated; `key` means
 * the label is present, `key=value` that it has that value) — the form of a
 * CLI flag or a ConfigMap entry.
 */
export function parsePrioritySelector(text: string): PrioritySelector {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) {
    throw badInput(
      `priority selector "${text}" is empty`,
      'give one or more label requirements, e.g. node-role=mig,nvidia.com/gpu.product',
    );
  }
  return parts.map((part) => {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? undefined : part.slice(eq + 1);
    if (!LABEL_KEY.test(key) || (value !== undefined && !LABEL_VALUE.test(value))) {
      throw badInput(
        `priority selector "${text}": "${part}" is not a label key or key=value`,
        'label keys look like node-role or nvidia.com/gpu.product; values are alphanumeric with - _ .',
      );
    }
    return value === undefined ? { key } : { key, value };
  });
}

function positiveInt(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw badInput(
      `probe plan: ${name} must be an integer ≥ ${min}, got ${value}`,
      `set ${name} to a whole number of at least ${min}`,
    );
  }
  return value;
}

/**
 * A binary min-heap on weights that keeps the `size` heaviest candidates seen
 * so far; `push` costs one comparison for the usual loser.
 */
class TopWeights {
  readonly weights: Float64Array;
  readonly items: Int32Array;
  count = 0;

  constructor(readonly size: number) {
    this.weights = new Float64Array(size);
    this.items = new Int32Array(size);
  }

  push(weight: number, item: number): void {
    const w = this.weights;
    const it = this.items;
    if (this.count < this.size) {
      let i = this.count++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (w[parent]! <= weight) break;
        w[i] = w[parent]!;
        it[i] = it[parent]!;
        i = parent;
      }
      w[i] = weight;
      it[i] = item;
      return;
    }
    if (weight <= w[0]!) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const r = l + 1;
      const c = r < this.size && w[r]! < w[l]! ? r : l;
      if (w[c]! >= weight) break;
      w[i] = w[c]!;
      it[i] = it[c]!;
      i = c;
    }
    w[i] = weight;
    it[i] = item;
  }
}

/**
 * Computes the plan. Rules:
 * 1. Nodes are taken in name order, so the input order never matters.
 * 2. A target needs min(k, observers other than itself) observers; kPriority
 *    if its labels match the priority selector. No node observes itself.
 * 3. Each target ranks the other observers by the rendezvous weight
 *    w(observer, target); its 3·need best are its candidates.
 * 4. All candidate pairs are accepted heaviest first while the target still
 *    needs observers and the observer is under `loadCap`. Without the cap
 *    this is exactly "each target takes its top-need observers" — plain
 *    rendezvous hashing; the cap only bites on the few observers that pure
 *    hashing would overload.
 * 5. A target still short (its candidates all full) scans every observer by
 *    weight, under the cap first, then the least-loaded over it (`overCap`).
 */
export function computePlan(nodes: readonly PlanNode[], options: PlanOptions): ProbePlan {
  const k = positiveInt('k', options.k ?? PLAN_DEFAULTS.k, 1);
  const kPriority = positiveInt('kPriority', options.kPriority ?? PLAN_DEFAULTS.kPriority, 1);
  const intervalMs = positiveInt('intervalMs', options.intervalMs ?? PLAN_DEFAULTS.intervalMs, 1);
  const priorityIntervalMs = positiveInt(
    'priorityIntervalMs',
    options.priorityIntervalMs ?? PLAN_DEFAULTS.priorityIntervalMs,
    1,
  );
  const factor = options.maxLoadFactor ?? PLAN_DEFAULTS.maxLoadFactor;
  if (!Number.isFinite(factor) || factor < 1) {
    throw badInput(
      `probe plan: maxLoadFactor must be a number ≥ 1, got ${factor}`,
      'use 1.5 (the default) unless you have measured a reason not to',
    );
  }
  const selector = options.priority ?? DEFAULT_PRIORITY_SELECTOR;

  const sorted = [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 0; i < sorted.length; i += 1) {
    const node = sorted[i]!;
    if (node.name === '') throw badInput('probe plan: a node has an empty name', 'pass node names');
    if (node.ip === '') {
      throw badInput(
        `probe plan: node ${node.name} has no address`,
        'leave nodes without an InternalIP out of the plan until they have one',
      );
    }
    if (i > 0 && sorted[i - 1]!.name === node.name) {
      throw badInput(`probe plan: node ${node.name} appears twice`, 'pass each node once');
    }
  }

  const n = sorted.length;
  const hashes = sorted.map((node) => hashString(node.name));
  const hashHi = Uint32Array.from(hashes, (h) => h.hi);
  const hashLo = Uint32Array.from(hashes, (h) => h.lo);
  const observes = sorted.map((node) => node.observes !== false);
  const isPriority = sorted.map((node) => matchesSelector(node.labels ?? {}, selector));
  const observerIdx: number[] = [];
  for (let i = 0; i < n; i += 1) if (observes[i]) observerIdx.push(i);
  const observerCount = observerIdx.length;

  const need = new Int32Array(n);
  let total = 0;
  for (let t = 0; t < n; t += 1) {
    const others = observerCount - (observes[t] ? 1 : 0);
    need[t] = Math.min(isPriority[t] ? kPriority : k, others);
    total += need[t]!;
  }
  const loadCap =
    observerCount === 0 ? 0 : Math.max(1, Math.ceil((factor * total) / observerCount));

  // Rule 3: each target's candidates.
  let candidateTotal = 0;
  const candidateSize = new Int32Array(n);
  for (let t = 0; t < n; t += 1) {
    candidateSize[t] = Math.min(need[t]! * 3, observerCount - (observes[t] ? 1 : 0));
    candidateTotal += candidateSize[t]!;
  }
  const candTarget = new Int32Array(candidateTotal);
  const candObserver = new Int32Array(candidateTotal);
  const candWeight = new Float64Array(candidateTotal);
  let c = 0;
  for (let t = 0; t < n; t += 1) {
    const size = candidateSize[t]!;
    if (size === 0) continue;
    const top = new TopWeights(size);
    const ht = hashes[t]!;
    for (let j = 0; j < observerCount; j += 1) {
      const o = observerIdx[j]!;
      if (o === t) continue;
      const w = pairWeightOf(hashHi[o]!, hashLo[o]!, ht.hi, ht.lo);
      // Most observers lose to the current top; skip the call for them.
      if (top.count < size || w > top.weights[0]!) top.push(w, o);
    }
    for (let i = 0; i < top.count; i += 1) {
      candTarget[c] = t;
      candObserver[c] = top.items[i]!;
      candWeight[c] = top.weights[i]!;
      c += 1;
    }
  }

  // Rule 4: heaviest pairs first; ties (vanishingly rare) by target then observer name order.
  const order = new Int32Array(candidateTotal);
  for (let i = 0; i < candidateTotal; i += 1) order[i] = i;
  order.sort(
    (a, b) =>
      candWeight[b]! - candWeight[a]! ||
      candTarget[a]! - candTarget[b]! ||
      candObserver[a]! - candObserver[b]!,
  );
  const load = new Int32Array(n);
  const filled = new Int32Array(n);
  const chosen: { o: number; w: number }[][] = Array.from({ length: n }, () => []);
  for (const i of order) {
    const t = candTarget[i]!;
    const o = candObserver[i]!;
    if (filled[t]! < need[t]! && load[o]! < loadCap) {
      chosen[t]!.push({ o, w: candWeight[i]! });
      filled[t]! += 1;
      load[o]! += 1;
    }
  }

  // Rule 5: targets whose candidates were all full.
  let overCap = 0;
  for (let t = 0; t < n; t += 1) {
    if (filled[t]! >= need[t]!) continue;
    const ht = hashes[t]!;
    const taken = new Set(chosen[t]!.map((x) => x.o));
    const ranked = observerIdx
      .filter((o) => o !== t && !taken.has(o))
      .map((o) => ({ o, w: pairWeight(hashes[o]!, ht) }))
      .sort((a, b) => b.w - a.w || a.o - b.o);
    for (const cand of ranked) {
      if (filled[t]! >= need[t]!) break;
      if (load[cand.o]! < loadCap) {
        chosen[t]!.push(cand);
        taken.add(cand.o);
        filled[t]! += 1;
        load[cand.o]! += 1;
      }
    }
    while (filled[t]! < need[t]!) {
      let best = -1;
      for (const cand of ranked) {
        if (taken.has(cand.o)) continue;
        if (best < 0 || load[cand.o]! < load[best]!) best = cand.o;
      }
      chosen[t]!.push({ o: best, w: pairWeight(hashes[best]!, ht) });
      taken.add(best);
      filled[t]! += 1;
      load[best]! += 1;
      overCap += 1;
    }
  }

  const assignmentLists = new Map<string, ProbeAssignment[]>();
  for (const o of observerIdx) assignmentLists.set(sorted[o]!.name, []);
  const observersOf = new Map<string, readonly string[]>();
  for (let t = 0; t < n; t += 1) {
    const target = sorted[t]!;
    const picks = chosen[t]!.sort((a, b) => b.w - a.w || a.o - b.o);
    observersOf.set(
      target.name,
      picks.map((p) => sorted[p.o]!.name),
    );
    const assignment: ProbeAssignment = {
      target: target.name,
      ip: target.ip,
      intervalMs: isPriority[t] ? priorityIntervalMs : intervalMs,
      priority: isPriority[t]!,
    };
    // Targets are visited in name order, so every list comes out sorted by target.
    for (const p of picks) assignmentLists.get(sorted[p.o]!.name)!.push(assignment);
  }

  const canonical = JSON.stringify({
    v: 1,
    k,
    kPriority,
    intervalMs,
    priorityIntervalMs,
    factor,
    nodes: sorted.map((node, i) => [
      node.name,
      node.ip,
      isPriority[i] ? 1 : 0,
      observes[i] ? 1 : 0,
    ]),
  });
  return {
    version: hashHex(canonical),
    generatedAt: options.generatedAt,
    k,
    kPriority,
    loadCap,
    assignments: assignmentLists,
    observersOf,
    overCap,
  };
}

/** The slice of the plan that one agent needs. */
export function planFor(plan: ProbePlan, observer: string): AgentPlan {
  const targets = plan.assignments.get(observer);
  return {
    version: plan.version,
    generatedAt: plan.generatedAt,
    observer,
    member: targets !== undefined,
    targets: targets ?? [],
  };
}

/** Which (observer, target) pairs appear, disappear or change between two plans. */
export function diffPlans(from: ProbePlan, to: ProbePlan): PlanDiff {
  const added: PlanPair[] = [];
  const removed: PlanPair[] = [];
  const changed: PlanPair[] = [];
  const notify = new Set<string>();
  const observers = new Set([...from.assignments.keys(), ...to.assignments.keys()]);
  for (const observer of [...observers].sort()) {
    const before = new Map((from.assignments.get(observer) ?? []).map((a) => [a.target, a]));
    const after = new Map((to.assignments.get(observer) ?? []).map((a) => [a.target, a]));
    for (const [target, a] of after) {
      const b = before.get(target);
      if (b === undefined) {
        added.push({ observer, target });
        notify.add(observer);
      } else if (b.intervalMs !== a.intervalMs || b.ip !== a.ip) {
        changed.push({ observer, target });
        notify.add(observer);
      }
    }
    for (const target of before.keys()) {
      if (!after.has(target)) {
        removed.push({ observer, target });
        notify.add(observer);
      }
    }
    if (from.assignments.has(observer) !== to.assignments.has(observer)) notify.add(observer);
  }
  return {
    fromVersion: from.version,
    toVersion: to.version,
    added,
    removed,
    changed,
    observersToNotify: [...notify].sort(),
  };
}

/** Sizes and load figures, for logs, the bench and the docs. */
export function planStats(plan: ProbePlan): PlanStats {
  let pairs = 0;
  let maxLoad = 0;
  let minLoad = Number.POSITIVE_INFINITY;
  for (const list of plan.assignments.values()) {
    pairs += list.length;
    maxLoad = Math.max(maxLoad, list.length);
    minLoad = Math.min(minLoad, list.length);
  }
  const observers = plan.assignments.size;
  return {
    nodes: plan.observersOf.size,
    observers,
    pairs,
    meanLoad: observers === 0 ? 0 : pairs / observers,
    maxLoad,
    minLoad: observers === 0 ? 0 : minLoad,
    loadCap: plan.loadCap,
    overCap: plan.overCap,
  };
}
