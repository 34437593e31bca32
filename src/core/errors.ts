/**
 * Every failure NodeWarden reports carries a code from this closed union, the
 * input it failed on, and what the user can do about it. Adapters wrap the
 * underlying error as `cause`; the CLI and the HTTP API map codes to exit
 * statuses and HTTP statuses in one table each.
 */
export type ErrorCode =
  | 'BAD_INPUT'
  | 'NEEDS_ROOT'
  | 'MISSING_TOOL'
  | 'COMMAND_FAILED'
  | 'TIMEOUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAVAILABLE'
  | 'UNSUPPORTED'
  | 'INTERNAL';

export interface ErrorDetails {
  /** What the user can do about it, in one sentence. */
  readonly hint?: string;
  readonly cause?: unknown;
}

export class NodeWardenError extends Error {
  override readonly name = 'NodeWardenError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.hint = details.hint;
  }
}

export const badInput = (message: string, hint: string): NodeWardenError =>
  new NodeWardenError('BAD_INPUT', message, { hint });

/** The message of anything thrown, for logs and error lines. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
