import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { badInput } from '../core/errors.ts';

/**
 * The operations endpoints every NodeWarden process serves:
 * - `/healthz`: the process is alive and its loops are turning (200/503);
 * - `/readyz`: it can do its job — for the controller, the API server is
 *   reachable and the caches are synced (200/503 with the reason);
 * - `/metrics`: Prometheus text format.
 * Extra routes (the HTTP API) are added by the caller.
 */
export interface Check {
  (): { ok: boolean; reason: string };
}

export type Route = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
) => Promise<boolean> | boolean;

export interface OpsServerOptions {
  readonly listen: string;
  readonly registry: Registry;
  readonly healthy: Check;
  readonly ready: Check;
  readonly routes?: readonly Route[];
}

/** Parses `host:port` or `:port` (all addresses); BAD_INPUT names the flag value otherwise. */
export function parseListen(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  const host = at <= 0 ? '0.0.0.0' : text.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(text.slice(at + 1));
  if (at < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw badInput(
      `--listen "${text}" is not host:port`,
      'pass e.g. --listen 127.0.0.1:9464 or --listen :9464',
    );
  }
  return { host, port };
}

function check(res: ServerResponse, c: ReturnType<Check>): void {
  res
    .writeHead(c.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' })
    .end(c.ok ? 'ok\n' : `${c.reason}\n`);
}

export async function startOpsServer(
  opts: OpsServerOptions,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const { host, port } = parseListen(opts.listen);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    void (async () => {
      try {
        if (url.pathname === '/healthz') return check(res, opts.healthy());
        if (url.pathname === '/readyz') return check(res, opts.ready());
        if (url.pathname === '/metrics') {
          const body = await opts.registry.metrics();
          res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body);
          return;
        }
        for (const route of opts.routes ?? []) if (await route(req, res, url)) return;
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      } catch (error) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`internal error: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
