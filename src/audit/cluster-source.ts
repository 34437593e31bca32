/**
 * Where an audit reads the cluster from: the API server, through the same
 * Kubernetes adapter the controller uses (one list of every Node and Pod,
 * then stop), or a file saved with `kubectl get nodes,pods -A -o yaml`, so
 * that an audit can run on a laptop, in CI, or on the cluster of an
 * incident report after the fact.
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { NodeSnapshot, PodSnapshot } from '../core/cluster.ts';
import { badInput, describeError, NodeWardenError } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { KubeClusterView } from '../kube/cluster-view.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { toNode, toPod } from '../kube/map.ts';

export interface ClusterSnapshot {
  readonly nodes: readonly NodeSnapshot[];
  readonly pods: readonly PodSnapshot[];
  /** Where it came from, for the report header: a file path or the API server URL. */
  readonly source: string;
}

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Nodes and Pods out of YAML or JSON text: a `List` (what kubectl prints for
 * several kinds), a `NodeList`/`PodList` (what the API returns), single
 * objects, or a `---`-separated stream of any of these. Other kinds are
 * ignored, so a full `kubectl get all -A -o yaml` works too.
 */
export function parseClusterText(text: string, source: string): ClusterSnapshot {
  const nodes: NodeSnapshot[] = [];
  const pods: PodSnapshot[] = [];
  const take = (item: unknown, kind: string | undefined): void => {
    if (!isObject(item)) return;
    const k = typeof item['kind'] === 'string' ? item['kind'] : kind;
    if (k === 'Node') nodes.push(toNode(item));
    else if (k === 'Pod') pods.push(toPod(item));
  };
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      const first = doc.errors[0];
      throw badInput(
        `${source} is not valid YAML or JSON: ${first?.message.split('\n')[0] ?? 'parse error'}`,
        'save the cluster with: kubectl get nodes,pods -A -o yaml > cluster.yaml',
      );
    }
    const value: unknown = doc.toJS();
    if (!isObject(value)) continue;
    const kind = typeof value['kind'] === 'string' ? value['kind'] : '';
    if (kind.endsWith('List') && Array.isArray(value['items'])) {
      const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
      for (const item of value['items'] as unknown[]) take(item, itemKind);
    } else {
      take(value, undefined);
    }
  }
  if (nodes.length === 0) {
    throw badInput(
      `${source} holds no Node objects`,
      'save nodes and pods together: kubectl get nodes,pods -A -o yaml > cluster.yaml',
    );
  }
  return { nodes, pods, source };
}

export async function readClusterFile(path: string): Promise<ClusterSnapshot> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new NodeWardenError(
      'BAD_INPUT',
      `cannot read cluster file ${path}: ${(error as NodeJS.ErrnoException).code ?? describeError(error)}`,
      {
        hint: 'save one with: kubectl get nodes,pods -A -o yaml > cluster.yaml',
        cause: error,
      },
    );
  }
  return parseClusterText(text, path);
}

/**
 * Lists every Node and Pod through KubeClusterView and stops. The view
 * retries a failing list forever (right for the controller); an audit gives
 * up after `timeoutMs` and says why.
 */
export async function readClusterFromApi(
  kubeconfig: string | undefined,
  timeoutMs: number,
): Promise<ClusterSnapshot> {
  const { kc, source } = await loadKubeConfig(kubeconfig);
  const server = kc.getCurrentCluster()?.server ?? source;
  const view = new KubeClusterView(kc, silentLogger);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([
      view.start(() => undefined).then(() => 'synced' as const),
      deadline,
    ]);
    if (outcome === 'timeout') {
      const error = view.connection().error;
      throw new NodeWardenError(
        'UNAVAILABLE',
        `could not list nodes and pods from ${server} within ${timeoutMs / 1000} s${error ? `: ${error}` : ''}`,
        {
          hint: `check the API server and the kubeconfig (${source}); the audit needs get/list on nodes and pods`,
        },
      );
    }
    return { nodes: view.nodes(), pods: view.pods(), source: server };
  } finally {
    clearTimeout(timer);
    await view.stop();
  }
}
