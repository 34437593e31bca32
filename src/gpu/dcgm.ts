/**
 * Reads a DCGM exporter's /metrics page into per-GPU and per-MIG-instance
 * samples. Pure.
 *
 * DCGM marks a value it does not have with a sentinel instead of leaving it
 * out (dcgm_structs.h, "DCGM_BLANK_VALUES"): base + 0 blank, + 1 not found,
 * + 2 not supported, + 3 not permissioned, in three families —
 *   int32 0x7ffffff0 = 2147483632 …
 *   int64 0x7ffffffffffffff0 = 9223372036854775792 …
 *   fp64  2^47 = 140737488355328.0 …
 * and DCGM's own test is `value >= base`. Exporters have published them as
 * numbers (`9223372036854775794` on NVLink counters of GPUs without NVLink,
 * `140737488355328` for profiling fields during a profiling pause). For the
 * gauges read here (MiB, %, Xid codes) nothing real reaches 0x7ffffff0, so
 * any value there or above is a sentinel: it comes out null, with the reason
 * in `missing`, never as a number.
 */
import {
  gpuMemory,
  type GpuDeviceSample,
  type GpuMemory,
  type GpuSnapshot,
  type MigInstanceSample,
  type MissingReason,
  type MissingValue,
} from './gpu-sample.ts';
import { parsePrometheusText } from './prometheus-text.ts';

export const DCGM_INT32_BLANK = 0x7ffffff0;
export const DCGM_INT64_BLANK = 0x7ffffffffffffff0n;
export const DCGM_FP64_BLANK = 140_737_488_355_328;

export type DcgmSentinel = 'blank' | 'not-found' | 'not-supported' | 'not-permissioned';

const BY_OFFSET: readonly DcgmSentinel[] = [
  'blank',
  'not-found',
  'not-supported',
  'not-permissioned',
];

function byOffset(offset: number): DcgmSentinel {
  return Number.isInteger(offset) && offset >= 0 && offset < 4 ? BY_OFFSET[offset]! : 'blank';
}

/**
 * Which sentinel a printed value is, or null for a real value. Integers are
 * compared exactly (an int64 sentinel does not survive the trip through a
 * double: all four round to 2^63); an int64 sentinel printed in float
 * notation is reported as plain `blank`.
 */
export function dcgmSentinel(raw: string): DcgmSentinel | null {
  const text = raw.trim();
  const value = Number(text);
  if (!Number.isFinite(value)) return null;
  if (/^\d+$/.test(text) && text.length >= 19) {
    const big = BigInt(text);
    if (big >= DCGM_INT64_BLANK) return byOffset(Number(big - DCGM_INT64_BLANK));
  }
  if (value >= 9.2e18) return 'blank';
  if (value >= DCGM_FP64_BLANK) return byOffset(value - DCGM_FP64_BLANK);
  if (value >= DCGM_INT32_BLANK) return byOffset(value - DCGM_INT32_BLANK);
  return null;
}

/** The DCGM fields read here, by exporter metric name. */
export const DCGM_FIELDS = {
  DCGM_FI_DEV_FB_USED: 'usedMiB',
  DCGM_FI_DEV_FB_FREE: 'freeMiB',
  DCGM_FI_DEV_FB_RESERVED: 'reservedMiB',
  DCGM_FI_DEV_FB_TOTAL: 'totalMiB',
  DCGM_FI_DEV_XID_ERRORS: 'lastXid',
  DCGM_FI_DEV_GPU_UTIL: 'utilizationPercent',
} as const;

type FieldKey = (typeof DCGM_FIELDS)[keyof typeof DCGM_FIELDS];

interface Entity {
  readonly gpu: number;
  readonly gi: number | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly values: Partial<Record<FieldKey, number | null>>;
}

const int = (text: string | undefined): number | null =>
  text !== undefined && /^\d+$/.test(text) ? Number(text) : null;

const label = (labels: Readonly<Record<string, string>>, key: string): string | null => {
  const v = labels[key];
  return v === undefined || v === '' ? null : v;
};

function memoryOf(e: Entity): GpuMemory {
  return gpuMemory({
    usedMiB: e.values.usedMiB ?? null,
    freeMiB: e.values.freeMiB ?? null,
    reservedMiB: e.values.reservedMiB ?? null,
    totalMiB: e.values.totalMiB ?? null,
  });
}

/** Sum of the instances' memory; a part is null unless every instance has it. */
function sumMemory(instances: readonly Entity[]): GpuMemory {
  const sum = (key: FieldKey): number | null => {
    let total = 0;
    for (const e of instances) {
      const v = e.values[key];
      if (v === undefined || v === null) return null;
      total += v;
    }
    return total;
  };
  const reserved = instances.some((e) => e.values.reservedMiB !== undefined)
    ? sum('reservedMiB')
    : null;
  return gpuMemory({
    usedMiB: sum('usedMiB'),
    freeMiB: sum('freeMiB'),
    reservedMiB: reserved,
    totalMiB: instances.every((e) => e.values.totalMiB !== undefined) ? sum('totalMiB') : null,
  });
}

/**
 * Parses an exporter page. Rows are grouped by `gpu` and `GPU_I_ID`; when
 * pod mapping repeats a GPU's row per pod, the first value wins. A GPU whose
 * memory DCGM reports only per MIG instance gets the instances' sum, marked
 * `memoryFromInstances`.
 */
export function parseDcgmMetrics(text: string): GpuSnapshot {
  const { samples, invalidLines } = parsePrometheusText(text);
  const entities = new Map<string, Entity>();
  const missing: MissingValue[] = [];
  const errors: string[] = invalidLines.map((n) => `line ${n} is not a Prometheus sample`);
  let hostname: string | null = null;

  for (const s of samples) {
    const field = (DCGM_FIELDS as Readonly<Record<string, FieldKey>>)[s.name];
    if (field === undefined) continue;
    const gpu = int(s.labels.gpu);
    if (gpu === null) {
      errors.push(`${s.name} without a gpu label`);
      continue;
    }
    hostname ??= label(s.labels, 'Hostname');
    const gi = int(s.labels.GPU_I_ID);
    const key = `${gpu}/${gi ?? ''}`;
    let entity = entities.get(key);
    if (!entity) {
      entity = { gpu, gi, labels: s.labels, values: {} };
      entities.set(key, entity);
    }
    if (entity.values[field] !== undefined && entity.values[field] !== null) continue;
    const entityName = gi === null ? `gpu ${gpu}` : `gpu ${gpu} / GI ${gi}`;
    const sentinel = dcgmSentinel(s.raw);
    let reason: MissingReason | null = sentinel;
    if (reason === null && (!Number.isFinite(s.value) || s.value < 0)) reason = 'not-a-number';
    if (reason !== null) {
      entity.values[field] = null;
      missing.push({ entity: entityName, field: s.name, reason, raw: s.raw });
    } else {
      entity.values[field] = s.value;
    }
  }

  const all = [...entities.values()].sort((a, b) => a.gpu - b.gpu || (a.gi ?? -1) - (b.gi ?? -1));
  const instancesOf = (gpu: number): Entity[] => all.filter((e) => e.gpu === gpu && e.gi !== null);
  const gpuIndexes = [...new Set(all.map((e) => e.gpu))];

  const gpus: GpuDeviceSample[] = gpuIndexes.map((index) => {
    const own = all.find((e) => e.gpu === index && e.gi === null);
    const instances = instancesOf(index);
    const labels = (own ?? instances[0])!.labels;
    const fromInstances =
      instances.length > 0 && (own === undefined || own.values.usedMiB === undefined);
    return {
      index,
      uuid: label(labels, 'UUID'),
      model: label(labels, 'modelName'),
      device: label(labels, 'device'),
      pciBusId: label(labels, 'pci_bus_id'),
      memory: own !== undefined && !fromInstances ? memoryOf(own) : sumMemory(instances),
      utilizationPercent: own?.values.utilizationPercent ?? null,
      lastXid: own?.values.lastXid ?? null,
      driverVersion: label(labels, 'DCGM_FI_DRIVER_VERSION'),
      migEnabled: instances.length > 0,
      memoryFromInstances: fromInstances,
    };
  });

  const instances: MigInstanceSample[] = all
    .filter((e) => e.gi !== null)
    .map((e) => ({
      gpu: e.gpu,
      gpuUuid: label(e.labels, 'UUID'),
      gpuInstanceId: e.gi!,
      profile: label(e.labels, 'GPU_I_PROFILE'),
      memory: memoryOf(e),
      lastXid: e.values.lastXid ?? null,
      profileId: null,
      placement: null,
    }));

  return { source: 'dcgm', hostname, gpus, instances, missing, errors };
}
