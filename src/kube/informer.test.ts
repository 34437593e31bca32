import { createServer, type Server, type ServerResponse } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { loopbackKubeConfig } from '../../test/support/kube.ts';
import { silentLogger } from '../core/logger.ts';
import { DEFAULT_INFORMER_OPTIONS, Informer } from './informer.ts';

/** A loopback API server whose list is empty and whose watches never say anything. */
async function quietServer(): Promise<{
  kc: KubeConfig;
  lists: () => number;
  watches: () => string[];
  close: () => Promise<void>;
}> {
  const open = new Set<ServerResponse>();
  let lists = 0;
  const watches: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.searchParams.get('watch') === 'true') {
      watches.push(url.searchParams.get('resourceVersion') ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      open.add(res);
      res.on('close', () => open.delete(res));
      return;
    }
    lists += 1;
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ kind: 'EventList', metadata: { resourceVersion: '4711' }, items: [] }));
  });
  const kc = await loopbackKubeConfig(server);
  return {
    kc,
    lists: () => lists,
    watches: () => [...watches],
    async close() {
      for (const r of open) r.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('Informer on a quiet resource', () => {
  let stop: (() => Promise<void>) | null = null;
  afterEach(async () => {
    await stop?.();
    stop = null;
  });

  it('reopens a silent watch from the same resourceVersion without reporting the API server unreachable', async () => {
    const server = await quietServer();
    const contacts: boolean[] = [];
    const informer = new Informer(
      server.kc,
      { name: 'events', path: '/api/v1/events', map: (raw) => raw, key: () => 'x' },
      silentLogger,
      (ok) => contacts.push(ok),
      { ...DEFAULT_INFORMER_OPTIONS, watchIdleTimeoutMs: 150 },
    );
    stop = async () => {
      informer.stop();
      await server.close();
    };
    await informer.start();
    await expect.poll(() => server.watches().length, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
    // Every reopen resumes where the list left off: no relist, no outage reported.
    expect(server.lists()).toBe(1);
    expect(new Set(server.watches())).toEqual(new Set(['4711']));
    expect(contacts).not.toContain(false);
  });
});
