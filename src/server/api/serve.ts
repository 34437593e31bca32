/**
 * One HTTP server for the API and the dashboard, as the demo runs it (the
 * controller adds the same two routes to its ops server beside the agent
 * API): `/healthz`, `/readyz`, `/metrics`, `/api/v1/…`, and the dashboard
 * at `/`. A port that is taken is a clear error naming the port and the flag.
 */
import { Registry } from 'prom-client';
import { NodeWardenError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { dashboardRoute } from '../dashboard.ts';
import { startOpsServer } from '../ops-server.ts';
import type { ApiAuthenticator } from './auth.ts';
import type { ApiReadModel } from './read-model.ts';
import { createApi } from './router.ts';

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  /** The flag that sets the port, named in the error when it is taken. */
  readonly portFlag: string;
  readonly model: ApiReadModel;
  readonly auth: ApiAuthenticator;
  readonly log: Logger;
  /** Where the built dashboard is; default dist/web of this package. */
  readonly webRoot?: string;
  readonly ready: () => { ok: boolean; reason: string };
}

export interface Serving {
  readonly port: number;
  /** `http://host:port/`. */
  readonly url: string;
  close(): Promise<void>;
}

export async function serveApi(options: ServeOptions): Promise<Serving> {
  const api = createApi({ model: options.model, auth: options.auth, log: options.log });
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let ops;
  try {
    ops = await startOpsServer({
      listen: `${host}:${options.port}`,
      registry: new Registry(),
      healthy: () => ({ ok: true, reason: '' }),
      ready: options.ready,
      routes: [api.route, dashboardRoute(options.webRoot)],
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES')
      throw new NodeWardenError(
        code === 'EADDRINUSE' ? 'CONFLICT' : 'BAD_INPUT',
        code === 'EADDRINUSE'
          ? `port ${options.port} on ${options.host} is already in use`
          : `may not listen on port ${options.port} on ${options.host} (ports below 1024 need root)`,
        {
          hint: `pick another with ${options.portFlag}, e.g. ${options.portFlag} ${options.port === 8080 ? 8081 : 8080}`,
          cause: error,
        },
      );
    throw error;
  }
  return {
    port: ops.port,
    url: `http://${host}:${ops.port}/`,
    async close() {
      api.close();
      await ops.close();
    },
  };
}
