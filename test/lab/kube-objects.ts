import type { KubeConfig } from '@kubernetes/client-node';
import { KubeHttpError, kubeRequest } from '../../src/kube/http.ts';

/** Objects on the lab API server for the lab tests, with the admin kubeconfig (10 s per call). */

/** Creates an object; one that exists already is kept (reruns after an aborted run). */
export async function createObject(kc: KubeConfig, path: string, body: unknown): Promise<void> {
  try {
    await kubeRequest(kc, 'POST', path, 10_000, body);
  } catch (error) {
    if (!(error instanceof KubeHttpError && error.status === 409)) throw error;
  }
}

/** Deletes an object; one that is gone already is fine. */
export async function deleteObject(kc: KubeConfig, path: string): Promise<void> {
  try {
    await kubeRequest(kc, 'DELETE', path, 10_000);
  } catch (error) {
    if (!(error instanceof KubeHttpError && error.status === 404)) throw error;
  }
}
