import { probeVerdict, type Prober, type ProbeResult, type ProbeTarget } from '../core/probe.ts';
import { validateTarget } from '../probe/target.ts';
import { probeTcp } from '../probe/tcp-probe.ts';

/**
 * The agent's cheap probe, run every tick: one TCP connect to kubelet's port
 * (L4 only), no child process. A refused or timed-out connect is what makes
 * the agent escalate to the full L2–L7 LinuxProber probe.
 */
export class ConnectProber implements Prober {
  constructor(private readonly now: () => Date = () => new Date()) {}

  async probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult> {
    const valid = validateTarget(target);
    signal?.throwIfAborted();
    const startedAt = this.now().toISOString();
    const started = performance.now();
    const l4 = await probeTcp(valid, signal);
    signal?.throwIfAborted();
    return {
      target: valid.ip,
      port: valid.port,
      startedAt,
      durationMs: performance.now() - started,
      layers: [l4],
      verdict: probeVerdict([l4]),
    };
  }
}
