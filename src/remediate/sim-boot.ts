import type { FakeCloud } from '../cloud/fake/fake-cloud.ts';
import { parseProviderID } from '../core/cloud.ts';
import type { SimCluster } from '../sim/sim-cluster.ts';

/**
 * Connects FakeCloud's reboots to the simulated cluster: when a reboot of a
 * node's VM finishes (FakeCloud `bootDelayMs`), the node's faults clear as a
 * rebooted machine's would and its kubelet renews again. The demo and the
 * executor tests use it so that a remediation's reboot brings the node back.
 */
export function healSimNodeOnBoot(cloud: FakeCloud, sim: SimCluster): void {
  cloud.onBoot((serverId) => {
    const node = sim.truth
      .nodes()
      .find((n) => n.providerID !== null && parseProviderID(n.providerID).serverId === serverId);
    if (node !== undefined) sim.healNode(node.name);
  });
}
