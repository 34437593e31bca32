import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../core/logger.ts';
import { LEADER_LABEL, LeaderPodLabel, ownPod } from './leader-label.ts';

/**
 * LeaderPodLabel against a loopback API server that keeps pods' labels and
 * records every call: the merge patches it sends, the label selector it
 * lists by, and what happens when the server refuses.
 */
interface FakePods {
  readonly kc: KubeConfig;
  readonly labels: Map<string, Record<string, string>>;
  readonly calls: string[];
  close(): Promise<void>;
}

async function fakePods(
  pods: Record<string, Record<string, string>>,
  refuse = false,
): Promise<FakePods> {
  const labels = new Map(Object.entries(pods));
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      calls.push(`${req.method} ${url.pathname}${url.search}`);
      const json = (status: number, value: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      };
      if (refuse) return json(403, { kind: 'Status', reason: 'Forbidden', message: 'no' });
      const m = /^\/api\/v1\/namespaces\/nw\/pods(?:\/([^/]+))?$/.exec(url.pathname);
      if (!m) return json(404, { kind: 'Status', reason: 'NotFound' });
      if (req.method === 'GET') {
        const [key, value] = (url.searchParams.get('labelSelector') ?? '').split('=');
        const items = [...labels]
          .filter(([, l]) => key === undefined || l[key] === value)
          .map(([name]) => ({ metadata: { name } }));
        return json(200, { kind: 'PodList', items });
      }
      const name = m[1] ?? '';
      const patch = JSON.parse(body) as { metadata: { labels: Record<string, string | null> } };
      const next = { ...labels.get(name) };
      for (const [k, v] of Object.entries(patch.metadata.labels))
        if (v === null) delete next[k];
        else next[k] = v;
      labels.set(name, next);
      return json(200, { metadata: { name, labels: next } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'loopback',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'test' }],
    contexts: [{ name: 'test', cluster: 'loopback', user: 'test' }],
    currentContext: 'test',
  });
  return {
    kc,
    labels,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let api: FakePods | null = null;
afterEach(async () => {
  await api?.close();
  api = null;
});

describe('LeaderPodLabel', () => {
  it('labels its own pod while leading and unlabels an old leader; unlabels itself when it stops', async () => {
    api = await fakePods({ a: { [LEADER_LABEL]: 'true', app: 'x' }, b: {}, c: { app: 'x' } });
    const label = new LeaderPodLabel(api.kc, { namespace: 'nw', pod: 'b' }, silentLogger);
    await label.follow(true);
    expect(api.labels.get('b')).toEqual({ [LEADER_LABEL]: 'true' });
    expect(api.labels.get('a')).toEqual({ app: 'x' });
    expect(api.calls).toEqual([
      'PATCH /api/v1/namespaces/nw/pods/b',
      `GET /api/v1/namespaces/nw/pods?labelSelector=${encodeURIComponent(`${LEADER_LABEL}=true`)}`,
      'PATCH /api/v1/namespaces/nw/pods/a',
    ]);
    await label.follow(false);
    expect(api.labels.get('b')).toEqual({});
  });

  it('a refusal is logged, not thrown: detection goes on', async () => {
    api = await fakePods({ b: {} }, true);
    const lines: string[] = [];
    const log: Logger = {
      ...silentLogger,
      log: (level, msg, fields) => lines.push(`${level} ${msg} ${JSON.stringify(fields)}`),
    };
    await new LeaderPodLabel(api.kc, { namespace: 'nw', pod: 'b' }, log).follow(true);
    expect(lines.join('\n')).toMatch(/^warn could not update the leader label on pods .*403/m);
  });

  it('needs the downward API in the pod', () => {
    expect(ownPod({ POD_NAME: 'p', POD_NAMESPACE: 'nw' })).toEqual({ pod: 'p', namespace: 'nw' });
    expect(() => ownPod({ POD_NAME: 'p' })).toThrow(/POD_NAMESPACE/);
  });
});
