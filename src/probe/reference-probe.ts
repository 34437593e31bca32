import type { ReferenceAddress } from '../core/evidence.ts';
import { probeVerdict, type LayerResult, type ProbeResult } from '../core/probe.ts';
import { probeIcmp } from './icmp-probe.ts';
import { validateTarget } from './target.ts';
import { probeTcp } from './tcp-probe.ts';

/**
 * Probes an infrastructure reference point (the node's gateway, the OVN
 * gateway) from this host's network namespace: L3 (`ping -c 1`) and, with a
 * port, L4 (`nc -vz`) at once, each under `timeoutMs`. Not L2 (a routed
 * gateway is not on every observer's link) and not L7 (a gateway serves no
 * kubelet). The result's `port` is 0 when no port was given. Used by the
 * agent for `probe-references` directives and by the controller and
 * `nodewarden diagnose` when they probe from where they run.
 */
export async function probeReference(
  address: ReferenceAddress,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const target = validateTarget({ ip: address.ip, port: address.port ?? 1, timeoutMs });
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const layers: LayerResult[] = await Promise.all([
    probeIcmp(target, signal),
    ...(address.port === undefined ? [] : [probeTcp(target, signal)]),
  ]);
  return {
    target: target.ip,
    port: address.port ?? 0,
    startedAt,
    durationMs: Math.round(performance.now() - started),
    layers,
    verdict: probeVerdict(layers),
  };
}
