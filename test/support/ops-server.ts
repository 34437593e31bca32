import { Registry } from 'prom-client';
import { startOpsServer, type Route } from '../../src/server/ops-server.ts';

/** The ops server on 127.0.0.1 (any free port), healthy and ready, serving `routes`. */
export async function startRoutes(
  routes: readonly Route[],
): Promise<{ port: number; base: string; close: () => Promise<void> }> {
  const server = await startOpsServer({
    listen: '127.0.0.1:0',
    registry: new Registry(),
    healthy: () => ({ ok: true, reason: '' }),
    ready: () => ({ ok: true, reason: '' }),
    routes,
  });
  return {
    port: server.port,
    base: `http://127.0.0.1:${server.port}`,
    close: () => server.close(),
  };
}
