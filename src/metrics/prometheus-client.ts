/**
 * A minimal Prometheus HTTP API client: range queries
 * (`GET /api/v1/query_range`), under a deadline, with errors that name the
 * server and the query. Only what diagnosis needs (DCGM series).
 */
import { describeError, NodeWardenError } from '../core/errors.ts';

export interface RangeQuery {
  readonly startMs: number;
  readonly endMs: number;
  readonly stepSeconds: number;
}

/** One series of a matrix result: its labels and `[unix seconds, value]` pairs (NaN dropped). */
export interface RangeSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly values: readonly (readonly [number, number])[];
}

export interface PrometheusClient {
  queryRange(query: string, range: RangeQuery, signal?: AbortSignal): Promise<RangeSeries[]>;
}

export interface HttpPrometheusOptions {
  /** Per-request deadline. */
  readonly timeoutMs?: number;
  /** Extra headers (e.g. `Authorization: Bearer …`); never logged. */
  readonly headers?: Readonly<Record<string, string>>;
}

export class HttpPrometheusClient implements PrometheusClient {
  private readonly base: URL;
  private readonly timeoutMs: number;
  private readonly headers: Readonly<Record<string, string>>;

  constructor(baseUrl: string, options: HttpPrometheusOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch (error) {
      throw new NodeWardenError(
        'BAD_INPUT',
        `Prometheus URL ${JSON.stringify(baseUrl)} is not a URL`,
        {
          hint: 'pass e.g. http://prometheus.monitoring:9090',
          cause: error,
        },
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new NodeWardenError('BAD_INPUT', `Prometheus URL ${url.origin} is not http(s)`, {
        hint: 'pass e.g. http://prometheus.monitoring:9090',
      });
    }
    this.base = url;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.headers = options.headers ?? {};
  }

  async queryRange(query: string, range: RangeQuery, signal?: AbortSignal): Promise<RangeSeries[]> {
    if (!(range.endMs >= range.startMs) || !(range.stepSeconds > 0)) {
      throw new NodeWardenError(
        'BAD_INPUT',
        `range ${range.startMs}..${range.endMs} step ${range.stepSeconds}s is not a valid range`,
        { hint: 'end must not precede start, and the step must be positive' },
      );
    }
    const url = new URL(
      'api/v1/query_range',
      this.base.href.endsWith('/') ? this.base : `${this.base.href}/`,
    );
    url.searchParams.set('query', query);
    url.searchParams.set('start', (range.startMs / 1000).toFixed(3));
    url.searchParams.set('end', (range.endMs / 1000).toFixed(3));
    url.searchParams.set('step', `${range.stepSeconds}s`);
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const combined = signal === undefined ? deadline : AbortSignal.any([signal, deadline]);
    let response: Response;
    try {
      response = await fetch(url, { headers: this.headers, signal: combined });
    } catch (error) {
      if (deadline.aborted) {
        throw new NodeWardenError(
          'TIMEOUT',
          `Prometheus at ${this.base.origin} did not answer ${query} within ${this.timeoutMs} ms`,
          {
            hint: 'check the Prometheus URL and that it is reachable from here',
            cause: error,
          },
        );
      }
      if (signal?.aborted) throw error;
      throw new NodeWardenError(
        'UNAVAILABLE',
        `cannot reach Prometheus at ${this.base.origin}: ${describeError(error)}`,
        {
          hint: 'check the Prometheus URL and that it is reachable from here',
          cause: error,
        },
      );
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new NodeWardenError(
        'UNAVAILABLE',
        `Prometheus at ${this.base.origin} answered HTTP ${response.status} with no JSON for ${query}`,
        { hint: 'is the URL a Prometheus server (…/api/v1/query_range)?', cause: error },
      );
    }
    const o = body as {
      status?: unknown;
      error?: unknown;
      data?: { resultType?: unknown; result?: unknown };
    };
    if (!response.ok || o.status !== 'success') {
      const code = response.status === 400 || response.status === 422 ? 'BAD_INPUT' : 'UNAVAILABLE';
      throw new NodeWardenError(
        code,
        `Prometheus at ${this.base.origin} refused ${query}: HTTP ${response.status} ${typeof o.error === 'string' ? o.error : ''}`.trim(),
        {
          hint:
            code === 'BAD_INPUT'
              ? 'the query is malformed'
              : 'retry later; check Prometheus health',
        },
      );
    }
    if (o.data?.resultType !== 'matrix' || !Array.isArray(o.data.result)) {
      throw new NodeWardenError(
        'UNAVAILABLE',
        `Prometheus at ${this.base.origin} returned no matrix for ${query}`,
        {
          hint: 'a range query returns resultType "matrix"; is this a Prometheus API?',
        },
      );
    }
    return (o.data.result as unknown[]).map((r): RangeSeries => {
      const item = r as { metric?: Record<string, unknown>; values?: unknown };
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(item.metric ?? {}))
        if (typeof v === 'string') labels[k] = v;
      const values: [number, number][] = [];
      for (const pair of Array.isArray(item.values) ? (item.values as unknown[]) : []) {
        if (!Array.isArray(pair)) continue;
        const t = Number(pair[0]);
        const v = Number(pair[1]);
        if (Number.isFinite(t) && Number.isFinite(v)) values.push([t, v]);
      }
      return { labels, values };
    });
  }
}
