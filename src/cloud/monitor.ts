/**
 * OpenStack infrastructure monitoring (issue #7, the seed's long-term
 * measure): polls every node's instance, its hypervisor's host_status and
 * its ports at a modest rate, keeps the latest answer per node (metrics and
 * readers use the cache, never the cloud), and reports each change that
 * `infraChanges` judges worth a word. A node whose poll fails keeps its last
 * snapshot and counts an error; it is not reported as changed.
 *
 * Cost: one instance call and one ports call per node per interval, at most
 * `concurrency` in flight — 5,000 nodes at the default 60 s and 8 in flight
 * is about 170 calls a second spread over the minute.
 */
import { Counter, type Gauge, type Registry } from 'prom-client';
import { collectedGauge } from '../server/gauge.ts';
import { parseProviderID, type CloudProvider } from '../core/cloud.ts';
import type { Clock, Timer } from '../core/clock.ts';
import { describeError } from '../core/errors.ts';
import { infraChanges, type InfraChange, type InfraSnapshot } from '../core/infra-watch.ts';
import type { Logger } from '../core/logger.ts';

export interface MonitoredNode {
  readonly name: string;
  readonly providerID: string | null;
}

export interface CloudMonitorOptions {
  /** Time between the starts of two polls of every node. */
  readonly intervalMs: number;
  /** Cloud calls in flight at once. */
  readonly concurrency: number;
}

export const DEFAULT_CLOUD_MONITOR: CloudMonitorOptions = { intervalMs: 60_000, concurrency: 8 };

export class CloudMonitor {
  readonly #latest = new Map<string, InfraSnapshot>();
  readonly #errors = new Map<string, string>();
  readonly #listeners = new Set<(change: InfraChange) => void>();
  #timer: Timer | null = null;
  #running: Promise<void> | null = null;
  #polls = 0;
  #lastPollAt: number | null = null;
  #pollsTotal: Counter | null = null;
  #errorsTotal: Counter | null = null;

  constructor(
    private readonly cloud: CloudProvider,
    private readonly nodes: () => readonly MonitoredNode[],
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: CloudMonitorOptions = DEFAULT_CLOUD_MONITOR,
  ) {}

  /** Calls `listener` with every change; returns the unsubscribe function. */
  onChange(listener: (change: InfraChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Polls now, then every interval, until stop(). */
  start(): void {
    const tick = (): void => {
      this.#running = this.pollOnce()
        .then(
          () => undefined,
          (error: unknown) =>
            this.log.log('error', 'cloud poll round failed', { error: describeError(error) }),
        )
        .finally(() => {
          this.#running = null;
          if (this.#timer !== null)
            this.#timer = this.clock.setTimer(this.options.intervalMs, tick);
        });
    };
    this.#timer = this.clock.setTimer(0, tick);
  }

  async stop(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = null;
    await this.#running;
  }

  /** Full polls done so far. */
  get polls(): number {
    return this.#polls;
  }

  /** The latest snapshot of a node, from the cache. */
  latest(node: string): InfraSnapshot | undefined {
    return this.#latest.get(node);
  }

  /** One poll of every node with a providerID this cloud understands; returns the changes. */
  async pollOnce(): Promise<InfraChange[]> {
    const nodes = this.nodes().flatMap((n) => {
      if (n.providerID === null) return [];
      try {
        return [
          {
            name: n.name,
            providerID: n.providerID,
            serverId: parseProviderID(n.providerID).serverId,
          },
        ];
      } catch {
        return []; // not an OpenStack node (another provider, or kind/kwok)
      }
    });
    const known = new Set(nodes.map((n) => n.name));
    for (const name of [...this.#latest.keys()]) if (!known.has(name)) this.#latest.delete(name);
    for (const name of [...this.#errors.keys()]) if (!known.has(name)) this.#errors.delete(name);
    const changes: InfraChange[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < nodes.length) {
        const node = nodes[next++];
        if (node === undefined) break;
        const found = await this.#pollNode(node.name, node.providerID, node.serverId);
        changes.push(...found);
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.options.concurrency, nodes.length) }, () => worker()),
    );
    this.#polls += 1;
    this.#pollsTotal?.inc();
    this.#lastPollAt = this.clock.now();
    for (const change of changes) {
      this.log.log(change.severity, 'cloud infrastructure changed', {
        node: change.node,
        change: change.kind,
        message: change.message,
      });
      for (const listener of this.#listeners) {
        try {
          listener(change);
        } catch (error) {
          this.log.log('error', 'cloud change listener failed', { error: describeError(error) });
        }
      }
    }
    return changes;
  }

  async #pollNode(name: string, providerID: string, serverId: string): Promise<InfraChange[]> {
    try {
      const instance = await this.cloud.instance(providerID);
      const ports = instance === null ? [] : await this.cloud.ports(serverId);
      const snapshot: InfraSnapshot = {
        node: name,
        serverId,
        at: new Date(this.clock.now()).toISOString(),
        instance:
          instance === null
            ? null
            : {
                status: instance.status,
                powerState: instance.powerState,
                taskState: instance.taskState,
                hostStatus: instance.hostStatus,
                hypervisorHost: instance.hypervisorHost ?? null,
              },
        ports: ports.map((p) => ({ id: p.id, status: p.status, adminStateUp: p.adminStateUp })),
      };
      const previous = this.#latest.get(name) ?? null;
      this.#latest.set(name, snapshot);
      this.#errors.delete(name);
      return infraChanges(previous, snapshot);
    } catch (error) {
      this.#errorsTotal?.inc();
      const why = describeError(error);
      if (this.#errors.get(name) !== why)
        this.log.log('warn', 'cloud poll failed', { node: name, error: why });
      this.#errors.set(name, why);
      return [];
    }
  }

  /** Registers the monitor's metrics, read from the cache at scrape time. */
  register(registry: Registry): void {
    // Every series is rebuilt from the cache at each scrape: a node that left takes its series with it.
    const gauge = (
      name: string,
      help: string,
      labelNames: string[],
      collect: (g: Gauge) => void,
    ): void =>
      collectedGauge(registry, name, help, labelNames, (g) => {
        g.reset();
        collect(g);
      });
    const snapshots = (): InfraSnapshot[] => [...this.#latest.values()];
    gauge(
      'nodewarden_cloud_instance_active',
      "1 when the node's server is ACTIVE in the cloud",
      ['node', 'status'],
      (g) => {
        for (const s of snapshots())
          g.set(
            { node: s.node, status: s.instance?.status ?? 'GONE' },
            s.instance?.status === 'ACTIVE' ? 1 : 0,
          );
      },
    );
    gauge(
      'nodewarden_cloud_instance_power_running',
      '1 when the hypervisor says the server is RUNNING',
      ['node'],
      (g) => {
        for (const s of snapshots())
          g.set({ node: s.node }, s.instance?.powerState === 'RUNNING' ? 1 : 0);
      },
    );
    gauge(
      'nodewarden_cloud_hypervisor_up',
      "host_status of the node's hypervisor: 1 UP or MAINTENANCE, 0 DOWN or UNKNOWN (absent when not visible)",
      ['node', 'host', 'host_status'],
      (g) => {
        for (const s of snapshots()) {
          const hs = s.instance?.hostStatus ?? null;
          if (hs === null) continue;
          g.set(
            { node: s.node, host: s.instance?.hypervisorHost ?? '', host_status: hs },
            hs === 'DOWN' || hs === 'UNKNOWN' ? 0 : 1,
          );
        }
      },
    );
    gauge(
      'nodewarden_cloud_port_up',
      "1 when the node's port is ACTIVE and admin up",
      ['node', 'port', 'status'],
      (g) => {
        for (const s of snapshots())
          for (const p of s.ports)
            g.set(
              { node: s.node, port: p.id, status: p.status },
              p.status === 'ACTIVE' && p.adminStateUp ? 1 : 0,
            );
      },
    );
    gauge(
      'nodewarden_cloud_poll_failing',
      '1 when the last poll of the node failed',
      ['node'],
      (g) => {
        for (const name of this.#errors.keys()) g.set({ node: name }, 1);
      },
    );
    gauge(
      'nodewarden_cloud_last_poll_timestamp_seconds',
      'When the last full poll ended',
      [],
      (g) => {
        if (this.#lastPollAt !== null) g.set(this.#lastPollAt / 1000);
      },
    );
    gauge(
      'nodewarden_cloud_monitored_nodes',
      'Nodes the cloud monitor polls (those with a providerID of this cloud)',
      [],
      (g) => {
        g.set(
          this.#latest.size + [...this.#errors.keys()].filter((n) => !this.#latest.has(n)).length,
        );
      },
    );
    this.#pollsTotal = new Counter({
      name: 'nodewarden_cloud_polls_total',
      help: 'Full polls of every node',
      registers: [registry],
    });
    this.#errorsTotal = new Counter({
      name: 'nodewarden_cloud_poll_errors_total',
      help: 'Node polls that failed (instance or ports call)',
      registers: [registry],
    });
  }
}
