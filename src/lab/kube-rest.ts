import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { NodeWardenError } from '../core/errors.ts';

/**
 * A very small Kubernetes REST client for lab processes (kubelet stand-ins):
 * client-certificate auth, JSON in and out, and a hard timeout on every
 * request, because a stand-in whose link is cut must not hang for the
 * kernel's two-minute connect timeout. The product's own Kubernetes adapter
 * is src/kube (client-node); this is only the lab's kubelet.
 */
export interface KubeRestConfig {
  readonly server: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly timeoutMs: number;
}

export interface KubeRest {
  call<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T>;
}

export class KubeRestError extends NodeWardenError {
  readonly status: number;
  constructor(status: number, method: string, path: string, body: string) {
    const message = (() => {
      try {
        return (JSON.parse(body) as { message?: string }).message ?? body;
      } catch {
        return body.slice(0, 300);
      }
    })();
    super(
      status === 404 ? 'NOT_FOUND' : status === 409 ? 'CONFLICT' : 'COMMAND_FAILED',
      `${method} ${path}: HTTP ${status}: ${message}`,
    );
    this.status = status;
  }
}

export function kubeRest(config: KubeRestConfig): KubeRest {
  const url = new URL(config.server);
  const agent = new Agent({
    ca: readFileSync(config.caFile),
    cert: readFileSync(config.certFile),
    key: readFileSync(config.keyFile),
    keepAlive: true,
    maxSockets: 4,
  });
  return {
    call<T>(
      method: string,
      path: string,
      body?: unknown,
      contentType = 'application/json',
    ): Promise<T> {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      return new Promise<T>((resolve, reject) => {
        const req = request(
          {
            host: url.hostname,
            port: url.port || 443,
            method,
            path,
            agent,
            headers: {
              accept: 'application/json',
              ...(payload
                ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }
                : {}),
            },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (c: string) => (text += c));
            res.on('end', () => {
              const status = res.statusCode ?? 0;
              if (status >= 200 && status < 300) resolve((text ? JSON.parse(text) : {}) as T);
              else reject(new KubeRestError(status, method, path, text));
            });
          },
        );
        req.setTimeout(config.timeoutMs, () =>
          req.destroy(
            new NodeWardenError(
              'TIMEOUT',
              `${method} ${path}: timeout after ${config.timeoutMs} ms`,
            ),
          ),
        );
        req.on('error', reject);
        req.end(payload);
      });
    },
  };
}
