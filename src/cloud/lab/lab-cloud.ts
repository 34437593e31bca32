/**
 * The lab as a cloud: a `CloudProvider` whose VMs are the lab's node
 * namespaces, so detection → diagnosis → remediation runs end to end without
 * an OpenStack. What it says comes from the lab state file (written under the
 * lab lock by `lab fault`, `lab heal` and this adapter alike, so the CLI and a
 * controller agree) and from the kernel:
 *
 * - instance: ACTIVE/RUNNING, SHUTOFF/SHUTDOWN after `power-off`, REBOOT or
 *   HARD_REBOOT while a reboot is in flight; a panicked node stays
 *   ACTIVE/RUNNING (the hypervisor still runs its vCPUs). The hypervisor is
 *   this machine: host_status UP.
 * - console log: the node's kernel-log file (what its agent reads as
 *   /dev/kmsg) from the start of the current boot; a hard reboot starts a new
 *   one, as libvirt truncates the console file when it restarts the domain.
 * - instance actions: create, stop (Nova's power sync, no user), start,
 *   reboot (with the user this adapter acts as).
 * - port: the node's veth; its hub side is the switch port. ACTIVE when that
 *   side is operationally up (its peer, the node's eth0, is up too), DOWN
 *   otherwise; `setPortAdminState` sets the hub side down or up, as Neutron's
 *   admin_state_up does on the switch.
 * - diagnostics: the hub-side veth's counters seen from the guest (the
 *   switch's tx is the guest's rx).
 * - reboot SOFT/HARD: accepted as Nova accepts it; the node's processes stop
 *   (a soft reboot lets them exit, a hard one kills them) and its link goes
 *   down; after `bootDelayMs` every layer is restored, stand-in and agent
 *   start again, every fault is cleared, and the task clears.
 */
import { readFile } from 'node:fs/promises';
import {
  parseProviderID,
  rebootConflictHint,
  requireConsoleLines,
  requireGeneveServers,
  requireSince,
  actionInitiator,
  type CloudInstance,
  type CloudPort,
  type CloudRequest,
  type CloudProvider,
  type GeneveReport,
  type InstanceAction,
  type InstanceDiagnostics,
  type RebootType,
} from '../../core/cloud.ts';
import { badInput, describeError, NodeWardenError } from '../../core/errors.ts';
import { silentLogger, type Logger } from '../../core/logger.ts';
import { ipIn, listLinks, setLink } from '../../lab/netns.ts';
import { kmsgPath } from '../../lab/node-processes.ts';
import { bootNode, haltNode } from '../../lab/power.ts';
import { labServerId } from '../../lab/seed-cluster.ts';
import {
  readState,
  vmOf,
  withLabLock,
  withNode,
  writeState,
  type LabNodeState,
  type LabState,
} from '../../lab/state.ts';
import { NODE_INTERFACE } from '../../lab/topology.ts';
import { rebootRefusal, startReboot, vmStatus } from '../../lab/vm.ts';
import { novaConsoleOutput } from '../fake/fake-cloud.ts';
import { judgeGeneve } from '../geneve.ts';

export interface LabCloudOptions {
  /** The lab directory (NODEWARDEN_LAB_DIR, default /var/lib/nodewarden/lab). */
  readonly dir: string;
  /** The user id recorded on the actions this client starts (who asked). */
  readonly actor: string;
  /** How long a rebooting node stays down before it boots again. */
  readonly bootDelayMs: number;
  readonly log?: Logger;
}

export const DEFAULT_LAB_BOOT_DELAY_MS = 5_000;

/** How long past its boot time a reboot may stay in flight before any client finishes it. */
const OVERDUE_MS = 15_000;

/** The lab's one network and subnet, as Neutron ids. */
export const LAB_NETWORK_ID = '6e0d3a1c-0000-4000-8000-000000000e75';
export const LAB_SUBNET_ID = '6e0d3a1c-0000-4000-8000-000000005b07';

/** A deterministic Neutron port id per node address (the server id's sibling). */
export function labPortId(ip: string): string {
  return labServerId(ip).replace(/^6e0d3a1c/, '9b0e7a2d');
}

interface LinkStats {
  readonly bytes?: number;
  readonly packets?: number;
  readonly errors?: number;
  readonly dropped?: number;
}

export class LabCloud implements CloudProvider {
  readonly #dir: string;
  readonly #actor: string;
  readonly #bootDelayMs: number;
  readonly #log: Logger;
  /** Boots in flight in this process, by node name. */
  readonly #jobs = new Map<string, Promise<void>>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(options: LabCloudOptions) {
    if (!Number.isInteger(options.bootDelayMs) || options.bootDelayMs < 0) {
      throw badInput(
        `lab boot delay ${options.bootDelayMs} ms is not a whole number ≥ 0`,
        'pass e.g. 5000',
      );
    }
    this.#dir = options.dir;
    this.#actor = options.actor;
    this.#bootDelayMs = options.bootDelayMs;
    this.#log = options.log ?? silentLogger;
  }

  async instance(providerID: string): Promise<CloudInstance | null> {
    const { serverId } = parseProviderID(providerID);
    const state = await this.#state();
    const node = state.nodes.find((n) => labServerId(n.ip) === serverId);
    if (node === undefined) return null;
    const vm = vmOf(state, node);
    this.#finishOverdue(node, vm.bootAt);
    const status = vmStatus(vm);
    return {
      id: serverId,
      name: node.name,
      status: status.status,
      powerState: status.powerState,
      taskState: status.taskState,
      vmState: status.vmState,
      hostStatus: 'UP',
      hypervisorHost: state.hub.namespace,
      updatedAt: vm.updatedAt,
    };
  }

  async instanceActions(serverId: string, since?: string): Promise<readonly InstanceAction[]> {
    const from = requireSince(since);
    const { state, node } = await this.#server(serverId);
    return vmOf(state, node)
      .actions.filter((a) => from === undefined || a.startTime >= from)
      .map((a) => ({ ...a, initiatedBy: actionInitiator(a.action, a.userId) }))
      .reverse();
  }

  async consoleLog(serverId: string, lines?: number): Promise<string> {
    const length = requireConsoleLines(lines);
    const { state, node } = await this.#server(serverId);
    const offset = vmOf(state, node).consoleOffset;
    const log = await readFile(kmsgPath(state.dir, node)).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
      throw error;
    });
    return novaConsoleOutput(log.subarray(offset).toString('utf8'), length);
  }

  async diagnostics(serverId: string): Promise<InstanceDiagnostics> {
    const { state, node } = await this.#server(serverId);
    const vm = vmOf(state, node);
    if (vm.power === 'shutoff') {
      throw new NodeWardenError(
        'CONFLICT',
        `Instance ${serverId} in power state shutdown. Cannot get_diagnostics while the instance is in this state.`,
        { hint: 'a shut-off server has no diagnostics; start it (a HARD reboot) first' },
      );
    }
    const { stdout } = await ipIn(state.hub.namespace, ['-s', '-j', 'link', 'show', node.hubVeth]);
    const link = (
      JSON.parse(stdout || '[]') as {
        address?: string;
        stats64?: { rx?: LinkStats; tx?: LinkStats };
      }[]
    )[0];
    const guestRx = link?.stats64?.tx ?? {};
    const guestTx = link?.stats64?.rx ?? {};
    const n = (v: number | undefined): number | null => (typeof v === 'number' ? v : null);
    return {
      // A panicked guest's vCPUs still run: the hypervisor says running, as it did in the seed.
      state: 'running',
      driver: 'lab',
      uptimeSeconds: Math.max(0, Math.round((Date.now() - Date.parse(vm.bootedAt)) / 1000)),
      nics: [
        {
          macAddress: await this.#mac(node),
          rxOctets: n(guestRx.bytes),
          rxPackets: n(guestRx.packets),
          rxErrors: n(guestRx.errors),
          rxDrop: n(guestRx.dropped),
          txOctets: n(guestTx.bytes),
          txPackets: n(guestTx.packets),
          txErrors: n(guestTx.errors),
          txDrop: n(guestTx.dropped),
        },
      ],
    };
  }

  async reboot(serverId: string, type: RebootType): Promise<CloudRequest> {
    if (type !== 'SOFT' && type !== 'HARD') {
      throw badInput(`reboot type ${String(type)} is not SOFT or HARD`, 'pass SOFT or HARD');
    }
    const { name, requestId } = await withLabLock(this.#dir, async () => {
      const { state, node } = await this.#server(serverId);
      const vm = vmOf(state, node);
      const refusal = rebootRefusal(vm, type);
      if (refusal !== null) {
        throw new NodeWardenError('CONFLICT', refusal, { hint: rebootConflictHint(refusal) });
      }
      const at = new Date().toISOString();
      // A soft reboot lets the guest's processes exit; a hard one is a reset.
      const halted = await haltNode(
        state,
        node,
        type === 'SOFT' ? 2_000 : 0,
        type === 'SOFT' && !vm.panicked,
      );
      const next: LabNodeState = {
        ...halted,
        vm: startReboot(vm, type, this.#actor, at, this.#bootDelayMs),
      };
      await writeState(withNode(state, next, new Date()));
      this.#log.log('info', 'lab cloud: reboot accepted', {
        node: node.name,
        type,
        actor: this.#actor,
        bootDelayMs: this.#bootDelayMs,
      });
      return { name: node.name, requestId: next.vm?.actions.at(-1)?.requestId ?? null };
    });
    this.#scheduleBoot(name, type === 'HARD', this.#bootDelayMs);
    return { requestId };
  }

  async ports(serverId: string): Promise<readonly CloudPort[]> {
    const state = await this.#state();
    const node = state.nodes.find((n) => labServerId(n.ip) === serverId.toLowerCase());
    return node === undefined ? [] : [await this.#port(state, node)];
  }

  async setPortAdminState(portId: string, up: boolean): Promise<CloudPort> {
    return withLabLock(this.#dir, async () => {
      const state = await this.#state();
      const node = state.nodes.find((n) => labPortId(n.ip) === portId.toLowerCase());
      if (node === undefined) {
        throw new NodeWardenError('NOT_FOUND', `Port ${portId} could not be found.`, {
          hint: 'pass the port id as ports() returns it',
        });
      }
      await setLink(state.hub.namespace, node.hubVeth, up ? 'up' : 'down');
      const next: LabNodeState = { ...node, vm: { ...vmOf(state, node), portAdminUp: up } };
      const written = withNode(state, next, new Date());
      await writeState(written);
      this.#log.log('info', 'lab cloud: port admin state set', {
        node: node.name,
        port: portId,
        adminStateUp: up,
        actor: this.#actor,
      });
      return this.#port(written, next);
    });
  }

  async geneveAllowed(serverIds: readonly string[]): Promise<GeneveReport> {
    const ids = requireGeneveServers(serverIds);
    const servers = await Promise.all(ids.map(async (id) => ({ id, ports: await this.ports(id) })));
    return judgeGeneve(servers, []);
  }

  /** Resolves when every boot this client started has finished. */
  async idle(): Promise<void> {
    while (this.#jobs.size > 0 || this.#timers.size > 0) {
      await Promise.all([...this.#jobs.values()]);
      if (this.#timers.size > 0) await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Cancels boots not yet begun (a controller shutting down); a later client finishes them. */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #scheduleBoot(name: string, wipeConsole: boolean, delayMs: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      const job = this.#boot(name, wipeConsole)
        .catch((error: unknown) =>
          this.#log.log('error', 'lab cloud: boot failed', {
            node: name,
            error: describeError(error),
          }),
        )
        .finally(() => this.#jobs.delete(name));
      this.#jobs.set(name, job);
    }, delayMs);
    this.#timers.add(timer);
  }

  /** A reboot whose boot is long overdue (its client died): finish it here. */
  #finishOverdue(node: LabNodeState, bootAt: string | null): void {
    if (bootAt === null || this.#jobs.has(node.name)) return;
    if (Date.now() < Date.parse(bootAt) + OVERDUE_MS) return;
    this.#log.log('warn', 'lab cloud: finishing an overdue reboot', { node: node.name, bootAt });
    this.#scheduleBoot(node.name, true, 0);
  }

  async #boot(name: string, wipeConsole: boolean): Promise<void> {
    await withLabLock(this.#dir, async () => {
      const state = await this.#state();
      const node = state.nodes.find((n) => n.name === name);
      // Healed (booted) by someone else meanwhile: nothing left to do.
      if (node === undefined || vmOf(state, node).task === null) return;
      const next = await bootNode(state, node, wipeConsole);
      await writeState(withNode(state, next, new Date()));
      this.#log.log('info', 'lab cloud: node booted', { node: name, pid: next.kubelet.pid });
    });
  }

  async #state(): Promise<LabState> {
    const state = await readState(this.#dir);
    if (state === null) {
      throw new NodeWardenError('UNAVAILABLE', `no lab in ${this.#dir}: the lab cloud has no VMs`, {
        hint: 'start the lab (sudo nodewarden lab up) or point --lab-dir / NODEWARDEN_LAB_DIR at it',
      });
    }
    return state;
  }

  async #server(serverId: string): Promise<{ state: LabState; node: LabNodeState }> {
    const state = await this.#state();
    const node = state.nodes.find((n) => labServerId(n.ip) === serverId.toLowerCase());
    if (node === undefined) {
      throw new NodeWardenError('NOT_FOUND', `Instance ${serverId} could not be found.`, {
        hint: `lab servers are ${state.nodes.map((n) => labServerId(n.ip)).join(', ')}`,
      });
    }
    return { state, node };
  }

  async #mac(node: LabNodeState): Promise<string | null> {
    const { stdout } = await ipIn(node.namespace, ['-j', 'link', 'show', NODE_INTERFACE]);
    return (JSON.parse(stdout || '[]') as { address?: string }[])[0]?.address ?? null;
  }

  async #port(state: LabState, node: LabNodeState): Promise<CloudPort> {
    const hubSide = (await listLinks(state.hub.namespace)).find((l) => l.name === node.hubVeth);
    return {
      id: labPortId(node.ip),
      name: `${node.name}-${NODE_INTERFACE}`,
      deviceId: labServerId(node.ip),
      networkId: LAB_NETWORK_ID,
      macAddress: (await this.#mac(node)) ?? '',
      status: hubSide?.operState === 'UP' ? 'ACTIVE' : 'DOWN',
      adminStateUp: vmOf(state, node).portAdminUp,
      bindingHost: state.hub.namespace,
      vifType: 'veth',
      fixedIps: [{ ipAddress: node.ip, subnetId: LAB_SUBNET_ID }],
      securityGroupIds: [],
      portSecurityEnabled: false,
    };
  }
}
