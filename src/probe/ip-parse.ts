/**
 * Reads iproute2's JSON output (`ip -j neigh show`, `ip -j route get`). Pure;
 * the fixtures in test/fixtures/probe are real runs.
 */
import { NodeWardenError } from '../core/errors.ts';
import { NEIGHBOUR_STATES, type NeighbourState } from '../core/probe.ts';

export interface NeighbourEntry {
  readonly state: NeighbourState;
  /** Absent while the kernel has no link-layer address (INCOMPLETE, FAILED). */
  readonly lladdr?: string;
}

/**
 * The kernel's entry for one address, or null when it has none (`[]`, which
 * is also what iproute2 prints for an address it never tried to resolve).
 * `state` is a list in the JSON; the first known neighbour state wins.
 */
export function parseNeighbour(json: string): NeighbourEntry | null {
  const entries = parseJsonArray(json, 'ip -j neigh show');
  const first = entries[0];
  if (first === undefined) return null;
  const states = Array.isArray(first.state) ? first.state : [];
  const state = states.find((s): s is NeighbourState =>
    NEIGHBOUR_STATES.includes(s as NeighbourState),
  );
  if (state === undefined) {
    throw new NodeWardenError(
      'COMMAND_FAILED',
      `ip -j neigh show printed a neighbour state NodeWarden does not know: ${JSON.stringify(first.state)}`,
      { hint: 'report this with the output of `ip -j neigh show <ip>`' },
    );
  }
  return typeof first.lladdr === 'string' ? { state, lladdr: first.lladdr } : { state };
}

/** Where the kernel would send a packet for the target, which decides whether ARP can test it. */
export type Route =
  /** Directly on the link `dev`: ARP for the target itself tells whether it is alive at L2. */
  | { readonly kind: 'on-link'; readonly dev: string }
  /** Through a gateway: ARP would only test the gateway. */
  | { readonly kind: 'gateway'; readonly dev: string; readonly gateway: string }
  /** One of this host's own addresses (or loopback): there is no link to test. */
  | { readonly kind: 'local'; readonly dev: string }
  /** No usable route: `ip route get` failed, or the route is unreachable/blackhole/prohibit. */
  | { readonly kind: 'no-route'; readonly message: string };

/**
 * Rules:
 * 1. a non-zero exit → no-route with iproute2's message
 *    (`RTNETLINK answers: Network is unreachable`);
 * 2. `type` local → local;
 * 3. `type` unreachable/blackhole/prohibit/throw → no-route;
 *    then dev `lo` → local;
 * 4. a `gateway` field → gateway;
 * 5. otherwise → on-link.
 */
export function parseRouteGet(output: string, exitCode: number | null): Route {
  if (exitCode !== 0) {
    const message = output.trim().split('\n').at(-1)?.trim() ?? '';
    return { kind: 'no-route', message: message || `ip route get exited ${exitCode}` };
  }
  const route = parseJsonArray(output, 'ip -j route get')[0];
  if (route === undefined || typeof route.dev !== 'string') {
    const type = typeof route?.type === 'string' ? route.type : 'unknown';
    return { kind: 'no-route', message: `route type ${type}, no device` };
  }
  const dev = route.dev;
  if (route.type === 'local') return { kind: 'local', dev };
  if (typeof route.type === 'string' && route.type !== 'unicast') {
    return { kind: 'no-route', message: `route type ${route.type}` };
  }
  if (dev === 'lo') return { kind: 'local', dev };
  if (typeof route.gateway === 'string') return { kind: 'gateway', dev, gateway: route.gateway };
  return { kind: 'on-link', dev };
}

type JsonRecord = Readonly<Record<string, unknown>>;

function parseJsonArray(json: string, what: string): JsonRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(json.trim() === '' ? '[]' : json);
  } catch (error) {
    throw new NodeWardenError('COMMAND_FAILED', `${what} printed something that is not JSON`, {
      hint: 'check that iproute2 supports -j (Debian 10 or newer)',
      cause: error,
    });
  }
  if (!Array.isArray(value)) {
    throw new NodeWardenError('COMMAND_FAILED', `${what} printed JSON that is not a list`, {
      hint: 'check that iproute2 supports -j (Debian 10 or newer)',
    });
  }
  return value.filter((v): v is JsonRecord => typeof v === 'object' && v !== null);
}
