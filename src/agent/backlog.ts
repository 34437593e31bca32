/**
 * A bounded FIFO of results waiting for the controller. When it is full the
 * oldest entry goes: while the controller is away the newest evidence is the
 * most useful, and memory must not grow with the length of an outage. Every
 * entry lost is counted (`dropped`), never hidden. Pure.
 */
import { badInput } from '../core/errors.ts';

export class Backlog<T> {
  readonly #items: (T | undefined)[];
  #head = 0;
  #count = 0;
  #dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw badInput(
        `backlog capacity must be a whole number ≥ 1, got ${capacity}`,
        'size it for the outage to bridge: targets × probes per second × seconds',
      );
    }
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#count;
  }

  /** Entries lost to the bound since this backlog was made. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Adds at the back, dropping the oldest when full. */
  push(item: T): void {
    if (this.#count === this.capacity) {
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
      this.#count -= 1;
      this.#dropped += 1;
    }
    this.#items[(this.#head + this.#count) % this.capacity] = item;
    this.#count += 1;
  }

  /** Removes and returns up to `n` of the oldest entries. */
  take(n: number): T[] {
    const out: T[] = [];
    while (out.length < n && this.#count > 0) {
      out.push(this.#items[this.#head] as T);
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
      this.#count -= 1;
    }
    return out;
  }

  /**
   * Puts back entries taken by `take` that could not be delivered. They are
   * older than everything still held, so they go to the front; if newer
   * entries filled the room meanwhile, the oldest of them are dropped.
   */
  restore(items: readonly T[]): void {
    const room = this.capacity - this.#count;
    const lost = Math.max(0, items.length - room);
    this.#dropped += lost;
    for (let i = items.length - 1; i >= lost; i -= 1) {
      this.#head = (this.#head - 1 + this.capacity) % this.capacity;
      this.#items[this.#head] = items[i];
      this.#count += 1;
    }
  }
}
