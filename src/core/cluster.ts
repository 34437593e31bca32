/**
 * The cluster as the controller sees it: plain snapshots of Nodes, node
 * Leases, Pods and Events, kept current by an adapter (src/kube with
 * informers against a real API server; src/sim in-process for the demo and
 * unit tests). Pure types and the `ClusterApi` port.
 */

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface NodeCondition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason?: string;
  readonly message?: string;
  readonly lastHeartbeatTime?: string;
  readonly lastTransitionTime?: string;
}

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  readonly timeAdded?: string;
}

/** Resource quantities as Kubernetes writes them ("16", "500m", "64Gi"). */
export type ResourceList = Readonly<Record<string, string>>;

export interface NodeSnapshot {
  readonly name: string;
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** InternalIP, the address probes target. */
  readonly internalIP: string | null;
  readonly providerID: string | null;
  readonly unschedulable: boolean;
  readonly taints: readonly Taint[];
  readonly conditions: readonly NodeCondition[];
  readonly capacity: ResourceList;
  readonly allocatable: ResourceList;
  readonly createdAt: string;
}

export interface LeaseSnapshot {
  /** The node the Lease belongs to (kube-node-lease/<node>). */
  readonly node: string;
  readonly holderIdentity: string | null;
  /** Last renewal, ISO-8601; null if never renewed. */
  readonly renewTime: string | null;
  readonly leaseDurationSeconds: number;
}

export interface ContainerResources {
  readonly name: string;
  readonly requests: ResourceList;
  readonly limits: ResourceList;
}

export interface Toleration {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: string;
  readonly tolerationSeconds?: number;
}

/** A node selector requirement as in `requiredDuringScheduling…` node affinity. */
export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  readonly values: readonly string[];
}

/** Requirements ANDed; `matchFields` supports only `metadata.name`, as in Kubernetes. */
export interface NodeSelectorTerm {
  readonly matchExpressions: readonly NodeSelectorRequirement[];
  readonly matchFields: readonly NodeSelectorRequirement[];
}

/** `spec.affinity.nodeAffinity`: required terms are ORed; preferred ones add their weight. */
export interface NodeAffinity {
  readonly required: readonly NodeSelectorTerm[] | null;
  readonly preferred: readonly { readonly weight: number; readonly preference: NodeSelectorTerm }[];
}

export interface PodSnapshot {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly nodeName: string | null;
  readonly phase: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ownerKind: string | null;
  readonly ownerName: string | null;
  /** When the pod must be gone: the deletion request's time plus its grace period. */
  readonly deletionTimestamp: string | null;
  /** The grace period that deletion granted; absent or null when unknown (taken as 0). */
  readonly deletionGracePeriodSeconds?: number | null;
  readonly createdAt: string;
  readonly containers: readonly ContainerResources[];
  readonly initContainers: readonly ContainerResources[];
  readonly priorityClassName: string | null;
  readonly qosClass: string | null;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly Toleration[];
  /** Absent or null when the pod has no node affinity. */
  readonly nodeAffinity?: NodeAffinity | null;
  /** `spec.priority`, resolved from the PriorityClass by admission; absent when unknown. */
  readonly priority?: number | null;
  /** Container restarts summed over the pod's containers; absent when the source does not say. */
  readonly restarts?: PodRestarts;
}

export interface PodRestarts {
  readonly count: number;
  /** When the most recently restarted container last terminated; null when never. */
  readonly lastRestartAt: string | null;
  readonly lastTerminationReason: string | null;
}

export interface EventSnapshot {
  readonly namespace: string;
  readonly name: string;
  readonly reason: string;
  readonly message: string;
  readonly type: string;
  readonly involvedKind: string;
  readonly involvedName: string;
  readonly involvedNamespace: string | null;
  readonly firstAt: string | null;
  readonly lastAt: string | null;
  readonly count: number;
}

export type ClusterChange =
  | { readonly kind: 'node'; readonly action: 'upsert' | 'delete'; readonly node: NodeSnapshot }
  | { readonly kind: 'lease'; readonly action: 'upsert' | 'delete'; readonly lease: LeaseSnapshot }
  | { readonly kind: 'pod'; readonly action: 'upsert' | 'delete'; readonly pod: PodSnapshot }
  | { readonly kind: 'event'; readonly action: 'upsert' | 'delete'; readonly event: EventSnapshot }
  | { readonly kind: 'connection'; readonly connected: boolean; readonly error?: string };

/** Whether the controller can currently reach the API server, and since when. */
export interface ApiConnection {
  readonly connected: boolean;
  /** Last time any watch or list succeeded, ISO-8601; null before the first. */
  readonly lastContactAt: string | null;
  readonly error: string | null;
}

/**
 * Read side of the cluster, kept current by watches. `start` resolves once
 * every cache has been listed (synced); changes arrive through `onChange`.
 */
export interface ClusterView {
  start(onChange: (change: ClusterChange) => void): Promise<void>;
  stop(): Promise<void>;
  nodes(): readonly NodeSnapshot[];
  node(name: string): NodeSnapshot | undefined;
  leases(): readonly LeaseSnapshot[];
  lease(node: string): LeaseSnapshot | undefined;
  pods(): readonly PodSnapshot[];
  podsOnNode(node: string): readonly PodSnapshot[];
  events(): readonly EventSnapshot[];
  connection(): ApiConnection;
}
