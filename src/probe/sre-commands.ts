/**
 * The commands an SRE would type for the same check as each layer, as in the
 * 2025-08-25 report's "Commands and what they returned". They are shown, never
 * run: the prober itself runs argument arrays (see the *-probe.ts files).
 * Pure.
 */

/** Whole seconds, at least 1: what `arping -w` and `nc -w` accept. */
export function wholeSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Seconds as `ping -W` takes them; iputils accepts fractions (`-W 0.5`). */
export function fractionalSeconds(ms: number): string {
  return String(Math.round(ms) / 1000);
}

function hostInUrl(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

export const sreCommands = {
  arping: (ip: string, dev: string, timeoutMs: number): string =>
    `arping -c 1 -w ${wholeSeconds(timeoutMs)} -I ${dev} ${ip}`,
  routeGet: (ip: string): string => `ip route get ${ip}`,
  neighbour: (ip: string, dev: string): string => `ip neigh show ${ip} dev ${dev}`,
  ping: (ip: string, timeoutMs: number): string =>
    `ping ${ip.includes(':') ? '-6 ' : ''}-c 1 -W ${fractionalSeconds(timeoutMs)} ${ip}`,
  nc: (ip: string, port: number, timeoutMs: number): string =>
    `nc -vz -w ${wholeSeconds(timeoutMs)} ${ip} ${port}`,
  curl: (ip: string, port: number): string => `curl -sk https://${hostInUrl(ip)}:${port}/healthz`,
};
