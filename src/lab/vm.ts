/**
 * The lab's node namespaces seen as cloud VMs: whether each is running or
 * shut off, what task is in flight (a reboot), whether its "kernel" has
 * panicked, where its console log starts, its port's admin state, and the
 * instance actions taken on it and by whom. Kept in the lab state file
 * (`LabNodeState.vm`), written under the lab lock, so `lab fault`, `lab heal`,
 * `lab cloud` and a controller using the lab cloud all see the same VM.
 * Pure: the I/O is in power.ts and src/cloud/lab.
 */
import type { PowerState } from '../core/cloud.ts';

export type LabPower = 'running' | 'shutoff';

/**
 * Nova's task states for the two reboot kinds, and `powering-on` for a
 * start the lab hypervisor is booting (Nova's own answer while `os-start` runs).
 */
export type LabTask = 'rebooting' | 'rebooting_hard' | 'powering-on';

export interface LabVmAction {
  /** `create`, `stop`, `start`, `reboot`. */
  readonly action: string;
  readonly requestId: string;
  /** null: the cloud itself (Nova's power-state sync noticing a guest that powered off). */
  readonly userId: string | null;
  readonly startTime: string;
  readonly message: string | null;
}

export interface LabVm {
  readonly power: LabPower;
  readonly task: LabTask | null;
  /** When the reboot in flight brings the node back (ISO); null without one. */
  readonly bootAt: string | null;
  /** The kernel-panic fault: the guest is dead, the hypervisor still runs it. */
  readonly panicked: boolean;
  /** Byte offset in the node's kmsg file where the console of the current boot starts. */
  readonly consoleOffset: number;
  readonly bootedAt: string;
  readonly updatedAt: string;
  /** Neutron's admin_state_up of the node's port (the hub-side veth). */
  readonly portAdminUp: boolean;
  /** Oldest first; at most MAX_ACTIONS. */
  readonly actions: readonly LabVmAction[];
}

export const MAX_ACTIONS = 50;

/** A node that `lab up` made and nobody touched since: running, created when the lab was. */
export function initialVm(createdAt: string): LabVm {
  return {
    power: 'running',
    task: null,
    bootAt: null,
    panicked: false,
    consoleOffset: 0,
    bootedAt: createdAt,
    updatedAt: createdAt,
    portAdminUp: true,
    actions: [
      {
        action: 'create',
        requestId: requestId(createdAt, 0),
        userId: 'lab',
        startTime: createdAt,
        message: null,
      },
    ],
  };
}

/** `req-<uuid>`-shaped, deterministic from the time and a sequence number. */
export function requestId(at: string, seq: number): string {
  const ms = Date.parse(at);
  const hex = (Number.isFinite(ms) ? ms : 0).toString(16).padStart(12, '0').slice(-12);
  const n = seq.toString(16).padStart(4, '0').slice(-4);
  return `req-1ab0c10d-${n}-4000-8000-${hex}`;
}

/**
 * Appends an action, keeping the newest MAX_ACTIONS. `id` is the request id
 * the cloud gave it (the lab hypervisor records Nova's); the lab makes one otherwise.
 */
export function withAction(
  vm: LabVm,
  action: string,
  userId: string | null,
  at: string,
  message: string | null = null,
  id: string = requestId(at, vm.actions.length),
): LabVm {
  const entry: LabVmAction = {
    action,
    requestId: id,
    userId,
    startTime: at,
    message,
  };
  return { ...vm, updatedAt: at, actions: [...vm.actions, entry].slice(-MAX_ACTIONS) };
}

/**
 * What Nova would say about the VM. Rules:
 * - shut off: SHUTOFF / SHUTDOWN / vm_state stopped (a hard reboot in flight
 *   shows HARD_REBOOT: Nova starts a stopped server with a hard reboot);
 * - a reboot in flight: REBOOT or HARD_REBOOT, power RUNNING, vm_state active;
 * - a panicked guest: ACTIVE / RUNNING — the hypervisor still runs the vCPUs
 *   that spin in the panic loop (the seed's NODE_HALTED shape);
 * - otherwise ACTIVE / RUNNING.
 */
export function vmStatus(vm: LabVm): {
  status: string;
  powerState: PowerState;
  vmState: string;
  taskState: string | null;
} {
  if (vm.task === 'powering-on') {
    return { status: 'SHUTOFF', powerState: 'SHUTDOWN', vmState: 'stopped', taskState: vm.task };
  }
  if (vm.task !== null) {
    return {
      status: vm.task === 'rebooting_hard' ? 'HARD_REBOOT' : 'REBOOT',
      powerState: vm.power === 'shutoff' ? 'SHUTDOWN' : 'RUNNING',
      vmState: vm.power === 'shutoff' ? 'stopped' : 'active',
      taskState: vm.task,
    };
  }
  if (vm.power === 'shutoff') {
    return { status: 'SHUTOFF', powerState: 'SHUTDOWN', vmState: 'stopped', taskState: null };
  }
  return { status: 'ACTIVE', powerState: 'RUNNING', vmState: 'active', taskState: null };
}

/**
 * Whether a reboot of this type is accepted now, as Nova decides; the reason
 * when not. Rules: a hard reboot is always accepted (it overrides a soft
 * one in flight and starts a stopped server); a soft reboot needs a running
 * server with no task in flight.
 */
export function rebootRefusal(vm: LabVm, type: 'SOFT' | 'HARD'): string | null {
  if (type === 'HARD') {
    return vm.task === 'rebooting_hard' || vm.task === 'powering-on'
      ? `Cannot 'reboot' instance while it is in task_state ${vm.task}`
      : null;
  }
  if (vm.task !== null) return `Cannot 'reboot' instance while it is in task_state ${vm.task}`;
  if (vm.power === 'shutoff') return "Cannot 'reboot' instance while it is in vm_state stopped";
  return null;
}

/**
 * A reboot accepted at `at`: the task set, the action recorded (with the
 * cloud's request id when it has one), boot due after `bootDelayMs`.
 */
export function startReboot(
  vm: LabVm,
  type: 'SOFT' | 'HARD',
  userId: string | null,
  at: string,
  bootDelayMs: number,
  id?: string,
): LabVm {
  const next = withAction(vm, 'reboot', userId, at, null, id);
  return {
    ...next,
    task: type === 'HARD' ? 'rebooting_hard' : 'rebooting',
    bootAt: new Date(Date.parse(at) + bootDelayMs).toISOString(),
  };
}

/**
 * The node came back: running, no task, no panic. A hard reboot (and a start
 * from shut off) restarts the domain, which truncates its console log: the
 * console of the new boot starts at `consoleEnd`.
 */
export function booted(vm: LabVm, at: string, consoleEnd: number, wipedConsole: boolean): LabVm {
  return {
    ...vm,
    power: 'running',
    task: null,
    bootAt: null,
    panicked: false,
    consoleOffset: wipedConsole ? consoleEnd : vm.consoleOffset,
    bootedAt: at,
    updatedAt: at,
  };
}

/**
 * A start (`os-start`) accepted at `at`: the server stays shut off with task
 * `powering-on` until the node boots, `bootDelayMs` later.
 */
export function startPowerOn(
  vm: LabVm,
  userId: string | null,
  at: string,
  bootDelayMs: number,
  id?: string,
): LabVm {
  return {
    ...withAction(vm, 'start', userId, at, null, id),
    task: 'powering-on',
    bootAt: new Date(Date.parse(at) + bootDelayMs).toISOString(),
  };
}

/**
 * A guest that powered itself off: the hypervisor reports SHUTDOWN and Nova's
 * power-state sync stops the server with no user (`user_id: null`), as it
 * does for a guest that halted or lost power on its own. With a `userId`
 * (and the cloud's request id): a stop somebody asked for (`os-stop`).
 */
export function poweredOff(
  vm: LabVm,
  at: string,
  userId: string | null = null,
  id?: string,
): LabVm {
  return {
    ...withAction(vm, 'stop', userId, at, null, id),
    power: 'shutoff',
    task: null,
    bootAt: null,
    panicked: false,
  };
}
