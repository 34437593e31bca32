/**
 * A lab node's power, as its hypervisor would act on it: going down (the
 * guest's processes stop, its link drops) and booting (every layer restored,
 * the boot banner on the console). Shared by the lab cloud (`lab cloud`,
 * `--cloud lab`), the `power-off` fault and the lab hypervisor that applies
 * Nova's actions, so a node goes down and comes back the same way whoever
 * asked. The VM record's transitions are pure, in vm.ts.
 */
import { restoreNode } from './faults.ts';
import { setLink } from './netns.ts';
import { appendKernelLog, stopNodeProcesses } from './node-processes.ts';
import type { LabNodeState, LabState } from './state.ts';
import { NODE_INTERFACE } from './topology.ts';

/** What a guest's console prints as it boots. */
export const BOOT_LINES: readonly string[] = [
  'Linux version 6.1.0-lab (nodewarden lab) #1 SMP PREEMPT_DYNAMIC',
  'Command line: BOOT_IMAGE=/vmlinuz root=LABEL=cloudimg-rootfs ro console=ttyS0',
];

/** What a guest's console prints as it shuts down cleanly (ACPI: a soft reboot, os-stop). */
export const SHUTDOWN_LINES: readonly string[] = [
  'systemd-shutdown[1]: Syncing filesystems and block devices.',
  'reboot: Restarting system',
];

/**
 * Takes the node down: `graceMs` for its processes to exit (0: a power cut),
 * then eth0 down. A clean shutdown (`clean`, on a guest whose kernel still
 * runs) first prints the shutdown lines on its console. Returns the node with
 * no stand-in pid; the caller records the VM's new state.
 */
export async function haltNode(
  state: LabState,
  node: LabNodeState,
  graceMs: number,
  clean: boolean,
): Promise<LabNodeState> {
  if (clean) await appendKernelLog(state.dir, node, SHUTDOWN_LINES);
  await stopNodeProcesses(node, graceMs);
  await setLink(node.namespace, NODE_INTERFACE, 'down');
  return { ...node, kubelet: { ...node.kubelet, pid: null } };
}

/**
 * Boots the node: every layer restored as `lab heal` does (link, stand-in,
 * agent, GPU simulator; every fault cleared; the VM's task cleared), then the
 * boot banner. `wipeConsole`: the console of the new boot starts here (a
 * hard reboot or a start restarts the domain, which truncates its console).
 */
export async function bootNode(
  state: LabState,
  node: LabNodeState,
  wipeConsole: boolean,
): Promise<LabNodeState> {
  const { node: next } = await restoreNode(state, node, new Date(), wipeConsole);
  await appendKernelLog(state.dir, node, BOOT_LINES);
  return next;
}
