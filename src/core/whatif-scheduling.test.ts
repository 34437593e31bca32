import { describe, expect, it } from 'vitest';
import type { Taint, Toleration } from './cluster.ts';
import {
  filterReasons,
  leastAllocatedScore,
  matchesNodeSelection,
  matchesRequirement,
  matchesTerm,
  NodeLoad,
  placePod,
  preferredWeight,
  tolerationSecondsFor,
  toleratesTaint,
  UNREACHABLE_TAINT,
  untoleratedTaint,
} from './whatif-scheduling.ts';
import { podRequests } from './capacity.ts';
import { node, pod, requirement, term } from '../../test/fixtures/audit/builders.ts';

const gpuTaint: Taint = { key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' };

describe('taints and tolerations', () => {
  it.each<[string, Toleration, Taint, boolean]>([
    [
      'Equal with the same key and value',
      { key: 'nvidia.com/gpu', value: 'present' },
      gpuTaint,
      true,
    ],
    ['Equal with another value', { key: 'nvidia.com/gpu', value: 'absent' }, gpuTaint, false],
    ['Equal without a value against a valued taint', { key: 'nvidia.com/gpu' }, gpuTaint, false],
    ['Exists on the key, any value', { key: 'nvidia.com/gpu', operator: 'Exists' }, gpuTaint, true],
    ['Exists without a key: everything', { operator: 'Exists' }, gpuTaint, true],
    [
      'a matching key with another effect',
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoExecute' },
      gpuTaint,
      false,
    ],
    [
      'a matching key and effect',
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
      gpuTaint,
      true,
    ],
    ['another key', { key: 'dedicated', operator: 'Exists' }, gpuTaint, false],
  ])('%s → %s', (_name, toleration, taint, expected) => {
    expect(toleratesTaint(toleration, taint)).toBe(expected);
  });

  it('blocks on NoSchedule and NoExecute taints, never on PreferNoSchedule', () => {
    const tainted = node('t', undefined, {
      taints: [
        { key: 'soft', effect: 'PreferNoSchedule' },
        { key: UNREACHABLE_TAINT, effect: 'NoExecute' },
        { key: UNREACHABLE_TAINT, effect: 'NoSchedule' },
      ],
    });
    const defaults: Toleration[] = [
      { key: UNREACHABLE_TAINT, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ];
    // Every pod tolerates unreachable:NoExecute for 300 s by default; the NoSchedule taint still keeps it out.
    expect(untoleratedTaint(pod('p', { tolerations: defaults }), tainted)).toEqual({
      key: UNREACHABLE_TAINT,
      effect: 'NoSchedule',
    });
    expect(
      untoleratedTaint(pod('q', { tolerations: [{ operator: 'Exists' }] }), tainted),
    ).toBeUndefined();
    expect(
      untoleratedTaint(
        pod('r'),
        node('soft', undefined, { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] }),
      ),
    ).toBeUndefined();
  });

  it('keeps a pod on an unreachable node for the smallest matching tolerationSeconds, or forever', () => {
    const taint: Taint = { key: UNREACHABLE_TAINT, effect: 'NoExecute' };
    expect(tolerationSecondsFor(pod('none'), taint)).toBe(0);
    expect(
      tolerationSecondsFor(
        pod('default', {
          tolerations: [
            {
              key: UNREACHABLE_TAINT,
              operator: 'Exists',
              effect: 'NoExecute',
              tolerationSeconds: 300,
            },
          ],
        }),
        taint,
      ),
    ).toBe(300);
    expect(
      tolerationSecondsFor(
        pod('two', {
          tolerations: [
            {
              key: UNREACHABLE_TAINT,
              operator: 'Exists',
              effect: 'NoExecute',
              tolerationSeconds: 300,
            },
            { operator: 'Exists', tolerationSeconds: 30 },
            { key: 'other', operator: 'Exists' },
          ],
        }),
        taint,
      ),
    ).toBe(30);
    expect(
      tolerationSecondsFor(pod('daemon', { tolerations: [{ operator: 'Exists' }] }), taint),
    ).toBeNull();
  });
});

describe('node selection: nodeSelector and node affinity', () => {
  const labels = { 'node-role': 'mig', 'nvidia.com/gpu.count': '8', zone: 'nova' };

  it.each([
    ['In, value listed', requirement('node-role', 'In', ['worker', 'mig']), true],
    ['In, value not listed', requirement('node-role', 'In', ['worker']), false],
    ['In, label absent', requirement('absent', 'In', ['x']), false],
    ['NotIn, value not listed', requirement('node-role', 'NotIn', ['worker']), true],
    ['NotIn, value listed', requirement('node-role', 'NotIn', ['mig']), false],
    ['NotIn, label absent', requirement('absent', 'NotIn', ['x']), true],
    ['Exists, present', requirement('zone', 'Exists'), true],
    ['Exists, absent', requirement('absent', 'Exists'), false],
    ['DoesNotExist, absent', requirement('absent', 'DoesNotExist'), true],
    ['DoesNotExist, present', requirement('zone', 'DoesNotExist'), false],
    ['Gt, 8 > 4', requirement('nvidia.com/gpu.count', 'Gt', ['4']), true],
    ['Gt, 8 > 8', requirement('nvidia.com/gpu.count', 'Gt', ['8']), false],
    ['Lt, 8 < 9', requirement('nvidia.com/gpu.count', 'Lt', ['9']), true],
    ['Lt, 8 < 8', requirement('nvidia.com/gpu.count', 'Lt', ['8']), false],
    ['Gt on a label that is not a number', requirement('zone', 'Gt', ['1']), false],
    [
      'Gt with a bound that is not a number',
      requirement('nvidia.com/gpu.count', 'Gt', ['four']),
      false,
    ],
    ['Gt with two values', requirement('nvidia.com/gpu.count', 'Gt', ['1', '2']), false],
    ['Lt on an absent label', requirement('absent', 'Lt', ['9']), false],
  ])('%s', (_name, req, expected) => {
    expect(matchesRequirement(req, labels)).toBe(expected);
  });

  const mig = node('mig-1', undefined, { labels });

  it('ANDs the requirements of a term; an empty term matches nothing; matchFields knows metadata.name', () => {
    expect(
      matchesTerm(
        term(requirement('node-role', 'In', ['mig']), requirement('zone', 'Exists')),
        mig,
      ),
    ).toBe(true);
    expect(
      matchesTerm(
        term(requirement('node-role', 'In', ['mig']), requirement('absent', 'Exists')),
        mig,
      ),
    ).toBe(false);
    expect(matchesTerm(term(), mig)).toBe(false);
    const byName = (values: string[]) => ({
      matchExpressions: [],
      matchFields: [requirement('metadata.name', 'In', values)],
    });
    expect(matchesTerm(byName(['mig-1']), mig)).toBe(true);
    expect(matchesTerm(byName(['other']), mig)).toBe(false);
    expect(
      matchesTerm(
        { matchExpressions: [], matchFields: [requirement('spec.unschedulable', 'In', ['false'])] },
        mig,
      ),
    ).toBe(false);
  });

  it('requires every nodeSelector label and one required term (terms are ORed)', () => {
    expect(matchesNodeSelection(pod('any'), mig)).toBe(true);
    expect(
      matchesNodeSelection(pod('sel', { nodeSelector: { 'node-role': 'mig', zone: 'nova' } }), mig),
    ).toBe(true);
    expect(
      matchesNodeSelection(pod('sel2', { nodeSelector: { 'node-role': 'worker' } }), mig),
    ).toBe(false);
    const affinity = (terms: ReturnType<typeof term>[]) =>
      pod('aff', { nodeAffinity: { required: terms, preferred: [] } });
    expect(
      matchesNodeSelection(
        affinity([
          term(requirement('node-role', 'In', ['worker'])),
          term(requirement('zone', 'Exists')),
        ]),
        mig,
      ),
    ).toBe(true);
    expect(
      matchesNodeSelection(affinity([term(requirement('node-role', 'In', ['worker']))]), mig),
    ).toBe(false);
    expect(matchesNodeSelection(affinity([]), mig)).toBe(false);
    // nodeSelector and affinity must both hold.
    expect(
      matchesNodeSelection(
        pod('both', {
          nodeSelector: { 'node-role': 'worker' },
          nodeAffinity: { required: [term(requirement('zone', 'Exists'))], preferred: [] },
        }),
        mig,
      ),
    ).toBe(false);
  });

  it('adds the weights of the preferred terms a node matches', () => {
    const p = pod('pref', {
      nodeAffinity: {
        required: null,
        preferred: [
          { weight: 100, preference: term(requirement('node-role', 'In', ['mig'])) },
          { weight: 20, preference: term(requirement('zone', 'In', ['nova'])) },
          { weight: 50, preference: term(requirement('zone', 'In', ['other'])) },
        ],
      },
    });
    expect(preferredWeight(p, mig)).toBe(120);
    expect(preferredWeight(p, node('plain'))).toBe(0);
  });
});

describe('filters: why a node cannot take a pod', () => {
  const load = (
    n = node('w'),
    pods = [pod('existing', { nodeName: 'w', requests: { cpu: '15', memory: '60Gi' } })],
  ) => new NodeLoad(n, pods);

  it('reports every failing filter in kube-scheduler words', () => {
    const cordoned = node(
      'w',
      { cpu: '16', memory: '64Gi', pods: '1' },
      {
        unschedulable: true,
        taints: [gpuTaint],
        labels: { 'node-role': 'worker' },
      },
    );
    const p = pod('p', {
      nodeSelector: { 'node-role': 'mig' },
      requests: { cpu: '2', memory: '8Gi', 'nvidia.com/mig-1g.10gb': '1' },
    });
    expect(filterReasons(p, podRequests(p), load(cordoned))).toEqual([
      'node(s) were unschedulable',
      'node(s) had untolerated taint {nvidia.com/gpu: present}',
      "node(s) didn't match Pod's node affinity/selector",
      'Too many pods',
      'Insufficient cpu',
      'Insufficient memory',
      'Insufficient nvidia.com/mig-1g.10gb',
    ]);
  });

  it('fits exactly what is left, fractional CPU included, and not a millicore more', () => {
    const w = node('w', { cpu: '1', memory: '1Gi', pods: '110' });
    const used = [
      pod('a', { nodeName: 'w', requests: { cpu: '100m' } }),
      pod('b', { nodeName: 'w', requests: { cpu: '200m' } }),
    ];
    const fits = pod('fits', { requests: { cpu: '700m', memory: '1Gi' } });
    const over = pod('over', { requests: { cpu: '701m' } });
    expect(filterReasons(fits, podRequests(fits), new NodeLoad(w, used))).toEqual([]);
    expect(filterReasons(over, podRequests(over), new NodeLoad(w, used))).toEqual([
      'Insufficient cpu',
    ]);
  });

  it('counts pods against allocatable pods, 110 when the node does not say', () => {
    const many = Array.from({ length: 110 }, (_, i) => pod(`p${i}`, { nodeName: 'w' }));
    const noPodsField = node('w', { cpu: '64', memory: '256Gi' });
    expect(filterReasons(pod('x'), {}, new NodeLoad(noPodsField, many.slice(0, 109)))).toEqual([]);
    expect(filterReasons(pod('x'), {}, new NodeLoad(noPodsField, many))).toEqual(['Too many pods']);
  });

  it('scores LeastAllocated in whole points from the free CPU and memory share', () => {
    const w = node('w', { cpu: '10', memory: '10Gi', pods: '110' });
    const l = new NodeLoad(w, [pod('a', { nodeName: 'w', requests: { cpu: '4', memory: '2Gi' } })]);
    // cpu: (10 - 5) / 10 = 50; memory: (10 - 3) / 10 = 70 → 60.
    expect(leastAllocatedScore(pod('p', { requests: { cpu: '1', memory: '1Gi' } }), l)).toBe(60);
    // A request-less pod still takes 100m / 200Mi for scoring: cpu 59 (floor of 59.0), memory 78 (floor of 78.04…) → 68.
    expect(leastAllocatedScore(pod('q'), l)).toBe(68);
    // Nothing left: 0, never negative.
    expect(leastAllocatedScore(pod('r', { requests: { cpu: '20', memory: '20Gi' } }), l)).toBe(0);
  });

  it('keeps using the snapshot load after add()', () => {
    const l = load();
    const p = pod('p', { requests: { cpu: '1' } });
    expect(filterReasons(p, podRequests(p), l)).toEqual([]);
    l.add({ ...p, nodeName: 'w' });
    expect(filterReasons(p, podRequests(p), l)).toEqual(['Insufficient cpu']);
    expect(l.podCount).toBe(2);
  });
});

describe('placePod', () => {
  const small = { cpu: '16', memory: '64Gi', pods: '110' };

  it('picks the least allocated feasible node', () => {
    const loads = [
      new NodeLoad(node('a', small), [
        pod('x', { nodeName: 'a', requests: { cpu: '8', memory: '32Gi' } }),
      ]),
      new NodeLoad(node('b', small), [
        pod('y', { nodeName: 'b', requests: { cpu: '2', memory: '8Gi' } }),
      ]),
      new NodeLoad(node('c', small, { unschedulable: true }), []),
    ];
    expect(placePod(pod('p', { requests: { cpu: '1', memory: '1Gi' } }), loads)).toMatchObject({
      fits: true,
      node: 'b',
    });
  });

  it('breaks score ties by preferred affinity weight, then PreferNoSchedule taints, then name', () => {
    const prefers = pod('p', {
      nodeAffinity: {
        required: null,
        preferred: [{ weight: 10, preference: term(requirement('tier', 'In', ['gold'])) }],
      },
    });
    const a = node('a', small);
    const b = node('b', small, { labels: { tier: 'gold' } });
    expect(placePod(prefers, [new NodeLoad(a, []), new NodeLoad(b, [])])).toMatchObject({
      node: 'b',
      candidate: { preferredWeight: 10 },
    });
    const soft = node('a', small, { taints: [{ key: 'x', effect: 'PreferNoSchedule' }] });
    expect(
      placePod(pod('q'), [new NodeLoad(soft, []), new NodeLoad(node('z', small), [])]),
    ).toMatchObject({ node: 'z' });
    expect(
      placePod(pod('r'), [
        new NodeLoad(node('n2', small), []),
        new NodeLoad(node('n1', small), []),
      ]),
    ).toMatchObject({ node: 'n1' });
    // Free capacity beats preference: a better score (99 vs 96) wins over weight 10.
    const busyGold = new NodeLoad(b, [pod('busy', { nodeName: 'b', requests: { cpu: '1' } })]);
    expect(placePod(prefers, [new NodeLoad(a, []), busyGold])).toMatchObject({ node: 'a' });
  });

  it('names the missing resource when no node has it at all, then the counted reasons', () => {
    const loads = ['a', 'b', 'c', 'd'].map((n) => new NodeLoad(node(n, small), []));
    const migPod = pod('m', {
      nodeSelector: { 'node-role': 'mig' },
      limits: { 'nvidia.com/mig-1g.10gb': '1' },
    });
    const decision = placePod(migPod, loads);
    expect(decision).toEqual({
      fits: false,
      reason:
        "0/4 nodes have nvidia.com/mig-1g.10gb; 0/4 nodes are available: 4 Insufficient nvidia.com/mig-1g.10gb, 4 node(s) didn't match Pod's node affinity/selector.",
      reasons: [
        { reason: 'Insufficient nvidia.com/mig-1g.10gb', nodes: ['a', 'b', 'c', 'd'] },
        {
          reason: "node(s) didn't match Pod's node affinity/selector",
          nodes: ['a', 'b', 'c', 'd'],
        },
      ],
    });
  });

  it("words a plain shortage as kube-scheduler's FailedScheduling, reasons sorted", () => {
    const loads = [
      new NodeLoad(node('a', small), [pod('x', { nodeName: 'a', requests: { cpu: '15' } })]),
      new NodeLoad(node('b', small), [pod('y', { nodeName: 'b', requests: { cpu: '15' } })]),
      new NodeLoad(node('c', small, { taints: [gpuTaint] }), []),
    ];
    const decision = placePod(pod('p', { requests: { cpu: '2' } }), loads);
    expect(decision.fits).toBe(false);
    if (decision.fits) return;
    expect(decision.reason).toBe(
      '0/3 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}, 2 Insufficient cpu.',
    );
  });

  it('says 0/0 when there is no node left', () => {
    expect(placePod(pod('p', { requests: { cpu: '1' } }), [])).toMatchObject({
      fits: false,
      reason: '0/0 nodes are available.',
    });
  });
});
