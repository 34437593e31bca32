/**
 * What the cloud says about the machines under the nodes, polled, and which
 * changes deserve a warning — often before Kubernetes notices anything (the
 * seed's long-term measure: watch the instance, the hypervisor and the port,
 * not only the kubelet). Pure: the poller (src/cloud/monitor.ts) feeds it.
 */
import type { HostStatus, PortStatus, PowerState } from './cloud.ts';

/** One node's infrastructure as of one poll. */
export interface InfraSnapshot {
  readonly node: string;
  readonly serverId: string;
  /** ISO time of the poll. */
  readonly at: string;
  /** null: the cloud has no such server (deleted). */
  readonly instance: {
    readonly status: string;
    readonly powerState: PowerState;
    readonly taskState: string | null;
    readonly hostStatus: HostStatus | null;
    readonly hypervisorHost: string | null;
  } | null;
  readonly ports: readonly {
    readonly id: string;
    readonly status: PortStatus;
    readonly adminStateUp: boolean;
  }[];
}

export type InfraChangeKind =
  | 'instance-not-active'
  | 'instance-active'
  | 'instance-gone'
  | 'hypervisor-down'
  | 'hypervisor-up'
  | 'port-down'
  | 'port-up';

export interface InfraChange {
  readonly node: string;
  readonly kind: InfraChangeKind;
  /** `warn` for a machine getting worse, `info` for it getting better. */
  readonly severity: 'warn' | 'info';
  readonly at: string;
  /** One sentence an SRE reads in the log and on the incident timeline. */
  readonly message: string;
}

const BAD_HOST: readonly (HostStatus | null)[] = ['DOWN', 'UNKNOWN'];

/**
 * The changes from `previous` (null: first poll of the node) to `next`.
 * Rules:
 * - the instance leaves ACTIVE (any other status: SHUTOFF, ERROR, REBOOT,
 *   HARD_REBOOT, UNKNOWN…) → warn; comes back to ACTIVE → info;
 * - the server disappears → warn (once);
 * - the hypervisor's host_status turns DOWN or UNKNOWN → warn; back to
 *   UP/MAINTENANCE → info (a null host_status — not visible to this role —
 *   is neither);
 * - a port turns DOWN (status DOWN or ERROR, or admin down) → warn; ACTIVE
 *   again → info; a port that vanishes is not a change (the instance rule
 *   covers a deleted server).
 * On the first poll the previous state is taken as healthy, so a machine
 * already broken when the controller starts is warned about once.
 */
export function infraChanges(previous: InfraSnapshot | null, next: InfraSnapshot): InfraChange[] {
  const changes: InfraChange[] = [];
  const change = (kind: InfraChangeKind, severity: 'warn' | 'info', message: string): void => {
    changes.push({ node: next.node, kind, severity, at: next.at, message });
  };
  const before = previous?.instance;
  const now = next.instance;
  if (now === null) {
    if (previous === null || before !== null) {
      change(
        'instance-gone',
        'warn',
        `server ${next.serverId} of ${next.node} is gone from the cloud`,
      );
    }
    return changes;
  }
  const wasActive = previous === null || before === null || before?.status === 'ACTIVE';
  if (now.status !== 'ACTIVE' && (wasActive || before?.status !== now.status)) {
    change(
      'instance-not-active',
      'warn',
      `server ${next.serverId} of ${next.node} is ${now.status} (power ${now.powerState}${now.taskState === null ? '' : `, task ${now.taskState}`})${before === undefined || before === null ? '' : `, was ${before.status}`}`,
    );
  } else if (
    now.status === 'ACTIVE' &&
    previous !== null &&
    before !== null &&
    before?.status !== 'ACTIVE'
  ) {
    change(
      'instance-active',
      'info',
      `server ${next.serverId} of ${next.node} is ACTIVE again (was ${before?.status ?? '?'})`,
    );
  }
  const hostBefore = previous === null ? 'UP' : (before?.hostStatus ?? null);
  const host = now.hostStatus;
  const where = now.hypervisorHost === null ? 'its hypervisor' : `hypervisor ${now.hypervisorHost}`;
  if (BAD_HOST.includes(host) && host !== hostBefore) {
    change('hypervisor-down', 'warn', `${where} under ${next.node} reports host_status ${host}`);
  } else if (
    host !== null &&
    !BAD_HOST.includes(host) &&
    BAD_HOST.includes(hostBefore) &&
    hostBefore !== null
  ) {
    change(
      'hypervisor-up',
      'info',
      `${where} under ${next.node} is ${host} again (was ${hostBefore})`,
    );
  }
  const portsBefore = new Map((previous?.ports ?? []).map((p) => [p.id, p]));
  for (const port of next.ports) {
    const old = portsBefore.get(port.id);
    const down = isDown(port);
    const wasDown = old === undefined ? false : isDown(old);
    const text = `port ${port.id} of ${next.node} is ${port.status}${port.adminStateUp ? '' : ' (admin down)'}`;
    if (down && !wasDown) change('port-down', 'warn', text);
    else if (!down && wasDown) change('port-up', 'info', `${text} again`);
  }
  return changes;
}

function isDown(port: { readonly status: PortStatus; readonly adminStateUp: boolean }): boolean {
  return port.status === 'DOWN' || port.status === 'ERROR' || !port.adminStateUp;
}
