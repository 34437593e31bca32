import { describe, expect, it } from 'vitest';
import type { ApiConnection } from './cluster.ts';
import {
  clusterDetectionConfig,
  detectCluster,
  detectClusterChanges,
  type ClusterDetectionState,
  type ClusterEvaluation,
} from './detection-cluster.ts';
import type { NodeInput, ProbeObservation, Transition } from './detection.ts';
import { NodeWardenError } from './errors.ts';

const T0 = Date.parse('2025-08-25T03:58:00Z');
const names = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `node-${String(i).padStart(2, '0')}`);

function connected(now: number): ApiConnection {
  return { connected: true, lastContactAt: new Date(now).toISOString(), error: null };
}

/** Every node renews at `renew[node]` (default: fresh, one second ago). */
function inputs(
  nodes: readonly string[],
  now: number,
  renew: Readonly<Record<string, number>> = {},
): NodeInput[] {
  return nodes.map((node) => ({
    node,
    lease: { renewTime: renew[node] ?? now - 1000, durationSeconds: 40 },
    ready: 'True',
    observations: [],
  }));
}

/**
 * Evaluates at each instant in turn, carrying the state. Without a start
 * state, the controller has been watching a healthy cluster for two minutes
 * first (Lease age only counts from when the controller could see renewals).
 */
function run(
  steps: readonly { at: number; nodes: NodeInput[]; connection?: ApiConnection }[],
  start: ClusterDetectionState | null = null,
): ClusterEvaluation[] {
  let state = start;
  const first = steps[0];
  if (state === null && first !== undefined) {
    const at = first.at - 120_000;
    const warm = inputs(
      first.nodes.map((n) => n.node),
      at,
    );
    state = detectCluster(null, { connection: connected(at), nodes: warm }, at).state;
  }
  return steps.map((step) => {
    const r = detectCluster(
      state,
      { connection: step.connection ?? connected(step.at), nodes: step.nodes },
      step.at,
    );
    state = r.state;
    return r;
  });
}

describe('detectCluster: storms', () => {
  it('3 of 5 nodes failing together form one partition, before any of them is Down', () => {
    const nodes = names(5);
    const cut = { 'node-00': T0, 'node-01': T0, 'node-02': T0 };
    const [r] = run([{ at: T0 + 20_500, nodes: inputs(nodes, T0 + 20_500, cut) }]);
    expect(r?.situation).toBe('partition');
    expect(r?.partitionChange).toBe('formed');
    expect(r?.state.partition?.nodes).toEqual(['node-00', 'node-01', 'node-02']);
    expect(r?.state.partition?.reason).toBe(
      '3 of 5 nodes began failing within 0 s of each other (storm threshold 3)',
    );
    expect([...(r?.state.nodes.values() ?? [])].filter((s) => s.health === 'Down')).toHaveLength(0);
  });

  it('2 of 5 are two node problems, not a partition', () => {
    const nodes = names(5);
    const [r] = run([
      { at: T0 + 41_000, nodes: inputs(nodes, T0 + 41_000, { 'node-00': T0, 'node-01': T0 }) },
    ]);
    expect(r?.situation).toBe('normal');
    expect(r?.state.partition).toBeNull();
    expect(r?.state.nodes.get('node-00')?.health).toBe('Down');
  });

  it('needs 30% of a large cluster: 5 of 20 is not a storm, 6 of 20 is', () => {
    const nodes = names(20);
    const cut = (n: number): Record<string, number> =>
      Object.fromEntries(nodes.slice(0, n).map((x) => [x, T0]));
    expect(
      run([{ at: T0 + 21_000, nodes: inputs(nodes, T0 + 21_000, cut(5)) }])[0]?.situation,
    ).toBe('normal');
    const six = run([{ at: T0 + 21_000, nodes: inputs(nodes, T0 + 21_000, cut(6)) }])[0];
    expect(six?.situation).toBe('partition');
    expect(six?.state.partition?.reason).toMatch(/storm threshold 6/);
  });

  it('failures spread wider than the window are separate problems', () => {
    const nodes = names(5);
    // Three nodes die 40 s apart: each turns Suspect long after the previous one.
    const renew = { 'node-00': T0, 'node-01': T0 + 40_000, 'node-02': T0 + 80_000 };
    const steps = [T0 + 21_000, T0 + 61_000, T0 + 101_000].map((at) => ({
      at,
      nodes: inputs(nodes, at, renew),
    }));
    const results = run(steps);
    expect(results.map((r) => r.situation)).toEqual(['normal', 'normal', 'normal']);
  });

  it('a node that starts failing within the window joins; the partition ends when all are Healthy', () => {
    const nodes = names(5);
    const cut: Record<string, number> = { 'node-00': T0, 'node-01': T0, 'node-02': T0 };
    const formed = run([{ at: T0 + 21_000, nodes: inputs(nodes, T0 + 21_000, cut) }]);
    const joined = run(
      [{ at: T0 + 45_000, nodes: inputs(nodes, T0 + 45_000, { ...cut, 'node-03': T0 + 20_000 }) }],
      formed[0]?.state ?? null,
    );
    expect(joined[0]?.partitionChange).toBe('grown');
    expect(joined[0]?.state.partition?.nodes).toEqual(['node-00', 'node-01', 'node-02', 'node-03']);

    // Everyone renews again: Down members become Recovering (partition stays), then Healthy after 60 s.
    const back = T0 + 100_000;
    const healed = run(
      [
        { at: back, nodes: inputs(nodes, back) },
        { at: back + 30_000, nodes: inputs(nodes, back + 30_000) },
        { at: back + 60_000, nodes: inputs(nodes, back + 60_000) },
      ],
      joined[0]?.state ?? null,
    );
    expect(healed.map((r) => r.situation)).toEqual(['partition', 'partition', 'normal']);
    expect(healed[2]?.partitionChange).toBe('ended');
  });
});

describe('detectCluster: the controller losing the API server', () => {
  it('is one control-plane-side situation; stale Leases make no node Down', () => {
    const nodes = names(5);
    const lost: ApiConnection = {
      connected: false,
      lastContactAt: new Date(T0).toISOString(),
      error: 'dial tcp 10.62.0.1:6443: i/o timeout',
    };
    // The view froze at T0: every Lease looks 2 minutes old.
    const frozen = Object.fromEntries(nodes.map((n) => [n, T0 - 1000]));
    const results = run(
      [T0 + 30_000, T0 + 60_000, T0 + 120_000].map((at) => ({
        at,
        nodes: inputs(nodes, at, frozen),
        connection: lost,
      })),
    );
    for (const r of results) {
      expect(r.situation).toBe('control-plane-side');
      expect(r.state.api.trusted).toBe(false);
      expect(r.state.api.reason).toBe(
        'the controller cannot reach the API server: dial tcp 10.62.0.1:6443: i/o timeout',
      );
      expect([...r.state.nodes.values()].every((s) => s.health === 'Healthy')).toBe(true);
      expect(r.state.partition).toBeNull();
    }
    expect(results[2]?.state.api.since).toBe(T0 + 30_000);
  });

  it('a silent connection counts as lost after apiStaleAfterMs, and the evaluation wakes up then', () => {
    const nodes = names(3);
    const quiet: ApiConnection = {
      connected: true,
      lastContactAt: new Date(T0).toISOString(),
      error: null,
    };
    const [fresh] = run([{ at: T0 + 5000, nodes: inputs(nodes, T0 + 5000), connection: quiet }]);
    expect(fresh?.state.api.trusted).toBe(true);
    expect(fresh?.nextCheckAt).toBeLessThanOrEqual(T0 + 20_001);
    const [stale] = run([
      { at: T0 + 20_001, nodes: inputs(nodes, T0 + 20_001), connection: quiet },
    ]);
    expect(stale?.state.api.reason).toBe(
      'the controller has heard nothing from the API server for 20 s',
    );
    const [never] = run([
      {
        at: T0,
        nodes: inputs(nodes, T0),
        connection: { connected: true, lastContactAt: null, error: null },
      },
    ]);
    expect(never?.situation).toBe('control-plane-side');
  });
});

describe('clusterDetectionConfig', () => {
  it('refuses storm settings that would turn single failures into partitions', () => {
    expect(() => clusterDetectionConfig({ stormMinNodes: 1 })).toThrow(/stormMinNodes=1/);
    expect(() => clusterDetectionConfig({ stormFraction: 0 })).toThrow(NodeWardenError);
    expect(() => clusterDetectionConfig({ stormWindowMs: -5 })).toThrow(/stormWindowMs=-5/);
    expect(clusterDetectionConfig({ stormMinNodes: 4 }).stormMinNodes).toBe(4);
  });
});

describe('detectCluster: the API server itself was down', () => {
  // Five nodes that last renewed 2 s before kube-apiserver froze at T0.
  const nodes = names(5);
  const frozenAt = T0;
  const stale = Object.fromEntries(nodes.map((n) => [n, frozenAt - 2_000]));
  const down: ApiConnection = {
    connected: false,
    lastContactAt: new Date(frozenAt).toISOString(),
    error: 'timeout',
  };

  it('Leases that could not be renewed while the API server was frozen are no evidence once it returns', () => {
    const results = run([
      { at: frozenAt + 10_000, nodes: inputs(nodes, frozenAt + 10_000, stale), connection: down },
      { at: frozenAt + 30_000, nodes: inputs(nodes, frozenAt + 30_000, stale), connection: down },
      // Back: every Lease is 32 s old, none renewed yet.
      { at: frozenAt + 32_000, nodes: inputs(nodes, frozenAt + 32_000, stale) },
      { at: frozenAt + 40_000, nodes: inputs(nodes, frozenAt + 40_000, stale) },
      // Kubelets renew within one period of the API server's return.
      { at: frozenAt + 42_000, nodes: inputs(nodes, frozenAt + 42_000) },
    ]);
    for (const r of results) {
      expect(r.transitions, JSON.stringify(r.transitions)).toHaveLength(0);
      expect(r.state.partition).toBeNull();
    }
    expect(results[0]?.situation).toBe('control-plane-side');
    expect(results[2]?.situation).toBe('normal');
  });

  it("Kubernetes' own Unknown right after the API server returns is no evidence while kubelets catch up", () => {
    // The node lifecycle controller marks every node Unknown 2 s after the return;
    // the kubelets, in retry back-off, get their renewals through 14 s after it.
    const unknown = (at: number, renew: Record<string, number> = stale): NodeInput[] =>
      inputs(nodes, at, renew).map((n) => ({ ...n, ready: 'Unknown' }));
    const results = run([
      { at: frozenAt + 30_000, nodes: inputs(nodes, frozenAt + 30_000, stale), connection: down },
      { at: frozenAt + 31_000, nodes: inputs(nodes, frozenAt + 31_000, stale) },
      { at: frozenAt + 33_000, nodes: unknown(frozenAt + 33_000) },
      { at: frozenAt + 43_000, nodes: unknown(frozenAt + 43_000) },
      { at: frozenAt + 45_000, nodes: unknown(frozenAt + 45_000, {}) },
      { at: frozenAt + 47_000, nodes: inputs(nodes, frozenAt + 47_000) },
    ]);
    for (const r of results) {
      expect(r.transitions, JSON.stringify(r.transitions)).toHaveLength(0);
      expect(r.state.partition).toBeNull();
    }
    // A kubelet that never comes back is still caught: its Lease ages past the grace period.
    const never = run([
      { at: frozenAt + 30_000, nodes: inputs(nodes, frozenAt + 30_000, stale), connection: down },
      { at: frozenAt + 31_000, nodes: unknown(frozenAt + 31_000) },
      { at: frozenAt + 72_000, nodes: unknown(frozenAt + 72_000) },
    ]);
    expect(never[2]?.state.partition?.nodes).toEqual(nodes);
  });
});

describe('detectClusterChanges: incremental evaluation', () => {
  /** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
  function random(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
  }

  /**
   * A cluster whose nodes renew, stop renewing, flip Ready, get failing or
   * passing probes and leave, and whose API connection drops — evaluated
   * both ways at the same instants: in full, and incrementally with only the
   * nodes whose evidence changed named. They must agree on every transition
   * and every node's state; the incremental one must look at fewer nodes.
   */
  it.each([1, 2, 3, 4, 5])('agrees with a full evaluation on every step (seed %i)', (seed) => {
    const next = random(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
    const evidence = new Map<string, NodeInput>();
    for (const node of names(40)) {
      evidence.set(node, {
        node,
        lease: { renewTime: T0 - 1000, durationSeconds: 40 },
        ready: 'True',
        observations: [],
      });
    }
    let now = T0;
    let full: ClusterEvaluation = detectCluster(
      null,
      { connection: connected(now), nodes: [...evidence.values()] },
      now,
    );
    let incremental: ClusterEvaluation = full;
    let contact = now;
    let connection: ApiConnection = connected(now);
    let fullTransitions: Transition[] = [];
    let incrementalTransitions: Transition[] = [];
    let fullNodes = 0;
    let incrementalNodes = 0;
    const silent = new Set<string>();
    for (let step = 0; step < 400; step++) {
      // Sometimes exactly when the incremental evaluation asked to look again.
      const wake = incremental.nextCheckAt;
      now = next() < 0.3 && wake > now ? wake : now + Math.floor(next() * 3_000) + 1;
      const changed = new Set<string>();
      const touch = (node: string, patch: Partial<NodeInput>): void => {
        const was = evidence.get(node);
        if (was === undefined) return;
        evidence.set(node, { ...was, ...patch });
        changed.add(node);
      };
      const alive = [...evidence.keys()];
      for (const node of alive) {
        // Healthy kubelets renew every ~10 s; silenced ones do not.
        const lease = evidence.get(node)?.lease;
        if (!silent.has(node) && lease?.renewTime != null && now - lease.renewTime >= 10_000) {
          touch(node, {
            lease: { renewTime: now - Math.floor(next() * 500), durationSeconds: 40 },
          });
        }
      }
      const roll = next();
      const node = pick(alive);
      if (roll < 0.08) silent.add(node);
      else if (roll < 0.14) silent.delete(node);
      else if (roll < 0.2) touch(node, { ready: pick(['True', 'False', 'Unknown'] as const) });
      else if (roll < 0.45) {
        const observer = pick(['agent-a', 'agent-b', 'agent-c']);
        const healthy = next() < 0.5;
        const observation: ProbeObservation = {
          observer,
          startedAt: now - 200,
          at: now,
          healthy,
          failedLayer: healthy ? null : pick(['L2', 'L3', 'L4', 'L7'] as const),
          detail: healthy ? 'ok' : 'no reply',
        };
        const kept = (evidence.get(node)?.observations ?? []).filter((o) => o.at > now - 10_000);
        touch(node, { observations: [...kept, observation] });
      } else if (roll < 0.47 && alive.length > 30) {
        evidence.delete(node);
      }
      if (next() < 0.03) {
        connection = {
          connected: false,
          lastContactAt: new Date(contact).toISOString(),
          error: 'cut',
        };
      } else if (!connection.connected && next() < 0.3) {
        connection = connected(now);
      }
      if (connection.connected) {
        contact = now;
        connection = connected(now);
      }

      full = detectCluster(full.state, { connection, nodes: [...evidence.values()] }, now);
      const byName = new Map(evidence);
      incremental = detectClusterChanges(
        incremental.state,
        {
          connection,
          names: byName.keys(),
          changed,
          input: (name) => byName.get(name) as NodeInput,
        },
        now,
      );
      fullNodes += full.evaluated;
      incrementalNodes += incremental.evaluated;
      fullTransitions = [...fullTransitions, ...full.transitions];
      incrementalTransitions = [...incrementalTransitions, ...incremental.transitions];
      expect(incremental.transitions, `step ${step} at +${now - T0} ms`).toEqual(full.transitions);
      expect(incremental.state.nodes).toEqual(full.state.nodes);
      expect(incremental.state.api).toEqual(full.state.api);
      expect(incremental.state.partition).toEqual(full.state.partition);
      expect(incremental.situation).toBe(full.situation);
      // It may look again sooner (a due time from an earlier step), never later.
      expect(incremental.nextCheckAt).toBeLessThanOrEqual(full.nextCheckAt);
    }
    // The scenario exercised the machine, and incrementality paid.
    expect(new Set(fullTransitions.map((t) => t.to)).size).toBeGreaterThanOrEqual(3);
    expect(incrementalTransitions).toHaveLength(fullTransitions.length);
    expect(incrementalNodes).toBeLessThan(fullNodes / 2);
  });

  it('evaluates only changed and due nodes, and every node when the API trust changes', () => {
    const nodes = names(50);
    const first = detectCluster(null, { connection: connected(T0), nodes: inputs(nodes, T0) }, T0);
    expect(first.evaluated).toBe(50);
    const byName = new Map(inputs(nodes, T0 + 1000).map((n) => [n.node, n]));
    const changes = (changed: ReadonlySet<string>, connection: ApiConnection) => ({
      connection,
      names: nodes,
      changed,
      input: (name: string) => byName.get(name) as NodeInput,
    });
    const one = detectClusterChanges(
      first.state,
      changes(new Set(['node-07']), connected(T0 + 1000)),
      T0 + 1000,
    );
    expect(one.evaluated).toBe(1);
    const none = detectClusterChanges(
      one.state,
      changes(new Set(), connected(T0 + 1500)),
      T0 + 1500,
    );
    expect(none.evaluated).toBe(0);
    const cut = detectClusterChanges(
      none.state,
      changes(new Set(), { connected: false, lastContactAt: null, error: 'cut' }),
      T0 + 2000,
    );
    expect(cut.situation).toBe('control-plane-side');
    expect(cut.evaluated).toBe(50);
  });
});
