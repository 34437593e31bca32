import type { ApiEvent, StatusView } from '../../src/server/api/types.ts';

/** What every view gets besides its data. */
export interface Context {
  /** The serving process's status (its clock, zone, auth); null until first read. */
  readonly status: StatusView | null;
  /** IANA zone to show times in: the server's, else UTC. */
  readonly zone: string;
  /** Re-read the view's data now (after an action). */
  refresh(): void;
  /** A short message in the page's polite live region. */
  announce(message: string): void;
}

/**
 * A page of the dashboard: how to read its data, how to draw it, and which
 * live events make it stale. Views are re-drawn from their data; the app
 * keeps focus, scroll and open <details> across re-draws.
 */
export interface View<T> {
  readonly name: string;
  title(data: T): string;
  load(): Promise<T>;
  render(data: T, ctx: Context): Node;
  /** True when the event may change what this view shows. */
  staleOn(event: ApiEvent): boolean;
}
