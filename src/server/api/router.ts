/**
 * The HTTP API under `/api/v1/` (docs/api.md), as one `Route` for
 * startOpsServer. Every route is a row of `API_ROUTES` — method, path
 * template, the role it needs, the query parameters it takes — and the
 * OpenAPI document lists exactly these rows (openapi.test.ts checks it).
 *
 * Order of checks: the path (404), the method (405 with Allow), the
 * caller (401 without a valid token, 403 when its role is too low), the
 * query (400 naming the parameter: unknown ones are refused too, so a typo
 * is never silently ignored), then the handler. Handlers throw; one place
 * turns any error into `{error, message, hint, param?}` with the status
 * from `httpStatusFor`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { LAYERS, type Layer } from '../../core/probe.ts';
import {
  BadRequestError,
  ForbiddenError,
  httpStatusFor,
  MethodNotAllowedError,
  NotFoundError,
  toApiError,
  TooLargeError,
  UnsupportedMediaTypeError,
} from '../http-errors.ts';
import type { Route } from '../ops-server.ts';
import { requestToken, type ApiAuthenticator, type ApiPrincipal } from './auth.ts';
import type { NumberedEvent } from './events.ts';
import { OPENAPI_DOCUMENT } from './openapi.ts';
import type { ApiReadModel, Decision, ReportFormat, ReportLang } from './read-model.ts';
import type { ApiEvent, Role, StatusView } from './types.ts';
import type { StabilityReportFormat } from '../../stability/stored.ts';

export const API_PREFIX = '/api/v1';

const STABILITY_REPORT_TYPES: Record<StabilityReportFormat, string> = {
  json: 'application/json; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  svg: 'image/svg+xml; charset=utf-8',
};

type Method = 'GET' | 'POST';

interface Context {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  readonly principal: ApiPrincipal;
}

export interface ApiRouteSpec {
  readonly method: Method;
  /** Template with `{name}` segments, as in the OpenAPI document. */
  readonly path: string;
  /** null: no token needed. */
  readonly role: Role | null;
  /** Query parameters the route accepts; any other is a 400. */
  readonly query: readonly string[];
}

interface ApiRoute extends ApiRouteSpec {
  handle(ctx: Context): Promise<void>;
}

export interface ApiOptions {
  readonly model: ApiReadModel;
  readonly auth: ApiAuthenticator;
  readonly log: Logger;
  /** Wall-clock ms between `tick` events on open event streams. Default 2000. */
  readonly tickMs?: number;
  /** Largest request body accepted (approve/reject take none). Default 4 KiB. */
  readonly maxBodyBytes?: number;
}

export interface ApiServer {
  readonly route: Route;
  /** The route table (what the OpenAPI document must list). */
  readonly routes: readonly ApiRouteSpec[];
  /** Open event streams. */
  readonly streams: () => number;
  /** Ends every event stream (call before closing the server). */
  close(): void;
}

const json = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void => {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(JSON.stringify(body) + '\n');
};

function oneOf<T extends string>(
  url: URL,
  name: string,
  allowed: readonly T[],
  fallback: T | null,
): T | null {
  const value = url.searchParams.get(name);
  if (value === null) return fallback;
  if (!(allowed as readonly string[]).includes(value))
    throw new BadRequestError(
      `query parameter ${name}=${JSON.stringify(value)} is not one of ${allowed.join(', ')}`,
      `pass ${name}=${allowed[0] ?? ''}`,
      `query.${name}`,
    );
  return value as T;
}

function limitParam(url: URL): number | undefined {
  const value = url.searchParams.get('limit');
  if (value === null) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1000)
    throw new BadRequestError(
      `query parameter limit=${JSON.stringify(value)} is not a whole number from 1 to 1000`,
      'pass e.g. limit=50',
      'query.limit',
    );
  return n;
}

function beforeParam(url: URL): string | undefined {
  const value = url.searchParams.get('before');
  if (value === null) return undefined;
  const t = Date.parse(value);
  if (!/^\d{4}-\d\d-\d\dT/.test(value) || !Number.isFinite(t))
    throw new BadRequestError(
      `query parameter before=${JSON.stringify(value)} is not an ISO-8601 time`,
      'pass the openedAt of the last incident of the previous page, e.g. before=2025-08-25T03:58:09.000Z',
      'query.before',
    );
  return new Date(t).toISOString();
}

function nodeParam(url: URL): string | undefined {
  const value = url.searchParams.get('node');
  if (value === null) return undefined;
  if (value === '' || value.length > 253)
    throw new BadRequestError(
      `query parameter node is ${value === '' ? 'empty' : 'longer than 253 characters'}`,
      'pass a node name as kubectl get nodes prints it',
      'query.node',
    );
  return value;
}

/** Approve and reject take no body; an empty JSON object is accepted (clients that always send one). */
async function emptyBody(req: IncomingMessage, max: number): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > max)
      throw new TooLargeError(`request body is larger than ${max} bytes`, 'send no body');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return;
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type))
    throw new UnsupportedMediaTypeError(
      `content-type "${type}" is not application/json`,
      'send no body (or {} as application/json)',
    );
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`body is not JSON: ${describeError(error)}`, 'send no body', 'body');
  }
  if (
    typeof body !== 'object' ||
    body === null ||
    Array.isArray(body) ||
    Object.keys(body).length > 0
  )
    throw new BadRequestError(
      `body ${text.length > 60 ? `${text.slice(0, 60)}…` : text} is not empty: approve and reject take no fields`,
      'send no body: the approver is the caller of the token',
      `body.${typeof body === 'object' && body !== null ? (Object.keys(body)[0] ?? '') : ''}`,
    );
}

/** Matches a concrete path against a template; the decoded parameters, or null. */
export function matchTemplate(template: string, path: string): Record<string, string> | null {
  const want = template.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] ?? '';
    const g = got[i] ?? '';
    if (w.startsWith('{') && w.endsWith('}')) {
      if (g === '') return null;
      let value: string;
      try {
        value = decodeURIComponent(g);
      } catch {
        throw new BadRequestError(
          `path segment "${g}" is not valid URL encoding`,
          'encode ids with encodeURIComponent',
          `path.${w.slice(1, -1)}`,
        );
      }
      params[w.slice(1, -1)] = value;
    } else if (w !== g) return null;
  }
  return params;
}

function sseWrite(res: ServerResponse, e: NumberedEvent): void {
  res.write(`id: ${e.id}\nevent: ${e.event.type}\ndata: ${JSON.stringify(e.event)}\n\n`);
}

/**
 * The route table: method, path template, the role it needs, the query
 * parameters it accepts. The OpenAPI document must list exactly these
 * (openapi.test.ts), and createApi must give each a handler (the compiler checks).
 */
export const API_ROUTE_SPECS = [
  { method: 'GET', path: `${API_PREFIX}/status`, role: 'read', query: [] },
  { method: 'GET', path: `${API_PREFIX}/me`, role: 'read', query: [] },
  { method: 'GET', path: `${API_PREFIX}/nodes`, role: 'read', query: [] },
  { method: 'GET', path: `${API_PREFIX}/mesh`, role: 'read', query: ['layer'] },
  {
    method: 'GET',
    path: `${API_PREFIX}/incidents`,
    role: 'read',
    query: ['status', 'node', 'limit', 'before'],
  },
  { method: 'GET', path: `${API_PREFIX}/incidents/{id}`, role: 'read', query: [] },
  {
    method: 'GET',
    path: `${API_PREFIX}/incidents/{id}/report`,
    role: 'read',
    query: ['format', 'lang', 'download'],
  },
  { method: 'GET', path: `${API_PREFIX}/remediations`, role: 'read', query: [] },
  {
    method: 'POST',
    path: `${API_PREFIX}/remediations/{id}/steps/{step}/approve`,
    role: 'admin',
    query: [],
  },
  {
    method: 'POST',
    path: `${API_PREFIX}/remediations/{id}/steps/{step}/reject`,
    role: 'admin',
    query: [],
  },
  {
    method: 'GET',
    path: `${API_PREFIX}/stability-tests`,
    role: 'read',
    query: ['node', 'limit'],
  },
  {
    method: 'GET',
    path: `${API_PREFIX}/stability-tests/{id}/report`,
    role: 'read',
    query: ['format'],
  },
  { method: 'GET', path: `${API_PREFIX}/events`, role: 'read', query: ['access_token'] },
  { method: 'GET', path: `${API_PREFIX}/openapi.json`, role: null, query: [] },
] as const satisfies readonly ApiRouteSpec[];

type RouteKey<T> = T extends {
  readonly method: infer M extends string;
  readonly path: infer P extends string;
}
  ? `${M} ${P}`
  : never;
type Handler = (ctx: Context) => Promise<void>;

export function createApi(options: ApiOptions): ApiServer {
  const { model, auth, log } = options;
  const maxBody = options.maxBodyBytes ?? 4 * 1024;
  const streams = new Set<ServerResponse>();
  let ticker: ReturnType<typeof setInterval> | null = null;

  const status = async (): Promise<StatusView> => ({ ...(await model.status()), auth: auth.mode });

  const tick = (): void => {
    if (streams.size === 0) return;
    status().then(
      (s) => {
        const event: ApiEvent = { type: 'tick', status: s };
        // Ticks carry no id: they are not replayed.
        const text = `event: tick\ndata: ${JSON.stringify(event)}\n\n`;
        for (const res of streams) res.write(text);
      },
      (error: unknown) => log.log('warn', 'API tick failed', { error: describeError(error) }),
    );
  };

  const decide = (decision: Decision) => async (ctx: Context) => {
    await emptyBody(ctx.req, maxBody);
    // The ladder records the approver as user:<approver>.
    const result = await model.decide(
      ctx.params['id'] ?? '',
      ctx.params['step'] ?? '',
      decision,
      ctx.principal.subject,
    );
    json(ctx.res, 200, result);
  };

  const handlers: Record<RouteKey<(typeof API_ROUTE_SPECS)[number]>, Handler> = {
    [`GET ${API_PREFIX}/status`]: async ({ res }) => json(res, 200, await status()),
    [`GET ${API_PREFIX}/me`]: ({ res, principal }) => {
      json(res, 200, { subject: principal.subject, role: principal.role, auth: auth.mode });
      return Promise.resolve();
    },
    [`GET ${API_PREFIX}/nodes`]: async ({ res }) => json(res, 200, await model.nodes()),
    [`GET ${API_PREFIX}/mesh`]: ({ res, url }) => {
      json(res, 200, model.mesh(oneOf<Layer>(url, 'layer', LAYERS, null)));
      return Promise.resolve();
    },
    [`GET ${API_PREFIX}/incidents`]: async ({ res, url }) => {
      const st = oneOf(url, 'status', ['open', 'resolved'] as const, null);
      const node = nodeParam(url);
      const limit = limitParam(url);
      const before = beforeParam(url);
      json(
        res,
        200,
        await model.incidents({
          ...(st === null ? {} : { status: st }),
          ...(node === undefined ? {} : { node }),
          ...(limit === undefined ? {} : { limit }),
          ...(before === undefined ? {} : { before }),
        }),
      );
    },
    [`GET ${API_PREFIX}/incidents/{id}`]: async ({ res, params }) =>
      json(res, 200, await model.incident(params['id'] ?? '')),
    [`GET ${API_PREFIX}/incidents/{id}/report`]: async ({ res, url, params }) => {
      const format = oneOf<ReportFormat>(url, 'format', ['md', 'json'], 'md') ?? 'md';
      const lang = oneOf<ReportLang>(url, 'lang', ['en', 'ko'], 'en') ?? 'en';
      if (format === 'json' && url.searchParams.has('lang'))
        throw new BadRequestError(
          "query parameter lang applies to format=md only (the JSON report carries both languages' data)",
          'drop lang, or ask for format=md',
          'query.lang',
        );
      const download = oneOf(url, 'download', ['0', '1'] as const, '0') === '1';
      const id = params['id'] ?? '';
      const body = await model.report(id, format, lang);
      const file = format === 'json' ? `${id}.json` : `${id}.${lang}.md`;
      res.writeHead(200, {
        'content-type':
          format === 'json' ? 'application/json; charset=utf-8' : 'text/markdown; charset=utf-8',
        'cache-control': 'no-store',
        'content-disposition': `${download ? 'attachment' : 'inline'}; filename="${file.replace(/[^\w.-]/g, '_')}"`,
      });
      res.end(body);
    },
    [`GET ${API_PREFIX}/stability-tests`]: async ({ res, url }) => {
      const node = nodeParam(url);
      const limit = limitParam(url);
      json(
        res,
        200,
        await model.stabilityTests({
          ...(node === undefined ? {} : { node }),
          ...(limit === undefined ? {} : { limit }),
        }),
      );
    },
    [`GET ${API_PREFIX}/stability-tests/{id}/report`]: async ({ res, url, params }) => {
      const format =
        oneOf<StabilityReportFormat>(url, 'format', ['json', 'md', 'svg'], 'json') ?? 'json';
      const body = await model.stabilityTestReport(params['id'] ?? '', format);
      res.writeHead(200, {
        'content-type': STABILITY_REPORT_TYPES[format],
        'cache-control': 'no-store',
        // The SVG is our own rendering, but an image opened directly must not run script.
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      });
      res.end(body);
    },
    [`GET ${API_PREFIX}/remediations`]: ({ res }) => {
      json(res, 200, model.remediations());
      return Promise.resolve();
    },
    [`POST ${API_PREFIX}/remediations/{id}/steps/{step}/approve`]: decide('approve'),
    [`POST ${API_PREFIX}/remediations/{id}/steps/{step}/reject`]: decide('reject'),
    [`GET ${API_PREFIX}/events`]: async ({ req, res }) => {
      const last = Number(req.headers['last-event-id'] ?? Number.NaN);
      const hello = await status();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');
      res.write(`event: hello\ndata: ${JSON.stringify({ type: 'hello', status: hello })}\n\n`);
      streams.add(res);
      const unsubscribe = model.subscribe(
        (e) => sseWrite(res, e),
        Number.isSafeInteger(last) && last >= 0 ? last : undefined,
      );
      ticker ??= setInterval(tick, options.tickMs ?? 2_000);
      ticker.unref();
      res.once('close', () => {
        unsubscribe();
        streams.delete(res);
        if (streams.size === 0 && ticker !== null) {
          clearInterval(ticker);
          ticker = null;
        }
      });
    },
    [`GET ${API_PREFIX}/openapi.json`]: ({ res }) => {
      json(res, 200, OPENAPI_DOCUMENT, { 'cache-control': 'no-cache' });
      return Promise.resolve();
    },
  };
  const routes: readonly ApiRoute[] = API_ROUTE_SPECS.map((spec) => ({
    ...spec,
    // Each spec's own key (the template of a union would pair every method with every path).
    handle: handlers[`${spec.method} ${spec.path}` as keyof typeof handlers],
  }));

  const route: Route = async (req, res, url) => {
    if (url.pathname !== API_PREFIX && !url.pathname.startsWith(`${API_PREFIX}/`)) return false;
    const started = performance.now();
    try {
      const matches = routes.flatMap((r) => {
        const params = matchTemplate(r.path, url.pathname);
        return params === null ? [] : [{ r, params }];
      });
      if (matches.length === 0)
        throw new NotFoundError(
          `no API route ${url.pathname}`,
          'GET /api/v1/openapi.json lists the routes (docs/api.md)',
          'path',
        );
      const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
      const match = matches.find((m) => m.r.method === method);
      if (match === undefined)
        throw new MethodNotAllowedError(
          req.method ?? '?',
          matches.map((m) => m.r.method),
          'see docs/api.md for the routes and their methods',
        );
      const { r, params } = match;
      const principal: ApiPrincipal =
        r.role === null
          ? { subject: 'anonymous', role: 'read' }
          : await auth.authenticate(requestToken(req, url, r.query.includes('access_token')));
      if (r.role === 'admin' && principal.role !== 'admin')
        throw new ForbiddenError(
          `${r.method} ${r.path} needs the admin role; ${principal.subject} has ${principal.role}`,
          auth.mode === 'tokenreview'
            ? 'add the user or a group of it to --admin-subjects'
            : 'use a token from the admin token file',
        );
      for (const name of url.searchParams.keys())
        if (!r.query.includes(name))
          throw new BadRequestError(
            `unknown query parameter ${name}`,
            r.query.length === 0
              ? `${r.path} takes no query parameters`
              : `${r.path} takes ${r.query.join(', ')}`,
            `query.${name}`,
          );
      await r.handle({ req, res, url, params, principal });
      log.log('debug', 'API request', {
        method: req.method,
        path: url.pathname,
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
      });
    } catch (error) {
      const apiError = toApiError(error, 'server');
      const status = httpStatusFor(apiError.code);
      log.log(status >= 500 ? 'error' : 'debug', 'API request failed', {
        method: req.method,
        path: url.pathname,
        status,
        error: apiError.message,
      });
      if (res.headersSent) {
        res.end();
        return true;
      }
      const headers: Record<string, string> = {};
      if (apiError instanceof MethodNotAllowedError) headers['allow'] = apiError.allow.join(', ');
      if (status === 401) headers['www-authenticate'] = 'Bearer realm="nodewarden"';
      if (apiError.code === 'TOO_LARGE') headers['connection'] = 'close';
      json(
        res,
        status,
        {
          error: apiError.code,
          message: apiError.message,
          hint: apiError.hint,
          ...(apiError.path === undefined ? {} : { param: apiError.path }),
        },
        headers,
      );
    }
    return true;
  };

  return {
    route,
    routes: API_ROUTE_SPECS,
    streams: () => streams.size,
    close() {
      for (const res of streams) res.end();
      streams.clear();
      if (ticker !== null) clearInterval(ticker);
      ticker = null;
    },
  };
}
