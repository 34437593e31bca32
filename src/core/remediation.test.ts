import { describe, expect, it } from 'vitest';
import type { CloudInstance } from './cloud.ts';
import type { NodeSnapshot } from './cluster.ts';
import type { Incident, NodeHealth, RootCause } from './incident.ts';
import {
  applyApproval,
  applyStepOutcome,
  decideRemediation,
  EMPTY_REMEDIATION_STATE,
  resumeRemediations,
  type Remediation,
  type RemediationDecision,
  type RemediationInput,
  type RemediationState,
} from './remediation.ts';
import { DEFAULT_POLICY, type RemediationMode } from './remediation-policy.ts';

const T0 = Date.parse('2025-08-25T03:58:09Z');
const MIG = 'bkqzq';
const NODES = ['bkqzq', '85zt7', 'x2k9p', 'q7m4d', 'r8n3w'];

function node(name: string, extra: Partial<NodeSnapshot> = {}, ready = true): NodeSnapshot {
  return {
    name,
    uid: name,
    labels: {},
    annotations: {},
    internalIP: '10.62.0.30',
    providerID: 'openstack:///0f6c1b2e-58a4-4c8e-9a59-3d2f5e6f7a80',
    unschedulable: false,
    taints: [],
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'Unknown' }],
    capacity: { cpu: '16', memory: '64Gi', pods: '110' },
    allocatable: { cpu: '16', memory: '64Gi', pods: '110' },
    createdAt: '2025-08-20T00:00:00Z',
    ...extra,
  };
}

function incident(
  nodes: string[],
  rootCause: RootCause | null = 'NODE_HALTED',
  kind: Incident['kind'] = 'node',
): Incident {
  return {
    id: `inc-20250825-035809-${kind === 'node' ? nodes[0] : 'partition'}-1`,
    kind,
    status: 'open',
    nodes,
    openedAt: new Date(T0).toISOString(),
    resolvedAt: null,
    lastHeartbeatAt: new Date(T0 - 7000).toISOString(),
    rootCause,
    summary: '',
    timeline: [],
    affectedPods: [],
  };
}

/** A world the test edits: nodes, health, cloud view, incidents. */
class World {
  mode: RemediationMode = 'auto';
  leader = true;
  apiConnected = true;
  nodes = new Map(NODES.map((n) => [n, node(n)]));
  health = new Map<string, NodeHealth>(NODES.map((n) => [n, 'Healthy']));
  cloud = new Map<string, CloudInstance | null>();
  incidents: Incident[] = [];
  policy = DEFAULT_POLICY;
  state: RemediationState = EMPTY_REMEDIATION_STATE;
  now = T0;
  last: RemediationDecision | null = null;

  input(): RemediationInput {
    return {
      mode: this.mode,
      policy: this.policy,
      leader: this.leader,
      apiConnected: this.apiConnected,
      incidents: this.incidents,
      health: this.health,
      nodes: [...this.nodes.values()],
      pods: [],
      cloud: this.cloud,
    };
  }

  down(name: string): void {
    this.health.set(name, 'Down');
    this.nodes.set(name, node(name, this.nodes.get(name), false));
  }

  back(name: string): void {
    this.health.set(name, 'Recovering');
    this.nodes.set(name, {
      ...(this.nodes.get(name) ?? node(name)),
      conditions: [{ type: 'Ready', status: 'True' }],
    });
  }

  decide(): RemediationDecision {
    this.last = decideRemediation(this.state, this.input(), this.now);
    this.state = this.last.state;
    return this.last;
  }

  /** Reports the outcome of every effect of the last decision. */
  complete(
    ok = true,
    detail = 'done',
    extra: { cordoned?: boolean; taintsAdded?: string[] } = {},
  ): void {
    for (const e of this.last?.effects ?? []) {
      this.state = applyStepOutcome(
        this.state,
        e.remediationId,
        e.stepIndex,
        { ok, detail, ...extra },
        this.now,
      ).state;
    }
  }

  rem(): Remediation {
    const r = this.state.remediations[0];
    if (r === undefined) throw new Error('no remediation');
    return r;
  }

  statuses(): string[] {
    return this.rem().steps.map((s) => `${s.step}:${s.status}`);
  }

  effectSteps(): string[] {
    return (this.last?.effects ?? []).map((e) => e.step);
  }

  brake(name: string, nodeName: string | null = null): boolean {
    return (this.last?.brakes ?? []).some(
      (b) => b.name === name && b.node === nodeName && b.engaged,
    );
  }
}

function haltedWorld(): World {
  const w = new World();
  w.down(MIG);
  w.incidents = [incident([MIG])];
  return w;
}

describe('decideRemediation: the NODE_HALTED ladder', () => {
  it('runs capture-console → cordon → soft reboot → wait → back → remove taints → succeeded', () => {
    const w = haltedWorld();
    w.decide();
    expect(w.effectSteps()).toEqual(['capture-console']);
    expect(w.last?.events.map((e) => e.result)).toEqual(['started', 'reported']);
    w.complete(true, 'console saved');
    w.decide();
    expect(w.effectSteps()).toEqual(['cordon']);
    w.complete(true, 'cordoned', { cordoned: true, taintsAdded: ['nodewarden.io/remediating'] });
    w.decide();
    expect(w.effectSteps()).toEqual(['soft-reboot']);
    w.complete(true, 'reboot accepted');
    expect(w.rem().steps[2]?.status).toBe('waiting');
    w.now += 30_000;
    w.decide();
    expect(w.effectSteps()).toEqual([]);
    w.back(MIG);
    w.now += 30_000;
    w.decide();
    expect(w.effectSteps()).toEqual(['remove-taints']);
    expect(w.statuses()).toEqual([
      'capture-console:succeeded',
      'cordon:succeeded',
      'soft-reboot:succeeded',
      'hard-reboot:skipped',
      'out-of-service:skipped',
      'wait-ready:skipped',
      'remove-taints:running',
      'escalate:pending',
    ]);
    w.complete(true, 'taints removed');
    w.decide();
    expect(w.rem().status).toBe('succeeded');
    expect(w.rem().steps.at(-1)?.status).toBe('skipped');
    expect(w.rem().taintsAdded).toEqual([]);
    expect(w.rem().cordoned).toBe(false);
  });

  it('soft reboot times out → hard reboot → out-of-service only after the cloud confirms → wait-ready', () => {
    const w = haltedWorld();
    for (let i = 0; i < 3; i++) {
      w.decide();
      w.complete(
        true,
        'ok',
        i === 1 ? { cordoned: true, taintsAdded: ['nodewarden.io/remediating'] } : {},
      );
    }
    expect(w.rem().steps[2]?.status).toBe('waiting');
    w.now += 3 * 60_000;
    w.decide();
    expect(w.rem().steps[2]?.status).toBe('timed-out');
    expect(w.effectSteps()).toEqual(['hard-reboot']);
    w.complete(true, 'hard reboot accepted');
    // The cloud still shows ACTIVE: out-of-service must wait.
    w.cloud.set(MIG, instance('ACTIVE', 'RUNNING', null));
    w.now += 5_000;
    const d = w.decide();
    expect(d.wantsCloud).toEqual([MIG]);
    expect(w.effectSteps()).toEqual([]);
    expect(d.nextCheckAt).toBe(w.now + 5_000);
    w.cloud.set(MIG, instance('HARD_REBOOT', 'RUNNING', 'rebooting_hard'));
    w.now += 5_000;
    w.decide();
    expect(w.effectSteps()).toEqual(['out-of-service']);
    expect(w.rem().confirmedOffAt).not.toBeNull();
    // The capacity guard speaks again right before pods move.
    expect(w.last?.events.find((e) => e.action === 'capacity-guard')?.reason).toMatch(
      /^if bkqzq's \d+ pods move, no survivor goes over a threshold/,
    );
    w.complete(true, 'tainted', { taintsAdded: ['node.kubernetes.io/out-of-service'] });
    w.decide();
    expect(w.rem().steps[5]).toMatchObject({ step: 'wait-ready', status: 'waiting' });
    w.back(MIG);
    w.decide();
    expect(w.effectSteps()).toEqual(['remove-taints']);
    w.complete(true, 'removed');
    w.decide();
    expect(w.rem().status).toBe('succeeded');
  });

  it('hard reboot never confirmed by the cloud → no out-of-service, escalates to a person', () => {
    const w = haltedWorld();
    for (let i = 0; i < 3; i++) {
      w.decide();
      w.complete(true, 'ok', i === 1 ? { cordoned: true } : {});
    }
    w.now += 3 * 60_000;
    w.decide();
    w.complete(true, 'hard reboot accepted');
    w.cloud.set(MIG, instance('ACTIVE', 'RUNNING', null));
    w.now += 2 * 60_000;
    w.decide();
    expect(w.rem().steps[3]?.status).toBe('timed-out');
    expect(w.rem().steps[4]?.status).toBe('skipped');
    expect(w.effectSteps()).toEqual(['escalate']);
    w.complete(true, 'handed to a person');
    w.decide();
    expect(w.rem().status).toBe('escalated');
    expect(w.rem().summary).toContain('handed to a person');
  });

  it('wait-ready times out → escalate names the Cluster API Machine', () => {
    const w = haltedWorld();
    w.nodes.set(
      MIG,
      node(
        MIG,
        {
          annotations: {
            'cluster.x-k8s.io/machine': 'md-1-abc',
            'cluster.x-k8s.io/cluster-namespace': 'capi',
          },
        },
        false,
      ),
    );
    for (let i = 0; i < 3; i++) {
      w.decide();
      w.complete();
    }
    w.now += 3 * 60_000;
    w.decide();
    w.complete();
    w.cloud.set(MIG, instance('SHUTOFF', 'SHUTDOWN', null));
    w.decide();
    w.complete(true, 'tainted', { taintsAdded: ['node.kubernetes.io/out-of-service'] });
    w.decide();
    w.now += 10 * 60_000;
    w.decide();
    expect(w.rem().steps[5]?.status).toBe('timed-out');
    expect(w.effectSteps()).toEqual(['escalate']);
    w.complete(true, 'annotated');
    w.decide();
    expect(w.rem()).toMatchObject({
      status: 'escalated',
      machine: { namespace: 'capi', name: 'md-1-abc' },
    });
    expect(w.rem().summary).toContain('capi/md-1-abc');
  });

  it('cordon failure jumps to escalate; escalate failure ends failed', () => {
    const w = haltedWorld();
    w.decide();
    w.complete();
    w.decide();
    w.complete(false, 'Forbidden: may not patch nodes');
    expect(w.rem().steps[1]?.status).toBe('failed');
    w.decide();
    expect(w.effectSteps()).toEqual(['escalate']);
    w.complete(false, 'no one to hand to');
    expect(w.rem().status).toBe('failed');
  });

  it('a running step past its deadline times out and a late outcome is ignored', () => {
    const w = haltedWorld();
    w.decide();
    const effect = w.last?.effects[0];
    w.now += 30_000;
    w.decide();
    expect(w.rem().steps[0]?.status).toBe('timed-out');
    expect(w.effectSteps()).toEqual(['cordon']);
    if (effect === undefined) throw new Error('no effect');
    const late = applyStepOutcome(
      w.state,
      effect.remediationId,
      effect.stepIndex,
      { ok: true, detail: 'late' },
      w.now,
    );
    expect(late.events).toEqual([]);
    expect(late.state).toEqual(w.state);
  });

  it('the node coming back before any reboot skips the reboots and removes taints', () => {
    const w = haltedWorld();
    w.decide();
    w.complete();
    w.decide();
    w.complete(true, 'ok', { cordoned: true, taintsAdded: ['nodewarden.io/remediating'] });
    w.back(MIG);
    w.decide();
    expect(w.effectSteps()).toEqual(['remove-taints']);
    expect(w.rem().steps[2]?.status).toBe('skipped');
  });

  it('HOST_NETWORK_DOWN toggles the port before any reboot', () => {
    const w = new World();
    w.down(MIG);
    w.incidents = [incident([MIG], 'HOST_NETWORK_DOWN')];
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      w.decide();
      order.push(...w.effectSteps());
      w.complete();
    }
    expect(order).toEqual(['capture-console', 'cordon', 'port-reset']);
    w.now += 2 * 60_000;
    w.decide();
    expect(w.effectSteps()).toEqual(['soft-reboot']);
  });

  it('down again after a success (the same incident, a flap): a new remediation after the back-off', () => {
    const w = haltedWorld();
    w.decide();
    w.complete();
    w.decide();
    w.complete(true, 'ok', { cordoned: true, taintsAdded: ['nodewarden.io/remediating'] });
    w.decide();
    w.complete();
    w.back(MIG);
    w.decide();
    w.complete();
    w.decide();
    expect(w.rem().status).toBe('succeeded');
    w.down(MIG);
    w.now += 60_000;
    w.decide();
    expect(w.brake('node-backoff', MIG)).toBe(true);
    expect(w.state.remediations).toHaveLength(1);
    w.now += DEFAULT_POLICY.brakes.backoffBaseMs;
    w.decide();
    expect(w.state.remediations.map((r) => r.id)).toEqual([
      'rem-20250825-035809-bkqzq-1',
      'rem-20250825-035809-bkqzq-1-2',
    ]);
    // A failed one is not retried: a person has it.
    w.complete();
    w.decide();
    w.complete(false, 'Forbidden');
    w.decide();
    w.complete(false, 'Forbidden');
    expect(w.state.remediations[1]?.status).toBe('failed');
    w.now += 24 * 60 * 60_000;
    w.decide();
    expect(w.state.remediations).toHaveLength(2);
  });

  it('a node already back when the diagnosis lands is not remediated', () => {
    const w = haltedWorld();
    w.back(MIG);
    expect(w.decide().effects).toEqual([]);
    expect(w.state.remediations).toEqual([]);
  });

  it('root causes without a ladder are not remediated', () => {
    for (const cause of ['GPU_FAULT', 'KUBELET_DOWN', 'UNKNOWN'] as const) {
      const w = new World();
      w.down(MIG);
      w.incidents = [incident([MIG], cause)];
      expect(w.decide().effects).toEqual([]);
      expect(w.state.remediations).toEqual([]);
    }
    const w = new World();
    w.down(MIG);
    w.incidents = [incident([MIG], null)];
    expect(w.decide().effects).toEqual([]);
  });
});

describe('decideRemediation: modes', () => {
  it('dry-run records every step as what would be done and ends', () => {
    const w = haltedWorld();
    w.mode = 'dry-run';
    const d = w.decide();
    expect(d.effects).toEqual([]);
    expect(w.rem().status).toBe('dry-run');
    expect(w.rem().steps.every((s) => s.status === 'dry-run')).toBe(true);
    expect(d.events.filter((e) => e.result === 'dry-run')).toHaveLength(9);
    expect(w.decide().effects).toEqual([]);
  });

  it('approve waits for approval on each changing step, runs read-only ones at once', () => {
    const w = haltedWorld();
    w.mode = 'approve';
    w.decide();
    expect(w.effectSteps()).toEqual(['capture-console']);
    w.complete();
    w.decide();
    expect(w.effectSteps()).toEqual([]);
    expect(w.rem().steps[1]?.status).toBe('awaiting-approval');
    w.now += 60_000;
    w.decide();
    expect(w.effectSteps()).toEqual([]);
    const refused = applyApproval(w.state, w.rem().id, 2, 'approve', 'alice', w.now);
    expect(refused.ok).toBe(false);
    expect(refused.why).toContain('pending, not awaiting approval');
    const approved = applyApproval(w.state, w.rem().id, 1, 'approve', 'user:alice', w.now);
    expect(approved.ok).toBe(true);
    w.state = approved.state;
    w.decide();
    expect(w.effectSteps()).toEqual(['cordon']);
    expect(w.rem().steps[1]?.approvedBy).toBe('user:alice');
    w.complete();
    w.decide();
    expect(w.rem().steps[2]?.status).toBe('awaiting-approval');
  });

  it('approve: a rejection ends the remediation as failed', () => {
    const w = haltedWorld();
    w.mode = 'approve';
    w.decide();
    w.complete();
    w.decide();
    const rejected = applyApproval(w.state, w.rem().id, 1, 'reject', 'user:bob', w.now);
    w.state = rejected.state;
    expect(w.rem()).toMatchObject({ status: 'failed' });
    expect(w.rem().steps[1]?.status).toBe('rejected');
  });

  it('approve: no approval within the timeout ends it as failed (never in progress forever)', () => {
    const w = haltedWorld();
    w.mode = 'approve';
    w.decide();
    w.complete();
    w.decide();
    w.now += DEFAULT_POLICY.brakes.approvalTimeoutMs;
    w.decide();
    expect(w.rem().status).toBe('failed');
    expect(w.rem().summary).toContain('no approval');
  });

  it('off: nothing starts, and one under way is cancelled naming what it left', () => {
    const w = haltedWorld();
    w.mode = 'off';
    expect(w.decide().effects).toEqual([]);
    expect(w.state.remediations).toEqual([]);
    w.mode = 'auto';
    w.decide();
    w.complete();
    w.decide();
    w.complete(true, 'ok', { cordoned: true, taintsAdded: ['nodewarden.io/remediating'] });
    w.mode = 'off';
    w.decide();
    expect(w.rem().status).toBe('cancelled');
    expect(w.rem().summary).toContain('left for a person: nodewarden.io/remediating, cordon');
  });
});

describe('decideRemediation: brakes', () => {
  it('max-unhealthy (count): three of five down → no remediation, brake engaged', () => {
    const w = new World();
    for (const n of ['bkqzq', '85zt7', 'x2k9p']) w.down(n);
    w.incidents = [incident(['bkqzq'])];
    const d = w.decide();
    expect(d.effects).toEqual([]);
    expect(w.brake('max-unhealthy')).toBe(true);
    expect(d.brakes.find((b) => b.name === 'max-unhealthy')?.detail).toContain(
      '3 of 5 nodes unhealthy (60%)',
    );
  });

  it('max-unhealthy (percent): two of four is 50% > 40%', () => {
    const w = new World();
    w.nodes.delete('r8n3w');
    w.health.delete('r8n3w');
    w.down('bkqzq');
    w.down('85zt7');
    w.incidents = [incident(['bkqzq'])];
    expect(w.decide().effects).toEqual([]);
    expect(w.brake('max-unhealthy')).toBe(true);
  });

  it('storm cooldown: after the storm clears, nothing starts for the cooldown', () => {
    const w = new World();
    for (const n of ['bkqzq', '85zt7', 'x2k9p']) w.down(n);
    w.incidents = [incident(['bkqzq'])];
    w.decide();
    w.health.set('85zt7', 'Healthy');
    w.health.set('x2k9p', 'Healthy');
    w.now += 1000;
    const d = w.decide();
    expect(d.effects).toEqual([]);
    expect(w.brake('storm-cooldown')).toBe(true);
    expect(d.nextCheckAt).toBe(w.now + DEFAULT_POLICY.brakes.stormCooldownMs);
    w.now += DEFAULT_POLICY.brakes.stormCooldownMs - 1;
    expect(w.decide().effects).toEqual([]);
    w.now += 1;
    expect(w.decide().effects.map((e) => e.step)).toEqual(['capture-console']);
    expect(w.brake('storm-cooldown')).toBe(false);
  });

  it('a storm holds a remediation under way (no action), deadlines still run', () => {
    const w = haltedWorld();
    w.decide();
    w.complete();
    w.down('85zt7');
    w.down('x2k9p');
    w.decide();
    expect(w.effectSteps()).toEqual([]);
    expect(w.rem().heldBy).toEqual(['max-unhealthy']);
    expect(w.last?.events.map((e) => e.result)).toEqual(['held']);
  });

  it('api-unreachable: no action at all', () => {
    const w = haltedWorld();
    w.apiConnected = false;
    expect(w.decide().effects).toEqual([]);
    expect(w.brake('api-unreachable')).toBe(true);
    expect(w.state.remediations).toEqual([]);
  });

  it('partition or CONTROL_PLANE_SIDE incident open: no action', () => {
    const w = haltedWorld();
    w.incidents.push(incident(['85zt7', 'x2k9p'], 'CONTROL_PLANE_SIDE', 'partition'));
    expect(w.decide().effects).toEqual([]);
    expect(w.brake('partition-open')).toBe(true);
  });

  it('leadership: a standby decides nothing and changes no state', () => {
    const w = haltedWorld();
    w.leader = false;
    const d = w.decide();
    expect(d.effects).toEqual([]);
    expect(d.state).toBe(EMPTY_REMEDIATION_STATE);
    expect(w.brake('leadership')).toBe(true);
  });

  it('opt-out annotation: not started; annotated while under way → cancelled', () => {
    const w = haltedWorld();
    w.nodes.set(
      MIG,
      node(MIG, { annotations: { 'nodewarden.io/remediation': 'disabled' } }, false),
    );
    expect(w.decide().effects).toEqual([]);
    expect(w.brake('opt-out', MIG)).toBe(true);
    const v = haltedWorld();
    v.decide();
    v.nodes.set(
      MIG,
      node(MIG, { annotations: { 'nodewarden.io/remediation': 'disabled' } }, false),
    );
    v.decide();
    expect(v.rem().status).toBe('cancelled');
  });

  it('max-concurrent: a second node waits until the first remediation ends', () => {
    const w = haltedWorld();
    w.decide();
    w.down('85zt7');
    w.incidents.push({ ...incident(['85zt7']), id: 'inc-20250825-035900-85zt7-1' });
    const d = w.decide();
    expect(d.effects).toEqual([]);
    expect(w.brake('max-concurrent', '85zt7')).toBe(true);
    expect(w.state.remediations).toHaveLength(1);
  });

  it('per-node attempts and backoff', () => {
    const w = haltedWorld();
    const policy = {
      ...DEFAULT_POLICY,
      brakes: { ...DEFAULT_POLICY.brakes, maxAttemptsPerNode: 2, backoffBaseMs: 60_000 },
    };
    w.policy = policy;
    // First attempt: rejected at once (ends), then a new incident on the same node.
    w.mode = 'approve';
    w.decide();
    w.complete();
    w.decide();
    w.state = applyApproval(w.state, w.rem().id, 1, 'reject', 'user:x', w.now).state;
    w.incidents = [{ ...incident([MIG]), id: 'inc-20250825-040000-bkqzq-2' }];
    w.now += 30_000;
    w.decide();
    expect(w.brake('node-backoff', MIG)).toBe(true);
    expect(w.last?.nextCheckAt).toBe(T0 + 60_000);
    w.now = T0 + 60_000;
    w.decide();
    expect(w.state.remediations).toHaveLength(2);
    const second = w.state.remediations[1];
    w.state = applyApproval(w.state, second?.id ?? '', 0, 'reject', 'user:x', w.now).state;
    // capture-console needs no approval: it ran; reject the cordon instead.
    w.complete();
    w.decide();
    w.state = applyApproval(w.state, second?.id ?? '', 1, 'reject', 'user:x', w.now).state;
    w.incidents = [{ ...incident([MIG]), id: 'inc-20250825-041000-bkqzq-3' }];
    w.now += 10 * 60_000;
    w.decide();
    expect(w.brake('node-attempts', MIG)).toBe(true);
    expect(w.state.remediations).toHaveLength(2);
  });

  it('one control-plane node at a time', () => {
    const w = new World();
    const policy = { ...DEFAULT_POLICY, brakes: { ...DEFAULT_POLICY.brakes, maxConcurrent: 5 } };
    w.policy = policy;
    for (const n of ['bkqzq', '85zt7']) {
      w.nodes.set(n, node(n, { labels: { 'node-role.kubernetes.io/control-plane': '' } }, false));
      w.health.set(n, 'Down');
    }
    w.incidents = [
      incident(['bkqzq']),
      { ...incident(['85zt7']), id: 'inc-20250825-035809-85zt7-1' },
    ];
    w.decide();
    expect(w.state.remediations.map((r) => r.node)).toEqual(['bkqzq']);
    expect(w.brake('control-plane', '85zt7')).toBe(true);
  });
});

describe('resumeRemediations', () => {
  it('re-runs an idempotent step, treats an in-flight reboot as issued', () => {
    const w = haltedWorld();
    w.decide();
    // Controller dies while capture-console is in flight.
    let resumed = resumeRemediations(w.state, w.now + 1000);
    expect(resumed.state.remediations[0]?.steps[0]?.status).toBe('pending');
    w.state = resumed.state;
    w.decide();
    expect(w.effectSteps()).toEqual(['capture-console']);
    w.complete();
    w.decide();
    w.complete();
    w.decide();
    expect(w.effectSteps()).toEqual(['soft-reboot']);
    resumed = resumeRemediations(w.state, w.now + 1000);
    expect(resumed.state.remediations[0]?.steps[2]?.status).toBe('waiting');
    w.state = resumed.state;
    w.decide();
    expect(w.effectSteps()).toEqual([]);
    // The restart took longer than the step's timeout: it closes, the ladder moves on.
    w.now += 10 * 60_000;
    w.decide();
    expect(w.rem().steps[2]?.status).toBe('timed-out');
    expect(w.effectSteps()).toEqual(['hard-reboot']);
  });
});

function instance(
  status: string,
  powerState: CloudInstance['powerState'],
  taskState: string | null,
): CloudInstance {
  return {
    id: '0f6c1b2e-58a4-4c8e-9a59-3d2f5e6f7a80',
    name: MIG,
    status,
    powerState,
    taskState,
    vmState: status === 'SHUTOFF' ? 'stopped' : 'active',
    hostStatus: 'UP',
    updatedAt: null,
  };
}
