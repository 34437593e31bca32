/**
 * Probe-plan benchmark: plan computation time, probe pairs and metric series
 * at N = 100 … 5,000 against the all-pairs mesh (goldpinger, kube-ovn-pinger:
 * every node probes every other). Run: npx tsx bench/plan.ts
 *
 * Clusters are synthetic, with Kubernetes-like node names and 10 % MIG nodes
 * (node-role=mig: kPriority = 12 observers, 500 ms interval); the rest get
 * k = 8 observers at 1 s. Series count per agent assumes what an agent
 * exports per peer: one up/down gauge and one latency gauge per layer, for
 * the four layers L2/L3/L4/L7.
 */
import { cpus } from 'node:os';
import {
  computePlan,
  diffPlans,
  planStats,
  type PlanNode,
  type ProbePlan,
} from '../src/core/plan.ts';

const SIZES = [100, 500, 1_000, 2_000, 5_000];
const LAYERS = 4;
const SERIES_PER_LAYER = 2;
const MIG_SHARE = 0.1;

function cluster(n: number): PlanNode[] {
  return Array.from({ length: n }, (_, i) => {
    const mig = i % Math.round(1 / MIG_SHARE) === 0;
    const suffix = ((i * 2_654_435_761) >>> 0).toString(36).slice(-5).padStart(5, 'b');
    return {
      name: `tkai-oks-md-${mig ? 1 : 0}-193cfbbbb78b-${suffix}-${i}`,
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      labels: mig ? { 'node-role': 'mig' } : { 'node-role': 'worker' },
    };
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Probes per second over the whole cluster. */
function probeRate(plan: ProbePlan): number {
  let rate = 0;
  for (const list of plan.assignments.values()) for (const a of list) rate += 1_000 / a.intervalMs;
  return rate;
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const rows: string[][] = [];
const churnRows: string[][] = [];
for (const n of SIZES) {
  const nodes = cluster(n);
  const runs = n <= 1_000 ? 5 : 3;
  const times: number[] = [];
  let plan: ProbePlan | undefined;
  for (let r = 0; r < runs; r += 1) {
    const started = performance.now();
    plan = computePlan(nodes, { generatedAt: new Date().toISOString() });
    times.push(performance.now() - started);
  }
  const stats = planStats(plan!);
  const allPairs = n * (n - 1);
  const seriesPerAgentMax = stats.maxLoad * LAYERS * SERIES_PER_LAYER;
  const seriesAllPairs = (n - 1) * LAYERS * SERIES_PER_LAYER;
  rows.push([
    fmt(n),
    fmt(median(times), 1),
    fmt(stats.pairs),
    fmt(allPairs),
    `${fmt(allPairs / stats.pairs, 1)}×`,
    `${fmt(stats.meanLoad, 2)} / ${stats.maxLoad}`,
    fmt(probeRate(plan!)),
    fmt(allPairs),
    `${fmt(stats.meanLoad * LAYERS * SERIES_PER_LAYER, 0)} / ${seriesPerAgentMax}`,
    fmt(seriesAllPairs),
    fmt(stats.pairs * LAYERS * SERIES_PER_LAYER),
    fmt(allPairs * LAYERS * SERIES_PER_LAYER),
  ]);

  // One node joins, then one leaves: how many other assignments move, and how long the diff takes.
  const joined = computePlan([...nodes, { name: 'zz-joining-node', ip: '10.255.255.1' }], {
    generatedAt: 'bench',
  });
  const started = performance.now();
  const join = diffPlans(plan!, joined);
  const diffMs = performance.now() - started;
  const leaving = nodes[Math.floor(n / 3)]!;
  const left = computePlan(
    nodes.filter((x) => x !== leaving),
    { generatedAt: 'bench' },
  );
  const leave = diffPlans(plan!, left);
  const moved = (d: typeof join, node: string) =>
    [...d.added, ...d.removed].filter((p) => p.observer !== node && p.target !== node).length;
  churnRows.push([
    fmt(n),
    fmt(moved(join, 'zz-joining-node')),
    fmt(join.observersToNotify.length),
    fmt(moved(leave, leaving.name)),
    fmt(leave.observersToNotify.length),
    fmt(diffMs, 1),
  ]);
}

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...body.map(line),
  ].join('\n');
}

console.log(
  `probe plan, k = 8 (kPriority = 12 for the ${MIG_SHARE * 100} % MIG nodes), maxLoadFactor 1.5; ` +
    `node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}\n`,
);
console.log(
  table(
    [
      'N',
      'plan ms',
      'pairs',
      'all-pairs N(N−1)',
      'ratio',
      'load mean / max',
      'probes/s',
      'all-pairs probes/s @1 Hz',
      'series/agent mean / max',
      'series/agent all-pairs',
      'series total',
      'series total all-pairs',
    ],
    rows,
  ),
);
console.log('\none node joins / one node leaves:\n');
console.log(
  table(
    [
      'N',
      'join: other pairs moved',
      'join: agents to notify',
      'leave: other pairs moved',
      'leave: agents to notify',
      'diff ms',
    ],
    churnRows,
  ),
);
