// bench/partition — a rack's worth of GPU nodes cut off at once, in process:
// the controller's detection, incident decisions and SQLite writes through a
// six-minute storm, second by second, as the controller runs them. N nodes
// with P pods each; a fraction F stops renewing its Lease at t = 0; Kubernetes
// marks them NotReady at 50 s (its 1.32 grace), taints them, marks their pods
// for deletion at 350 s (300 s toleration) and deletes them at 380 s. Every
// second: which nodes changed → detectClusterChanges → decideIncidents → the
// store (the controller's storeSink), and every 10 s the read remediation
// does (remediationIncidents: open incidents with their timelines).
//
//   npx tsx bench/partition.ts [--nodes 5000] [--pods-per-node 30] [--fraction 0.3]
//
// Prints the time per evaluation (decide, write) by phase, the worst, and the
// size of the one partition incident at the end. No root, no network.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LeaseSnapshot, NodeSnapshot, PodSnapshot } from '../src/core/cluster.ts';
import {
  DEFAULT_CLUSTER_DETECTION_CONFIG,
  detectClusterChanges,
  type ClusterDetectionState,
} from '../src/core/detection-cluster.ts';
import { leaseEvidence, readyStatus } from '../src/core/detection.ts';
import type { Incident } from '../src/core/incident.ts';
import { decideIncidents } from '../src/core/incidents.ts';
import { silentLogger } from '../src/core/logger.ts';
import { storeSink } from '../src/controller/store-sink.ts';
import { remediationIncidents } from '../src/remediate/executor.ts';
import { EventHub, observedStore } from '../src/server/api/events.ts';
import { openStore } from '../src/store/open.ts';
import { numberFlag } from './flags.ts';

const nodeCount = numberFlag('nodes', 5_000, 10, 20_000);
const podsPerNode = numberFlag('pods-per-node', 30, 0, 110);
const fraction = numberFlag('fraction', 0.3, 0.01, 1, false);

const T0 = Date.parse('2025-08-25T03:58:00Z');
const iso = (ms: number): string => new Date(ms).toISOString();
const name = (i: number): string => `gpu-${String(i).padStart(5, '0')}`;
const cut = new Set(Array.from({ length: Math.round(nodeCount * fraction) }, (_, i) => name(i)));

// ---- the cluster as the controller's caches hold it --------------------
const nodes = new Map<string, NodeSnapshot>();
const leases = new Map<string, LeaseSnapshot>();
const pods = new Map<string, PodSnapshot[]>();
function setNode(
  n: string,
  ready: 'True' | 'Unknown',
  since: number,
  taints: NodeSnapshot['taints'],
): void {
  nodes.set(n, {
    name: n,
    uid: n,
    labels: {},
    annotations: {},
    internalIP: null,
    providerID: null,
    unschedulable: false,
    taints,
    conditions: [{ type: 'Ready', status: ready, lastTransitionTime: iso(since) }],
    capacity: { cpu: '128', memory: '1056Gi', 'nvidia.com/gpu': '8' },
    allocatable: { cpu: '128', memory: '1056Gi', 'nvidia.com/gpu': '8' },
    createdAt: iso(T0 - 86_400_000),
  });
}
function renew(n: string, at: number): void {
  leases.set(n, { node: n, holderIdentity: n, renewTime: iso(at), leaseDurationSeconds: 40 });
}
function setPods(n: string, deletedAt: number | null): void {
  pods.set(
    n,
    Array.from({ length: podsPerNode }, (_, j) => ({
      namespace: `team-${j % 7}`,
      name: `${n}-train-${j}`,
      uid: `${n}-${j}`,
      nodeName: n,
      phase: 'Running',
      labels: {},
      ownerKind: 'ReplicaSet',
      ownerName: `train-${j}`,
      deletionTimestamp: deletedAt === null ? null : iso(deletedAt),
      createdAt: iso(T0 - 3_600_000),
      containers: [{ name: 'main', requests: { cpu: '2' }, limits: { cpu: '4' } }],
      initContainers: [],
      priorityClassName: null,
      qosClass: 'Burstable',
      nodeSelector: {},
      tolerations: [],
    })),
  );
}
for (let i = 0; i < nodeCount; i++) {
  setNode(name(i), 'True', T0 - 86_400_000, []);
  renew(name(i), T0 - ((i * 7) % 10_000));
  setPods(name(i), null);
}
const facts = {
  node: (n: string) => nodes.get(n),
  lease: (n: string) => leases.get(n),
  podsOnNode: (n: string) => pods.get(n) ?? [],
};

// ---- the run ------------------------------------------------------------
const dir = await mkdtemp(join(tmpdir(), 'nodewarden-bench-partition-'));
// The store as the controller wraps it: every write also publishes an API event.
const hub = new EventHub();
let published = 0;
hub.subscribe(() => void (published += 1));
const raw = await openStore(`sqlite:${join(dir, 'incidents.db')}`);
const store = observedStore(raw, hub, (error) => {
  throw error;
});
const sink = storeSink(store, silentLogger, () => undefined);
const phases = [
  { until: 50, label: '0–50 s: Leases age, Suspect, partition opens' },
  { until: 350, label: '50–350 s: NotReady, taints' },
  { until: 400, label: '350–400 s: evictions, pods deleted' },
] as const;
const figures = phases.map(() => ({ decide: [] as number[], write: [] as number[] }));
const reads: number[] = [];
let state: ClusterDetectionState | null = null;
let incidents: Incident[] = [];
let evaluated = 0;
const names = [...nodes.keys()];
try {
  for (let s = 0; s <= 400; s++) {
    const now = T0 + s * 1000;
    const changed = new Set<string>();
    for (const n of names) {
      const renewal = Date.parse(leases.get(n)?.renewTime ?? '');
      if (!cut.has(n) && now - renewal >= 10_000) {
        renew(n, now);
        changed.add(n);
      }
    }
    if (s === 50 || s === 55 || s === 350 || s === 380) {
      for (const n of cut) {
        changed.add(n);
        if (s === 50) setNode(n, 'Unknown', now, []);
        if (s === 55) {
          setNode(n, 'Unknown', T0 + 50_000, [
            {
              key: 'node.kubernetes.io/unreachable',
              effect: 'NoSchedule',
              timeAdded: iso(T0 + 50_000),
            },
            { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: iso(now) },
          ]);
        }
        if (s === 350) setPods(n, now);
        if (s === 380) pods.set(n, []);
      }
    }
    const started = performance.now();
    const detection = detectClusterChanges(
      state,
      {
        connection: { connected: true, lastContactAt: iso(now), error: null },
        names,
        changed: state === null ? 'all' : changed,
        input: (n) => ({
          node: n,
          lease: leaseEvidence(leases.get(n)),
          ready: readyStatus(nodes.get(n)),
          observations: [],
        }),
      },
      now,
      DEFAULT_CLUSTER_DETECTION_CONFIG,
    );
    state = detection.state;
    evaluated += detection.evaluated;
    const decision = decideIncidents({ now, incidents, detection: state, facts });
    // As the controller does: keep the decision's own incidents (and its timeline indexes).
    incidents = [...decision.incidents];
    const decided = performance.now();
    await sink(decision.commands, incidents);
    // Let what the writes set off (the API events' reads of the incident) run before timing.
    await new Promise((resolve) => setImmediate(resolve));
    const written = performance.now();
    const phase = figures[phases.findIndex((p) => s <= p.until)];
    phase?.decide.push(decided - started);
    phase?.write.push(written - decided);
    if (s % 10 === 0) {
      const readStart = performance.now();
      await remediationIncidents(store, []);
      reads.push(performance.now() - readStart);
    }
  }
} finally {
  await raw.close();
  await rm(dir, { recursive: true, force: true });
}

const ms = (x: number): string => `${x.toFixed(1)} ms`;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const partition = incidents.filter((i) => i.kind === 'partition');
console.log(
  `bench/partition: ${nodeCount} nodes × ${podsPerNode} pods, ${cut.size} cut off at t = 0, 401 evaluations (1 s apart)`,
);
for (const [i, p] of phases.entries()) {
  const f = figures[i];
  if (f === undefined) continue;
  console.log(
    `  ${p.label.padEnd(44)} decide mean ${ms(mean(f.decide))}, max ${ms(Math.max(...f.decide))}; write mean ${ms(mean(f.write))}, max ${ms(Math.max(...f.write))}`,
  );
}
console.log(
  `  remediation's read of open incidents         mean ${ms(mean(reads))}, max ${ms(Math.max(...reads))} (every 10 s)`,
);
console.log(`  API events published                         ${published}`);
console.log(
  `  node evaluations                             ${evaluated} (full evaluation: ${401 * nodeCount})`,
);
console.log(
  `  incidents                                    ${incidents.length} (${partition.length} partition, ${incidents.length - partition.length} node); the partition: ${partition[0]?.nodes.length ?? 0} nodes, ${partition[0]?.timeline.length ?? 0} timeline entries, ${partition[0]?.affectedPods.length ?? 0} affected pods`,
);
