/**
 * The report as JSON: the inputs it was rendered from (incident, evidence,
 * verdict, remediation) and the derived numbers the Markdown states, so a
 * dashboard or another tool reads the same facts without parsing prose.
 */
import { reportFacts } from './facts.ts';
import { SECTIONS } from './markdown.ts';
import { SEVERITY_TEXT, type ReportInput } from './report-input.ts';
import { EN } from './words-en.ts';
import { KO } from './words-ko.ts';

export const REPORT_SCHEMA = 'nodewarden.report/v1';

/** The title without Markdown emphasis. */
function plainTitle(markdown: string): string {
  return markdown.replace(/\*\*/g, '');
}

export function reportJson(input: ReportInput): Record<string, unknown> {
  const f = reportFacts(input);
  return {
    schema: REPORT_SCHEMA,
    generatedAt: input.generatedAt,
    zone: input.zone,
    title: { en: plainTitle(EN.title(f)), ko: plainTitle(KO.title(f)) },
    sections: SECTIONS,
    severity: { level: f.severity, text: SEVERITY_TEXT[f.severity] },
    node: f.node,
    ip: f.ip,
    mttdSeconds: f.mttd,
    mttrSeconds: f.mttr,
    recovered: input.incident.resolvedAt !== null,
    network: {
      vantagePoints: f.answeredProbes,
      deadEverywhere: f.deadEverywhere,
      layers: f.tally,
    },
    impact: {
      podsDisplaced: f.displaced,
      gpuCapacityLost: f.gpuCapacity,
      survivors: f.survivors,
    },
    verdict: input.verdict,
    incident: input.incident,
    evidence: input.evidence,
    remediation: input.remediation,
  };
}

/** Pretty-printed, newline-terminated. */
export function renderJson(input: ReportInput): string {
  return `${JSON.stringify(reportJson(input), null, 2)}\n`;
}
