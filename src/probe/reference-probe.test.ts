import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeReference } from './reference-probe.ts';

// Loopback only: a listening port and a port nothing listens on.
let server: Server;
let open = 0;
let closed = 0;

beforeAll(async () => {
  server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open = (server.address() as { port: number }).port;
  const spare = createServer();
  await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
  closed = (spare.address() as { port: number }).port;
  await new Promise((resolve) => spare.close(resolve));
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('probeReference', () => {
  it('pings the address and, with a port, connects to it: two layers, L4 as nc says it', async () => {
    const signal = new AbortController().signal;
    const up = await probeReference({ ip: '127.0.0.1', port: open }, 1_000, signal);
    expect(up.layers.map((l) => l.layer)).toEqual(['L3', 'L4']);
    expect(up.port).toBe(open);
    expect(up.layers[1]).toMatchObject({ status: 'ok' });
    const refused = await probeReference({ ip: '127.0.0.1', port: closed }, 1_000, signal);
    expect(refused.layers[1]?.status).toBe('failed');
    expect(refused.layers[1]?.detail).toMatch(/refused/i);
    expect(refused.verdict.healthy).toBe(false);
  });

  it('without a port: L3 only, port 0', async () => {
    const r = await probeReference({ ip: '127.0.0.1' }, 1_000, new AbortController().signal);
    expect(r.layers.map((l) => l.layer)).toEqual(['L3']);
    expect(r.port).toBe(0);
  });

  it('refuses a name or a bad port before any command runs', async () => {
    const signal = new AbortController().signal;
    await expect(probeReference({ ip: 'gw.example' }, 1_000, signal)).rejects.toMatchObject({
      code: 'BAD_INPUT',
    });
    await expect(
      probeReference({ ip: '127.0.0.1', port: 70_000 }, 1_000, signal),
    ).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
