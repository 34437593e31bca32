/**
 * HTTP to the OpenStack APIs: one deadline per attempt, retries with jittered
 * exponential backoff on answers and failures that another attempt can cure,
 * a private CA bundle, and logs that never carry a header or a body.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Clock } from '../../core/clock.ts';
import { NodeWardenError, type ErrorCode } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { redact } from './redact.ts';

export type Service = 'identity' | 'compute' | 'network';

export interface HttpRequest {
  readonly service: Service;
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /**
   * Safe to send twice. A request that is not (a reboot) goes on a fresh
   * connection (no keep-alive race) and is retried only where the first
   * surely did no work: a refused connection, or a 503.
   */
  readonly idempotent: boolean;
  /** What the call does, for messages: `reboot server 6e0d…`. */
  readonly what: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

export interface TransportOptions {
  /** Deadline of one attempt, connection to last byte. */
  readonly timeoutMs: number;
  /** Further attempts after the first. */
  readonly retries: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** PEM CA bundle; the system's CAs when absent. */
  readonly ca?: string;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: Logger;
}

/** Statuses another attempt can cure: the API or its proxy was briefly away. */
const RETRY_STATUS = new Set([500, 502, 503, 504]);
/** Connection failures another attempt can cure. */
const RETRY_ERRNO = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const TLS_ERRNO =
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME_MISMATCH/;
/** Console logs are the largest answers (Nova keeps ~100 KiB); anything past this is not OpenStack. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * Delay before attempt `attempt + 1`: exponential in `attempt` (1-based),
 * capped, with "equal jitter": half fixed so retries never hammer, half
 * random so a fleet of controllers does not retry in step.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

class AttemptTimeout extends Error {}

interface Failure {
  readonly error: NodeWardenError;
  readonly retryable: boolean;
}

export class Transport {
  /** Kept-alive connections for idempotent requests; one-shot ones for the rest. */
  private readonly agents: {
    readonly https: { readonly keep: HttpsAgent; readonly once: HttpsAgent };
    readonly http: { readonly keep: HttpAgent; readonly once: HttpAgent };
  };

  constructor(private readonly options: TransportOptions) {
    const ca = options.ca === undefined ? {} : { ca: options.ca };
    this.agents = {
      https: {
        keep: new HttpsAgent({ keepAlive: true, ...ca }),
        once: new HttpsAgent({ keepAlive: false, ...ca }),
      },
      http: { keep: new HttpAgent({ keepAlive: true }), once: new HttpAgent({ keepAlive: false }) },
    };
  }

  /**
   * Sends with retries. Resolves with the last answer whatever its status
   * (the caller reads API errors); rejects with TIMEOUT or UNAVAILABLE when
   * no attempt got an answer.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const attempts = 1 + this.options.retries;
    const log = this.options.logger;
    for (let attempt = 1; ; attempt += 1) {
      const started = performance.now();
      let outcome: HttpResponse | Failure;
      try {
        outcome = await this.once(req);
      } catch (error) {
        outcome = this.failure(req, error);
      }
      const ms = Math.round(performance.now() - started);
      const fields = {
        service: req.service,
        method: req.method,
        path: req.url.pathname,
        attempt,
        ms,
      };
      let retryReason: string | null = null;
      if ('status' in outcome) {
        log.log('debug', 'openstack request', { ...fields, status: outcome.status });
        const retryable = req.idempotent
          ? RETRY_STATUS.has(outcome.status)
          : outcome.status === 503;
        if (!retryable || attempt >= attempts) return outcome;
        retryReason = `HTTP ${outcome.status}`;
      } else {
        log.log('debug', 'openstack request failed', { ...fields, error: outcome.error.message });
        if (!outcome.retryable || attempt >= attempts) {
          throw attempt > 1
            ? new NodeWardenError(
                outcome.error.code,
                `${outcome.error.message} (after ${attempt} attempts)`,
                withHint(outcome.error),
              )
            : outcome.error;
        }
        retryReason = outcome.error.message;
      }
      const delayMs = backoffDelay(
        attempt,
        this.options.backoffBaseMs,
        this.options.backoffMaxMs,
        this.options.random,
      );
      log.log('warn', 'openstack request retried', {
        ...fields,
        reason: retryReason,
        delayMs,
        attemptsLeft: attempts - attempt,
      });
      await this.options.clock.sleep(delayMs);
    }
  }

  /** Closes kept-alive connections. */
  close(): void {
    for (const pair of [this.agents.https, this.agents.http]) {
      pair.keep.destroy();
      pair.once.destroy();
    }
  }

  private failure(req: HttpRequest, error: unknown): Failure {
    const where = `${req.what}: ${req.method} ${req.url.origin}${req.url.pathname}`;
    if (error instanceof AttemptTimeout) {
      return {
        retryable: req.idempotent,
        error: new NodeWardenError(
          'TIMEOUT',
          `${where}: no answer within ${this.options.timeoutMs} ms`,
          {
            hint: `check that the ${req.service} API is reachable from here, or raise the timeout`,
          },
        ),
      };
    }
    const e = error as NodeJS.ErrnoException;
    const code = e.code ?? '';
    if (TLS_ERRNO.test(code) || TLS_ERRNO.test(e.message)) {
      return {
        retryable: false,
        error: new NodeWardenError('UNAVAILABLE', `${where}: TLS failed: ${code || e.message}`, {
          hint: 'if the cloud uses a private CA, point caFile (OS_CACERT / clouds.yaml cacert) at its PEM bundle',
          cause: error,
        }),
      };
    }
    if (code === 'ERR_BODY_TOO_LARGE') {
      return {
        retryable: false,
        error: new NodeWardenError('UNAVAILABLE', `${where}: ${e.message}`),
      };
    }
    return {
      retryable: RETRY_ERRNO.has(code) && (req.idempotent || code === 'ECONNREFUSED'),
      error: new NodeWardenError('UNAVAILABLE', `${where}: ${code || e.message}`, {
        hint: `check that the ${req.service} API is reachable from here`,
        cause: error,
      }),
    };
  }

  private once(req: HttpRequest): Promise<HttpResponse> {
    const secure = req.url.protocol === 'https:';
    const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': 'nodewarden',
      ...req.headers,
      ...(payload === undefined
        ? {}
        : {
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(payload)),
          }),
    };
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      let timedOut = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // Once the deadline fired, whatever error the torn-down socket reports is the timeout.
        reject(timedOut ? new AttemptTimeout('timeout') : error);
      };
      const send = secure ? httpsRequest : httpRequest;
      const pair = secure ? this.agents.https : this.agents.http;
      const request = send(
        req.url,
        { method: req.method, headers, agent: req.idempotent ? pair.keep : pair.once },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BODY_BYTES) {
              fail(
                Object.assign(new Error(`answer larger than ${MAX_BODY_BYTES} bytes`), {
                  code: 'ERR_BODY_TOO_LARGE',
                }),
              );
              request.destroy();
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          });
          res.on('error', fail);
          res.on('aborted', () =>
            fail(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })),
          );
        },
      );
      const timer = setTimeout(() => {
        timedOut = true;
        request.destroy();
        fail(new AttemptTimeout('timeout'));
      }, this.options.timeoutMs);
      request.on('error', fail);
      request.end(payload);
    });
  }
}

function withHint(error: NodeWardenError): { hint?: string; cause: unknown } {
  return error.hint === undefined ? { cause: error } : { hint: error.hint, cause: error };
}

/** An error answer from an OpenStack API, with what the API said. */
export class OpenStackHttpError extends NodeWardenError {
  readonly status: number;
  /** Nova's fault name (`itemNotFound`), Neutron's type (`PortNotFound`), Keystone's title. */
  readonly fault: string | null;
  /** The API's own message, unchanged. */
  readonly apiMessage: string;
  /** `x-openstack-request-id` / `x-compute-request-id`: what the cloud operator greps for. */
  readonly requestId: string | null;

  constructor(
    code: ErrorCode,
    message: string,
    details: {
      hint: string;
      status: number;
      fault: string | null;
      apiMessage: string;
      requestId: string | null;
    },
  ) {
    super(code, message, { hint: details.hint });
    this.status = details.status;
    this.fault = details.fault;
    this.apiMessage = details.apiMessage;
    this.requestId = details.requestId;
  }
}

/**
 * What an error answer says, in each API's format: Nova
 * `{"itemNotFound": {"code": 404, "message": …}}`, Neutron
 * `{"NeutronError": {"type": …, "message": …, "detail": …}}`, Keystone and
 * keystonemiddleware `{"error": {"code": 401, "title": …, "message": …}}`;
 * anything else (a proxy's HTML page) as its first line of text.
 */
export function readApiError(text: string): { fault: string | null; message: string } {
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
      const entries = Object.entries(body as Record<string, unknown>);
      const [key, value] = entries[0] ?? [];
      if (
        entries.length === 1 &&
        key !== undefined &&
        typeof value === 'object' &&
        value !== null
      ) {
        const v = value as Record<string, unknown>;
        const message = typeof v['message'] === 'string' ? v['message'] : '';
        if (key === 'NeutronError') {
          return { fault: typeof v['type'] === 'string' ? v['type'] : null, message };
        }
        if (key === 'error') {
          return { fault: typeof v['title'] === 'string' ? v['title'] : null, message };
        }
        return { fault: key, message };
      }
    }
  } catch {
    // Not JSON: a proxy or a load balancer answered; read its text below.
  }
  const plain = text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { fault: null, message: plain.slice(0, 200) };
}

/**
 * Maps an error answer to an error code and a hint, with `secrets` removed
 * from what the API said (a proxy may echo a request). 401 and 403 are
 * BAD_INPUT: the configured identity is wrong or lacks a role, which only
 * the user can fix.
 */
export function errorFromResponse(
  res: HttpResponse,
  what: string,
  service: Service,
  secrets: readonly string[] = [],
): OpenStackHttpError {
  // Redact before reading: the message is cut to a length, and a cut secret would escape redaction.
  const { fault, message } = readApiError(redact(res.text, secrets));
  const requestId =
    headerValue(res, 'x-openstack-request-id') ?? headerValue(res, 'x-compute-request-id');
  const status = res.status;
  const [code, hint] = classify(status, service, message);
  const ref = requestId === null ? `HTTP ${status}` : `HTTP ${status}, request ${requestId}`;
  return new OpenStackHttpError(code, `${what}: ${message || fault || 'no message'} (${ref})`, {
    hint,
    status,
    fault,
    apiMessage: message,
    requestId,
  });
}

function classify(status: number, service: Service, message: string): [ErrorCode, string] {
  switch (status) {
    case 400:
      return [
        'BAD_INPUT',
        `the ${service} API refused the request as malformed; this is a NodeWarden bug if the input was valid`,
      ];
    case 401:
      return [
        'BAD_INPUT',
        'the cloud rejected the credentials; check them (OS_* or clouds.yaml) and that they have not expired',
      ];
    case 403:
      return [
        'BAD_INPUT',
        /policy/i.test(message)
          ? 'the identity lacks the role this call needs by default (see docs/openstack.md: roles); ask the cloud operator'
          : 'the cloud forbids this call to the configured identity; ask the cloud operator',
      ];
    case 404:
      return ['NOT_FOUND', 'it is gone from the cloud, or the identity cannot see it'];
    case 406:
      return [
        'UNSUPPORTED',
        'the cloud is older than the API microversion NodeWarden needs (see docs/openstack.md)',
      ];
    case 409:
      return [
        'CONFLICT',
        'the cloud refuses this in the current state; read the state and retry later',
      ];
    case 413:
    case 429:
      return ['UNAVAILABLE', 'the cloud is rate-limiting this identity; slow down and retry later'];
    case 501:
      return ['UNSUPPORTED', `this cloud's ${service} driver does not implement the call`];
    default:
      return ['UNAVAILABLE', `the ${service} API failed; retry later or ask the cloud operator`];
  }
}

export function headerValue(res: HttpResponse, name: string): string | null {
  const value = res.headers[name];
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}
