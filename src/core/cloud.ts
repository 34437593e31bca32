/**
 * The cloud as NodeWarden sees it: the VM behind a Kubernetes node, what the
 * hypervisor and the cloud's own control loops did to it, its console, its
 * NICs and the rules that filter them. Pure types and parsing; the OpenStack
 * adapter (src/cloud/openstack) and the in-memory FakeCloud (src/cloud/fake)
 * implement the port.
 */
import { badInput } from './errors.ts';

/** The hypervisor's view of the guest (Nova's `OS-EXT-STS:power_state`, by name). */
export type PowerState = 'RUNNING' | 'SHUTDOWN' | 'CRASHED' | 'PAUSED' | 'SUSPENDED' | 'NOSTATE';

/**
 * The compute service on the VM's hypervisor (Nova `host_status`, microversion
 * 2.16+): `UNKNOWN` when nova-compute stopped reporting, `DOWN` when forced
 * down, `MAINTENANCE` when disabled.
 */
export type HostStatus = 'UP' | 'DOWN' | 'MAINTENANCE' | 'UNKNOWN';

export interface CloudInstance {
  readonly id: string;
  /** Empty when the cloud could not say (a server in a Nova cell that is down). */
  readonly name: string;
  /** Nova's status: ACTIVE, SHUTOFF, REBOOT, HARD_REBOOT, ERROR, UNKNOWN, … */
  readonly status: string;
  readonly powerState: PowerState;
  /** A task in flight (`rebooting`, `reboot_started_hard`, …), or null. */
  readonly taskState: string | null;
  /** Nova's `vm_state` (`active`, `stopped`, `error`, …); null when the cloud could not say. */
  readonly vmState: string | null;
  /**
   * null when not visible: the caller's role may not see it (admin-only by
   * default), the server has no host, or its cell is down.
   */
  readonly hostStatus: HostStatus | null;
  /** The hypervisor's name, when the caller may see it (admin-only by default). */
  readonly hypervisorHost?: string;
  /** Last change, UTC ISO-8601; null when the cloud could not say. */
  readonly updatedAt: string | null;
}

/**
 * Who started an action. Nova's periodic power-state sync stops a VM whose
 * guest powered off or crashed on its own; it acts with no user, so a `stop`
 * with no user is the cloud noticing, not a person deciding.
 */
export type ActionInitiator = 'nova-power-sync' | 'user' | 'unknown';

export interface InstanceAction {
  /** `create`, `stop`, `start`, `reboot`, `delete`, … */
  readonly action: string;
  readonly requestId: string;
  readonly userId: string | null;
  /** UTC ISO-8601. */
  readonly startTime: string;
  /** Nova sets this when the action failed (`Error`); null otherwise. */
  readonly message: string | null;
  readonly initiatedBy: ActionInitiator;
}

/**
 * Rules for `initiatedBy`:
 * - a user id present → `user`;
 * - no user and the action is `stop` → `nova-power-sync` (Nova's
 *   `_sync_instance_power_state` calls stop/force_stop with an admin context
 *   that has no user);
 * - no user otherwise → `unknown`.
 */
export function actionInitiator(action: string, userId: string | null): ActionInitiator {
  if (userId !== null && userId !== '') return 'user';
  return action === 'stop' ? 'nova-power-sync' : 'unknown';
}

/** One virtual NIC's counters as the hypervisor counts them; null where the driver cannot say. */
export interface NicCounters {
  readonly macAddress: string | null;
  readonly rxOctets: number | null;
  readonly rxPackets: number | null;
  readonly rxErrors: number | null;
  readonly rxDrop: number | null;
  readonly txOctets: number | null;
  readonly txPackets: number | null;
  readonly txErrors: number | null;
  readonly txDrop: number | null;
}

export interface InstanceDiagnostics {
  /** The hypervisor's word for the guest: `running`, `shutdown`, `crashed`, … */
  readonly state: string | null;
  readonly driver: string | null;
  readonly uptimeSeconds: number | null;
  readonly nics: readonly NicCounters[];
}

export type RebootType = 'SOFT' | 'HARD';

/** Neutron port status. */
export type PortStatus = 'ACTIVE' | 'DOWN' | 'BUILD' | 'ERROR' | (string & {});

export interface FixedIp {
  readonly ipAddress: string;
  readonly subnetId: string;
}

export interface CloudPort {
  readonly id: string;
  readonly name: string;
  /** The server the port is plugged into (Neutron `device_id`). */
  readonly deviceId: string;
  readonly networkId: string;
  readonly macAddress: string;
  readonly status: PortStatus;
  readonly adminStateUp: boolean;
  /** The hypervisor the port is bound to; null when not visible (admin-only by default) or unbound. */
  readonly bindingHost: string | null;
  /** `ovs`, `vhostuser`, …; `unbound` and `binding_failed` are faults; null when not visible. */
  readonly vifType: string | null;
  readonly fixedIps: readonly FixedIp[];
  readonly securityGroupIds: readonly string[];
  /** False: Neutron filters nothing on this port, security groups included. */
  readonly portSecurityEnabled: boolean;
}

export type RuleDirection = 'ingress' | 'egress';

export interface SecurityGroupRule {
  readonly id: string;
  readonly direction: RuleDirection;
  readonly ethertype: 'IPv4' | 'IPv6';
  /** `udp`, `17`, `any`, `0`, null (any protocol), … as Neutron stores it. */
  readonly protocol: string | null;
  readonly portRangeMin: number | null;
  readonly portRangeMax: number | null;
  readonly remoteIpPrefix: string | null;
  readonly remoteGroupId: string | null;
  readonly remoteAddressGroupId: string | null;
}

export interface SecurityGroup {
  readonly id: string;
  readonly name: string;
  readonly rules: readonly SecurityGroupRule[];
}

/** The Geneve tunnel port (IANA). */
export const GENEVE_UDP_PORT = 6081;

export type GeneveVerdict = 'allowed' | 'blocked' | 'unknown';

/** The rules of one group in one direction: the set that failed to let Geneve through. */
export interface OffendingRuleSet {
  readonly groupId: string;
  readonly groupName: string;
  readonly direction: RuleDirection;
  readonly rules: readonly SecurityGroupRule[];
}

/** Geneve from one node to another: out of the sender's port, into the receiver's. */
export interface GenevePair {
  /** Server ids. */
  readonly from: string;
  readonly to: string;
  readonly verdict: GeneveVerdict;
  readonly fromPortId: string | null;
  readonly toPortId: string | null;
  /** The rule that lets the packet out of the sender (null: none, or port security off). */
  readonly egressRuleId: string | null;
  /** The rule that lets the packet into the receiver (null: none, or port security off). */
  readonly ingressRuleId: string | null;
  readonly reason: string;
  /** Empty unless blocked or unknown. */
  readonly offending: readonly OffendingRuleSet[];
}

export interface GeneveReport {
  readonly udpPort: typeof GENEVE_UDP_PORT;
  /** The worst pair: any blocked → blocked; else any unknown → unknown. */
  readonly verdict: GeneveVerdict;
  /** Every ordered pair of distinct servers. */
  readonly pairs: readonly GenevePair[];
}

/**
 * The cloud behind the nodes. Every call may fail with a NodeWardenError:
 * NOT_FOUND (server or port gone, where the call cannot answer "gone"),
 * CONFLICT (the cloud refuses in the VM's current state), BAD_INPUT (bad
 * argument, or credentials/policy refused), TIMEOUT, UNAVAILABLE.
 */
export interface CloudProvider {
  /** The VM behind a node's `spec.providerID`; null when the cloud has no such server. */
  instance(providerID: string): Promise<CloudInstance | null>;
  /** Newest first; `since` (ISO-8601) keeps actions changed at or after it. */
  instanceActions(serverId: string, since?: string): Promise<readonly InstanceAction[]>;
  /** The serial console, whole or its last `lines` lines. A hard reboot wipes it: save it first. */
  consoleLog(serverId: string, lines?: number): Promise<string>;
  diagnostics(serverId: string): Promise<InstanceDiagnostics>;
  /**
   * Accepted, not finished: watch `instance()` for the task to clear. The
   * answer names the request, which is the instance action's request id.
   */
  reboot(serverId: string, type: RebootType): Promise<CloudRequest>;
  /** The server's Neutron ports; empty when it has none (or does not exist). */
  ports(serverId: string): Promise<readonly CloudPort[]>;
  /** Returns the port as updated; `status` follows asynchronously. */
  setPortAdminState(portId: string, up: boolean): Promise<CloudPort>;
  /** Whether the servers' security groups let Geneve (UDP 6081) between every pair of them. */
  geneveAllowed(serverIds: readonly string[]): Promise<GeneveReport>;
}

/** A request the cloud accepted. */
export interface CloudRequest {
  /**
   * The cloud's id for it (Nova: `x-openstack-request-id`, which is also the
   * `request_id` of the instance action it starts); null when the cloud sent none.
   */
  readonly requestId: string | null;
}

export interface ProviderId {
  readonly serverId: string;
  /** `openstack://<region>/<id>` (cloud-provider-openstack's regional form); null for `openstack:///<id>`. */
  readonly region: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PROVIDER_ID = /^openstack:\/\/([A-Za-z0-9._-]*)\/([^/]+)$/;

/**
 * Parses a node's `spec.providerID`: `openstack:///<uuid>`, or the regional
 * `openstack://<region>/<uuid>` that cloud-provider-openstack writes when
 * configured for several regions. Anything else is BAD_INPUT.
 */
export function parseProviderID(providerID: string): ProviderId {
  const match = PROVIDER_ID.exec(providerID);
  const id = match?.[2];
  if (match === null || id === undefined || !UUID.test(id)) {
    throw badInput(
      `providerID ${JSON.stringify(providerID)} is not openstack:///<server uuid>`,
      'the node must be an OpenStack VM registered by cloud-provider-openstack or Cluster API (spec.providerID)',
    );
  }
  return { serverId: id.toLowerCase(), region: match[1] === '' ? null : (match[1] ?? null) };
}

/**
 * Nova server ids and Neutron port ids are UUIDs; anything else is refused
 * before a request is made (it would land in a URL path).
 */
export function requireUuid(kind: 'server' | 'port', value: string): string {
  if (!UUID.test(value)) {
    throw badInput(
      `${kind} id ${JSON.stringify(value)} is not a UUID`,
      kind === 'server'
        ? 'pass the Nova server id (the UUID in the node providerID)'
        : 'pass the Neutron port id as ports() returns it',
    );
  }
  return value.toLowerCase();
}

/**
 * A providerID naming another region than the adapter's is refused: the same
 * server id would be looked up in the wrong cloud.
 */
export function requireRegion(parsed: ProviderId, configured: string | null): void {
  if (parsed.region !== null && configured !== null && parsed.region !== configured) {
    throw badInput(
      `providerID names region ${parsed.region}, but this cloud adapter is configured for region ${configured}`,
      'use the adapter for that region (OS_REGION_NAME / region_name)',
    );
  }
}

/** Console lines to fetch: a positive integer, at most 100,000 (Nova keeps about 100 KiB anyway). */
export function requireConsoleLines(lines: number | undefined): number | undefined {
  if (lines === undefined) return undefined;
  if (!Number.isInteger(lines) || lines < 1 || lines > 100_000) {
    throw badInput(
      `console lines ${lines} is not an integer from 1 to 100000`,
      'omit lines for the whole console log',
    );
  }
  return lines;
}

/** `since` for instance actions: an ISO-8601 instant, returned in UTC. */
export function requireSince(since: string | undefined): string | undefined {
  if (since === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(since) ? Date.parse(since) : NaN;
  if (Number.isNaN(ms)) {
    throw badInput(
      `since ${JSON.stringify(since)} is not an ISO-8601 time`,
      'pass a time like 2025-08-25T03:58:00Z',
    );
  }
  return new Date(ms).toISOString();
}

/** Geneve is judged between at least two distinct servers. */
export function requireGeneveServers(serverIds: readonly string[]): string[] {
  const ids = [...new Set(serverIds.map((id) => requireUuid('server', id)))];
  if (ids.length < 2) {
    throw badInput(
      `the Geneve check needs at least two distinct servers, got ${ids.length}`,
      'pass the server ids of the nodes that tunnel to each other',
    );
  }
  return ids;
}

/** What to do about Nova's 409 on a reboot, read from its message. */
export function rebootConflictHint(novaMessage: string): string {
  if (novaMessage.includes('task_state')) {
    return 'a task is in flight on the server (instance().taskState): wait for it to clear; a hung soft reboot can be overridden with a HARD reboot';
  }
  if (novaMessage.includes('vm_state')) {
    return 'the server is in a state this reboot type refuses: a stopped or errored server takes only a HARD reboot';
  }
  if (novaMessage.includes('locked'))
    return 'the server is locked: unlock it (admin) before rebooting';
  return 'the server refuses a reboot in its current state; read instance() and retry later';
}
