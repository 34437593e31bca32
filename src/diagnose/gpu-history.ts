/**
 * GPU memory history of a node for the `gpu` evidence source: a small port
 * (`GpuHistory`) and its adapters — the agent's last words in the store,
 * a Prometheus server scraping the DCGM exporter, Prometheus falling back to
 * the agents, and an in-memory history the demo and tests feed. Every adapter answers null when it holds nothing
 * for the node (the collector records that as `missing`), never zeros.
 */
import type { GpuData, GpuSample, GpuSeries, XidCount } from '../core/evidence.ts';
import { describeError } from '../core/errors.ts';
import type { IncidentStore, JsonValue } from '../store/port.ts';
import type { PrometheusClient, RangeSeries } from '../metrics/prometheus-client.ts';

export interface GpuHistory {
  /** Memory series (and Xid counts) of `node`'s GPUs between the two instants; null when none is known. */
  series(node: string, fromMs: number, toMs: number, signal?: AbortSignal): Promise<GpuData | null>;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

// ── the agent's last words ──────────────────────────────────────────────────

type Loose = Readonly<Record<string, unknown>>;
const obj = (v: unknown): Loose | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : null;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

interface SeriesAcc {
  readonly gpu: string;
  readonly uuid: string | null;
  readonly migInstance: string | null;
  readonly migProfile: string | null;
  readonly points: GpuSample[];
}

function usedPct(memory: unknown): number | null {
  const m = obj(memory);
  if (m === null) return null;
  const pct = num(m['usedPercent']);
  if (pct !== null) return pct;
  const used = num(m['usedMiB']);
  const free = num(m['freeMiB']);
  return used !== null && free !== null && used + free > 0 ? (100 * used) / (used + free) : null;
}

/** Counts each change of a GPU's last Xid to a non-zero value as one Xid event. */
class XidTracker {
  private readonly last = new Map<string, number>();
  private readonly counts = new Map<
    string,
    { gpu: string; xid: number; count: number; lastAt: string }
  >();

  see(gpu: string, xid: number | null, at: string): void {
    if (xid === null) return;
    const before = this.last.get(gpu);
    this.last.set(gpu, xid);
    if (xid === 0 || before === xid) return;
    const key = `${gpu}|${xid}`;
    const entry = this.counts.get(key) ?? { gpu, xid, count: 0, lastAt: at };
    entry.count += 1;
    entry.lastAt = at;
    this.counts.set(key, entry);
  }

  result(): XidCount[] {
    return [...this.counts.values()].sort((a, b) => a.gpu.localeCompare(b.gpu) || a.xid - b.xid);
  }
}

/**
 * Reads the `gpu-samples` blobs an agent pushed as last words. Each blob is
 * one GPU reading in the shape of `GpuSnapshot` (src/gpu/gpu-sample.ts):
 * `gpus[]` with `index`, `uuid`, `memory.usedPercent` (or `usedMiB` and
 * `freeMiB`), `lastXid`, `migEnabled`; `instances[]` with `gpu`,
 * `gpuInstanceId`, `profile`, `memory`. A MIG GPU is charted per instance;
 * fields that are null or absent give no point (never a zero).
 */
export class StoreGpuHistory implements GpuHistory {
  constructor(private readonly store: Pick<IncidentStore, 'lastWords'>) {}

  async series(node: string, fromMs: number, toMs: number): Promise<GpuData | null> {
    const blobs = (await this.store.lastWords(node, new Date(fromMs).toISOString())).filter(
      (b) => b.kind === 'gpu-samples' && Date.parse(b.at) <= toMs,
    );
    if (blobs.length === 0) return null;
    const series = new Map<string, SeriesAcc>();
    const xids = new XidTracker();
    const add = (key: Omit<SeriesAcc, 'points'>, at: string, pct: number | null): void => {
      const id = `${key.gpu}|${key.migInstance ?? ''}`;
      const acc = series.get(id) ?? { ...key, points: [] };
      series.set(id, acc);
      if (pct !== null) acc.points.push({ at, usedPct: round1(pct) });
    };
    for (const blob of blobs) readSnapshot(blob.data, blob.at, add, xids);
    return {
      origin: 'agent',
      series: [...series.values()].filter((s) => s.points.length > 0).sort(bySeries),
      xids: xids.result(),
    };
  }
}

function readSnapshot(
  data: JsonValue,
  at: string,
  add: (key: Omit<SeriesAcc, 'points'>, at: string, pct: number | null) => void,
  xids: XidTracker,
): void {
  const snap = obj(data);
  if (snap === null) return;
  const gpus = Array.isArray(snap['gpus']) ? (snap['gpus'] as unknown[]) : [];
  const instances = Array.isArray(snap['instances']) ? (snap['instances'] as unknown[]) : [];
  for (const g of gpus.map(obj)) {
    if (g === null) continue;
    const index = num(g['index']);
    if (index === null) continue;
    const gpu = String(index);
    xids.see(gpu, num(g['lastXid']), at);
    if (g['migEnabled'] === true) continue;
    add(
      { gpu, uuid: str(g['uuid']), migInstance: null, migProfile: null },
      at,
      usedPct(g['memory']),
    );
  }
  for (const i of instances.map(obj)) {
    if (i === null) continue;
    const index = num(i['gpu']);
    const gi = num(i['gpuInstanceId']);
    if (index === null || gi === null) continue;
    add(
      {
        gpu: String(index),
        uuid: str(i['gpuUuid']),
        migInstance: String(gi),
        migProfile: str(i['profile']),
      },
      at,
      usedPct(i['memory']),
    );
  }
}

function bySeries(a: GpuSeries, b: GpuSeries): number {
  return (
    a.gpu.localeCompare(b.gpu, 'en', { numeric: true }) ||
    (a.migInstance ?? '').localeCompare(b.migInstance ?? '', 'en', { numeric: true })
  );
}

// ── Prometheus (DCGM exporter) ──────────────────────────────────────────────

export interface PrometheusGpuHistoryOptions {
  /** The label that names the node on DCGM series: `Hostname` (dcgm-exporter's own) or e.g. `node`. */
  readonly nodeLabel?: string;
  /** Range-query resolution. */
  readonly stepSeconds?: number;
}

/**
 * DCGM exporter series from Prometheus: `DCGM_FI_DEV_FB_USED` and
 * `DCGM_FI_DEV_FB_FREE` (MiB) give used % = used / (used + free) per GPU
 * (`gpu`, `UUID`) or MIG instance (`GPU_I_ID`, `GPU_I_PROFILE`);
 * `DCGM_FI_DEV_XID_ERRORS` (the last Xid) gives the Xid counts. Each point
 * is `last_over_time(…[step])` on a grid ending at the window's end: the
 * last sample of each step, stamped with the step's end (so up to one step
 * late), never a value carried forward from an older sample.
 */
export class PrometheusGpuHistory implements GpuHistory {
  private readonly nodeLabel: string;
  private readonly stepSeconds: number;

  constructor(
    private readonly client: PrometheusClient,
    options: PrometheusGpuHistoryOptions = {},
  ) {
    this.nodeLabel = options.nodeLabel ?? 'Hostname';
    this.stepSeconds = options.stepSeconds ?? 15;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(this.nodeLabel)) {
      throw new TypeError(
        `node label ${JSON.stringify(this.nodeLabel)} is not a Prometheus label name`,
      );
    }
  }

  async series(
    node: string,
    fromMs: number,
    toMs: number,
    signal?: AbortSignal,
  ): Promise<GpuData | null> {
    const selector = `{${this.nodeLabel}=${JSON.stringify(node)}}`;
    // The grid ends at `toMs` and each point is the last sample in the step before it, so
    // every scraped sample falls in exactly one point — the last one before a node died
    // included (a plain selector would miss it after the series went stale at the cut).
    const stepMs = this.stepSeconds * 1000;
    const steps = Math.max(0, Math.ceil((toMs - fromMs) / stepMs));
    const range = { startMs: toMs - steps * stepMs, endMs: toMs, stepSeconds: this.stepSeconds };
    const last = (metric: string): string =>
      `last_over_time(${metric}${selector}[${this.stepSeconds}s])`;
    const [used, free, xid] = await Promise.all([
      this.client.queryRange(last('DCGM_FI_DEV_FB_USED'), range, signal),
      this.client.queryRange(last('DCGM_FI_DEV_FB_FREE'), range, signal),
      this.client.queryRange(last('DCGM_FI_DEV_XID_ERRORS'), range, signal),
    ]);
    if (used.length === 0 && free.length === 0 && xid.length === 0) return null;
    const keyOf = (s: RangeSeries): string =>
      `${s.labels['gpu'] ?? ''}|${s.labels['GPU_I_ID'] ?? ''}`;
    const freeByKey = new Map(free.map((s) => [keyOf(s), new Map(s.values)]));
    const series: GpuSeries[] = [];
    for (const s of used) {
      const freeAt = freeByKey.get(keyOf(s));
      if (freeAt === undefined) continue;
      const points: GpuSample[] = [];
      for (const [t, u] of s.values) {
        const f = freeAt.get(t);
        if (f === undefined || u + f <= 0) continue;
        points.push({ at: new Date(t * 1000).toISOString(), usedPct: round1((100 * u) / (u + f)) });
      }
      if (points.length === 0) continue;
      series.push({
        gpu: s.labels['gpu'] ?? '?',
        uuid: s.labels['UUID'] ?? null,
        migInstance: s.labels['GPU_I_ID'] ?? null,
        migProfile: s.labels['GPU_I_PROFILE'] ?? null,
        points,
      });
    }
    const xids = new XidTracker();
    for (const s of xid) {
      for (const [t, v] of s.values)
        xids.see(s.labels['gpu'] ?? '?', v, new Date(t * 1000).toISOString());
    }
    return { origin: 'dcgm', series: series.sort(bySeries), xids: xids.result() };
  }
}

// ── Prometheus, else the agents ─────────────────────────────────────────────

/**
 * Prometheus first; the agents' samples when it fails or holds nothing for
 * the node — the result then says why (`fallback`), so the evidence never
 * hides that the configured source was not the one read. An abort (the
 * collector's timeout) is not a failure to fall back from.
 */
export class FallbackGpuHistory implements GpuHistory {
  constructor(
    private readonly primary: GpuHistory,
    private readonly fallback: GpuHistory,
    private readonly primaryName = 'Prometheus',
  ) {}

  async series(
    node: string,
    fromMs: number,
    toMs: number,
    signal?: AbortSignal,
  ): Promise<GpuData | null> {
    let why: string;
    try {
      const data = await this.primary.series(node, fromMs, toMs, signal);
      if (data !== null && (data.series.length > 0 || data.xids.length > 0)) return data;
      why = `${this.primaryName} held no GPU series for ${node}`;
    } catch (error) {
      if (signal?.aborted) throw error;
      why = `${this.primaryName} failed: ${describeError(error)}`;
    }
    const data = await this.fallback.series(node, fromMs, toMs, signal);
    return data === null ? null : { ...data, fallback: why };
  }
}

/**
 * The GPU history a diagnosis reads: Prometheus falling back to the agents'
 * samples when both are there, whichever one is, or none.
 */
export function gpuHistoryOf(
  prometheus: PrometheusClient | null,
  store: Pick<IncidentStore, 'lastWords'> | null,
): GpuHistory | null {
  const agents = store === null ? null : new StoreGpuHistory(store);
  if (prometheus === null) return agents;
  const dcgm = new PrometheusGpuHistory(prometheus);
  return agents === null ? dcgm : new FallbackGpuHistory(dcgm, agents);
}

// ── in memory ───────────────────────────────────────────────────────────────

export interface MemorySample {
  readonly atMs: number;
  readonly gpu: string;
  readonly migInstance: string | null;
  readonly migProfile: string | null;
  readonly usedPct: number;
  /** The GPU's last Xid at this sample; 0 or absent for none. */
  readonly lastXid?: number;
}

/** A history fed sample by sample (the demo's DCGM, tests). */
export class MemoryGpuHistory implements GpuHistory {
  private readonly byNode = new Map<string, MemorySample[]>();

  constructor(private readonly origin: GpuData['origin'] = 'dcgm') {}

  record(node: string, sample: MemorySample): void {
    const list = this.byNode.get(node) ?? [];
    list.push(sample);
    this.byNode.set(node, list);
  }

  series(node: string, fromMs: number, toMs: number): Promise<GpuData | null> {
    const samples = (this.byNode.get(node) ?? [])
      .filter((s) => s.atMs >= fromMs && s.atMs <= toMs)
      .sort((a, b) => a.atMs - b.atMs);
    if (samples.length === 0) return Promise.resolve(null);
    const series = new Map<string, SeriesAcc>();
    const xids = new XidTracker();
    for (const s of samples) {
      const at = new Date(s.atMs).toISOString();
      const id = `${s.gpu}|${s.migInstance ?? ''}`;
      const acc = series.get(id) ?? {
        gpu: s.gpu,
        uuid: null,
        migInstance: s.migInstance,
        migProfile: s.migProfile,
        points: [],
      };
      series.set(id, acc);
      acc.points.push({ at, usedPct: round1(s.usedPct) });
      xids.see(s.gpu, s.lastXid ?? null, at);
    }
    return Promise.resolve({
      origin: this.origin,
      series: [...series.values()].sort(bySeries),
      xids: xids.result(),
    });
  }
}
