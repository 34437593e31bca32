import { describe, expect, it } from 'vitest';
import {
  auditMigWorkloads,
  DEFAULT_MIG_AUDIT_OPTIONS,
  migFix,
  podFindings,
  qosClassOf,
  requestsGpu,
  workloadOwner,
} from './mig-audit.ts';
import { container, pod, seedCluster } from '../../test/fixtures/audit/builders.ts';

const MIG = 'nvidia.com/mig-1g.10gb';

/** A MIG pod that does everything right. */
const good = (name: string, extra: Parameters<typeof pod>[1] = {}) =>
  pod(name, {
    containers: [
      container(
        'app',
        { cpu: '2', memory: '8Gi', [MIG]: '1' },
        { cpu: '2', memory: '8Gi', [MIG]: '1' },
      ),
    ],
    priorityClassName: 'gpu-workload',
    qosClass: 'Guaranteed',
    ...extra,
  });

describe('which pods are GPU/MIG pods', () => {
  it('asks for nvidia.com/gpu or any MIG profile, in requests or limits, in any container', () => {
    expect(requestsGpu(pod('a', { limits: { 'nvidia.com/gpu': '1' } }))).toBe(true);
    expect(requestsGpu(pod('b', { requests: { 'nvidia.com/mig-3g.40gb': '1' } }))).toBe(true);
    expect(requestsGpu(pod('c', { initContainers: [container('i', {}, { [MIG]: '1' })] }))).toBe(
      true,
    );
    expect(requestsGpu(pod('d', { requests: { cpu: '1' }, limits: { 'amd.com/gpu': '1' } }))).toBe(
      false,
    );
  });
});

describe('QoS class, as Kubernetes computes it', () => {
  it.each([
    [
      'requests equal limits in every container',
      [container('a', { cpu: '1', memory: '1Gi' }, { cpu: '1000m', memory: '1024Mi' })],
      'Guaranteed',
    ],
    [
      'limits only (requests default to them)',
      [container('a', {}, { cpu: '1', memory: '1Gi' })],
      'Guaranteed',
    ],
    [
      'a request below its limit',
      [container('a', { cpu: '500m', memory: '1Gi' }, { cpu: '1', memory: '1Gi' })],
      'Burstable',
    ],
    ['no memory limit', [container('a', { cpu: '1' }, { cpu: '1' })], 'Burstable'],
    [
      'one container of two without limits',
      [container('a', {}, { cpu: '1', memory: '1Gi' }), container('b')],
      'Burstable',
    ],
    [
      'nothing set (a MIG slice does not count)',
      [container('a', {}, { [MIG]: '1' })],
      'BestEffort',
    ],
  ])('%s → %s', (_name, containers, expected) => {
    expect(qosClassOf(pod('p', { containers }))).toBe(expected);
  });

  it('counts init containers too', () => {
    const p = pod('p', {
      initContainers: [container('init', { cpu: '100m' })],
      containers: [container('a', {}, { cpu: '1', memory: '1Gi' })],
    });
    expect(qosClassOf(p)).toBe('Burstable');
  });
});

describe('the owning workload', () => {
  it('resolves a ReplicaSet named <deployment>-<pod-template-hash> to its Deployment', () => {
    const p = pod('web-7c9f8d6b5-x2x5q', {
      ownerKind: 'ReplicaSet',
      ownerName: 'web-7c9f8d6b5',
      labels: { 'pod-template-hash': '7c9f8d6b5' },
    });
    expect(workloadOwner(p)).toEqual({ kind: 'Deployment', name: 'web' });
    expect(workloadOwner({ ...p, labels: {} })).toEqual({
      kind: 'ReplicaSet',
      name: 'web-7c9f8d6b5',
    });
    expect(workloadOwner(pod('db-0', { ownerKind: 'StatefulSet', ownerName: 'db' }))).toEqual({
      kind: 'StatefulSet',
      name: 'db',
    });
    expect(workloadOwner(pod('shell', { ownerKind: null, ownerName: null }))).toEqual({
      kind: 'Pod',
      name: 'shell',
    });
  });
});

describe('findings for one pod', () => {
  it('finds nothing wrong with a Guaranteed MIG pod that has a PriorityClass', () => {
    expect(podFindings(good('ok'))).toEqual([]);
  });

  it('finds each missing limit per container, not Guaranteed, no PriorityClass', () => {
    const p = pod('p', {
      containers: [
        container('app', { cpu: '1', [MIG]: '1' }, { [MIG]: '1', memory: '4Gi' }),
        container('sidecar', { cpu: '100m' }),
      ],
    });
    expect(podFindings(p).map((f) => [f.code, f.container])).toEqual([
      ['missing-cpu-limit', 'app'],
      ['missing-cpu-limit', 'sidecar'],
      ['missing-memory-limit', 'sidecar'],
      ['not-guaranteed', null],
      ['no-priority-class', null],
    ]);
    expect(podFindings(p)[0]?.message).toBe(
      "container app has no cpu limit: it may use all of the node's cpu, and all of a survivor's when the node dies",
    );
  });

  it('finds limits that dwarf their requests: more than 3× by default, ∞ for a zero request', () => {
    const p = pod('p', {
      priorityClassName: 'gpu',
      containers: [
        container(
          'app',
          { cpu: '500m', memory: '1Gi', [MIG]: '1' },
          { cpu: '2', memory: '4Gi', [MIG]: '1' },
        ),
        container('burst', { cpu: '0', memory: '1Gi' }, { cpu: '1', memory: '3Gi' }),
      ],
    });
    const dwarf = podFindings(p).filter((f) => f.code === 'limit-dwarfs-request');
    expect(dwarf.map((f) => f.message)).toEqual([
      'container app: cpu limit 2 is 4× its request 500m (more than 3×): the scheduler reserves the request, the pod may take the limit',
      'container app: memory limit 4Gi is 4× its request 1Gi (more than 3×): the scheduler reserves the request, the pod may take the limit',
      'container burst: cpu limit 1 is ∞× its request 0 (more than 3×): the scheduler reserves the request, the pod may take the limit',
    ]);
    // Exactly 3× is not more than 3×; a stricter ratio catches it.
    expect(
      podFindings(p, { ...DEFAULT_MIG_AUDIT_OPTIONS, maxLimitRatio: 5 }).filter(
        (f) => f.code === 'limit-dwarfs-request',
      ),
    ).toHaveLength(1);
    expect(
      podFindings(p, { ...DEFAULT_MIG_AUDIT_OPTIONS, maxLimitRatio: 2 }).filter(
        (f) => f.code === 'limit-dwarfs-request',
      ),
    ).toHaveLength(4);
  });

  it('computes QoS when the snapshot lacks status.qosClass, and trusts it when present', () => {
    const burstable = pod('p', {
      priorityClassName: 'x',
      containers: [
        container('a', { cpu: '1', memory: '1Gi' }, { cpu: '2', memory: '1Gi', [MIG]: '1' }),
      ],
    });
    expect(podFindings(burstable).map((f) => f.code)).toContain('not-guaranteed');
    expect(podFindings({ ...burstable, qosClass: 'Guaranteed' }).map((f) => f.code)).not.toContain(
      'not-guaranteed',
    );
  });
});

describe('the fix', () => {
  const burstable = pod('mig-inference-abc12-x1', {
    namespace: 'ml-serving',
    ownerKind: 'ReplicaSet',
    ownerName: 'mig-inference-abc12',
    labels: { 'pod-template-hash': 'abc12' },
    initContainers: [
      container('fetch', { cpu: '500m', memory: '2Gi' }, { cpu: '1', memory: '2Gi' }),
    ],
    containers: [
      container(
        'app',
        { cpu: '500m', memory: '1536Mi', [MIG]: '1' },
        { cpu: '2', memory: '4Gi', [MIG]: '1' },
      ),
      container('bare'),
    ],
  });

  it('patches the Deployment: requests = limits (limit, else request, else default), MIG kept, PriorityClass set', () => {
    const owner = workloadOwner(burstable);
    const fix = migFix(burstable, owner, podFindings(burstable));
    expect(fix.command).toBe(
      'kubectl -n ml-serving patch deployment mig-inference --patch-file nodewarden-fix.yaml',
    );
    expect(fix.patch).toEqual({
      spec: {
        template: {
          spec: {
            initContainers: [
              {
                name: 'fetch',
                resources: {
                  requests: { cpu: '1', memory: '2Gi' },
                  limits: { cpu: '1', memory: '2Gi' },
                },
              },
            ],
            containers: [
              {
                name: 'app',
                resources: {
                  requests: { cpu: '2', memory: '4Gi', [MIG]: '1' },
                  limits: { cpu: '2', memory: '4Gi', [MIG]: '1' },
                },
              },
              {
                name: 'bare',
                resources: {
                  requests: { cpu: '1', memory: '4Gi' },
                  limits: { cpu: '1', memory: '4Gi' },
                },
              },
            ],
            priorityClassName: 'gpu-workload',
          },
        },
      },
    });
    expect(fix.summary).toBe(
      'make QoS Guaranteed: requests = limits for cpu and memory in all 3 containers; set priorityClassName gpu-workload',
    );
    expect(fix.notes).toEqual([
      "container fetch: cpu request rises from 500m to its limit 1, so the scheduler reserves what the pod may use; if that no longer fits, lower the limit to the pod's real peak instead",
      "container app: cpu request rises from 500m to its limit 2, so the scheduler reserves what the pod may use; if that no longer fits, lower the limit to the pod's real peak instead",
      "container app: memory request rises from 1536Mi to its limit 4Gi, so the scheduler reserves what the pod may use; if that no longer fits, lower the limit to the pod's real peak instead",
      "container bare sets no cpu at all: 1 is the audit's default (--default-cpu); size it to the container's peak use",
      "container bare sets no memory at all: 4Gi is the audit's default (--default-memory); size it to the container's peak use",
      'PriorityClass gpu-workload must exist before pods can use it (kind: PriorityClass, value: e.g. 100000)',
    ]);
  });

  it('puts the patch where each kind keeps its pod template, and says when it must be recreated instead', () => {
    const findings = podFindings(burstable);
    const fixFor = (kind: string) => migFix(burstable, { kind, name: 'w' }, findings);
    expect(
      Object.keys(
        (fixFor('CronJob').patch['spec'] as Record<string, unknown>)['jobTemplate'] as object,
      ),
    ).toEqual(['spec']);
    expect(fixFor('CronJob').command).toBe(
      'kubectl -n ml-serving patch cronjob w --patch-file nodewarden-fix.yaml',
    );
    expect(fixFor('StatefulSet').command).toBe(
      'kubectl -n ml-serving patch statefulset w --patch-file nodewarden-fix.yaml',
    );
    expect(fixFor('Job').command).toBeNull();
    expect(fixFor('Job').notes.at(-1)).toContain("a Job's pod template cannot change");
    expect(
      migFix(burstable, { kind: 'Job', name: 'nightly-29257440' }, findings).notes.at(-1),
    ).toBe(
      'if CronJob nightly created it, patch the CronJob instead: the same change under spec.jobTemplate.spec.template.spec',
    );
    expect(fixFor('Pod').command).toBeNull();
    expect(Object.keys(fixFor('Pod').patch)).toEqual(['spec']);
    expect(fixFor('Pod').notes.at(-1)).toContain("a bare pod's resources cannot be patched");
    expect(fixFor('RayCluster').command).toBeNull();
    expect(fixFor('RayCluster').notes.at(-1)).toBe(
      'RayCluster w is managed by its own controller: set these in its pod template',
    );
    expect(fixFor('ReplicaSet').notes.at(-1)).toContain('only new pods get the fix');
  });

  it('only sets the PriorityClass when that is all that is wrong', () => {
    const p = good('ok', { priorityClassName: null, ownerKind: 'StatefulSet', ownerName: 'db' });
    const fix = migFix(p, workloadOwner(p), podFindings(p));
    expect(fix.patch).toEqual({
      spec: { template: { spec: { priorityClassName: 'gpu-workload' } } },
    });
    expect(fix.containers).toEqual([]);
  });
});

describe('auditMigWorkloads', () => {
  it('groups by namespace and owner, merges findings of a rollout, and counts compliant pods', () => {
    const rs = (name: string, hash: string, createdAt: string, limits: Record<string, string>) =>
      pod(`${name}-${hash}-${createdAt.slice(-3, -1)}`, {
        namespace: 'ml',
        ownerKind: 'ReplicaSet',
        ownerName: `${name}-${hash}`,
        labels: { 'pod-template-hash': hash },
        createdAt,
        containers: [container('app', { cpu: '1', memory: '1Gi', [MIG]: '1' }, limits)],
      });
    const pods = [
      rs('serve', 'aaa', '2025-08-20T00:00:01Z', { memory: '1Gi', [MIG]: '1' }),
      rs('serve', 'aaa', '2025-08-20T00:00:02Z', { memory: '1Gi', [MIG]: '1' }),
      rs('serve', 'bbb', '2025-08-24T00:00:03Z', { cpu: '1', [MIG]: '1' }),
      good('fine', { namespace: 'ml' }),
      good('done', {
        namespace: 'ml',
        qosClass: null,
        priorityClassName: null,
        phase: 'Succeeded',
      }),
      good('leaving', {
        namespace: 'ml',
        priorityClassName: null,
        deletionTimestamp: '2025-08-25T00:00:00Z',
      }),
      pod('cpu-only', { namespace: 'web', requests: { cpu: '1' } }),
      pod('shell', {
        namespace: 'default',
        ownerKind: null,
        ownerName: null,
        limits: { 'nvidia.com/gpu': '1' },
      }),
    ];
    const audit = auditMigWorkloads(pods);
    expect(audit.gpuPods).toBe(5);
    expect(audit.compliantPods).toBe(1);
    expect(
      audit.namespaces.map((n) => [
        n.namespace,
        n.workloads.map((w) => `${w.owner.kind}/${w.owner.name}`),
      ]),
    ).toEqual([
      ['default', ['Pod/shell']],
      ['ml', ['Deployment/serve']],
    ]);
    const serve = audit.namespaces[1]!.workloads[0]!;
    expect(serve.pods).toHaveLength(3);
    // Old pods lack the CPU limit, the newest lacks the memory limit: both are reported once.
    expect(serve.findings.map((f) => f.code)).toEqual([
      'missing-memory-limit',
      'not-guaranteed',
      'no-priority-class',
      'missing-cpu-limit',
    ]);
    // The fix comes from the newest pod (the current template): cpu from its limit, memory from its request.
    expect(serve.fix.containers[0]).toMatchObject({
      limits: { cpu: '1', memory: '1Gi', [MIG]: '1' },
    });
  });

  it('finds the seed cluster’s MIG workloads without limits', async () => {
    const { pods } = await seedCluster();
    const audit = auditMigWorkloads(pods);
    expect(audit.gpuPods).toBe(3);
    expect(audit.compliantPods).toBe(0);
    const byOwner = Object.fromEntries(
      audit.namespaces.flatMap((n) =>
        n.workloads.map((w) => [
          `${n.namespace}/${w.owner.kind}/${w.owner.name}`,
          w.findings.map((f) => f.code),
        ]),
      ),
    );
    expect(byOwner).toEqual({
      'ml-serving/Deployment/mig-inference': [
        'limit-dwarfs-request',
        'not-guaranteed',
        'no-priority-class',
      ],
      'ml-training/Job/mig-finetune-29257440': [
        'missing-cpu-limit',
        'not-guaranteed',
        'no-priority-class',
      ],
    });
  });

  it('rejects a ratio below 1', () => {
    expect(() =>
      auditMigWorkloads([], { ...DEFAULT_MIG_AUDIT_OPTIONS, maxLimitRatio: 0.5 }),
    ).toThrowError('limit ratio 0.5 is below 1');
  });
});
