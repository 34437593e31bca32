import { describe, expect, it } from 'vitest';
import type { NodeSnapshot, PodSnapshot } from '../core/cluster.ts';
import type { NodeWardenError } from '../core/errors.ts';
import { milliCpu, parseQuantity } from '../core/quantity.ts';
import { nodeUse, percent1, podLimits, podRequests } from './resources.ts';
import { schedulePod, tolerates } from './scheduler.ts';

describe('parseQuantity', () => {
  it('reads the forms Kubernetes writes', () => {
    expect(parseQuantity('16')).toBe(16);
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('1.5')).toBe(1.5);
    expect(parseQuantity('64Gi')).toBe(64 * 2 ** 30);
    expect(parseQuantity('65842560Ki')).toBe(65842560 * 1024);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('.5')).toBe(0.5);
    expect(milliCpu('0.0001')).toBe(1); // Kubernetes rounds CPU up to whole millicores
    expect(milliCpu('2')).toBe(2000);
  });

  it('refuses anything else, naming it', () => {
    for (const bad of ['', 'lots', '5 Gi', '1KB', '--1']) {
      try {
        parseQuantity(bad);
        expect.unreachable(`"${bad}" must be refused`);
      } catch (error) {
        expect((error as NodeWardenError).code).toBe('BAD_INPUT');
        expect((error as NodeWardenError).message).toBe(`"${bad}" is not a Kubernetes quantity`);
      }
    }
  });
});

function pod(
  name: string,
  node: string | null,
  requests: Record<string, string>,
  limits: Record<string, string> = {},
): PodSnapshot {
  return {
    namespace: 'app',
    name,
    uid: name,
    nodeName: node,
    phase: 'Running',
    labels: {},
    ownerKind: null,
    ownerName: null,
    deletionTimestamp: null,
    createdAt: '2025-08-25T03:57:00Z',
    containers: [{ name: 'main', requests, limits }],
    initContainers: [],
    priorityClassName: null,
    qosClass: null,
    nodeSelector: {},
    tolerations: [],
  };
}

function node(
  name: string,
  allocatable: Record<string, string>,
  extra: Partial<NodeSnapshot> = {},
): NodeSnapshot {
  return {
    name,
    uid: name,
    labels: {},
    annotations: {},
    internalIP: null,
    providerID: null,
    unschedulable: false,
    taints: [],
    conditions: [{ type: 'Ready', status: 'True' }],
    capacity: allocatable,
    allocatable,
    createdAt: '2025-08-25T03:57:00Z',
    ...extra,
  };
}

describe('requests, limits and node use', () => {
  it('takes the larger of the containers’ sum and the largest init container', () => {
    const p: PodSnapshot = {
      ...pod('p', 'n', {}),
      containers: [
        { name: 'a', requests: { cpu: '100m', memory: '100Mi' }, limits: { cpu: '1' } },
        { name: 'b', requests: { cpu: '200m' }, limits: {} },
      ],
      initContainers: [
        { name: 'init', requests: { cpu: '500m', memory: '50Mi' }, limits: { cpu: '500m' } },
      ],
    };
    expect(podRequests(p)).toEqual({ cpu: 0.5, memory: 100 * 2 ** 20 });
    expect(podLimits(p)).toEqual({ cpu: 1 });
  });

  it('counts non-terminated pods on the node, Terminating included, as kubectl describe does', () => {
    const n = node('n', { cpu: '4', memory: '8Gi' });
    const pods = [
      pod('a', 'n', { cpu: '1', memory: '1Gi' }, { cpu: '4', memory: '2Gi' }),
      { ...pod('b', 'n', { cpu: '1' }), deletionTimestamp: '2025-08-25T04:03:55Z' },
      { ...pod('c', 'n', { cpu: '1' }), phase: 'Succeeded' },
      pod('d', 'other', { cpu: '1' }),
    ];
    const use = nodeUse(n, pods);
    expect(use.cpu).toEqual({
      allocatable: 4,
      requests: 2,
      limits: 4,
      requestsPct: 50,
      limitsPct: 100,
    });
    expect(percent1(use.memory.requestsPct)).toBe(12.5);
    expect(percent1(88.94999)).toBe(88.9);
  });
});

describe('schedulePod', () => {
  const unreachable = { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' as const };

  it('filters like kube-scheduler and picks the node with the most room left (LeastAllocated)', () => {
    const nodes = [
      node('busy', { cpu: '4', memory: '8Gi' }),
      node('roomy', { cpu: '4', memory: '8Gi' }),
      node(
        'dead',
        { cpu: '64', memory: '256Gi' },
        { taints: [unreachable], conditions: [{ type: 'Ready', status: 'Unknown' }] },
      ),
      node('cordoned', { cpu: '64', memory: '256Gi' }, { unschedulable: true }),
    ];
    const existing = [
      pod('x', 'busy', { cpu: '3', memory: '1Gi' }),
      pod('y', 'roomy', { cpu: '1', memory: '1Gi' }),
    ];
    expect(schedulePod(pod('new', null, { cpu: '500m', memory: '1Gi' }), nodes, existing)).toEqual({
      node: 'roomy',
    });
    const tooBig = schedulePod(pod('big', null, { cpu: '3500m' }), nodes, existing);
    expect(tooBig).toEqual({
      node: null,
      reason:
        '0/4 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were unschedulable, 2 Insufficient cpu.',
    });
  });

  it('honours taints, tolerations, nodeSelector and extended resources', () => {
    const gpu = node(
      'gpu',
      { cpu: '32', memory: '128Gi', 'nvidia.com/mig-1g.10gb': '1' },
      {
        labels: { 'node-role': 'mig' },
        taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
      },
    );
    const plain = node('plain', { cpu: '16', memory: '64Gi' });
    const wantsGpu = {
      ...pod('g', null, { 'nvidia.com/mig-1g.10gb': '1' }),
      nodeSelector: { 'node-role': 'mig' },
    };
    expect(schedulePod(wantsGpu, [gpu, plain], []).reason).toBe(
      "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {nvidia.com/gpu: present}.",
    );
    const tolerating = {
      ...wantsGpu,
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' as const }],
    };
    expect(schedulePod(tolerating, [gpu, plain], [])).toEqual({ node: 'gpu' });
    expect(
      schedulePod(tolerating, [gpu, plain], [{ ...tolerating, name: 'first', nodeName: 'gpu' }])
        .reason,
    ).toMatch(/1 Insufficient nvidia.com\/mig-1g.10gb/);
  });

  it('matches tolerations as Kubernetes does', () => {
    const taint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' as const };
    expect(tolerates([{ operator: 'Exists' }], taint)).toBe(true);
    expect(
      tolerates(
        [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoSchedule' }],
        taint,
      ),
    ).toBe(false);
    expect(tolerates([{ key: 'node.kubernetes.io/unreachable', value: '' }], taint)).toBe(true);
    expect(tolerates([{ key: 'other', operator: 'Exists' }], taint)).toBe(false);
  });
});
