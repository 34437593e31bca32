/**
 * What a layered probe of one node reports, and the verdict drawn from it.
 * Pure: the adapters in src/probe fill these in.
 */

export type Layer = 'L2' | 'L3' | 'L4' | 'L7';
export const LAYERS: readonly Layer[] = ['L2', 'L3', 'L4', 'L7'];

/** `skipped` never counts as a failure: the layer could not be tested here. */
export type LayerStatus = 'ok' | 'failed' | 'skipped';
export const LAYER_STATUSES: readonly LayerStatus[] = ['ok', 'failed', 'skipped'];

/** The kernel's neighbour states as `ip -j neigh` prints them. */
export const NEIGHBOUR_STATES = [
  'REACHABLE',
  'STALE',
  'DELAY',
  'PROBE',
  'INCOMPLETE',
  'FAILED',
  'PERMANENT',
  'NOARP',
  'NONE',
] as const;
export type NeighbourState = (typeof NEIGHBOUR_STATES)[number];

export interface LayerResult {
  readonly layer: Layer;
  readonly status: LayerStatus;
  /** Milliseconds the layer's check took to succeed; null unless `ok`. */
  readonly latencyMs: number | null;
  /** The command an SRE would type for the same check, e.g. `ping -c 1 -W 3 10.62.0.30`. */
  readonly command: string;
  /** The raw outcome in the words an SRE knows: `Destination Host Unreachable`, `ECONNREFUSED`. */
  readonly detail: string;
  /** L2 only: what the kernel's neighbour table said, reported beside the active ARP result. */
  readonly neighbourState?: NeighbourState;
}

export interface ProbeResult {
  readonly target: string;
  readonly port: number;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly layers: readonly LayerResult[];
  readonly verdict: ProbeVerdict;
}

export interface ProbeVerdict {
  readonly healthy: boolean;
  /** The lowest layer that failed, or null when none did. */
  readonly failedLayer: Layer | null;
  readonly summary: string;
}

/**
 * The verdict of a probe is its lowest failing layer.
 * - A skipped layer is neither healthy nor failed evidence.
 * - Healthy means no layer failed and at least one passed.
 */
export function probeVerdict(layers: readonly LayerResult[]): ProbeVerdict {
  const byLayer = [...layers].sort((a, b) => LAYERS.indexOf(a.layer) - LAYERS.indexOf(b.layer));
  const failed = byLayer.find((r) => r.status === 'failed');
  if (failed) {
    return {
      healthy: false,
      failedLayer: failed.layer,
      summary: `${failed.layer} failed: ${failed.detail}`,
    };
  }
  if (!byLayer.some((r) => r.status === 'ok')) {
    return { healthy: false, failedLayer: null, summary: 'no layer could be tested' };
  }
  return { healthy: true, failedLayer: null, summary: 'all tested layers answered' };
}

/** A probe of one target; the Linux adapter and the simulator both implement it. */
export interface Prober {
  probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult>;
}

export interface ProbeTarget {
  /** An IPv4 or IPv6 address, validated before any command sees it. */
  readonly ip: string;
  /** Kubelet port for L4 and L7; 10250 by default. */
  readonly port: number;
  /** Per-layer timeout. */
  readonly timeoutMs: number;
}
