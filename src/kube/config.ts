import { access, readFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { NodeWardenError } from '../core/errors.ts';

const inClusterToken = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Loads a kubeconfig the way kubectl does, with one clear error per cause:
 * `--kubeconfig` first, then $KUBECONFIG, then the in-cluster service
 * account, then ~/.kube/config.
 */
export async function loadKubeConfig(path?: string): Promise<{ kc: KubeConfig; source: string }> {
  const kc = new KubeConfig();
  const explicit = path ?? process.env['KUBECONFIG'];
  if (explicit) {
    const file = explicit.split(':')[0] ?? explicit;
    try {
      await readFile(file, 'utf8');
    } catch (error) {
      throw new NodeWardenError(
        'BAD_INPUT',
        `cannot read kubeconfig ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        {
          hint: 'pass --kubeconfig <path> to a readable file (the lab writes one: nodewarden lab status)',
          cause: error,
        },
      );
    }
    try {
      kc.loadFromFile(file);
    } catch (error) {
      throw new NodeWardenError(
        'BAD_INPUT',
        `kubeconfig ${file} is not valid: ${error instanceof Error ? error.message : String(error)}`,
        {
          hint: 'check it with kubectl --kubeconfig <path> config view',
          cause: error,
        },
      );
    }
    if (!kc.getCurrentCluster()) {
      throw new NodeWardenError(
        'BAD_INPUT',
        `kubeconfig ${file} has no current context with a cluster`,
        {
          hint: 'set current-context, or pass a kubeconfig that has one',
        },
      );
    }
    return { kc, source: file };
  }
  const inCluster = await access(inClusterToken).then(
    () => true,
    () => false,
  );
  if (inCluster && process.env['KUBERNETES_SERVICE_HOST']) {
    kc.loadFromCluster();
    return { kc, source: 'in-cluster service account' };
  }
  try {
    kc.loadFromDefault();
  } catch (error) {
    throw new NodeWardenError(
      'BAD_INPUT',
      `no usable kubeconfig: ${error instanceof Error ? error.message : String(error)}`,
      {
        hint: 'pass --kubeconfig <path> or set KUBECONFIG',
        cause: error,
      },
    );
  }
  if (!kc.getCurrentCluster()) {
    throw new NodeWardenError(
      'BAD_INPUT',
      'no kubeconfig found (no --kubeconfig, no KUBECONFIG, not in a cluster, no ~/.kube/config)',
      {
        hint: 'pass --kubeconfig <path> or set KUBECONFIG',
      },
    );
  }
  return { kc, source: '~/.kube/config' };
}
