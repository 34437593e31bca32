// bench/pod-memory — what one pod costs the controller's cache: N pods shaped
// like bench/controller-scale's (and a kubelet's status on top), as the API
// server pages them (500 a page, JSON text), parsed and mapped by toPod as the
// informer does, kept, then dropped; the V8 heap before and after the drop
// (both after a full GC) is what the kept snapshots held.
//
//   node --expose-gc --import tsx bench/pod-memory.ts [--pods 30000]
import { toPod } from '../src/kube/map.ts';
import type { PodSnapshot } from '../src/core/cluster.ts';
import { numberFlag } from './flags.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc --import tsx bench/pod-memory.ts');
  process.exit(2);
}
const count = numberFlag('pods', 30_000, 500, 500_000);
const PAGE = 500;
const at = '2026-12-05T00:25:01Z';

/** Pod i as the API server lists it: bench/controller-scale's spec, a kubelet's status. */
function rawPod(i: number): unknown {
  const gpu = i % 10 === 0;
  const node = `kwok-gpu-${String(i % 5000).padStart(5, '0')}`;
  return {
    metadata: {
      name: `train-${String(Math.floor(i / 30)).padStart(5, '0')}-${String(i).padStart(6, '0')}`,
      namespace: `scale-${String(i % 10).padStart(2, '0')}`,
      uid: `5f0c${String(i).padStart(8, '0')}-1f2e-4c3b-9a8d-7e6f5a4b3c2d`,
      resourceVersion: String(100_000 + i),
      creationTimestamp: at,
      labels: {
        app: `train-${Math.floor(i / 30)}`,
        tier: gpu ? 'gpu' : 'cpu',
        team: `team-${i % 17}`,
      },
      annotations: { 'nodewarden.dev/bench': 'controller-scale' },
      managedFields: [{ manager: 'bench', operation: 'Update', time: at }],
    },
    spec: {
      nodeName: node,
      tolerations: [
        { key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' },
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
        {
          key: 'node.kubernetes.io/unreachable',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
      containers: [
        {
          name: 'main',
          image: 'registry.example/ml/trainer:2025.08',
          resources: {
            requests: { cpu: '2', memory: '8Gi', ...(gpu ? { 'nvidia.com/gpu': '1' } : {}) },
            limits: { cpu: '4', memory: '16Gi', ...(gpu ? { 'nvidia.com/gpu': '1' } : {}) },
          },
        },
      ],
      priority: 0,
    },
    status: {
      phase: 'Running',
      qosClass: 'Burstable',
      podIP: `10.128.${(i >> 8) & 255}.${i & 255}`,
      startTime: at,
      containerStatuses: [
        { name: 'main', restartCount: 0, ready: true, state: { running: { startedAt: at } } },
      ],
    },
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
