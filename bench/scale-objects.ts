// The objects bench/controller-scale writes to the API server (kwok's GPU
// nodes, pods bound to them, each pod's first Running status), shared with
// bench/pod-memory so both measure the same pods.
import type { Write } from './controller-scale-api.ts';

/** Namespaces the pods are spread over. */
export const WORKLOAD_NAMESPACES = 10;

export const nodeName = (i: number): string => `kwok-gpu-${String(i).padStart(5, '0')}`;
export const workloadNamespace = (i: number): string =>
  `scale-${String(i % WORKLOAD_NAMESPACES).padStart(2, '0')}`;

/**
 * A GPU node as a kubelet registers it, marked for kwok. No InternalIP: the
 * controller probes every node with one at L2-L7 from its own host once a
 * second, which at thousands of nodes measures process spawning, not the
 * watch path this bench is about (see docs/scale.md).
 */
export function nodeObject(i: number): { path: string; body: unknown } {
  const name = nodeName(i);
  const resources = {
    cpu: '128',
    memory: '1056Gi',
    'ephemeral-storage': '3500Gi',
    pods: '110',
    'nvidia.com/gpu': '8',
  };
  return {
    path: '/api/v1/nodes',
    body: {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'node.kubernetes.io/instance-type': 'gpu.h100.8x',
          'topology.kubernetes.io/zone': `zone-${i % 3}`,
          'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3',
          type: 'kwok',
        },
      },
      spec: {
        taints: [{ key: 'kwok.x-k8s.io/node', value: 'fake', effect: 'NoSchedule' }],
      },
      status: {
        capacity: resources,
        allocatable: resources,
        addresses: [{ type: 'Hostname', address: name }],
      },
    },
  };
}

/**
 * A pod bound straight to its node (spec.nodeName, so the scheduler is idle),
 * spread evenly, with requests and limits like the seed cluster's workloads;
 * every 10th asks for a GPU. Groups of 30 share an `app` label like a
 * ReplicaSet's pods, without ownerReferences the garbage collector would chase.
 */
const podApp = (i: number): string => `train-${String(Math.floor(i / 30)).padStart(5, '0')}`;
const podName = (i: number): string => `${podApp(i)}-${String(i).padStart(6, '0')}`;

export function podObject(i: number, nodes: number): Write {
  const ns = workloadNamespace(i);
  const app = podApp(i);
  const gpu = i % 10 === 0;
  return {
    path: `/api/v1/namespaces/${ns}/pods`,
    body: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: podName(i),
        namespace: ns,
        labels: { app, tier: gpu ? 'gpu' : 'cpu', team: `team-${i % 17}` },
        annotations: { 'nodewarden.dev/bench': 'controller-scale' },
      },
      spec: {
        nodeName: nodeName(i % nodes),
        automountServiceAccountToken: false,
        tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
        containers: [
          {
            name: 'main',
            image: 'registry.example/ml/trainer:2025.08',
            args: ['--epochs=10', `--shard=${i}`],
            env: [
              { name: 'NCCL_DEBUG', value: 'WARN' },
              { name: 'SHARD', value: String(i) },
            ],
            ports: [{ name: 'metrics', containerPort: 9400 }],
            resources: {
              requests: { cpu: '2', memory: '8Gi', ...(gpu ? { 'nvidia.com/gpu': '1' } : {}) },
              limits: { cpu: '4', memory: '16Gi', ...(gpu ? { 'nvidia.com/gpu': '1' } : {}) },
            },
          },
        ],
      },
    },
  };
}

/**
 * Pod i's first status as its kubelet would report it: Running and Ready, the
 * container started, an address from 10.128.0.0/9 (what kwok's pod Stage
 * writes, without kwok).
 */
export function podRunning(i: number): Write {
  const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const n = i + 2;
  const podIP = `10.${128 + ((n >> 16) & 127)}.${(n >> 8) & 255}.${n & 255}`;
  return {
    method: 'PATCH',
    contentType: 'application/merge-patch+json',
    path: `/api/v1/namespaces/${workloadNamespace(i)}/pods/${podName(i)}/status`,
    body: {
      status: {
        phase: 'Running',
        startTime: at,
        podIP,
        podIPs: [{ ip: podIP }],
        conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({
          type,
          status: 'True',
          lastTransitionTime: at,
        })),
        containerStatuses: [
          {
            name: 'main',
            image: 'registry.example/ml/trainer:2025.08',
            imageID: '',
            ready: true,
            started: true,
            restartCount: 0,
            state: { running: { startedAt: at } },
          },
        ],
      },
    },
  };
}
