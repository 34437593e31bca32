import type { NodeSnapshot } from '../../src/core/cluster.ts';

/** A Ready node with an InternalIP and nothing else, for tests of the plan, the mesh and the agent API. */
export function readyNode(
  name: string,
  ip: string,
  labels: Record<string, string> = {},
): NodeSnapshot {
  return {
    name,
    uid: `uid-${name}`,
    labels,
    annotations: {},
    internalIP: ip,
    providerID: null,
    unschedulable: false,
    taints: [],
    conditions: [{ type: 'Ready', status: 'True' }],
    capacity: {},
    allocatable: {},
    createdAt: '2025-08-25T00:00:00Z',
  };
}
