import { describe, expect, it } from 'vitest';
import type { LeaseSnapshot, NodeCondition, NodeSnapshot, PodSnapshot, Taint } from './cluster.ts';
import type { ApiTrust, ClusterDetectionState, PartitionState } from './detection-cluster.ts';
import { initialNodeState, type NodeDetectionState } from './detection.ts';
import type { NodeWardenError } from './errors.ts';
import { mttdSeconds, mttrSeconds, type Incident } from './incident.ts';
import {
  applyIncidentCommands,
  decideIncidents,
  incidentId,
  type ClusterFacts,
  type IncidentCommand,
} from './incidents.ts';

const MIG = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';
const at = (hhmmss: string): number => Date.parse(`2025-08-25T${hhmmss}Z`);
const iso = (ms: number): string => new Date(ms).toISOString();
const TRUSTED: ApiTrust = { trusted: true, since: 0, reason: null };

/** A small cluster whose facts the test edits as Kubernetes would. */
class FakeCluster implements ClusterFacts {
  nodes = new Map<string, NodeSnapshot>();
  leases = new Map<string, LeaseSnapshot>();
  podList: PodSnapshot[] = [];

  addNode(name: string, renewTime: number): void {
    this.nodes.set(name, {
      name,
      uid: name,
      labels: {},
      annotations: {},
      internalIP: '10.62.0.30',
      providerID: null,
      unschedulable: false,
      taints: [],
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2025-08-20T00:00:00Z' }],
      capacity: {},
      allocatable: {},
      createdAt: '2025-08-20T00:00:00Z',
    });
    this.leases.set(name, {
      node: name,
      holderIdentity: name,
      renewTime: iso(renewTime),
      leaseDurationSeconds: 40,
    });
  }

  addPod(
    namespace: string,
    name: string,
    node: string,
    owner: string | null = 'ReplicaSet/rs',
  ): void {
    const [ownerKind = null, ownerName = null] = owner === null ? [] : owner.split('/');
    this.podList.push({
      namespace,
      name,
      uid: name,
      nodeName: node,
      phase: 'Running',
      labels: {},
      ownerKind,
      ownerName,
      deletionTimestamp: null,
      createdAt: '2025-08-20T00:00:00Z',
      containers: [],
      initContainers: [],
      priorityClassName: null,
      qosClass: 'BestEffort',
      nodeSelector: {},
      tolerations: [],
    });
  }

  setReady(name: string, ready: NodeCondition): void {
    const node = this.nodes.get(name);
    if (node) this.nodes.set(name, { ...node, conditions: [ready] });
  }

  setTaints(name: string, taints: Taint[]): void {
    const node = this.nodes.get(name);
    if (node) this.nodes.set(name, { ...node, taints });
  }

  node(name: string): NodeSnapshot | undefined {
    return this.nodes.get(name);
  }
  lease(name: string): LeaseSnapshot | undefined {
    return this.leases.get(name);
  }
  podsOnNode(name: string): readonly PodSnapshot[] {
    return this.podList.filter((p) => p.nodeName === name);
  }
}

function nodeState(node: string, patch: Partial<NodeDetectionState>): NodeDetectionState {
  return { ...initialNodeState(node, 0), ...patch };
}

function detection(
  states: NodeDetectionState[],
  partition: PartitionState | null = null,
): ClusterDetectionState {
  return {
    nodes: new Map(states.map((s) => [s.node, s])),
    due: new Map(),
    api: TRUSTED,
    partition,
  };
}

/** The taint manager's work on the MIG node: one pod marked for deletion, one already gone. */
function evictSeedPods(facts: ReturnType<typeof seedCluster>): void {
  facts.podList = facts.podList
    .filter((p) => p.name !== 'jupyter-mig-0')
    .map((p) =>
      p.name === 'preprocess-5b8f7d-h2ws9'
        ? { ...p, deletionTimestamp: '2025-08-25T04:04:25Z', deletionGracePeriodSeconds: 30 }
        : p,
    );
}

/** Decides and applies, like the controller; returns the commands too. */
function step(
  incidents: Incident[],
  now: number,
  det: ClusterDetectionState,
  facts: ClusterFacts,
): { incidents: Incident[]; commands: readonly IncidentCommand[]; nextCheckAt: number | null } {
  const decision = decideIncidents({ now, incidents, detection: det, facts });
  const applied = applyIncidentCommands(incidents, decision.commands);
  // The decision's own incidents are the commands applied: the controller keeps those.
  expect(decision.incidents).toEqual(applied);
  return { ...decision, incidents: applied };
}

const suspectAt = at('03:58:08');
const downAt = at('03:58:08.5');
const down = nodeState(MIG, {
  health: 'Down',
  since: downAt,
  failingSince: suspectAt,
  suspectAt,
  suspectReason: '2 of 5 observers fail it at L2',
  downAt,
  downReason: 'the host answers no one',
  lastHeartbeatAt: at('03:58:02.5'),
});

function seedCluster(): FakeCluster {
  const facts = new FakeCluster();
  facts.addNode(MIG, at('03:58:02.5'));
  facts.addNode('tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7', at('03:58:09'));
  facts.addPod('ml-serving', 'preprocess-5b8f7d-h2ws9', MIG);
  facts.addPod('research', 'jupyter-mig-0', MIG, null);
  facts.addPod('kube-system', 'ovs-ovn-bkqzq', MIG, 'DaemonSet/ovs-ovn');
  facts.addPod('data', 'redis-cache-84d7c5-zp5tg', 'tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7');
  return facts;
}

describe('node incidents', () => {
  it('open once the node has been failing for the settle time, with the seed-style timeline', () => {
    const facts = seedCluster();
    const held = step([], at('03:58:08.5'), detection([down]), facts);
    expect(held.commands).toEqual([]);
    expect(held.nextCheckAt).toBe(at('03:58:09'));

    const opened = step([], at('03:58:09'), detection([down]), facts);
    expect(opened.commands.map((c) => c.kind)).toEqual(['open']);
    const [incident] = opened.incidents;
    expect(incident?.id).toBe(`inc-20250825-035809-${MIG}-1`);
    expect(incident?.kind).toBe('node');
    expect(incident?.nodes).toEqual([MIG]);
    expect(incident?.lastHeartbeatAt).toBe('2025-08-25T03:58:02.500Z');
    expect(incident?.timeline.map((e) => [e.at.slice(11, 23), e.kind])).toEqual([
      ['03:58:02.500', 'last-heartbeat'],
      ['03:58:08.000', 'suspect'],
      ['03:58:08.500', 'down'],
      ['03:58:09.000', 'incident-opened'],
    ]);
    expect(incident?.timeline[1]?.message).toBe('suspect: 2 of 5 observers fail it at L2');
    expect(incident?.affectedPods).toEqual([
      { namespace: 'kube-system', name: 'ovs-ovn-bkqzq', owner: 'DaemonSet/ovs-ovn' },
      { namespace: 'ml-serving', name: 'preprocess-5b8f7d-h2ws9', owner: 'ReplicaSet/rs' },
      { namespace: 'research', name: 'jupyter-mig-0' },
    ]);
    expect(incident?.summary).toBe(`${MIG} is down: the host answers no one`);
    expect(mttdSeconds(incident as Incident)).toBe(6.5);

    // Deciding again on the same input records nothing.
    expect(step(opened.incidents, at('03:58:10'), detection([down]), facts).commands).toEqual([]);
  });

  it("append Kubernetes' own observations once each, at the times Kubernetes recorded them", () => {
    const facts = seedCluster();
    let incidents = step([], at('03:58:09'), detection([down]), facts).incidents;
    facts.setReady(MIG, {
      type: 'Ready',
      status: 'Unknown',
      reason: 'NodeStatusUnknown',
      message: 'Kubelet stopped posting node status.',
      lastTransitionTime: '2025-08-25T03:58:55Z',
    });
    facts.setTaints(MIG, [
      {
        key: 'node.kubernetes.io/unreachable',
        effect: 'NoSchedule',
        timeAdded: '2025-08-25T03:58:55Z',
      },
      {
        key: 'node.kubernetes.io/unreachable',
        effect: 'NoExecute',
        timeAdded: '2025-08-25T03:58:55Z',
      },
      { key: 'nvidia.com/gpu', effect: 'NoSchedule' },
    ]);
    incidents = step(incidents, at('03:59:00'), detection([down]), facts).incidents;
    // Five minutes later the taint manager marks pods for deletion; one is already gone.
    evictSeedPods(facts);
    incidents = step(incidents, at('04:04:00'), detection([down]), facts).incidents;
    const again = step(incidents, at('04:04:01'), detection([down]), facts);
    expect(again.commands).toEqual([]);
    const timeline = incidents[0]?.timeline
      .slice(4)
      .map((e) => `${e.at.slice(11, 19)} ${e.kind}: ${e.message}`);
    expect(timeline).toEqual([
      `03:58:55 k8s-not-ready: Kubernetes: ${MIG} Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)`,
      `03:58:55 k8s-taint: Kubernetes tainted ${MIG} node.kubernetes.io/unreachable:NoSchedule`,
      `03:58:55 k8s-taint: Kubernetes tainted ${MIG} node.kubernetes.io/unreachable:NoExecute`,
      '04:03:55 pod-evicted: ml-serving/preprocess-5b8f7d-h2ws9 evicted (Kubernetes marked it for deletion)',
      '04:04:00 pod-evicted: research/jupyter-mig-0 deleted',
    ]);
  });

  it('record recovery, then resolve after the stable period with Ready again; MTTD and MTTR follow', () => {
    const facts = seedCluster();
    facts.setReady(MIG, {
      type: 'Ready',
      status: 'Unknown',
      lastTransitionTime: '2025-08-25T03:58:55Z',
    });
    let incidents = step([], at('03:58:09'), detection([down]), facts).incidents;
    const back = at('04:10:00');
    const recovering = nodeState(MIG, {
      ...down,
      health: 'Recovering',
      since: back,
      recoveringAt: back,
      healthySince: null,
    });
    facts.setReady(MIG, {
      type: 'Ready',
      status: 'True',
      reason: 'KubeletReady',
      lastTransitionTime: '2025-08-25T04:10:05Z',
    });
    incidents = step(incidents, back + 5000, detection([recovering]), facts).incidents;
    const healthySince = back + 5000;
    const healthy = nodeState(MIG, { health: 'Healthy', since: back + 65_000, healthySince });
    const early = step(
      incidents,
      back + 64_000,
      detection([{ ...healthy, since: back + 64_000 }]),
      facts,
    );
    expect(early.commands).toEqual([]);
    expect(early.nextCheckAt).toBe(healthySince + 60_000);
    const resolved = step(incidents, back + 65_000, detection([healthy]), facts);
    const incident = resolved.incidents[0] as Incident;
    expect(incident.status).toBe('resolved');
    expect(incident.resolvedAt).toBe('2025-08-25T04:11:05.000Z');
    expect(incident.timeline.slice(-3).map((e) => e.kind)).toEqual([
      'recovering',
      'ready-again',
      'resolved',
    ]);
    expect(incident.timeline.at(-1)?.message).toBe(
      `resolved: ${MIG} healthy for 60 s (Lease fresh, probes pass, Ready)`,
    );
    expect(mttrSeconds(incident)).toBe(782.5);
  });

  it("reproduce the seed's MTTD and MTTR: heartbeat 12:58, detected 13:02, recovered 19:46 KST", () => {
    const facts = new FakeCluster();
    facts.addNode(MIG, at('03:58:00'));
    const slow = nodeState(MIG, {
      ...down,
      suspectAt: at('04:01:00'),
      failingSince: at('04:01:00'),
      downAt: at('04:02:00'),
    });
    let incidents = step([], at('04:02:00'), detection([slow]), facts).incidents;
    const healthy = nodeState(MIG, {
      health: 'Healthy',
      since: at('10:46:00'),
      healthySince: at('10:45:00'),
    });
    incidents = step(incidents, at('10:46:00'), detection([healthy]), facts).incidents;
    const incident = incidents[0] as Incident;
    expect(mttdSeconds(incident)).toBe(4 * 60);
    expect(mttrSeconds(incident)).toBe(6 * 3600 + 48 * 60);
  });
});

describe('flapping', () => {
  it('a relapse while Recovering adds flap + down to the same incident', () => {
    const facts = seedCluster();
    let incidents = step([], at('03:58:09'), detection([down]), facts).incidents;
    const back = at('04:00:00');
    const recovering = nodeState(MIG, {
      ...down,
      health: 'Recovering',
      since: back,
      recoveringAt: back,
    });
    incidents = step(incidents, back, detection([recovering]), facts).incidents;
    const relapseAt = at('04:00:20');
    const relapsed = nodeState(MIG, {
      ...recovering,
      health: 'Down',
      since: relapseAt,
      downAt: relapseAt,
      downReason: 'relapse: Lease 21 s old',
    });
    const r = step(incidents, relapseAt, detection([relapsed]), facts);
    expect(r.incidents).toHaveLength(1);
    expect(r.incidents[0]?.timeline.slice(-2).map((e) => `${e.kind}: ${e.message}`)).toEqual([
      `flap: flap: ${MIG} relapsed 20 s after it began recovering`,
      'down: down: relapse: Lease 21 s old',
    ]);
  });

  it('Down again within 10 minutes of resolving reopens the same incident; later, a new one', () => {
    const facts = seedCluster();
    let incidents = step([], at('03:58:09'), detection([down]), facts).incidents;
    incidents = step(
      incidents,
      at('04:05:00'),
      detection([nodeState(MIG, { healthySince: at('04:04:00') })]),
      facts,
    ).incidents;
    expect(incidents[0]?.status).toBe('resolved');

    const again = at('04:12:00');
    const downAgain = nodeState(MIG, {
      health: 'Down',
      since: again,
      failingSince: again - 1000,
      suspectAt: again - 1000,
      suspectReason: 'Lease not renewed for 21 s',
      downAt: again,
      downReason: 'Lease not renewed for 41 s',
    });
    const reopened = step(incidents, again, detection([downAgain]), facts);
    expect(reopened.incidents).toHaveLength(1);
    const incident = reopened.incidents[0] as Incident;
    expect(incident.status).toBe('open');
    expect(incident.resolvedAt).toBeNull();
    expect(incident.timeline.slice(-3).map((e) => e.kind)).toEqual(['suspect', 'flap', 'down']);
    expect(incident.timeline.find((e) => e.kind === 'flap')?.message).toBe(
      `flap: ${MIG} down again 420 s after the incident resolved`,
    );

    // Resolve again, then fail 11 minutes later: a new incident.
    incidents = step(
      reopened.incidents,
      at('04:20:00'),
      detection([nodeState(MIG, { healthySince: at('04:19:00') })]),
      facts,
    ).incidents;
    const late = at('04:31:01');
    const third = step(
      incidents,
      late,
      detection([
        {
          ...downAgain,
          since: late,
          failingSince: late - 5000,
          suspectAt: late - 5000,
          downAt: late,
        },
      ]),
      facts,
    );
    expect(third.incidents.map((i) => i.status)).toEqual(['resolved', 'open']);
    expect(third.incidents[1]?.id).toBe(`inc-20250825-043101-${MIG}-1`);
  });
});

describe('partition incidents', () => {
  const members = ['n-a', 'n-b', 'n-c'];
  const partition: PartitionState = {
    nodes: members,
    since: at('03:58:09'),
    firstOnset: at('03:58:08'),
    lastOnset: at('03:58:08'),
    reason: '3 of 5 nodes began failing within 0 s of each other (storm threshold 3)',
    controlPlaneSide: false,
  };
  const failing = (node: string): NodeDetectionState =>
    nodeState(node, { ...down, node, downReason: 'the host answers no one' });

  it('reuses timeline indexes across decisions without letting a stale list see newer entries', () => {
    // The controller keeps each decision's own incidents; a replayed (stale) list must
    // decide exactly what it did the first time.
    const facts = seedCluster();
    const opened = decideIncidents({
      now: at('03:58:09'),
      incidents: [],
      detection: detection([down]),
      facts,
    });
    facts.setReady(MIG, {
      type: 'Ready',
      status: 'Unknown',
      reason: 'NodeStatusUnknown',
      lastTransitionTime: '2025-08-25T03:58:55Z',
    });
    const input = {
      now: at('03:59:00'),
      incidents: opened.incidents,
      detection: detection([down]),
      facts,
    };
    const first = decideIncidents(input);
    expect(first.commands.map((c) => c.kind)).toEqual(['append']);
    // Kept incidents: nothing new to record.
    expect(decideIncidents({ ...input, incidents: first.incidents }).commands).toEqual([]);
    // The stale list again: the same append as the first time.
    expect(decideIncidents(input).commands).toEqual(first.commands);
    // Pods marked for deletion and gone are still found behind the fast path.
    evictSeedPods(facts);
    const evicted = decideIncidents({ ...input, now: at('04:04:00'), incidents: first.incidents });
    const entries = evicted.commands.flatMap((c) => (c.kind === 'append' ? c.entries : []));
    expect(entries.map((e) => e.message)).toEqual([
      'ml-serving/preprocess-5b8f7d-h2ws9 evicted (Kubernetes marked it for deletion)',
      'research/jupyter-mig-0 deleted',
    ]);
    expect(
      decideIncidents({ ...input, now: at('04:04:01'), incidents: evicted.incidents }).commands,
    ).toEqual([]);
  });

  it('open one partition incident listing its nodes, and no node incident for them', () => {
    const facts = new FakeCluster();
    for (const n of members) facts.addNode(n, at('03:58:01'));
    facts.addNode('n-d', at('03:58:09'));
    facts.addPod('app', 'web-1', 'n-a');
    const det = detection([...members.map(failing), nodeState('n-d', {})], partition);
    const r = step([], at('03:58:20'), det, facts);
    expect(r.incidents).toHaveLength(1);
    const incident = r.incidents[0] as Incident;
    expect(incident.kind).toBe('partition');
    expect(incident.id).toBe('inc-20250825-035820-partition-1');
    expect(incident.nodes).toEqual(members);
    expect(incident.rootCause).toBeNull();
    expect(incident.affectedPods).toEqual([
      { namespace: 'app', name: 'web-1', owner: 'ReplicaSet/rs' },
    ]);
    expect(incident.timeline.filter((e) => e.kind === 'down').map((e) => e.node)).toEqual(members);
    expect(incident.timeline.at(-1)?.message).toBe(
      'partition incident opened for 3 nodes: n-a, n-b, n-c',
    );
    expect(step(r.incidents, at('03:58:21'), det, facts).commands).toEqual([]);

    // A fourth node joins; then the partition ends and the incident resolves.
    facts.addNode('n-e', at('03:58:05'));
    const grown = { ...partition, nodes: [...members, 'n-e'] };
    const g = step(
      r.incidents,
      at('03:58:30'),
      detection([...members.map(failing), failing('n-e')], grown),
      facts,
    );
    expect(g.incidents[0]?.nodes).toEqual([...members, 'n-e']);
    expect(
      g.incidents[0]?.timeline.some(
        (e) => e.kind === 'note' && e.message === 'n-e joined the partition',
      ),
    ).toBe(true);
    const end = step(
      g.incidents,
      at('04:10:00'),
      detection(members.map((n) => nodeState(n, {}))),
      facts,
    );
    expect(end.incidents[0]?.status).toBe('resolved');
    expect(end.incidents).toHaveLength(1);
  });

  it('blames the control-plane side when the controller could not trust its view', () => {
    const facts = new FakeCluster();
    for (const n of members) facts.addNode(n, at('03:58:01'));
    const r = step(
      [],
      at('03:58:20'),
      detection(members.map(failing), { ...partition, controlPlaneSide: true }),
      facts,
    );
    expect(r.incidents[0]?.rootCause).toBe('CONTROL_PLANE_SIDE');
  });
});

describe('ids and applying commands', () => {
  it('derives ids from the clock and the subject, counting collisions', () => {
    const now = at('03:58:09');
    expect(incidentId(now, MIG, [])).toBe(`inc-20250825-035809-${MIG}-1`);
    expect(
      incidentId(now, MIG, [`inc-20250825-035809-${MIG}-1`, 'inc-20250825-035809-partition-1']),
    ).toBe(`inc-20250825-035809-${MIG}-2`);
  });

  it('refuses a duplicate open and commands for unknown incidents', () => {
    const facts = seedCluster();
    const { incidents, commands } = step([], at('03:58:09'), detection([down]), facts);
    try {
      applyIncidentCommands(incidents, commands);
      expect.unreachable('a second open of the same id must fail');
    } catch (error) {
      expect((error as NodeWardenError).code).toBe('CONFLICT');
    }
    expect(() => applyIncidentCommands([], [{ kind: 'append', id: 'inc-x', entries: [] }])).toThrow(
      /incident inc-x does not exist \(append\)/,
    );
  });
});
