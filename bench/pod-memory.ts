// bench/pod-memory — what one pod costs the controller's cache: N pods as
// bench/controller-scale creates them (bench/scale-objects.ts), as the API
// server pages them (500 a page, JSON text), parsed and mapped by toPod as the
// informer does, kept, then dropped; the V8 heap before and after the drop
// (both after a full GC) is what the kept snapshots held.
//
//   node --expose-gc --import tsx bench/pod-memory.ts [--pods 30000]
import { toPod } from '../src/kube/map.ts';
import type { PodSnapshot } from '../src/core/cluster.ts';
import { numberFlag } from './flags.ts';
import { podObject, podRunning } from './scale-objects.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc --import tsx bench/pod-memory.ts');
  process.exit(2);
}
const count = numberFlag('pods', 30_000, 500, 500_000);
const PAGE = 500;
/** The bench's node count: pods are spread over this many nodes. */
const NODES = 5_000;

/** The tolerations admission adds to every pod (DefaultTolerationSeconds). */
const ADMITTED = ['not-ready', 'unreachable'].map((why) => ({
  key: `node.kubernetes.io/${why}`,
  operator: 'Exists',
  effect: 'NoExecute',
  tolerationSeconds: 300,
}));

interface RawPod {
  readonly metadata: Record<string, unknown>;
  readonly spec: { readonly tolerations: readonly unknown[] } & Record<string, unknown>;
}

/**
 * Pod i as the API server lists it: what bench/controller-scale creates and
 * its first status (bench/scale-objects.ts), plus what the server adds (uid,
 * resourceVersion, creation time, managed fields, admission's tolerations,
 * priority and QoS class).
 */
function rawPod(i: number): unknown {
  const created = podObject(i, NODES).body as RawPod;
  const { status } = podRunning(i).body as { status: Record<string, unknown> };
  return {
    ...created,
    metadata: {
      ...created.metadata,
      uid: `5f0c${String(i).padStart(8, '0')}-1f2e-4c3b-9a8d-7e6f5a4b3c2d`,
      resourceVersion: String(100_000 + i),
      creationTimestamp: status['startTime'],
      managedFields: [{ manager: 'bench', operation: 'Update', time: status['startTime'] }],
    },
    spec: { ...created.spec, tolerations: [...created.spec.tolerations, ...ADMITTED], priority: 0 },
    status: { ...status, qosClass: 'Burstable' },
  };
}

const pages: string[] = [];
for (let first = 0; first < count; first += PAGE) {
  const items = Array.from({ length: Math.min(PAGE, count - first) }, (_, j) => rawPod(first + j));
  pages.push(JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: '1' }, items }));
}
const kept: PodSnapshot[] = [];
const started = performance.now();
for (const page of pages) {
  for (const item of (JSON.parse(page) as { items: unknown[] }).items) kept.push(toPod(item));
}
const mapMs = performance.now() - started;
gc();
const withPods = process.memoryUsage().heapUsed;
const n = kept.length;
kept.length = 0;
gc();
const withoutPods = process.memoryUsage().heapUsed;
const perPod = (withPods - withoutPods) / n;
console.log(`bench/pod-memory: ${n} pods in ${pages.length} pages of ${PAGE}`);
console.log(
  `  parse + toPod       ${mapMs.toFixed(0)} ms (${((1000 * mapMs) / n).toFixed(1)} µs a pod)`,
);
console.log(`  heap kept per pod   ${perPod.toFixed(0)} bytes`);
console.log(`  at 150,000 pods     ${((perPod * 150_000) / 2 ** 20).toFixed(0)} MiB of heap`);
