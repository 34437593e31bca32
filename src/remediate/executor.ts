import type { CloudInstance, CloudProvider } from '../core/cloud.ts';
import type { ClusterView } from '../core/cluster.ts';
import type { ClusterWriter } from '../core/cluster-writer.ts';
import type { Clock, Timer } from '../core/clock.ts';
import { describeError, NodeWardenError } from '../core/errors.ts';
import type { Incident, NodeHealth } from '../core/incident.ts';
import type { Logger } from '../core/logger.ts';
import type { BrakeState, CapacityReport } from '../core/remediation-brakes.ts';
import type { RemediationMode, RemediationPolicy } from '../core/remediation-policy.ts';
import {
  applyApproval,
  applyStepOutcome,
  decideRemediation,
  EMPTY_REMEDIATION_STATE,
  pruneRemediations,
  REMEDIATE_MACHINE_ANNOTATION,
  resumeRemediations,
  TAINT_OUT_OF_SERVICE,
  TAINT_REMEDIATING,
  type Remediation,
  type RemediationEvent,
  type RemediationState,
  type StepEffect,
  type StepOutcome,
} from '../core/remediation.ts';
import type { IncidentStore, JsonValue } from '../store/port.ts';
import type { RemediationControl, RemediationOverview } from './control.ts';

/** Store meta key holding the remediation state (so a restart resumes it). */
export const REMEDIATION_STATE_KEY = 'remediation.state';
/** Console lines kept in the audit record (the whole console goes to last words). */
const CONSOLE_TAIL_LINES = 40;

export interface ExecutorDeps {
  readonly view: ClusterView;
  readonly writer: ClusterWriter;
  /** null: no cloud configured; cloud steps fail with a clear reason. */
  readonly cloud: CloudProvider | null;
  readonly store: IncidentStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly policy: RemediationPolicy;
  /** A file path or `built-in`. */
  readonly policySource: string;
  /** Overrides the policy's mode (the --remediation-mode flag). */
  readonly mode?: RemediationMode;
  /** `controller/<identity>`: the actor of audit records. */
  readonly actor: string;
  readonly isLeader: () => boolean;
  /** Throws when this replica lost its Lease: called right before every action. */
  readonly assertLeader: (action: string) => void;
  /** NodeWarden's detection state per node. */
  readonly health: () => ReadonlyMap<string, NodeHealth>;
  /**
   * What the planner reads each decision: every open incident (with its root
   * cause once diagnosed) and the incidents of the remediations under way,
   * whose ids are given, open or not. `remediationIncidents(store, ids)` is
   * the store's answer; the simulated world adds its verdicts on top.
   */
  readonly incidents: (underWay: readonly string[]) => Promise<readonly Incident[]>;
  /** Decide at least this often (default 1 s). */
  readonly intervalMs?: number;
  /** Called for every event after it is recorded (the demo prints them, metrics count them). */
  readonly onEvent?: (event: RemediationEvent) => void;
}

/** Open incidents read per page (the store's largest page). */
const OPEN_PAGE = 1000;
/** At most this many pages of open incidents per decision (10,000 open incidents). */
const OPEN_PAGES = 10;

/**
 * The incidents the planner needs, and no more (it runs every second): the
 * open ones — read by the store's status index, newest first, in pages —
 * and the incident of each remediation under way that is not open any more
 * (it resolved: the remediation may finish). An id the store does not know
 * is left out, so the planner cancels that remediation ("incident gone").
 * Pages go back by `openedAt`; incidents opened in the same millisecond as
 * a page's last one could be skipped, which needs over 1,000 open at once.
 */
export async function remediationIncidents(
  store: IncidentStore,
  underWay: readonly string[],
): Promise<Incident[]> {
  const found = new Map<string, Incident>();
  let before: string | undefined;
  for (let page = 0; page < OPEN_PAGES; page++) {
    const batch = await store.listIncidents({
      status: 'open',
      limit: OPEN_PAGE,
      ...(before === undefined ? {} : { before }),
    });
    for (const i of batch) found.set(i.id, i);
    const last = batch.at(-1);
    if (batch.length < OPEN_PAGE || last === undefined) break;
    before = last.openedAt;
  }
  for (const id of new Set(underWay)) {
    if (found.has(id)) continue;
    try {
      found.set(id, await store.getIncident(id));
    } catch (error) {
      if (!(error instanceof NodeWardenError && error.code === 'NOT_FOUND')) throw error;
    }
  }
  return [...found.values()];
}

/** Runs one promise-returning function at a time, in call order. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * Performs the remediation ladder: asks the pure planner what to do
 * (`decideRemediation`), records every change — an audit record per step
 * event and a line on the incident's timeline — persists the state in the
 * store before acting (so a restart knows what was in flight), performs the
 * steps through the ports (Kubernetes patches, the cloud), and reports each
 * outcome back. One decision at a time; step actions run concurrently.
 */
export class RemediationExecutor implements RemediationControl {
  private state: RemediationState = EMPTY_REMEDIATION_STATE;
  private brakes: readonly BrakeState[] = [];
  private capacity: readonly CapacityReport[] = [];
  private evaluatedAt: number | null = null;
  private wantsCloud: readonly string[] = [];
  private readonly cloudView = new Map<string, CloudInstance | null>();
  private readonly serial = new Serial();
  private readonly inFlight = new Set<Promise<void>>();
  private loaded = false;
  private stopped = true;
  /** Set by stop(): decisions still record outcomes but start no new action. */
  private closing = false;
  private timer: Timer | null = null;
  private seq = 0;
  private readonly mode: RemediationMode;
  /** Step events by `step/result`, for /metrics. */
  readonly stepCounts = new Map<string, number>();

  constructor(private readonly deps: ExecutorDeps) {
    this.mode = deps.mode ?? deps.policy.mode;
  }

  /** Loads what the store holds (resuming it) and starts deciding every interval. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops deciding and waits for step actions in flight to finish (they are recorded). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.closing = true;
    this.timer?.cancel();
    this.timer = null;
    await Promise.allSettled([...this.inFlight]);
    await this.serial.run(() => Promise.resolve());
  }

  /** One decision now (tests and the demo drive it directly with a ManualClock). */
  evaluate(): Promise<void> {
    return this.serial.run(() => this.decideOnce());
  }

  /** Resolves when no step action is in flight. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.serial.run(() => Promise.resolve());
  }

  // ---- RemediationControl ----

  overview(): RemediationOverview {
    const sorted = [...this.state.remediations].sort(
      (a, b) =>
        Number(b.status === 'in-progress') - Number(a.status === 'in-progress') ||
        b.createdAt.localeCompare(a.createdAt),
    );
    return {
      mode: this.mode,
      remediations: sorted,
      brakes: this.brakes,
      capacity: this.capacity,
      policySource: this.deps.policySource,
      evaluatedAt: this.evaluatedAt === null ? null : new Date(this.evaluatedAt).toISOString(),
    };
  }

  get(remediationId: string): Remediation {
    const r = this.state.remediations.find((x) => x.id === remediationId);
    if (r === undefined) {
      const known = this.state.remediations.map((x) => x.id).slice(0, 5);
      throw new NodeWardenError('NOT_FOUND', `no remediation ${remediationId}`, {
        hint: known.length > 0 ? `known: ${known.join(', ')}` : 'no remediation is recorded yet',
      });
    }
    return r;
  }

  approve(remediationId: string, step: number, approver: string): Promise<Remediation> {
    return this.verdict(remediationId, step, approver, 'approve');
  }

  reject(remediationId: string, step: number, approver: string): Promise<Remediation> {
    return this.verdict(remediationId, step, approver, 'reject');
  }

  private async verdict(
    remediationId: string,
    step: number,
    approver: string,
    verdict: 'approve' | 'reject',
  ): Promise<Remediation> {
    const who = approver.trim();
    if (who === '') {
      throw new NodeWardenError('BAD_INPUT', `${verdict} needs the name of the person approving`, {
        hint: 'the approver is the caller of the API token; the API passes its subject',
      });
    }
    const result = await this.serial.run(async () => {
      await this.load();
      this.get(remediationId);
      if (!this.deps.isLeader()) {
        throw new NodeWardenError('UNAVAILABLE', 'this controller replica is not the leader', {
          hint: 'send the approval to the leader replica (the one whose /metrics show nodewarden_leader 1)',
        });
      }
      const actor = who.startsWith('user:') ? who : `user:${who}`;
      const out = applyApproval(
        this.state,
        remediationId,
        step,
        verdict,
        actor,
        this.deps.clock.now(),
      );
      if (!out.ok) {
        throw new NodeWardenError(
          out.why.includes('has no step') ? 'NOT_FOUND' : 'CONFLICT',
          out.why,
          {
            hint: 'list the remediations (nodewarden remediation list) to see which step awaits approval',
          },
        );
      }
      this.state = out.state;
      await this.persist();
      await this.record(out.events, {});
      await this.decideOnce();
      return this.get(remediationId);
    });
    return result;
  }

  // ---- the loop ----

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimer(delayMs, () => {
      this.timer = null;
      void this.evaluate()
        .catch((error: unknown) =>
          this.deps.log.log('error', 'remediation decision failed', {
            error: describeError(error),
          }),
        )
        .finally(() => this.scheduleNext());
    });
  }

  private scheduleNext(): void {
    const interval = this.deps.intervalMs ?? 1000;
    this.schedule(interval);
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    const saved = await this.deps.store.getMeta(REMEDIATION_STATE_KEY);
    if (saved !== undefined && saved !== null) {
      const resumed = resumeRemediations(
        saved as unknown as RemediationState,
        this.deps.clock.now(),
      );
      this.state = resumed.state;
      const open = this.state.remediations.filter((r) => r.status === 'in-progress');
      if (open.length > 0)
        this.deps.log.log('info', 'resuming remediations', { remediations: open.map((r) => r.id) });
      this.loaded = true;
      await this.persist();
      await this.record(resumed.events, {});
      return;
    }
    this.loaded = true;
  }

  private async decideOnce(): Promise<void> {
    if (this.closing) return;
    if (!this.deps.isLeader()) {
      // A standby keeps nothing: the leader's state is in the store, loaded when it leads.
      this.loaded = false;
      this.state = EMPTY_REMEDIATION_STATE;
    } else {
      await this.load();
    }
    await this.readCloud();
    const now = this.deps.clock.now();
    const underWay = this.state.remediations
      .filter((r) => r.status === 'in-progress')
      .map((r) => r.incidentId);
    const incidents = this.deps.isLeader() ? await this.deps.incidents(underWay) : [];
    const before = this.state;
    const decision = decideRemediation(
      this.state,
      {
        mode: this.mode,
        policy: this.deps.policy,
        leader: this.deps.isLeader(),
        apiConnected: this.deps.view.connection().connected,
        incidents,
        health: this.deps.health(),
        nodes: this.deps.view.nodes(),
        pods: this.deps.view.pods(),
        cloud: this.cloudView,
      },
      now,
    );
    this.brakes = decision.brakes;
    this.capacity = decision.capacity;
    this.evaluatedAt = now;
    this.wantsCloud = decision.wantsCloud;
    if (!this.deps.isLeader()) return;
    this.state = pruneRemediations(decision.state, now, this.deps.policy.brakes.attemptWindowMs);
    if (this.state !== before) await this.persist();
    await this.record(decision.events, {});
    for (const effect of decision.effects) this.launch(effect);
  }

  /** Reads the cloud's view of the nodes the last decision waits on. */
  private async readCloud(): Promise<void> {
    const cloud = this.deps.cloud;
    for (const name of this.wantsCloud) {
      const providerID = this.deps.view.node(name)?.providerID;
      if (cloud === null || providerID == null) continue;
      try {
        this.cloudView.set(name, await cloud.instance(providerID));
      } catch (error) {
        this.deps.log.log('warn', 'cannot read the cloud instance', {
          node: name,
          error: describeError(error),
        });
      }
    }
  }

  private launch(effect: StepEffect): void {
    const started = this.deps.clock.now();
    const run = (async (): Promise<void> => {
      let outcome: StepOutcome & { evidence?: JsonValue };
      try {
        this.deps.assertLeader(`remediation ${effect.step} on ${effect.node}`);
        if (!this.deps.view.connection().connected) {
          throw new NodeWardenError('UNAVAILABLE', 'the API server became unreachable', {
            hint: 'nothing was done; the step is retried by the ladder rules',
          });
        }
        outcome = await this.perform(effect);
      } catch (error) {
        outcome = { ok: false, detail: describeError(error) };
      }
      await this.serial.run(async () => {
        const now = this.deps.clock.now();
        const applied = applyStepOutcome(
          this.state,
          effect.remediationId,
          effect.stepIndex,
          outcome,
          now,
        );
        if (applied.events.length === 0) {
          this.deps.log.log('info', 'late step outcome ignored', {
            remediation: effect.remediationId,
            step: effect.step,
            tookMs: now - started,
          });
          return;
        }
        this.state = applied.state;
        await this.persist();
        await this.record(applied.events, { [effect.stepIndex]: outcome.evidence ?? null });
        await this.decideOnce();
      });
    })().catch((error: unknown) =>
      this.deps.log.log('error', 'remediation step bookkeeping failed', {
        remediation: effect.remediationId,
        step: effect.step,
        error: describeError(error),
      }),
    );
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  /** The step's action through the ports. */
  private async perform(effect: StepEffect): Promise<StepOutcome & { evidence?: JsonValue }> {
    const r = this.get(effect.remediationId);
    const node = effect.node;
    switch (effect.step) {
      case 'capture-console': {
        const { cloud, serverId } = await this.server(node);
        const text = await cloud.consoleLog(serverId);
        const at = new Date(this.deps.clock.now()).toISOString();
        await this.deps.store.putLastWords(node, at, 'console-log', { serverId, console: text });
        const lines = text.split('\n');
        return {
          ok: true,
          detail: `serial console saved (${lines.length} lines, ${text.length} bytes) as last words 'console-log'`,
          evidence: {
            serverId,
            lines: lines.length,
            tail: lines.slice(-CONSOLE_TAIL_LINES).join('\n'),
          },
        };
      }
      case 'cordon': {
        const res = await this.deps.writer.patchNode(node, {
          unschedulable: true,
          addTaints: [{ key: TAINT_REMEDIATING, value: r.id, effect: 'NoSchedule' }],
        });
        return {
          ok: true,
          detail: `${res.cordoned ? 'cordoned' : 'already cordoned'}; ${res.taintsAdded.length > 0 ? `tainted ${res.taintsAdded.join(', ')}:NoSchedule` : 'taint already there'}`,
          cordoned: res.cordoned,
          taintsAdded: res.taintsAdded,
          evidence: { ...res },
        };
      }
      case 'port-reset': {
        const { cloud, serverId } = await this.server(node);
        const ports = await cloud.ports(serverId);
        if (ports.length === 0)
          return { ok: false, detail: `server ${serverId} has no Neutron port` };
        for (const p of ports) await cloud.setPortAdminState(p.id, false);
        for (const p of ports) await cloud.setPortAdminState(p.id, true);
        return {
          ok: true,
          detail: `admin_state_up false → true on ${ports.map((p) => p.id).join(', ')}`,
          evidence: { serverId, ports: ports.map((p) => ({ id: p.id, status: p.status })) },
        };
      }
      case 'soft-reboot':
      case 'hard-reboot': {
        const { cloud, serverId } = await this.server(node);
        const type = effect.step === 'soft-reboot' ? 'SOFT' : 'HARD';
        const { requestId } = await cloud.reboot(serverId, type);
        // The request id is the instance action's: what ties this step to the cloud's own record.
        return {
          ok: true,
          detail: `${type} reboot of server ${serverId} accepted${requestId === null ? '' : ` (request ${requestId})`}`,
          evidence: { serverId, type, cloudAction: { action: 'reboot', requestId } },
        };
      }
      case 'out-of-service': {
        const res = await this.deps.writer.patchNode(node, {
          addTaints: [{ key: TAINT_OUT_OF_SERVICE, value: 'nodeshutdown', effect: 'NoExecute' }],
        });
        return {
          ok: true,
          detail: `tainted ${TAINT_OUT_OF_SERVICE}=nodeshutdown:NoExecute (VM confirmed off at ${r.confirmedOffAt ?? '?'}): StatefulSet pods and volumes may move`,
          taintsAdded: res.taintsAdded,
          evidence: { ...res },
        };
      }
      case 'remove-taints': {
        const res = await this.deps.writer.patchNode(node, {
          removeTaintKeys: r.taintsAdded,
          ...(r.cordoned ? { unschedulable: false } : {}),
        });
        return {
          ok: true,
          detail: `removed ${res.taintsRemoved.join(', ') || 'no taint (already gone)'}${res.uncordoned ? '; uncordoned' : ''}`,
          evidence: { ...res },
        };
      }
      case 'escalate': {
        if (r.machine !== null) {
          await this.deps.writer.annotateMachine(r.machine, REMEDIATE_MACHINE_ANNOTATION, '');
          return {
            ok: true,
            detail: `Machine ${r.machine.namespace}/${r.machine.name} annotated ${REMEDIATE_MACHINE_ANNOTATION}: Cluster API replaces it`,
            evidence: { machine: `${r.machine.namespace}/${r.machine.name}` },
          };
        }
        this.deps.log.log('warn', 'remediation handed to a person', {
          node,
          remediation: r.id,
          incident: r.incidentId,
        });
        return {
          ok: true,
          detail: `${node} has no Cluster API Machine: handed to a person (incident ${r.incidentId})`,
        };
      }
      case 'wait-ready':
        return { ok: true, detail: 'nothing to do' };
    }
  }

  private async server(node: string): Promise<{ cloud: CloudProvider; serverId: string }> {
    const cloud = this.deps.cloud;
    if (cloud === null) {
      throw new NodeWardenError('UNSUPPORTED', 'no cloud provider is configured', {
        hint: 'start the controller with --cloud openstack (or lab) to capture consoles and reboot VMs',
      });
    }
    const providerID = this.deps.view.node(node)?.providerID;
    if (providerID == null) {
      throw new NodeWardenError('NOT_FOUND', `node ${node} has no spec.providerID`, {
        hint: 'the cloud cannot find the VM without it',
      });
    }
    const instance = await cloud.instance(providerID);
    if (instance === null) {
      throw new NodeWardenError('NOT_FOUND', `the cloud has no server for ${providerID}`, {
        hint: 'the VM was deleted: the node must be replaced',
      });
    }
    return { cloud, serverId: instance.id };
  }

  private async persist(): Promise<void> {
    await this.deps.store.setMeta(REMEDIATION_STATE_KEY, this.state as unknown as JsonValue);
  }

  /** One audit record and one timeline line per event. */
  private async record(
    events: readonly RemediationEvent[],
    evidence: Readonly<Record<number, JsonValue>>,
  ): Promise<void> {
    for (const e of events) {
      const key = `${e.action}/${e.result}`;
      this.stepCounts.set(key, (this.stepCounts.get(key) ?? 0) + 1);
      const action = e.action === 'remediation' ? 'remediation' : `remediation-${e.action}`;
      try {
        await this.deps.store.appendAudit({
          id: `${e.remediationId}-${Date.parse(e.at)}-${++this.seq}`,
          incidentId: e.incidentId,
          at: e.at,
          actor: e.approvedBy ?? this.deps.actor,
          action,
          reason: e.reason,
          evidence: {
            remediationId: e.remediationId,
            node: e.node,
            step: e.stepIndex,
            approvedBy: e.approvedBy,
            ...(e.stepIndex !== null && evidence[e.stepIndex] !== undefined
              ? { result: evidence[e.stepIndex] ?? null }
              : {}),
          },
          result: e.result,
          durationMs: e.durationMs,
        });
        await this.deps.store.appendTimeline(e.incidentId, [
          {
            at: e.at,
            kind: 'note',
            node: e.node,
            message: `remediation ${e.action === 'remediation' ? '' : `${e.action} `}${e.result}: ${e.reason}`,
          },
        ]);
      } catch (error) {
        this.deps.log.log('error', 'could not record a remediation event', {
          remediation: e.remediationId,
          action: e.action,
          error: describeError(error),
        });
      }
      this.deps.log.log(
        e.result === 'failed' || e.result === 'timed-out' ? 'warn' : 'info',
        'remediation',
        {
          remediation: e.remediationId,
          node: e.node,
          action: e.action,
          result: e.result,
          reason: e.reason,
        },
      );
      this.deps.onEvent?.(e);
    }
  }
}
