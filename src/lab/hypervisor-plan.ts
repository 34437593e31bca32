/**
 * What the lab hypervisor does about one Nova server and the lab node behind
 * it. Pure: it reads the node's VM record (vm.ts), Nova's server and Nova's
 * instance actions, and returns the steps; src/lab/hypervisor.ts performs
 * them. Nova's fake virt driver finishes every action at once; the lab node
 * is the guest that really stops, boots and reboots.
 */
import type { CloudInstance, InstanceAction } from '../core/cloud.ts';
import {
  MAX_ACTIONS,
  poweredOff,
  startPowerOn,
  startReboot,
  withAction,
  type LabVm,
} from './vm.ts';

/** What an action of Nova does to the lab node. */
export type HypervisorEffect = 'power-off' | 'power-on' | 'reboot' | 'record';

export type HypervisorStep =
  /** A Nova action not yet applied, oldest first. */
  | { readonly kind: 'apply'; readonly action: InstanceAction; readonly effect: HypervisorEffect }
  /** A boot whose time has come (after a reboot or a start, the boot delay later). */
  | { readonly kind: 'boot' }
  /** The node's power changed in the lab (a `power-off` fault, a heal): tell Nova. */
  | { readonly kind: 'mirror'; readonly call: 'stop' | 'start'; readonly reason: string };

export interface HypervisorInput {
  readonly vm: LabVm;
  /** Nova's server; null when Nova has none (deleted). */
  readonly server: Pick<CloudInstance, 'status' | 'taskState'> | null;
  /** Nova's actions on the server, newest first (as `instanceActions` returns them). */
  readonly actions: readonly InstanceAction[];
  /** ISO-8601. */
  readonly now: string;
}

/**
 * Nova's actions the VM record has not seen, oldest first. Rules: an action
 * is seen when the record holds its request id (the hypervisor records
 * every action it applies, with Nova's request id); one older than the
 * oldest the record still holds, once the record is full, is history that
 * fell off the record, not new.
 */
export function unseenActions(vm: LabVm, actions: readonly InstanceAction[]): InstanceAction[] {
  const seen = new Set(vm.actions.map((a) => a.requestId));
  const horizon = vm.actions.length >= MAX_ACTIONS ? (vm.actions[0]?.startTime ?? '') : '';
  return actions
    .filter((a) => !seen.has(a.requestId) && a.startTime >= horizon)
    .map((a, i) => ({ a, i }))
    .sort((x, y) => x.a.startTime.localeCompare(y.a.startTime) || y.i - x.i)
    .map(({ a }) => a);
}

/**
 * The effect of one Nova action on a VM in this state. Rules:
 * - `stop`: a running node (or one booting) powers off; one already off is only recorded;
 * - `start`: a node that is off, with nothing in flight, boots; otherwise recorded;
 * - `reboot`: always restarts the node (Nova takes a HARD reboot of a stopped server);
 * - anything else (create, interface attach/detach, …) is recorded.
 */
export function effectOf(vm: LabVm, action: string): HypervisorEffect {
  switch (action) {
    case 'stop':
      return vm.power === 'running' || vm.task !== null ? 'power-off' : 'record';
    case 'start':
      return vm.power === 'shutoff' && vm.task === null ? 'power-on' : 'record';
    case 'reboot':
      return 'reboot';
    default:
      return 'record';
  }
}

/** The VM record after an applied action; `now` + `bootDelayMs` is when a restart boots. */
export function applyAction(
  vm: LabVm,
  action: InstanceAction,
  effect: HypervisorEffect,
  now: string,
  bootDelayMs: number,
): LabVm {
  const { action: name, userId, startTime, requestId } = action;
  const bootAt = new Date(Date.parse(now) + bootDelayMs).toISOString();
  switch (effect) {
    case 'power-off':
      return poweredOff(vm, startTime, userId, requestId);
    case 'power-on':
      return { ...startPowerOn(vm, userId, startTime, 0, requestId), bootAt };
    case 'reboot': {
      const type = vm.power === 'shutoff' ? 'HARD' : 'SOFT';
      return { ...startReboot(vm, type, userId, startTime, 0, requestId), bootAt };
    }
    case 'record':
      return withAction(vm, name, userId, startTime, action.message, requestId);
  }
}

/**
 * The steps for one server. Rules, in order:
 * 1. every unseen Nova action is applied, oldest first, each judged on the
 *    VM as the earlier ones left it;
 * 2. a restart whose boot time has passed boots;
 * 3. only when nothing was applied, nothing is in flight on either side and
 *    Nova has the server: the lab's power wins over Nova's — a node powered
 *    off in the lab while Nova says ACTIVE is stopped in Nova, a node running
 *    while Nova says SHUTOFF is started. (Nova records the state change's
 *    action before the change shows, so reading the server first and the
 *    actions second never mistakes a fresh API stop for a lab one.)
 */
export function planHypervisor(input: HypervisorInput, bootDelayMs: number): HypervisorStep[] {
  const steps: HypervisorStep[] = [];
  let vm = input.vm;
  for (const action of unseenActions(vm, input.actions)) {
    const effect = effectOf(vm, action.action);
    steps.push({ kind: 'apply', action, effect });
    vm = applyAction(vm, action, effect, input.now, bootDelayMs);
  }
  if (vm.task !== null && vm.bootAt !== null && vm.bootAt <= input.now) {
    steps.push({ kind: 'boot' });
  }
  const server = input.server;
  if (steps.length > 0 || vm.task !== null || server === null || server.taskState !== null) {
    return steps;
  }
  if (vm.power === 'shutoff' && server.status === 'ACTIVE') {
    steps.push({ kind: 'mirror', call: 'stop', reason: 'powered off in the lab' });
  } else if (vm.power === 'running' && server.status === 'SHUTOFF') {
    steps.push({ kind: 'mirror', call: 'start', reason: 'running again in the lab' });
  }
  return steps;
}
