import { describe, expect, it } from 'vitest';
import type { ClusterChange, PodSnapshot } from '../core/cluster.ts';
import { ManualClock } from '../core/clock.ts';
import type { NodeWardenError } from '../core/errors.ts';
import type { ProbeResult } from '../core/probe.ts';
import { SimCluster } from './sim-cluster.ts';

const START = '2025-08-25T03:57:00Z';
const TARGET = { port: 10250, timeoutMs: 3000 };

/** Three small workers and one node to break, all renewing at T0 (the moment they are added). */
function small(): { clock: ManualClock; sim: SimCluster } {
  const clock = new ManualClock(START);
  const sim = new SimCluster(clock);
  const workers = ['w1', 'w2', 'w3'];
  workers.forEach((name, i) => {
    sim.addNode({ name, ip: `10.62.0.${10 + i}`, allocatable: { cpu: '4', memory: '8Gi' } });
  });
  sim.addNode({ name: 'victim', ip: '10.62.0.30', allocatable: { cpu: '4', memory: '8Gi' } });
  sim.addPod({
    namespace: 'app',
    name: 'web-abcde',
    node: 'victim',
    owner: { kind: 'ReplicaSet', name: 'web' },
    containers: [{ name: 'web', requests: { cpu: '1', memory: '1Gi' } }],
  });
  sim.addPod({
    namespace: 'app',
    name: 'db-0',
    node: 'victim',
    owner: { kind: 'StatefulSet', name: 'db' },
    containers: [{ name: 'db', requests: { cpu: '500m', memory: '1Gi' } }],
  });
  sim.addPod({
    namespace: 'kube-system',
    name: 'ovs-ovn-victim',
    node: 'victim',
    owner: { kind: 'DaemonSet', name: 'ovs-ovn' },
    containers: [{ name: 'ovs', requests: { cpu: '100m' } }],
  });
  sim.addPod({
    namespace: 'app',
    name: 'impatient',
    node: 'victim',
    containers: [{ name: 'x' }],
    tolerations: [
      {
        key: 'node.kubernetes.io/unreachable',
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: 30,
      },
    ],
  });
  return { clock, sim };
}

function pod(sim: SimCluster, name: string): PodSnapshot | undefined {
  return sim.truth.pods().find((p) => p.name === name);
}

async function probe(
  sim: SimCluster,
  clock: ManualClock,
  observer: string,
  ip: string,
): Promise<ProbeResult> {
  const pending = sim.prober(observer).probe({ ip, ...TARGET });
  await clock.advanceAsync(TARGET.timeoutMs);
  return pending;
}

describe('SimCluster: Kubernetes timing for a node that goes dark', () => {
  it('renews Leases every 10 s while alive', () => {
    const { clock, sim } = small();
    clock.advance(25_000);
    expect(sim.lease('w1')?.renewTime).toBe('2025-08-25T03:57:20.000Z');
  });

  it('NotReady 50–55 s after the last renewal, tainted, pods evicted 300 s later and recreated elsewhere', () => {
    const { clock, sim } = small();
    clock.advance(12_000); // renewed at 03:57:10
    sim.cutNode('victim');
    clock.advance(50_000); // 03:58:02: 52 s since the last renewal, before the 03:58:05 monitor pass
    expect(sim.node('victim')?.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    clock.advance(3000); // 03:58:05: the node lifecycle controller's pass
    const node = sim.node('victim');
    const ready = node?.conditions.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({
      status: 'Unknown',
      reason: 'NodeStatusUnknown',
      lastTransitionTime: '2025-08-25T03:58:05.000Z',
    });
    expect(node?.conditions.every((c) => c.status === 'Unknown')).toBe(true);
    expect(node?.taints.map((t) => `${t.key}:${t.effect}@${t.timeAdded ?? ''}`)).toEqual([
      'node.kubernetes.io/unreachable:NoSchedule@2025-08-25T03:58:05.000Z',
      'node.kubernetes.io/unreachable:NoExecute@2025-08-25T03:58:05.000Z',
    ]);
    expect(
      sim.events().some((e) => e.reason === 'NodeNotReady' && e.involvedName === 'victim'),
    ).toBe(true);

    clock.advance(30_000); // a 30 s toleration runs out first
    expect(pod(sim, 'impatient')?.deletionTimestamp).toBe('2025-08-25T03:58:35.000Z');
    expect(pod(sim, 'web-abcde')?.deletionTimestamp).toBeNull();

    clock.advance(270_000); // 300 s after the taint
    expect(pod(sim, 'web-abcde')?.deletionTimestamp).toBe('2025-08-25T04:03:05.000Z');
    expect(pod(sim, 'db-0')?.deletionTimestamp).toBe('2025-08-25T04:03:05.000Z');
    // DaemonSet pods tolerate unreachable forever.
    expect(pod(sim, 'ovs-ovn-victim')?.deletionTimestamp).toBeNull();
    // The dead kubelet never confirms: evicted pods stay Terminating on the node.
    expect(pod(sim, 'web-abcde')?.nodeName).toBe('victim');
    // The ReplicaSet recreates its pod on a Ready node; the StatefulSet waits for the name.
    const web = sim.truth
      .pods()
      .filter((p) => p.ownerName === 'web' && p.deletionTimestamp === null);
    expect(web).toHaveLength(1);
    expect(web[0]?.nodeName).toMatch(/^w[123]$/);
    expect(web[0]?.phase).toBe('Running');
    expect(web[0]?.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(sim.truth.pods().filter((p) => p.ownerName === 'db')).toHaveLength(1);
  });

  it('a healed node renews, turns Ready, loses its taints, and finishes deleting evicted pods', () => {
    const { clock, sim } = small();
    sim.cutNode('victim');
    clock.advance(400_000);
    expect(pod(sim, 'web-abcde')?.deletionTimestamp).not.toBeNull();
    sim.healNode('victim');
    clock.advance(1000);
    expect(sim.lease('victim')?.renewTime).toBe('2025-08-25T04:03:41.000Z');
    expect(sim.node('victim')?.conditions.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      lastTransitionTime: '2025-08-25T04:03:41.000Z',
    });
    expect(pod(sim, 'web-abcde')).toBeUndefined();
    // The StatefulSet's name is free now: db-0 comes back (the scheduler may pick any Ready node).
    clock.advance(5000);
    expect(sim.node('victim')?.taints).toEqual([]);
    expect(pod(sim, 'db-0')?.deletionTimestamp).toBeNull();
    expect(pod(sim, 'db-0')?.phase).toBe('Running');
  });

  it('a stopped kubelet stops the Lease just like a dead link', () => {
    const { clock, sim } = small();
    sim.stopKubelet('victim');
    clock.advance(60_000);
    expect(sim.lease('victim')?.renewTime).toBe(START.replace('Z', '.000Z'));
    expect(sim.faultsOn('victim')).toEqual(['kubelet-stop']);
  });
});

describe('SimCluster: the controller losing the API server', () => {
  it('freezes the view and reports the connection; a reconnect relists', async () => {
    const { clock, sim } = small();
    const changes: ClusterChange[] = [];
    await sim.start((c) => changes.push(c));
    expect(changes.filter((c) => c.kind === 'node')).toHaveLength(4);
    clock.advance(5000);
    sim.disconnectApi();
    expect(changes.at(-1)).toEqual({
      kind: 'connection',
      connected: false,
      error: 'dial tcp 10.62.0.1:6443: i/o timeout',
    });
    const frozenAt = changes.length;
    clock.advance(60_000);
    expect(changes.length).toBe(frozenAt);
    expect(sim.connection()).toEqual({
      connected: false,
      lastContactAt: '2025-08-25T03:57:05.000Z',
      error: 'dial tcp 10.62.0.1:6443: i/o timeout',
    });
    // The view still shows the renewal before the loss; the API server has newer ones.
    expect(sim.lease('w1')?.renewTime).toBe('2025-08-25T03:57:00.000Z');
    expect(sim.truth.lease('w1')?.renewTime).toBe('2025-08-25T03:58:00.000Z');
    sim.reconnectApi();
    expect(sim.lease('w1')?.renewTime).toBe('2025-08-25T03:58:00.000Z');
    expect(changes.at(-1)).toEqual({ kind: 'connection', connected: true });
    expect(changes.some((c, i) => i > frozenAt && c.kind === 'lease')).toBe(true);
    await sim.stop();
  });
});

describe('SimProber: what each fault looks like, layer by layer', () => {
  it('a healthy node answers every layer; L7 with 401', async () => {
    const { clock, sim } = small();
    const r = await probe(sim, clock, 'w1', '10.62.0.30');
    expect(r.verdict).toEqual({
      healthy: true,
      failedLayer: null,
      summary: 'all tested layers answered',
    });
    expect(r.layers.map((l) => l.detail)).toEqual([
      'ARP reply from fa:16:3e:3e:00:1e in 0.4 ms (kernel neighbour: REACHABLE)',
      'reply in 0.4 ms',
      'connected to port 10250',
      'HTTP 401',
    ]);
    expect(r.layers.map((l) => l.command)).toEqual([
      'arping -c 1 -w 3 -I eth0 10.62.0.30',
      'ping -c 1 -W 3 10.62.0.30',
      'nc -vz -w 3 10.62.0.30 10250',
      'curl -sk https://10.62.0.30:10250/healthz',
    ]);
  });

  it("link-down: the seed's texts, once the observer's neighbour entry has failed", async () => {
    const { clock, sim } = small();
    sim.cutNode('victim');
    const early = await probe(sim, clock, 'w1', '10.62.0.30');
    expect(early.durationMs).toBe(3000);
    expect(early.startedAt).toBe('2025-08-25T03:57:00.000Z');
    expect(early.layers.map((l) => l.detail)).toEqual([
      'no ARP reply (kernel neighbour: STALE)',
      'timeout after 3000 ms (100% packet loss)',
      'timeout after 3000 ms',
      'connect timeout after 3000 ms',
    ]);
    clock.advance(30_000);
    const late = await probe(sim, clock, 'controller', '10.62.0.30');
    expect(late.verdict.failedLayer).toBe('L2');
    expect(late.layers.map((l) => `${l.layer} ${l.status}: ${l.detail}`)).toEqual([
      'L2 failed: no ARP reply (kernel neighbour: FAILED)',
      'L3 failed: Destination Host Unreachable (from 10.62.0.1)',
      'L4 failed: timeout after 3000 ms',
      'L7 failed: connect timeout after 3000 ms',
    ]);
    expect(late.layers[0]?.neighbourState).toBe('FAILED');
  });

  it('kubelet-stop, kubelet-hang, a blocked port and a partial partition', async () => {
    const { clock, sim } = small();
    sim.stopKubelet('w1');
    sim.hangKubelet('w2');
    sim.blockKubeletPort('w3');
    sim.partitionNode('victim', ['w1']);
    const stopped = await probe(sim, clock, 'controller', '10.62.0.10');
    expect(stopped.verdict.summary).toBe('L4 failed: ECONNREFUSED');
    const hung = await probe(sim, clock, 'controller', '10.62.0.11');
    expect(hung.verdict.summary).toBe('L7 failed: TLS handshake timeout after 3000 ms');
    const blocked = await probe(sim, clock, 'controller', '10.62.0.12');
    expect(blocked.verdict.summary).toBe('L4 failed: timeout after 3000 ms');
    expect((await probe(sim, clock, 'w1', '10.62.0.30')).verdict.failedLayer).toBe('L2');
    expect((await probe(sim, clock, 'w2', '10.62.0.30')).verdict.healthy).toBe(true);
    // A stopped or hung kubelet cannot renew; a blocked port does not stop the kubelet.
    clock.advance(20_000);
    expect(sim.lease('w3')?.renewTime).toBe('2025-08-25T03:57:30.000Z');
    expect(sim.lease('w2')?.renewTime).toBe('2025-08-25T03:57:00.000Z');
  });

  it('an address no node holds looks dead; a malformed one is refused; abort rejects', async () => {
    const { clock, sim } = small();
    const nobody = await probe(sim, clock, 'controller', '10.62.0.99');
    expect(nobody.verdict.summary).toBe('L2 failed: no ARP reply (kernel neighbour: FAILED)');
    await expect(
      sim.prober('controller').probe({ ip: '-c 1 10.62.0.30', ...TARGET }),
    ).rejects.toThrow(/is not an IPv4 address of the simulated cluster/);
    const abort = new AbortController();
    const pending = sim.prober('controller').probe({ ip: '10.62.0.30', ...TARGET }, abort.signal);
    abort.abort(new Error('shutting down'));
    await expect(pending).rejects.toThrow('shutting down');
  });
});

describe('SimCluster: input errors', () => {
  it('names the unknown node or the duplicate, with a hint', async () => {
    const { sim } = small();
    const error = (fn: () => unknown): NodeWardenError => {
      try {
        fn();
      } catch (e) {
        return e as NodeWardenError;
      }
      throw new Error('expected an error');
    };
    const unknown = error(() => sim.cutNode('nope'));
    expect(unknown.code).toBe('BAD_INPUT');
    expect(unknown.message).toBe('node nope is not in the simulation');
    expect(unknown.hint).toBe('use one of: w1, w2, w3, victim');
    expect(error(() => sim.addNode({ name: 'w1', ip: '10.62.0.50', allocatable: {} })).code).toBe(
      'CONFLICT',
    );
    expect(
      error(() => sim.addNode({ name: 'w9', ip: '10.62.0.10', allocatable: {} })).message,
    ).toMatch(/10.62.0.10 of w9 is already taken/);
    expect(
      error(() => sim.addPod({ namespace: 'a', name: 'b', node: 'zz', containers: [] })).message,
    ).toMatch(/names node zz/);
    await sim.start(() => undefined);
    await expect(sim.start(() => undefined)).rejects.toThrow(/already started/);
  });
});
