import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { NodeWardenError } from '../core/errors.ts';

/**
 * One small HTTP(S) request over `node:http`, for the agent's long-running
 * loops (controller pushes, DCGM scrapes). Not `fetch`: Node's fetch is
 * undici, whose HTTP parser is WebAssembly compiled in the process on first
 * use — about 30 MB more peak RSS for an agent whose whole budget is 80 MB
 * (docs/agent.md, "Measured"). One deadline covers connect, headers and
 * body; the body is read up to `maxBytes`; redirects are not followed.
 */
export interface HttpRequestOptions {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as is; set content-type in `headers`. */
  readonly body?: string;
  /** Whole request: connect, headers, body. */
  readonly timeoutMs: number;
  /** A larger body ends the request; the answer has `body: null`. */
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
}

export interface HttpAnswer {
  readonly status: number;
  /** null: the body was larger than `maxBytes` (the connection was closed). */
  readonly body: string | null;
}

/** Why no answer came: `timeout` (the deadline), `aborted` (the caller's signal), or the socket error's code. */
export class HttpRequestError extends NodeWardenError {
  constructor(
    readonly reason: string,
    url: URL,
    cause?: unknown,
  ) {
    super(
      reason === 'timeout' ? 'TIMEOUT' : 'UNAVAILABLE',
      `${url.origin}: ${reason === 'timeout' ? 'no answer in time' : reason}`,
      { cause },
    );
  }
}

/** Sends one request; resolves with any HTTP status, rejects with `HttpRequestError` when no answer came. */
export function requestText(url: URL, options: HttpRequestOptions): Promise<HttpAnswer> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<HttpAnswer>((resolve, reject) => {
    let done = false;
    const finish = (error: HttpRequestError | null, answer?: HttpAnswer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (error) {
        req.destroy();
        reject(error);
      } else if (answer) resolve(answer);
    };
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined)
      headers['content-length'] = String(Buffer.byteLength(options.body));
    const req = send(url, {
      method: options.method ?? 'GET',
      headers,
      // No keep-alive pool: a pooled socket to a dead peer would hide it, and
      // one request a second needs none.
      agent: false,
    });
    // The error listener goes on before anything can destroy `req`: an
    // 'error' event without one would end the process.
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish(new HttpRequestError(error.code ?? error.message, url, error)),
    );
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        finish(null, { status, body: null });
        req.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > options.maxBytes) {
          finish(null, { status, body: null });
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => finish(null, { status, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error: NodeJS.ErrnoException) =>
        finish(new HttpRequestError(error.code ?? error.message, url, error)),
      );
      // Closed before the end of the body (no-op once it ended).
      res.on('close', () => finish(new HttpRequestError('connection closed mid-answer', url)));
    });
    const onAbort = (): void => finish(new HttpRequestError('aborted', url));
    const timer = setTimeout(() => finish(new HttpRequestError('timeout', url)), options.timeoutMs);
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    req.end(options.body);
  });
}
