/**
 * Reads what iputils `arping -c 1 -w <s> -I <dev> <ip>` printed (stdout and
 * stderr together, C locale). Pure; the fixtures in test/fixtures/probe are
 * real runs.
 */

export type ArpingOutcome =
  /** The target answered the ARP request: its MAC and arping's RTT. */
  | { readonly kind: 'reply'; readonly mac: string; readonly rttMs: number }
  /** Requests went out and nothing answered before the deadline. */
  | { readonly kind: 'no-reply' }
  /** arping could not open its packet socket (no CAP_NET_RAW). */
  | { readonly kind: 'needs-cap-net-raw'; readonly message: string }
  /** The check itself failed (unknown device, bad option): nothing was learned. */
  | { readonly kind: 'error'; readonly message: string };

const REPLY = /reply from \S+ \[([0-9A-Fa-f:]+)\]\s+([\d.]+)\s*ms/;
const NO_REPLY = /^Received 0 response\(s\)/m;

/**
 * Rules, first match wins:
 * 1. `Unicast reply from <ip> [<MAC>]  0.545ms` → reply (MAC in lower case,
 *    as `ip neigh` prints it);
 * 2. `Operation not permitted` → needs-cap-net-raw;
 * 3. `Received 0 response(s)` → no-reply;
 * 4. otherwise → error with arping's last non-empty line.
 */
export function parseArping(output: string): ArpingOutcome {
  const reply = REPLY.exec(output);
  if (reply?.[1] !== undefined && reply[2] !== undefined) {
    return { kind: 'reply', mac: reply[1].toLowerCase(), rttMs: Number(reply[2]) };
  }
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const denied = lines.find((l) => /Operation not permitted/i.test(l));
  if (denied) return { kind: 'needs-cap-net-raw', message: denied.replace(/^\S*arping: /, '') };
  if (NO_REPLY.test(output)) return { kind: 'no-reply' };
  return { kind: 'error', message: lines.at(-1) ?? 'arping printed nothing' };
}
