/**
 * Last words (design §2): every few seconds, while it still can, the agent
 * pushes what the controller will need if this node dies — kernel-log
 * signature matches since the last push (from /dev/kmsg, or a file in the
 * lab), a GPU sample (DCGM exporter or nvidia-smi, under the sampler's own
 * timeout; a hang is itself the evidence), the uplink's interface counters,
 * and an inventory sent once and again when it changes. Kernel-log events
 * wait, bounded, until the controller has them; samples and counters are
 * superseded by the next push.
 */
import type { Clock, Timer } from '../core/clock.ts';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { GpuSampler } from '../gpu/gpu-sampler.ts';
import { followKernelLog, type KernelLogSource } from '../gpu/kmsg-reader.ts';
import type { AgentMetrics } from './agent-metrics.ts';
import type { ControllerPort } from './controller-client.ts';
import { readInterfaces, readInventory, type HostPaths, type Inventory } from './host-facts.ts';
import { clip, type LastWordsItem } from './protocol.ts';

export interface LastWordsOptions {
  readonly node: string;
  readonly controller: ControllerPort;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics?: AgentMetrics;
  readonly kernelLog?: KernelLogSource;
  readonly gpu?: GpuSampler;
  /** The uplink; null: the default route's interface. */
  readonly uplink?: string | null;
  /** nvidia-smi for the inventory's GSP firmware version; null: not asked. */
  readonly nvidiaSmi?: string | null;
  readonly paths?: HostPaths;
  /** Default 5 s. */
  readonly intervalMs?: number;
  /** The inventory is re-read this often and sent when it changed. Default 5 min. */
  readonly inventoryCheckMs?: number;
  /** Kernel-log events kept while the controller is away; the oldest go first. Default 200. */
  readonly maxPendingEvents?: number;
  /** Wait before following the kernel log again after it failed. Default 30 s. */
  readonly kernelLogRetryMs?: number;
}

/** One kernel-log event as pushed. */
export type KernelLogEntry =
  | {
      readonly kind: 'match';
      readonly at: string | null;
      readonly text: string;
      readonly id: string;
      readonly category: string;
      readonly severity: string;
      readonly title: string;
      readonly key: string;
      readonly networkCritical: boolean;
      readonly detail: Readonly<Record<string, string | number | boolean | null>>;
    }
  | { readonly kind: 'gap'; readonly missed: number | null; readonly reason: string };

interface InventorySlot {
  readonly value: Inventory;
  readonly json: string;
  sent: boolean;
  readAt: number;
}

export class LastWords {
  readonly #o: LastWordsOptions;
  readonly #log: Logger;
  readonly #events: KernelLogEntry[] = [];
  #eventsDropped = 0;
  #kernelLogError: string | null = null;
  #inventory: InventorySlot | null = null;
  #timer: Timer | null = null;
  #abort = new AbortController();
  #following: Promise<void> | null = null;
  #pushing: Promise<void> | null = null;
  readonly stats = { pushes: 0, failures: 0 };

  constructor(options: LastWordsOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'last-words' });
  }

  /** Kernel-log events not yet delivered. */
  pending(): number {
    return this.#events.length;
  }

  start(): void {
    this.#abort = new AbortController();
    if (this.#o.kernelLog) this.#following = this.#follow(this.#o.kernelLog);
    this.#arm(0);
  }

  async stop(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = null;
    this.#abort.abort();
    await this.#following;
    await this.#pushing;
  }

  /** Collects and sends one push. */
  push(): Promise<void> {
    if (this.#pushing !== null) return this.#pushing;
    this.#pushing = this.#push().finally(() => {
      this.#pushing = null;
    });
    return this.#pushing;
  }

  /** Adds a kernel-log event (the follower does; tests and the lab may too). */
  note(entry: KernelLogEntry): void {
    this.#events.push(entry);
    const max = this.#o.maxPendingEvents ?? 200;
    if (this.#events.length > max) {
      this.#eventsDropped += this.#events.length - max;
      this.#events.splice(0, this.#events.length - max);
    }
  }

  async #push(): Promise<void> {
    const now = this.#o.clock.now();
    const at = new Date(now).toISOString();
    const items: LastWordsItem[] = [];
    const events = [...this.#events];
    if (events.length > 0 || this.#eventsDropped > 0 || this.#kernelLogError !== null) {
      items.push({
        kind: 'kernel-log',
        at,
        data: { events, droppedEvents: this.#eventsDropped, error: this.#kernelLogError },
      });
    }
    if (this.#o.gpu) {
      const sample = await this.#o.gpu.sample(this.#abort.signal);
      items.push({ kind: 'gpu-samples', at: sample.at, data: { ...sample } });
    }
    const nics = await readInterfaces(this.#o.uplink ?? null, this.#o.paths);
    items.push({ kind: 'interfaces', at, data: { ...nics } });
    const inventory = await this.#readInventory(now, nics.uplink);
    if (inventory !== null && !inventory.sent) {
      items.push({ kind: 'inventory', at, data: { ...inventory.value } });
    }
    try {
      await this.#o.controller.pushLastWords({ node: this.#o.node, sentAt: now, items });
      this.stats.pushes += 1;
      this.#o.metrics?.lastWordsPushes.inc({ result: 'ok' });
      this.#events.splice(0, events.length);
      this.#eventsDropped = 0;
      if (inventory !== null) inventory.sent = true;
    } catch (error) {
      this.stats.failures += 1;
      this.#o.metrics?.lastWordsPushes.inc({ result: 'failed' });
      this.#log.log('debug', 'last words not delivered; kept for the next push', {
        events: this.#events.length,
        error: describeError(error),
      });
    }
  }

  async #readInventory(now: number, uplink: string | null): Promise<InventorySlot | null> {
    const due =
      this.#inventory === null ||
      now - this.#inventory.readAt >= (this.#o.inventoryCheckMs ?? 300_000);
    if (!due) return this.#inventory;
    try {
      const value = await readInventory({
        ...(this.#o.paths ? { paths: this.#o.paths } : {}),
        nvidiaSmi: this.#o.nvidiaSmi ?? null,
        interfaces: uplink === null ? [] : [uplink],
      });
      // The kernel build string and errors are not what "changed" means.
      const json = JSON.stringify({ ...value, errors: [] });
      if (this.#inventory === null || this.#inventory.json !== json) {
        if (this.#inventory !== null) this.#log.log('info', 'inventory changed', {});
        this.#inventory = { value, json, sent: false, readAt: now };
      } else {
        this.#inventory.readAt = now;
      }
    } catch (error) {
      this.#log.log('warn', 'cannot read the inventory', { error: describeError(error) });
    }
    return this.#inventory;
  }

  async #follow(source: KernelLogSource): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        for await (const ev of followKernelLog(source, { signal, clock: this.#o.clock })) {
          this.#kernelLogError = null;
          if (ev.kind === 'gap') {
            this.note({ kind: 'gap', missed: ev.missed, reason: ev.reason });
          } else if (ev.match !== null) {
            this.note({
              kind: 'match',
              at: ev.at,
              text: clip(ev.line.text),
              id: ev.match.id,
              category: ev.match.category,
              severity: ev.match.severity,
              title: ev.match.title,
              key: ev.match.key,
              networkCritical: ev.match.networkCritical,
              detail: ev.match.detail,
            });
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        const message = describeError(error);
        if (message !== this.#kernelLogError) {
          this.#log.log('warn', 'cannot follow the kernel log; retrying', {
            source: source.kind === 'file' ? source.path : (source.path ?? '/dev/kmsg'),
            error: message,
          });
        }
        this.#kernelLogError = message;
      }
      await this.#o.clock.sleep(this.#o.kernelLogRetryMs ?? 30_000, signal).catch(() => undefined);
    }
  }

  #arm(delayMs: number): void {
    this.#timer = this.#o.clock.setTimer(delayMs, () => {
      if (this.#abort.signal.aborted) return;
      void this.push().finally(() => {
        if (!this.#abort.signal.aborted) this.#arm(this.#o.intervalMs ?? 5_000);
      });
    });
  }
}
