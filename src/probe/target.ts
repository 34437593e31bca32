import { isIP } from 'node:net';
import { badInput } from '../core/errors.ts';
import type { ProbeTarget } from '../core/probe.ts';

/** Kubelet's HTTPS port: L4 connects to it and L7 asks it for /healthz. */
export const DEFAULT_KUBELET_PORT = 10250;
/** Per-layer timeout; the seed's engineers used `nc -w 3`. */
export const DEFAULT_TIMEOUT_MS = 3000;
export const MIN_TIMEOUT_MS = 100;
export const MAX_TIMEOUT_MS = 60_000;

/** A target that passed validation; `family` picks `ping -6` and the URL form. */
export interface ValidTarget extends ProbeTarget {
  readonly family: 4 | 6;
}

/**
 * Checks a target before any command or socket sees it: the address must be a
 * literal IPv4/IPv6 address (never a name, never something that starts with `-`),
 * the port a TCP port, the timeout a whole number of milliseconds in range.
 */
export function validateTarget(target: ProbeTarget): ValidTarget {
  const family = isIP(target.ip);
  if (family !== 4 && family !== 6) {
    throw badInput(
      `"${target.ip}" is not an IPv4 or IPv6 address`,
      "pass the node's InternalIP (kubectl get node -o wide shows it), e.g. 10.62.0.30",
    );
  }
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65_535) {
    throw badInput(
      `port ${target.port} is not a TCP port (1-65535)`,
      `kubelet listens on ${DEFAULT_KUBELET_PORT} unless --port was changed in its config`,
    );
  }
  if (
    !Number.isInteger(target.timeoutMs) ||
    target.timeoutMs < MIN_TIMEOUT_MS ||
    target.timeoutMs > MAX_TIMEOUT_MS
  ) {
    throw badInput(
      `timeout ${target.timeoutMs} ms is not a whole number from ${MIN_TIMEOUT_MS} to ${MAX_TIMEOUT_MS}`,
      `use e.g. ${DEFAULT_TIMEOUT_MS} ms per layer`,
    );
  }
  return { ip: target.ip, port: target.port, timeoutMs: target.timeoutMs, family };
}
