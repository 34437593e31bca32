import {
  probeVerdict,
  type LayerResult,
  type Prober,
  type ProbeResult,
  type ProbeTarget,
} from '../core/probe.ts';
import { probeArp } from './arp-probe.ts';
import { probeHttps } from './https-probe.ts';
import { probeIcmp } from './icmp-probe.ts';
import { validateTarget } from './target.ts';
import { probeTcp } from './tcp-probe.ts';

export interface LinuxProberOptions {
  /** Wall clock for `startedAt`; tests pass a fixed one. */
  readonly now?: () => Date;
}

/**
 * Probes one target from this host's network namespace at L2, L3, L4 and L7
 * at once, each layer under its own `timeoutMs`, so a whole probe takes about
 * one timeout (plus the neighbour read, which waits for L3/L4 on purpose).
 * Needs iputils ping and arping and iproute2; a missing tool or capability
 * makes that layer `skipped`, never a false failure.
 */
export class LinuxProber implements Prober {
  private readonly now: () => Date;

  constructor(options: LinuxProberOptions = {}) {
    this.now = options.now ?? (() => new Date());
  }

  /** Rejects with BAD_INPUT for an invalid target, and with the signal's reason when aborted. */
  async probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult> {
    const valid = validateTarget(target);
    signal?.throwIfAborted();
    const startedAt = this.now().toISOString();
    const started = performance.now();
    const l3 = probeIcmp(valid, signal);
    const l4 = probeTcp(valid, signal);
    const l7 = probeHttps(valid, signal);
    // The neighbour entry is read once L3/L4 have tried to reach the target,
    // because their packets are what make the kernel resolve it.
    const l2 = probeArp(valid, Promise.allSettled([l3, l4]), signal);
    const layers: LayerResult[] = await Promise.all([l2, l3, l4, l7]);
    signal?.throwIfAborted();
    return {
      target: valid.ip,
      port: valid.port,
      startedAt,
      durationMs: performance.now() - started,
      layers,
      verdict: probeVerdict(layers),
    };
  }
}
