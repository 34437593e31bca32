import { request } from 'node:https';
import type { LayerResult } from '../core/probe.ts';
import { sreCommands } from './sre-commands.ts';
import type { ValidTarget } from './target.ts';

/** How far the request got; a timeout is named after the step it was stuck in. */
export type Phase = 'connecting' | 'tls' | 'http';

const TIMEOUT_WORDS: Record<Phase, string> = {
  connecting: 'connect timeout',
  tls: 'TLS handshake timeout',
  http: 'HTTP response timeout',
};

/**
 * L7: HTTPS GET /healthz on kubelet, like `curl -sk https://<ip>:10250/healthz`.
 * Any HTTP status proves kubelet alive — 401/403 only mean we sent no
 * credentials. One timeout covers connect, TLS handshake and response headers.
 * A frozen kubelet (SIGSTOP) typically passes L4 (the kernel completes the
 * TCP handshake from its backlog) and times out here in the TLS handshake.
 */
export function probeHttps(target: ValidTarget, signal?: AbortSignal): Promise<LayerResult> {
  const command = sreCommands.curl(target.ip, target.port);
  const started = performance.now();
  return new Promise((resolve) => {
    let phase: Phase = 'connecting';
    let settled = false;
    const req = request({
      host: target.ip,
      port: target.port,
      path: '/healthz',
      method: 'GET',
      // Kubelet serving certificates are self-signed by default (or signed by a
      // cluster CA we do not hold); liveness is the question here, not identity.
      rejectUnauthorized: false,
      // A fresh connection every time: a pooled socket would hide a dead host.
      agent: false,
      headers: { 'user-agent': 'nodewarden-probe' },
    });
    const finish = (result: Omit<LayerResult, 'layer' | 'command'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve({ layer: 'L7', command, ...result });
    };
    const onAbort = (): void =>
      finish({ status: 'skipped', latencyMs: null, detail: `aborted during ${phase}` });
    const timer = setTimeout(
      () =>
        finish({
          status: 'failed',
          latencyMs: null,
          detail: `${TIMEOUT_WORDS[phase]} after ${target.timeoutMs} ms`,
        }),
      target.timeoutMs,
    );
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    req.once('socket', (socket) => {
      socket.once('connect', () => {
        if (phase === 'connecting') phase = 'tls';
      });
      socket.once('secureConnect', () => {
        phase = 'http';
      });
    });
    req.once('response', (res) => {
      res.resume();
      finish({
        status: 'ok',
        latencyMs: performance.now() - started,
        detail: `HTTP ${res.statusCode ?? '?'}`,
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({ status: 'failed', latencyMs: null, detail: errorWords(error, phase) }),
    );
    req.end();
  });
}

/**
 * The error as an SRE would search for it: the errno or TLS code, plus
 * OpenSSL's reason when the code alone (EPROTO) says little, and the step
 * when a reset came during the handshake.
 */
export function errorWords(error: NodeJS.ErrnoException, phase: Phase): string {
  const code = error.code ?? error.message;
  const reason = /SSL routines:[^:]*:([^:]+):/.exec(error.message)?.[1];
  if (reason !== undefined) return `${code} (TLS: ${reason})`;
  if (phase === 'tls' && code === 'ECONNRESET') return 'ECONNRESET during TLS handshake';
  return code;
}
