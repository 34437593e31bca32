/**
 * Real servers on 127.0.0.1 for the probe tests: a kubelet-like HTTPS server
 * with a self-signed certificate made by openssl, a TCP server that accepts
 * and never speaks (a frozen kubelet), one that resets, and a closed port.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked } from '../../src/host/command.ts';

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
}

/** A throw-away self-signed certificate for 127.0.0.1, like a kubelet's default serving cert. */
export async function selfSignedCert(): Promise<TlsMaterial> {
  const dir = await mkdtemp(join(tmpdir(), 'nwfx-probe-tls-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    await runChecked(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { timeoutMs: 20_000 },
    );
    return { key: await readFile(keyPath, 'utf8'), cert: await readFile(certPath, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface Running {
  readonly port: number;
  close(): Promise<void>;
}

async function start(server: Server): Promise<Running> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** HTTPS that answers every request with `status`, as kubelet answers 401 without credentials. */
export function httpsServer(tls: TlsMaterial, status: number): Promise<Running> {
  return start(
    createHttpsServer(tls, (_req, res) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 401 ? 'Unauthorized' : 'ok');
    }),
  );
}

/** Completes TLS, then never answers the request. */
export function httpsNoResponse(tls: TlsMaterial): Promise<Running> {
  return start(createHttpsServer(tls, () => undefined));
}

/** Plain HTTP where HTTPS is expected. */
export function plainHttpServer(): Promise<Running> {
  return start(createHttpServer((_req, res) => res.end('ok')));
}

/** Accepts TCP and never says a word: a frozen (SIGSTOPped) kubelet looks like this. */
export function silentTcpServer(): Promise<Running> {
  return start(createTcpServer());
}

/** Accepts TCP, reads the first bytes (the TLS ClientHello) and answers with a reset. */
export function resettingTcpServer(): Promise<Running> {
  return start(
    createTcpServer((socket) => {
      socket.once('data', () => socket.resetAndDestroy());
    }),
  );
}

/** A port that was just free: bound, then closed, so connects get ECONNREFUSED. */
export async function closedPort(): Promise<number> {
  const server = await silentTcpServer();
  await server.close();
  return server.port;
}
