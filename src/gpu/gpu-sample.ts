/**
 * What a GPU reader reports, whichever source it read (DCGM exporter or
 * nvidia-smi): per-GPU and per-MIG-instance memory, the last Xid, and — just
 * as important — which values were missing and why. A value the source did
 * not have is null and listed in `missing`; it is never a number.
 */

export interface GpuMemory {
  readonly usedMiB: number | null;
  readonly freeMiB: number | null;
  /** Held by the driver/firmware, not usable by applications. */
  readonly reservedMiB: number | null;
  readonly totalMiB: number | null;
  /** usedMiB / totalMiB × 100; null unless both are known and total > 0. */
  readonly usedPercent: number | null;
}

export interface GpuDeviceSample {
  readonly index: number;
  readonly uuid: string | null;
  readonly model: string | null;
  /** Device node name, e.g. `nvidia0`. */
  readonly device: string | null;
  readonly pciBusId: string | null;
  readonly memory: GpuMemory;
  readonly utilizationPercent: number | null;
  /** The last Xid the source saw (DCGM_FI_DEV_XID_ERRORS); 0 means none. */
  readonly lastXid: number | null;
  readonly driverVersion: string | null;
  /** The GPU is partitioned into MIG instances (they are listed in `instances`). */
  readonly migEnabled: boolean;
  /**
   * `memory` is the sum over the GPU's MIG instances because the source has
   * no GPU-level row (DCGM in MIG mode reports instances only).
   */
  readonly memoryFromInstances: boolean;
}

export interface MigInstanceSample {
  readonly gpu: number;
  readonly gpuUuid: string | null;
  /** GPU instance id (`GPU_I_ID`, the Xid line's `GPU-I:`). */
  readonly gpuInstanceId: number;
  /** e.g. `1g.10gb`. */
  readonly profile: string | null;
  readonly memory: GpuMemory;
  readonly lastXid: number | null;
  /** nvidia-smi `mig -lgi` only: profile id and placement. */
  readonly profileId: number | null;
  readonly placement: string | null;
}

export type MissingReason =
  | 'blank'
  | 'not-found'
  | 'not-supported'
  | 'not-permissioned'
  | 'not-available'
  | 'not-a-number'
  | 'error';

/** A value the source did not give us, and the source's own reason. */
export interface MissingValue {
  /** `gpu 0`, `gpu 0 / GI 7`. */
  readonly entity: string;
  /** The source's field name, e.g. `DCGM_FI_DEV_FB_RESERVED`, `memory.reserved`. */
  readonly field: string;
  readonly reason: MissingReason;
  /** What the source printed, e.g. `9223372036854775794`, `[Not Supported]`. */
  readonly raw: string;
}

export interface GpuSnapshot {
  readonly source: 'dcgm' | 'nvidia-smi';
  readonly hostname: string | null;
  readonly gpus: readonly GpuDeviceSample[];
  readonly instances: readonly MigInstanceSample[];
  readonly missing: readonly MissingValue[];
  /** Lines the source printed about GPUs it could not read (`GPU is lost. Reboot the system…`). */
  readonly errors: readonly string[];
}

/** Fills in what the parts imply: total from used + free + reserved, the used percentage. */
export function gpuMemory(parts: {
  usedMiB: number | null;
  freeMiB: number | null;
  reservedMiB: number | null;
  totalMiB: number | null;
}): GpuMemory {
  const { usedMiB, reservedMiB } = parts;
  let { freeMiB, totalMiB } = parts;
  if (totalMiB === null && usedMiB !== null && freeMiB !== null) {
    totalMiB = usedMiB + freeMiB + (reservedMiB ?? 0);
  }
  if (freeMiB === null && totalMiB !== null && usedMiB !== null) {
    freeMiB = Math.max(0, totalMiB - usedMiB - (reservedMiB ?? 0));
  }
  const usedPercent =
    usedMiB !== null && totalMiB !== null && totalMiB > 0 ? (usedMiB / totalMiB) * 100 : null;
  return { usedMiB, freeMiB, reservedMiB, totalMiB, usedPercent };
}
