import { startGpuWorkload } from './gpu-workload.ts';
import { pickDevice } from './lab-gpu.ts';
import { timingSafeEqual } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { describeError, NodeWardenError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { jsonLogger } from '../host/json-logger.ts';
import { kubeRest } from './kube-rest.ts';
import { startKubeletNode } from './kubelet-node.ts';
import { labServerId, nodeProfile } from './seed-cluster.ts';

/**
 * A kubelet stand-in for one lab node: HTTPS on :10250 answering `/healthz`
 * the way a real kubelet with anonymous auth off does — 401 without a valid
 * bearer token, `ok` with the lab's token. The lab runs one per node
 * namespace (`ip netns exec <ns> node dist/lab/kubelet-standin.js …`), so the
 * prober meets it through that namespace's network stack, and faults such as
 * SIGSTOP act on a real process.
 *
 * `start(options)` is the seam for more kubelet behaviour: registration and
 * Lease heartbeats plug in as `companions`, started once the server listens
 * and stopped before it closes, without touching the HTTP side.
 */

export interface KubeletStandinOptions {
  readonly nodeName: string;
  /** Listen address; a real kubelet listens on all addresses. */
  readonly host?: string;
  /** 10250 by default; 0 picks a free port (tests). */
  readonly port?: number;
  readonly tls: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** The bearer token that authenticates a request. */
  readonly token: string;
  readonly logger: Logger;
  readonly companions?: readonly StandinCompanion[];
}

/** Something the stand-in runs beside its HTTP server (e.g. a Lease heartbeat). */
export interface StandinCompanion {
  readonly name: string;
  start(context: CompanionContext): Promise<CompanionHandle>;
}

export interface CompanionContext {
  readonly nodeName: string;
  /** The address and port the stand-in serves on. */
  readonly address: string;
  readonly port: number;
  readonly logger: Logger;
  /** Aborted when the stand-in closes. */
  readonly signal: AbortSignal;
}

export interface CompanionHandle {
  stop(): Promise<void>;
}

export interface KubeletStandin {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export const KUBELET_PORT = 10250;

function bearerMatches(header: string | undefined, token: Buffer): boolean {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match?.[1]) return false;
  const given = Buffer.from(match[1]);
  return given.length === token.length && timingSafeEqual(given, token);
}

function handler(token: Buffer, logger: Logger) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    // The kubelet authenticates before it routes: every path needs the token.
    if (!bearerMatches(req.headers.authorization, token)) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' }).end('Unauthorized');
      logger.log('debug', 'unauthorized request', { path, remote: req.socket.remoteAddress });
      return;
    }
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
  };
}

/** Starts serving; resolves once the server listens and every companion has started. */
export async function start(options: KubeletStandinOptions): Promise<KubeletStandin> {
  if (options.token.length < 16) {
    throw new NodeWardenError(
      'BAD_INPUT',
      `the stand-in token for ${options.nodeName} is shorter than 16 characters`,
      {
        hint: 'use the lab token file that lab up writes',
      },
    );
  }
  const logger = options.logger.child({ node: options.nodeName });
  const server: Server = createServer(
    { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' },
    handler(Buffer.from(options.token), logger),
  );
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.on('tlsClientError', (error) =>
    logger.log('debug', 'TLS handshake failed', { error: error.message }),
  );
  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new NodeWardenError(
          'UNAVAILABLE',
          `kubelet stand-in cannot listen on ${host}:${options.port ?? KUBELET_PORT}: ${error.code ?? error.message}`,
          {
            hint: 'is another kubelet stand-in running in this namespace? see nodewarden lab status',
            cause: error,
          },
        ),
      ),
    );
    server.listen(options.port ?? KUBELET_PORT, host, resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  const abort = new AbortController();
  const closeServer = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  const handles: { name: string; handle: CompanionHandle }[] = [];
  try {
    for (const companion of options.companions ?? []) {
      const context = {
        nodeName: options.nodeName,
        address,
        port,
        logger: logger.child({ companion: companion.name }),
        signal: abort.signal,
      };
      handles.push({ name: companion.name, handle: await companion.start(context) });
    }
  } catch (error) {
    abort.abort();
    for (const { handle } of handles.reverse()) await handle.stop();
    await closeServer();
    throw error;
  }
  logger.log('info', 'kubelet stand-in listening', { address, port });
  return {
    address,
    port,
    async close() {
      abort.abort();
      for (const { name, handle } of [...handles].reverse()) {
        await handle.stop().catch((error: unknown) =>
          logger.log('warn', 'companion did not stop cleanly', {
            companion: name,
            error: describeError(error),
          }),
        );
      }
      await closeServer();
      logger.log('info', 'kubelet stand-in stopped');
    },
  };
}

/**
 * The Kubernetes half (registration, Lease heartbeats, pods) when the lab
 * has a control plane: the stand-in then is the node's kubelet as far as the
 * API server can tell.
 */
function kubeCompanion(
  nodeName: string,
  values: {
    'api-server'?: string | undefined;
    ca?: string | undefined;
    'client-cert'?: string | undefined;
    'client-key'?: string | undefined;
    'node-ip'?: string | undefined;
    role?: string | undefined;
    'gpu-control'?: string | undefined;
    'gpu-preset'?: string | undefined;
    'provider-id'?: string | undefined;
  },
): StandinCompanion[] {
  const server = values['api-server'];
  if (!server) return [];
  const { ca, role } = values;
  const certFile = values['client-cert'];
  const keyFile = values['client-key'];
  const ip = values['node-ip'];
  if (!ca || !certFile || !keyFile || !ip || (role !== 'mig' && role !== 'worker')) {
    throw new NodeWardenError(
      'BAD_INPUT',
      '--api-server needs --ca, --client-cert, --client-key, --node-ip and --role mig|worker',
      {
        hint: 'it is started by nodewarden lab up; see docs/lab.md',
      },
    );
  }
  const profile = nodeProfile(role);
  const octets = ip.split('.');
  return [
    {
      name: 'kubelet-node',
      start(context) {
        const api = kubeRest({ server, caFile: ca, certFile, keyFile, timeoutMs: 5_000 });
        const controlFile = values['gpu-control'];
        const workload =
          controlFile === undefined
            ? undefined
            : startGpuWorkload({
                controlFile,
                // The preset's first device: the seed's GPU 0 GI 7, where `lab gpu` ramps by default.
                device: pickDevice(values['gpu-preset'] ?? '', null, null),
                logger: context.logger,
              });
        const kubelet = startKubeletNode(
          api,
          {
            name: nodeName,
            ip,
            labels: profile.labels,
            capacity: profile.capacity,
            // A Nova server's (lab up --openstack), else the lab cloud's server id for this address.
            providerID: values['provider-id'] ?? `openstack:///${labServerId(ip)}`,
            podIpPrefix: `10.244.${octets[3] ?? '0'}`,
            ...(workload ? { workload } : {}),
          },
          context.logger,
        );
        return Promise.resolve({
          stop: () => {
            kubelet.stop();
            workload?.stop();
            return Promise.resolve();
          },
        });
      },
    },
  ];
}

/**
 * The process entry: reads certificate, key and token from files, starts,
 * then writes its pid file — the lab takes the pid file as "listening" — and
 * removes it again on SIGTERM/SIGINT.
 */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      node: { type: 'string' },
      host: { type: 'string', default: '0.0.0.0' },
      port: { type: 'string', default: String(KUBELET_PORT) },
      cert: { type: 'string' },
      key: { type: 'string' },
      'token-file': { type: 'string' },
      'pid-file': { type: 'string' },
      // Kubernetes registration (absent in a network-only lab):
      'api-server': { type: 'string' },
      ca: { type: 'string' },
      'client-cert': { type: 'string' },
      'client-key': { type: 'string' },
      'node-ip': { type: 'string' },
      role: { type: 'string' },
      // GPU nodes: the simulator's control file and preset (pods' load lands on its first device).
      'gpu-control': { type: 'string' },
      'gpu-preset': { type: 'string' },
      'provider-id': { type: 'string' },
    },
    strict: true,
  });
  const { node, cert, key } = values;
  const tokenFile = values['token-file'];
  const pidFile = values['pid-file'];
  if (!node || !cert || !key || !tokenFile || !pidFile) {
    throw new NodeWardenError(
      'BAD_INPUT',
      'kubelet-standin needs --node, --cert, --key, --token-file and --pid-file',
      {
        hint: 'it is started by nodewarden lab up; see docs/lab.md',
      },
    );
  }
  const logger = jsonLogger((line) => process.stdout.write(line));
  const standin = await start({
    nodeName: node,
    host: values.host,
    port: Number(values.port),
    tls: { cert: await readFile(cert), key: await readFile(key) },
    token: (await readFile(tokenFile, 'utf8')).trim(),
    logger,
    companions: kubeCompanion(node, values),
  });
  const temporary = `${pidFile}.tmp`;
  await writeFile(temporary, `${process.pid}\n`);
  await rename(temporary, pidFile);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.log('info', 'stopping', { signal });
    void standin
      .close()
      .then(async () => {
        const recorded = await readFile(pidFile, 'utf8').catch(() => '');
        if (recorded.trim() === String(process.pid)) await rm(pidFile, { force: true });
      })
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`kubelet-standin: ${describeError(error)}\n`);
    process.exit(1);
  });
}
