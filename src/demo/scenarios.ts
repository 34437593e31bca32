import type { RemediationMode } from '../core/remediation-policy.ts';
import type { SimCluster } from '../sim/sim-cluster.ts';

/**
 * What the demo breaks, and when (simulated minutes after 12:57 KST on
 * 2025-08-25), and how it comes back: through NodeWarden's remediation
 * ladder (the executor rebooting the VM through FakeCloud; the node returns
 * after the boot delay), or — where the ladder rightly does nothing (a
 * storm, held by the brakes; a cause without a ladder) — `recoverAfterMs`
 * later, the way the network or an operator would bring it back.
 */
export type ScenarioName = 'seed' | 'storm' | 'kubelet' | 'approve';

export interface DemoScenario {
  readonly name: ScenarioName;
  readonly title: string;
  /** Break something at `cutAt`. */
  readonly breakIt: (sim: SimCluster, mig: string, survivors: readonly string[]) => string;
  /** Undo it, `recoverAfterMs` later; null: only remediation brings it back. */
  readonly recoverIt: (sim: SimCluster, mig: string, survivors: readonly string[]) => string;
  readonly recoverAfterMs: number | null;
  /** The remediation ladder's mode in this scenario. */
  readonly remediation: RemediationMode;
}

const seedBreak = (sim: SimCluster, mig: string): string => {
  sim.cutNode(mig);
  return `${mig} loses its network at L2, L3, L4 and L7, as the seed node did`;
};

export const SCENARIOS: Readonly<Record<ScenarioName, DemoScenario>> = {
  seed: {
    name: 'seed',
    title:
      '2025-08-25: the MIG node loses its network at every layer; NodeWarden reboots it (remediation auto)',
    breakIt: seedBreak,
    recoverIt: () => '',
    recoverAfterMs: null,
    remediation: 'auto',
  },
  approve: {
    name: 'approve',
    title:
      "the seed failure with remediation mode approve: each step that changes something waits for a person (the dashboard's Approve button)",
    breakIt: seedBreak,
    recoverIt: () => '',
    recoverAfterMs: null,
    remediation: 'approve',
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
    // The ladder is on; the brakes (3 of 5 unhealthy, a partition open) must hold it.
    remediation: 'auto',
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
    // KUBELET_DOWN has no ladder: restarting a kubelet is not a reboot's job.
    remediation: 'auto',
  },
};
