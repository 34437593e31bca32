import { probeVerdict, type ProbeResult } from '../core/probe.ts';
import { probeIcmp } from '../probe/icmp-probe.ts';
import { validateTarget } from '../probe/target.ts';

/**
 * A one-layer ICMP result from this host: infrastructure reference points
 * (the node's gateway, the OVN gateway) are pinged, not probed at L4/L7.
 * Used as the network collector's `pinger` by `nodewarden diagnose` and the
 * controller, which both ping from where they run.
 */
export async function pingFromHere(
  ip: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const target = validateTarget({ ip, port: 1, timeoutMs });
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const layer = await probeIcmp(target, signal);
  return {
    target: ip,
    port: 0,
    startedAt,
    durationMs: Math.round(performance.now() - started),
    layers: [layer],
    verdict: probeVerdict([layer]),
  };
}
