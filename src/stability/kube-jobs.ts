/** `LoadJobs` on a real API server: create the Job, delete it with its pods and wait until both are gone. */
import type { KubeConfig } from '@kubernetes/client-node';
import { NodeWardenError } from '../core/errors.ts';
import { KubeHttpError, kubeRequest } from '../kube/http.ts';
import type { LoadJobs } from './run.ts';

const notFound = (error: unknown) => error instanceof KubeHttpError && error.status === 404;

export function kubeLoadJobs(
  kc: KubeConfig,
  options: { timeoutMs?: number; goneWithinMs?: number } = {},
): LoadJobs {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const goneWithinMs = options.goneWithinMs ?? 60_000;
  const jobPath = (ns: string, name: string) => `/apis/batch/v1/namespaces/${ns}/jobs/${name}`;
  return {
    async create(manifest) {
      const { namespace } = (manifest as { metadata: { namespace: string } }).metadata;
      await kubeRequest(
        kc,
        'POST',
        `/apis/batch/v1/namespaces/${namespace}/jobs`,
        timeoutMs,
        manifest,
      );
    },
    async remove(namespace, name) {
      try {
        // Foreground: the Job stays (with a deletionTimestamp) until its pods are gone,
        // so "Job gone" below also means "load stopped".
        await kubeRequest(kc, 'DELETE', jobPath(namespace, name), timeoutMs, {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          propagationPolicy: 'Foreground',
          gracePeriodSeconds: 0,
        });
      } catch (error) {
        if (!notFound(error)) throw error;
      }
      const deadline = Date.now() + goneWithinMs;
      for (;;) {
        try {
          await kubeRequest(kc, 'GET', jobPath(namespace, name), timeoutMs);
        } catch (error) {
          if (notFound(error)) return;
          throw error;
        }
        if (Date.now() > deadline) {
          throw new NodeWardenError(
            'TIMEOUT',
            `Job ${namespace}/${name} still exists ${goneWithinMs / 1000} s after its deletion`,
            {
              hint: `its pod may be stuck on an unreachable node: kubectl -n ${namespace} delete job ${name} --force --grace-period=0`,
            },
          );
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    },
  };
}
