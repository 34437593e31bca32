/**
 * Reads what iputils `ping -n -c 1` printed (stdout and stderr together, C
 * locale). Pure; the fixtures in test/fixtures/probe are real runs.
 */

export type PingOutcome =
  /** An echo reply came back; `rttMs` is ping's own measurement. */
  | { readonly kind: 'reply'; readonly rttMs: number }
  /**
   * An ICMP error instead of a reply, e.g. `Destination Host Unreachable`
   * from the sender's own kernel when ARP for an on-link target failed.
   */
  | { readonly kind: 'icmp-error'; readonly message: string; readonly from: string }
  /** Nothing came back before `-W` passed: `100% packet loss`. */
  | { readonly kind: 'no-reply' }
  /** The local kernel had no route: `connect: Network is unreachable`. */
  | { readonly kind: 'network-unreachable'; readonly message: string }
  /** ping could not open its socket: no CAP_NET_RAW and no ping group. */
  | { readonly kind: 'needs-cap-net-raw'; readonly message: string }
  /** Anything else (bad interface, unknown option): the check itself failed. */
  | { readonly kind: 'error'; readonly message: string };

const REPLY = /^\d+ bytes from \S+: icmp_seq=\d+ .*time[=<]([\d.]+) ms/m;
const ICMP_ERROR = /^From (\S+?):? icmp_seq=\d+ (.+)$/m;
const LOSS = /\b(\d+) received\b.*\b100% packet loss/m;

/**
 * Rules, first match wins:
 * 1. a reply line (`64 bytes from … time=0.315 ms`) → reply;
 * 2. a `From <addr> icmp_seq=N <message>` line → the ICMP error, verbatim;
 * 3. `Network is unreachable` → network-unreachable (ping exits 2);
 * 4. `Operation not permitted` / `missing cap_net_raw` → needs-cap-net-raw;
 * 5. `0 received, 100% packet loss` → no-reply;
 * 6. otherwise → error with ping's last non-empty line.
 */
export function parsePing(output: string): PingOutcome {
  const reply = REPLY.exec(output);
  if (reply?.[1] !== undefined) return { kind: 'reply', rttMs: Number(reply[1]) };
  const icmp = ICMP_ERROR.exec(output);
  if (icmp?.[1] !== undefined && icmp[2] !== undefined) {
    return { kind: 'icmp-error', from: icmp[1], message: icmp[2].trim() };
  }
  const lines = meaningfulLines(output);
  const unreachable = lines.find((l) => /Network is unreachable/i.test(l));
  if (unreachable) {
    return { kind: 'network-unreachable', message: unreachable.replace(/^ping: /, '') };
  }
  const denied = lines.find((l) => /Operation not permitted|missing cap_net_raw/i.test(l));
  if (denied) return { kind: 'needs-cap-net-raw', message: denied.replace(/^\S*ping: /, '') };
  if (LOSS.test(output)) return { kind: 'no-reply' };
  return { kind: 'error', message: lines.at(-1) ?? 'ping printed nothing' };
}

function meaningfulLines(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}
