import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.ts';
import type { Prober, ProbeResult, ProbeTarget } from '../core/probe.ts';
import { seedScenario } from '../sim/seed-scenario.ts';
import { DEFAULT_DIRECT_PROBES, DirectProbes } from './direct-probes.ts';

/** Answers every probe at once as healthy and remembers whom it was asked about. */
class RecordingProber implements Prober {
  readonly asked: string[] = [];
  probe(target: ProbeTarget): Promise<ProbeResult> {
    this.asked.push(target.ip);
    return Promise.resolve({
      target: target.ip,
      port: target.port,
      startedAt: new Date().toISOString(),
      durationMs: 1,
      layers: [],
      verdict: { healthy: true, failedLayer: null, summary: 'ok' },
    });
  }
}

async function oneRound(wanted?: (node: string) => boolean): Promise<string[]> {
  const { sim } = seedScenario();
  const prober = new RecordingProber();
  const probes = new DirectProbes(sim, prober, silentLogger, {
    ...DEFAULT_DIRECT_PROBES,
    intervalMs: 60_000,
    ...(wanted ? { wanted } : {}),
  });
  const seen: string[] = [];
  const done = new Promise<void>((resolve) => {
    probes.start((node) => {
      seen.push(node);
      if (seen.length === prober.asked.length) setTimeout(resolve, 20);
    });
  });
  await done;
  probes.stop();
  return seen.sort();
}

describe('DirectProbes', () => {
  it('probes every node with an address by default', async () => {
    const nodes = await oneRound();
    expect(nodes).toHaveLength(5);
  });

  it('probes only the nodes `wanted` asks for (with agents: the uncovered and the troubled)', async () => {
    const nodes = await oneRound((node) => node.endsWith('bkqzq'));
    expect(nodes).toEqual(['tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq']);
  });
});
