import type { KubeConfig } from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { kubeRequest } from '../../src/kube/http.ts';
import { toLease, toNode, toPod } from '../../src/kube/map.ts';
import type { NodeSnapshot, PodSnapshot } from '../../src/core/cluster.ts';
import { parseQuantity } from '../../src/core/quantity.ts';
import { SEED_NAMESPACE } from '../../src/lab/seed-cluster.ts';
import { labStatus, MIG, nodewardenOk, SHARED_LAB_TIMING } from './lab-harness.ts';
import { until } from '../support/until.ts';

/**
 * The seed outage against a real control plane: cut the MIG node's link and
 * watch Kubernetes itself do what it did on 2025-08-25 — Ready=Unknown after
 * the grace period, unreachable taints, eviction after the toleration,
 * replacements scheduled on the survivors, survivors' limits far above their
 * allocatable — then heal and see the node Ready again.
 *
 * Timing is shortened for the test and says so: grace period and toleration
 * come from SHARED_LAB_TIMING (Kubernetes' defaults are 50 s and 300 s).
 */
const lab = inject('lab');
const MIG_NODE = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';

let kc: KubeConfig;
const get = <T>(path: string): Promise<T> => kubeRequest<T>(kc, 'GET', path, 10_000);
const nodes = async (): Promise<NodeSnapshot[]> =>
  (await get<{ items: unknown[] }>('/api/v1/nodes')).items.map(toNode);
const seedPods = async (): Promise<PodSnapshot[]> =>
  (await get<{ items: unknown[] }>(`/api/v1/namespaces/${SEED_NAMESPACE}/pods`)).items.map(toPod);
const ready = (n: NodeSnapshot | undefined): string =>
  n?.conditions.find((c) => c.type === 'Ready')?.status ?? 'missing';

/** CPU limits of the running pods on each node as % of its allocatable CPU. */
function cpuLimitPercent(allNodes: NodeSnapshot[], pods: PodSnapshot[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const node of allNodes) {
    const allocatable = parseQuantity(node.allocatable['cpu'] ?? '0');
    const limits = pods
      .filter((p) => p.nodeName === node.name && p.deletionTimestamp === null)
      .flatMap((p) => p.containers)
      .reduce((sum, c) => sum + parseQuantity(c.limits['cpu'] ?? '0'), 0);
    out.set(node.name, (100 * limits) / allocatable);
  }
  return out;
}

describe.skipIf(lab.skip !== null)('a real Kubernetes control plane in the lab', () => {
  beforeAll(async () => {
    const status = await labStatus(lab.dir);
    if (!status.controlPlane) throw new Error('the shared lab was started without a control plane');
    ({ kc } = await loadKubeConfig(status.controlPlane.adminKubeconfig));
  });

  it('serves Kubernetes v1.32.13 and lists every lab node Ready with a renewing Lease', async () => {
    const version = await get<{ gitVersion: string }>('/version');
    expect(version.gitVersion).toBe('v1.32.13');
    const all = await until('5 Ready nodes', 30_000, async () => {
      const n = await nodes();
      return n.length === 5 && n.every((x) => ready(x) === 'True') ? n : null;
    });
    const mig = all.find((n) => n.name === MIG_NODE);
    expect(mig?.labels['node-role']).toBe('mig');
    expect(mig?.internalIP).toBe('10.62.0.30');
    expect(mig?.providerID).toMatch(/^openstack:\/\/\/[0-9a-f-]{36}$/);
    expect(mig?.allocatable['nvidia.com/mig-1g.10gb']).toBe('7');
    const lease = toLease(
      await get(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${MIG_NODE}`),
    );
    expect(Date.now() - Date.parse(lease.renewTime ?? '')).toBeLessThan(15_000);
  });

  it('replays the seed: link-down → NotReady → taints → eviction → rescheduled on overcommitted survivors; heal → Ready', async () => {
    await nodewardenOk(lab.dir, ['lab', 'workload', 'seed'], 120_000);
    await until('all seed pods Running', 60_000, async () => {
      const pods = await seedPods();
      return pods.length > 0 && pods.every((p) => p.phase === 'Running') ? pods : null;
    });
    const before = cpuLimitPercent(await nodes(), await seedPods());

    const lastRenew = toLease(
      await get(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${MIG_NODE}`),
    ).renewTime;
    const cutAt = Date.now();
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'link-down']);
    const t = (ms: number): string => `${((ms - cutAt) / 1000).toFixed(1)} s`;

    const notReadyAt = await until('Ready=Unknown', 120_000, async () =>
      ready((await nodes()).find((n) => n.name === MIG_NODE)) === 'Unknown' ? Date.now() : null,
    );
    const taintedAt = await until('unreachable NoExecute taint', 60_000, async () =>
      (await nodes())
        .find((n) => n.name === MIG_NODE)
        ?.taints.some((x) => x.key === 'node.kubernetes.io/unreachable' && x.effect === 'NoExecute')
        ? Date.now()
        : null,
    );
    const evictedAt = await until('pods on the MIG node evicted', 120_000, async () => {
      const onMig = (await seedPods()).filter((p) => p.nodeName === MIG_NODE);
      return onMig.length > 0 && onMig.every((p) => p.deletionTimestamp !== null)
        ? Date.now()
        : null;
    });
    const rescheduled = await until(
      'feature-pipeline Running again on the survivors',
      120_000,
      async () => {
        const moved = (await seedPods()).filter(
          (p) =>
            p.labels['app'] === 'feature-pipeline' &&
            p.deletionTimestamp === null &&
            p.phase === 'Running' &&
            p.nodeName !== MIG_NODE,
        );
        return moved.length === 7 ? { at: Date.now(), moved } : null;
      },
    );

    const pods = await seedPods();
    const after = cpuLimitPercent(await nodes(), pods);
    const survivors = [...after.keys()].filter((n) => n !== MIG_NODE);
    const migPending = pods.filter(
      (p) => p.labels['app'] === 'mig-inference' && p.deletionTimestamp === null,
    );

    process.stderr.write(
      [
        `seed replay (grace ${SHARED_LAB_TIMING.gracePeriodSeconds} s, toleration ${SHARED_LAB_TIMING.tolerationSeconds} s):`,
        `  last Lease renew before the cut: ${lastRenew}`,
        `  link-down → Ready=Unknown: ${t(notReadyAt)}`,
        `  link-down → NoExecute taint: ${t(taintedAt)}`,
        `  link-down → pods evicted: ${t(evictedAt)}`,
        `  link-down → replacements Running on survivors: ${t(rescheduled.at)}`,
        ...survivors.map(
          (n) =>
            `  ${n}: CPU limits ${before.get(n)?.toFixed(1)}% → ${after.get(n)?.toFixed(1)}% of allocatable`,
        ),
        '',
      ].join('\n'),
    );

    expect(cutAt).toBeLessThan(notReadyAt);
    expect(notReadyAt).toBeLessThanOrEqual(taintedAt);
    expect(taintedAt).toBeLessThanOrEqual(evictedAt);
    expect(evictedAt).toBeLessThanOrEqual(rescheduled.at);
    // Kubernetes waits for the grace period: never NotReady before it.
    expect(notReadyAt - cutAt).toBeGreaterThan((SHARED_LAB_TIMING.gracePeriodSeconds - 10) * 1000);
    for (const n of survivors) {
      expect(after.get(n), n).toBeGreaterThan(before.get(n) ?? Infinity);
      expect(after.get(n), n).toBeGreaterThan(300);
    }
    // MIG pods have nowhere else to go: no survivor has MIG slices.
    expect(migPending.every((p) => p.nodeName === null || p.nodeName === MIG_NODE)).toBe(true);

    await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
    const readyAgain = await until('the MIG node Ready again', 60_000, async () => {
      const n = (await nodes()).find((x) => x.name === MIG_NODE);
      return ready(n) === 'True' &&
        !n?.taints.some((x) => x.key === 'node.kubernetes.io/unreachable')
        ? Date.now()
        : null;
    });
    process.stderr.write(
      `  heal → Ready, taints gone: ${((readyAgain - rescheduled.at) / 1000).toFixed(1)} s after rescheduling\n`,
    );
    await until('MIG pods Running on the MIG node again', 60_000, async () => {
      const mig = (await seedPods()).filter(
        (p) => p.labels['app'] === 'mig-inference' && p.deletionTimestamp === null,
      );
      return mig.length === 2 && mig.every((p) => p.phase === 'Running' && p.nodeName === MIG_NODE)
        ? true
        : null;
    });
  }, 600_000);
});
