import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpRequestError, requestText } from './http-request.ts';

const servers: Server[] = [];

async function serve(handler: Parameters<typeof createServer>[1]): Promise<URL> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

async function failure(promise: Promise<unknown>): Promise<HttpRequestError> {
  const error: unknown = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpRequestError);
  return error as HttpRequestError;
}

describe('requestText', () => {
  it('sends method, headers and body, and returns any status with its body', async () => {
    let seen = { method: '', auth: '', length: '', body: '' };
    const url = await serve((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen = {
          method: req.method ?? '',
          auth: req.headers.authorization ?? '',
          length: req.headers['content-length'] ?? '',
          body,
        };
        res.writeHead(409).end('{"message":"já existe"}');
      });
    });
    const answer = await requestText(url, {
      method: 'POST',
      headers: { authorization: 'Bearer t' },
      body: '{"a":"ü"}',
      timeoutMs: 2_000,
      maxBytes: 1_000,
    });
    expect(answer).toEqual({ status: 409, body: '{"message":"já existe"}' });
    expect(seen).toEqual({ method: 'POST', auth: 'Bearer t', length: '10', body: '{"a":"ü"}' });
  });

  it('returns body null past maxBytes, declared or streamed', async () => {
    const declared = await serve((_req, res) => res.writeHead(200).end('x'.repeat(2_000)));
    expect(await requestText(declared, { timeoutMs: 2_000, maxBytes: 1_000 })).toEqual({
      status: 200,
      body: null,
    });
    const streamed = await serve((_req, res) => {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      res.write('y'.repeat(800));
      res.write('y'.repeat(800));
      // Never ends: only the size limit can finish the request.
    });
    expect(await requestText(streamed, { timeoutMs: 2_000, maxBytes: 1_000 })).toEqual({
      status: 200,
      body: null,
    });
  });

  it('fails with timeout when the answer does not come, within the deadline', async () => {
    const url = await serve(() => {
      // Accepts the request, never answers.
    });
    const started = Date.now();
    const error = await failure(requestText(url, { timeoutMs: 200, maxBytes: 1_000 }));
    expect(error.reason).toBe('timeout');
    expect(error.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('fails with the socket error code when nothing listens', async () => {
    const url = await serve((_req, res) => res.end());
    servers[0]?.close();
    await new Promise((r) => setTimeout(r, 50));
    const error = await failure(requestText(url, { timeoutMs: 2_000, maxBytes: 1_000 }));
    expect(error.reason).toBe('ECONNREFUSED');
    expect(error.message).toContain(url.origin);
  });

  it('fails with aborted when the caller aborts, before or during the request', async () => {
    const url = await serve(() => {
      // Never answers.
    });
    const before = new AbortController();
    before.abort();
    expect(
      (await failure(requestText(url, { timeoutMs: 2_000, maxBytes: 1, signal: before.signal })))
        .reason,
    ).toBe('aborted');
    const during = new AbortController();
    setTimeout(() => during.abort(), 50);
    expect(
      (await failure(requestText(url, { timeoutMs: 2_000, maxBytes: 1, signal: during.signal })))
        .reason,
    ).toBe('aborted');
  });

  it('fails when the connection closes in the middle of the body', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const error = await failure(requestText(url, { timeoutMs: 2_000, maxBytes: 1_000 }));
    expect(error.reason).not.toBe('timeout');
  });
});
