/**
 * The contract each report language fulfils: one function per section of
 * the seed report, each phrasing the same ReportFacts. Sections, their order
 * and their headings live in markdown.ts; only the wording lives here.
 */
import type { ReportFacts } from './facts.ts';
import type { Lang } from './zone.ts';
import type { ProbeResult } from '../core/probe.ts';
import { code } from './md.ts';

export interface Words {
  readonly lang: Lang;
  /** The H1 line's text. */
  title(f: ReportFacts): string;
  issueDescription(f: ReportFacts): string;
  impactAssessment(f: ReportFacts): string;
  environmentDetails(f: ReportFacts): string;
  resourceInformation(f: ReportFacts): string;
  symptoms(f: ReportFacts): string;
  timeline(f: ReportFacts): string;
  monitoringData(f: ReportFacts): string;
  logsAndErrors(f: ReportFacts): string;
  troubleshootingSteps(f: ReportFacts): string;
  rootCauseAnalysis(f: ReportFacts): string;
  proposedResolution(f: ReportFacts): string;
  recoveryActions(f: ReportFacts): string;
  additionalContext(f: ReportFacts): string;
}

/** Follow-ups worth proposing, chosen from the facts (so both languages propose the same). */
export type LongTermItem =
  | 'gpu-driver-compat'
  | 'gpu-load-network-test'
  | 'mig-limits'
  | 'capacity-guard'
  | 'last-words'
  | 'cloud-provider'
  | 'alerting'
  | 'auto-remediation';

/** Detection slower than this deserves an alerting follow-up. */
const SLOW_DETECTION_S = 60;

export function longTermItems(f: ReportFacts): LongTermItem[] {
  const out: LongTermItem[] = [];
  const gpuNode = f.gpuCapacity.length > 0 || f.gpu !== null;
  if (f.gpuRises.length > 0 || f.verdict.rootCause === 'GPU_FAULT') {
    out.push('gpu-driver-compat', 'gpu-load-network-test');
  }
  if (gpuNode && f.survivors !== null && f.survivors.cpuLimits.max > 100) out.push('mig-limits');
  if (f.survivors !== null && f.survivors.cpuLimits.max > 100) out.push('capacity-guard');
  if (f.missing.some((m) => m.source === 'kernel')) out.push('last-words');
  if (f.missing.some((m) => m.source === 'cloud')) out.push('cloud-provider');
  if (f.mttd !== null && f.mttd > SLOW_DETECTION_S) out.push('alerting');
  if (f.remediation.length === 0 && f.verdict.rootCause !== 'PLANNED_MAINTENANCE') {
    out.push('auto-remediation');
  }
  return out;
}

/** `Ready=Unknown` and its reason from a `k8s-not-ready` timeline message. */
export function readyChange(message: string): { status: string; reason: string | null } | null {
  const m = /Ready=(\w+)(?: \((.*)\))?$/.exec(message);
  if (m?.[1] === undefined) return null;
  return { status: m[1], reason: m[2] ?? null };
}

/** `key:effect` from a `k8s-taint` timeline message. */
export function taintOf(message: string): string | null {
  const m = /(\S+:(?:NoSchedule|PreferNoSchedule|NoExecute))$/.exec(message);
  return m?.[1] ?? null;
}

/** The text after `suspect: ` / `down: ` in detection's timeline messages. */
export function reasonOf(message: string): string {
  const i = message.indexOf(': ');
  return i < 0 ? message : message.slice(i + 2);
}

/** Texts in time order; equal times keep their given order. */
export function byTime(steps: readonly { at: string; text: string }[]): string[] {
  return steps
    .map((s, i) => ({ ...s, i, t: Date.parse(s.at) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((s) => s.text);
}

/** `ping … → reply in 0.1 ms — nc … → connected — `: each layer a reference point was tested at. */
export function referenceLayers(result: ProbeResult): string {
  const layers = result.layers.filter((l) => l.layer === 'L3' || l.layer === 'L4');
  const tested = layers.filter((l) => l.status !== 'skipped');
  const shown = tested.length > 0 ? tested : layers.slice(0, 1);
  return shown.map((l) => `${code(l.command)} → ${code(l.detail)} — `).join('');
}
