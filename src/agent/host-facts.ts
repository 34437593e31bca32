/**
 * What the agent reads about its own host for the last words: the uplink's
 * interface counters (sysfs), and an inventory (kernel, NVIDIA driver and GSP
 * firmware, NIC drivers, OVS/OVN versions). Files are read directly; the few
 * programs (nvidia-smi, ovs-vswitchd, ovn-controller) run through runCommand
 * under a timeout, and a program that is absent is reported as absent.
 * `root` lets tests point /sys and /proc at a fixture tree.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { release, version as kernelBuild, arch } from 'node:os';
import { basename, join } from 'node:path';
import { describeError, NodeWardenError } from '../core/errors.ts';
import { runCommand } from '../host/command.ts';

export interface HostPaths {
  /** Default `/sys`. */
  readonly sys: string;
  /** Default `/proc`. */
  readonly proc: string;
}

export const HOST_PATHS: HostPaths = { sys: '/sys', proc: '/proc' };

/** The counters of /sys/class/net/<dev>/statistics the last words carry. */
export const COUNTERS = [
  'rx_bytes',
  'tx_bytes',
  'rx_packets',
  'tx_packets',
  'rx_errors',
  'tx_errors',
  'rx_dropped',
  'tx_dropped',
  'tx_carrier_errors',
] as const;

/** Overlay interfaces a Kube-OVN node has beside its uplink; read when present. */
export const OVERLAY_INTERFACES = ['genev_sys_6081', 'ovn0', 'br-int'] as const;

export interface InterfaceCounters {
  readonly name: string;
  readonly operstate: string | null;
  readonly carrier: boolean | null;
  readonly mtu: number | null;
  readonly counters: Readonly<Record<string, number>>;
}

async function text(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    // Absent on this host (no such interface, no driver): reported as null by the caller.
    return null;
  }
}

/**
 * The default route (/proc/net/route, destination 00000000): its interface
 * and its gateway (IPv4, the table's little-endian hex turned into dotted
 * form; null for an on-link default route); null when there is none (a lab
 * namespace may route only its subnet).
 */
export async function defaultRoute(
  paths: HostPaths = HOST_PATHS,
): Promise<{ iface: string; gateway: string | null } | null> {
  const table = await text(join(paths.proc, 'net/route'));
  if (table === null) return null;
  for (const line of table.split('\n').slice(1)) {
    const [iface, destination, gateway, , , , , mask] = line.trim().split(/\s+/);
    if (destination === '00000000' && mask === '00000000' && iface !== undefined) {
      return { iface, gateway: routeGateway(gateway) };
    }
  }
  return null;
}

/** `01003E0A` → `10.62.0.1`; null for 0.0.0.0 (on-link) or anything that is not 8 hex digits. */
function routeGateway(hex: string | undefined): string | null {
  if (hex === undefined || !/^[0-9A-Fa-f]{8}$/.test(hex) || /^0{8}$/.test(hex)) return null;
  const octets = [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return octets.join('.');
}

/** The first interface that is up and not loopback, for hosts without a default route. */
export async function firstUpInterface(paths: HostPaths = HOST_PATHS): Promise<string | null> {
  let names: string[];
  try {
    names = (await readdir(join(paths.sys, 'class/net'))).sort();
  } catch {
    return null;
  }
  for (const name of names) {
    if (name === 'lo') continue;
    if ((await text(join(paths.sys, 'class/net', name, 'operstate'))) === 'up') return name;
  }
  return null;
}

const INTERFACE_NAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** Reads one interface's counters; NOT_FOUND when it does not exist. */
export async function readInterface(
  name: string,
  paths: HostPaths = HOST_PATHS,
): Promise<InterfaceCounters> {
  if (!INTERFACE_NAME.test(name)) {
    throw new NodeWardenError('BAD_INPUT', `"${name}" is not an interface name`, {
      hint: 'pass the uplink as ip link shows it, e.g. --uplink ens3',
    });
  }
  const dir = join(paths.sys, 'class/net', name);
  const operstate = await text(join(dir, 'operstate'));
  if (operstate === null) {
    throw new NodeWardenError('NOT_FOUND', `interface ${name} does not exist (${dir})`, {
      hint: 'pass the uplink as ip link shows it, e.g. --uplink ens3',
    });
  }
  const counters: Record<string, number> = {};
  for (const c of COUNTERS) {
    const raw = await text(join(dir, 'statistics', c));
    const value = raw === null ? Number.NaN : Number(raw);
    if (Number.isSafeInteger(value)) counters[c] = value;
  }
  const carrier = await text(join(dir, 'carrier'));
  const mtu = Number((await text(join(dir, 'mtu'))) ?? Number.NaN);
  return {
    name,
    operstate,
    carrier: carrier === '1' ? true : carrier === '0' ? false : null,
    mtu: Number.isInteger(mtu) ? mtu : null,
    counters,
  };
}

/**
 * The uplink plus any overlay interfaces present, and the default route's
 * gateway (the node's gateway: a diagnosis probes it from the node's
 * observers when the node dies); errors are listed, never thrown.
 */
export async function readInterfaces(
  uplink: string | null,
  paths: HostPaths = HOST_PATHS,
): Promise<{
  uplink: string | null;
  gateway: string | null;
  interfaces: InterfaceCounters[];
  errors: string[];
}> {
  const route = await defaultRoute(paths);
  const name = uplink ?? route?.iface ?? (await firstUpInterface(paths));
  const interfaces: InterfaceCounters[] = [];
  const errors: string[] = [];
  const names = [...new Set([...(name === null ? [] : [name]), ...OVERLAY_INTERFACES])];
  for (const n of names) {
    try {
      interfaces.push(await readInterface(n, paths));
    } catch (error) {
      if (n === name) errors.push(describeError(error));
    }
  }
  if (name === null) errors.push('no uplink: no default route and no interface up');
  return { uplink: name, gateway: route?.gateway ?? null, interfaces, errors };
}

export interface Inventory {
  readonly kernel: { readonly release: string; readonly build: string; readonly arch: string };
  readonly nvidia: {
    /** /sys/module/nvidia/version, else the NVRM line of /proc/driver/nvidia/version. */
    readonly driverVersion: string | null;
    readonly nvrm: string | null;
    /** From `nvidia-smi -q` (only with the nvidia-smi source enabled). */
    readonly gspFirmware: readonly string[];
    readonly vbios: readonly string[];
  };
  /** Interface → kernel driver (and its module version when it has one). */
  readonly nicDrivers: Readonly<Record<string, { driver: string; version: string | null }>>;
  /** Loaded modules that matter to a GPU node's network (nvidia*, openvswitch, geneve, NIC drivers). */
  readonly modules: readonly string[];
  readonly ovs: string | null;
  readonly ovn: string | null;
  /** What could not be read, with why. */
  readonly errors: readonly string[];
}

const INTERESTING_MODULE =
  /^(nvidia|nvidia_\w+|openvswitch|geneve|vxlan|mlx5_core|mlx5_ib|ice|i40e|ixgbe|bnxt_en|ena|virtio_net|vfio_pci|nf_conntrack)$/;

/** `ovs-vswitchd (Open vSwitch) 3.1.0` → the first line, or null when absent or hung. */
async function versionOf(
  program: string,
  timeoutMs: number,
  errors: string[],
): Promise<string | null> {
  try {
    const r = await runCommand(program, ['--version'], { timeoutMs });
    if (r.timedOut) {
      errors.push(`${program} --version did not answer within ${timeoutMs} ms`);
      return null;
    }
    return r.code === 0 ? (r.stdout.split('\n')[0]?.trim() ?? null) : null;
  } catch (error) {
    if (!(error instanceof NodeWardenError && error.code === 'MISSING_TOOL')) {
      errors.push(`${program} --version: ${describeError(error)}`);
    }
    return null;
  }
}

export interface InventoryOptions {
  readonly paths?: HostPaths;
  /** Ask nvidia-smi for GSP firmware and VBIOS versions. */
  readonly nvidiaSmi?: string | null;
  readonly timeoutMs?: number;
  readonly interfaces?: readonly string[];
}

/** Reads the inventory; every part that fails is in `errors`, the rest is still reported. */
export async function readInventory(options: InventoryOptions = {}): Promise<Inventory> {
  const paths = options.paths ?? HOST_PATHS;
  const timeoutMs = options.timeoutMs ?? 3_000;
  const errors: string[] = [];
  const nvrm = (await text(join(paths.proc, 'driver/nvidia/version')))?.split('\n')[0] ?? null;
  const driverVersion =
    (await text(join(paths.sys, 'module/nvidia/version'))) ??
    /Kernel Module\s+(?:for\s+\S+\s+)?(\d+\.\d+(?:\.\d+)?)/.exec(nvrm ?? '')?.[1] ??
    null;
  const gspFirmware: string[] = [];
  const vbios: string[] = [];
  if (options.nvidiaSmi) {
    try {
      const r = await runCommand(options.nvidiaSmi, ['-q'], { timeoutMs });
      if (r.timedOut) errors.push(`${options.nvidiaSmi} -q did not answer within ${timeoutMs} ms`);
      for (const m of r.stdout.matchAll(/^\s*GSP Firmware Version\s*:\s*(.+?)\s*$/gm))
        gspFirmware.push(m[1] ?? '');
      for (const m of r.stdout.matchAll(/^\s*VBIOS Version\s*:\s*(.+?)\s*$/gm))
        vbios.push(m[1] ?? '');
    } catch (error) {
      errors.push(`${options.nvidiaSmi} -q: ${describeError(error)}`);
    }
  }
  const nicDrivers: Record<string, { driver: string; version: string | null }> = {};
  for (const name of options.interfaces ?? []) {
    try {
      const driver = basename(await readlink(join(paths.sys, 'class/net', name, 'device/driver')));
      nicDrivers[name] = {
        driver,
        version: await text(join(paths.sys, 'module', driver, 'version')),
      };
    } catch {
      // Virtual interfaces (veth, bridges, the lab's) have no device driver link.
      nicDrivers[name] = { driver: 'virtual', version: null };
    }
  }
  const modulesText = await text(join(paths.proc, 'modules'));
  const modules = (modulesText ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((m) => INTERESTING_MODULE.test(m))
    .sort();
  return {
    kernel: { release: release(), build: kernelBuild(), arch: arch() },
    nvidia: { driverVersion, nvrm, gspFirmware, vbios },
    nicDrivers,
    modules,
    ovs: await versionOf('ovs-vswitchd', timeoutMs, errors),
    ovn: await versionOf('ovn-controller', timeoutMs, errors),
    errors,
  };
}
