import { describe, expect, it } from 'vitest';
import { percent1, useOf, type NodeCapacity } from './capacity.ts';
import { NodeWardenError } from './errors.ts';
import { podPriority, predictNodeLoss } from './whatif.ts';
import { UNREACHABLE_TAINT } from './whatif-scheduling.ts';
import { MD0_NODES, MIG_NODE, node, pod, seedCluster } from '../../test/fixtures/audit/builders.ts';

const cpuLimits = (c: NodeCapacity) => percent1(useOf(c, 'cpu').limitsPct ?? 0);
const memLimits = (c: NodeCapacity) => percent1(useOf(c, 'memory').limitsPct ?? 0);
const defaults = [
  {
    key: UNREACHABLE_TAINT,
    operator: 'Exists' as const,
    effect: 'NoExecute',
    tolerationSeconds: 300,
  },
];

describe('losing the MIG node of the seed cluster', () => {
  it("overcommits the md-0 survivors to the seed's magnitude (CPU limits several hundred %)", async () => {
    const { nodes, pods } = await seedCluster();
    const p = predictNodeLoss(nodes, pods, [MIG_NODE]);
    expect(p.failed).toEqual([MIG_NODE]);
    expect(p.survivors.map((s) => s.node)).toEqual(MD0_NODES);
    const after = p.survivors.map((s) => cpuLimits(s.after));
    // The seed's survivors: 340.6%, 381.3%, 416.6%, 601.3% CPU limits; 149.8–357.1% memory limits.
    expect(after).toEqual([349.1, 390.9, 401.6, 582.8]);
    expect(p.survivors.map((s) => memLimits(s.after))).toEqual([151.8, 183, 204.9, 345.5]);
    for (const s of p.survivors) {
      expect(cpuLimits(s.after)).toBeGreaterThanOrEqual(cpuLimits(s.before));
      expect(useOf(s.after, 'cpu').requestsPct).toBeLessThanOrEqual(100);
    }
    // What the MIG node's general pods add, on the nodes that take them.
    expect(p.survivors.map((s) => s.podsAdded)).toEqual([4, 4, 0, 0]);
  });

  it('leaves the MIG pods Pending: no survivor has a MIG slice', async () => {
    const { nodes, pods } = await seedCluster();
    const p = predictNodeLoss(nodes, pods, [MIG_NODE]);
    expect(p.pending.map((x) => x.pod).sort()).toEqual([
      'ml-serving/mig-inference-khcb4w4xh-cxw4h',
      'ml-serving/mig-inference-khcb4w4xh-s4wwx',
      'ml-training/mig-finetune-29257440-x7k2p',
    ]);
    for (const x of p.pending) {
      expect(x.reason).toMatch(
        /^0\/4 nodes have nvidia\.com\/mig-1g\.10gb; 0\/4 nodes are available: /,
      );
      expect(
        x.reasons.find((r) => r.reason === 'Insufficient nvidia.com/mig-1g.10gb')?.nodes,
      ).toEqual(MD0_NODES);
      expect(x.evictedAfterSeconds).toBe(300);
    }
  });

  it('moves the rest by priority then age, loses the bare pod, keeps DaemonSet pods, ignores finished ones', async () => {
    const { nodes, pods } = await seedCluster();
    const p = predictNodeLoss(nodes, pods, [MIG_NODE]);
    // model-cache-0 has PriorityClass serving-high (100000): placed first although younger than nothing else.
    expect(p.placements[0]).toMatchObject({
      pod: 'ml-serving/model-cache-0',
      owner: 'StatefulSet/model-cache',
      priority: 100000,
    });
    expect(p.placements[0]?.note).toContain('node.kubernetes.io/out-of-service');
    expect(
      p.placements
        .slice(1)
        .every((x) => x.pod.startsWith('data/feature-pipeline-') && x.note === null),
    ).toBe(true);
    expect(p.placements).toHaveLength(8);
    expect(p.lost).toEqual([expect.objectContaining({ pod: 'default/debug-shell', owner: null })]);
    expect(p.staying.map((x) => x.owner).sort()).toEqual([
      'DaemonSet/kube-ovn-cni',
      'DaemonSet/node-exporter',
    ]);
    // The Succeeded Job pod is neither moved nor pending nor lost.
    const all = [...p.placements, ...p.pending, ...p.lost, ...p.staying].map((x) => x.pod);
    expect(all.some((name) => name.includes('29257380'))).toBe(false);
    expect(all).toHaveLength(14);
  });

  it('is the capacity guard: which survivors the loss leaves over a threshold, and which it pushes over', async () => {
    const { nodes, pods } = await seedCluster();
    const p = predictNodeLoss(nodes, pods, [MIG_NODE]);
    const guard = p.overThreshold.map(
      (o) =>
        `${o.node.slice(-5)} ${o.flag.resource} ${o.flag.measure} ${o.crossed ? 'crossed' : 'worse'}`,
    );
    expect(guard).toEqual([
      '85zt7 cpu limits worse',
      '85zt7 memory limits crossed',
      '9f79t cpu requests crossed',
      '9f79t cpu limits worse',
      '9f79t memory limits worse',
    ]);
    expect(p.survivors[0]?.newFlags.map((f) => f.resource)).toEqual(['memory']);
    // Relaxed thresholds: the same loss passes the guard.
    const relaxed = predictNodeLoss(nodes, pods, [MIG_NODE], {
      cpuLimitsPct: 1000,
      memoryLimitsPct: 1000,
      requestsPct: 95,
    });
    expect(relaxed.overThreshold).toEqual([]);
  });

  it('losing an md-0 node too leaves less room: more pods Pending for CPU', async () => {
    const { nodes, pods } = await seedCluster();
    const p = predictNodeLoss(nodes, pods, [MIG_NODE, MD0_NODES[0]!]);
    expect(p.survivors).toHaveLength(3);
    const cpuShort = p.pending.filter((x) =>
      x.reasons.some((r) => r.reason === 'Insufficient cpu'),
    );
    expect(cpuShort.length).toBeGreaterThan(0);
    expect(cpuShort[0]?.reason).toMatch(/^0\/3 nodes are available: /);
  });
});

describe('the rules, one by one', () => {
  const big = { cpu: '16', memory: '64Gi', pods: '110' };

  it('rejects unknown or missing node names, naming them and listing the real ones', () => {
    const nodes = [node('a', big), node('b', big)];
    let error: unknown;
    try {
      predictNodeLoss(nodes, [], ['a', 'ghost', 'spook']);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NodeWardenError);
    expect(error).toMatchObject({
      code: 'BAD_INPUT',
      message: '"ghost", "spook" are not nodes of this cluster',
      hint: 'nodes are: a, b',
    });
    expect(() => predictNodeLoss(nodes, [], [' ', ''])).toThrowError('no node to fail was given');
  });

  it('fails each named node once, however often it is named', () => {
    const p = predictNodeLoss(
      [node('a', big), node('b', big)],
      [pod('x', { nodeName: 'a' })],
      ['a', 'a '],
    );
    expect(p.failed).toEqual(['a']);
    expect(p.placements.map((x) => x.to)).toEqual(['b']);
  });

  it('keeps pods that tolerate unreachable forever, and static pods, on the dead node', () => {
    const pods = [
      pod('forever', {
        nodeName: 'a',
        tolerations: [{ key: UNREACHABLE_TAINT, operator: 'Exists', effect: 'NoExecute' }],
      }),
      pod('mirror', { nodeName: 'a', ownerKind: 'Node', ownerName: 'a' }),
      pod('quick', {
        nodeName: 'a',
        tolerations: [
          { key: UNREACHABLE_TAINT, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 },
        ],
      }),
      pod('strict', { nodeName: 'a' }),
    ];
    const p = predictNodeLoss([node('a', big), node('b', big)], pods, ['a']);
    expect(p.staying.map((x) => [x.name, x.why.split(':')[0]])).toEqual([
      ['forever', `tolerates ${UNREACHABLE_TAINT}`],
      ['mirror', 'static (mirror) pod'],
    ]);
    expect(p.placements.map((x) => [x.name, x.evictedAfterSeconds])).toEqual([
      ['quick', 5],
      ['strict', 0],
    ]);
  });

  it('places higher priority first, then older: the last one left out is the least important', () => {
    const nodes = [node('dead', big), node('small', { cpu: '4', memory: '64Gi', pods: '110' })];
    const req = { requests: { cpu: '2' } };
    const pods = [
      pod('old-low', { ...req, nodeName: 'dead', createdAt: '2025-08-01T00:00:00Z' }),
      pod('young-low', { ...req, nodeName: 'dead', createdAt: '2025-08-20T00:00:00Z' }),
      pod('young-high', {
        ...req,
        nodeName: 'dead',
        createdAt: '2025-08-24T00:00:00Z',
        priority: 1000,
      }),
      pod('critical', {
        ...req,
        nodeName: 'dead',
        priorityClassName: 'system-cluster-critical',
        createdAt: '2025-08-24T00:00:00Z',
      }),
    ];
    const p = predictNodeLoss(nodes, pods, ['dead']);
    expect(p.placements.map((x) => x.name)).toEqual(['critical', 'young-high']);
    expect(p.pending.map((x) => x.name)).toEqual(['old-low', 'young-low']);
    expect(p.pending[0]?.reason).toBe('0/1 nodes are available: 1 Insufficient cpu.');
  });

  it('does not place on survivors that are cordoned, tainted unreachable, or full of pods', () => {
    const nodes = [
      node('dead', big),
      node('cordoned', big, { unschedulable: true }),
      node('unreachable', big, {
        taints: [
          { key: UNREACHABLE_TAINT, effect: 'NoSchedule' },
          { key: UNREACHABLE_TAINT, effect: 'NoExecute' },
        ],
      }),
      node('full', { cpu: '16', memory: '64Gi', pods: '1' }),
    ];
    const pods = [
      pod('mover', { nodeName: 'dead', tolerations: defaults }),
      pod('filler', { nodeName: 'full' }),
    ];
    const p = predictNodeLoss(nodes, pods, ['dead']);
    expect(p.placements).toEqual([]);
    expect(p.pending[0]?.reason).toBe(
      '0/3 nodes are available: 1 Too many pods, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were unschedulable.',
    );
  });

  it('follows nodeSelector and required affinity to the only node that matches', () => {
    const nodes = [
      node('dead', big, { labels: { pool: 'gpu' } }),
      node('cpu-1', big, { labels: { pool: 'cpu' } }),
      node('gpu-2', { ...big, 'nvidia.com/gpu': '8' }, { labels: { pool: 'gpu' } }),
    ];
    const pods = [
      pod('by-selector', { nodeName: 'dead', nodeSelector: { pool: 'gpu' } }),
      pod('by-affinity', {
        nodeName: 'dead',
        nodeAffinity: {
          required: [
            {
              matchExpressions: [{ key: 'pool', operator: 'NotIn', values: ['cpu'] }],
              matchFields: [],
            },
          ],
          preferred: [],
        },
      }),
      pod('by-gpu', { nodeName: 'dead', limits: { 'nvidia.com/gpu': '2' } }),
    ];
    const p = predictNodeLoss(nodes, pods, ['dead']);
    expect(p.placements.map((x) => `${x.name}→${x.to}`)).toEqual([
      'by-affinity→gpu-2',
      'by-gpu→gpu-2',
      'by-selector→gpu-2',
    ]);
    const gpu2 = p.survivors.find((s) => s.node === 'gpu-2');
    expect(useOf(gpu2!.after, 'nvidia.com/gpu')).toMatchObject({ requests: 2, allocatable: 8 });
  });

  it('adds what each placement requests before placing the next (the fourth 5-CPU pod does not fit)', () => {
    const nodes = [
      node('dead', { cpu: '64', memory: '64Gi', pods: '110' }),
      node('a', big),
      node('b', { cpu: '8', memory: '64Gi', pods: '110' }),
    ];
    const pods = Array.from({ length: 4 }, (_, i) =>
      pod(`p${i}`, {
        nodeName: 'dead',
        requests: { cpu: '5' },
        createdAt: `2025-08-0${i + 1}T00:00:00Z`,
      }),
    );
    const p = predictNodeLoss(nodes, pods, ['dead']);
    // 16 + 8 CPU: 3 × 5 fit on a, 1 × 5 on b; nothing else.
    expect(p.placements.map((x) => x.to).sort()).toEqual(['a', 'a', 'a', 'b']);
    const pods5 = [
      ...pods,
      pod('p4', { nodeName: 'dead', requests: { cpu: '5' }, createdAt: '2025-08-09T00:00:00Z' }),
    ];
    expect(predictNodeLoss(nodes, pods5, ['dead']).pending.map((x) => x.name)).toEqual(['p4']);
  });

  it('reads the priority from spec.priority, else the built-in classes, else 0', () => {
    expect(podPriority(pod('a', { priority: 42 }))).toBe(42);
    expect(podPriority(pod('b', { priorityClassName: 'system-node-critical' }))).toBe(
      2_000_001_000,
    );
    expect(podPriority(pod('c', { priorityClassName: 'custom' }))).toBe(0);
  });
});
