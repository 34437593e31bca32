/**
 * The 2025-08-25 cluster (docs/detection.md, "The seed scenario", shows
 * how every number here was derived): the MIG node
 * tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq at 10.62.0.30 and the four md-0
 * nodes that took its pods. Before the failure the MIG node shows the
 * seed's CPU requests 14% / limits 69%, memory 7% / 22%; once its pods have
 * been evicted and recreated by the simulator's own controllers, the
 * survivors show the seed's table to one decimal.
 */
import { ManualClock } from '../core/clock.ts';
import {
  planLab,
  SEED_MIG_NODE,
  SEED_WORKER_PREFIX,
  SEED_WORKER_SUFFIXES,
} from '../lab/topology.ts';
import { labServerId } from '../lab/seed-cluster.ts';
import {
  SimCluster,
  type SimClusterOptions,
  type SimContainerSpec,
  type SimPodSpec,
} from './sim-cluster.ts';

/** 12:57 KST, a minute before the seed's last heartbeat. */
export const SEED_START = '2025-08-25T03:57:00Z';

/** The seed's timeline (KST in the report, UTC here). */
export const SEED_TIMELINE = {
  lastHeartbeat: '2025-08-25T03:58:00Z',
  cutOffDetected: '2025-08-25T04:02:00Z',
  evicted: '2025-08-25T04:08:00Z',
  noticed: '2025-08-25T07:32:00Z',
  recovered: '2025-08-25T10:46:00Z',
} as const;

/** When the scenario's MIG node loses its link: 2.5 s after its last renewal at 03:58:02.5. */
export const SEED_CUT_AT = '2025-08-25T03:58:05Z';

export const SEED_MIG = SEED_MIG_NODE;
export const SEED_SURVIVORS: readonly string[] = SEED_WORKER_SUFFIXES.map(
  (s) => `${SEED_WORKER_PREFIX}${s}`,
);

/** The seed's "Resources" section, as percentages to one decimal. */
export const SEED_MIG_BEFORE = { cpu: [14, 69], memory: [7, 22] } as const;
export const SEED_SURVIVORS_AFTER: Readonly<
  Record<
    string,
    { readonly cpu: readonly [number, number]; readonly memory: readonly [number, number] }
  >
> = {
  [`${SEED_WORKER_PREFIX}85zt7`]: { cpu: [88.9, 340.6], memory: [58.7, 149.8] },
  [`${SEED_WORKER_PREFIX}9f79t`]: { cpu: [90.5, 381.3], memory: [57.3, 178.6] },
  [`${SEED_WORKER_PREFIX}pkmt5`]: { cpu: [93.4, 416.6], memory: [84.2, 213.3] },
  [`${SEED_WORKER_PREFIX}wn4gb`]: { cpu: [147.9, 601.3], memory: [84.1, 357.1] },
};

/** md-1 (MIG) and md-0 flavours: allocatable as the kubelet reports it. */
const MIG_ALLOCATABLE = {
  cpu: '32',
  memory: '131906560Ki',
  'nvidia.com/mig-1g.10gb': '7',
  pods: '110',
};
const WORKER_ALLOCATABLE = { cpu: '16', memory: '65842560Ki', pods: '110' };
const MIG_GPU = 'nvidia.com/mig-1g.10gb';

function c(
  name: string,
  requests: Record<string, string>,
  limits: Record<string, string> = {},
): SimContainerSpec {
  return { name, requests, limits };
}

/** DaemonSets on every node: Kube-OVN's CNI, OVS/OVN, its pinger, node-exporter. */
function daemonSets(node: string, suffix: string): SimPodSpec[] {
  const ds = (namespace: string, name: string, container: SimContainerSpec): SimPodSpec => ({
    namespace,
    name: `${name}-${suffix}`,
    node,
    owner: { kind: 'DaemonSet', name },
    containers: [container],
  });
  return [
    ds(
      'kube-system',
      'kube-ovn-cni',
      c('cni-server', { cpu: '100m', memory: '100Mi' }, { cpu: '1', memory: '1Gi' }),
    ),
    ds(
      'kube-system',
      'ovs-ovn',
      c('openvswitch', { cpu: '200m', memory: '200Mi' }, { cpu: '1', memory: '800Mi' }),
    ),
    ds(
      'kube-system',
      'kube-ovn-pinger',
      c('pinger', { cpu: '100m', memory: '50Mi' }, { cpu: '200m', memory: '400Mi' }),
    ),
    ds(
      'monitoring',
      'node-exporter',
      c('node-exporter', { cpu: '112m', memory: '200Mi' }, { cpu: '270m', memory: '220Mi' }),
    ),
  ];
}

/**
 * What the survivors already ran (bound directly: the cluster's history),
 * sized so that they reach the seed's table once the MIG node's pods land.
 * wn4gb's requests exceed its allocatable: no scheduler places that and no
 * kubelet admits it against today's allocatable, so it cannot be the
 * failure's doing — the seed measured it, so the scenario starts with it.
 */
const SURVIVOR_WORKLOAD: Readonly<
  Record<string, { cpu: [string, string]; memory: [string, string] }[]>
> = {
  '85zt7': [{ cpu: ['10662m', '39026m'], memory: ['26508Mi', '69812Mi'] }],
  '9f79t': [{ cpu: ['10818m', '45038m'], memory: ['25798Mi', '86795Mi'] }],
  pkmt5: [{ cpu: ['12432m', '56186m'], memory: ['45398Mi', '118323Mi'] }],
  wn4gb: [
    { cpu: ['10576m', '42869m'], memory: ['22667Mi', '105393Mi'] },
    { cpu: ['10576m', '42869m'], memory: ['22667Mi', '105392Mi'] },
  ],
};

/** The MIG node's pods that a ReplicaSet recreates elsewhere, in the order their owners were created. */
function migMovable(node: string): SimPodSpec[] {
  const rs = (
    namespace: string,
    owner: string,
    pod: string,
    container: SimContainerSpec,
  ): SimPodSpec => ({
    namespace,
    name: `${owner}-${pod}`,
    node,
    owner: { kind: 'ReplicaSet', name: owner },
    containers: [container],
  });
  const api = c('api', { cpu: '250m', memory: '512Mi' }, { cpu: '2', memory: '2Gi' });
  const pre = c('preprocess', { cpu: '400m', memory: '768Mi' }, { cpu: '1500m', memory: '3Gi' });
  return [
    rs('resource-backend', 'resource-backend-api-7c9d6f', 'x8k2p', api),
    rs('resource-backend', 'resource-backend-api-7c9d6f', 'q4vzn', api),
    rs('ml-serving', 'preprocess-5b8f7d', 'h2ws9', pre),
    rs('ml-serving', 'preprocess-5b8f7d', 'mt6rx', pre),
    rs(
      'ml-serving',
      'feature-store-6f4c8b',
      'd9lkq',
      c('feature-store', { cpu: '500m', memory: '1Gi' }, { cpu: '2', memory: '4Gi' }),
    ),
    rs(
      'data',
      'redis-cache-84d7c5',
      'zp5tg',
      c('redis', { cpu: '300m', memory: '1Gi' }, { cpu: '1', memory: '2Gi' }),
    ),
    rs(
      'monitoring',
      'kube-state-metrics-69b8f',
      'w7cjn',
      c('kube-state-metrics', { cpu: '100m', memory: '190Mi' }, { cpu: '500m', memory: '512Mi' }),
    ),
  ];
}

/** MIG workloads and GPU DaemonSets: they cannot move (no other node has MIG slices). */
function migGpuPods(node: string): SimPodSpec[] {
  const infer = c(
    'vllm',
    { cpu: '700m', memory: '1280Mi', [MIG_GPU]: '1' },
    { cpu: '4300m', memory: '3968Mi', [MIG_GPU]: '1' },
  );
  return [
    {
      namespace: 'gpu-operator',
      name: 'nvidia-device-plugin-daemonset-bkqzq',
      node,
      owner: { kind: 'DaemonSet', name: 'nvidia-device-plugin-daemonset' },
      containers: [c('nvidia-device-plugin', { cpu: '50m', memory: '64Mi' })],
    },
    {
      namespace: 'gpu-operator',
      name: 'nvidia-dcgm-exporter-bkqzq',
      node,
      owner: { kind: 'DaemonSet', name: 'nvidia-dcgm-exporter' },
      containers: [
        c('dcgm-exporter', { cpu: '100m', memory: '256Mi' }, { cpu: '500m', memory: '1Gi' }),
      ],
    },
    {
      namespace: 'ml-serving',
      name: 'llm-infer-mig-7d5b9c-rk4tf',
      node,
      owner: { kind: 'ReplicaSet', name: 'llm-infer-mig-7d5b9c' },
      containers: [infer],
      nodeSelector: { 'node-role': 'mig' },
    },
    {
      namespace: 'ml-serving',
      name: 'llm-infer-mig-7d5b9c-v9jbn',
      node,
      owner: { kind: 'ReplicaSet', name: 'llm-infer-mig-7d5b9c' },
      containers: [infer],
      nodeSelector: { 'node-role': 'mig' },
    },
    // A notebook without CPU/memory limits: the kind of MIG pod the audit flags.
    {
      namespace: 'research',
      name: 'jupyter-mig-0',
      node,
      containers: [
        c('notebook', { cpu: '218m', memory: '789Mi', [MIG_GPU]: '1' }, { [MIG_GPU]: '1' }),
      ],
      nodeSelector: { 'node-role': 'mig' },
    },
  ];
}

export interface SeedScenario {
  readonly clock: ManualClock;
  readonly sim: SimCluster;
  readonly mig: string;
  readonly survivors: readonly string[];
  /** Epoch ms of SEED_CUT_AT. */
  readonly cutAt: number;
}

/**
 * Builds the 2025-08-25 cluster at 12:57 KST (03:57Z). Nothing has failed
 * yet: call `sim.cutNode(mig)` at `cutAt` (or whenever) to replay it.
 */
export function seedScenario(options: SimClusterOptions = {}): SeedScenario {
  const clock = new ManualClock(SEED_START);
  const sim = new SimCluster(clock, options);
  const plan = planLab(5, '10.62.0.0/24');
  // Renewal phases spread over the 10 s period; the MIG node renews at :x2.5, so
  // its last renewal before the 03:58:05 cut-off is 03:58:02.5 ("12:58").
  const phases: Readonly<Record<string, number>> = {
    bkqzq: 7_500,
    '85zt7': 1_000,
    '9f79t': 3_000,
    pkmt5: 5_000,
    wn4gb: 9_000,
  };
  for (const planned of plan.nodes) {
    const suffix = planned.name.slice(-5);
    const mig = planned.role === 'mig';
    sim.addNode({
      name: planned.name,
      ip: planned.ip,
      labels: mig
        ? {
            'node-role': 'mig',
            'nvidia.com/mig.strategy': 'mixed',
            'cluster.x-k8s.io/deployment-name': 'tkai-oks-md-1',
          }
        : { 'node-role': 'worker', 'cluster.x-k8s.io/deployment-name': 'tkai-oks-md-0' },
      allocatable: mig ? MIG_ALLOCATABLE : WORKER_ALLOCATABLE,
      providerID: `openstack:///${labServerId(planned.ip)}`,
      renewPhaseMs: phases[suffix] ?? 0,
    });
  }
  let workerOrdinal = 0;
  for (const planned of plan.nodes) {
    const suffix = planned.name.slice(-5);
    for (const pod of daemonSets(planned.name, suffix)) sim.addPod(pod);
    if (planned.role === 'mig') {
      for (const pod of [...migGpuPods(planned.name), ...migMovable(planned.name)]) sim.addPod(pod);
      continue;
    }
    sim.addPod({
      namespace: 'resource-backend',
      name: `resource-backend-worker-${workerOrdinal++}`,
      node: planned.name,
      owner: { kind: 'StatefulSet', name: 'resource-backend-worker' },
      containers: [c('worker', { cpu: '2', memory: '8Gi' }, { cpu: '8', memory: '16Gi' })],
    });
    (SURVIVOR_WORKLOAD[suffix] ?? []).forEach((w, i) => {
      sim.addPod({
        namespace: 'batch',
        name: `etl-${suffix}-${i}`,
        node: planned.name,
        containers: [
          c('etl', { cpu: w.cpu[0], memory: w.memory[0] }, { cpu: w.cpu[1], memory: w.memory[1] }),
        ],
      });
    });
  }
  return { clock, sim, mig: SEED_MIG, survivors: SEED_SURVIVORS, cutAt: Date.parse(SEED_CUT_AT) };
}
