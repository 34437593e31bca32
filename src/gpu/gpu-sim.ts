/**
 * A tiny DCGM exporter for the lab and the tests: an HTTP server that serves
 * DCGM-format metrics (`/metrics`, port 9400 by default, like dcgm-exporter)
 * for simulated GPUs and MIG instances whose framebuffer use follows a
 * script — `set(%)`, `ramp(from%, to%, overMs)` — so the lab can replay the
 * seed's 0% → 45.5% jump on its MIG node. It can also raise an Xid, publish
 * DCGM's blank sentinels, and hang (accept, never answer) like a wedged
 * exporter.
 *
 * A MIG-enabled GPU is published the way dcgm-exporter does: memory rows per
 * GPU instance (labels `GPU_I_PROFILE`, `GPU_I_ID`) and none for the GPU.
 * Control over HTTP (`POST /sim/set?gpu=0&gi=7&percent=45.5`, `/sim/ramp`,
 * `/sim/xid`, `/sim/hang`) lets a lab process drive a simulator running in
 * a node's namespace.
 */
import { readFileSync, statSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { systemClock, type Clock } from '../core/clock.ts';
import { badInput, describeError, NodeWardenError } from '../core/errors.ts';
import { DCGM_FP64_BLANK, DCGM_INT32_BLANK, DCGM_INT64_BLANK, type DcgmSentinel } from './dcgm.ts';
import {
  checkPercent,
  deviceKey,
  EMPTY_GPU_CONTROL,
  memoryPercentAt,
  parseGpuControl,
  type DeviceControl,
  type GpuControl,
  type MemoryScript,
} from './gpu-control.ts';
import { escapeLabelValue } from './prometheus-text.ts';

export interface SimMigSpec {
  readonly gpuInstanceId: number;
  /** e.g. `1g.10gb`. */
  readonly profile: string;
  readonly totalMiB: number;
}

export interface SimGpuSpec {
  readonly index: number;
  readonly uuid: string;
  readonly model: string;
  readonly pciBusId: string;
  readonly totalMiB: number;
  readonly reservedMiB?: number;
  /** MIG instances; when present the GPU has no memory rows of its own. */
  readonly mig?: readonly SimMigSpec[];
}

export interface GpuSimOptions {
  readonly gpus: readonly SimGpuSpec[];
  /** The `Hostname` label. */
  readonly hostname: string;
  readonly driverVersion?: string;
  /** Default 127.0.0.1 (a lab node binds its own address). */
  readonly host?: string;
  /** Default 9400; 0 picks a free port. */
  readonly port?: number;
  readonly clock?: Clock;
  /** Called before each scrape is answered (the process reloads its control file here). */
  readonly beforeScrape?: (sim: GpuSimulator) => void;
}

/** The seed's MIG node: one A100 80GB split into seven 1g.10gb instances (GI 7–13). */
export const SEED_MIG_NODE_GPUS: readonly SimGpuSpec[] = [
  {
    index: 0,
    uuid: 'GPU-5e2f8b1c-3a7d-4e9b-8c21-6f0a9d3b7e45',
    model: 'NVIDIA A100-SXM4-80GB',
    pciBusId: '00000000:3B:00.0',
    totalMiB: 81_920,
    reservedMiB: 559,
    mig: [7, 8, 9, 10, 11, 12, 13].map((gpuInstanceId) => ({
      gpuInstanceId,
      profile: '1g.10gb',
      totalMiB: 9_984,
    })),
  },
];

/** Two H100 80GB HBM3 without MIG, for a plain GPU node. */
export const H100_NODE_GPUS: readonly SimGpuSpec[] = [0, 1].map((index) => ({
  index,
  uuid:
    index === 0
      ? 'GPU-9b1d6c2e-74a0-5f3b-e2c8-1a4f0d7b3e91'
      : 'GPU-0c8e3f5a-2b6d-4e71-9a0c-8d5f2e1b6a37',
  model: 'NVIDIA H100 80GB HBM3',
  pciBusId: index === 0 ? '00000000:18:00.0' : '00000000:2A:00.0',
  totalMiB: 81_559,
  reservedMiB: 553,
}));

export const GPU_SIM_PRESETS: Readonly<Record<string, readonly SimGpuSpec[]>> = {
  'seed-mig': SEED_MIG_NODE_GPUS,
  h100: H100_NODE_GPUS,
};

type SimField = 'FB_USED' | 'FB_FREE' | 'FB_RESERVED' | 'XID_ERRORS' | 'GPU_UTIL';

/** Drives one GPU (non-MIG) or one MIG instance. */
export class SimDevice {
  private script: MemoryScript = { from: 0, to: 0, startMs: 0, overMs: 0 };
  private lastXid = 0;
  private utilization = 0;
  private readonly blanks = new Map<SimField, DcgmSentinel>();

  constructor(
    readonly gpu: number,
    readonly gpuInstanceId: number | null,
    readonly totalMiB: number,
    readonly reservedMiB: number,
    private readonly clock: Clock,
  ) {}

  /** Framebuffer use jumps to `percent` of the device's memory now. */
  set(percent: number): void {
    const p = checkPercent('percent', percent);
    this.script = { from: p, to: p, startMs: this.clock.now(), overMs: 0 };
  }

  /** Framebuffer use moves linearly from `from`% to `to`% over `overMs`, starting now, then stays. */
  ramp(from: number, to: number, overMs: number): void {
    if (!Number.isFinite(overMs) || overMs < 0) {
      throw badInput(`ramp duration must be ≥ 0 ms, got ${overMs}`, 'pass milliseconds');
    }
    this.script = {
      from: checkPercent('from', from),
      to: checkPercent('to', to),
      startMs: this.clock.now(),
      overMs,
    };
  }

  /** Follows a control file's script (absolute start time) and Xid. */
  follow(control: DeviceControl): void {
    this.script = control.memory;
    this.lastXid = control.xid;
  }

  /** The last Xid DCGM reports for this device. */
  xid(code: number): void {
    if (!Number.isInteger(code) || code < 0)
      throw badInput(`Xid ${code} is not an Xid`, 'pass a whole number');
    this.lastXid = code;
  }

  utilizationPercent(percent: number): void {
    this.utilization = checkPercent('utilization', percent);
  }

  /** Publish DCGM's sentinel for `field` instead of a value (null restores the value). */
  blank(field: SimField, sentinel: DcgmSentinel | null): void {
    if (sentinel === null) this.blanks.delete(field);
    else this.blanks.set(field, sentinel);
  }

  /** Framebuffer use in percent at the clock's now. */
  /** Framebuffer use in percent at `atMs` (default: the clock's now). */
  usedPercent(atMs = this.clock.now()): number {
    return memoryPercentAt(this.script, atMs);
  }

  usedMiB(atMs = this.clock.now()): number {
    return Math.round((this.usedPercent(atMs) / 100) * this.totalMiB);
  }

  /** The printed value of a field: a number or a sentinel. */
  value(field: SimField, atMs = this.clock.now()): string {
    const sentinel = this.blanks.get(field);
    if (sentinel !== undefined) {
      const offset = ['blank', 'not-found', 'not-supported', 'not-permissioned'].indexOf(sentinel);
      // dcgm-exporter prints int64 fields as integers and fp64 as floats; util is int32 in DCGM.
      if (field === 'GPU_UTIL') return String(DCGM_INT32_BLANK + offset);
      if (field === 'FB_RESERVED') return String(DCGM_FP64_BLANK + offset);
      return (DCGM_INT64_BLANK + BigInt(offset)).toString();
    }
    const used = this.usedMiB(atMs);
    switch (field) {
      case 'FB_USED':
        return String(used);
      case 'FB_FREE':
        return String(Math.max(0, this.totalMiB - this.reservedMiB - used));
      case 'FB_RESERVED':
        return String(this.reservedMiB);
      case 'XID_ERRORS':
        return String(this.lastXid);
      case 'GPU_UTIL':
        return String(Math.round(this.utilization));
    }
  }
}

const HELP: Readonly<Record<SimField, string>> = {
  GPU_UTIL: 'GPU utilization (in %).',
  XID_ERRORS: 'Value of the last XID error encountered.',
  FB_FREE: 'Framebuffer memory free (in MiB).',
  FB_USED: 'Framebuffer memory used (in MiB).',
  FB_RESERVED: 'Framebuffer memory reserved (in MiB).',
};
const ORDER: readonly SimField[] = ['GPU_UTIL', 'XID_ERRORS', 'FB_FREE', 'FB_USED', 'FB_RESERVED'];

export class GpuSimulator {
  private readonly devices = new Map<string, SimDevice>();
  private readonly clock: Clock;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private hanging = false;
  private scrapes = 0;

  constructor(private readonly options: GpuSimOptions) {
    this.clock = options.clock ?? systemClock;
    const seen = new Set<number>();
    for (const gpu of options.gpus) {
      if (seen.has(gpu.index))
        throw badInput(`GPU index ${gpu.index} appears twice`, 'give each GPU its own index');
      seen.add(gpu.index);
      if (gpu.mig && gpu.mig.length > 0) {
        for (const mig of gpu.mig) {
          this.devices.set(
            deviceKey(gpu.index, mig.gpuInstanceId),
            new SimDevice(gpu.index, mig.gpuInstanceId, mig.totalMiB, 0, this.clock),
          );
        }
      } else {
        this.devices.set(
          deviceKey(gpu.index, null),
          new SimDevice(gpu.index, null, gpu.totalMiB, gpu.reservedMiB ?? 0, this.clock),
        );
      }
    }
  }

  /** The device to script: a GPU, or with `gpuInstanceId` one of its MIG instances. */
  device(gpu: number, gpuInstanceId?: number): SimDevice {
    const found = this.devices.get(deviceKey(gpu, gpuInstanceId ?? null));
    if (!found) {
      throw new NodeWardenError(
        'NOT_FOUND',
        `the simulator has no ${gpuInstanceId === undefined ? `GPU ${gpu} without MIG` : `MIG instance GI ${gpuInstanceId} on GPU ${gpu}`}`,
        { hint: `known devices: ${[...this.devices.keys()].join(', ')}` },
      );
    }
    return found;
  }

  /** Keys of every device the simulator publishes (`"0/7"`, `"1"`), in order. */
  deviceKeys(): string[] {
    return [...this.devices.keys()];
  }

  /**
   * Makes the devices follow a control file: listed devices take its script
   * and Xid, unlisted ones go idle (0 %, no Xid), `hang` applies. NOT_FOUND
   * names a device the simulator does not have, and nothing changes.
   */
  applyControl(control: GpuControl): void {
    for (const key of Object.keys(control.devices)) {
      if (!this.devices.has(key)) {
        throw new NodeWardenError('NOT_FOUND', `the simulator has no device ${key}`, {
          hint: `known devices: ${this.deviceKeys().join(', ')}`,
        });
      }
    }
    const idle: DeviceControl = { memory: { from: 0, to: 0, startMs: 0, overMs: 0 }, xid: 0 };
    for (const [key, device] of this.devices) device.follow(control.devices[key] ?? idle);
    this.hanging = control.hang;
  }

  /** Stop answering scrapes (connections stay open), as a wedged exporter does. */
  hang(on: boolean): void {
    this.hanging = on;
  }

  /** Scrapes answered so far. */
  scrapeCount(): number {
    return this.scrapes;
  }

  /** The /metrics page at the clock's now. */
  metrics(): string {
    // One instant for the whole page, so FB_USED + FB_FREE add up during a ramp.
    const atMs = this.clock.now();
    const out: string[] = [];
    const driver = this.options.driverVersion ?? '550.90.07';
    for (const field of ORDER) {
      const rows: string[] = [];
      for (const gpu of this.options.gpus) {
        const migs = gpu.mig ?? [];
        // dcgm-exporter has no GPU utilisation for MIG GPUs, and no reserved row per instance.
        if (migs.length > 0 && (field === 'GPU_UTIL' || field === 'FB_RESERVED')) continue;
        const targets: { device: SimDevice; mig: SimMigSpec | null }[] =
          migs.length > 0
            ? migs.map((m) => ({ device: this.device(gpu.index, m.gpuInstanceId), mig: m }))
            : [{ device: this.device(gpu.index), mig: null }];
        for (const { device, mig } of targets) {
          const labels: [string, string][] = [
            ['gpu', String(gpu.index)],
            ['UUID', gpu.uuid],
            ['pci_bus_id', gpu.pciBusId],
            ['device', `nvidia${gpu.index}`],
            ['modelName', gpu.model],
            ...(mig
              ? ([
                  ['GPU_I_PROFILE', mig.profile],
                  ['GPU_I_ID', String(mig.gpuInstanceId)],
                ] as [string, string][])
              : []),
            ['Hostname', this.options.hostname],
            ['DCGM_FI_DRIVER_VERSION', driver],
          ];
          const text = labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
          rows.push(`DCGM_FI_DEV_${field}{${text}} ${device.value(field, atMs)}`);
        }
      }
      if (rows.length === 0) continue;
      out.push(
        `# HELP DCGM_FI_DEV_${field} ${HELP[field]}`,
        `# TYPE DCGM_FI_DEV_${field} gauge`,
        ...rows,
      );
    }
    return out.join('\n') + '\n';
  }

  /** Listens; resolves with the metrics URL. */
  async start(): Promise<{ port: number; url: string }> {
    if (this.server) throw new NodeWardenError('CONFLICT', 'the GPU simulator is already running');
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new NodeWardenError(
            error.code === 'EADDRINUSE' ? 'CONFLICT' : 'UNAVAILABLE',
            `GPU simulator cannot listen on ${host}:${this.options.port ?? 9400}: ${error.code ?? error.message}`,
            { hint: 'pick a free port with --port', cause: error },
          ),
        ),
      );
      server.listen(this.options.port ?? 9400, host, () => resolve());
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return { port, url: `http://${shownHost}:${port}/metrics` };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://sim');
    if (req.method === 'GET' && url.pathname === '/metrics') {
      this.options.beforeScrape?.(this);
      if (this.hanging) return; // never answer; stop() destroys the socket
      this.scrapes += 1;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(this.metrics());
      return;
    }
    if (req.method === 'POST' && url.pathname.startsWith('/sim/')) {
      try {
        this.control(url);
        res.writeHead(204).end();
      } catch (error) {
        const status = error instanceof NodeWardenError && error.code === 'NOT_FOUND' ? 404 : 400;
        res
          .writeHead(status, { 'content-type': 'text/plain' })
          .end(`${(error as Error).message}\n`);
      }
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }

  /** `/sim/set?gpu=0&gi=7&percent=45.5`, `/sim/ramp?…&from=0&to=45.5&overMs=2000`, `/sim/xid?…&code=79`, `/sim/hang?on=1`. */
  private control(url: URL): void {
    const q = url.searchParams;
    const num = (name: string): number => {
      const text = q.get(name);
      const value = text === null ? Number.NaN : Number(text);
      if (!Number.isFinite(value))
        throw badInput(`${url.pathname}: ${name} is missing or not a number`, `add ${name}=…`);
      return value;
    };
    if (url.pathname === '/sim/hang') {
      this.hang(q.get('on') !== '0');
      return;
    }
    const gi = q.get('gi');
    const device = this.device(num('gpu'), gi === null ? undefined : num('gi'));
    switch (url.pathname) {
      case '/sim/set':
        device.set(num('percent'));
        return;
      case '/sim/ramp':
        device.ramp(num('from'), num('to'), num('overMs'));
        return;
      case '/sim/xid':
        device.xid(num('code'));
        return;
      default:
        throw new NodeWardenError('NOT_FOUND', `no control ${url.pathname}`, {
          hint: 'use /sim/set, /sim/ramp, /sim/xid or /sim/hang',
        });
    }
  }
}

export interface GpuSimProcessOptions extends GpuSimOptions {
  /** Written once listening (the lab's "it is up" signal), removed on exit. */
  readonly pidFile: string | null;
  /** A control file (`src/gpu/gpu-control.ts`) re-read when it changes, before each scrape. */
  readonly controlFile: string | null;
}

/**
 * Arguments of the simulator as a process (`node dist/gpu/gpu-sim.js`):
 * `--preset seed-mig|h100 --hostname <node> [--host 127.0.0.1] [--port 9400] [--pid-file <path>]
 * [--control-file <path>]`.
 */
export function parseGpuSimArgs(argv: readonly string[]): GpuSimProcessOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        preset: { type: 'string', default: 'seed-mig' },
        hostname: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '9400' },
        'pid-file': { type: 'string' },
        'control-file': { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new NodeWardenError('BAD_INPUT', describeError(error), {
      hint: 'usage: gpu-sim --preset seed-mig|h100 --hostname <node> [--host 127.0.0.1] [--port 9400] [--pid-file <path>] [--control-file <path>]',
      cause: error,
    });
  }
  const gpus = GPU_SIM_PRESETS[values.preset];
  if (!gpus) {
    throw badInput(
      `--preset ${values.preset} is not a preset`,
      `use one of ${Object.keys(GPU_SIM_PRESETS).join(', ')}`,
    );
  }
  if (!values.hostname)
    throw badInput('--hostname is required', 'pass the node name, the Hostname label');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw badInput(`--port ${values.port} is not a port`, 'use 0–65535 (9400 is dcgm-exporter’s)');
  }
  return {
    gpus,
    hostname: values.hostname,
    host: values.host,
    port,
    pidFile: values['pid-file'] ?? null,
    controlFile: values['control-file'] ?? null,
  };
}

/**
 * A `beforeScrape` hook that applies `path` whenever its size or mtime
 * changed. A missing file means idle devices; a broken one is reported once
 * on stderr and the last good control stays (the exporter keeps serving).
 */
export function followControlFile(
  path: string,
  report: (line: string) => void,
): (sim: GpuSimulator) => void {
  let seen = '';
  return (sim) => {
    let text: string | null = null;
    let signature = 'absent';
    try {
      const info = statSync(path);
      signature = `${info.size}:${info.mtimeMs}`;
      if (signature !== seen) text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        if (seen !== 'error') report(`cannot read ${path}: ${describeError(error)}`);
        seen = 'error';
        return;
      }
    }
    if (signature === seen) return;
    seen = signature;
    try {
      sim.applyControl(text === null ? EMPTY_GPU_CONTROL : parseGpuControl(text, path));
    } catch (error) {
      report(`${describeError(error)}; keeping the previous script`);
    }
  };
}

/** The process entry: listen, print the URL, write the pid file; stop on SIGTERM/SIGINT. */
export async function main(argv: readonly string[]): Promise<void> {
  const parsed = parseGpuSimArgs(argv);
  const report = (line: string): void => void process.stderr.write(`gpu-sim: ${line}\n`);
  const options: GpuSimProcessOptions =
    parsed.controlFile === null
      ? parsed
      : { ...parsed, beforeScrape: followControlFile(parsed.controlFile, report) };
  const sim = new GpuSimulator(options);
  const { url } = await sim.start();
  process.stdout.write(`gpu-sim: serving ${url}\n`);
  if (options.pidFile !== null) {
    await writeFile(`${options.pidFile}.tmp`, `${process.pid}\n`);
    await rename(`${options.pidFile}.tmp`, options.pidFile);
  }
  const stop = (): void => {
    void sim
      .stop()
      .then(() => (options.pidFile === null ? undefined : rm(options.pidFile, { force: true })))
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    const hint = error instanceof NodeWardenError && error.hint ? ` (${error.hint})` : '';
    process.stderr.write(`gpu-sim: ${describeError(error)}${hint}\n`);
    process.exit(error instanceof NodeWardenError && error.code === 'BAD_INPUT' ? 2 : 1);
  });
}
