import type { KubeConfig } from '@kubernetes/client-node';
import { NodeWardenError } from '../core/errors.ts';
import { KubeHttpError, kubeRequest } from '../kube/http.ts';
import { deploymentManifest, SEED_NAMESPACE, seedWorkloads } from './seed-cluster.ts';

const timeoutMs = 10_000;

async function createOrKeep(
  kc: KubeConfig,
  collection: string,
  body: Record<string, unknown>,
): Promise<'created' | 'exists'> {
  try {
    await kubeRequest(kc, 'POST', collection, timeoutMs, body);
    return 'created';
  } catch (error) {
    if (error instanceof KubeHttpError && error.status === 409) return 'exists';
    throw error;
  }
}

async function setUnschedulable(
  kc: KubeConfig,
  node: string,
  unschedulable: boolean,
): Promise<void> {
  await kubeRequest(
    kc,
    'PATCH',
    `/api/v1/nodes/${node}`,
    timeoutMs,
    { spec: { unschedulable } },
    'application/merge-patch+json',
  );
}

interface PodList {
  items: { spec?: { nodeName?: string } }[];
}

/**
 * Applies the seed's workloads to the lab cluster. The pods that should sit
 * on the MIG node but be free to move (`prefer`) are created while the md-0
 * nodes are cordoned, so the real scheduler puts them on the MIG node as the
 * seed's were, whatever its spreading scores say; the md-0 nodes are
 * uncordoned as soon as those pods are bound. Idempotent.
 */
export async function applySeedWorkloads(
  kc: KubeConfig,
  migNode: string,
  workers: readonly string[],
  progress: (line: string) => void,
): Promise<void> {
  await createOrKeep(kc, '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: SEED_NAMESPACE },
  });
  const workloads = seedWorkloads(workers);
  const collection = `/apis/apps/v1/namespaces/${SEED_NAMESPACE}/deployments`;
  for (const w of workloads.filter((w) => !w.prefer)) {
    progress(
      `workload ${w.name}: ${await createOrKeep(kc, collection, deploymentManifest(w))} (${w.replicas} replicas)`,
    );
  }
  for (const w of workloads.filter((w) => w.prefer)) {
    await Promise.all(workers.map((n) => setUnschedulable(kc, n, true)));
    try {
      progress(
        `workload ${w.name}: ${await createOrKeep(kc, collection, deploymentManifest(w))} (${w.replicas} replicas, placed on ${migNode})`,
      );
      const deadline = Date.now() + 60_000;
      for (;;) {
        const pods = await kubeRequest<PodList>(
          kc,
          'GET',
          `/api/v1/namespaces/${SEED_NAMESPACE}/pods?labelSelector=app%3D${w.name}`,
          timeoutMs,
        );
        const bound = pods.items.filter((p) => p.spec?.nodeName).length;
        if (bound >= w.replicas) break;
        if (Date.now() > deadline) {
          throw new NodeWardenError(
            'TIMEOUT',
            `only ${bound}/${w.replicas} pods of ${w.name} were scheduled within 60 s`,
            {
              hint: `is ${migNode} Ready? check: kubectl -n ${SEED_NAMESPACE} describe pods -l app=${w.name}`,
            },
          );
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      await Promise.all(workers.map((n) => setUnschedulable(kc, n, false)));
    }
  }
}
