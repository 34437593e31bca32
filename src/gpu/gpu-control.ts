/**
 * The GPU simulator's control file: what a lab command (`lab gpu <node> ramp
 * 0 45.5 --over 60s`) writes and the simulator process in the node's
 * namespace follows. A file rather than a network call because the writer
 * lives in the root namespace, which has no route into the lab, and because
 * a file survives a simulator restart: a restarted simulator continues the
 * ramp where wall-clock time puts it.
 *
 * Ramps carry their absolute start (epoch ms), so the reader and every other
 * reader (`lab gpu status`, a fault that waits for a threshold) compute the
 * same percentage at the same instant. Pure: parsing and arithmetic only.
 */
import { badInput, describeError, NodeWardenError } from '../core/errors.ts';

export const GPU_CONTROL_VERSION = 1;

/** Framebuffer use of one device: `from`% at `startMs`, linearly to `to`% at `startMs + overMs`, then `to`%. */
export interface MemoryScript {
  readonly from: number;
  readonly to: number;
  /** Epoch milliseconds. */
  readonly startMs: number;
  readonly overMs: number;
}

export interface DeviceControl {
  readonly memory: MemoryScript;
  /** The last Xid DCGM reports for the device (0: none). */
  readonly xid: number;
}

export interface GpuControl {
  readonly version: typeof GPU_CONTROL_VERSION;
  /** Keyed by device: `"0"` for a GPU without MIG, `"0/7"` for GPU 0's MIG instance GI 7. */
  readonly devices: Readonly<Record<string, DeviceControl>>;
  /** Accept scrapes and never answer, as a wedged exporter does. */
  readonly hang: boolean;
}

export const EMPTY_GPU_CONTROL: GpuControl = {
  version: GPU_CONTROL_VERSION,
  devices: {},
  hang: false,
};

/** The key of a device in `GpuControl.devices`. */
export function deviceKey(gpu: number, gpuInstanceId: number | null): string {
  return gpuInstanceId === null ? String(gpu) : `${gpu}/${gpuInstanceId}`;
}

/** Framebuffer use in percent at `nowMs`. */
export function memoryPercentAt(script: MemoryScript, nowMs: number): number {
  const elapsed = nowMs - script.startMs;
  if (script.overMs === 0 || elapsed >= script.overMs) return script.to;
  if (elapsed <= 0) return script.from;
  return script.from + ((script.to - script.from) * elapsed) / script.overMs;
}

/** A percentage 0–100, or BAD_INPUT naming `what`. */
export function checkPercent(what: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > 100) {
    throw badInput(`${what} must be a percentage from 0 to 100, got ${value}`, 'pass 0–100');
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function finite(where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new Error(`${where} is not a number`);
  return value;
}

/**
 * Reads a control file's text. CONFLICT with the file's path and the first
 * thing wrong, so a hand-edited file that the simulator ignores says why.
 */
export function parseGpuControl(text: string, path: string): GpuControl {
  try {
    const raw: unknown = JSON.parse(text);
    if (!isRecord(raw)) throw new Error('not a JSON object');
    if (raw['version'] !== GPU_CONTROL_VERSION)
      throw new Error(`version ${String(raw['version'])} is not ${GPU_CONTROL_VERSION}`);
    if (!isRecord(raw['devices'])) throw new Error('devices is not an object');
    const devices: Record<string, DeviceControl> = {};
    for (const [key, value] of Object.entries(raw['devices'])) {
      if (!/^\d+(\/\d+)?$/.test(key))
        throw new Error(`device key "${key}" is not "gpu" or "gpu/gi"`);
      if (!isRecord(value) || !isRecord(value['memory']))
        throw new Error(`devices.${key}.memory is missing`);
      const m = value['memory'];
      const memory: MemoryScript = {
        from: checkPercent(
          `devices.${key}.memory.from`,
          finite(`devices.${key}.memory.from`, m['from']),
        ),
        to: checkPercent(`devices.${key}.memory.to`, finite(`devices.${key}.memory.to`, m['to'])),
        startMs: finite(`devices.${key}.memory.startMs`, m['startMs']),
        overMs: finite(`devices.${key}.memory.overMs`, m['overMs']),
      };
      if (memory.overMs < 0) throw new Error(`devices.${key}.memory.overMs is negative`);
      const xid = value['xid'] === undefined ? 0 : finite(`devices.${key}.xid`, value['xid']);
      if (!Number.isInteger(xid) || xid < 0) throw new Error(`devices.${key}.xid is not an Xid`);
      devices[key] = { memory, xid };
    }
    return { version: GPU_CONTROL_VERSION, devices, hang: raw['hang'] === true };
  } catch (error) {
    throw new NodeWardenError('CONFLICT', `GPU control file ${path}: ${describeError(error)}`, {
      hint: 'rewrite it with nodewarden lab gpu <node> set 0',
      cause: error,
    });
  }
}

/** Parses `60s`, `2m`, `1500ms` or a bare number of seconds into milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) {
    throw badInput(`${flag} ${text} is not a duration`, 'write it like 60s, 2m or 1500ms');
  }
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  return Math.round(value * (unit === 'ms' ? 1 : unit === 's' ? 1_000 : 60_000));
}
