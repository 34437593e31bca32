/**
 * Linux capabilities from /proc/<pid>/status. Pure.
 */

/** Bit 13: raw and packet sockets, which arping (and ping without a ping group) need. */
export const CAP_NET_RAW = 13;

/** The `CapEff:` mask, or null when the text has none (not Linux, or not a status file). */
export function parseEffectiveCapabilities(status: string): bigint | null {
  const match = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status);
  return match?.[1] === undefined ? null : BigInt(`0x${match[1]}`);
}

export function hasCapability(mask: bigint, bit: number): boolean {
  return ((mask >> BigInt(bit)) & 1n) === 1n;
}
