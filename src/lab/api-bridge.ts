import { createConnection, createServer, type Server } from 'node:net';
import { rm } from 'node:fs/promises';

/**
 * A byte-for-byte forwarder between a TCP address and a unix socket.
 *
 * The lab's API server lives inside the hub namespace, and nothing in the
 * root namespace routes to lab addresses. Unix sockets on the filesystem are
 * not bound to a network namespace, so two forwarders join them: one inside
 * the hub (unix socket → 127.0.0.1:6443) and one in the root namespace
 * (127.0.0.1:<port> → unix socket). TLS passes through untouched; the API
 * server's certificate carries 127.0.0.1.
 */
export type Endpoint = { readonly path: string } | { readonly host: string; readonly port: number };

export function parseEndpoint(text: string): Endpoint {
  if (text.startsWith('/')) return { path: text };
  const at = text.lastIndexOf(':');
  const port = Number(text.slice(at + 1));
  if (at < 1 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`"${text}" is neither an absolute socket path nor host:port`);
  }
  return { host: text.slice(0, at), port };
}

export async function forward(listen: Endpoint, to: Endpoint): Promise<Server> {
  if ('path' in listen) await rm(listen.path, { force: true });
  const server = createServer((client) => {
    const upstream = 'path' in to ? createConnection(to.path) : createConnection(to.port, to.host);
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('path' in listen) server.listen(listen.path, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  return server;
}

/** `node api-bridge.js <listen> <to> [<listen> <to>…]`: one forwarder per pair; runs until killed. */
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (args.length === 0 || args.length % 2 !== 0) {
    process.stderr.write(
      'usage: api-bridge <listen: /path | host:port> <to: /path | host:port> [<listen> <to>…]\n',
    );
    process.exit(2);
  }
  for (let i = 0; i < args.length; i += 2) {
    await forward(parseEndpoint(args[i] ?? ''), parseEndpoint(args[i + 1] ?? ''));
  }
}
