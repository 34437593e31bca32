/**
 * A whole Kubernetes cluster in one process, on a `Clock`: nodes whose
 * kubelets renew their Leases, a node lifecycle controller with Kubernetes'
 * timing, taint-based eviction, ReplicaSet-like recreation and a fitting
 * scheduler — plus the faults the lab injects for real. It implements
 * `ClusterView` (what the controller watches) and feeds `SimProber` (what
 * the controller's and agents' probes see). Used by the demo and by tests.
 */
import type {
  ApiConnection,
  ClusterChange,
  ClusterView,
  ContainerResources,
  EventSnapshot,
  LeaseSnapshot,
  NodeCondition,
  NodeSnapshot,
  PodSnapshot,
  ResourceList,
  Taint,
  Toleration,
} from '../core/cluster.ts';
import type { Clock, Timer } from '../core/clock.ts';
import {
  applyNodePatch,
  type ClusterWriter,
  type MachineRef,
  type NodePatch,
  type NodePatchResult,
} from '../core/cluster-writer.ts';
import { badInput, NodeWardenError } from '../core/errors.ts';
import type { Prober } from '../core/probe.ts';
import { schedulePod, tolerates } from './scheduler.ts';
import { SimProber } from './sim-prober.ts';

/** Kubernetes' timing (v1.32 defaults). */
export interface SimTiming {
  /** Kubelet renews its Lease this often. */
  readonly leaseRenewMs: number;
  readonly leaseDurationSeconds: number;
  /** The node lifecycle controller looks at nodes this often. */
  readonly nodeMonitorPeriodMs: number;
  /** …and marks a node Unknown when its Lease is older than this (50 s since 1.32). */
  readonly nodeMonitorGraceMs: number;
  /** DefaultTolerationSeconds for not-ready/unreachable NoExecute. */
  readonly defaultTolerationSeconds: number;
  /** Eviction, ReplicaSet and scheduler passes run this often. */
  readonly controllerTickMs: number;
  /** A healed kubelet retries its Lease after this long. */
  readonly kubeletRetryMs: number;
}

export const KUBERNETES_TIMING: SimTiming = {
  leaseRenewMs: 10_000,
  leaseDurationSeconds: 40,
  nodeMonitorPeriodMs: 5_000,
  nodeMonitorGraceMs: 50_000,
  defaultTolerationSeconds: 300,
  controllerTickMs: 1_000,
  kubeletRetryMs: 1_000,
};

export interface SimNodeSpec {
  readonly name: string;
  readonly ip: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly allocatable: ResourceList;
  /** Defaults to allocatable. */
  readonly capacity?: ResourceList;
  readonly taints?: readonly Taint[];
  readonly providerID?: string;
  /** How long ago the kubelet last renewed when the node is added (staggers renewals); 0 by default. */
  readonly renewPhaseMs?: number;
}

export interface SimContainerSpec {
  readonly name: string;
  readonly requests?: ResourceList;
  readonly limits?: ResourceList;
}

export interface SimPodSpec {
  readonly namespace: string;
  readonly name: string;
  /**
   * Bind straight to this node, as `spec.nodeName` does: no scheduler and no
   * fit check (the scenario's history); omit to let the scheduler place it.
   */
  readonly node?: string;
  readonly owner?: { readonly kind: string; readonly name: string };
  readonly containers: readonly SimContainerSpec[];
  readonly initContainers?: readonly SimContainerSpec[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** Kubernetes' defaults are added as admission would (see `admitTolerations`). */
  readonly tolerations?: readonly Toleration[];
  readonly priorityClassName?: string;
}

/** Faults, named as the lab names them (src/lab/faults.ts). */
export type SimFaultKind =
  'link-down' | 'kubelet-stop' | 'kubelet-hang' | 'block-kubelet-port' | 'partition';

/** What a probe from `observer` to an address meets, for SimProber. */
export type PathState =
  | { readonly kind: 'no-host' }
  | { readonly kind: 'link-down'; readonly since: number }
  | { readonly kind: 'kubelet-stopped' }
  | { readonly kind: 'kubelet-hung' }
  | { readonly kind: 'port-blocked' }
  | { readonly kind: 'ok' };

interface NodeFaults {
  linkDownSince: number | null;
  kubelet: 'running' | 'stopped' | 'hung';
  portBlocked: boolean;
  /** Observers whose frames the node drops. */
  partitionedFrom: Set<string>;
  partitionSince: number | null;
}

interface ReplicaSetState {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  desired: number;
  readonly template: SimPodSpec;
}

const UNREACHABLE = 'node.kubernetes.io/unreachable';
const NOT_READY = 'node.kubernetes.io/not-ready';
const MAX_EVENTS = 2_000;
/** Kubernetes' random-suffix alphabet: no vowels, no 0/1/3. */
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
/** Owners whose lost pods are recreated elsewhere at once (StatefulSet waits for the name). */
const RECREATING_OWNERS = new Set(['ReplicaSet', 'Job', 'StatefulSet']);

export interface SimClusterOptions {
  readonly timing?: Partial<SimTiming>;
  /** Addresses of observers that are not nodes (the controller); default `controller` → 10.62.0.1. */
  readonly observerIps?: Readonly<Record<string, string>>;
  /** After a link goes down, observers' neighbour entries read STALE this long before FAILED. */
  readonly neighbourFailAfterMs?: number;
}

export class SimCluster implements ClusterView, ClusterWriter {
  readonly timing: SimTiming;
  readonly neighbourFailAfterMs: number;
  private readonly clock: Clock;
  private readonly observerIps: Readonly<Record<string, string>>;

  // Truth: what the API server holds.
  private readonly nodeMap = new Map<string, NodeSnapshot>();
  private readonly leaseMap = new Map<string, LeaseSnapshot>();
  private readonly podMap = new Map<string, PodSnapshot>();
  private eventList: EventSnapshot[] = [];
  private readonly faults = new Map<string, NodeFaults>();
  private readonly replicaSets = new Map<string, ReplicaSetState>();
  private readonly templates = new Map<string, SimPodSpec>();
  private readonly failedScheduling = new Set<string>();
  private readonly kubeletTimers = new Map<string, Timer>();

  // The controller's view: equal to the truth while connected, frozen while not.
  private viewNodes = new Map<string, NodeSnapshot>();
  private viewLeases = new Map<string, LeaseSnapshot>();
  private viewPods = new Map<string, PodSnapshot>();
  private viewEvents: EventSnapshot[] = [];
  private connected = true;
  private disconnectedAt: number | null = null;
  private listener: ((change: ClusterChange) => void) | null = null;

  private seq = 0;
  private ticks = 0;
  private readonly tickTimer: { current: Timer | null } = { current: null };

  constructor(clock: Clock, options: SimClusterOptions = {}) {
    this.clock = clock;
    this.timing = { ...KUBERNETES_TIMING, ...options.timing };
    this.observerIps = options.observerIps ?? { controller: '10.62.0.1' };
    this.neighbourFailAfterMs = options.neighbourFailAfterMs ?? 30_000;
    this.scheduleTick();
  }

  // ---- building the cluster ----

  addNode(spec: SimNodeSpec): void {
    if (this.nodeMap.has(spec.name)) {
      throw new NodeWardenError('CONFLICT', `node ${spec.name} already exists in the simulation`, {
        hint: 'give every node a unique name',
      });
    }
    if ([...this.nodeMap.values()].some((n) => n.internalIP === spec.ip)) {
      throw new NodeWardenError('CONFLICT', `address ${spec.ip} of ${spec.name} is already taken`, {
        hint: 'give every node its own InternalIP',
      });
    }
    const now = this.clock.now();
    const created = this.iso(now);
    const node: NodeSnapshot = {
      name: spec.name,
      uid: this.uid(),
      labels: { 'kubernetes.io/hostname': spec.name, ...spec.labels },
      annotations: { ...spec.annotations },
      internalIP: spec.ip,
      providerID: spec.providerID ?? null,
      unschedulable: false,
      taints: [...(spec.taints ?? [])],
      conditions: healthyConditions(created),
      capacity: { ...(spec.capacity ?? spec.allocatable) },
      allocatable: { ...spec.allocatable },
      createdAt: created,
    };
    this.faults.set(spec.name, {
      linkDownSince: null,
      kubelet: 'running',
      portBlocked: false,
      partitionedFrom: new Set(),
      partitionSince: null,
    });
    this.putNode(node);
    const phase = Math.min(Math.max(0, spec.renewPhaseMs ?? 0), this.timing.leaseRenewMs - 1);
    this.putLease({
      node: spec.name,
      holderIdentity: spec.name,
      renewTime: this.iso(now - phase),
      leaseDurationSeconds: this.timing.leaseDurationSeconds,
    });
    this.armKubelet(spec.name, this.timing.leaseRenewMs - phase);
  }

  /** Adds a pod: bound to `spec.node` directly, or Pending for the scheduler. */
  addPod(spec: SimPodSpec): PodSnapshot {
    if (spec.node !== undefined && !this.nodeMap.has(spec.node)) {
      throw badInput(
        `pod ${spec.namespace}/${spec.name} names node ${spec.node}, which the simulation does not have`,
        'add the node first, or omit `node` to let the scheduler place the pod',
      );
    }
    const key = `${spec.namespace}/${spec.name}`;
    if (this.podMap.has(key)) {
      throw new NodeWardenError('CONFLICT', `pod ${key} already exists in the simulation`, {
        hint: 'give every pod a unique name within its namespace',
      });
    }
    if (spec.owner !== undefined && RECREATING_OWNERS.has(spec.owner.kind)) {
      const ownerKey = `${spec.owner.kind}/${spec.namespace}/${spec.owner.name}`;
      const rs = this.replicaSets.get(ownerKey);
      if (rs === undefined) {
        this.replicaSets.set(ownerKey, {
          kind: spec.owner.kind,
          namespace: spec.namespace,
          name: spec.owner.name,
          desired: 1,
          template: spec,
        });
      } else rs.desired += 1;
    }
    this.templates.set(key, spec);
    const pod = this.makePod(spec, spec.node ?? null);
    this.putPod(pod);
    return pod;
  }

  // ---- faults ----

  /** The node's own link goes down: its stack answers no one, its kubelet reaches no API server. */
  cutNode(name: string): void {
    const f = this.faultsOf(name);
    f.linkDownSince ??= this.clock.now();
  }

  /** Clears every fault on the node; its kubelet renews within `kubeletRetryMs`. */
  healNode(name: string): void {
    const f = this.faultsOf(name);
    f.linkDownSince = null;
    f.kubelet = 'running';
    f.portBlocked = false;
    f.partitionedFrom.clear();
    f.partitionSince = null;
    this.armKubelet(name, this.timing.kubeletRetryMs);
  }

  /** Kubelet killed: the host answers ARP and ICMP, port 10250 refuses (ECONNREFUSED). */
  stopKubelet(name: string): void {
    this.faultsOf(name).kubelet = 'stopped';
  }

  /** Kubelet frozen (SIGSTOP): TCP connects complete from the backlog, TLS times out. */
  hangKubelet(name: string): void {
    this.faultsOf(name).kubelet = 'hung';
  }

  /** A firewall drops tcp/10250 to the node: L3 answers, L4 times out; kubelet still reaches the API. */
  blockKubeletPort(name: string): void {
    this.faultsOf(name).portBlocked = true;
  }

  /** The node drops every frame from these observers only (partial partition). */
  partitionNode(name: string, observers: readonly string[]): void {
    const f = this.faultsOf(name);
    for (const o of observers) f.partitionedFrom.add(o);
    f.partitionSince ??= this.clock.now();
  }

  /** The controller loses the API server: its view freezes until `reconnectApi`. */
  disconnectApi(error = 'dial tcp 10.62.0.1:6443: i/o timeout'): void {
    if (!this.connected) return;
    this.connected = false;
    this.disconnectedAt = this.clock.now();
    this.lastError = error;
    this.listener?.({ kind: 'connection', connected: false, error });
  }

  /** The controller reaches the API server again: a relist brings its view up to date. */
  reconnectApi(): void {
    if (this.connected) return;
    this.connected = true;
    this.disconnectedAt = null;
    this.lastError = null;
    this.relist();
    this.listener?.({ kind: 'connection', connected: true });
  }

  // ---- the write side (ClusterWriter): what remediation changes ----

  /** Annotations set on Cluster API Machines, by `namespace/name`. */
  readonly machineAnnotations = new Map<string, Record<string, string>>();

  /** Cordon and taints, as the API server would apply a patch; UNAVAILABLE while the controller is cut off. */
  patchNode(name: string, patch: NodePatch): Promise<NodePatchResult> {
    return this.write(`patch node ${name}`, () => {
      const node = this.nodeMap.get(name);
      if (node === undefined) {
        throw new NodeWardenError('NOT_FOUND', `patch node ${name}: not found`, {
          hint: 'the node was deleted',
        });
      }
      const next = applyNodePatch(node, patch, this.iso(this.clock.now()));
      this.putNode({ ...node, unschedulable: next.unschedulable, taints: next.taints });
      return next.result;
    });
  }

  annotateMachine(ref: MachineRef, key: string, value: string): Promise<void> {
    return this.write(`annotate Machine ${ref.namespace}/${ref.name}`, () => {
      const id = `${ref.namespace}/${ref.name}`;
      this.machineAnnotations.set(id, { ...this.machineAnnotations.get(id), [key]: value });
    });
  }

  private async write<T>(what: string, body: () => T): Promise<T> {
    await Promise.resolve();
    if (!this.connected) {
      throw new NodeWardenError(
        'UNAVAILABLE',
        `${what}: ${this.lastError ?? 'API server unreachable'}`,
        {
          hint: 'check that the API server is reachable from here',
        },
      );
    }
    return body();
  }

  /** The active faults of a node, in the lab's words. */
  faultsOn(name: string): SimFaultKind[] {
    const f = this.faultsOf(name);
    const out: SimFaultKind[] = [];
    if (f.linkDownSince !== null) out.push('link-down');
    if (f.kubelet === 'stopped') out.push('kubelet-stop');
    if (f.kubelet === 'hung') out.push('kubelet-hang');
    if (f.portBlocked) out.push('block-kubelet-port');
    if (f.partitionedFrom.size > 0) out.push('partition');
    return out;
  }

  /** A `Prober` that sees the cluster from `observer` (a node name, or e.g. `controller`). */
  prober(observer: string): Prober {
    return new SimProber(this, this.clock, observer);
  }

  /** The address a probe from `observer` comes from; null for an unknown observer. */
  observerIp(observer: string): string | null {
    return this.nodeMap.get(observer)?.internalIP ?? this.observerIps[observer] ?? null;
  }

  /** Whether `observer`'s agent can currently send results to the controller. */
  canReport(observer: string): boolean {
    const f = this.faults.get(observer);
    return f === undefined || f.linkDownSince === null;
  }

  /** What a probe from `observer` to `ip` meets right now. */
  pathState(observer: string, ip: string): PathState {
    const target = [...this.nodeMap.values()].find((n) => n.internalIP === ip);
    if (target === undefined) return { kind: 'no-host' };
    const from = this.faults.get(observer);
    if (from?.linkDownSince != null) return { kind: 'link-down', since: from.linkDownSince };
    const f = this.faultsOf(target.name);
    if (f.linkDownSince !== null) return { kind: 'link-down', since: f.linkDownSince };
    if (f.partitionedFrom.has(observer)) return { kind: 'link-down', since: f.partitionSince ?? 0 };
    if (f.portBlocked) return { kind: 'port-blocked' };
    if (f.kubelet === 'stopped') return { kind: 'kubelet-stopped' };
    if (f.kubelet === 'hung') return { kind: 'kubelet-hung' };
    return { kind: 'ok' };
  }

  // ---- ClusterView ----

  start(onChange: (change: ClusterChange) => void): Promise<void> {
    if (this.listener !== null) {
      return Promise.reject(
        new NodeWardenError('CONFLICT', 'the simulated cluster view is already started', {
          hint: 'start a SimCluster view once; stop it before starting again',
        }),
      );
    }
    this.listener = onChange;
    for (const node of this.viewNodes.values()) onChange({ kind: 'node', action: 'upsert', node });
    for (const lease of this.viewLeases.values())
      onChange({ kind: 'lease', action: 'upsert', lease });
    for (const pod of this.viewPods.values()) onChange({ kind: 'pod', action: 'upsert', pod });
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.listener = null;
    return Promise.resolve();
  }

  nodes(): readonly NodeSnapshot[] {
    return [...this.viewNodes.values()];
  }

  node(name: string): NodeSnapshot | undefined {
    return this.viewNodes.get(name);
  }

  leases(): readonly LeaseSnapshot[] {
    return [...this.viewLeases.values()];
  }

  lease(node: string): LeaseSnapshot | undefined {
    return this.viewLeases.get(node);
  }

  pods(): readonly PodSnapshot[] {
    return [...this.viewPods.values()];
  }

  podsOnNode(node: string): readonly PodSnapshot[] {
    return [...this.viewPods.values()].filter((p) => p.nodeName === node);
  }

  events(): readonly EventSnapshot[] {
    return this.viewEvents;
  }

  connection(): ApiConnection {
    const contact = this.connected ? this.clock.now() : (this.disconnectedAt ?? this.clock.now());
    return {
      connected: this.connected,
      lastContactAt: this.iso(contact),
      error: this.lastError,
    };
  }

  /** The API server's own state, whatever the controller's view says (for tests and the demo). */
  readonly truth = {
    nodes: (): readonly NodeSnapshot[] => [...this.nodeMap.values()],
    node: (name: string): NodeSnapshot | undefined => this.nodeMap.get(name),
    lease: (name: string): LeaseSnapshot | undefined => this.leaseMap.get(name),
    pods: (): readonly PodSnapshot[] => [...this.podMap.values()],
    events: (): readonly EventSnapshot[] => this.eventList,
  };

  private lastError: string | null = null;

  // ---- kubelets ----

  private armKubelet(name: string, delayMs: number): void {
    this.kubeletTimers.get(name)?.cancel();
    this.kubeletTimers.set(
      name,
      this.clock.setTimer(delayMs, () => this.kubeletBeat(name)),
    );
  }

  /** One kubelet sync: renew the Lease and report Ready when it can reach the API server. */
  private kubeletBeat(name: string): void {
    this.armKubelet(name, this.timing.leaseRenewMs);
    if (!this.kubeletReachesApi(name)) return;
    const lease = this.leaseMap.get(name);
    if (lease !== undefined) this.putLease({ ...lease, renewTime: this.iso(this.clock.now()) });
    const node = this.nodeMap.get(name);
    const ready = node?.conditions.find((c) => c.type === 'Ready');
    if (node !== undefined && ready?.status !== 'True') {
      const at = this.iso(this.clock.now());
      this.putNode({ ...node, conditions: healthyConditions(at) });
      this.event(
        'Node',
        name,
        null,
        'NodeReady',
        `Node ${name} status is now: NodeReady`,
        'Normal',
      );
    }
    // A live kubelet finishes deleting the pods that were evicted while it was away.
    for (const pod of [...this.podMap.values()]) {
      if (pod.nodeName === name && pod.deletionTimestamp !== null) this.removePod(pod);
      else if (pod.nodeName === name && pod.phase === 'Pending')
        this.putPod({ ...pod, phase: 'Running' });
    }
  }

  private kubeletReachesApi(name: string): boolean {
    const f = this.faults.get(name);
    return f !== undefined && f.linkDownSince === null && f.kubelet === 'running';
  }

  // ---- control plane ----

  private scheduleTick(): void {
    this.tickTimer.current = this.clock.setTimer(this.timing.controllerTickMs, () => {
      this.tick();
      this.scheduleTick();
    });
  }

  private tick(): void {
    this.ticks += 1;
    const monitorEvery = Math.max(
      1,
      Math.round(this.timing.nodeMonitorPeriodMs / this.timing.controllerTickMs),
    );
    if (this.ticks % monitorEvery === 0) this.monitorNodes();
    this.evictPods();
    this.reconcileOwners();
    this.schedulePending();
  }

  /**
   * The node lifecycle controller: a node whose Lease is older than the
   * grace period gets every condition Unknown and the unreachable taints
   * (NoSchedule and NoExecute); a node Ready again loses them.
   */
  private monitorNodes(): void {
    const now = this.clock.now();
    for (const node of [...this.nodeMap.values()]) {
      const renew = this.leaseMap.get(node.name)?.renewTime;
      const ready = node.conditions.find((c) => c.type === 'Ready');
      const expired = renew != null && now > Date.parse(renew) + this.timing.nodeMonitorGraceMs;
      if (expired && ready?.status !== 'Unknown') {
        const at = this.iso(now);
        const conditions = node.conditions.map((c) => ({
          ...c,
          status: 'Unknown' as const,
          reason: 'NodeStatusUnknown',
          message: 'Kubelet stopped posting node status.',
          lastTransitionTime: at,
        }));
        const taints = [
          ...node.taints.filter((t) => t.key !== UNREACHABLE && t.key !== NOT_READY),
          { key: UNREACHABLE, effect: 'NoSchedule' as const, timeAdded: at },
          { key: UNREACHABLE, effect: 'NoExecute' as const, timeAdded: at },
        ];
        this.putNode({ ...node, conditions, taints });
        this.event(
          'Node',
          node.name,
          null,
          'NodeNotReady',
          `Node ${node.name} status is now: NodeNotReady`,
          'Normal',
        );
      } else if (
        ready?.status === 'True' &&
        node.taints.some((t) => t.key === UNREACHABLE || t.key === NOT_READY)
      ) {
        this.putNode({
          ...node,
          taints: node.taints.filter((t) => t.key !== UNREACHABLE && t.key !== NOT_READY),
        });
      }
    }
  }

  /**
   * Taint-based eviction: a pod on a node with a NoExecute taint it does not
   * tolerate is marked for deletion at once; one that tolerates it for N
   * seconds, N seconds after the taint was added; one that tolerates it
   * without a limit (DaemonSets) stays. The pod stays Terminating until its
   * kubelet confirms, which a dead node never does.
   */
  private evictPods(): void {
    const now = this.clock.now();
    for (const node of this.nodeMap.values()) {
      const noExecute = node.taints.filter((t) => t.effect === 'NoExecute');
      if (noExecute.length === 0) continue;
      for (const pod of [...this.podMap.values()]) {
        if (pod.nodeName !== node.name || pod.deletionTimestamp !== null) continue;
        let evictAt: number | null = null;
        for (const taint of noExecute) {
          const added = taint.timeAdded === undefined ? now : Date.parse(taint.timeAdded);
          const matching = pod.tolerations.filter((t) => tolerates([t], taint));
          if (matching.length === 0) evictAt = Math.min(evictAt ?? now, now);
          else if (matching.every((t) => t.tolerationSeconds !== undefined)) {
            const seconds = Math.max(...matching.map((t) => t.tolerationSeconds ?? 0));
            evictAt = Math.min(evictAt ?? Infinity, added + seconds * 1000);
          }
        }
        if (evictAt !== null && now >= evictAt) {
          this.putPod({ ...pod, deletionTimestamp: this.iso(now) });
          this.event(
            'Pod',
            pod.name,
            pod.namespace,
            'TaintManagerEviction',
            `Marking for deletion Pod ${pod.namespace}/${pod.name}`,
            'Normal',
          );
          if (this.kubeletReachesApi(node.name)) this.removePod({ ...pod });
        }
      }
    }
  }

  /** ReplicaSet-like owners keep their replica count; a StatefulSet waits until the old name is free. */
  private reconcileOwners(): void {
    for (const rs of this.replicaSets.values()) {
      const owned = [...this.podMap.values()].filter(
        (p) => p.namespace === rs.namespace && p.ownerKind === rs.kind && p.ownerName === rs.name,
      );
      const active = owned.filter((p) => p.deletionTimestamp === null).length;
      for (let i = active; i < rs.desired; i++) {
        let name: string;
        if (rs.kind === 'StatefulSet') {
          const free = [...Array(rs.desired).keys()]
            .map((n) => `${rs.name}-${n}`)
            .find((n) => !this.podMap.has(`${rs.namespace}/${n}`));
          if (free === undefined) break;
          name = free;
        } else name = `${rs.name}-${this.suffix()}`;
        const spec: SimPodSpec = { ...unbound(rs.template), name };
        this.templates.set(`${rs.namespace}/${name}`, spec);
        this.putPod(this.makePod(spec, null));
        this.event(
          rs.kind,
          rs.name,
          rs.namespace,
          'SuccessfulCreate',
          `Created pod: ${name}`,
          'Normal',
        );
      }
    }
  }

  private schedulePending(): void {
    const pending = [...this.podMap.values()].filter(
      (p) => p.nodeName === null && p.deletionTimestamp === null,
    );
    for (const pod of pending) {
      const decision = schedulePod(pod, [...this.nodeMap.values()], [...this.podMap.values()]);
      const key = `${pod.namespace}/${pod.name}`;
      if (decision.node === null) {
        if (!this.failedScheduling.has(key)) {
          this.failedScheduling.add(key);
          this.event(
            'Pod',
            pod.name,
            pod.namespace,
            'FailedScheduling',
            decision.reason,
            'Warning',
          );
        }
        continue;
      }
      this.failedScheduling.delete(key);
      const phase = this.kubeletReachesApi(decision.node) ? 'Running' : 'Pending';
      this.putPod({ ...pod, nodeName: decision.node, phase });
      this.event(
        'Pod',
        pod.name,
        pod.namespace,
        'Scheduled',
        `Successfully assigned ${key} to ${decision.node}`,
        'Normal',
      );
    }
  }

  // ---- objects ----

  private makePod(spec: SimPodSpec, node: string | null): PodSnapshot {
    const containers = spec.containers.map(container);
    const initContainers = (spec.initContainers ?? []).map(container);
    const onLiveNode = node !== null && this.kubeletReachesApi(node);
    return {
      namespace: spec.namespace,
      name: spec.name,
      uid: this.uid(),
      nodeName: node,
      phase: onLiveNode ? 'Running' : 'Pending',
      labels: { ...spec.labels },
      ownerKind: spec.owner?.kind ?? null,
      ownerName: spec.owner?.name ?? null,
      deletionTimestamp: null,
      createdAt: this.iso(this.clock.now()),
      containers,
      initContainers,
      priorityClassName: spec.priorityClassName ?? null,
      qosClass: qosClass([...containers, ...initContainers]),
      nodeSelector: { ...spec.nodeSelector },
      tolerations: admitTolerations(spec, this.timing.defaultTolerationSeconds),
      // Simulated containers never crash or restart.
      restarts: { count: 0, lastRestartAt: null, lastTerminationReason: null },
    };
  }

  private faultsOf(name: string): NodeFaults {
    const f = this.faults.get(name);
    if (f === undefined) {
      throw badInput(
        `node ${name} is not in the simulation`,
        `use one of: ${[...this.nodeMap.keys()].join(', ') || '(no nodes yet)'}`,
      );
    }
    return f;
  }

  private putNode(node: NodeSnapshot): void {
    this.nodeMap.set(node.name, node);
    if (this.connected) {
      this.viewNodes.set(node.name, node);
      this.listener?.({ kind: 'node', action: 'upsert', node });
    }
  }

  private putLease(lease: LeaseSnapshot): void {
    this.leaseMap.set(lease.node, lease);
    if (this.connected) {
      this.viewLeases.set(lease.node, lease);
      this.listener?.({ kind: 'lease', action: 'upsert', lease });
    }
  }

  private putPod(pod: PodSnapshot): void {
    const key = `${pod.namespace}/${pod.name}`;
    this.podMap.set(key, pod);
    if (this.connected) {
      this.viewPods.set(key, pod);
      this.listener?.({ kind: 'pod', action: 'upsert', pod });
    }
  }

  private removePod(pod: PodSnapshot): void {
    const key = `${pod.namespace}/${pod.name}`;
    this.podMap.delete(key);
    if (this.connected) {
      this.viewPods.delete(key);
      this.listener?.({ kind: 'pod', action: 'delete', pod });
    }
  }

  private event(
    involvedKind: string,
    involvedName: string,
    involvedNamespace: string | null,
    reason: string,
    message: string,
    type: 'Normal' | 'Warning',
  ): void {
    const at = this.iso(this.clock.now());
    const event: EventSnapshot = {
      namespace: involvedNamespace ?? 'default',
      name: `${involvedName}.${(this.seq++).toString(16)}`,
      reason,
      message,
      type,
      involvedKind,
      involvedName,
      involvedNamespace,
      firstAt: at,
      lastAt: at,
      count: 1,
    };
    this.eventList = [...this.eventList.slice(-(MAX_EVENTS - 1)), event];
    if (this.connected) {
      this.viewEvents = this.eventList;
      this.listener?.({ kind: 'event', action: 'upsert', event });
    }
  }

  /** After a reconnect: the view becomes the truth again, with the changes a relist would deliver. */
  private relist(): void {
    const emit = this.listener ?? ((): void => undefined);
    for (const [name, node] of this.viewNodes) {
      if (!this.nodeMap.has(name)) emit({ kind: 'node', action: 'delete', node });
    }
    for (const [key, pod] of this.viewPods) {
      if (!this.podMap.has(key)) emit({ kind: 'pod', action: 'delete', pod });
    }
    this.viewNodes = new Map(this.nodeMap);
    this.viewLeases = new Map(this.leaseMap);
    this.viewPods = new Map(this.podMap);
    this.viewEvents = this.eventList;
    for (const node of this.viewNodes.values()) emit({ kind: 'node', action: 'upsert', node });
    for (const lease of this.viewLeases.values()) emit({ kind: 'lease', action: 'upsert', lease });
    for (const pod of this.viewPods.values()) emit({ kind: 'pod', action: 'upsert', pod });
  }

  private uid(): string {
    return `sim-${(this.seq++).toString(16).padStart(8, '0')}`;
  }

  /** Five characters from Kubernetes' alphabet, deterministic per simulation. */
  private suffix(): string {
    let n = Math.imul(this.seq++ + 1, 2_654_435_761) >>> 0;
    let out = '';
    for (let i = 0; i < 5; i++) {
      out += SUFFIX_ALPHABET[n % SUFFIX_ALPHABET.length] ?? 'x';
      n = Math.floor(n / SUFFIX_ALPHABET.length);
    }
    return out;
  }

  private iso(ms: number): string {
    return new Date(ms).toISOString();
  }
}

/** A pod template without its binding: replacements go through the scheduler. */
function unbound(spec: SimPodSpec): SimPodSpec {
  const copy = { ...spec };
  delete (copy as { node?: string }).node;
  return copy;
}

function container(spec: SimContainerSpec): ContainerResources {
  return { name: spec.name, requests: { ...spec.requests }, limits: { ...spec.limits } };
}

function healthyConditions(at: string): NodeCondition[] {
  const pressure = (type: string, reason: string): NodeCondition => ({
    type,
    status: 'False',
    reason,
    message: `kubelet has no ${type.replace('Pressure', '').toLowerCase()} pressure`,
    lastHeartbeatTime: at,
    lastTransitionTime: at,
  });
  return [
    pressure('MemoryPressure', 'KubeletHasSufficientMemory'),
    pressure('DiskPressure', 'KubeletHasNoDiskPressure'),
    pressure('PIDPressure', 'KubeletHasSufficientPID'),
    {
      type: 'Ready',
      status: 'True',
      reason: 'KubeletReady',
      message: 'kubelet is posting ready status',
      lastHeartbeatTime: at,
      lastTransitionTime: at,
    },
  ];
}

/**
 * Tolerations as admission leaves them: DaemonSet pods tolerate not-ready
 * and unreachable forever (the DaemonSet controller adds that); every other
 * pod gets DefaultTolerationSeconds (300 s) for both unless it says otherwise.
 */
export function admitTolerations(spec: SimPodSpec, defaultSeconds: number): Toleration[] {
  const own = [...(spec.tolerations ?? [])];
  const add = (key: string): void => {
    const covered = own.some(
      (t) =>
        (t.key === key || (t.key === undefined && t.operator === 'Exists')) &&
        (t.effect ?? 'NoExecute') === 'NoExecute',
    );
    if (covered) return;
    own.push(
      spec.owner?.kind === 'DaemonSet'
        ? { key, operator: 'Exists', effect: 'NoExecute' }
        : { key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: defaultSeconds },
    );
  };
  add(NOT_READY);
  add(UNREACHABLE);
  return own;
}

function qosClass(containers: readonly ContainerResources[]): string {
  const values = containers.flatMap((c) => [
    c.requests['cpu'],
    c.requests['memory'],
    c.limits['cpu'],
    c.limits['memory'],
  ]);
  if (values.every((v) => v === undefined)) return 'BestEffort';
  const guaranteed = containers.every(
    (c) =>
      c.limits['cpu'] !== undefined &&
      c.limits['memory'] !== undefined &&
      (c.requests['cpu'] ?? c.limits['cpu']) === c.limits['cpu'] &&
      (c.requests['memory'] ?? c.limits['memory']) === c.limits['memory'],
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}
