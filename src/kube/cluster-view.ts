import type { KubeConfig } from '@kubernetes/client-node';
import type {
  ApiConnection,
  ClusterChange,
  ClusterView,
  EventSnapshot,
  LeaseSnapshot,
  NodeSnapshot,
  PodSnapshot,
} from '../core/cluster.ts';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { kubeRequest } from './http.ts';
import { DEFAULT_INFORMER_OPTIONS, Informer, type InformerOptions } from './informer.ts';
import { toEvent, toLease, toNode, toPod } from './map.ts';

/**
 * ClusterView over a real API server: informers for Nodes, node Leases,
 * Pods (all namespaces, indexed by node) and Node Events, plus a /readyz
 * ping every `healthIntervalMs` so that the controller knows within seconds
 * when it — not the nodes — has lost the API server.
 */
export interface KubeClusterViewOptions {
  readonly healthIntervalMs: number;
  readonly informer: InformerOptions;
}

export const DEFAULT_VIEW_OPTIONS: KubeClusterViewOptions = {
  healthIntervalMs: 2_000,
  informer: DEFAULT_INFORMER_OPTIONS,
};

const podKey = (p: PodSnapshot): string => `${p.namespace}/${p.name}`;

/** How many recent Lease-event lags leaseEventLag() summarises (~20 s at 5,000 nodes). */
export const LEASE_LAG_SAMPLES = 10_000;

export interface LagSummary {
  /** Samples in the reservoir (at most LEASE_LAG_SAMPLES). */
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export class KubeClusterView implements ClusterView {
  readonly #kc: KubeConfig;
  readonly #log: Logger;
  readonly #opts: KubeClusterViewOptions;
  readonly #nodes: Informer<NodeSnapshot>;
  readonly #leases: Informer<LeaseSnapshot>;
  readonly #pods: Informer<PodSnapshot>;
  readonly #events: Informer<EventSnapshot>;
  readonly #podsByNode = new Map<string, Map<string, PodSnapshot>>();
  readonly #nodeOfPod = new Map<string, string>();
  #connection: ApiConnection = { connected: false, lastContactAt: null, error: 'not started' };
  #onChange: (c: ClusterChange) => void = () => undefined;
  #health: NodeJS.Timeout | null = null;
  #stopped = false;
  /** Ring buffer of lags (ms) from a Lease renewal to the watch event that brought it here. */
  readonly #leaseLags = new Float64Array(LEASE_LAG_SAMPLES);
  #leaseLagCount = 0;
  /** The renewTime last seen per Lease, so only a new renewal is a sample. */
  readonly #leaseRenewSeen = new Map<string, string | null>();

  constructor(kc: KubeConfig, log: Logger, opts: KubeClusterViewOptions = DEFAULT_VIEW_OPTIONS) {
    this.#kc = kc;
    this.#log = log;
    this.#opts = opts;
    const contact = (ok: boolean, error?: string): void => this.#contact(ok, error);
    this.#nodes = new Informer(
      kc,
      { name: 'nodes', path: '/api/v1/nodes', map: toNode, key: (n) => n.name },
      log,
      contact,
      opts.informer,
    );
    this.#leases = new Informer(
      kc,
      {
        name: 'leases',
        path: '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases',
        map: toLease,
        key: (l) => l.node,
      },
      log,
      contact,
      opts.informer,
    );
    this.#pods = new Informer(
      kc,
      { name: 'pods', path: '/api/v1/pods', map: toPod, key: podKey },
      log,
      contact,
      opts.informer,
    );
    this.#events = new Informer(
      kc,
      {
        name: 'events',
        path: '/api/v1/events',
        fieldSelector: 'involvedObject.kind=Node',
        map: toEvent,
        key: (e) => `${e.namespace}/${e.name}`,
      },
      log,
      contact,
      opts.informer,
    );
    this.#nodes.onEvent(({ action, item }) => this.#onChange({ kind: 'node', action, node: item }));
    this.#leases.onEvent(({ action, item }) => {
      this.#sampleLeaseLag(action, item);
      this.#onChange({ kind: 'lease', action, lease: item });
    });
    this.#events.onEvent(({ action, item }) =>
      this.#onChange({ kind: 'event', action, event: item }),
    );
    this.#pods.onEvent(({ action, item }) => {
      this.#indexPod(action, item);
      this.#onChange({ kind: 'pod', action, pod: item });
    });
  }

  /**
   * Samples `now - renewTime` when a Lease arrives with a renewTime not seen
   * before: the first sighting of a Lease (start-up list, new node) is not a
   * sample, since its renewal may be arbitrarily old. Renewals happen on the
   * nodes' clocks, so skew between them and this host shows up here too.
   */
  #sampleLeaseLag(action: 'upsert' | 'delete', lease: LeaseSnapshot): void {
    if (action === 'delete') {
      this.#leaseRenewSeen.delete(lease.node);
      return;
    }
    const first = !this.#leaseRenewSeen.has(lease.node);
    const before = this.#leaseRenewSeen.get(lease.node);
    this.#leaseRenewSeen.set(lease.node, lease.renewTime);
    if (first || lease.renewTime === null || lease.renewTime === before) return;
    const lagMs = Math.max(0, Date.now() - Date.parse(lease.renewTime));
    this.#leaseLags[this.#leaseLagCount % LEASE_LAG_SAMPLES] = lagMs;
    this.#leaseLagCount += 1;
  }

  /** p50, p99 and max of the last LEASE_LAG_SAMPLES Lease-event lags; zeros before the first. */
  leaseEventLag(): LagSummary {
    const count = Math.min(this.#leaseLagCount, LEASE_LAG_SAMPLES);
    if (count === 0) return { count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
    const sorted = this.#leaseLags.slice(0, count).sort();
    const at = (q: number): number => sorted[Math.min(count - 1, Math.floor(q * count))] ?? 0;
    return { count, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted[count - 1] ?? 0 };
  }

  #indexPod(action: 'upsert' | 'delete', pod: PodSnapshot): void {
    const key = podKey(pod);
    const was = this.#nodeOfPod.get(key);
    if (was !== undefined && (action === 'delete' || was !== pod.nodeName)) {
      const pods = this.#podsByNode.get(was);
      if (pods?.delete(key) && pods.size === 0) this.#podsByNode.delete(was);
      this.#nodeOfPod.delete(key);
    }
    if (!pod.nodeName || action === 'delete') return;
    this.#nodeOfPod.set(key, pod.nodeName);
    let pods = this.#podsByNode.get(pod.nodeName);
    if (!pods) this.#podsByNode.set(pod.nodeName, (pods = new Map<string, PodSnapshot>()));
    pods.set(key, pod);
  }

  #contact(ok: boolean, error?: string): void {
    const was = this.#connection.connected;
    this.#connection = ok
      ? { connected: true, lastContactAt: new Date().toISOString(), error: null }
      : {
          connected: false,
          lastContactAt: this.#connection.lastContactAt,
          error: error ?? 'unknown error',
        };
    if (was !== ok) {
      this.#log.log(
        ok ? 'info' : 'warn',
        ok ? 'API server reachable' : 'API server unreachable',
        ok ? {} : { error },
      );
      this.#onChange({ kind: 'connection', connected: ok, ...(error ? { error } : {}) });
    }
  }

  async start(onChange: (change: ClusterChange) => void): Promise<void> {
    this.#onChange = onChange;
    const ping = async (): Promise<void> => {
      try {
        await kubeRequest(this.#kc, 'GET', '/readyz', Math.max(1_000, this.#opts.healthIntervalMs));
        this.#contact(true);
      } catch (error) {
        this.#contact(false, describeError(error));
      }
      // A ping in flight when stop() ran must not start the next one.
      if (!this.#stopped) this.#health = setTimeout(() => void ping(), this.#opts.healthIntervalMs);
    };
    await ping();
    await Promise.all([
      this.#nodes.start(),
      this.#leases.start(),
      this.#pods.start(),
      this.#events.start(),
    ]);
  }

  stop(): Promise<void> {
    this.#stopped = true;
    if (this.#health) clearTimeout(this.#health);
    for (const i of [this.#nodes, this.#leases, this.#pods, this.#events]) i.stop();
    return Promise.resolve();
  }

  nodes(): readonly NodeSnapshot[] {
    return [...this.#nodes.items()];
  }
  node(name: string): NodeSnapshot | undefined {
    return this.#nodes.get(name);
  }
  leases(): readonly LeaseSnapshot[] {
    return [...this.#leases.items()];
  }
  lease(node: string): LeaseSnapshot | undefined {
    return this.#leases.get(node);
  }
  pods(): readonly PodSnapshot[] {
    return [...this.#pods.items()];
  }
  podsOnNode(node: string): readonly PodSnapshot[] {
    return [...(this.#podsByNode.get(node)?.values() ?? [])];
  }
  events(): readonly EventSnapshot[] {
    return [...this.#events.items()];
  }
  connection(): ApiConnection {
    return this.#connection;
  }
}
