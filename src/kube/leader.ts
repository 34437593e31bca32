import type { KubeConfig } from '@kubernetes/client-node';
import { describeError, NodeWardenError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { KubeHttpError, kubeRequest } from './http.ts';

/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's
 * semantics (client-node has none):
 * - a Lease is expired when this process has not seen its record change for
 *   `leaseDurationMs` — measured on the local clock from when the record was
 *   observed, never by comparing another machine's renewTime to ours;
 * - updates carry the Lease's resourceVersion, so two candidates cannot both
 *   win (the loser gets 409 Conflict);
 * - a leader that cannot renew for `renewDeadlineMs` stops leading, before
 *   its Lease can expire for the others (renewDeadline < leaseDuration);
 * - `isLeader()` is re-checked before every write the controller makes.
 */
export interface LeaderElectionConfig {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

export const DEFAULT_LEADER_TIMING = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const;

interface LeaseObject {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const microTime = (ms: number): string =>
  new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  readonly #kc: KubeConfig;
  readonly #cfg: LeaderElectionConfig;
  readonly #log: Logger;
  readonly #now: () => number;
  #leading = false;
  #lastRenewAt = 0;
  #observed = '';
  #observedAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #listeners: ((leading: boolean) => void)[] = [];

  constructor(
    kc: KubeConfig,
    cfg: LeaderElectionConfig,
    log: Logger,
    now: () => number = Date.now,
  ) {
    if (!(cfg.renewDeadlineMs < cfg.leaseDurationMs)) {
      throw new NodeWardenError(
        'BAD_INPUT',
        'leader election: renew deadline must be shorter than the lease duration',
        {
          hint: 'use the defaults: 15 s lease, 10 s renew deadline, 2 s retry',
        },
      );
    }
    this.#kc = kc;
    this.#cfg = cfg;
    this.#log = log.child({
      component: 'leader-election',
      lease: `${cfg.namespace}/${cfg.name}`,
      identity: cfg.identity,
    });
    this.#now = now;
  }

  /** Called with true when this process starts leading and false when it stops. */
  onChange(listener: (leading: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /** True only while leading and the last renewal is within the renew deadline. */
  isLeader(): boolean {
    return this.#leading && this.#now() - this.#lastRenewAt < this.#cfg.renewDeadlineMs;
  }

  /** Throws CONFLICT unless leading; call before every write. */
  assertLeader(action: string): void {
    if (!this.isLeader()) {
      throw new NodeWardenError('CONFLICT', `not the leader: refusing to ${action}`, {
        hint: 'another controller replica holds the leader Lease; it will act instead',
      });
    }
  }

  start(): void {
    void this.#tick();
  }

  /** Stops campaigning and, if leading, releases the Lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#leading) {
      try {
        const lease = await this.#get();
        if (lease?.spec.holderIdentity === this.#cfg.identity) {
          await this.#put({
            ...lease,
            spec: {
              ...lease.spec,
              holderIdentity: '',
              leaseDurationSeconds: 1,
              renewTime: microTime(this.#now()),
            },
          });
        }
      } catch (error) {
        this.#log.log('warn', 'could not release the leader Lease; it will expire', {
          error: describeError(error),
        });
      }
      this.#setLeading(false);
    }
  }

  #setLeading(leading: boolean): void {
    if (this.#leading === leading) return;
    this.#leading = leading;
    this.#log.log('info', leading ? 'became leader' : 'stopped leading');
    for (const l of this.#listeners) l(leading);
  }

  get #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#cfg.namespace}/leases/${this.#cfg.name}`;
  }

  async #get(): Promise<LeaseObject | null> {
    try {
      return await kubeRequest<LeaseObject>(
        this.#kc,
        'GET',
        this.#path,
        this.#cfg.retryPeriodMs * 2,
      );
    } catch (error) {
      if (error instanceof KubeHttpError && error.status === 404) return null;
      throw error;
    }
  }

  #put(lease: LeaseObject): Promise<LeaseObject> {
    return kubeRequest<LeaseObject>(this.#kc, 'PUT', this.#path, this.#cfg.retryPeriodMs * 2, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      ...lease,
    });
  }

  /** One attempt to acquire or renew; true when this process holds the Lease afterwards. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#now();
    const me = this.#cfg.identity;
    const durationSeconds = Math.ceil(this.#cfg.leaseDurationMs / 1000);
    const current = await this.#get();
    if (current === null) {
      await kubeRequest(
        this.#kc,
        'POST',
        `/apis/coordination.k8s.io/v1/namespaces/${this.#cfg.namespace}/leases`,
        this.#cfg.retryPeriodMs * 2,
        {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.#cfg.name, namespace: this.#cfg.namespace },
          spec: {
            holderIdentity: me,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        },
      );
      return true;
    }
    const record = `${current.spec.holderIdentity ?? ''}|${current.spec.renewTime ?? ''}`;
    if (record !== this.#observed) {
      this.#observed = record;
      this.#observedAt = now;
    }
    const holder = current.spec.holderIdentity ?? '';
    const heldByOther = holder !== '' && holder !== me;
    const observedDurationMs = (current.spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && this.#observedAt + observedDurationMs > now) return false;
    const spec = {
      ...current.spec,
      holderIdentity: me,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(now),
      ...(holder === me
        ? {}
        : {
            acquireTime: microTime(now),
            leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1,
          }),
    };
    await this.#put({ metadata: current.metadata, spec });
    return true;
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    try {
      const held = await this.#tryAcquireOrRenew();
      if (held) {
        this.#lastRenewAt = this.#now();
        this.#setLeading(true);
      } else {
        this.#setLeading(false);
      }
    } catch (error) {
      const conflict = error instanceof KubeHttpError && error.status === 409;
      if (!conflict)
        this.#log.log('warn', 'leader Lease update failed', { error: describeError(error) });
      if (this.#leading && this.#now() - this.#lastRenewAt >= this.#cfg.renewDeadlineMs)
        this.#setLeading(false);
    }
    if (!this.#stopped) {
      // ±10% jitter so replicas do not move in lockstep.
      const delay = this.#cfg.retryPeriodMs * (0.9 + Math.random() * 0.2);
      this.#timer = setTimeout(() => void this.#tick(), delay);
    }
  }
}
