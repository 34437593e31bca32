/**
 * The L4 and L7 probes, and the whole Linux prober, against real servers on
 * 127.0.0.1: no mocks, real sockets, real TLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeWardenError } from '../../src/core/errors.ts';
import { probeHttps } from '../../src/probe/https-probe.ts';
import { LinuxProber } from '../../src/probe/linux-prober.ts';
import { probeTcp } from '../../src/probe/tcp-probe.ts';
import { validateTarget } from '../../src/probe/target.ts';
import {
  closedPort,
  httpsNoResponse,
  httpsServer,
  plainHttpServer,
  resettingTcpServer,
  selfSignedCert,
  silentTcpServer,
  type Running,
  type TlsMaterial,
} from './probe-servers.ts';

const loopback = (port: number, timeoutMs = 3000) =>
  validateTarget({ ip: '127.0.0.1', port, timeoutMs });

let tls: TlsMaterial;
const servers: Running[] = [];
async function serve(server: Promise<Running>): Promise<number> {
  const running = await server;
  servers.push(running);
  return running.port;
}

beforeAll(async () => {
  tls = await selfSignedCert();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('L4 TCP connect', () => {
  it('connects to a listening port and says how long it took', async () => {
    const port = await serve(silentTcpServer());
    const r = await probeTcp(loopback(port));
    expect(r).toMatchObject({
      layer: 'L4',
      status: 'ok',
      detail: `connected to port ${port}`,
      command: `nc -vz -w 3 127.0.0.1 ${port}`,
    });
    expect(r.latencyMs).toBeGreaterThan(0);
    expect(r.latencyMs).toBeLessThan(1000);
  });

  it('reports ECONNREFUSED on a closed port (host up, kubelet not)', async () => {
    const r = await probeTcp(loopback(await closedPort()));
    expect(r).toMatchObject({ status: 'failed', detail: 'ECONNREFUSED', latencyMs: null });
  });

  it('gives up at once when aborted', async () => {
    const port = await serve(silentTcpServer());
    const r = await probeTcp(loopback(port), AbortSignal.abort());
    expect(r).toMatchObject({ status: 'skipped', detail: 'aborted before connecting' });
  });
});

describe('L7 HTTPS GET /healthz', () => {
  it.each([401, 403, 200, 500])('HTTP %i proves kubelet alive', async (status) => {
    const port = await serve(httpsServer(tls, status));
    const r = await probeHttps(loopback(port));
    expect(r).toMatchObject({
      layer: 'L7',
      status: 'ok',
      detail: `HTTP ${status}`,
      command: `curl -sk https://127.0.0.1:${port}/healthz`,
    });
    expect(r.latencyMs).toBeGreaterThan(0);
  });

  it('a server that accepts TCP but never answers TLS: L4 ok, L7 TLS handshake timeout', async () => {
    const port = await serve(silentTcpServer());
    const target = loopback(port, 400);
    const started = performance.now();
    const [l4, l7] = await Promise.all([probeTcp(target), probeHttps(target)]);
    const took = performance.now() - started;
    expect(l4.status).toBe('ok');
    expect(l7).toMatchObject({ status: 'failed', detail: 'TLS handshake timeout after 400 ms' });
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(2000);
  });

  it('TLS done, no HTTP answer: HTTP response timeout', async () => {
    const port = await serve(httpsNoResponse(tls));
    const r = await probeHttps(loopback(port, 500));
    expect(r).toMatchObject({ status: 'failed', detail: 'HTTP response timeout after 500 ms' });
  });

  it('a closed port: ECONNREFUSED', async () => {
    const r = await probeHttps(loopback(await closedPort()));
    expect(r).toMatchObject({ status: 'failed', detail: 'ECONNREFUSED' });
  });

  it('a reset during the handshake is named as such', async () => {
    const port = await serve(resettingTcpServer());
    const r = await probeHttps(loopback(port));
    expect(r).toMatchObject({ status: 'failed', detail: 'ECONNRESET during TLS handshake' });
  });

  it('plain HTTP where TLS was expected: the TLS error and OpenSSL reason', async () => {
    const port = await serve(plainHttpServer());
    const r = await probeHttps(loopback(port));
    expect(r).toMatchObject({ status: 'failed', detail: 'EPROTO (TLS: wrong version number)' });
  });
});

describe('LinuxProber on 127.0.0.1', () => {
  const prober = new LinuxProber({ now: () => new Date('2025-08-25T04:02:00Z') });

  it('a kubelet-like server answering 401 is healthy; L2 is skipped for loopback', async () => {
    const port = await serve(httpsServer(tls, 401));
    const r = await prober.probe({ ip: '127.0.0.1', port, timeoutMs: 3000 });
    expect(r.target).toBe('127.0.0.1');
    expect(r.port).toBe(port);
    expect(r.startedAt).toBe('2025-08-25T04:02:00.000Z');
    expect(r.layers.map((l) => l.layer)).toEqual(['L2', 'L3', 'L4', 'L7']);
    expect(r.layers[0]).toMatchObject({
      status: 'skipped',
      command: 'ip route get 127.0.0.1',
      detail: "127.0.0.1 is this host's own address (dev lo): no link to test",
    });
    expect(r.layers[1]).toMatchObject({ status: 'ok', command: 'ping -c 1 -W 3 127.0.0.1' });
    expect(r.layers[1]?.detail).toMatch(/^reply in [\d.]+ ms$/);
    expect(r.layers[3]).toMatchObject({ status: 'ok', detail: 'HTTP 401' });
    expect(r.verdict).toEqual({
      healthy: true,
      failedLayer: null,
      summary: 'all tested layers answered',
    });
    expect(r.durationMs).toBeLessThan(3000);
  });

  it('a frozen kubelet: verdict L7, within about one timeout', async () => {
    const port = await serve(silentTcpServer());
    const r = await prober.probe({ ip: '127.0.0.1', port, timeoutMs: 300 });
    expect(r.verdict).toEqual({
      healthy: false,
      failedLayer: 'L7',
      summary: 'L7 failed: TLS handshake timeout after 300 ms',
    });
    expect(r.durationMs).toBeLessThan(1500);
  });

  it('a closed port: verdict L4 ECONNREFUSED', async () => {
    const r = await prober.probe({ ip: '127.0.0.1', port: await closedPort(), timeoutMs: 3000 });
    expect(r.verdict.failedLayer).toBe('L4');
    expect(r.layers[2]).toMatchObject({ status: 'failed', detail: 'ECONNREFUSED' });
  });

  it('works over IPv6 loopback', async () => {
    const r = await prober.probe({ ip: '::1', port: await closedPort(), timeoutMs: 1000 });
    expect(r.layers[1]).toMatchObject({ status: 'ok', command: 'ping -6 -c 1 -W 1 ::1' });
    expect(r.layers[3]?.command).toMatch(/^curl -sk https:\/\/\[::1\]:\d+\/healthz$/);
  });

  it('rejects with the abort reason, without waiting for the timeouts', async () => {
    const port = await serve(silentTcpServer());
    const controller = new AbortController();
    const started = performance.now();
    const pending = prober.probe({ ip: '127.0.0.1', port, timeoutMs: 10_000 }, controller.signal);
    setTimeout(() => controller.abort(new Error('operator pressed ^C')), 100);
    await expect(pending).rejects.toThrow('operator pressed ^C');
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses a bad target before running anything', async () => {
    await expect(
      prober.probe({ ip: '10.62.0.30 -c 9', port: 10250, timeoutMs: 3000 }),
    ).rejects.toThrow(NodeWardenError);
    await expect(prober.probe({ ip: '10.62.0.30', port: 0, timeoutMs: 3000 })).rejects.toThrow(
      'port 0 is not a TCP port (1-65535)',
    );
  });
});
