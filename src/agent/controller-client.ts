/**
 * The agent's HTTP client to the controller: bearer token (re-read from its
 * file, so a rotated service-account token is picked up), one deadline per
 * request covering connect, headers and body, bounded response bodies, and
 * responses validated before use. Failures say what the agent should do:
 * `unreachable` → keep the data and retry; `rejected` (400) → the data is
 * bad, drop it; `too-large` (413) → send less; `unauthorized` (401/403) →
 * keep the data, the token may be rotated shortly.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Clock } from '../core/clock.ts';
import { describeError, NodeWardenError } from '../core/errors.ts';
import { HttpRequestError, requestText } from '../host/http-request.ts';
import {
  parsePlanResponse,
  parsePushResponse,
  type LastWordsBatch,
  type PlanResponse,
  type PushResponse,
  type ReferencesAnswer,
  type ResultBatch,
  AGENT_FEATURES_HEADER,
  type AgentFeature,
} from './protocol.ts';

export type ControllerFailure = 'unreachable' | 'rejected' | 'too-large' | 'unauthorized';

export class ControllerError extends NodeWardenError {
  constructor(
    readonly failure: ControllerFailure,
    readonly status: number | null,
    message: string,
    hint: string,
    cause?: unknown,
  ) {
    super(failure === 'unreachable' ? 'UNAVAILABLE' : 'BAD_INPUT', message, { hint, cause });
  }
}

/** The controller as the agent needs it; `ControllerClient` is the HTTP implementation. */
export interface ControllerPort {
  /** null: the plan with `knownVersion` is still current and nothing is queued. */
  getPlan(knownVersion: string | null): Promise<PlanResponse | null>;
  pushResults(batch: ResultBatch): Promise<PushResponse>;
  pushLastWords(batch: LastWordsBatch): Promise<void>;
  /** An answer to a `probe-references` directive. */
  pushReferences(answer: ReferencesAnswer): Promise<void>;
}

/** A token file re-read when it changes (projected service-account tokens rotate). */
export class TokenFile {
  #token = '';
  #stamp = '';
  #checkedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly path: string,
    private readonly clock: Clock,
    private readonly recheckMs = 10_000,
  ) {}

  async token(): Promise<string> {
    const now = this.clock.now();
    if (this.#token !== '' && now - this.#checkedAt < this.recheckMs) return this.#token;
    this.#checkedAt = now;
    try {
      const st = await stat(this.path);
      const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (stamp !== this.#stamp) {
        const token = (await readFile(this.path, 'utf8')).trim();
        if (token === '' || /\s/.test(token)) {
          throw new NodeWardenError(
            'BAD_INPUT',
            `token file ${this.path} is empty or holds more than one word`,
            {
              hint: 'put exactly the bearer token in the file',
            },
          );
        }
        this.#token = token;
        this.#stamp = stamp;
      }
    } catch (error) {
      // A token read once stays usable while its file is briefly away (a Secret being re-mounted).
      if (this.#token === '') {
        if (error instanceof NodeWardenError) throw error;
        throw new NodeWardenError('BAD_INPUT', `cannot read token file ${this.path}`, {
          hint: 'pass --token-file with the service-account token or the lab token',
          cause: error,
        });
      }
    }
    return this.#token;
  }
}

export interface ControllerClientOptions {
  /** e.g. http://10.62.0.1:9464 */
  readonly baseUrl: string;
  readonly node: string;
  readonly token: () => Promise<string>;
  /** Per request. Default 3,000 ms. */
  readonly timeoutMs?: number;
  /** Larger responses are refused. Default 1 MiB. */
  readonly maxResponseBytes?: number;
  /** Named in every request's `x-nodewarden-agent-features` header. Default none. */
  readonly features?: readonly AgentFeature[];
}

export class ControllerClient implements ControllerPort {
  readonly #base: URL;
  readonly #node: string;
  readonly #token: () => Promise<string>;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #features: string;

  constructor(options: ControllerClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch (error) {
      throw new NodeWardenError('BAD_INPUT', `controller URL "${options.baseUrl}" is not a URL`, {
        hint: 'pass e.g. --controller http://nodewarden-controller.nodewarden:9464',
        cause: error,
      });
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new NodeWardenError('BAD_INPUT', `controller URL "${options.baseUrl}" is not http(s)`, {
        hint: 'pass e.g. --controller http://nodewarden-controller.nodewarden:9464',
      });
    }
    this.#base = base;
    this.#node = options.node;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 3_000;
    this.#maxBytes = options.maxResponseBytes ?? 1024 * 1024;
    this.#features = (options.features ?? []).join(',');
  }

  async getPlan(knownVersion: string | null): Promise<PlanResponse | null> {
    const headers: Record<string, string> =
      knownVersion === null ? {} : { 'if-none-match': `"${knownVersion}"` };
    const { status, body } = await this.#request('GET', 'plan', undefined, headers);
    if (status === 304) return null;
    return this.#parse(parsePlanResponse, body, 'plan');
  }

  async pushResults(batch: ResultBatch): Promise<PushResponse> {
    const { body } = await this.#request('POST', 'results', batch);
    return this.#parse(parsePushResponse, body, 'results');
  }

  async pushLastWords(batch: LastWordsBatch): Promise<void> {
    await this.#request('POST', 'last-words', batch);
  }

  async pushReferences(answer: ReferencesAnswer): Promise<void> {
    await this.#request('POST', 'references', answer);
  }

  #url(what: string): URL {
    return new URL(
      `v1/agents/${encodeURIComponent(this.#node)}/${what}`,
      this.#base.href.endsWith('/') ? this.#base : `${this.#base.href}/`,
    );
  }

  #parse<T>(parse: (v: unknown) => T, body: string, what: string): T {
    try {
      return parse(JSON.parse(body) as unknown);
    } catch (error) {
      // A controller that answers nonsense is as good as unreachable: keep the data.
      throw new ControllerError(
        'unreachable',
        200,
        `controller answered ${what} with something that is not the protocol: ${describeError(error)}`,
        'run the same NodeWarden version for the agents and the controller',
        error,
      );
    }
  }

  async #request(
    method: 'GET' | 'POST',
    what: string,
    payload: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; body: string }> {
    const url = this.#url(what);
    const token = await this.#token();
    let status: number;
    let body: string | null;
    try {
      ({ status, body } = await requestText(url, {
        method,
        timeoutMs: this.#timeoutMs,
        maxBytes: this.#maxBytes,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.#features === '' ? {} : { [AGENT_FEATURES_HEADER]: this.#features }),
          ...extraHeaders,
        },
        ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
      }));
    } catch (error) {
      const why =
        error instanceof HttpRequestError
          ? error.reason === 'timeout'
            ? `no answer within ${this.#timeoutMs} ms`
            : error.reason
          : describeError(error);
      throw new ControllerError(
        'unreachable',
        null,
        `controller ${url.origin} unreachable (${method} ${what}): ${why}`,
        'check --controller and that the controller Service is up; the agent keeps probing and buffers results',
        error,
      );
    }
    if (body === null) {
      throw new ControllerError(
        'unreachable',
        status,
        `controller answer to ${what} is larger than ${this.#maxBytes} bytes`,
        'check that --controller points at a NodeWarden controller',
      );
    }
    if (status === 200 || status === 202 || status === 304) return { status, body };
    const said = errorMessage(body);
    if (status === 401 || status === 403) {
      throw new ControllerError(
        'unauthorized',
        status,
        `controller refused ${what} with HTTP ${status}: ${said}`,
        'check --token-file and --node against the controller token bindings',
      );
    }
    if (status === 413) {
      throw new ControllerError(
        'too-large',
        status,
        `controller refused ${what}: ${said}`,
        'the agent sends smaller batches next time',
      );
    }
    if (status >= 400 && status < 500) {
      throw new ControllerError(
        'rejected',
        status,
        `controller rejected ${what} with HTTP ${status}: ${said}`,
        'run the same NodeWarden version for the agents and the controller',
      );
    }
    throw new ControllerError(
      'unreachable',
      status,
      `controller answered ${what} with HTTP ${status}: ${said}`,
      'the controller is failing; see its log',
    );
  }
}

function errorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown; path?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // Not the controller's JSON error: show the start of what came back.
  }
  return body.slice(0, 200).trim() || 'no body';
}
