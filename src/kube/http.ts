import { request, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';
import { NodeWardenError } from '../core/errors.ts';

/**
 * Raw JSON requests and watch streams against the API server, authenticated
 * by a client-node KubeConfig (certificates, tokens, exec plugins). Used for
 * lists and watches so that the controller gets plain JSON, pages through
 * large lists, and puts a deadline on every call.
 */
export class KubeHttpError extends NodeWardenError {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(
      status === 404
        ? 'NOT_FOUND'
        : status === 409
          ? 'CONFLICT'
          : status === 403 || status === 401
            ? 'BAD_INPUT'
            : 'UNAVAILABLE',
      message,
      {
        hint:
          status === 403
            ? 'the identity in the kubeconfig lacks RBAC permission for this call; see deploy/helm RBAC'
            : status === 401
              ? 'the credentials in the kubeconfig were rejected; refresh them'
              : 'check that the API server is reachable',
      },
    );
    this.status = status;
    this.reason = reason;
  }
}

async function options(
  kc: KubeConfig,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ opts: RequestOptions; secure: boolean }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new NodeWardenError('BAD_INPUT', 'kubeconfig has no current cluster', {
      hint: 'set current-context',
    });
  const url = new URL(cluster.server);
  const opts: RequestOptions = {
    host: url.hostname,
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    method,
    path: (url.pathname.replace(/\/$/, '') || '') + path,
    headers: { accept: 'application/json', ...headers },
  };
  await kc.applyToHTTPSOptions(opts);
  return { opts, secure: url.protocol === 'https:' };
}

function statusError(status: number, body: string, what: string): KubeHttpError {
  let reason = '';
  let message = body.slice(0, 300);
  try {
    const parsed = JSON.parse(body) as { reason?: string; message?: string };
    reason = parsed.reason ?? '';
    message = parsed.message ?? message;
  } catch {
    // Not a Status object: keep the raw text.
  }
  return new KubeHttpError(
    status,
    reason,
    `${what}: HTTP ${status}${reason ? ` ${reason}` : ''}: ${message}`,
  );
}

/** One request with a deadline; resolves the parsed JSON body on 2xx. */
export async function kubeRequest<T>(
  kc: KubeConfig,
  method: string,
  path: string,
  timeoutMs: number,
  body?: unknown,
  contentType = 'application/json',
): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const { opts, secure } = await options(
    kc,
    method,
    path,
    payload === undefined
      ? {}
      : { 'content-type': contentType, 'content-length': String(Buffer.byteLength(payload)) },
  );
  return new Promise<T>((resolve, reject) => {
    const req = (secure ? request : httpRequest)(opts, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          // Health endpoints (/readyz, /livez) answer plain text: hand it back as a string.
          if (!String(res.headers['content-type'] ?? '').includes('json')) {
            resolve(text as T);
            return;
          }
          try {
            resolve((text ? JSON.parse(text) : {}) as T);
          } catch (error) {
            reject(
              new NodeWardenError('UNAVAILABLE', `${method} ${path}: response is not JSON`, {
                cause: error,
              }),
            );
          }
        } else reject(statusError(status, text, `${method} ${path}`));
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(
        new NodeWardenError(
          'TIMEOUT',
          `${method} ${path}: no answer from the API server after ${timeoutMs} ms`,
          { hint: 'check that the API server is reachable from here' },
        ),
      ),
    );
    req.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        error instanceof NodeWardenError
          ? error
          : new NodeWardenError(
              'UNAVAILABLE',
              `${method} ${path}: ${error.code ?? error.message}`,
              { hint: 'check that the API server is reachable from here', cause: error },
            ),
      ),
    );
    req.end(payload);
  });
}

export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: Record<string, unknown>;
}

export interface WatchHandle {
  /** Resolves when the stream ends: null on a clean close, the error otherwise. */
  readonly done: Promise<Error | null>;
  /** True when the stream ended because it was silent for `idleTimeoutMs`, not because of the server. */
  silent(): boolean;
  abort(): void;
}

/**
 * Opens a watch stream. `idleTimeoutMs` ends a stream that has been silent
 * that long (bookmarks keep a healthy one talking), so a half-open TCP
 * connection to a dead API server cannot hang the informer forever.
 */
export async function kubeWatch(
  kc: KubeConfig,
  path: string,
  onEvent: (event: WatchEvent) => void,
  idleTimeoutMs: number,
): Promise<WatchHandle> {
  const { opts, secure } = await options(kc, 'GET', path);
  let finish: (error: Error | null) => void = () => undefined;
  const done = new Promise<Error | null>((resolve) => (finish = resolve));
  let settled = false;
  let silent = false;
  const end = (error: Error | null): void => {
    if (settled) return;
    settled = true;
    req.destroy();
    finish(error);
  };
  const req = (secure ? request : httpRequest)(opts, (res) => {
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => end(statusError(status, text, `watch ${path}`)));
      return;
    }
    const lines = createInterface({ input: res });
    // readline re-emits the response's errors (ECONNRESET when the stream is aborted or
    // the API server drops it); unhandled, that would crash the process.
    lines.on('error', (e: Error) => end(e));
    lines.on('line', (line) => {
      if (!line.trim()) return;
      try {
        onEvent(JSON.parse(line) as WatchEvent);
      } catch (error) {
        end(
          new NodeWardenError('UNAVAILABLE', `watch ${path}: undecodable event`, { cause: error }),
        );
      }
    });
    res.on('end', () => end(null));
    res.on('error', (e) => end(e));
  });
  req.setTimeout(idleTimeoutMs, () => {
    silent = !settled;
    end(new NodeWardenError('TIMEOUT', `watch ${path}: silent for ${idleTimeoutMs} ms`));
  });
  req.on('error', (e) => end(e));
  req.end();
  return { done, silent: () => silent, abort: () => end(null) };
}
