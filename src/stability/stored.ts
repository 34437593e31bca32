/**
 * Stability tests as the store keeps them (audit records, incident null,
 * action `stability-test`; `stabilityAuditRecord`), read back: the list the
 * HTTP API serves at /api/v1/stability-tests, one test's report, and when
 * each node was last tested (the schedule's fairness).
 */
import { NodeWardenError } from '../core/errors.ts';
import type { StabilityTestSummary } from '../core/stability.ts';
import type { AuditRecord, IncidentStore } from '../store/port.ts';
import { isStorableId } from '../store/validate.ts';
import { STABILITY_AUDIT_ACTION } from './prepare.ts';

export type { StabilityTestSummary };

export type StabilityReportFormat = 'json' | 'md' | 'svg';

interface StoredEvidence {
  readonly report?: {
    readonly node?: unknown;
    readonly startedAt?: unknown;
    readonly troubleStep?: unknown;
    readonly troubleGpuPercent?: unknown;
  };
  readonly markdown?: unknown;
  readonly svg?: unknown;
}

const evidenceOf = (r: AuditRecord): StoredEvidence =>
  typeof r.evidence === 'object' && r.evidence !== null ? (r.evidence as StoredEvidence) : {};

const numOrNull = (v: unknown): number | null => (typeof v === 'number' ? v : null);

function summaryOf(r: AuditRecord): StabilityTestSummary | null {
  const report = evidenceOf(r).report;
  if (r.action !== STABILITY_AUDIT_ACTION || typeof report?.node !== 'string') return null;
  return {
    id: r.id,
    node: report.node,
    startedAt: typeof report.startedAt === 'string' ? report.startedAt : r.at,
    endedAt: r.at,
    actor: r.actor,
    verdict: r.result,
    summary: r.reason,
    troubleStep: numOrNull(report.troubleStep),
    troubleGpuPercent: numOrNull(report.troubleGpuPercent),
    durationMs: r.durationMs,
  };
}

/**
 * Stored tests, newest first; `node` filters. The store answers from its
 * (action, at) index: only stability records are read, never the whole audit log.
 */
export async function listStabilityTests(
  store: IncidentStore,
  query: { readonly node?: string; readonly limit?: number } = {},
): Promise<StabilityTestSummary[]> {
  const records = await store.findAudit({ action: STABILITY_AUDIT_ACTION, ...query });
  return records.map(summaryOf).filter((s): s is StabilityTestSummary => s !== null);
}

/** When each node was last tested (epoch ms of the newest test's end). */
export function lastTested(tests: readonly StabilityTestSummary[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of tests) {
    const at = Date.parse(t.endedAt);
    if (Number.isFinite(at)) out[t.node] = Math.max(out[t.node] ?? 0, at);
  }
  return out;
}

/** One test's report as stored: JSON, Markdown or the SVG chart. NOT_FOUND for an unknown id. */
export async function stabilityTestReport(
  store: IncidentStore,
  id: string,
  format: StabilityReportFormat,
): Promise<string> {
  const notFound = () =>
    new NodeWardenError('NOT_FOUND', `no stability test ${id}`, {
      hint: 'GET /api/v1/stability-tests lists them with their ids',
    });
  // An id the store could never have kept (empty, too long) is unknown, not bad input.
  if (!isStorableId(id)) throw notFound();
  const [record] = await store.findAudit({ action: STABILITY_AUDIT_ACTION, id });
  if (record === undefined) throw notFound();
  const e = evidenceOf(record);
  if (format === 'json') return JSON.stringify(e.report ?? null, null, 2) + '\n';
  const text = format === 'md' ? e.markdown : e.svg;
  return typeof text === 'string' ? text : '';
}
