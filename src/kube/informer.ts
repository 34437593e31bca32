import type { KubeConfig } from '@kubernetes/client-node';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { KubeHttpError, kubeRequest, kubeWatch, type WatchHandle } from './http.ts';

/**
 * A list-then-watch cache of one resource, done the way Kubernetes asks:
 * - `resourceVersion` is opaque: it is only ever handed back to the server;
 * - lists are paged (`limit`/`continue`), so 150,000 pods do not arrive as one body;
 * - a watch that ends cleanly resumes from the last resourceVersion (kept
 *   current by bookmarks); a 410 Gone, or an ERROR event with code 410,
 *   relists from scratch;
 * - a watch silent for `watchIdleTimeoutMs` is reopened at once from the
 *   same resourceVersion, without reporting the API server unreachable (a
 *   quiet resource is not an outage; the view's /readyz ping tells those);
 * - any other failure restarts after a capped, jittered backoff
 *   (0.5 s doubling to 30 s, ±20%), so an API server outage does not become
 *   a thundering herd when it returns.
 */
export interface InformerSpec<T> {
  readonly name: string;
  /** Collection path, e.g. `/api/v1/pods` or `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases`. */
  readonly path: string;
  readonly fieldSelector?: string;
  readonly map: (raw: unknown) => T;
  readonly key: (item: T) => string;
}

export type InformerEvent<T> = { readonly action: 'upsert' | 'delete'; readonly item: T };

export interface InformerOptions {
  readonly pageSize: number;
  readonly requestTimeoutMs: number;
  /** A watch silent this long is restarted (bookmarks normally arrive every minute). */
  readonly watchIdleTimeoutMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_INFORMER_OPTIONS: InformerOptions = {
  pageSize: 500,
  requestTimeoutMs: 30_000,
  watchIdleTimeoutMs: 90_000,
  maxBackoffMs: 30_000,
};

export class Informer<T> {
  readonly #kc: KubeConfig;
  readonly #spec: InformerSpec<T>;
  readonly #opts: InformerOptions;
  readonly #log: Logger;
  readonly #cache = new Map<string, T>();
  #listeners: ((e: InformerEvent<T>) => void)[] = [];
  #contact: (ok: boolean, error?: string) => void;
  #resourceVersion = '';
  #watch: WatchHandle | null = null;
  #stopped = false;
  #failures = 0;
  #timer: NodeJS.Timeout | null = null;
  #synced: Promise<void>;
  #markSynced: () => void = () => undefined;

  constructor(
    kc: KubeConfig,
    spec: InformerSpec<T>,
    log: Logger,
    contact: (ok: boolean, error?: string) => void,
    opts: InformerOptions = DEFAULT_INFORMER_OPTIONS,
  ) {
    this.#kc = kc;
    this.#spec = spec;
    this.#opts = opts;
    this.#log = log.child({ informer: spec.name });
    this.#contact = contact;
    this.#synced = new Promise((resolve) => (this.#markSynced = resolve));
  }

  onEvent(listener: (e: InformerEvent<T>) => void): void {
    this.#listeners.push(listener);
  }

  items(): IterableIterator<T> {
    return this.#cache.values();
  }

  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  get size(): number {
    return this.#cache.size;
  }

  /** Starts the loop; resolves after the first complete list. */
  start(): Promise<void> {
    void this.#run(true);
    return this.#synced;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#watch?.abort();
  }

  #emit(action: 'upsert' | 'delete', item: T): void {
    for (const l of this.#listeners) l({ action, item });
  }

  #query(extra: Record<string, string>): string {
    const q = new URLSearchParams(extra);
    if (this.#spec.fieldSelector) q.set('fieldSelector', this.#spec.fieldSelector);
    return `${this.#spec.path}?${q.toString()}`;
  }

  async #list(): Promise<void> {
    const fresh = new Map<string, T>();
    let cont = '';
    let rv = '';
    do {
      const page = await kubeRequest<{
        items?: unknown[];
        metadata?: { resourceVersion?: string; continue?: string };
      }>(
        this.#kc,
        'GET',
        this.#query({ limit: String(this.#opts.pageSize), ...(cont ? { continue: cont } : {}) }),
        this.#opts.requestTimeoutMs,
      );
      for (const raw of page.items ?? []) {
        const item = this.#spec.map(raw);
        fresh.set(this.#spec.key(item), item);
      }
      cont = page.metadata?.continue ?? '';
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    for (const [key, old] of this.#cache) if (!fresh.has(key)) this.#emit('delete', old);
    this.#cache.clear();
    for (const [key, item] of fresh) {
      this.#cache.set(key, item);
      this.#emit('upsert', item);
    }
    this.#resourceVersion = rv;
  }

  /** One round: list if needed, then watch until the stream ends. */
  async #run(relist: boolean): Promise<void> {
    if (this.#stopped) return;
    let needRelist = relist;
    try {
      if (needRelist) {
        await this.#list();
        this.#contact(true);
        this.#markSynced();
      }
      needRelist = false;
      const watch = await kubeWatch(
        this.#kc,
        this.#query({
          watch: 'true',
          allowWatchBookmarks: 'true',
          resourceVersion: this.#resourceVersion,
          timeoutSeconds: String(Math.round(240 + Math.random() * 120)),
        }),
        (event) => {
          this.#contact(true);
          const meta = (event.object['metadata'] ?? {}) as { resourceVersion?: string };
          if (event.type === 'ERROR') {
            const code = (event.object as { code?: number }).code;
            if (code === 410) needRelist = true;
            watch.abort();
            return;
          }
          if (meta.resourceVersion) this.#resourceVersion = meta.resourceVersion;
          if (event.type === 'BOOKMARK') return;
          const item = this.#spec.map(event.object);
          const key = this.#spec.key(item);
          if (event.type === 'DELETED') {
            this.#cache.delete(key);
            this.#emit('delete', item);
          } else {
            this.#cache.set(key, item);
            this.#emit('upsert', item);
          }
        },
        this.#opts.watchIdleTimeoutMs,
      );
      this.#watch = watch;
      // stop() may have run while the watch was being opened: it had nothing to abort then.
      if (this.#stopped) {
        watch.abort();
        return;
      }
      const error = await watch.done;
      if (watch.silent() && !this.#stopped) {
        // A quiet resource (Node Events in a calm cluster) is not an unreachable API server:
        // /readyz says that. Reopen from the same resourceVersion; if the server is really
        // gone, the reopen fails and the backoff below takes over.
        this.#log.log('debug', 'watch silent; reopening', { error: describeError(error) });
        void this.#run(needRelist);
        return;
      }
      if (error) throw error;
      this.#failures = 0;
      if (!this.#stopped) void this.#run(needRelist);
    } catch (error) {
      if (this.#stopped) return;
      if (error instanceof KubeHttpError && error.status === 410) needRelist = true;
      this.#failures += 1;
      this.#contact(false, describeError(error));
      const base = Math.min(this.#opts.maxBackoffMs, 500 * 2 ** Math.min(this.#failures - 1, 10));
      const delay = Math.round(base * (0.8 + Math.random() * 0.4));
      this.#log.log(this.#failures === 1 ? 'warn' : 'debug', 'informer failed; restarting', {
        error: describeError(error),
        retryInMs: delay,
        failures: this.#failures,
      });
      this.#timer = setTimeout(
        () => void this.#run(needRelist || this.#resourceVersion === ''),
        delay,
      );
    }
  }
}
