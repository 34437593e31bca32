import type { NodeRole } from './topology.ts';

/**
 * What the lab's Kubernetes nodes look like and what runs on them, shaped
 * after the 2025-08-25 cluster. Node sizes are the lab's choice (the seed
 * report gives percentages, not sizes); the workloads are sized so that the
 * seed's picture appears on the real scheduler:
 * - the MIG node runs MIG pods (which cannot move: no other node has MIG
 *   slices) and general pods that prefer it, at about the seed's 14% / 69%
 *   CPU requests / limits;
 * - each md-0 node already carries limits far above its allocatable CPU, so
 *   when the MIG node's general pods move there, CPU limits reach the
 *   several-hundred-percent range the seed's survivors showed (340–601%).
 * Pure data: `lab workload seed` applies it, tests read it.
 */

export interface NodeProfile {
  readonly labels: Readonly<Record<string, string>>;
  readonly capacity: Readonly<Record<string, string>>;
}

export const MIG_PROFILE = 'nvidia.com/mig-1g.10gb';

export function nodeProfile(role: NodeRole): NodeProfile {
  if (role === 'mig') {
    return {
      labels: {
        'node-role': 'mig',
        'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB',
        'nvidia.com/mig.strategy': 'mixed',
        'topology.kubernetes.io/zone': 'nova',
      },
      capacity: {
        cpu: '32',
        memory: '128Gi',
        pods: '110',
        'ephemeral-storage': '200Gi',
        [MIG_PROFILE]: '7',
      },
    };
  }
  return {
    labels: { 'node-role': 'worker', 'topology.kubernetes.io/zone': 'nova' },
    capacity: { cpu: '16', memory: '64Gi', pods: '110', 'ephemeral-storage': '100Gi' },
  };
}

/** A deterministic OpenStack server id per node address, for `providerID: openstack:///<uuid>`. */
export function labServerId(ip: string): string {
  const hex = ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('');
  return `6e0d3a1c-0000-4000-8000-0000${hex}`;
}

export const SEED_NAMESPACE = 'seed';

interface PodShape {
  readonly cpu: readonly [request: string, limit: string];
  readonly memory: readonly [request: string, limit: string];
  readonly extra?: Readonly<Record<string, string>>;
}

export interface WorkloadSpec {
  readonly name: string;
  readonly replicas: number;
  readonly shape: PodShape;
  /** Pin to one node (md-0 baseline load) … */
  readonly pinTo?: string;
  /** … or prefer nodes with this label (movable, so it lands elsewhere when that node dies). */
  readonly prefer?: Readonly<Record<string, string>>;
  /** Require a label (MIG pods require the MIG node's role). */
  readonly require?: Readonly<Record<string, string>>;
  readonly priorityClassName?: string;
}

/**
 * The seed's workloads for a lab whose md-0 nodes are `workers` (in report
 * order). Baseline replicas per md-0 node grow along the report's order, like
 * the seed's survivors (85zt7 least loaded, wn4gb most).
 */
export function seedWorkloads(workers: readonly string[]): WorkloadSpec[] {
  const baseline = [4, 4, 5, 7];
  return [
    {
      name: 'mig-inference',
      replicas: 2,
      shape: { cpu: ['500m', '2'], memory: ['2Gi', '4Gi'], extra: { [MIG_PROFILE]: '1' } },
      require: { 'node-role': 'mig' },
    },
    {
      name: 'feature-pipeline',
      replicas: 7,
      shape: { cpu: ['500m', '2500m'], memory: ['700Mi', '3Gi'] },
      prefer: { 'node-role': 'mig' },
    },
    ...workers.map((node, i): WorkloadSpec => ({
      name: `backend-${node.slice(-5)}`,
      replicas: baseline[i % baseline.length] ?? 4,
      shape: { cpu: ['1500m', '12'], memory: ['6Gi', '14Gi'] },
      pinTo: node,
    })),
  ];
}

/** The Deployment manifest of one workload. */
export function deploymentManifest(w: WorkloadSpec): Record<string, unknown> {
  const labels = { app: w.name, 'app.kubernetes.io/part-of': 'nodewarden-lab-seed' };
  const resources = {
    requests: { cpu: w.shape.cpu[0], memory: w.shape.memory[0], ...w.shape.extra },
    limits: { cpu: w.shape.cpu[1], memory: w.shape.memory[1], ...w.shape.extra },
  };
  const matchExpressions = (m: Readonly<Record<string, string>>) =>
    Object.entries(m).map(([key, value]) => ({ key, operator: 'In', values: [value] }));
  const affinity = w.prefer
    ? {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, preference: { matchExpressions: matchExpressions(w.prefer) } },
          ],
        },
      }
    : undefined;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: w.name, namespace: SEED_NAMESPACE, labels },
    spec: {
      replicas: w.replicas,
      selector: { matchLabels: { app: w.name } },
      template: {
        metadata: { labels },
        spec: {
          ...(w.pinTo ? { nodeSelector: { 'kubernetes.io/hostname': w.pinTo } } : {}),
          ...(w.require ? { nodeSelector: w.require } : {}),
          ...(affinity ? { affinity } : {}),
          ...(w.priorityClassName ? { priorityClassName: w.priorityClassName } : {}),
          containers: [{ name: 'app', image: 'registry.local/seed/app:1', resources }],
        },
      },
    },
  };
}
