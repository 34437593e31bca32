import { describe, expect, it } from 'vitest';
import { NodeWardenError } from './errors.ts';
import {
  computePlan,
  DEFAULT_PRIORITY_SELECTOR,
  diffPlans,
  matchesSelector,
  parsePrioritySelector,
  planFor,
  planStats,
  type PlanNode,
  type ProbePlan,
} from './plan.ts';
import { hashString, pairWeight } from './plan-hash.ts';

/** mulberry32: a tiny seeded PRNG, so every property run is reproducible. */
function rng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const SUFFIX = 'bcdfghjklmnpqrstvwxz2456789';

/** A random cluster with Kubernetes-like names; `priorityShare` of nodes are MIG nodes. */
function randomCluster(n: number, random: () => number, priorityShare: number): PlanNode[] {
  return Array.from({ length: n }, (_, i) => {
    const suffix = Array.from({ length: 5 }, () => SUFFIX[Math.floor(random() * 27)]).join('');
    const mig = random() < priorityShare;
    return {
      name: `tkai-oks-md-${mig ? 1 : 0}-193cfbbbb78b-${suffix}-${i}`,
      ip: `10.62.${i >> 8}.${i & 255}`,
      labels: mig
        ? { 'node-role': 'mig', 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB' }
        : { 'node-role': 'worker' },
    };
  });
}

const AT = '2025-08-25T03:58:00.000Z';

/** Every (observer, target) pair of a plan, as "o→t" strings. */
function pairs(plan: ProbePlan): Set<string> {
  const out = new Set<string>();
  for (const [o, list] of plan.assignments) for (const a of list) out.add(`${o}→${a.target}`);
  return out;
}

/**
 * Pairs that changed between two plans and involve neither end of the node
 * that joined or left: the assignments of *other* nodes that moved.
 */
function disturbance(a: ProbePlan, b: ProbePlan, node: string): number {
  const d = diffPlans(a, b);
  const others = (p: { observer: string; target: string }) =>
    p.observer !== node && p.target !== node;
  return d.added.filter(others).length + d.removed.filter(others).length;
}

const SIZES = [2, 3, 4, 5, 8, 9, 10, 12, 13, 20, 37, 64, 100, 250, 500];

describe('computePlan properties on seeded random clusters (N = 2…500)', () => {
  it('every node has exactly min(k, N−1) distinct observers (kPriority for selected), never itself', () => {
    let checked = 0;
    for (const n of SIZES) {
      for (let seed = 1; seed <= 4; seed += 1) {
        const random = rng(n * 1_000 + seed);
        const nodes = randomCluster(n, random, random() * 0.4);
        const plan = computePlan(nodes, { generatedAt: AT });
        expect(plan.observersOf.size).toBe(n);
        for (const node of nodes) {
          const selected = matchesSelector(node.labels ?? {}, DEFAULT_PRIORITY_SELECTOR);
          const observers = plan.observersOf.get(node.name)!;
          expect(observers.length).toBe(Math.min(selected ? 12 : 8, n - 1));
          expect(new Set(observers).size).toBe(observers.length);
          expect(observers).not.toContain(node.name);
          checked += 1;
        }
        // The two views of the plan hold the same pairs, with the right interval.
        const fromTargets = new Set<string>();
        for (const [t, os] of plan.observersOf) for (const o of os) fromTargets.add(`${o}→${t}`);
        expect(pairs(plan)).toEqual(fromTargets);
        const byName = new Map(nodes.map((x) => [x.name, x]));
        for (const list of plan.assignments.values()) {
          for (const a of list) {
            const selected = matchesSelector(
              byName.get(a.target)!.labels!,
              DEFAULT_PRIORITY_SELECTOR,
            );
            expect(a.priority).toBe(selected);
            expect(a.intervalMs).toBe(selected ? 500 : 1_000);
            expect(a.ip).toBe(byName.get(a.target)!.ip);
          }
        }
        expect(plan.overCap).toBe(0);
      }
    }
    expect(checked).toBeGreaterThan(4_000);
  });

  it('balances load: max ≤ ⌈1.5 × mean⌉, i.e. max/mean ≤ 1.5 + 1/mean', () => {
    for (const n of SIZES) {
      for (let seed = 1; seed <= 4; seed += 1) {
        const random = rng(n * 7_919 + seed);
        const plan = computePlan(randomCluster(n, random, random() * 0.4), { generatedAt: AT });
        const stats = planStats(plan);
        expect(stats.maxLoad).toBeLessThanOrEqual(Math.ceil(1.5 * stats.meanLoad));
        expect(stats.maxLoad / stats.meanLoad).toBeLessThanOrEqual(1.5 + 1 / stats.meanLoad);
      }
    }
  });

  it('balances far better than plain rendezvous hashing at N = 500', () => {
    const nodes = randomCluster(500, rng(42), 0.1);
    const capped = planStats(computePlan(nodes, { generatedAt: AT }));
    const plain = planStats(computePlan(nodes, { generatedAt: AT, maxLoadFactor: 1_000 }));
    expect(capped.maxLoad / capped.meanLoad).toBeLessThanOrEqual(1.63);
    expect(plain.maxLoad / plain.meanLoad).toBeGreaterThan(1.9);
  });

  it('without the cap, each target gets exactly its top-k observers by rendezvous weight', () => {
    const nodes = randomCluster(60, rng(7), 0.2);
    const plan = computePlan(nodes, { generatedAt: AT, maxLoadFactor: 1_000 });
    for (const t of nodes) {
      const need = plan.observersOf.get(t.name)!.length;
      const ranked = nodes
        .filter((o) => o.name !== t.name)
        .map((o) => ({ o: o.name, w: pairWeight(hashString(o.name), hashString(t.name)) }))
        .sort((a, b) => b.w - a.w)
        .slice(0, need)
        .map((x) => x.o);
      expect(plan.observersOf.get(t.name)).toEqual(ranked);
    }
  });

  it('adding or removing one node moves at most 2·k·1.5 = 24 other assignments', () => {
    const seen: number[] = [];
    for (const n of [3, 9, 10, 20, 50, 100, 250, 500]) {
      for (let seed = 1; seed <= 6; seed += 1) {
        const random = rng(n * 104_729 + seed);
        const share = random() * 0.4;
        const nodes = randomCluster(n, random, share);
        const before = computePlan(nodes, { generatedAt: AT });

        const joining: PlanNode = {
          name: `joining-${seed}`,
          ip: '10.62.250.1',
          labels: random() < share ? { 'node-role': 'mig' } : {},
        };
        const grown = computePlan([...nodes, joining], { generatedAt: AT });
        seen.push(disturbance(before, grown, joining.name));

        const leaving = nodes[Math.floor(random() * n)]!;
        const shrunk = computePlan(
          nodes.filter((x) => x !== leaving),
          { generatedAt: AT },
        );
        seen.push(disturbance(before, shrunk, leaving.name));
      }
    }
    expect(Math.max(...seen)).toBeLessThanOrEqual(24);
    // Not a vacuous bound: joins and leaves do move assignments.
    expect(seen.filter((d) => d > 0).length).toBeGreaterThan(seen.length / 2);
  });

  it('is deterministic: input order and generatedAt do not change the plan', () => {
    const random = rng(99);
    const nodes = randomCluster(120, random, 0.2);
    const shuffled = [...nodes].sort(() => random() - 0.5);
    const a = computePlan(nodes, { generatedAt: AT });
    const b = computePlan(shuffled, { generatedAt: '2030-01-01T00:00:00.000Z' });
    expect(b.version).toBe(a.version);
    expect(pairs(b)).toEqual(pairs(a));
    expect([...b.observersOf]).toEqual([...a.observersOf]);
    expect(b.generatedAt).toBe('2030-01-01T00:00:00.000Z');
  });
});

describe('computePlan inputs', () => {
  const seed = randomCluster(5, rng(1), 0).map((n, i) =>
    i === 0 ? { ...n, labels: { 'node-role': 'mig' } } : n,
  );

  it('in a small cluster every node observes every other (k > N−1)', () => {
    const plan = computePlan(seed, { generatedAt: AT });
    for (const node of seed) expect(plan.observersOf.get(node.name)!.length).toBe(4);
    expect(planStats(plan).pairs).toBe(20);
    expect(planFor(plan, seed[1]!.name).targets.find((t) => t.priority)?.intervalMs).toBe(500);
  });

  it('nodes with observes: false are probed but never probe', () => {
    const nodes = randomCluster(30, rng(5), 0.2).map((n, i) =>
      i % 3 === 0 ? { ...n, observes: false } : n,
    );
    const plan = computePlan(nodes, { generatedAt: AT });
    const observers = nodes.filter((n) => n.observes !== false).length;
    for (const node of nodes) {
      const list = plan.observersOf.get(node.name)!;
      const selected = matchesSelector(node.labels!, DEFAULT_PRIORITY_SELECTOR);
      const others = observers - (node.observes === false ? 0 : 1);
      expect(list.length).toBe(Math.min(selected ? 12 : 8, others));
      for (const o of list) expect(nodes.find((n) => n.name === o)!.observes).not.toBe(false);
      expect(plan.assignments.has(node.name)).toBe(node.observes !== false);
    }
    expect(planFor(plan, nodes[0]!.name)).toMatchObject({ member: false, targets: [] });
  });

  it('the version follows what shapes the plan and nothing else', () => {
    const base = computePlan(seed, { generatedAt: AT }).version;
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    const relabelled = seed.map((n, i) =>
      i === 2 ? { ...n, labels: { ...n.labels, 'topology.kubernetes.io/zone': 'nova' } } : n,
    );
    expect(computePlan(relabelled, { generatedAt: AT }).version).toBe(base);
    const promoted = seed.map((n, i) => (i === 2 ? { ...n, labels: { 'node-role': 'mig' } } : n));
    expect(computePlan(promoted, { generatedAt: AT }).version).not.toBe(base);
    const moved = seed.map((n, i) => (i === 2 ? { ...n, ip: '10.62.0.99' } : n));
    expect(computePlan(moved, { generatedAt: AT }).version).not.toBe(base);
    expect(computePlan(seed, { generatedAt: AT, k: 3 }).version).not.toBe(base);
  });

  it('uses a custom selector and custom k, kPriority and intervals', () => {
    const nodes = randomCluster(40, rng(11), 0).map((n, i) =>
      i < 4 ? { ...n, labels: { pool: 'gpu' } } : n,
    );
    const plan = computePlan(nodes, {
      generatedAt: AT,
      k: 3,
      kPriority: 6,
      intervalMs: 2_000,
      priorityIntervalMs: 250,
      priority: parsePrioritySelector('pool=gpu'),
    });
    for (const [i, node] of nodes.entries()) {
      expect(plan.observersOf.get(node.name)!.length).toBe(i < 4 ? 6 : 3);
    }
    const intervals = new Set([...plan.assignments.values()].flat().map((a) => a.intervalMs));
    expect(intervals).toEqual(new Set([2_000, 250]));
  });

  it('rejects bad input with BAD_INPUT naming it', () => {
    const bad = (fn: () => unknown, text: RegExp) => {
      try {
        fn();
        expect.unreachable('should have thrown');
      } catch (error) {
        expect(error).toBeInstanceOf(NodeWardenError);
        expect((error as NodeWardenError).code).toBe('BAD_INPUT');
        expect((error as NodeWardenError).message).toMatch(text);
        expect((error as NodeWardenError).hint).toBeTruthy();
      }
    };
    bad(() => computePlan([...seed, seed[0]!], { generatedAt: AT }), /appears twice/);
    bad(() => computePlan([{ name: 'a', ip: '' }], { generatedAt: AT }), /node a has no address/);
    bad(() => computePlan(seed, { generatedAt: AT, k: 0 }), /k must be an integer/);
    bad(() => computePlan(seed, { generatedAt: AT, kPriority: 2.5 }), /kPriority/);
    bad(() => computePlan(seed, { generatedAt: AT, maxLoadFactor: 0.9 }), /maxLoadFactor/);
    bad(() => parsePrioritySelector(' , '), /is empty/);
    bad(() => parsePrioritySelector('node role=mig'), /"node role=mig" is not a label/);
  });

  it('handles an empty cluster and a single node', () => {
    expect(planStats(computePlan([], { generatedAt: AT })).pairs).toBe(0);
    const one = computePlan([{ name: 'solo', ip: '10.0.0.1' }], { generatedAt: AT });
    expect(one.observersOf.get('solo')).toEqual([]);
    expect(planFor(one, 'solo')).toMatchObject({ member: true, targets: [] });
  });
});

describe('parsePrioritySelector and matchesSelector', () => {
  it('reads presence and equality requirements', () => {
    const sel = parsePrioritySelector('node-role=mig, nvidia.com/gpu.product');
    expect(sel).toEqual(DEFAULT_PRIORITY_SELECTOR);
    expect(matchesSelector({ 'node-role': 'mig' }, sel)).toBe(true);
    expect(matchesSelector({ 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' }, sel)).toBe(true);
    expect(matchesSelector({ 'node-role': 'worker' }, sel)).toBe(false);
    expect(matchesSelector({}, sel)).toBe(false);
  });
});

describe('diffPlans', () => {
  it('reports pairs added and removed when a node joins, and whom to notify', () => {
    const nodes = randomCluster(40, rng(3), 0.1);
    const a = computePlan(nodes, { generatedAt: AT });
    const b = computePlan([...nodes, { name: 'zz-new', ip: '10.62.9.9' }], { generatedAt: AT });
    const d = diffPlans(a, b);
    expect(d.fromVersion).toBe(a.version);
    expect(d.toVersion).toBe(b.version);
    expect(d.added.filter((p) => p.target === 'zz-new').length).toBe(8);
    expect(d.observersToNotify).toContain('zz-new');
    for (const p of [...d.added, ...d.removed]) expect(d.observersToNotify).toContain(p.observer);
    const after = pairs(b);
    for (const p of d.added) expect(after.has(`${p.observer}→${p.target}`)).toBe(true);
    for (const p of d.removed) expect(after.has(`${p.observer}→${p.target}`)).toBe(false);
    expect(diffPlans(a, a)).toMatchObject({
      added: [],
      removed: [],
      changed: [],
      observersToNotify: [],
    });
  });

  it('reports a changed interval when a node stops matching the selector but keeps its observers', () => {
    const nodes: PlanNode[] = randomCluster(6, rng(8), 0).map((n, i) =>
      i === 0 ? { ...n, labels: { 'node-role': 'mig' } } : n,
    );
    const a = computePlan(nodes, { generatedAt: AT });
    const demoted = nodes.map((n, i) => (i === 0 ? { ...n, labels: {} } : n));
    const d = diffPlans(a, computePlan(demoted, { generatedAt: AT }));
    expect(d.added).toEqual([]);
    expect(d.removed).toEqual([]);
    expect(d.changed.map((p) => p.target)).toEqual(Array(5).fill(nodes[0]!.name));
    expect(d.observersToNotify.length).toBe(5);
  });
});
