/**
 * Everything a report says, derived once from its input and independent of
 * language: the per-layer picture from every vantage point, the merged
 * timeline, MTTD/MTTR, severity, the survivors' overcommit. The en and ko
 * wordings (words-en.ts, words-ko.ts) only phrase these facts.
 */
import type { Correlation, Verdict } from '../core/classify.ts';
import {
  allOk,
  dataOf,
  missingEvidence,
  vantageProbes,
  type CloudData,
  type CniData,
  type Evidence,
  type GpuData,
  type ImpactData,
  type InstanceAction,
  type KernelSignature,
  type KubernetesData,
  type MissingEvidence,
  type NetworkData,
  type ReferenceProbe,
  type ReferenceSource,
} from '../core/evidence.ts';
import { mttdSeconds, mttrSeconds, type Incident, type TimelineEntry } from '../core/incident.ts';
import { LAYERS, type Layer, type LayerResult, type ProbeResult } from '../core/probe.ts';
import {
  gpuCapacity,
  severityOf,
  type RemediationRecord,
  type ReportInput,
  type Severity,
} from './report-input.ts';
import { zoneClock, type ZoneClock } from './zone.ts';

export interface VantageRow {
  readonly observer: string;
  readonly observerIP: string | null;
  readonly isController: boolean;
  readonly result: ProbeResult | null;
  readonly error: string | null;
}

export interface LayerTally {
  readonly ok: number;
  readonly failed: number;
  /** Skipped or not reported: the layer could not be tested from there. */
  readonly untested: number;
}

export interface Range {
  readonly min: number;
  readonly max: number;
}

export type TimelineItem =
  | { readonly kind: 'entry'; readonly at: string; readonly entry: TimelineEntry }
  | {
      readonly kind: 'evicted';
      readonly at: string;
      readonly count: number;
      readonly lastAt: string;
    }
  | {
      readonly kind: 'gpu-rise';
      readonly at: string;
      readonly rise: Extract<Correlation, { kind: 'gpu-memory-rise' }>;
    }
  | { readonly kind: 'verdict'; readonly at: string }
  | { readonly kind: 'remediation'; readonly at: string; readonly record: RemediationRecord };

export interface ReportFacts {
  readonly incident: Incident;
  readonly verdict: Verdict;
  readonly evidence: readonly Evidence[];
  readonly remediation: readonly RemediationRecord[];
  readonly generatedAt: string;
  readonly clock: ZoneClock;
  readonly node: string;
  readonly ip: string | null;
  readonly k8s: KubernetesData | null;
  readonly network: NetworkData | null;
  readonly cloud: CloudData | null;
  readonly gpu: GpuData | null;
  readonly cni: CniData | null;
  readonly impact: ImpactData | null;
  /** Sources with no usable data at report time (the verdict lists what it lacked when decided). */
  readonly missing: readonly MissingEvidence[];
  readonly signatures: readonly {
    readonly signature: KernelSignature;
    readonly origin: 'agent' | 'console';
  }[];
  /** Observers first, then the controller. */
  readonly vantage: readonly VantageRow[];
  readonly tally: Readonly<Record<Layer, LayerTally>>;
  /** Vantage points with a probe result. */
  readonly answeredProbes: number;
  /** Every tested layer failed from every vantage point with a result (and one did). */
  readonly deadEverywhere: boolean;
  /** The vantage point whose commands the report quotes: the first observer with a result. */
  readonly quoted: VantageRow | null;
  readonly references: readonly ReferenceProbe[];
  /** Where the reference points were probed from; null in evidence stored before it was recorded. */
  readonly referenceSource: ReferenceSource | null;
  readonly mttd: number | null;
  readonly mttr: number | null;
  readonly severity: Severity;
  readonly gpuCapacity: readonly { readonly resource: string; readonly count: number }[];
  readonly survivors: {
    readonly count: number;
    readonly cpuRequests: Range;
    readonly cpuLimits: Range;
    readonly memoryRequests: Range;
    readonly memoryLimits: Range;
  } | null;
  readonly displaced: number | null;
  readonly gpuRises: readonly Extract<Correlation, { kind: 'gpu-memory-rise' }>[];
  readonly xidCorrelations: readonly Extract<Correlation, { kind: 'xid-before-heartbeat' }>[];
  /** The latest stop-like cloud action, if any. */
  readonly stopAction: InstanceAction | undefined;
  readonly timeline: readonly TimelineItem[];
}

const STOP_ACTIONS = ['stop', 'shutoff', 'shelve', 'suspend', 'pause', 'delete'];

export function layerOf(result: ProbeResult | null, layer: Layer): LayerResult | undefined {
  return result?.layers.find((l) => l.layer === layer);
}

function range(values: readonly number[]): Range {
  return { min: Math.min(...values), max: Math.max(...values) };
}

export function reportFacts(input: ReportInput): ReportFacts {
  const { incident, evidence, verdict } = input;
  const clock = zoneClock(input.zone);
  clock.dateTime(input.generatedAt); // checks it is a time
  const k8s = dataOf(evidence, 'kubernetes');
  const network = dataOf(evidence, 'network');
  const cloud = dataOf(evidence, 'cloud');
  const gpu = dataOf(evidence, 'gpu');
  const cni = dataOf(evidence, 'cni');
  const impact = dataOf(evidence, 'impact');

  const signatures: { signature: KernelSignature; origin: 'agent' | 'console' }[] = [];
  for (const item of allOk(evidence, 'kernel')) {
    for (const signature of item.data?.signatures ?? []) {
      if (item.data !== null) signatures.push({ signature, origin: item.data.origin });
    }
  }

  const vantage: VantageRow[] =
    network === null
      ? []
      : vantageProbes(network).map((v) => ({
          observer: v.observer,
          observerIP: v.observerIP,
          isController: v === network.controller,
          result: v.result,
          error: v.error,
        }));
  const withResult = vantage.filter((v) => v.result !== null);
  const tally = Object.fromEntries(
    LAYERS.map((layer) => {
      let ok = 0;
      let failed = 0;
      let untested = 0;
      for (const v of withResult) {
        const status = layerOf(v.result, layer)?.status;
        if (status === 'ok') ok += 1;
        else if (status === 'failed') failed += 1;
        else untested += 1;
      }
      return [layer, { ok, failed, untested }];
    }),
  ) as Record<Layer, LayerTally>;
  const deadEverywhere =
    withResult.length > 0 &&
    LAYERS.every((l) => tally[l].ok === 0) &&
    LAYERS.some((l) => tally[l].failed > 0);

  const survivorsList = impact?.survivors ?? [];
  const survivors =
    survivorsList.length === 0
      ? null
      : {
          count: survivorsList.length,
          cpuRequests: range(survivorsList.map((s) => s.after.cpu.requestsPct)),
          cpuLimits: range(survivorsList.map((s) => s.after.cpu.limitsPct)),
          memoryRequests: range(survivorsList.map((s) => s.after.memory.requestsPct)),
          memoryLimits: range(survivorsList.map((s) => s.after.memory.limitsPct)),
        };

  const gpuRises = verdict.correlations.filter(
    (c): c is Extract<Correlation, { kind: 'gpu-memory-rise' }> => c.kind === 'gpu-memory-rise',
  );
  const xidCorrelations = verdict.correlations.filter(
    (c): c is Extract<Correlation, { kind: 'xid-before-heartbeat' }> =>
      c.kind === 'xid-before-heartbeat',
  );
  const stopAction =
    cloud === null
      ? undefined
      : [...cloud.actions]
          .filter((a) => STOP_ACTIONS.includes(a.action.toLowerCase()))
          .sort((a, b) => Date.parse(b.startTime) - Date.parse(a.startTime))[0];

  const displaced =
    impact?.podsDisplaced ??
    (incident.affectedPods.length > 0 ? incident.affectedPods.length : null);

  return {
    incident,
    verdict,
    evidence,
    remediation: input.remediation,
    generatedAt: input.generatedAt,
    clock,
    node: incident.nodes.join(', '),
    ip: network?.target ?? k8s?.internalIP ?? null,
    k8s,
    network,
    cloud,
    gpu,
    cni,
    impact,
    missing: missingEvidence(evidence),
    signatures,
    vantage,
    tally,
    answeredProbes: withResult.length,
    deadEverywhere,
    quoted: withResult.find((v) => !v.isController) ?? withResult[0] ?? null,
    references: network?.references ?? [],
    referenceSource: network?.referenceSource ?? null,
    mttd: mttdSeconds(incident),
    mttr: mttrSeconds(incident),
    severity: severityOf(incident, verdict, k8s, impact),
    gpuCapacity: gpuCapacity(k8s),
    survivors,
    displaced,
    gpuRises,
    xidCorrelations,
    stopAction,
    timeline: timeline(incident, verdict, gpuRises, input.remediation),
  };
}

/**
 * The incident's own timeline, with evictions grouped per minute (one line,
 * not one per pod), the GPU rise placed where it happened, the verdict, and
 * every remediation step; oldest first, stable for equal times.
 */
function timeline(
  incident: Incident,
  verdict: Verdict,
  rises: readonly Extract<Correlation, { kind: 'gpu-memory-rise' }>[],
  remediation: readonly RemediationRecord[],
): TimelineItem[] {
  const items: TimelineItem[] = [];
  const evictions = new Map<number, { at: string; lastAt: string; count: number }>();
  for (const entry of incident.timeline) {
    // The verdict this report states is its own line; earlier diagnosis entries would repeat it.
    if (entry.kind === 'diagnosis') continue;
    if (entry.kind !== 'pod-evicted') {
      items.push({ kind: 'entry', at: entry.at, entry });
      continue;
    }
    const minute = Math.floor(Date.parse(entry.at) / 60_000);
    const group = evictions.get(minute);
    if (group === undefined) evictions.set(minute, { at: entry.at, lastAt: entry.at, count: 1 });
    else {
      group.count += 1;
      if (entry.at < group.at) group.at = entry.at;
      if (entry.at > group.lastAt) group.lastAt = entry.at;
    }
  }
  for (const g of evictions.values()) items.push({ kind: 'evicted', ...g });
  for (const rise of rises) items.push({ kind: 'gpu-rise', at: rise.toAt, rise });
  items.push({ kind: 'verdict', at: verdict.decidedAt });
  for (const record of remediation) items.push({ kind: 'remediation', at: record.at, record });
  return items
    .map((item, i) => ({ item, i, t: Date.parse(item.at) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((x) => x.item);
}
