import { describe, expect, it } from 'vitest';
import {
  auditCapacity,
  holdsResources,
  nodeCapacity,
  percent1,
  podLimits,
  podRequests,
  podScoringRequests,
  podsByNode,
  useOf,
  type NodeCapacity,
} from './capacity.ts';
import { NodeWardenError } from './errors.ts';
import {
  container,
  MD0_NODES,
  MIG_NODE,
  node,
  pod,
  seedCluster,
} from '../../test/fixtures/audit/builders.ts';

const GiB = 2 ** 30;

const shares = (c: NodeCapacity, resource: string) => {
  const u = useOf(c, resource);
  return [percent1(u.requestsPct ?? -1), percent1(u.limitsPct ?? -1)];
};

describe('effective requests and limits of a pod', () => {
  it('sums the containers and takes the larger of that and the largest init container', () => {
    const p = pod('p', {
      initContainers: [
        container('fetch', { cpu: '3', memory: '1Gi' }, { cpu: '4', memory: '1Gi' }),
        container('migrate', { cpu: '500m', memory: '6Gi' }, { memory: '8Gi' }),
      ],
      containers: [
        container('app', { cpu: '1', memory: '2Gi' }, { cpu: '2', memory: '4Gi' }),
        container('sidecar', { cpu: '250m', memory: '512Mi' }, { cpu: '500m', memory: '1Gi' }),
      ],
    });
    // cpu: max(1.25, 3) = 3; memory: max(2.5Gi, 6Gi) = 6Gi.
    expect(podRequests(p)).toEqual({ cpu: 3, memory: 6 * GiB });
    // limits: cpu max(2.5, 4) = 4; memory max(5Gi, 8Gi) = 8Gi.
    expect(podLimits(p)).toEqual({ cpu: 4, memory: 8 * GiB });
  });

  it('keeps the containers sum when it is larger than every init container', () => {
    const p = pod('p', {
      initContainers: [container('init', { cpu: '100m' }, { cpu: '200m' })],
      containers: [
        container('a', { cpu: '1' }, { cpu: '2' }),
        container('b', { cpu: '1' }, { cpu: '2' }),
      ],
    });
    expect(podRequests(p)['cpu']).toBe(2);
    expect(podLimits(p)['cpu']).toBe(4);
  });

  it('defaults a request to its limit, as the API server does, and adds nothing to limits without one', () => {
    const p = pod('p', {
      containers: [
        container('gpu', {}, { 'nvidia.com/mig-1g.10gb': '1', cpu: '2' }),
        container('nolimit', { cpu: '1', memory: '1Gi' }, {}),
      ],
    });
    expect(podRequests(p)).toEqual({ 'nvidia.com/mig-1g.10gb': 1, cpu: 3, memory: GiB });
    expect(podLimits(p)).toEqual({ 'nvidia.com/mig-1g.10gb': 1, cpu: 2 });
  });

  it("counts request-less containers as kube-scheduler's 100m / 200Mi for scoring only", () => {
    const p = pod('p', {
      containers: [container('a', {}, {}), container('b', { cpu: '0', memory: '1Gi' })],
    });
    expect(podRequests(p)).toEqual({ cpu: 0, memory: GiB });
    expect(podScoringRequests(p)).toEqual({ cpu: 0.1, memory: 200 * 2 ** 20 + GiB });
  });

  it('names the pod, container and field of a quantity that does not parse', () => {
    const p = pod('broken', { containers: [container('app', { cpu: 'two' })] });
    expect(() => podRequests(p)).toThrowError(NodeWardenError);
    expect(() => podRequests(p)).toThrowError(
      'pod app/broken container app: requests cpu: "two" is not a Kubernetes quantity',
    );
  });
});

describe('which pods count against a node', () => {
  it('counts bound pods in any live phase, not terminated, unbound or deleting ones', () => {
    const on = { nodeName: 'n1' };
    expect(holdsResources(pod('running', on))).toBe(true);
    expect(holdsResources(pod('bound-pending', { ...on, phase: 'Pending' }))).toBe(true);
    expect(holdsResources(pod('unknown', { ...on, phase: 'Unknown' }))).toBe(true);
    expect(holdsResources(pod('done', { ...on, phase: 'Succeeded' }))).toBe(false);
    expect(holdsResources(pod('crashed', { ...on, phase: 'Failed' }))).toBe(false);
    expect(holdsResources(pod('unbound', { phase: 'Pending' }))).toBe(false);
    expect(
      holdsResources(pod('deleting', { ...on, deletionTimestamp: '2025-08-25T04:08:00Z' })),
    ).toBe(false);
  });

  it('groups only the counted pods by node', () => {
    const byNode = podsByNode([
      pod('a', { nodeName: 'n1' }),
      pod('b', { nodeName: 'n1', phase: 'Succeeded' }),
      pod('c', { nodeName: 'n2' }),
      pod('d'),
    ]);
    expect([...byNode.keys()].sort()).toEqual(['n1', 'n2']);
    expect(byNode.get('n1')?.map((p) => p.name)).toEqual(['a']);
  });
});

describe('a node as % of allocatable', () => {
  const worker = node('w', {
    cpu: '16',
    memory: '64Gi',
    pods: '110',
    'ephemeral-storage': '100Gi',
    'hugepages-1Gi': '0',
    'nvidia.com/gpu': '4',
  });

  it('lists cpu, memory, disk, then the extended resources it has or is asked for; never empty hugepages', () => {
    const c = nodeCapacity(worker, [
      pod('a', { nodeName: 'w', requests: { 'nvidia.com/mig-1g.10gb': '1' } }),
    ]);
    expect(c.resources.map((r) => r.resource)).toEqual([
      'cpu',
      'memory',
      'ephemeral-storage',
      'nvidia.com/gpu',
      'nvidia.com/mig-1g.10gb',
    ]);
    expect(useOf(c, 'nvidia.com/mig-1g.10gb')).toMatchObject({
      allocatable: 0,
      requests: 1,
      requestsPct: null,
    });
    expect(c.pods).toEqual({ count: 1, allocatable: 110 });
  });

  it('computes shares and flags each threshold it crosses, and only those', () => {
    const pods = [
      pod('a', {
        nodeName: 'w',
        requests: {
          cpu: '14600m',
          memory: '32Gi',
          'ephemeral-storage': '91Gi',
          'nvidia.com/gpu': '4',
        },
        limits: { cpu: '32100m', memory: '96Gi', 'nvidia.com/gpu': '4' },
      }),
    ];
    const c = nodeCapacity(worker, pods);
    expect(shares(c, 'cpu')).toEqual([91.3, 200.6]);
    expect(shares(c, 'memory')).toEqual([50, 150]);
    expect(shares(c, 'ephemeral-storage')).toEqual([91, 0]);
    expect(shares(c, 'nvidia.com/gpu')).toEqual([100, 100]);
    // memory limits exactly 150% is not over 150%; GPUs at 100% are how GPUs should be used.
    expect(c.flags.map((f) => `${f.resource} ${f.measure}`)).toEqual([
      'cpu requests',
      'cpu limits',
      'ephemeral-storage requests',
    ]);
    expect(c.flags[1]?.message).toBe(
      'cpu limits 200.6% of allocatable > 200% (CPU limits threshold)',
    );
  });

  it('honours custom thresholds', () => {
    const pods = [
      pod('a', {
        nodeName: 'w',
        requests: { cpu: '8', memory: '8Gi' },
        limits: { cpu: '40', memory: '100Gi' },
      }),
    ];
    expect(nodeCapacity(worker, pods).flags.map((f) => f.resource)).toEqual(['cpu', 'memory']);
    const relaxed = { cpuLimitsPct: 300, memoryLimitsPct: 200, requestsPct: 40 };
    expect(
      nodeCapacity(worker, pods, relaxed).flags.map((f) => `${f.resource} ${f.measure}`),
    ).toEqual(['cpu requests']);
  });

  it('flags GPUs or MIG slices bound beyond what the node now offers (allocatable shrank)', () => {
    const shrunk = node('g', { cpu: '32', memory: '128Gi', 'nvidia.com/gpu': '7' });
    const pods = [pod('a', { nodeName: 'g', limits: { 'nvidia.com/gpu': '8' } })];
    expect(nodeCapacity(shrunk, pods).flags.map((f) => f.message)).toEqual([
      'nvidia.com/gpu requests 114.3% of allocatable > 100% (allocatable shrank below what bound pods hold)',
    ]);
    const gone = node('h', { cpu: '32', memory: '128Gi' });
    const flags = nodeCapacity(gone, [
      pod('b', { nodeName: 'h', limits: { 'nvidia.com/mig-1g.10gb': '2' } }),
    ]).flags;
    expect(flags).toHaveLength(1);
    expect(flags[0]).toMatchObject({ resource: 'nvidia.com/mig-1g.10gb', pct: null });
    expect(flags[0]?.message).toContain('on a node that offers none');
  });

  it('rejects thresholds that are not positive percentages', () => {
    expect(() =>
      auditCapacity([worker], [], { cpuLimitsPct: 0, memoryLimitsPct: 150, requestsPct: 90 }),
    ).toThrowError('threshold cpuLimitsPct 0 is not a positive percentage');
    expect(() =>
      auditCapacity([worker], [], {
        cpuLimitsPct: 200,
        memoryLimitsPct: Number.NaN,
        requestsPct: 90,
      }),
    ).toThrowError(NodeWardenError);
  });
});

describe('the seed cluster (test/fixtures/audit/seed-cluster.yaml)', () => {
  it("gives the failed MIG node the seed's 14% / 69% CPU and 7% / 22% memory, within a few points", async () => {
    const { nodes, pods } = await seedCluster();
    const audit = auditCapacity(nodes, pods);
    const mig = audit.nodes.find((n) => n.node === MIG_NODE);
    if (!mig) throw new Error('no MIG node in the fixture');
    expect(shares(mig, 'cpu')).toEqual([13.9, 70.8]);
    expect(shares(mig, 'memory')).toEqual([7.5, 21.2]);
    expect(shares(mig, 'ephemeral-storage')).toEqual([75.5, 125]);
    expect(useOf(mig, 'nvidia.com/mig-1g.10gb')).toMatchObject({ requests: 3, allocatable: 7 });
    // The completed Job pod (8 CPU, 32Gi, one MIG slice) is not counted.
    expect(mig.pods.count).toBe(14);
    expect(mig.flags).toEqual([]);
  });

  it('already shows every md-0 node over the CPU limits threshold, before anything fails', async () => {
    const { nodes, pods } = await seedCluster();
    const audit = auditCapacity(nodes, pods);
    expect(audit.flagged).toEqual(MD0_NODES);
    const cpuLimits = MD0_NODES.map(
      (n) =>
        shares(
          audit.nodes.find((c) => c.node === n)!,
          'cpu',
        )[1],
    );
    expect(cpuLimits).toEqual([301.6, 335.9, 401.6, 582.8]);
    // The Terminating pod on wn4gb (4 CPU requested) is not counted: 92.5%, not 117.5%.
    expect(
      shares(
        audit.nodes.find((c) => c.node === MD0_NODES[3])!,
        'cpu',
      )[0],
    ).toBe(92.5);
  });
});
