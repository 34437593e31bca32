import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.ts';
import { start, type KubeletStandin, type StandinCompanion } from './kubelet-standin.ts';
import { openLabPki } from './pki.ts';

const token = 'lab-token-0123456789abcdef';
let dir = '';
let ca: Buffer;
let tls: { cert: Buffer; key: Buffer };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nw-standin-test-'));
  const pki = await openLabPki(dir);
  const pair = await pki.issue({
    name: 'serving',
    commonName: 'standin-test',
    ips: ['127.0.0.1'],
    usage: 'server',
  });
  ca = await readFile(pki.ca.cert);
  tls = { cert: await readFile(pair.cert), key: await readFile(pair.key) };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function get(
  port: number,
  path: string,
  bearer?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        ca,
        timeout: 5_000,
        headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('kubelet stand-in', () => {
  let standin: KubeletStandin;
  beforeAll(async () => {
    standin = await start({
      nodeName: 'standin-test',
      host: '127.0.0.1',
      port: 0,
      tls,
      token,
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    await standin.close();
  });

  it('answers /healthz like a kubelet with anonymous auth off', async () => {
    expect(await get(standin.port, '/healthz')).toEqual({ status: 401, body: 'Unauthorized' });
    expect((await get(standin.port, '/healthz', 'wrong-token-0123456789')).status).toBe(401);
    expect(await get(standin.port, '/healthz', token)).toEqual({ status: 200, body: 'ok' });
    expect(await get(standin.port, '/healthz?verbose', token)).toEqual({ status: 200, body: 'ok' });
  });

  it('authenticates before routing: unknown paths are 401, then 404', async () => {
    expect((await get(standin.port, '/pods')).status).toBe(401);
    expect((await get(standin.port, '/pods', token)).status).toBe(404);
  });
});

describe('companions (the seam for registration and Lease heartbeats)', () => {
  it('start after the server listens and stop, in reverse order, before it closes', async () => {
    const events: string[] = [];
    const companion = (name: string): StandinCompanion => ({
      name,
      start: async (context) => {
        events.push(
          `${name} start ${context.nodeName} ${context.port > 0 ? 'listening' : 'no port'}`,
        );
        const answer = await get(context.port, '/healthz', token);
        events.push(`${name} saw ${answer.status}`);
        return {
          stop: () => {
            events.push(`${name} stop aborted=${context.signal.aborted}`);
            return Promise.resolve();
          },
        };
      },
    });
    const standin = await start({
      nodeName: 'n1',
      host: '127.0.0.1',
      port: 0,
      tls,
      token,
      logger: silentLogger,
      companions: [companion('lease'), companion('pods')],
    });
    await standin.close();
    expect(events).toEqual([
      'lease start n1 listening',
      'lease saw 200',
      'pods start n1 listening',
      'pods saw 200',
      'pods stop aborted=true',
      'lease stop aborted=true',
    ]);
    expect(await refused(standin.port)).toBe(true);
  });

  it('a companion that fails to start stops the others and closes the port', async () => {
    let stopped = false;
    let port = 0;
    const error = await start({
      nodeName: 'n2',
      host: '127.0.0.1',
      port: 0,
      tls,
      token,
      logger: silentLogger,
      companions: [
        {
          name: 'ok',
          start: (context) => {
            port = context.port;
            return Promise.resolve({ stop: () => Promise.resolve(void (stopped = true)) });
          },
        },
        { name: 'broken', start: () => Promise.reject(new Error('API server unreachable')) },
      ],
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('API server unreachable');
    expect(stopped).toBe(true);
    expect(await refused(port)).toBe(true);
  });

  it('refuses a short token', async () => {
    await expect(
      start({ nodeName: 'n3', port: 0, tls, token: 'short', logger: silentLogger }),
    ).rejects.toMatchObject({
      code: 'BAD_INPUT',
    });
  });
});
