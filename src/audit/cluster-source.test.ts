import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { NodeWardenError } from '../core/errors.ts';
import { parseClusterText, readClusterFile, readClusterFromApi } from './cluster-source.ts';
import { SEED_FILE } from '../../test/fixtures/audit/builders.ts';
import {
  startFakeApiServer,
  type FakeApiServer,
} from '../../test/fixtures/audit/fake-api-server.ts';

const nodeJson = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  status: { allocatable: { cpu: '4' } },
});
const podJson = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'ns' },
  spec: { nodeName: 'n1', containers: [{ name: 'c' }], ...extra },
});

describe('reading a saved cluster', () => {
  it('reads the kubectl List of the seed cluster, affinity and priority included', async () => {
    const { nodes, pods, source } = await readClusterFile(SEED_FILE);
    expect(source).toBe(SEED_FILE);
    expect(nodes).toHaveLength(5);
    expect(pods).toHaveLength(53);
    const pipeline = pods.find((p) => p.name.startsWith('feature-pipeline-'));
    expect(pipeline?.nodeAffinity?.preferred[0]).toEqual({
      weight: 100,
      preference: {
        matchExpressions: [{ key: 'node-role', operator: 'In', values: ['mig'] }],
        matchFields: [],
      },
    });
    expect(pipeline?.nodeAffinity?.required).toBeNull();
    expect(pods.find((p) => p.name === 'model-cache-0')?.priority).toBe(100000);
  });

  it('takes NodeList/PodList (items without kind), JSON, and --- streams, ignoring other kinds', () => {
    const stream = [
      JSON.stringify({ kind: 'NodeList', items: [{ metadata: { name: 'n1' } }] }),
      '---',
      'kind: PodList\nitems:\n  - metadata: {name: p1, namespace: ns}\n    spec: {nodeName: n1}',
      '---',
      JSON.stringify(podJson('p2')),
      '---',
      JSON.stringify({ kind: 'Service', metadata: { name: 's' } }),
      '---',
      JSON.stringify({ kind: 'List', items: [nodeJson('n2'), { kind: 'ConfigMap' }] }),
    ].join('\n');
    const { nodes, pods } = parseClusterText(stream, 'stream.yaml');
    expect(nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
    expect(pods.map((p) => p.name)).toEqual(['p1', 'p2']);
  });

  it('says what is wrong with a file it cannot use, and how to make one', async () => {
    expect(() => parseClusterText('kind: List\nitems: [\n', 'bad.yaml')).toThrowError(
      /^bad\.yaml is not valid YAML or JSON: /,
    );
    expect(() =>
      parseClusterText(JSON.stringify({ kind: 'List', items: [podJson('p')] }), 'pods.json'),
    ).toThrowError('pods.json holds no Node objects');
    const missing = await readClusterFile('/nonexistent/cluster.yaml').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NodeWardenError);
    expect(missing).toMatchObject({
      code: 'BAD_INPUT',
      message: 'cannot read cluster file /nonexistent/cluster.yaml: ENOENT',
      hint: 'save one with: kubectl get nodes,pods -A -o yaml > cluster.yaml',
    });
  });
});

describe('reading the cluster from an API server (KubeClusterView against a loopback server)', () => {
  let server: FakeApiServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const seedItems = async () =>
    (parse(await readFile(SEED_FILE, 'utf8')) as { items: Record<string, unknown>[] }).items;

  it('lists every node and pod, paged, then stops', async () => {
    server = await startFakeApiServer(await seedItems());
    const { nodes, pods, source } = await readClusterFromApi(server.kubeconfig, 10_000);
    expect(source).toBe(server.url);
    expect(nodes).toHaveLength(5);
    expect(pods).toHaveLength(53);
    expect(server.requests).toContain('/api/v1/pods?limit=500');
    expect(server.requests).toContain('/api/v1/nodes?limit=500');
  });

  it('leaves nothing open behind it: no watch, no health ping (the CLI must exit)', async () => {
    // Pods take longer to list than the view's 2 s health ping interval, and
    // that ping is slow: it is in flight when the audit stops the view.
    server = await startFakeApiServer(await seedItems(), {
      listDelayMs: { '/api/v1/pods': 2_200 },
      readyzDelayMs: 400,
    });
    await readClusterFromApi(server.kubeconfig, 10_000);
    const pings = server.requests.filter((p) => p === '/readyz').length;
    await new Promise((r) => setTimeout(r, 2_500));
    expect(server.openWatches()).toBe(0);
    expect(server.requests.filter((p) => p === '/readyz')).toHaveLength(pings);
    expect(pings).toBe(2);
  });

  it('gives up after the timeout and says why (RBAC denies listing pods)', async () => {
    server = await startFakeApiServer(await seedItems(), { deny: ['/api/v1/pods'] });
    const started = Date.now();
    const error = await readClusterFromApi(server.kubeconfig, 1_500).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(NodeWardenError);
    expect(error).toMatchObject({ code: 'UNAVAILABLE' });
    expect((error as Error).message).toMatch(
      new RegExp(
        `^could not list nodes and pods from ${server.url} within 1\\.5 s: .*HTTP 403 Forbidden: pods is forbidden`,
      ),
    );
  });

  it('gives up on an API server that is not there', async () => {
    const closed = await startFakeApiServer([]);
    await closed.close();
    const error = await readClusterFromApi(closed.kubeconfig, 1_000).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNAVAILABLE' });
    expect((error as Error).message).toContain('ECONNREFUSED');
  });
});
