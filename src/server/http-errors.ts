/**
 * Errors at the HTTP edge (the agent API and the HTTP API): one class per
 * kind, each with a code from the closed union `ApiErrorCode` (the domain's
 * `ErrorCode`s plus the failures that exist only over HTTP), and ONE
 * exhaustive table from code to status, `httpStatusFor`. Handlers throw;
 * the routers turn any error into `{error, message, hint, param?}`.
 */
import { describeError, NodeWardenError, type ErrorCode } from '../core/errors.ts';

/** Failures that exist only at the HTTP edge, beside the domain's codes. */
export type ApiErrorCode =
  | ErrorCode
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'METHOD_NOT_ALLOWED';

export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly hint: string,
    /** The input that was wrong: a body field path (agent API) or `query.limit`, `path.id`, … */
    readonly path?: string,
  ) {
    super(message);
  }
}

/** A parameter, header or body field is not what the route accepts (400). */
export class BadRequestError extends ApiError {
  override readonly name = 'BadRequestError';
  constructor(message: string, hint: string, param?: string) {
    super('BAD_INPUT', message, hint, param);
  }
}

/** No credentials, or not valid ones (401). */
export class UnauthenticatedError extends ApiError {
  override readonly name = 'UnauthenticatedError';
  constructor(message: string, hint: string) {
    super('UNAUTHENTICATED', message, hint, 'header.authorization');
  }
}

/** Valid credentials that may not do this (403). */
export class ForbiddenError extends ApiError {
  override readonly name = 'ForbiddenError';
  constructor(message: string, hint: string, param?: string) {
    super('FORBIDDEN', message, hint, param);
  }
}

export class NotFoundError extends ApiError {
  override readonly name = 'NotFoundError';
  constructor(message: string, hint: string, param?: string) {
    super('NOT_FOUND', message, hint, param);
  }
}

/** The path exists with other methods; `allow` goes into the Allow header (405). */
export class MethodNotAllowedError extends ApiError {
  override readonly name = 'MethodNotAllowedError';
  constructor(
    method: string,
    readonly allow: readonly string[],
    hint: string,
  ) {
    super('METHOD_NOT_ALLOWED', `${method} is not allowed here; use ${allow.join(' or ')}`, hint);
  }
}

/** The resource is not in a state that allows this (409). */
export class ConflictError extends ApiError {
  override readonly name = 'ConflictError';
  constructor(message: string, hint: string) {
    super('CONFLICT', message, hint);
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  override readonly name = 'UnsupportedMediaTypeError';
  constructor(message: string, hint: string) {
    super('UNSUPPORTED_MEDIA_TYPE', message, hint, 'header.content-type');
  }
}

export class TooLargeError extends ApiError {
  override readonly name = 'TooLargeError';
  constructor(message: string, hint: string) {
    super('TOO_LARGE', message, hint);
  }
}

/** The one table from error code to HTTP status. */
export function httpStatusFor(code: ApiErrorCode): number {
  switch (code) {
    case 'BAD_INPUT':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
    case 'NEEDS_ROOT':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'METHOD_NOT_ALLOWED':
      return 405;
    case 'CONFLICT':
      return 409;
    case 'TOO_LARGE':
      return 413;
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 415;
    case 'UNSUPPORTED':
      return 501;
    case 'UNAVAILABLE':
    case 'MISSING_TOOL':
      return 503;
    case 'TIMEOUT':
      return 504;
    case 'COMMAND_FAILED':
    case 'INTERNAL':
      return 500;
  }
}

/** Any thrown value as an ApiError: domain errors keep their code and hint, the rest are INTERNAL. */
export function toApiError(error: unknown, where: string): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof NodeWardenError)
    return new ApiError(error.code, error.message, error.hint ?? '');
  return new ApiError(
    'INTERNAL',
    `internal error: ${describeError(error)}`,
    `see the ${where} log`,
  );
}
