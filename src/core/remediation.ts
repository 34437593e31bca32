/**
 * The remediation ladder as a pure state machine. `decideRemediation` looks
 * at the remediations so far, the cluster and the brakes at `now`, and says
 * which step to perform next (effects), what changed (events for the audit
 * trail and the incident timeline) and when to look again. The executor
 * (src/remediate) performs effects through ports and reports each one back
 * with `applyStepOutcome`. Nothing here does I/O.
 */
import type { CloudInstance } from './cloud.ts';
import type { MachineRef } from './cluster-writer.ts';
import type { NodeSnapshot, PodSnapshot } from './cluster.ts';
import type { Incident, NodeHealth, RootCause } from './incident.ts';
import {
  READ_ONLY_STEPS,
  type LadderStep,
  type RemediationMode,
  type RemediationPolicy,
  type StepKind,
} from './remediation-policy.ts';
import {
  capacityReport,
  clusterBrakes,
  nodeBrakes,
  type BrakeName,
  type BrakeState,
  type CapacityReport,
} from './remediation-brakes.ts';

/**
 * - `pending`: not started;
 * - `awaiting-approval`: `approve` mode, waiting for a person;
 * - `running`: its action is in flight (a cloud call, a patch);
 * - `waiting`: the action was accepted; waiting for what it should cause (Ready, the VM off);
 * - the rest are final.
 */
export type StepStatus =
  | 'pending'
  | 'awaiting-approval'
  | 'running'
  | 'waiting'
  | 'succeeded'
  | 'failed'
  | 'timed-out'
  | 'skipped'
  | 'rejected'
  | 'dry-run';

export const FINAL_STEP_STATUSES: readonly StepStatus[] = [
  'succeeded',
  'failed',
  'timed-out',
  'skipped',
  'rejected',
  'dry-run',
];

export interface StepState {
  readonly step: StepKind;
  readonly timeoutMs: number;
  readonly status: StepStatus;
  readonly startedAt: string | null;
  /** When a running, waiting or awaiting-approval step times out. */
  readonly deadlineAt: string | null;
  readonly endedAt: string | null;
  /** What happened, in a sentence. */
  readonly detail: string;
  /** `user:<name>` who approved (approve mode); null otherwise. */
  readonly approvedBy: string | null;
}

/**
 * - `in-progress`: a step is pending, running or waiting;
 * - `succeeded`: the node is Ready again and the taints NodeWarden added are gone;
 * - `escalated`: the ladder ran out; the Machine was marked for replacement or a person was asked;
 * - `failed`: a step failed in a way that leaves the rest to a person (or no approval came);
 * - `cancelled`: mode off, opt-out annotation, or the node or incident went away;
 * - `dry-run`: recorded what would be done; did nothing.
 */
export type RemediationStatus =
  'in-progress' | 'succeeded' | 'escalated' | 'failed' | 'cancelled' | 'dry-run';

export interface Remediation {
  /**
   * `rem-` + the incident id without its `inc-` prefix; `-2`, `-3`, … for a
   * later one of the same incident (the node went down again after a success).
   */
  readonly id: string;
  readonly incidentId: string;
  readonly node: string;
  readonly rootCause: RootCause;
  /** The mode it started under. */
  readonly mode: RemediationMode;
  readonly status: RemediationStatus;
  readonly createdAt: string;
  readonly endedAt: string | null;
  readonly steps: readonly StepState[];
  /** Index of the step under way or next; `steps.length` when none is left. */
  readonly current: number;
  /** Whether NodeWarden set `spec.unschedulable` (and so must unset it). */
  readonly cordoned: boolean;
  /** Keys of the taints NodeWarden added (and so must remove). */
  readonly taintsAdded: readonly string[];
  /** When the cloud confirmed the VM rebooting or off after a hard reboot; null before. */
  readonly confirmedOffAt: string | null;
  /** The Cluster API Machine the node belongs to (annotation `cluster.x-k8s.io/machine`). */
  readonly machine: MachineRef | null;
  /** Brakes holding it right now (empty when it may act). */
  readonly heldBy: readonly BrakeName[];
  /** How it ended, or where it stands. */
  readonly summary: string;
}

export interface RemediationState {
  /** Under way and ended (ended ones are kept for the attempt count and the API). */
  readonly remediations: readonly Remediation[];
  /** Whether the unhealthy count was over the limit at the last decision. */
  readonly stormActive: boolean;
  /** When it last went back under the limit (epoch ms); the cooldown counts from here. */
  readonly stormClearedAt: number | null;
}

export const EMPTY_REMEDIATION_STATE: RemediationState = {
  remediations: [],
  stormActive: false,
  stormClearedAt: null,
};

export interface RemediationInput {
  readonly mode: RemediationMode;
  readonly policy: RemediationPolicy;
  /** This replica holds the leader Lease right now. */
  readonly leader: boolean;
  /** The controller's watches reach the API server. */
  readonly apiConnected: boolean;
  /** Open incidents, and recently resolved ones (a remediation whose incident resolved ends). */
  readonly incidents: readonly Incident[];
  /** NodeWarden's own detection state per node. */
  readonly health: ReadonlyMap<string, NodeHealth>;
  readonly nodes: readonly NodeSnapshot[];
  readonly pods: readonly PodSnapshot[];
  /** The cloud's view of nodes listed in a previous decision's `wantsCloud` (null: no such VM). */
  readonly cloud: ReadonlyMap<string, CloudInstance | null>;
  /** How often to look at the cloud while waiting on it (default 5 s). */
  readonly cloudPollMs?: number;
}

/** One step for the executor to perform now. */
export interface StepEffect {
  readonly remediationId: string;
  readonly stepIndex: number;
  readonly step: StepKind;
  readonly node: string;
  readonly incidentId: string;
}

export type RemediationEventResult =
  | 'started'
  | 'succeeded'
  | 'failed'
  | 'timed-out'
  | 'skipped'
  | 'dry-run'
  | 'held'
  | 'awaiting-approval'
  | 'approved'
  | 'rejected'
  | 'cancelled'
  | 'escalated'
  | 'reported';

/** Something worth an audit record and a timeline entry. */
export interface RemediationEvent {
  readonly remediationId: string;
  readonly incidentId: string;
  readonly node: string;
  readonly at: string;
  /** `remediation` for the whole, else the step. */
  readonly action: StepKind | 'remediation' | 'capacity-guard';
  readonly result: RemediationEventResult;
  readonly reason: string;
  readonly durationMs: number;
  readonly approvedBy: string | null;
  readonly stepIndex: number | null;
}

export interface RemediationDecision {
  readonly state: RemediationState;
  /** Every cluster brake, and the node brakes of every node with an open incident. */
  readonly brakes: readonly BrakeState[];
  readonly effects: readonly StepEffect[];
  readonly events: readonly RemediationEvent[];
  /** When to decide again even if nothing changes; null when nothing is pending. */
  readonly nextCheckAt: number | null;
  /** Nodes whose cloud instance the executor should read before the next decision. */
  readonly wantsCloud: readonly string[];
  /** The capacity guard's findings for nodes whose pods are about to move. */
  readonly capacity: readonly CapacityReport[];
}

export const TAINT_REMEDIATING = 'nodewarden.io/remediating';
export const TAINT_OUT_OF_SERVICE = 'node.kubernetes.io/out-of-service';
export const OPT_OUT_ANNOTATION = 'nodewarden.io/remediation';
export const MACHINE_ANNOTATION = 'cluster.x-k8s.io/machine';
export const CLUSTER_NAMESPACE_ANNOTATION = 'cluster.x-k8s.io/cluster-namespace';
export const REMEDIATE_MACHINE_ANNOTATION = 'cluster.x-k8s.io/remediate-machine';

/** Steps whose action, once accepted, is followed by waiting for its effect. */
const WAITS_AFTER_ACTION: readonly StepKind[] = ['port-reset', 'soft-reboot', 'hard-reboot'];

const iso = (ms: number): string => new Date(ms).toISOString();

export function remediationId(incidentId: string): string {
  return `rem-${incidentId.replace(/^inc-/, '')}`;
}

/** Ready in Kubernetes and answering NodeWarden's probes again. */
export function nodeIsBack(
  node: NodeSnapshot | undefined,
  health: NodeHealth | undefined,
): boolean {
  if (node === undefined) return false;
  const ready = node.conditions.find((c) => c.type === 'Ready')?.status === 'True';
  return ready && (health === 'Healthy' || health === 'Recovering');
}

/** The cloud says the VM is rebooting or off (the out-of-service precondition). */
export function cloudConfirmsOff(instance: CloudInstance | null | undefined): boolean {
  if (instance === undefined || instance === null) return false;
  if (instance.status === 'HARD_REBOOT' || instance.status === 'REBOOT') return true;
  if (instance.status === 'SHUTOFF') return true;
  if (instance.taskState !== null && instance.taskState.startsWith('reboot')) return true;
  return instance.powerState === 'SHUTDOWN' || instance.powerState === 'CRASHED';
}

/** The Machine named by the node's Cluster API annotations, or null. */
export function machineOf(node: NodeSnapshot | undefined): MachineRef | null {
  const name = node?.annotations[MACHINE_ANNOTATION];
  if (node === undefined || name === undefined || name === '') return null;
  return { namespace: node.annotations[CLUSTER_NAMESPACE_ANNOTATION] ?? 'default', name };
}

/** A working copy of one remediation that records events as it changes. */
class Working {
  r: Remediation;
  readonly events: RemediationEvent[];
  constructor(r: Remediation, events: RemediationEvent[]) {
    this.r = r;
    this.events = events;
  }

  event(
    now: number,
    action: RemediationEvent['action'],
    result: RemediationEventResult,
    reason: string,
    stepIndex: number | null = null,
  ): void {
    const step = stepIndex === null ? undefined : this.r.steps[stepIndex];
    const started = step?.startedAt ?? null;
    this.events.push({
      remediationId: this.r.id,
      incidentId: this.r.incidentId,
      node: this.r.node,
      at: iso(now),
      action,
      result,
      reason,
      durationMs: started === null ? 0 : Math.max(0, now - Date.parse(started)),
      approvedBy: step?.approvedBy ?? null,
      stepIndex,
    });
  }

  setStep(i: number, patch: Partial<StepState>): void {
    this.r = { ...this.r, steps: this.r.steps.map((s, j) => (j === i ? { ...s, ...patch } : s)) };
  }

  /** Ends step i with a final status and records it. */
  endStep(i: number, now: number, status: StepStatus, detail: string): void {
    const step = this.r.steps[i];
    if (step === undefined) return;
    this.setStep(i, { status, detail, endedAt: iso(now), deadlineAt: null });
    this.event(now, step.step, status as RemediationEventResult, detail, i);
  }

  /** Moves on to step `to` (an index, or the index of a step kind), skipping what lies between. */
  jump(now: number, to: number, why: string): void {
    // Never backwards: a step already passed is not run again.
    const target = Math.min(Math.max(to, this.r.current + 1), this.r.steps.length);
    for (let i = this.r.current + 1; i < target; i++) {
      if (this.r.steps[i]?.status === 'pending') this.endStep(i, now, 'skipped', why);
    }
    this.r = { ...this.r, current: target };
  }

  next(now: number): void {
    this.jump(now, this.r.current + 1, '');
  }

  indexOf(kind: StepKind): number {
    const i = this.r.steps.findIndex((s) => s.step === kind);
    return i < 0 ? this.r.steps.length : i;
  }

  end(now: number, status: Exclude<RemediationStatus, 'in-progress'>, summary: string): void {
    for (let i = 0; i < this.r.steps.length; i++) {
      const s = this.r.steps[i];
      if (s !== undefined && !FINAL_STEP_STATUSES.includes(s.status))
        this.endStep(i, now, 'skipped', `not reached: ${summary}`);
    }
    this.r = {
      ...this.r,
      status,
      endedAt: iso(now),
      current: this.r.steps.length,
      heldBy: [],
      summary,
    };
    this.event(now, 'remediation', resultOf(status), summary);
  }
}

function resultOf(status: Exclude<RemediationStatus, 'in-progress'>): RemediationEventResult {
  switch (status) {
    case 'succeeded':
      return 'succeeded';
    case 'escalated':
      return 'escalated';
    case 'failed':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
    case 'dry-run':
      return 'dry-run';
  }
}

function newRemediation(
  incident: Incident,
  rootCause: RootCause,
  ladder: readonly LadderStep[],
  mode: RemediationMode,
  node: NodeSnapshot | undefined,
  now: number,
  attempt: number,
): Remediation {
  return {
    id: remediationId(incident.id) + (attempt > 1 ? `-${attempt}` : ''),
    incidentId: incident.id,
    node: incident.nodes[0] ?? '',
    rootCause,
    mode,
    status: 'in-progress',
    createdAt: iso(now),
    endedAt: null,
    steps: ladder.map((s) => ({
      step: s.step,
      timeoutMs: s.timeoutMs,
      status: 'pending',
      startedAt: null,
      deadlineAt: null,
      endedAt: null,
      detail: '',
      approvedBy: null,
    })),
    current: 0,
    cordoned: false,
    taintsAdded: [],
    confirmedOffAt: null,
    machine: machineOf(node),
    heldBy: [],
    summary: `${rootCause}: ladder of ${ladder.length} steps`,
  };
}

const DRY_RUN_WOULD: Record<StepKind, string> = {
  'capture-console': 'would save the serial console',
  cordon: `would cordon and taint ${TAINT_REMEDIATING}:NoSchedule`,
  'port-reset': "would set the node's Neutron ports admin_state_up false, then true",
  'soft-reboot': 'would ask the cloud for a SOFT reboot and wait for Ready',
  'hard-reboot':
    'would ask the cloud for a HARD reboot and wait for it to confirm the VM rebooting or off',
  'out-of-service': `would taint ${TAINT_OUT_OF_SERVICE}=nodeshutdown:NoExecute once the VM is confirmed off`,
  'wait-ready': 'would wait for the node to be Ready again',
  'remove-taints': 'would remove the taints it added and uncordon',
  escalate: `would annotate the Machine ${REMEDIATE_MACHINE_ANNOTATION} or hand the node to a person`,
};

/**
 * Decides what to do now. Rules, in order:
 * 1. A non-leader decides nothing (another replica owns remediation); the
 *    state is returned unchanged with the leadership brake engaged.
 * 2. Mode `off`: every remediation under way is cancelled (the taints it
 *    added are named in its summary, left for a person); nothing starts.
 * 3. Cluster brakes (see remediation-brakes.ts): the API server unreachable,
 *    a partition or CONTROL_PLANE_SIDE incident open, too many unhealthy
 *    nodes (count or %), the storm cooldown. While any is engaged no action
 *    is taken and nothing starts; remediations under way are held (their
 *    `heldBy` says by what) — but their deadlines still run, so a step held
 *    past its timeout ends as timed-out when the brake releases.
 * 4. A remediation starts for an open node incident whose root cause has a
 *    ladder in the policy, if it has none yet (or only succeeded ones: the
 *    node went down again), the node is not already
 *    back (Ready and answering probes), and the node brakes allow:
 *    opt-out annotation, per-node attempts and backoff, max concurrent,
 *    one control-plane node at a time, and (when set to block) the
 *    capacity guard. The capacity guard's prediction is reported at start.
 *    In `dry-run` the whole ladder is recorded as what would be done and
 *    the remediation ends at once.
 * 5. A remediation under way ends as cancelled when its node is deleted,
 *    gets the opt-out annotation, or its incident is gone.
 * 6. The node back (Ready and answering probes) before or while a reset or
 *    reboot step waits: jump to `remove-taints` (or end as succeeded).
 * 7. The current step, if pending: a read-only step (capture-console,
 *    wait-ready), any step in `auto`, or an approved step starts; in
 *    `approve` mode it waits for approval until `approvalTimeout`, then the
 *    remediation fails ("no approval"). `out-of-service` is skipped unless
 *    the cloud confirmed the VM rebooting or off; when it starts, the
 *    capacity guard's prediction is reported again (pods are about to move).
 * 8. A running step past its deadline is timed out (a late outcome is
 *    ignored). A waiting step: `hard-reboot` succeeds once the cloud
 *    confirms the VM rebooting or off; `wait-ready`, `soft-reboot` and
 *    `port-reset` succeed once the node is back. Timed out: a reset or soft
 *    reboot moves on to the next step; a hard reboot or wait-ready jumps to
 *    `escalate`.
 * 9. Past the last step the remediation ends: escalated if `escalate` ran,
 *    succeeded if the node is back, failed otherwise.
 */
export function decideRemediation(
  state: RemediationState,
  input: RemediationInput,
  now: number,
): RemediationDecision {
  const pollMs = input.cloudPollMs ?? 5_000;
  const nodesByName = new Map(input.nodes.map((n) => [n.name, n]));
  const active = state.remediations.filter((r) => r.status === 'in-progress');
  const cluster = clusterBrakes(
    {
      leader: input.leader,
      apiConnected: input.apiConnected,
      incidents: input.incidents,
      health: input.health,
      nodeCount: input.nodes.length,
      active: active.length,
      stormActive: state.stormActive,
      stormClearedAt: state.stormClearedAt,
    },
    input.policy.brakes,
    now,
  );
  if (!input.leader) {
    return {
      state,
      brakes: cluster.brakes,
      effects: [],
      events: [],
      nextCheckAt: null,
      wantsCloud: [],
      capacity: [],
    };
  }

  const events: RemediationEvent[] = [];
  const effects: StepEffect[] = [];
  const wantsCloud = new Set<string>();
  const capacity: CapacityReport[] = [];
  const brakes: BrakeState[] = [...cluster.brakes];
  let nextCheckAt: number | null = cluster.nextCheckAt;
  const wake = (at: number | null): void => {
    if (at !== null && (nextCheckAt === null || at < nextCheckAt)) nextCheckAt = at;
  };
  const incidents = new Map(input.incidents.map((i) => [i.id, i]));
  const held = cluster.brakes.filter((b) => b.engaged && b.holdsAll).map((b) => b.name);

  const out: Remediation[] = [];
  for (const r of state.remediations) {
    if (r.status !== 'in-progress') {
      out.push(r);
      continue;
    }
    const w = new Working(r, events);
    advance(w, input, nodesByName, incidents, held, now, effects, wantsCloud);
    const after = w.r;
    if (after.status === 'in-progress') {
      for (const s of after.steps) wake(s.deadlineAt === null ? null : Date.parse(s.deadlineAt));
      const step = after.steps[after.current];
      if (step?.status === 'waiting' || step?.step === 'out-of-service') wake(now + pollMs);
    }
    out.push(after);
  }

  // Rule 4: start remediations for incidents that have none yet.
  // An incident gets a new remediation only after every earlier one succeeded and the node
  // went down again (a flap); one that failed, escalated or was cancelled stays with a person.
  const started = new Set(out.filter((r) => r.status !== 'succeeded').map((r) => r.incidentId));
  const attempts = (incidentId: string): number =>
    out.filter((r) => r.incidentId === incidentId).length;
  let activeCount = out.filter((r) => r.status === 'in-progress').length;
  for (const incident of input.incidents) {
    if (incident.status !== 'open' || incident.kind !== 'node' || started.has(incident.id))
      continue;
    const rootCause = incident.rootCause;
    const nodeName = incident.nodes[0];
    if (rootCause === null || nodeName === undefined) continue;
    const ladder = input.policy.ladders[rootCause];
    if (ladder === undefined) continue;
    const node = nodesByName.get(nodeName);
    // Diagnosed after the node already came back (the incident waits out its stable period).
    if (nodeIsBack(node, input.health.get(nodeName))) continue;
    const nb = nodeBrakes(
      {
        node: nodeName,
        snapshot: node,
        nodes: input.nodes,
        pods: input.pods,
        remediations: out,
        activeCount,
      },
      input.policy.brakes,
      now,
    );
    brakes.push(...nb.brakes);
    wake(nb.nextCheckAt);
    if (nb.capacity !== null) capacity.push(nb.capacity);
    if (input.mode === 'off' || held.length > 0 || nb.brakes.some((b) => b.engaged)) continue;
    const w = new Working(
      newRemediation(incident, rootCause, ladder, input.mode, node, now, attempts(incident.id) + 1),
      events,
    );
    w.event(
      now,
      'remediation',
      'started',
      `${rootCause} on ${nodeName}: ${ladder.map((s) => s.step).join(' → ')} (mode ${input.mode})`,
    );
    if (nb.capacity !== null) {
      w.event(now, 'capacity-guard', 'reported', nb.capacity.summary);
    }
    if (input.mode === 'dry-run') {
      w.r.steps.forEach((s, i) => w.endStep(i, now, 'dry-run', DRY_RUN_WOULD[s.step]));
      w.end(now, 'dry-run', `dry-run: recorded ${ladder.length} steps; nothing was done`);
    } else {
      activeCount += 1;
      advance(w, input, nodesByName, incidents, held, now, effects, wantsCloud);
      for (const s of w.r.steps) wake(s.deadlineAt === null ? null : Date.parse(s.deadlineAt));
    }
    out.push(w.r);
    started.add(incident.id);
  }

  const stormOver = cluster.brakes.some((b) => b.name === 'max-unhealthy' && b.engaged);
  const next: RemediationState = {
    remediations: out,
    stormActive: stormOver,
    stormClearedAt: state.stormActive && !stormOver ? now : state.stormClearedAt,
  };
  if (state.stormActive && !stormOver) wake(now + input.policy.brakes.stormCooldownMs);
  return {
    state: next,
    brakes,
    effects,
    events,
    nextCheckAt,
    wantsCloud: [...wantsCloud],
    capacity,
  };
}

/** Rules 2, 3, 5–9 for one remediation under way. */
function advance(
  w: Working,
  input: RemediationInput,
  nodes: ReadonlyMap<string, NodeSnapshot>,
  incidents: ReadonlyMap<string, Incident>,
  held: readonly BrakeName[],
  now: number,
  effects: StepEffect[],
  wantsCloud: Set<string>,
): void {
  const node = nodes.get(w.r.node);
  const leftover = (): string =>
    w.r.taintsAdded.length > 0 || w.r.cordoned
      ? ` (left for a person: ${[...w.r.taintsAdded, ...(w.r.cordoned ? ['cordon'] : [])].join(', ')})`
      : '';
  if (input.mode === 'off') {
    w.end(now, 'cancelled', `remediation mode set to off${leftover()}`);
    return;
  }
  if (node === undefined) {
    w.end(now, 'cancelled', `node ${w.r.node} no longer exists`);
    return;
  }
  if (node.annotations[OPT_OUT_ANNOTATION] === 'disabled') {
    w.end(now, 'cancelled', `node annotated ${OPT_OUT_ANNOTATION}=disabled${leftover()}`);
    return;
  }
  if (!incidents.has(w.r.incidentId)) {
    w.end(now, 'cancelled', `incident ${w.r.incidentId} is gone${leftover()}`);
    return;
  }
  const back = nodeIsBack(node, input.health.get(w.r.node));

  // Deadlines run even while held (rule 3): bookkeeping, not action.
  for (let guard = 0; guard <= w.r.steps.length + 1 && w.r.status === 'in-progress'; guard++) {
    const i = w.r.current;
    const step = w.r.steps[i];
    if (step === undefined) {
      finish(w, back, now);
      return;
    }
    const overdue = step.deadlineAt !== null && now >= Date.parse(step.deadlineAt);
    switch (step.status) {
      case 'awaiting-approval':
        if (overdue) {
          w.endStep(i, now, 'timed-out', `no approval within ${step.timeoutMs / 1000} s`);
          w.end(now, 'failed', `no approval for ${step.step}: handed to a person${leftover()}`);
          return;
        }
        break;
      case 'running':
        if (overdue) {
          w.endStep(
            i,
            now,
            'timed-out',
            `${step.step} did not finish within ${step.timeoutMs / 1000} s`,
          );
          afterFailure(w, i, now);
          continue;
        }
        break;
      case 'waiting': {
        if (back && step.step !== 'hard-reboot') {
          w.endStep(i, now, 'succeeded', `${w.r.node} is Ready and answering probes again`);
          if (step.step === 'wait-ready') w.next(now);
          else w.jump(now, w.indexOf('remove-taints'), `${w.r.node} came back after ${step.step}`);
          continue;
        }
        if (step.step === 'hard-reboot') {
          const instance = input.cloud.get(w.r.node);
          if (back || cloudConfirmsOff(instance)) {
            const how = back
              ? `${w.r.node} is already back`
              : `the cloud shows the VM ${instance?.status ?? '?'} (power ${instance?.powerState ?? '?'}, task ${instance?.taskState ?? 'none'})`;
            w.endStep(i, now, 'succeeded', `hard reboot confirmed: ${how}`);
            w.r = { ...w.r, confirmedOffAt: back ? w.r.confirmedOffAt : iso(now) };
            w.next(now);
            continue;
          }
          wantsCloud.add(w.r.node);
        }
        if (overdue) {
          w.endStep(
            i,
            now,
            'timed-out',
            step.step === 'hard-reboot'
              ? `the cloud did not confirm the VM rebooting or off within ${step.timeoutMs / 1000} s`
              : `${w.r.node} not back within ${step.timeoutMs / 1000} s`,
          );
          afterFailure(w, i, now);
          continue;
        }
        break;
      }
      case 'pending': {
        const beforeReboot = [
          'port-reset',
          'soft-reboot',
          'hard-reboot',
          'out-of-service',
          'wait-ready',
          'escalate',
        ];
        if (back && beforeReboot.includes(step.step)) {
          w.endStep(i, now, 'skipped', `${w.r.node} is Ready and answering probes again`);
          w.jump(now, w.indexOf('remove-taints'), `${w.r.node} came back`);
          continue;
        }
        if (step.step === 'out-of-service' && w.r.confirmedOffAt === null) {
          w.endStep(
            i,
            now,
            'skipped',
            'the cloud never confirmed the VM rebooting or off: freeing its volumes could corrupt them',
          );
          w.next(now);
          continue;
        }
        if (step.step === 'remove-taints' && !w.r.cordoned && w.r.taintsAdded.length === 0) {
          w.endStep(i, now, 'skipped', 'NodeWarden added no taint and did not cordon');
          w.next(now);
          continue;
        }
        if (held.length > 0) {
          if (w.r.heldBy.join() !== held.join()) {
            w.r = { ...w.r, heldBy: held };
            w.event(now, step.step, 'held', `held by: ${held.join(', ')}`, i);
          }
          return;
        }
        if (w.r.heldBy.length > 0) w.r = { ...w.r, heldBy: [] };
        const needsApproval =
          input.mode === 'approve' &&
          !READ_ONLY_STEPS.includes(step.step) &&
          step.approvedBy === null;
        if (needsApproval) {
          w.setStep(i, {
            status: 'awaiting-approval',
            deadlineAt: iso(now + input.policy.brakes.approvalTimeoutMs),
            detail: 'waiting for approval',
          });
          w.event(
            now,
            step.step,
            'awaiting-approval',
            `${step.step} on ${w.r.node} waits for approval`,
            i,
          );
          return;
        }
        w.setStep(i, {
          status: 'running',
          startedAt: iso(now),
          deadlineAt: iso(now + step.timeoutMs),
          detail: 'started',
        });
        if (step.step === 'out-of-service') {
          // The taint is what moves StatefulSet pods and volumes: say again what the survivors get.
          const report = capacityReport(w.r.node, input.nodes, input.pods);
          if (report !== null) w.event(now, 'capacity-guard', 'reported', report.summary, i);
        }
        if (step.step === 'wait-ready') {
          w.setStep(i, { status: 'waiting', detail: `waiting for ${w.r.node} to be Ready` });
        } else {
          effects.push({
            remediationId: w.r.id,
            stepIndex: i,
            step: step.step,
            node: w.r.node,
            incidentId: w.r.incidentId,
          });
        }
        return;
      }
      case 'succeeded':
      case 'failed':
      case 'timed-out':
      case 'skipped':
      case 'rejected':
      case 'dry-run':
        w.next(now);
        continue;
    }
    return;
  }
}

/** What a step's failure or timeout leads to (rules 8 and the outcome rules). */
function afterFailure(w: Working, i: number, now: number): void {
  const step = w.r.steps[i];
  if (step === undefined) return;
  switch (step.step) {
    case 'capture-console':
    case 'port-reset':
    case 'soft-reboot':
    case 'out-of-service':
      // Not essential, or a heavier step follows.
      w.next(now);
      return;
    case 'cordon':
    case 'hard-reboot':
    case 'wait-ready':
      w.jump(now, w.indexOf('escalate'), `${step.step} ${step.status}`);
      return;
    case 'remove-taints':
      w.end(now, 'failed', `could not remove the taints NodeWarden added: ${step.detail}`);
      return;
    case 'escalate':
      w.end(now, 'failed', `could not escalate: ${step.detail}; a person must take over`);
      return;
  }
}

/** Rule 9. */
function finish(w: Working, back: boolean, now: number): void {
  const escalated = w.r.steps.find((s) => s.step === 'escalate')?.status === 'succeeded';
  if (escalated) {
    w.end(
      now,
      'escalated',
      w.r.machine !== null
        ? `node still down: Machine ${w.r.machine.namespace}/${w.r.machine.name} marked ${REMEDIATE_MACHINE_ANNOTATION} for replacement`
        : `node still down: handed to a person (no Cluster API Machine)`,
    );
  } else if (back) {
    w.end(now, 'succeeded', `${w.r.node} is Ready again; the taints NodeWarden added are removed`);
  } else {
    w.end(now, 'failed', `the ladder ran out and ${w.r.node} is not back; a person must take over`);
  }
}

/** What the executor reports when a step's action finished. */
export interface StepOutcome {
  readonly ok: boolean;
  readonly detail: string;
  /** `cordon` reports what it changed, so `remove-taints` undoes exactly that. */
  readonly cordoned?: boolean;
  readonly taintsAdded?: readonly string[];
}

/**
 * Records the outcome of a step's action. Rules:
 * - an outcome for a step that is no longer running (it timed out, the
 *   remediation was cancelled) changes nothing;
 * - success: a reset or reboot step goes on waiting for its effect; any
 *   other step succeeds and the ladder moves on (`escalate` succeeding ends
 *   it as escalated at the next decision);
 * - failure: capture-console, port-reset, soft-reboot and out-of-service
 *   move on; cordon, hard-reboot and wait-ready jump to escalate;
 *   remove-taints and escalate end the remediation as failed.
 */
export function applyStepOutcome(
  state: RemediationState,
  remediationId: string,
  stepIndex: number,
  outcome: StepOutcome,
  now: number,
): { state: RemediationState; events: RemediationEvent[] } {
  const events: RemediationEvent[] = [];
  const remediations = state.remediations.map((r) => {
    if (r.id !== remediationId || r.status !== 'in-progress' || r.current !== stepIndex) return r;
    const step = r.steps[stepIndex];
    if (step?.status !== 'running') return r;
    const w = new Working(r, events);
    if (outcome.cordoned === true) w.r = { ...w.r, cordoned: true };
    if (outcome.taintsAdded !== undefined && outcome.taintsAdded.length > 0) {
      w.r = { ...w.r, taintsAdded: [...new Set([...w.r.taintsAdded, ...outcome.taintsAdded])] };
    }
    if (!outcome.ok) {
      w.endStep(stepIndex, now, 'failed', outcome.detail);
      afterFailure(w, stepIndex, now);
    } else if (WAITS_AFTER_ACTION.includes(step.step)) {
      w.setStep(stepIndex, { status: 'waiting', detail: outcome.detail });
      w.event(now, step.step, 'started', outcome.detail, stepIndex);
    } else {
      w.endStep(stepIndex, now, 'succeeded', outcome.detail);
      if (step.step === 'remove-taints') {
        // The ladder reaches remove-taints only on the way back: nothing to escalate.
        w.r = { ...w.r, cordoned: false, taintsAdded: [] };
        w.jump(now, w.r.steps.length, 'the node is back: nothing to escalate');
      } else w.next(now);
    }
    return w.r;
  });
  return { state: { ...state, remediations }, events };
}

/**
 * A person approves or rejects the step awaiting approval. Rules:
 * - only a step in `awaiting-approval` can be approved or rejected
 *   (CONFLICT-worthy otherwise: the caller gets `ok: false` and why);
 * - approval marks the step approved; the next decision starts it;
 * - rejection ends the step as rejected and the remediation as failed
 *   (handed to a person): a person said no.
 */
export function applyApproval(
  state: RemediationState,
  remediationId: string,
  stepIndex: number,
  verdict: 'approve' | 'reject',
  approver: string,
  now: number,
): { state: RemediationState; events: RemediationEvent[]; ok: boolean; why: string } {
  const events: RemediationEvent[] = [];
  const r = state.remediations.find((x) => x.id === remediationId);
  if (r === undefined) return { state, events, ok: false, why: `no remediation ${remediationId}` };
  const step = r.steps[stepIndex];
  if (step === undefined) {
    return {
      state,
      events,
      ok: false,
      why: `${remediationId} has no step ${stepIndex} (it has ${r.steps.length})`,
    };
  }
  if (step.status !== 'awaiting-approval') {
    return {
      state,
      events,
      ok: false,
      why: `step ${stepIndex} (${step.step}) of ${remediationId} is ${step.status}, not awaiting approval`,
    };
  }
  const w = new Working(r, events);
  if (verdict === 'approve') {
    w.setStep(stepIndex, {
      status: 'pending',
      approvedBy: approver,
      deadlineAt: null,
      detail: `approved by ${approver}`,
    });
    w.event(now, step.step, 'approved', `${step.step} approved by ${approver}`, stepIndex);
  } else {
    w.setStep(stepIndex, { approvedBy: null });
    w.endStep(stepIndex, now, 'rejected', `rejected by ${approver}`);
    w.end(now, 'failed', `${step.step} rejected by ${approver}: handed to a person`);
  }
  return {
    state: {
      ...state,
      remediations: state.remediations.map((x) => (x.id === remediationId ? w.r : x)),
    },
    events,
    ok: true,
    why: '',
  };
}

/**
 * After a controller restart: a step whose action was in flight may or may
 * not have happened. Rules:
 * - cordon, taints, annotations and the console capture are idempotent:
 *   they run again;
 * - a reset or reboot is never issued twice blindly: it is treated as
 *   issued and waits for its effect until its deadline (a reboot that did
 *   not happen times out and the ladder moves on);
 * - everything else (waiting, awaiting approval, deadlines) carries on; a
 *   deadline that passed while the controller was down ends the step at
 *   the next decision.
 */
export function resumeRemediations(
  state: RemediationState,
  now: number,
): {
  state: RemediationState;
  events: RemediationEvent[];
} {
  const events: RemediationEvent[] = [];
  const remediations = state.remediations.map((r) => {
    const step = r.steps[r.current];
    if (r.status !== 'in-progress' || step?.status !== 'running') return r;
    const w = new Working(r, events);
    if (WAITS_AFTER_ACTION.includes(step.step)) {
      w.setStep(r.current, {
        status: 'waiting',
        detail: `${step.step} was in flight when the controller restarted: treated as issued, waiting for its effect`,
      });
      w.event(
        now,
        step.step,
        'started',
        'resumed after a controller restart: waiting for its effect',
        r.current,
      );
    } else {
      w.setStep(r.current, {
        status: 'pending',
        startedAt: null,
        deadlineAt: null,
        detail: 'in flight when the controller restarted: runs again (idempotent)',
      });
      w.event(
        now,
        step.step,
        'skipped',
        'in flight when the controller restarted: runs again',
        r.current,
      );
    }
    return w.r;
  });
  return { state: { ...state, remediations }, events };
}

/** Keeps remediations under way and those that ended within `keepMs`. */
export function pruneRemediations(
  state: RemediationState,
  now: number,
  keepMs: number,
): RemediationState {
  return {
    ...state,
    remediations: state.remediations.filter(
      (r) => r.endedAt === null || now - Date.parse(r.endedAt) <= keepMs,
    ),
  };
}
