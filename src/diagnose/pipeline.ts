/**
 * Diagnosis: incident → evidence → verdict → report (design §5, §7).
 * Every collector runs at once, each under its own timeout on the given
 * clock (the demo's simulated clock or the wall clock); a collector that
 * throws is recorded as `error`, one that does not finish in time as
 * `timeout` (its signal aborted), and neither stops the others. Then the
 * pure classifier decides at the clock's time and the renderers write the
 * report in English, Korean and JSON.
 */
import { classify, type ClassifyOptions, type Verdict } from '../core/classify.ts';
import type { ClusterView } from '../core/cluster.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import type { CloudProvider } from '../core/cloud.ts';
import { badInput, describeError, NodeWardenError } from '../core/errors.ts';
import {
  EVIDENCE_SOURCES,
  type Evidence,
  type EvidenceSource,
  type EvidenceStatus,
} from '../core/evidence.ts';
import type { Incident } from '../core/incident.ts';
import { renderJson } from '../report/json.ts';
import { renderMarkdown } from '../report/markdown.ts';
import type { RemediationRecord } from '../report/report-input.ts';
import type { IncidentStore } from '../store/port.ts';
import {
  cloudCollector,
  cniCollector,
  ConsoleCapture,
  evidenceItem,
  gpuCollector,
  impactCollector,
  kernelCollector,
  kubernetesCollector,
  networkCollector,
  type CloudOptions,
  type CollectContext,
  type Collector,
  type NetworkOptions,
  type NetworkSources,
} from './collectors.ts';
import type { GpuHistory } from './gpu-history.ts';

/** Where the evidence comes from; every source but the cluster may be absent (recorded as missing). */
export interface DiagnoseSources {
  readonly cluster: ClusterView;
  readonly network?: NetworkSources;
  readonly cloud?: CloudProvider | null;
  readonly gpu?: GpuHistory | null;
  /** The store's agent last words (kernel-log blobs). */
  readonly lastWords?: Pick<IncidentStore, 'lastWords'> | null;
}

/** `started` when a collector begins; its evidence status when it ends. */
export type StepStatus = 'started' | EvidenceStatus;

export interface DiagnoseOptions {
  readonly clock?: Clock;
  /** IANA zone of every time in the report; the seed's cluster ran in Asia/Seoul. */
  readonly zone?: string;
  /** Per-source timeouts, ms. */
  readonly timeoutsMs?: Partial<Record<EvidenceSource, number>>;
  /** Progress: each source when it starts and when it ends, with the milliseconds it took. */
  readonly onStep?: (
    source: EvidenceSource,
    status: StepStatus,
    ms: number,
    summary: string,
  ) => void;
  /** How far before the last heartbeat GPU, kernel and CNI history is read. */
  readonly lookbackMs?: number;
  readonly classify?: Partial<ClassifyOptions>;
  readonly network?: Partial<NetworkOptions>;
  readonly cloud?: Partial<CloudOptions>;
  /** What remediation did so far; [] at incident open. */
  readonly remediation?: readonly RemediationRecord[];
  /** CNI tunnel type for the evidence; null when unknown. */
  readonly cniTunnel?: string | null;
}

export const DEFAULT_TIMEOUTS_MS: Readonly<Record<EvidenceSource, number>> = {
  kubernetes: 3_000,
  // One layered probe takes about one per-layer timeout (3 s); a second chance is not waited for.
  network: 8_000,
  // Two diagnostics samples 2 s apart plus Nova's own latency.
  cloud: 10_000,
  gpu: 5_000,
  kernel: 5_000,
  cni: 3_000,
  impact: 3_000,
};

export interface SourceTiming {
  readonly source: EvidenceSource;
  readonly status: EvidenceStatus;
  readonly ms: number;
}

export interface Diagnosis {
  readonly evidence: readonly Evidence[];
  readonly verdict: Verdict;
  readonly report: { readonly en: string; readonly ko: string; readonly json: string };
  /** In report order. */
  readonly timings: readonly SourceTiming[];
  /** From the start of collection to the report, on the pipeline's clock. */
  readonly totalMs: number;
  readonly zone: string;
}

/** The collectors for these sources, wired as the pipeline uses them. */
export function buildCollectors(
  sources: DiagnoseSources,
  options: DiagnoseOptions = {},
): Collector[] {
  const cloud = sources.cloud ?? null;
  const console = new ConsoleCapture(cloud, sources.cluster);
  return [
    kubernetesCollector(sources.cluster),
    networkCollector(sources.cluster, sources.network ?? { observations: null }, options.network),
    cloudCollector(cloud, sources.cluster, console, options.cloud),
    gpuCollector(sources.gpu ?? null),
    kernelCollector(sources.lastWords ?? null, cloud === null ? null : console),
    cniCollector(sources.cluster, options.cniTunnel === undefined ? 'geneve' : options.cniTunnel),
    impactCollector(sources.cluster),
  ];
}

/**
 * Diagnoses one node incident. A partition incident is classified from the
 * incident alone (CONTROL_PLANE_SIDE) with the kubernetes evidence of its
 * first node: no per-node probing of many nodes at once.
 */
export async function diagnose(
  incident: Incident,
  sources: DiagnoseSources,
  options: DiagnoseOptions = {},
): Promise<Diagnosis> {
  const node = incident.nodes[0];
  if (node === undefined) {
    throw badInput(
      `incident ${incident.id} names no node`,
      'an incident must list the node it is about',
    );
  }
  const clock = options.clock ?? systemClock;
  const zone = options.zone ?? 'Asia/Seoul';
  checkZone(zone);
  const timeouts = { ...DEFAULT_TIMEOUTS_MS, ...options.timeoutsMs };
  for (const [source, ms] of Object.entries(timeouts)) {
    if (!(ms > 0) || !Number.isFinite(ms)) {
      throw badInput(
        `timeout for ${source} is ${ms} ms`,
        'give every source a positive timeout in ms',
      );
    }
  }
  const started = clock.now();
  const heartbeat = incident.lastHeartbeatAt === null ? NaN : Date.parse(incident.lastHeartbeatAt);
  const anchor = Number.isFinite(heartbeat) ? heartbeat : Date.parse(incident.openedAt);
  const ctx: CollectContext = {
    incident,
    node,
    clock,
    fromMs: anchor - (options.lookbackMs ?? 10 * 60_000),
  };
  const all = buildCollectors(sources, options);
  const collectors =
    incident.kind === 'partition' ? all.filter((c) => c.source === 'kubernetes') : all;
  const onStep = options.onStep ?? (() => undefined);
  const results = await Promise.all(
    collectors.map((c) => runCollector(c, ctx, timeouts[c.source], onStep)),
  );
  const evidence = results.flat();
  const now = new Date(clock.now()).toISOString();
  const verdict = classify({ incident, evidence, now }, options.classify);
  const input = {
    incident,
    evidence,
    verdict,
    remediation: options.remediation ?? [],
    zone,
    generatedAt: now,
  };
  const report = {
    en: renderMarkdown(input, 'en'),
    ko: renderMarkdown(input, 'ko'),
    json: renderJson(input),
  };
  const timings = EVIDENCE_SOURCES.flatMap((source) => {
    const items = evidence.filter((e) => e.source === source);
    if (items.length === 0) return [];
    const worst = items.find((e) => e.status === 'ok') ?? items[0];
    return worst === undefined
      ? []
      : [{ source, status: worst.status, ms: Math.max(...items.map((e) => e.durationMs)) }];
  });
  return { evidence, verdict, report, timings, totalMs: clock.now() - started, zone };
}

async function runCollector(
  collector: Collector,
  ctx: CollectContext,
  timeoutMs: number,
  onStep: NonNullable<DiagnoseOptions['onStep']>,
): Promise<Evidence[]> {
  const { clock } = ctx;
  const started = clock.now();
  const controller = new AbortController();
  onStep(collector.source, 'started', 0, '');
  let timer: { cancel(): void } | null = null;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = clock.setTimer(timeoutMs, () => resolve('timeout'));
  });
  let items: Evidence[];
  try {
    const outcome = await Promise.race([collector.collect(ctx, controller.signal), timeout]);
    if (outcome === 'timeout') {
      controller.abort(
        new NodeWardenError(
          'TIMEOUT',
          `${collector.source} collector passed its ${timeoutMs} ms timeout`,
        ),
      );
      items = [
        evidenceItem(
          collector.source,
          clock,
          started,
          'timeout',
          `no answer within ${timeoutMs} ms`,
          null,
        ) as Evidence,
      ];
    } else {
      items = (isList(outcome) ? [...outcome] : [outcome]) as Evidence[];
    }
  } catch (error) {
    items = [
      evidenceItem(
        collector.source,
        clock,
        started,
        'error',
        describeError(error),
        null,
      ) as Evidence,
    ];
  } finally {
    (timer as { cancel(): void } | null)?.cancel();
  }
  const ok = items.find((e) => e.status === 'ok');
  const shown = ok ?? items[0];
  const summary = items.map((e) => e.summary).join(' | ');
  onStep(collector.source, shown?.status ?? 'missing', clock.now() - started, summary);
  return items;
}

function isList<T>(value: T | readonly T[]): value is readonly T[] {
  return Array.isArray(value);
}

export function checkZone(zone: string): void {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone });
  } catch (error) {
    throw new NodeWardenError(
      'BAD_INPUT',
      `time zone ${JSON.stringify(zone)} is not an IANA zone`,
      {
        hint: 'pass e.g. Asia/Seoul or UTC',
        cause: error,
      },
    );
  }
}

/** A node incident made up for an on-demand diagnosis (nothing stored). */
export function adHocIncident(node: string, heartbeat: string | null, now: Date): Incident {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return {
    id: `diag-${stamp}-${node}`,
    kind: 'node',
    status: 'open',
    nodes: [node],
    openedAt: now.toISOString(),
    resolvedAt: null,
    lastHeartbeatAt: heartbeat,
    rootCause: null,
    summary: `on-demand diagnosis of ${node}`,
    timeline: [],
    affectedPods: [],
  };
}
