// The controller-scale bench's own API client: plain JSON over one keep-alive
// HTTPS agent with the lab admin certificate, and a bounded-concurrency
// writer that turns "POST 150,000 pods" (or PATCH their status) into a steady
// stream with retries.
// The controller under test uses src/kube; this client only loads the cluster.
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { NodeWardenError } from '../src/core/errors.ts';

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
}

export class ScaleApi {
  readonly #agent: Agent;
  readonly #port: number;

  private constructor(agent: Agent, port: number) {
    this.#agent = agent;
    this.#port = port;
  }

  /** An admin client for 127.0.0.1:`port` (the lab's loopback bridge to the API server). */
  static async open(
    port: number,
    files: { ca: string; cert: string; key: string },
    maxSockets: number,
  ): Promise<ScaleApi> {
    const [ca, cert, key] = await Promise.all([
      readFile(files.ca),
      readFile(files.cert),
      readFile(files.key),
    ]);
    return new ScaleApi(new Agent({ keepAlive: true, maxSockets, ca, cert, key }), port);
  }

  close(): void {
    this.#agent.destroy();
  }

  request(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = 60_000,
    accept = 'application/json',
    contentType = 'application/json',
  ): Promise<ApiResponse> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.#port,
          method,
          path,
          agent: this.#agent,
          timeout: timeoutMs,
          headers: {
            accept,
            ...(payload === undefined
              ? {}
              : {
                  'content-type': contentType,
                  'content-length': Buffer.byteLength(payload),
                }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** GET returning parsed JSON; any non-2xx is UNAVAILABLE naming the path. */
  async get<T>(path: string, timeoutMs = 60_000, accept = 'application/json'): Promise<T> {
    const res = await this.request('GET', path, undefined, timeoutMs, accept);
    if (res.status < 200 || res.status > 299) {
      throw new NodeWardenError(
        'UNAVAILABLE',
        `GET ${path}: HTTP ${res.status} ${res.body.slice(0, 300)}`,
        {
          hint: 'read kube-apiserver.log in the bench dir (--keep keeps it)',
        },
      );
    }
    return JSON.parse(res.body) as T;
  }
}

/** One write: POST by default; a status PATCH names its method and content type. */
export interface Write {
  readonly path: string;
  readonly body: unknown;
  readonly method?: 'POST' | 'PATCH';
  readonly contentType?: string;
}

export interface CreateManyOptions {
  readonly label: string;
  readonly concurrency: number;
  /** Stop starting new creations at this time (epoch ms); what was made is reported. */
  readonly deadline: number;
  readonly progress: (line: string) => void;
}

export interface CreateManyResult {
  readonly created: number;
  readonly retries: number;
  readonly seconds: number;
  /** True when the deadline stopped the run before `count`. */
  readonly cutShort: boolean;
}

const RETRYABLE = new Set([429, 500, 502, 503, 504]);
const MAX_TRIES = 8;

/**
 * Makes `count` writes (POSTs unless `make` says otherwise), `concurrency` at
 * a time. 409 AlreadyExists counts as made (a retried POST that had landed); 429/5xx and dropped connections are
 * retried with capped exponential backoff; anything else (400, 403, 422) is a
 * bug in the object and stops the run at once, since every other object would
 * fail the same way.
 */
export async function createMany(
  api: ScaleApi,
  count: number,
  make: (i: number) => Write,
  options: CreateManyOptions,
): Promise<CreateManyResult> {
  const started = Date.now();
  let next = 0;
  let created = 0;
  let retries = 0;
  let shownAt = started;
  let failure: Error | null = null;
  const one = async (i: number): Promise<void> => {
    const { path, body, method = 'POST', contentType } = make(i);
    for (let attempt = 1; ; attempt += 1) {
      let why: string;
      try {
        const res = await api.request(method, path, body, 60_000, 'application/json', contentType);
        if ((res.status >= 200 && res.status <= 299) || res.status === 409) return;
        if (!RETRYABLE.has(res.status)) {
          throw new NodeWardenError(
            'BAD_INPUT',
            `${method} ${path} (${options.label} #${i}): HTTP ${res.status} ${res.body.slice(0, 400)}`,
            {
              hint: 'the bench built an object the API server rejects; fix bench/controller-scale.ts',
            },
          );
        }
        why = `HTTP ${res.status}`;
      } catch (error) {
        if (error instanceof NodeWardenError) throw error;
        why = error instanceof Error ? error.message : String(error);
      }
      if (attempt >= MAX_TRIES) {
        throw new NodeWardenError(
          'UNAVAILABLE',
          `${method} ${path} failed ${attempt} times: ${why}`,
          {
            hint: 'the API server is overloaded or down; read kube-apiserver.log in the bench dir',
          },
        );
      }
      retries += 1;
      await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
    }
  };
  const worker = async (): Promise<void> => {
    while (failure === null && next < count && Date.now() < options.deadline) {
      const i = next++;
      try {
        await one(i);
        created += 1;
      } catch (error) {
        failure ??= error instanceof Error ? error : new Error(String(error));
      }
      if (Date.now() - shownAt >= 10_000) {
        shownAt = Date.now();
        const s = (Date.now() - started) / 1000;
        options.progress(
          `${options.label}: ${created}/${count} in ${s.toFixed(0)} s (${(created / s).toFixed(0)}/s, ${retries} retries)`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  // TypeScript cannot see the workers' assignments and narrows `failure` to null here.
  const failed = failure as Error | null;
  if (failed !== null) throw failed;
  return {
    created,
    retries,
    seconds: (Date.now() - started) / 1000,
    cutShort: created < count,
  };
}
