/**
 * A diagnosis kept with its incident, through the store's existing API (no
 * schema change): one audit record per diagnosis, action `diagnose`, whose
 * `evidence` holds the evidence bundle `{schema, zone, decidedAt, evidence}`.
 * The verdict is not stored: classification is pure, so the report command
 * re-classifies the stored evidence at the stored `decidedAt` and gets the
 * same verdict — and an improved classifier explains old incidents better.
 */
import { classify, type Verdict } from '../core/classify.ts';
import { NodeWardenError } from '../core/errors.ts';
import type { Evidence } from '../core/evidence.ts';
import { parseEvidenceList } from '../core/evidence-parse.ts';
import type { Incident } from '../core/incident.ts';
import { REMEDIATION_RESULTS, type RemediationRecord } from '../report/report-input.ts';
import type { AuditRecord, IncidentStore, JsonValue } from '../store/port.ts';
import type { Diagnosis } from './pipeline.ts';
import type { ReportInput } from '../report/report-input.ts';

export const DIAGNOSIS_ACTION = 'diagnose';
export const DIAGNOSIS_SCHEMA = 'nodewarden.diagnosis/v1';

/** Appends the diagnosis to the incident's audit trail. */
export async function recordDiagnosis(
  store: Pick<IncidentStore, 'appendAudit' | 'listAudit'>,
  incident: Incident,
  diagnosis: Diagnosis,
  actor: string,
): Promise<AuditRecord> {
  const previous = (await store.listAudit(incident.id)).filter(
    (r) => r.action === DIAGNOSIS_ACTION,
  ).length;
  const bundle = JSON.parse(
    JSON.stringify({
      schema: DIAGNOSIS_SCHEMA,
      zone: diagnosis.zone,
      decidedAt: diagnosis.verdict.decidedAt,
      evidence: diagnosis.evidence,
    }),
  ) as JsonValue;
  const record: AuditRecord = {
    id: `${incident.id}-diagnose-${previous + 1}`,
    incidentId: incident.id,
    at: diagnosis.verdict.decidedAt,
    actor,
    action: DIAGNOSIS_ACTION,
    reason: `root cause ${diagnosis.verdict.rootCause} (confidence ${diagnosis.verdict.confidence}, rule ${diagnosis.verdict.rule}) from ${diagnosis.evidence.length} evidence items`,
    evidence: bundle,
    result: 'succeeded',
    durationMs: Math.max(0, Math.round(diagnosis.totalMs)),
  };
  await store.appendAudit(record);
  return record;
}

export interface StoredDiagnosis {
  readonly incident: Incident;
  readonly evidence: readonly Evidence[];
  readonly verdict: Verdict;
  readonly zone: string;
  readonly decidedAt: string;
  /** The incident's other audit records that read as remediation steps. */
  readonly remediation: readonly RemediationRecord[];
}

/** The incident's latest stored diagnosis, re-classified; NOT_FOUND when it has none. */
export async function loadDiagnosis(
  store: Pick<IncidentStore, 'getIncident' | 'listAudit'>,
  incidentId: string,
): Promise<StoredDiagnosis> {
  const incident = await store.getIncident(incidentId);
  const audit = await store.listAudit(incidentId);
  const record = audit.filter((r) => r.action === DIAGNOSIS_ACTION).at(-1);
  if (record === undefined) {
    throw new NodeWardenError('NOT_FOUND', `incident ${incidentId} has no stored diagnosis`, {
      hint: `while it is open, run: nodewarden diagnose ${incident.nodes[0] ?? '<node>'} --store <the same URL>`,
    });
  }
  const bundle = record.evidence as {
    schema?: unknown;
    zone?: unknown;
    decidedAt?: unknown;
    evidence?: unknown;
  };
  if (
    bundle === null ||
    typeof bundle !== 'object' ||
    bundle.schema !== DIAGNOSIS_SCHEMA ||
    typeof bundle.zone !== 'string' ||
    typeof bundle.decidedAt !== 'string'
  ) {
    throw new NodeWardenError(
      'BAD_INPUT',
      `audit record ${record.id} is not a ${DIAGNOSIS_SCHEMA} bundle`,
      { hint: 'it was written by another version of NodeWarden; diagnose the incident again' },
    );
  }
  const evidence = parseEvidenceList(bundle.evidence, `audit ${record.id}.evidence.evidence`);
  const verdict = classify({ incident, evidence, now: bundle.decidedAt });
  const remediation: RemediationRecord[] = audit
    .filter((r) => r.action !== DIAGNOSIS_ACTION)
    .filter((r) => (REMEDIATION_RESULTS as readonly string[]).includes(r.result))
    .map((r) => ({
      at: r.at,
      action: r.action,
      target: incident.nodes.join(', '),
      result: r.result as RemediationRecord['result'],
      detail: r.reason,
      actor: r.actor,
    }));
  return {
    incident,
    evidence,
    verdict,
    zone: bundle.zone,
    decidedAt: bundle.decidedAt,
    remediation,
  };
}

/** What the report renderers need from a stored diagnosis; `zone` overrides the diagnosis's zone. */
export function storedReportInput(
  stored: StoredDiagnosis,
  generatedAt: string,
  zone?: string,
): ReportInput {
  return {
    incident: stored.incident,
    evidence: stored.evidence,
    verdict: stored.verdict,
    remediation: stored.remediation,
    zone: zone ?? stored.zone,
    generatedAt,
  };
}
