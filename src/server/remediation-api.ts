import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { RemediationControl } from '../remediate/control.ts';
import { ApiError, httpStatusFor, toApiError } from './http-errors.ts';
import type { Route } from './ops-server.ts';

/**
 * Remediation over HTTP (the routes src/remediate/control.ts lists):
 * | route | who | what |
 * |---|---|---|
 * | `GET /v1/remediations` | anyone who reaches the port | mode, remediations with their steps, brakes, capacity |
 * | `GET /v1/remediations/{id}` | same | one remediation |
 * | `POST /v1/remediations/{id}/steps/{n}/approve` `{"approver":"alice"}` | admin token | approve step n |
 * | `POST /v1/remediations/{id}/steps/{n}/reject` `{"approver":"alice"}` | admin token | reject step n |
 * Errors are `{"error": CODE, "message", "hint"}` with the status from `httpStatusFor`.
 */
export interface RemediationApiOptions {
  readonly control: RemediationControl;
  /** Whether the request carries an admin token; null when no admin token file is configured. */
  readonly isAdmin: ((req: IncomingMessage) => boolean) | null;
  readonly log: Logger;
}

const LIST = /^\/v1\/remediations\/?$/;
const ONE = /^\/v1\/remediations\/([A-Za-z0-9._-]+)$/;
const VERDICT = /^\/v1\/remediations\/([A-Za-z0-9._-]+)\/steps\/(\d{1,3})\/(approve|reject)$/;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(JSON.stringify(body) + '\n');
}

function methodIs(req: IncomingMessage, method: string): void {
  if (req.method !== method) {
    throw new ApiError(
      'METHOD_NOT_ALLOWED',
      `${req.method ?? '?'} is not allowed here; use ${method}`,
      'see docs/recovery.md for the routes',
    );
  }
}

/** The body as JSON, at most `max` bytes. */
async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += (chunk as Buffer).toString('utf8');
    if (text.length > max)
      throw new ApiError(
        'TOO_LARGE',
        `request body is larger than ${max} bytes`,
        'send {"approver": "NAME"} only',
      );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError('BAD_INPUT', 'body is not JSON', 'send {"approver": "NAME"}', 'body');
  }
}

function approverOf(body: unknown): string {
  const approver =
    typeof body === 'object' && body !== null
      ? (body as Record<string, unknown>)['approver']
      : undefined;
  if (typeof approver !== 'string' || approver.trim() === '' || approver.length > 200) {
    throw new ApiError(
      'BAD_INPUT',
      'body must be {"approver": "<who approves>"}',
      'name the person approving; it goes into the audit record',
      'approver',
    );
  }
  return approver.trim();
}

export function remediationApiRoutes(options: RemediationApiOptions): readonly Route[] {
  const { control, isAdmin, log } = options;
  const route: Route = async (req, res, url) => {
    const path = url.pathname;
    if (!path.startsWith('/v1/remediations')) return false;
    try {
      if (LIST.test(path)) {
        methodIs(req, 'GET');
        send(res, 200, control.overview());
        return true;
      }
      const verdict = VERDICT.exec(path);
      if (verdict !== null) {
        methodIs(req, 'POST');
        if (isAdmin === null) {
          throw new ApiError(
            'FORBIDDEN',
            'approvals need an admin token, and this controller has no --admin-token-file',
            'start the controller with --admin-token-file and send one of its tokens',
          );
        }
        if (!isAdmin(req)) {
          throw new ApiError(
            'UNAUTHENTICATED',
            'approving or rejecting a step needs an admin token (Authorization: Bearer <token>)',
            'use a token from the controller admin token file (nodewarden remediation approve --token-file F)',
          );
        }
        const approver = approverOf(await readJson(req, 8 * 1024));
        const [, id = '', step = '0', what] = verdict;
        const r =
          what === 'approve'
            ? await control.approve(id, Number(step), approver)
            : await control.reject(id, Number(step), approver);
        send(res, 200, r);
        return true;
      }
      const one = ONE.exec(path);
      if (one !== null) {
        methodIs(req, 'GET');
        send(res, 200, control.get(one[1] ?? ''));
        return true;
      }
      throw new ApiError('NOT_FOUND', `no route ${path}`, 'see the routes in docs/recovery.md');
    } catch (error) {
      const apiError = toApiError(error, 'controller');
      const status = httpStatusFor(apiError.code);
      if (status >= 500)
        log.log('error', 'remediation API failed', { path, error: describeError(error) });
      send(res, status, { error: apiError.code, message: apiError.message, hint: apiError.hint });
      if (apiError.code === 'UNAUTHENTICATED' || apiError.code === 'FORBIDDEN') req.resume();
      return true;
    }
  };
  return [route];
}
