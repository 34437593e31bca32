import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NodeWardenError, badInput, describeError } from '../core/errors.ts';
import { parseDcgmMetrics } from '../gpu/dcgm.ts';
import {
  checkPercent,
  deviceKey,
  EMPTY_GPU_CONTROL,
  memoryPercentAt,
  parseGpuControl,
  type DeviceControl,
  type GpuControl,
} from '../gpu/gpu-control.ts';
import { GPU_SIM_PRESETS } from '../gpu/gpu-sim.ts';
import { nodeScript, startDaemon } from './daemon.ts';
import { fetchIn } from './netns.ts';
import { isLabProcess, processState, waitListening, type ProcessState } from './standin-process.ts';
import { labPaths, type GpuSimRecord, type LabNodeState } from './state.ts';
import { nodeSuffix, type NodeRole } from './topology.ts';

/**
 * The lab's GPU simulators: one `dist/gpu/gpu-sim.js` per GPU node, inside
 * the node's namespace on 0.0.0.0:9400 — the node's own agent reads it on
 * loopback (as a DaemonSet agent reads a local dcgm-exporter), the hub
 * (Prometheus) over the node's address. `lab gpu` scripts it through a
 * control file, which the simulator re-reads before each scrape.
 */

export const GPU_SIM_PORT = 9400;
const GPU_SIM_SCRIPT = 'gpu/gpu-sim.js';

/** Which preset a node of this role gets; null: no GPU. */
export function gpuPresetFor(role: NodeRole): string | null {
  switch (role) {
    case 'mig':
      return 'seed-mig';
    case 'worker':
      return null;
  }
}

/** The record `lab up` keeps for a GPU node (no pid yet). */
export function gpuSimRecord(
  dir: string,
  node: { name: string; role: NodeRole },
): GpuSimRecord | null {
  const preset = gpuPresetFor(node.role);
  if (preset === null) return null;
  const suffix = nodeSuffix(node.name);
  const paths = labPaths(dir);
  return {
    preset,
    port: GPU_SIM_PORT,
    pid: null,
    pidFile: join(paths.run, `gpu-sim-${suffix}.pid`),
    logFile: join(paths.logs, `gpu-sim-${suffix}.log`),
    controlFile: join(paths.gpu, `${suffix}.json`),
  };
}

/** The URL a node's agent reads its GPU simulator at. */
export const LOCAL_DCGM_URL = `http://127.0.0.1:${GPU_SIM_PORT}/metrics`;

/** Starts the node's simulator and waits until it listens; returns its pid. */
export async function startGpuSim(
  node: LabNodeState,
  gpu: GpuSimRecord,
  waitMs = 20_000,
): Promise<number> {
  await mkdir(dirname(gpu.pidFile), { recursive: true });
  await mkdir(dirname(gpu.controlFile), { recursive: true });
  const argv = nodeScript(
    GPU_SIM_SCRIPT,
    '--preset',
    gpu.preset,
    '--hostname',
    node.name,
    '--host',
    '0.0.0.0',
    '--port',
    String(gpu.port),
    '--pid-file',
    gpu.pidFile,
    '--control-file',
    gpu.controlFile,
  );
  const pid = startDaemon({ argv, logFile: gpu.logFile, namespace: node.namespace });
  await waitListening(pid, gpu.pidFile, gpu.logFile, `GPU simulator of ${node.name}`, waitMs);
  return pid;
}

/** The simulator's pid when it is alive and still the one that writes its pid file, else null. */
export async function liveGpuSimPid(gpu: GpuSimRecord): Promise<number | null> {
  if (gpu.pid === null) return null;
  return (await isLabProcess(gpu.pid, GPU_SIM_SCRIPT, gpu.pidFile)) ? gpu.pid : null;
}

/** The node's GPU record, or NOT_FOUND naming the nodes that have one. */
export function requireGpu(node: LabNodeState, all: readonly LabNodeState[]): GpuSimRecord {
  if (node.gpu) return node.gpu;
  const gpuNodes = all.filter((n) => n.gpu).map((n) => nodeSuffix(n.name));
  throw new NodeWardenError('NOT_FOUND', `${node.name} has no GPU simulator (role ${node.role})`, {
    hint: gpuNodes.length
      ? `GPU nodes in this lab: ${gpuNodes.join(', ')}`
      : 'this lab has no GPU node; lab up makes one for the MIG node',
  });
}

/** The node's control file, or the idle control when none was written yet. */
export async function readGpuControl(gpu: Pick<GpuSimRecord, 'controlFile'>): Promise<GpuControl> {
  const text = await readFile(gpu.controlFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw new NodeWardenError(
      'UNAVAILABLE',
      `cannot read ${gpu.controlFile}: ${error.code ?? error.message}`,
      {
        cause: error,
      },
    );
  });
  return text === null ? EMPTY_GPU_CONTROL : parseGpuControl(text, gpu.controlFile);
}

async function writeGpuControl(
  gpu: Pick<GpuSimRecord, 'controlFile'>,
  control: GpuControl,
): Promise<void> {
  await mkdir(dirname(gpu.controlFile), { recursive: true });
  const temporary = `${gpu.controlFile}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(control, null, 2) + '\n');
  await rename(temporary, gpu.controlFile);
}

/** Device keys of a preset in publication order (`0/7`, … or `0`, `1`). */
export function presetDevices(preset: string): string[] {
  const gpus = GPU_SIM_PRESETS[preset];
  if (!gpus)
    throw badInput(
      `unknown GPU preset ${preset}`,
      `one of ${Object.keys(GPU_SIM_PRESETS).join(', ')}`,
    );
  return gpus.flatMap((g) =>
    g.mig && g.mig.length > 0
      ? g.mig.map((m) => deviceKey(g.index, m.gpuInstanceId))
      : [deviceKey(g.index, null)],
  );
}

/** `--gpu`/`--gi` to a device key of the preset; the first device when neither is given. */
export function pickDevice(preset: string, gpu: number | null, gi: number | null): string {
  const devices = presetDevices(preset);
  if (gpu === null && gi === null) return devices[0] ?? '0';
  const wanted = deviceKey(gpu ?? 0, gi);
  if (devices.includes(wanted)) return wanted;
  // A MIG GPU named without --gi: its first instance.
  const firstInstance = gi === null ? devices.find((d) => d.startsWith(`${gpu ?? 0}/`)) : undefined;
  if (firstInstance !== undefined) return firstInstance;
  throw badInput(
    `the ${preset} simulator has no device ${wanted}`,
    `devices (gpu/gi): ${devices.join(', ')}`,
  );
}

export type GpuAction =
  | { readonly kind: 'set'; readonly percent: number }
  | { readonly kind: 'ramp'; readonly from: number; readonly to: number; readonly overMs: number }
  | { readonly kind: 'xid'; readonly code: number }
  | { readonly kind: 'hang'; readonly on: boolean };

/** The control after `action` on `device`, starting at `nowMs`. Pure. */
export function applyGpuAction(
  control: GpuControl,
  device: string,
  action: GpuAction,
  nowMs: number,
): GpuControl {
  const current: DeviceControl = control.devices[device] ?? {
    memory: { from: 0, to: 0, startMs: 0, overMs: 0 },
    xid: 0,
  };
  let next: DeviceControl;
  switch (action.kind) {
    case 'hang':
      return { ...control, hang: action.on };
    case 'set': {
      const p = checkPercent('percent', action.percent);
      next = { ...current, memory: { from: p, to: p, startMs: nowMs, overMs: 0 } };
      break;
    }
    case 'ramp':
      if (!Number.isFinite(action.overMs) || action.overMs < 0)
        throw badInput(`--over must be ≥ 0, got ${action.overMs} ms`, 'e.g. --over 60s');
      next = {
        ...current,
        memory: {
          from: checkPercent('from', action.from),
          to: checkPercent('to', action.to),
          startMs: nowMs,
          overMs: action.overMs,
        },
      };
      break;
    case 'xid':
      if (!Number.isInteger(action.code) || action.code < 0)
        throw badInput(`Xid ${action.code} is not an Xid`, 'pass a whole number, e.g. 79');
      next = { ...current, xid: action.code };
      break;
  }
  return { ...control, devices: { ...control.devices, [device]: next } };
}

/** Applies `action` to the node's control file (the simulator follows at its next scrape). */
export async function scriptGpu(
  gpu: Pick<GpuSimRecord, 'controlFile'>,
  device: string,
  action: GpuAction,
  nowMs: number,
): Promise<GpuControl> {
  const next = applyGpuAction(await readGpuControl(gpu), device, action, nowMs);
  await writeGpuControl(gpu, next);
  return next;
}

/** Highest scripted framebuffer use of any of the node's devices at `nowMs`, in percent. */
export function scriptedMaxPercent(control: GpuControl, nowMs: number): number {
  return Math.max(
    0,
    ...Object.values(control.devices).map((d) => memoryPercentAt(d.memory, nowMs)),
  );
}

export interface GpuDeviceStatus {
  readonly device: string;
  readonly scriptedPercent: number;
  /** What the exporter served when scraped now, null when it could not be scraped. */
  readonly servedPercent: number | null;
  readonly usedMiB: number | null;
  readonly totalMiB: number | null;
  readonly xid: number;
  readonly script: DeviceControl['memory'] | null;
}

export interface GpuStatus {
  readonly node: string;
  readonly preset: string;
  readonly pid: number | null;
  readonly process: ProcessState | 'not running';
  readonly url: string;
  readonly hang: boolean;
  /** Why the scrape inside the node failed; null when it worked. */
  readonly scrapeError: string | null;
  readonly devices: readonly GpuDeviceStatus[];
}

/**
 * The script and what the exporter really serves: the scrape runs inside the
 * node's namespace on loopback (where the agent reads it), so it works while
 * the node's link is down.
 */
export async function gpuStatus(
  node: LabNodeState,
  gpu: GpuSimRecord,
  clock: () => number = Date.now,
): Promise<GpuStatus> {
  const control = await readGpuControl(gpu);
  const pid = await liveGpuSimPid(gpu);
  const state: ProcessState | 'not running' =
    pid === null ? 'not running' : await processState(pid);
  const url = `http://127.0.0.1:${gpu.port}/metrics`;
  let scrapeError: string | null = null;
  let served: ReturnType<typeof parseDcgmMetrics> | null = null;
  if (pid !== null && state === 'running' && !control.hang) {
    const got = await fetchIn(node.namespace, url, 3_000);
    if (got.ok) {
      try {
        served = parseDcgmMetrics(got.body);
      } catch (error) {
        scrapeError = describeError(error);
      }
    } else {
      scrapeError = got.error;
    }
  } else {
    scrapeError = control.hang ? 'hanging (lab gpu … hang on)' : `simulator ${state}`;
  }
  // Scripted values at the moment the scrape came back, so the two columns agree.
  const nowMs = clock();
  const devices = presetDevices(gpu.preset).map((device): GpuDeviceStatus => {
    const scripted = control.devices[device];
    const [g, gi] = device.split('/').map(Number);
    const sample =
      served === null
        ? null
        : gi === undefined
          ? served.gpus.find((d) => d.index === g)?.memory
          : served.instances.find((i) => i.gpu === g && i.gpuInstanceId === gi)?.memory;
    return {
      device,
      scriptedPercent: scripted ? memoryPercentAt(scripted.memory, nowMs) : 0,
      servedPercent: sample?.usedPercent ?? null,
      usedMiB: sample?.usedMiB ?? null,
      totalMiB: sample?.totalMiB ?? null,
      xid: scripted?.xid ?? 0,
      script: scripted?.memory ?? null,
    };
  });
  return {
    node: node.name,
    preset: gpu.preset,
    pid,
    process: state,
    url: `http://${node.ip}:${gpu.port}/metrics`,
    hang: control.hang,
    scrapeError,
    devices,
  };
}
