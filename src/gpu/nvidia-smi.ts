/**
 * Reads nvidia-smi's output. Pure; `gpu-sampler.ts` runs the commands.
 *
 * The query is
 *   nvidia-smi --query-gpu=index,uuid,name,memory.used,memory.total,memory.reserved,utilization.gpu,driver_version
 *              --format=csv,noheader,nounits
 * one GPU per line, cells separated by ", ", numbers in MiB and %. A value
 * the driver cannot give is printed in brackets — `[N/A]` (e.g.
 * utilization.gpu with MIG enabled), `[Not Supported]`, `[Unknown Error]`,
 * `[GPU is lost]` — and comes out null with its reason in `missing`. Lines
 * that are not rows (`Unable to determine the device handle for GPU…: GPU is
 * lost.  Reboot the system to recover this GPU`) are kept in `errors`.
 */
import {
  gpuMemory,
  type GpuDeviceSample,
  type GpuSnapshot,
  type MigInstanceSample,
  type MissingReason,
  type MissingValue,
} from './gpu-sample.ts';

export const NVIDIA_SMI_FIELDS = [
  'index',
  'uuid',
  'name',
  'memory.used',
  'memory.total',
  'memory.reserved',
  'utilization.gpu',
  'driver_version',
] as const;

export type NvidiaSmiField = (typeof NVIDIA_SMI_FIELDS)[number];

/** The query's arguments, for the given fields (drivers before R510 lack memory.reserved). */
export function nvidiaSmiQueryArgs(
  fields: readonly NvidiaSmiField[] = NVIDIA_SMI_FIELDS,
): string[] {
  return [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits'];
}

/** nvidia-smi's answer when a field is unknown to this driver: `Field "memory.reserved" is not a valid field to query.` */
export function unknownQueryField(output: string): string | null {
  return /Field "([^"]+)" is not a valid field to query/.exec(output)?.[1] ?? null;
}

function missingReason(cell: string): MissingReason {
  const text = cell.toLowerCase();
  if (text.includes('not supported')) return 'not-supported';
  if (text.includes('insufficient permissions')) return 'not-permissioned';
  if (text.includes('n/a')) return 'not-available';
  return 'error';
}

/** Parses the CSV rows of the query above (stdout and stderr together is fine). */
export function parseNvidiaSmiQuery(
  output: string,
  fields: readonly NvidiaSmiField[] = NVIDIA_SMI_FIELDS,
): GpuSnapshot {
  const gpus: GpuDeviceSample[] = [];
  const missing: MissingValue[] = [];
  const errors: string[] = [];
  for (const rawLine of output.split('\n')) {
    const line = rawLine.trim();
    if (line === '') continue;
    const cells = line.split(', ');
    const indexCell = cells[fields.indexOf('index')];
    if (cells.length !== fields.length || indexCell === undefined || !/^\d+$/.test(indexCell)) {
      errors.push(line);
      continue;
    }
    const index = Number(indexCell);
    const text = (field: NvidiaSmiField): string | null => {
      const at = fields.indexOf(field);
      if (at < 0) return null;
      const cell = cells[at]!.trim();
      if (cell.startsWith('[') || cell === 'N/A') {
        missing.push({ entity: `gpu ${index}`, field, reason: missingReason(cell), raw: cell });
        return null;
      }
      return cell;
    };
    const number = (field: NvidiaSmiField): number | null => {
      const cell = text(field);
      if (cell === null) return null;
      const value = Number(cell);
      if (!Number.isFinite(value) || value < 0 || !/^[\d.]+$/.test(cell)) {
        missing.push({ entity: `gpu ${index}`, field, reason: 'not-a-number', raw: cell });
        return null;
      }
      return value;
    };
    gpus.push({
      index,
      uuid: text('uuid'),
      model: text('name'),
      device: null,
      pciBusId: null,
      memory: gpuMemory({
        usedMiB: number('memory.used'),
        freeMiB: null,
        reservedMiB: number('memory.reserved'),
        totalMiB: number('memory.total'),
      }),
      utilizationPercent: number('utilization.gpu'),
      lastXid: null,
      driverVersion: text('driver_version'),
      migEnabled: false,
      memoryFromInstances: false,
    });
  }
  return { source: 'nvidia-smi', hostname: null, gpus, instances: [], missing, errors };
}

/** A GPU instance as `nvidia-smi mig -lgi` lists it. */
export interface MigGpuInstance {
  readonly gpu: number;
  /** e.g. `1g.10gb` (the `MIG ` prefix dropped). */
  readonly profile: string;
  readonly profileId: number;
  readonly gpuInstanceId: number;
  /** `start:size` in memory slices. */
  readonly placement: string;
}

/**
 * Parses `nvidia-smi mig -lgi`:
 *   |   0  MIG 1g.10gb         19        7          0:1     |
 * `No MIG-enabled devices found.` (MIG off on every GPU) is an empty list.
 */
export function parseMigGpuInstances(output: string): MigGpuInstance[] {
  const out: MigGpuInstance[] = [];
  const row = /^\|\s+(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+:\d+)\s+\|$/;
  for (const line of output.split('\n')) {
    const m = row.exec(line.trim());
    if (!m) continue;
    out.push({
      gpu: Number(m[1]),
      profile: m[2]!,
      profileId: Number(m[3]),
      gpuInstanceId: Number(m[4]),
      placement: m[5]!,
    });
  }
  return out;
}

/**
 * The query's snapshot with `mig -lgi`'s instances attached. nvidia-smi
 * reports no per-instance memory, so instance memory is null (DCGM has it);
 * the GPU-level memory is the whole GPU's.
 */
export function withMigInstances(
  snapshot: GpuSnapshot,
  instances: readonly MigGpuInstance[],
): GpuSnapshot {
  const byGpu = new Set(instances.map((i) => i.gpu));
  const samples: MigInstanceSample[] = instances.map((i) => ({
    gpu: i.gpu,
    gpuUuid: snapshot.gpus.find((g) => g.index === i.gpu)?.uuid ?? null,
    gpuInstanceId: i.gpuInstanceId,
    profile: i.profile,
    memory: gpuMemory({ usedMiB: null, freeMiB: null, reservedMiB: null, totalMiB: null }),
    lastXid: null,
    profileId: i.profileId,
    placement: i.placement,
  }));
  return {
    ...snapshot,
    gpus: snapshot.gpus.map((g) => ({ ...g, migEnabled: byGpu.has(g.index) })),
    instances: samples,
  };
}
