/**
 * A working in-memory OpenStack: servers with Nova's states and its rules for
 * when a reboot is allowed, an instance-action log, serial consoles as Nova
 * serves them, diagnostics, Neutron ports and security groups. Tests, the
 * demo and the lab drive it through the port and through the world controls
 * below (a guest powering off, a hypervisor going dark, a task finishing);
 * every call through the port is recorded in `calls`.
 */
import {
  actionInitiator,
  parseProviderID,
  rebootConflictHint,
  requireConsoleLines,
  requireGeneveServers,
  requireRegion,
  requireSince,
  requireUuid,
  type CloudInstance,
  type CloudPort,
  type CloudRequest,
  type CloudProvider,
  type GeneveReport,
  type HostStatus,
  type InstanceAction,
  type InstanceDiagnostics,
  type NicCounters,
  type PowerState,
  type RebootType,
  type SecurityGroup,
} from '../../core/cloud.ts';
import { systemClock, type Clock } from '../../core/clock.ts';
import { NodeWardenError, type ErrorCode } from '../../core/errors.ts';
import { judgeGeneve } from '../geneve.ts';

export interface FakeActionSeed {
  readonly action: string;
  readonly requestId: string;
  readonly userId: string | null;
  readonly startTime: string;
  /** When Nova last touched the action record; defaults to startTime. */
  readonly updatedAt?: string;
  readonly message?: string | null;
}

export interface FakeServerSeed {
  readonly id: string;
  readonly name: string;
  readonly vmState: string;
  readonly powerState: PowerState;
  readonly taskState?: string | null;
  /** null (the default): not visible to the caller. */
  readonly hostStatus?: HostStatus | null;
  readonly hypervisorHost?: string;
  readonly updatedAt?: string;
  /** The guest's serial console since boot, as the hypervisor wrote it. */
  readonly console?: string;
  readonly diagnostics?: {
    readonly driver?: string;
    readonly uptimeSeconds?: number;
    readonly nics?: readonly NicCounters[];
  };
  /** Any order; the fake lists them newest first. */
  readonly actions?: readonly FakeActionSeed[];
  /** In a Nova cell that is down: Nova answers with the id, status UNKNOWN and little else. */
  readonly cellDown?: boolean;
}

export interface FakeCloudOptions {
  readonly servers?: readonly FakeServerSeed[];
  readonly ports?: readonly CloudPort[];
  readonly securityGroups?: readonly SecurityGroup[];
  readonly clock?: Clock;
  /** The user the fake acts as: it appears in the actions this client starts. */
  readonly userId?: string;
  /** The region this fake is; null accepts a providerID of any region. */
  readonly region?: string | null;
  /**
   * When set, a reboot finishes by itself this long after it was accepted
   * (`completeTask`), and `onBoot` listeners hear of it — so the demo's and
   * tests' simulated node can come back. Unset: a test finishes it by hand.
   */
  readonly bootDelayMs?: number;
}

export type CloudMethod = keyof CloudProvider;

export interface FakeCloudCall {
  readonly at: string;
  readonly method: CloudMethod;
  readonly args: readonly unknown[];
  /** `ok`, or the code of the error the call failed with. */
  readonly outcome: 'ok' | ErrorCode;
}

interface ServerState {
  id: string;
  name: string;
  vmState: string;
  powerState: PowerState;
  taskState: string | null;
  pendingReboot: RebootType | null;
  hostStatus: HostStatus | null;
  hypervisorHost: string | undefined;
  updatedAt: string;
  console: string;
  diagnostics: FakeServerSeed['diagnostics'];
  actions: (FakeActionSeed & { updatedAt: string })[];
  cellDown: boolean;
  deleted: boolean;
}

/** Nova's status for a vm_state and task_state (nova.api.openstack.common._STATE_MAP, the parts a node sees). */
export function novaStatus(vmState: string, taskState: string | null): string {
  const reboot: Record<string, string> = {
    rebooting: 'REBOOT',
    reboot_pending: 'REBOOT',
    reboot_started: 'REBOOT',
    rebooting_hard: 'HARD_REBOOT',
    reboot_pending_hard: 'HARD_REBOOT',
    reboot_started_hard: 'HARD_REBOOT',
  };
  switch (vmState) {
    case 'active':
      return (taskState !== null ? reboot[taskState] : undefined) ?? 'ACTIVE';
    case 'building':
      return 'BUILD';
    case 'stopped':
      return 'SHUTOFF';
    case 'resized':
      return 'VERIFY_RESIZE';
    case 'paused':
      return 'PAUSED';
    case 'suspended':
      return 'SUSPENDED';
    case 'rescued':
      return 'RESCUE';
    case 'error':
      return 'ERROR';
    case 'deleted':
      return 'DELETED';
    case 'soft-delete':
      return 'SOFT_DELETED';
    case 'shelved':
      return 'SHELVED';
    case 'shelved_offloaded':
      return 'SHELVED_OFFLOADED';
    default:
      return 'UNKNOWN';
  }
}

/** Nova's diagnostics `state` for a power state (nova.compute.power_state.STATE_MAP). */
const DIAGNOSTICS_STATE: Record<PowerState, string> = {
  NOSTATE: 'pending',
  RUNNING: 'running',
  PAUSED: 'paused',
  SHUTDOWN: 'shutdown',
  CRASHED: 'crashed',
  SUSPENDED: 'suspended',
};

/**
 * The console as Nova's os-getConsoleOutput returns it: the last `length`
 * items of the log split on "\n" (so a trailing newline counts as an empty
 * last line), every non-ASCII byte turned into U+FFFD (Nova decodes the log
 * as ASCII with replacement), then C0 control characters other than tab and
 * newline removed (carriage returns included).
 */
export function novaConsoleOutput(log: string, length?: number): string {
  const bytes = new TextEncoder().encode(log);
  let text = '';
  for (const b of bytes) text += b < 0x80 ? String.fromCharCode(b) : '\ufffd';
  if (length !== undefined) text = text.split('\n').slice(-length).join('\n');
  // eslint-disable-next-line no-control-regex -- Nova strips exactly these.
  return text.replace(/[\x00-\x08\x0b-\x1f]/g, '');
}

const SOFT_REBOOT_VM_STATES = ['active'];
const HARD_REBOOT_VM_STATES = ['active', 'stopped', 'paused', 'suspended', 'error'];
const HARD_REBOOT_TASK_STATES: readonly (string | null)[] = [
  null,
  'rebooting',
  'reboot_pending',
  'reboot_started',
  'resuming',
  'rebooting_hard',
  'unpausing',
  'pausing',
  'suspending',
];

const BOOT_BANNER =
  '[    0.000000] Linux version 6.8.0-79-generic (buildd@lcy02-amd64-064) #79-Ubuntu SMP\n' +
  '[    0.000000] Command line: BOOT_IMAGE=/vmlinuz-6.8.0-79-generic root=LABEL=cloudimg-rootfs ro console=tty1 console=ttyS0\n';

export class FakeCloud implements CloudProvider {
  /** Every call made through the CloudProvider port, oldest first. */
  readonly calls: FakeCloudCall[] = [];
  private readonly servers = new Map<string, ServerState>();
  private readonly portsById = new Map<string, CloudPort>();
  private readonly groups = new Map<string, SecurityGroup>();
  private readonly failures = new Map<CloudMethod, NodeWardenError[]>();
  private readonly clock: Clock;
  private readonly userId: string;
  private readonly region: string | null;
  private requestCounter = 0;
  private readonly bootDelayMs: number | undefined;
  private readonly bootListeners: ((serverId: string, type: RebootType) => void)[] = [];

  constructor(options: FakeCloudOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.userId = options.userId ?? 'nodewarden';
    this.region = options.region ?? null;
    this.bootDelayMs = options.bootDelayMs;
    for (const s of options.servers ?? []) this.addServer(s);
    for (const p of options.ports ?? []) this.addPort(p);
    for (const g of options.securityGroups ?? []) this.addSecurityGroup(g);
  }

  // ---- world controls -------------------------------------------------

  addServer(seed: FakeServerSeed): void {
    const id = requireUuid('server', seed.id);
    const now = this.nowIso();
    this.servers.set(id, {
      id,
      name: seed.name,
      vmState: seed.vmState,
      powerState: seed.powerState,
      taskState: seed.taskState ?? null,
      pendingReboot: null,
      hostStatus: seed.hostStatus ?? null,
      hypervisorHost: seed.hypervisorHost,
      updatedAt: seed.updatedAt ?? now,
      console: seed.console ?? '',
      diagnostics: seed.diagnostics,
      actions: (seed.actions ?? [])
        .map((a) => ({ ...a, updatedAt: a.updatedAt ?? a.startTime }))
        .sort((a, b) => Date.parse(b.startTime) - Date.parse(a.startTime)),
      cellDown: seed.cellDown ?? false,
      deleted: false,
    });
  }

  addPort(port: CloudPort): void {
    this.portsById.set(requireUuid('port', port.id), { ...port });
  }

  addSecurityGroup(group: SecurityGroup): void {
    this.groups.set(group.id, group);
  }

  /** The next call of `method` fails with `error` (queued, one per call). */
  failNext(method: CloudMethod, error: NodeWardenError): void {
    const queue = this.failures.get(method) ?? [];
    queue.push(error);
    this.failures.set(method, queue);
  }

  /**
   * The hypervisor reports the guest's power state, and Nova's periodic sync
   * reacts as `_sync_instance_power_state` does: an active VM found shut
   * down, crashed or suspended is stopped by Nova itself (an action `stop`
   * with no user); a stopped VM found running is force-stopped the same way.
   */
  hypervisorReports(serverId: string, powerState: PowerState): void {
    const s = this.server(serverId);
    s.powerState = powerState;
    const stopByNova = (): void => {
      s.vmState = 'stopped';
      s.powerState = 'SHUTDOWN';
      s.taskState = null;
      this.record(s, 'stop', null);
    };
    if (s.taskState !== null) return;
    if (s.vmState === 'active' && ['SHUTDOWN', 'CRASHED', 'SUSPENDED'].includes(powerState)) {
      stopByNova();
    } else if (
      s.vmState === 'stopped' &&
      !['NOSTATE', 'SHUTDOWN', 'CRASHED'].includes(powerState)
    ) {
      stopByNova();
    } else {
      s.updatedAt = this.nowIso();
    }
  }

  /** The pending reboot (or other task) finishes: the guest boots again. A hard reboot starts a new console log. */
  completeTask(serverId: string): void {
    const s = this.server(serverId);
    if (s.pendingReboot !== null) {
      s.console = s.pendingReboot === 'HARD' ? BOOT_BANNER : s.console + BOOT_BANNER;
      s.vmState = 'active';
      s.powerState = 'RUNNING';
    }
    s.pendingReboot = null;
    s.taskState = null;
    s.updatedAt = this.nowIso();
  }

  /** Called when a reboot finishes by itself (`bootDelayMs`): the guest is up again. */
  onBoot(listener: (serverId: string, type: RebootType) => void): void {
    this.bootListeners.push(listener);
  }

  setHostStatus(serverId: string, status: HostStatus | null): void {
    this.server(serverId).hostStatus = status;
  }

  setTaskState(serverId: string, taskState: string | null): void {
    const s = this.server(serverId);
    s.taskState = taskState;
    s.updatedAt = this.nowIso();
  }

  /** Text the guest writes to its serial console (kernel messages, last words). */
  appendConsole(serverId: string, text: string): void {
    this.server(serverId).console += text;
  }

  setPortStatus(portId: string, status: CloudPort['status']): void {
    const port = this.port(portId);
    this.portsById.set(port.id, { ...port, status });
  }

  /** A user deletes the server: Nova forgets it (404), its actions stay readable. */
  deleteServer(serverId: string, userId: string | null = this.userId): void {
    const s = this.server(serverId);
    this.record(s, 'delete', userId);
    s.deleted = true;
    for (const p of this.portsById.values()) if (p.deviceId === s.id) this.portsById.delete(p.id);
  }

  // ---- the port ---------------------------------------------------------

  instance(providerID: string): Promise<CloudInstance | null> {
    return this.call('instance', [providerID], () => {
      const parsed = parseProviderID(providerID);
      requireRegion(parsed, this.region);
      const s = this.servers.get(parsed.serverId);
      if (s === undefined || s.deleted) return null;
      if (s.cellDown) {
        return {
          id: s.id,
          name: '',
          status: 'UNKNOWN',
          powerState: s.powerState,
          taskState: null,
          vmState: null,
          hostStatus: null,
          updatedAt: null,
        };
      }
      return {
        id: s.id,
        name: s.name,
        status: novaStatus(s.vmState, s.taskState),
        powerState: s.powerState,
        taskState: s.taskState,
        vmState: s.vmState,
        hostStatus: s.hostStatus,
        ...(s.hypervisorHost === undefined ? {} : { hypervisorHost: s.hypervisorHost }),
        updatedAt: s.updatedAt,
      };
    });
  }

  instanceActions(serverId: string, since?: string): Promise<readonly InstanceAction[]> {
    return this.call('instanceActions', [serverId, since], () => {
      const from = requireSince(since);
      const s = this.existing(requireUuid('server', serverId), { includeDeleted: true });
      return s.actions
        .filter((a) => from === undefined || Date.parse(a.updatedAt) >= Date.parse(from))
        .map((a) => ({
          action: a.action,
          requestId: a.requestId,
          userId: a.userId,
          startTime: new Date(Date.parse(a.startTime)).toISOString(),
          message: a.message ?? null,
          initiatedBy: actionInitiator(a.action, a.userId),
        }));
    });
  }

  consoleLog(serverId: string, lines?: number): Promise<string> {
    return this.call('consoleLog', [serverId, lines], () => {
      const length = requireConsoleLines(lines);
      const s = this.existing(requireUuid('server', serverId));
      return novaConsoleOutput(s.console, length);
    });
  }

  diagnostics(serverId: string): Promise<InstanceDiagnostics> {
    return this.call('diagnostics', [serverId], () => {
      const s = this.existing(requireUuid('server', serverId));
      return {
        state: DIAGNOSTICS_STATE[s.powerState],
        driver: s.diagnostics?.driver ?? 'libvirt',
        uptimeSeconds: s.diagnostics?.uptimeSeconds ?? null,
        nics: (s.diagnostics?.nics ?? []).map((n) => ({ ...n })),
      };
    });
  }

  reboot(serverId: string, type: RebootType): Promise<CloudRequest> {
    return this.call('reboot', [serverId, type], () => {
      if (type !== 'SOFT' && type !== 'HARD') {
        throw new NodeWardenError('BAD_INPUT', `reboot type ${String(type)} is not SOFT or HARD`, {
          hint: 'use SOFT (ACPI, the guest shuts down cleanly) or HARD (power cycle)',
        });
      }
      const s = this.existing(requireUuid('server', serverId));
      const vmStates = type === 'SOFT' ? SOFT_REBOOT_VM_STATES : HARD_REBOOT_VM_STATES;
      const taskStates = type === 'SOFT' ? [null] : HARD_REBOOT_TASK_STATES;
      if (!vmStates.includes(s.vmState)) throw rebootConflict(s.id, 'vm_state', s.vmState);
      if (!taskStates.includes(s.taskState)) {
        throw rebootConflict(s.id, 'task_state', String(s.taskState));
      }
      s.taskState = type === 'SOFT' ? 'rebooting' : 'rebooting_hard';
      s.pendingReboot = type;
      const requestId = this.record(s, 'reboot', this.userId);
      if (this.bootDelayMs !== undefined) {
        this.clock.setTimer(this.bootDelayMs, () => {
          if (s.pendingReboot !== type) return;
          this.completeTask(s.id);
          for (const listener of this.bootListeners) listener(s.id, type);
        });
      }
      return { requestId };
    });
  }

  ports(serverId: string): Promise<readonly CloudPort[]> {
    return this.call('ports', [serverId], () => {
      const id = requireUuid('server', serverId);
      return [...this.portsById.values()]
        .filter((p) => p.deviceId === id)
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((p) => ({ ...p }));
    });
  }

  setPortAdminState(portId: string, up: boolean): Promise<CloudPort> {
    return this.call('setPortAdminState', [portId, up], () => {
      const port = this.portsById.get(requireUuid('port', portId));
      if (port === undefined) {
        throw new NodeWardenError(
          'NOT_FOUND',
          `update port ${portId}: Port ${portId} could not be found.`,
          { hint: 'list the server ports again; the port may have been deleted' },
        );
      }
      const updated = { ...port, adminStateUp: up };
      this.portsById.set(port.id, updated);
      return { ...updated };
    });
  }

  geneveAllowed(serverIds: readonly string[]): Promise<GeneveReport> {
    return this.call('geneveAllowed', [serverIds], () => {
      const ids = requireGeneveServers(serverIds);
      const servers = ids.map((id) => ({
        id,
        ports: [...this.portsById.values()].filter((p) => p.deviceId === id),
      }));
      return judgeGeneve(servers, [...this.groups.values()]);
    });
  }

  // ---- internals --------------------------------------------------------

  private async call<T>(method: CloudMethod, args: readonly unknown[], body: () => T): Promise<T> {
    // A real cloud answers on a later turn; so does the fake, so callers cannot rely on sync answers.
    await Promise.resolve();
    const at = this.nowIso();
    try {
      const injected = this.failures.get(method)?.shift();
      if (injected !== undefined) throw injected;
      const result = body();
      this.calls.push({ at, method, args, outcome: 'ok' });
      return result;
    } catch (error) {
      const code = error instanceof NodeWardenError ? error.code : 'INTERNAL';
      this.calls.push({ at, method, args, outcome: code });
      throw error;
    }
  }

  private nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private server(serverId: string): ServerState {
    const s = this.servers.get(requireUuid('server', serverId));
    if (s === undefined) throw new Error(`FakeCloud has no server ${serverId}`);
    return s;
  }

  private port(portId: string): CloudPort {
    const p = this.portsById.get(requireUuid('port', portId));
    if (p === undefined) throw new Error(`FakeCloud has no port ${portId}`);
    return p;
  }

  private existing(id: string, options: { includeDeleted?: boolean } = {}): ServerState {
    const s = this.servers.get(id);
    if (s === undefined || (s.deleted && options.includeDeleted !== true)) {
      throw new NodeWardenError('NOT_FOUND', `server ${id}: Instance ${id} could not be found.`, {
        hint: 'the server is gone from the cloud; check the node providerID',
      });
    }
    return s;
  }

  /** Records an action; returns its request id. */
  private record(s: ServerState, action: string, userId: string | null): string {
    const now = this.nowIso();
    this.requestCounter += 1;
    const n = this.requestCounter.toString(16).padStart(12, '0');
    const requestId = `req-fa4e0000-0000-4000-8000-${n}`;
    s.actions.unshift({
      action,
      requestId,
      userId,
      startTime: now,
      updatedAt: now,
      message: null,
    });
    s.updatedAt = now;
    return requestId;
  }
}

/** Nova's 409 for a reboot in the wrong state, worded as the OpenStack adapter words it. */
function rebootConflict(
  id: string,
  attr: 'vm_state' | 'task_state',
  state: string,
): NodeWardenError {
  const message = `Cannot 'reboot' instance ${id} while it is in ${attr} ${state}`;
  return new NodeWardenError('CONFLICT', `reboot server ${id}: ${message}`, {
    hint: rebootConflictHint(message),
  });
}
