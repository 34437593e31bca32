import { createConnection } from 'node:net';
import type { LayerResult } from '../core/probe.ts';
import { sreCommands } from './sre-commands.ts';
import type { ValidTarget } from './target.ts';

/**
 * L4: a TCP connect to kubelet's port, like `nc -vz -w 3 <ip> 10250`.
 * ECONNREFUSED means the host answered (its kernel sent a RST) but nothing
 * listens: the host is up, kubelet is not. A timeout means nothing answered.
 */
export function probeTcp(target: ValidTarget, signal?: AbortSignal): Promise<LayerResult> {
  const command = sreCommands.nc(target.ip, target.port, target.timeoutMs);
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = createConnection({ host: target.ip, port: target.port });
    let settled = false;
    const finish = (result: Omit<LayerResult, 'layer' | 'command'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({ layer: 'L4', command, ...result });
    };
    const onAbort = (): void =>
      finish({ status: 'skipped', latencyMs: null, detail: 'aborted before connecting' });
    const timer = setTimeout(
      () =>
        finish({
          status: 'failed',
          latencyMs: null,
          detail: `timeout after ${target.timeoutMs} ms`,
        }),
      target.timeoutMs,
    );
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () =>
      finish({
        status: 'ok',
        latencyMs: performance.now() - started,
        detail: `connected to port ${target.port}`,
      }),
    );
    socket.once('error', (error: NodeJS.ErrnoException) =>
      finish({ status: 'failed', latencyMs: null, detail: error.code ?? error.message }),
    );
  });
}
