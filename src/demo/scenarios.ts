import type { SimCluster } from '../sim/sim-cluster.ts';

/**
 * What the demo breaks, and when (simulated minutes after 12:57 KST on
 * 2025-08-25). `recoverAfterMs` brings the node back the way an operator's
 * reboot would; NodeWarden's own remediation ladder replaces that step once
 * it exists.
 */
export type ScenarioName = 'seed' | 'storm' | 'kubelet';

export interface DemoScenario {
  readonly name: ScenarioName;
  readonly title: string;
  /** Break something at `cutAt`. */
  readonly breakIt: (sim: SimCluster, mig: string, survivors: readonly string[]) => string;
  /** Undo it, `recoverAfterMs` later. */
  readonly recoverIt: (sim: SimCluster, mig: string, survivors: readonly string[]) => string;
  readonly recoverAfterMs: number;
}

export const SCENARIOS: Readonly<Record<ScenarioName, DemoScenario>> = {
  seed: {
    name: 'seed',
    title: '2025-08-25: the MIG node loses its network at every layer',
    breakIt: (sim, mig) => {
      sim.cutNode(mig);
      return `${mig} loses its network at L2, L3, L4 and L7, as the seed node did`;
    },
    recoverIt: (sim, mig) => {
      sim.healNode(mig);
      return `${mig} is back after a VM reboot`;
    },
    recoverAfterMs: 4 * 60_000,
  },
  storm: {
    name: 'storm',
    title: 'three of five nodes cut at once: one partition incident, not three node incidents',
    breakIt: (sim, mig, survivors) => {
      const cut = [mig, ...survivors.slice(0, 2)];
      for (const n of cut) sim.cutNode(n);
      return `${cut.length} nodes cut at once: ${cut.join(', ')}`;
    },
    recoverIt: (sim, mig, survivors) => {
      for (const n of [mig, ...survivors.slice(0, 2)]) sim.healNode(n);
      return 'the switch comes back; all three nodes answer again';
    },
    recoverAfterMs: 3 * 60_000,
  },
  kubelet: {
    name: 'kubelet',
    title: 'kubelet dies on the MIG node: the host answers, port 10250 refuses',
    breakIt: (sim, mig) => {
      sim.stopKubelet(mig);
      return `kubelet on ${mig} is killed (ECONNREFUSED on :10250; ARP and ICMP still answer)`;
    },
    recoverIt: (sim, mig) => {
      sim.healNode(mig);
      return `kubelet on ${mig} is restarted`;
    },
    recoverAfterMs: 2 * 60_000,
  },
};
