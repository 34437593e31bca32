/**
 * The lab hypervisor (`nodewarden lab hypervisor`, started by `lab up
 * --openstack`): Nova's fake virt driver finishes every action at once and
 * runs no guest, so this process makes the lab node behind each Nova server
 * the guest. Every interval it reads each server and its instance actions
 * (admin credential), plans with the pure `planHypervisor` and performs the
 * steps under the lab lock: a `stop` powers the node off, a `start` boots it,
 * a `reboot` restarts it after the boot delay — and a node powered off or
 * booted in the lab is stopped or started in Nova, so both tell the same.
 */
import type { CloudInstance, CloudRequest, InstanceAction } from '../core/cloud.ts';
import { describeError, NodeWardenError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { applyAction, planHypervisor, type HypervisorStep } from './hypervisor-plan.ts';
import { bootNode, haltNode } from './power.ts';
import { withAction } from './vm.ts';
import {
  requireState,
  vmOf,
  withLabLock,
  withNode,
  writeState,
  type LabNodeState,
  type LabState,
} from './state.ts';

/** The calls the hypervisor makes (the OpenStack adapter has them). */
export interface HypervisorCloud {
  instance(providerID: string): Promise<CloudInstance | null>;
  instanceActions(serverId: string): Promise<readonly InstanceAction[]>;
  powerAction(serverId: string, action: 'stop' | 'start'): Promise<CloudRequest>;
}

export interface HypervisorOptions {
  readonly dir: string;
  readonly cloud: HypervisorCloud;
  readonly bootDelayMs: number;
  readonly log: Logger;
}

export interface TickResult {
  /** Nova actions applied (recorded ones included). */
  readonly applied: number;
  readonly booted: number;
  /** Stops and starts sent to Nova for what happened in the lab. */
  readonly mirrored: number;
  /** Servers whose turn failed (logged; tried again next tick). */
  readonly failed: number;
}

/** The user recorded on the stops and starts the hypervisor sends to Nova for lab changes. */
export const MIRROR_USER = 'lab-hypervisor';

/** A clean ACPI shutdown gives the guest's processes this long (a soft reboot, os-stop). */
const SHUTDOWN_GRACE_MS = 2_000;

/** Records a stop or start the hypervisor sent to Nova, by Nova's request id. */
async function recordMirror(
  dir: string,
  name: string,
  call: 'stop' | 'start',
  requestId: string,
): Promise<void> {
  await withLabLock(dir, async () => {
    const state = await requireState(dir);
    const node = state.nodes.find((n) => n.name === name);
    if (node === undefined) return;
    const at = new Date().toISOString();
    const vm = withAction(vmOf(state, node), call, MIRROR_USER, at, null, requestId);
    await writeState(withNode(state, { ...node, vm }, new Date()));
  });
}

/** Performs one apply step on the node; returns the node as the state should record it. */
async function apply(
  state: LabState,
  node: LabNodeState,
  step: Extract<HypervisorStep, { kind: 'apply' }>,
  bootDelayMs: number,
): Promise<LabNodeState> {
  const vm = vmOf(state, node);
  let next = node;
  const goesDown =
    (step.effect === 'power-off' || step.effect === 'reboot') &&
    vm.power === 'running' &&
    vm.task === null;
  if (goesDown) {
    // A panicked kernel runs no shutdown: the processes are already gone, nothing prints.
    next = await haltNode(state, node, vm.panicked ? 0 : SHUTDOWN_GRACE_MS, !vm.panicked);
  }
  const at = new Date().toISOString();
  return { ...next, vm: applyAction(vm, step.action, step.effect, at, bootDelayMs) };
}

/**
 * Reads every node's server once (bounded by `timeoutMs`): proves the
 * credentials and the servers before the process says it is ready.
 */
export async function checkServers(o: HypervisorOptions, timeoutMs: number): Promise<number> {
  const state = await requireState(o.dir);
  const ids = state.nodes.flatMap((n) => (n.novaServer ? [n.novaServer.serverId] : []));
  const deadline = Date.now() + timeoutMs;
  for (const id of ids) {
    for (;;) {
      try {
        if ((await o.cloud.instance(`openstack:///${id}`)) !== null) break;
        throw new NodeWardenError('NOT_FOUND', `Nova has no server ${id}`);
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }
  return ids.length;
}

/** One pass over every Nova-backed node. A failing server is logged and left for the next tick. */
export async function hypervisorTick(o: HypervisorOptions): Promise<TickResult> {
  const state = await requireState(o.dir);
  let applied = 0;
  let booted = 0;
  let mirrored = 0;
  let failed = 0;
  for (const listed of state.nodes) {
    const serverId = listed.novaServer?.serverId;
    if (serverId === undefined) continue;
    try {
      // The server first, then its actions: a change the server shows has its action listed.
      const server = await o.cloud.instance(`openstack:///${serverId}`);
      const actions = server === null ? [] : await o.cloud.instanceActions(serverId);
      const mirrors = await withLabLock(o.dir, async () => {
        let current = await requireState(o.dir);
        let node = current.nodes.find((n) => n.name === listed.name);
        if (node === undefined) return [];
        const steps = planHypervisor(
          { vm: vmOf(current, node), server, actions, now: new Date().toISOString() },
          o.bootDelayMs,
        );
        const calls: Extract<HypervisorStep, { kind: 'mirror' }>[] = [];
        for (const step of steps) {
          if (step.kind === 'mirror') {
            calls.push(step);
            continue;
          }
          if (step.kind === 'apply') {
            node = await apply(current, node, step, o.bootDelayMs);
            applied += 1;
            o.log.log(step.effect === 'record' ? 'debug' : 'info', 'nova action applied', {
              node: node.name,
              serverId,
              action: step.action.action,
              requestId: step.action.requestId,
              userId: step.action.userId,
              effect: step.effect,
            });
          } else {
            node = await bootNode(current, node, true);
            booted += 1;
            o.log.log('info', 'node booted', { node: node.name, serverId });
          }
          current = withNode(current, node, new Date());
          await writeState(current);
        }
        return calls;
      });
      for (const m of mirrors) {
        const { requestId } = await o.cloud.powerAction(serverId, m.call);
        // Recorded at once under Nova's request id, so the action it starts is not applied again.
        if (requestId !== null) await recordMirror(o.dir, listed.name, m.call, requestId);
        mirrored += 1;
        o.log.log('info', 'lab power change sent to nova', {
          node: listed.name,
          serverId,
          call: m.call,
          reason: m.reason,
        });
      }
    } catch (error) {
      failed += 1;
      o.log.log('warn', 'hypervisor: server skipped this tick', {
        node: listed.name,
        serverId,
        error: describeError(error),
      });
    }
  }
  return { applied, booted, mirrored, failed };
}

/**
 * Ticks every `intervalMs` until `signal` aborts. A tick that fails as a
 * whole (the lab state unreadable) is logged and tried again.
 */
export async function runHypervisor(
  o: HypervisorOptions,
  intervalMs: number,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    const started = Date.now();
    try {
      await hypervisorTick(o);
    } catch (error) {
      o.log.log('error', 'hypervisor tick failed', { error: describeError(error) });
    }
    await pause(Math.max(0, intervalMs - (Date.now() - started)), signal);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
