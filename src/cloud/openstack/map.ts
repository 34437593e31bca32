/**
 * Nova and Neutron JSON, read into the port's types. Fields the caller's
 * role cannot see are simply absent in OpenStack's answers; they become null
 * here, never a guess.
 */
import {
  actionInitiator,
  type CloudInstance,
  type CloudPort,
  type HostStatus,
  type InstanceAction,
  type InstanceDiagnostics,
  type NicCounters,
  type PowerState,
  type SecurityGroup,
  type SecurityGroupRule,
} from '../../core/cloud.ts';
import { NodeWardenError } from '../../core/errors.ts';

type Json = Record<string, unknown>;

export function parseJson(text: string, what: string): Json {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
  } catch {
    // Reported below.
  }
  throw new NodeWardenError('UNAVAILABLE', `${what}: the answer is not a JSON object`, {
    hint: 'the endpoint in the catalogue may not be the OpenStack API',
  });
}

export function member(body: Json, key: string, what: string): Json {
  const value = body[key];
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
  throw new NodeWardenError('UNAVAILABLE', `${what}: the answer has no ${key} object`, {
    hint: 'the endpoint in the catalogue may not be the OpenStack API',
  });
}

export function list(body: Json, key: string, what: string): Json[] {
  const value = body[key];
  if (!Array.isArray(value)) {
    throw new NodeWardenError('UNAVAILABLE', `${what}: the answer has no ${key} list`, {
      hint: 'the endpoint in the catalogue may not be the OpenStack API',
    });
  }
  return value.filter((v): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v));
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function requireStr(o: Json, key: string, what: string): string {
  const v = str(o[key]);
  if (v === null) {
    throw new NodeWardenError('UNAVAILABLE', `${what}: the answer has no ${key}`, {
      hint: 'the endpoint in the catalogue may not be the OpenStack API',
    });
  }
  return v;
}

/** OpenStack prints UTC without a zone and with microseconds; the port speaks UTC ISO-8601 with ms. */
export function isoUtc(text: string): string {
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/.test(text) ? text : `${text}Z`;
  const ms = Date.parse(zoned.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? text : new Date(ms).toISOString();
}

/** nova.compute.power_state; 5 (SHUTOFF) is the pre-Icehouse name of 4. */
const POWER_STATES: Readonly<Record<number, PowerState>> = {
  0: 'NOSTATE',
  1: 'RUNNING',
  3: 'PAUSED',
  4: 'SHUTDOWN',
  5: 'SHUTDOWN',
  6: 'CRASHED',
  7: 'SUSPENDED',
};

const HOST_STATUSES: readonly HostStatus[] = ['UP', 'DOWN', 'MAINTENANCE', 'UNKNOWN'];

/** GET /servers/{id} (microversion ≥ 2.16; a down cell's partial answer included). */
export function mapServer(server: Json, what: string): CloudInstance {
  const power = num(server['OS-EXT-STS:power_state']);
  const hostStatus = str(server['host_status']);
  const hypervisor =
    str(server['OS-EXT-SRV-ATTR:hypervisor_hostname']) ?? str(server['OS-EXT-SRV-ATTR:host']);
  const updated = str(server['updated']);
  return {
    id: requireStr(server, 'id', what),
    name: str(server['name']) ?? '',
    status: requireStr(server, 'status', what),
    powerState: (power === null ? undefined : POWER_STATES[power]) ?? 'NOSTATE',
    taskState: str(server['OS-EXT-STS:task_state']),
    vmState: str(server['OS-EXT-STS:vm_state']),
    // Nova's empty string means "no host"; an unknown word is passed as UNKNOWN rather than dropped.
    hostStatus:
      hostStatus === null || hostStatus === ''
        ? null
        : HOST_STATUSES.includes(hostStatus as HostStatus)
          ? (hostStatus as HostStatus)
          : 'UNKNOWN',
    ...(hypervisor === null || hypervisor === '' ? {} : { hypervisorHost: hypervisor }),
    updatedAt: updated === null ? null : isoUtc(updated),
  };
}

/** One entry of GET /servers/{id}/os-instance-actions. */
export function mapAction(action: Json, what: string): InstanceAction {
  const name = requireStr(action, 'action', what);
  const userId = str(action['user_id']);
  return {
    action: name,
    requestId: requireStr(action, 'request_id', what),
    userId,
    startTime: isoUtc(requireStr(action, 'start_time', what)),
    message: str(action['message']),
    initiatedBy: actionInitiator(name, userId),
  };
}

/** GET /servers/{id}/diagnostics, the standard form of microversion ≥ 2.48. */
export function mapDiagnostics(body: Json): InstanceDiagnostics {
  const nics = Array.isArray(body['nic_details']) ? body['nic_details'] : [];
  return {
    state: str(body['state']),
    driver: str(body['driver']),
    uptimeSeconds: num(body['uptime']),
    nics: nics
      .filter((n): n is Json => typeof n === 'object' && n !== null)
      .map((n): NicCounters => ({
        macAddress: str(n['mac_address']),
        rxOctets: num(n['rx_octets']),
        rxPackets: num(n['rx_packets']),
        rxErrors: num(n['rx_errors']),
        rxDrop: num(n['rx_drop']),
        txOctets: num(n['tx_octets']),
        txPackets: num(n['tx_packets']),
        txErrors: num(n['tx_errors']),
        txDrop: num(n['tx_drop']),
      })),
  };
}

/** A Neutron port; the binding:* attributes are absent unless the caller is admin. */
export function mapPort(port: Json, what: string): CloudPort {
  const fixed = Array.isArray(port['fixed_ips']) ? port['fixed_ips'] : [];
  const groups = Array.isArray(port['security_groups']) ? port['security_groups'] : [];
  const host = str(port['binding:host_id']);
  return {
    id: requireStr(port, 'id', what),
    name: str(port['name']) ?? '',
    deviceId: str(port['device_id']) ?? '',
    networkId: str(port['network_id']) ?? '',
    macAddress: str(port['mac_address']) ?? '',
    status: requireStr(port, 'status', what),
    adminStateUp: port['admin_state_up'] === true,
    bindingHost: host === null || host === '' ? null : host,
    vifType: str(port['binding:vif_type']),
    fixedIps: fixed
      .filter((f): f is Json => typeof f === 'object' && f !== null)
      .map((f) => ({ ipAddress: str(f['ip_address']) ?? '', subnetId: str(f['subnet_id']) ?? '' }))
      .filter((f) => f.ipAddress !== ''),
    securityGroupIds: groups.filter((g): g is string => typeof g === 'string'),
    // Absent when the port-security extension is off: then Neutron filters with security groups.
    portSecurityEnabled: port['port_security_enabled'] !== false,
  };
}

function mapRule(rule: Json, what: string): SecurityGroupRule {
  const protocol = rule['protocol'];
  const ethertype = rule['ethertype'] === 'IPv6' ? 'IPv6' : 'IPv4';
  return {
    id: requireStr(rule, 'id', what),
    direction: rule['direction'] === 'egress' ? 'egress' : 'ingress',
    ethertype,
    protocol:
      typeof protocol === 'number'
        ? String(protocol)
        : typeof protocol === 'string'
          ? protocol
          : null,
    portRangeMin: num(rule['port_range_min']),
    portRangeMax: num(rule['port_range_max']),
    remoteIpPrefix: str(rule['remote_ip_prefix']),
    remoteGroupId: str(rule['remote_group_id']),
    remoteAddressGroupId: str(rule['remote_address_group_id']),
  };
}

export function mapSecurityGroup(group: Json, what: string): SecurityGroup {
  const rules = Array.isArray(group['security_group_rules']) ? group['security_group_rules'] : [];
  return {
    id: requireStr(group, 'id', what),
    name: str(group['name']) ?? '',
    rules: rules
      .filter((r): r is Json => typeof r === 'object' && r !== null)
      .map((r) => mapRule(r, what)),
  };
}
