import { describe, expect, it } from 'vitest';
import { nodeUse, percent1, podRequests } from './resources.ts';
import { SEED_MIG_BEFORE, SEED_SURVIVORS_AFTER, seedScenario } from './seed-scenario.ts';

function table(
  sim: ReturnType<typeof seedScenario>['sim'],
  nodes: readonly string[],
): Record<string, number[]> {
  const pods = sim.truth.pods();
  return Object.fromEntries(
    nodes.map((name) => {
      const node = sim.truth.node(name);
      if (node === undefined) throw new Error(`no node ${name}`);
      const use = nodeUse(node, pods);
      return [
        name,
        [use.cpu.requestsPct, use.cpu.limitsPct, use.memory.requestsPct, use.memory.limitsPct].map(
          percent1,
        ),
      ];
    }),
  );
}

describe('seedScenario: the 2025-08-25 cluster', () => {
  it('has the seed nodes at the lab addresses, the clock at 12:57 KST', () => {
    const { clock, sim, mig, survivors } = seedScenario();
    expect(new Date(clock.now()).toISOString()).toBe('2025-08-25T03:57:00.000Z');
    expect(sim.truth.node(mig)).toMatchObject({
      internalIP: '10.62.0.30',
      labels: { 'node-role': 'mig' },
    });
    expect(survivors.map((s) => sim.truth.node(s)?.internalIP)).toEqual([
      '10.62.0.10',
      '10.62.0.11',
      '10.62.0.12',
      '10.62.0.13',
    ]);
  });

  it("shows the MIG node's requests/limits before the failure: CPU 14%/69%, memory 7%/22%", () => {
    const { sim, mig } = seedScenario();
    expect(table(sim, [mig])[mig]).toEqual([...SEED_MIG_BEFORE.cpu, ...SEED_MIG_BEFORE.memory]);
  });

  it("shows the seed's table on the survivors once the MIG node's pods have moved", () => {
    const { clock, sim, mig, survivors, cutAt } = seedScenario();
    const before = table(sim, survivors);
    clock.advanceTo(cutAt);
    sim.cutNode(mig);
    // Last renewal 03:58:02.5; NotReady at the 03:58:55 pass; eviction 300 s later.
    clock.advanceTo(Date.parse('2025-08-25T04:03:54Z'));
    expect(table(sim, survivors)).toEqual(before);
    clock.advanceTo(Date.parse('2025-08-25T04:04:00Z'));
    const after = table(sim, survivors);
    expect(after).toEqual(
      Object.fromEntries(
        survivors.map((s) => [
          s,
          [...(SEED_SURVIVORS_AFTER[s]?.cpu ?? []), ...(SEED_SURVIVORS_AFTER[s]?.memory ?? [])],
        ]),
      ),
    );
    // LeastAllocated spread the seven movable pods over the two roomiest nodes (docs/detection.md).
    const moved = sim.truth
      .pods()
      .filter((p) => p.ownerKind === 'ReplicaSet' && p.nodeName !== mig && p.nodeName !== null)
      .map((p) => `${p.ownerName ?? ''} → ${p.nodeName?.slice(-5) ?? ''}`)
      .sort();
    expect(moved).toEqual(
      [
        'feature-store-6f4c8b → 9f79t',
        'kube-state-metrics-69b8f → 85zt7',
        'preprocess-5b8f7d → 85zt7',
        'preprocess-5b8f7d → 9f79t',
        'redis-cache-84d7c5 → 85zt7',
        'resource-backend-api-7c9d6f → 85zt7',
        'resource-backend-api-7c9d6f → 9f79t',
      ].sort(),
    );
  });

  it('leaves the MIG workloads Pending (no other node has MIG slices) and its DaemonSet pods in place', () => {
    const { clock, sim, mig, cutAt } = seedScenario();
    clock.advanceTo(cutAt);
    sim.cutNode(mig);
    clock.advance(7 * 60_000);
    const pending = sim.truth
      .pods()
      .filter((p) => p.ownerName === 'llm-infer-mig-7d5b9c' && p.deletionTimestamp === null);
    expect(pending.map((p) => [p.nodeName, p.phase])).toEqual([
      [null, 'Pending'],
      [null, 'Pending'],
    ]);
    expect(podRequests(pending[0] ?? pending[1] ?? ({} as never))['nvidia.com/mig-1g.10gb']).toBe(
      1,
    );
    const failed = sim.truth.events().filter((e) => e.reason === 'FailedScheduling');
    expect(failed[0]?.message).toBe(
      "0/5 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 4 node(s) didn't match Pod's node affinity/selector.",
    );
    const onMig = sim.truth.pods().filter((p) => p.nodeName === mig);
    expect(onMig.filter((p) => p.deletionTimestamp === null).map((p) => p.ownerKind)).toEqual(
      Array(6).fill('DaemonSet'),
    );
    // The notebook had no owner: gone for good once evicted (Terminating, never recreated).
    expect(
      sim.truth
        .pods()
        .filter((p) => p.name.startsWith('jupyter-mig'))
        .map((p) => p.deletionTimestamp),
    ).toEqual(['2025-08-25T04:03:55.000Z']);
  });
});
