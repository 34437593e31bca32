import { createServer, type Server, type ServerResponse } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { loopbackKubeConfig } from '../../test/support/kube.ts';
import { silentLogger } from '../core/logger.ts';
import { KubeClusterView, LEASE_LAG_SAMPLES } from './cluster-view.ts';

/**
 * A loopback API server with one node Lease in its list and a Lease watch
 * the test writes events into, so the view's Lease event lag is measured on
 * real watch traffic. Every other resource lists empty and watches silently.
 */
interface LeaseServer {
  readonly kc: KubeConfig;
  /** Sends a Lease watch event whose renewTime is `ageMs` before now (or an exact ISO time). */
  send(type: 'ADDED' | 'MODIFIED' | 'DELETED', node: string, renew: number | string): void;
  /** Resolves once the Lease watch is open. */
  readonly watching: Promise<void>;
  close(): Promise<void>;
}

const LEASES = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases';

const lease = (node: string, renewTime: string, rv: number) => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: node, namespace: 'kube-node-lease', resourceVersion: String(rv) },
  spec: { holderIdentity: node, leaseDurationSeconds: 40, renewTime },
});

async function startLeaseServer(
  listed: { node: string; renewTime: string }[],
): Promise<LeaseServer> {
  const watches = new Set<ServerResponse>();
  let leaseWatch: ServerResponse | null = null;
  let rv = 100;
  let opened: () => void = () => undefined;
  const watching = new Promise<void>((resolve) => (opened = resolve));
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/readyz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      watches.add(res);
      res.on('close', () => watches.delete(res));
      if (url.pathname === LEASES) {
        leaseWatch = res;
        opened();
      }
      return;
    }
    const items = url.pathname === LEASES ? listed.map((l) => lease(l.node, l.renewTime, 1)) : [];
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ kind: 'List', metadata: { resourceVersion: '100' }, items }));
  });
  const kc = await loopbackKubeConfig(server);
  return {
    kc,
    watching,
    send(type, node, renew) {
      const renewTime =
        typeof renew === 'string' ? renew : new Date(Date.now() - renew).toISOString();
      rv += 1;
      leaseWatch?.write(JSON.stringify({ type, object: lease(node, renewTime, rv) }) + '\n');
    },
    async close() {
      for (const w of watches) w.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const settle = (view: KubeClusterView, count: number): Promise<void> =>
  expect.poll(() => view.leaseEventLag().count, { timeout: 5_000, interval: 20 }).toBe(count);

describe('KubeClusterView Lease event lag', () => {
  let server: LeaseServer | null = null;
  let view: KubeClusterView | null = null;
  afterEach(async () => {
    await view?.stop();
    await server?.close();
    view = null;
    server = null;
  });

  async function start(listed: { node: string; renewTime: string }[] = []) {
    server = await startLeaseServer(listed);
    view = new KubeClusterView(server.kc, silentLogger);
    await view.start(() => undefined);
    await server.watching;
    return { server, view };
  }

  it('samples only renewals it has not seen: not the start-up list, a new Lease, or a repeat', async () => {
    const old = new Date(Date.now() - 600_000).toISOString();
    const { server: s, view: v } = await start([{ node: 'gpu-1', renewTime: old }]);
    expect(v.leaseEventLag()).toEqual({ count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 });

    const renewed = new Date(Date.now() - 300).toISOString();
    s.send('MODIFIED', 'gpu-1', renewed);
    await settle(v, 1);
    const one = v.leaseEventLag();
    expect(one.p50Ms).toBeGreaterThanOrEqual(300);
    expect(one.p50Ms).toBeLessThan(1_300);
    expect(one.maxMs).toBe(one.p50Ms);

    s.send('MODIFIED', 'gpu-1', renewed); // same renewTime: a resync, not a renewal
    s.send('ADDED', 'gpu-2', 120_000); // first sighting of a new node's Lease
    s.send('MODIFIED', 'gpu-2', 50); // its first renewal seen here
    await settle(v, 2);
    expect(v.leaseEventLag().maxMs).toBeLessThan(1_300);

    s.send('DELETED', 'gpu-2', 0);
    s.send('ADDED', 'gpu-2', 90_000); // back again: a first sighting once more
    s.send('MODIFIED', 'gpu-1', 0);
    await settle(v, 3);
    expect(v.leaseEventLag().maxMs).toBeLessThan(1_300);
  });

  it('reports p50, p99 and max over the samples', async () => {
    const { server: s, view: v } = await start([
      { node: 'gpu-1', renewTime: '2025-08-25T00:00:00Z' },
    ]);
    // Lags of 1 s, 2 s, … 100 s: p50 is the 51st (51 s), p99 the 100th.
    for (let k = 1; k <= 100; k += 1) s.send('MODIFIED', 'gpu-1', k * 1_000);
    await settle(v, 100);
    const lag = v.leaseEventLag();
    expect(lag.p50Ms).toBeGreaterThanOrEqual(51_000);
    expect(lag.p50Ms).toBeLessThan(52_000);
    expect(lag.p99Ms).toBeGreaterThanOrEqual(100_000);
    expect(lag.maxMs).toBe(lag.p99Ms);
  });

  it(`keeps only the last ${LEASE_LAG_SAMPLES} samples`, async () => {
    const { server: s, view: v } = await start([
      { node: 'gpu-1', renewTime: '2025-08-25T00:00:00Z' },
    ]);
    // 50 very late renewals, then a full reservoir of prompt ones: the late ones fall out.
    for (let k = 1; k <= 50; k += 1) s.send('MODIFIED', 'gpu-1', 3_600_000 + k);
    const base = Date.now();
    for (let k = 0; k < LEASE_LAG_SAMPLES; k += 1) {
      s.send('MODIFIED', 'gpu-1', new Date(base - 200 + (k % 100)).toISOString());
    }
    // Full and free of the late ones only once every sample has arrived.
    await expect
      .poll(
        () => {
          const lag = v.leaseEventLag();
          return lag.count === LEASE_LAG_SAMPLES && lag.maxMs < 60_000;
        },
        { timeout: 10_000, interval: 50 },
      )
      .toBe(true);
  });
});
