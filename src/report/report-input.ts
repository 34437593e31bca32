/**
 * What a report is rendered from: the incident, its evidence, the verdict,
 * what remediation did (possibly nothing), and the cluster's time zone.
 * Plus the severity rule, and a checker for the JSON form of the inputs.
 */
import type { Verdict } from '../core/classify.ts';
import { badInput } from '../core/errors.ts';
import type { Evidence, ImpactData, KubernetesData } from '../core/evidence.ts';
import { parseEvidenceList } from '../core/evidence-parse.ts';
import type { Incident } from '../core/incident.ts';
import { incident as checkIncident } from '../store/validate.ts';

export type RemediationResult = 'succeeded' | 'failed' | 'skipped' | 'refused' | 'dry-run';
export const REMEDIATION_RESULTS: readonly RemediationResult[] = [
  'succeeded',
  'failed',
  'skipped',
  'refused',
  'dry-run',
];

/** One remediation step as the audit log records it: who/what/why/when/result. */
export interface RemediationRecord {
  readonly at: string;
  /** Ladder step id: capture-console-log, cordon, taint, soft-reboot, hard-reboot, … */
  readonly action: string;
  readonly target: string;
  readonly result: RemediationResult;
  /** The raw outcome or the brake that refused it. */
  readonly detail: string;
  /** `nodewarden` or the person who approved/acted. */
  readonly actor: string;
}

export interface ReportInput {
  readonly incident: Incident;
  readonly evidence: readonly Evidence[];
  readonly verdict: Verdict;
  readonly remediation: readonly RemediationRecord[];
  /** The cluster's IANA zone for every time in the report, e.g. Asia/Seoul. */
  readonly zone: string;
  /** When the report is rendered; stated in the report, so renders are reproducible. */
  readonly generatedAt: string;
}

export type Severity = 'Critical' | 'High' | 'Medium' | 'Low';

/** The seed's template wording, kept in English in both languages as the original does. */
export const SEVERITY_TEXT: Readonly<Record<Severity, string>> = {
  Critical: 'Critical - Service down, blocking all users',
  High: 'High - Major functionality impaired',
  Medium: 'Medium - Partial functionality affected',
  Low: 'Low - Minor issue, no user impact',
};

/** CPU limits above this share of allocatable on a survivor is overcommit that hurts. */
const OVERCOMMIT_LIMITS_PCT = 300;

/**
 * Severity, first match wins:
 * 1. PLANNED_MAINTENANCE → Low.
 * 2. a partition, or CONTROL_PLANE_SIDE → Critical.
 * 3. pods displaced and (a survivor's requests above 100% or CPU limits above
 *    300% of allocatable, or GPU capacity lost with the node) → Critical.
 * 4. pods displaced → High.
 * 5. otherwise → Medium (a node lost, nothing moved yet).
 */
export function severityOf(
  incident: Incident,
  verdict: Verdict,
  k8s: KubernetesData | null,
  impact: ImpactData | null,
): Severity {
  if (verdict.rootCause === 'PLANNED_MAINTENANCE') return 'Low';
  if (incident.kind === 'partition' || verdict.rootCause === 'CONTROL_PLANE_SIDE')
    return 'Critical';
  const displaced = impact?.podsDisplaced ?? incident.affectedPods.length;
  if (displaced === 0) return 'Medium';
  const overcommitted = (impact?.survivors ?? []).some(
    (s) =>
      s.after.cpu.requestsPct > 100 ||
      s.after.memory.requestsPct > 100 ||
      s.after.cpu.limitsPct > OVERCOMMIT_LIMITS_PCT,
  );
  const gpuLost = gpuCapacity(k8s).length > 0;
  return overcommitted || gpuLost ? 'Critical' : 'High';
}

/** Extended GPU resources the node offered (`nvidia.com/gpu`, `nvidia.com/mig-1g.10gb`), largest first. */
export function gpuCapacity(
  k8s: KubernetesData | null,
): { readonly resource: string; readonly count: number }[] {
  if (k8s === null) return [];
  return Object.entries(k8s.allocatable)
    .filter(([name]) => name.startsWith('nvidia.com/') || name.startsWith('amd.com/'))
    .map(([resource, value]) => ({ resource, count: Number(value) }))
    .filter((g) => Number.isFinite(g.count) && g.count > 0)
    .sort((a, b) => b.count - a.count || a.resource.localeCompare(b.resource));
}

function remediationRecord(value: unknown, path: string): RemediationRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badInput(
      `${path}: expected an object`,
      'see RemediationRecord in src/report/report-input.ts',
    );
  }
  const o = value as Record<string, unknown>;
  const field = (key: string): string => {
    const v = o[key];
    if (typeof v !== 'string' || v === '') {
      throw badInput(
        `${path}.${key}: expected a non-empty string`,
        'see RemediationRecord in src/report/report-input.ts',
      );
    }
    return v;
  };
  const at = field('at');
  if (!Number.isFinite(Date.parse(at))) {
    throw badInput(`${path}.at: "${at}" is not an ISO-8601 time`, 'use the audit record time');
  }
  const result = field('result');
  if (!(REMEDIATION_RESULTS as readonly string[]).includes(result)) {
    throw badInput(
      `${path}.result: "${result}" is not one of ${REMEDIATION_RESULTS.join(', ')}`,
      'map the audit result onto one of them',
    );
  }
  return {
    at,
    action: field('action'),
    target: field('target'),
    result: result as RemediationResult,
    detail: typeof o.detail === 'string' ? o.detail : '',
    actor: field('actor'),
  };
}

/** The JSON inputs of a report (an incident, an evidence list, remediation records), checked. */
export function parseReportParts(parts: {
  readonly incident: unknown;
  readonly evidence: unknown;
  readonly remediation: unknown;
}): { incident: Incident; evidence: Evidence[]; remediation: RemediationRecord[] } {
  if (!Array.isArray(parts.remediation)) {
    throw badInput('remediation: expected an array', 'pass [] when nothing was done');
  }
  return {
    incident: checkIncident(parts.incident),
    evidence: parseEvidenceList(parts.evidence),
    remediation: parts.remediation.map((r, i) => remediationRecord(r, `remediation[${i}]`)),
  };
}
