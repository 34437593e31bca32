/**
 * The Markdown report: the seed report's sections in the seed's order, with
 * the seed's (English) headings in both languages, as the Korean original
 * has them. Pure: input in, text out.
 */
import { reportFacts, type ReportFacts } from './facts.ts';
import { SEVERITY_TEXT, type ReportInput } from './report-input.ts';
import { EN } from './words-en.ts';
import { KO } from './words-ko.ts';
import type { Words } from './words.ts';
import type { Lang } from './zone.ts';

/** Section headings in order; the golden tests and docs/report.md list the same. */
export const SECTIONS = [
  'Infrastructure Type',
  'Issue Type',
  'Severity',
  'Issue Description',
  'Impact Assessment',
  'Environment Details',
  'Resource Information',
  'Symptoms',
  'Timeline',
  'Monitoring Data',
  'Logs and Error Messages',
  'Troubleshooting Steps Taken',
  'Root Cause Analysis',
  'Proposed Resolution',
  'Recovery Actions',
  'Additional Context',
] as const;

export type Section = (typeof SECTIONS)[number];

const WORDS: Readonly<Record<Lang, Words>> = { en: EN, ko: KO };

function body(section: Section, f: ReportFacts, w: Words): string {
  switch (section) {
    case 'Infrastructure Type':
      return 'Kubernetes Cluster';
    case 'Issue Type':
      // Every incident NodeWarden opens is a node (or nodes) lost to the cluster.
      return 'Outage/Downtime';
    case 'Severity':
      return SEVERITY_TEXT[f.severity];
    case 'Issue Description':
      return w.issueDescription(f);
    case 'Impact Assessment':
      return w.impactAssessment(f);
    case 'Environment Details':
      return w.environmentDetails(f);
    case 'Resource Information':
      return w.resourceInformation(f);
    case 'Symptoms':
      return w.symptoms(f);
    case 'Timeline':
      return w.timeline(f);
    case 'Monitoring Data':
      return w.monitoringData(f);
    case 'Logs and Error Messages':
      return w.logsAndErrors(f);
    case 'Troubleshooting Steps Taken':
      return w.troubleshootingSteps(f);
    case 'Root Cause Analysis':
      return w.rootCauseAnalysis(f);
    case 'Proposed Resolution':
      return w.proposedResolution(f);
    case 'Recovery Actions':
      return w.recoveryActions(f);
    case 'Additional Context':
      return w.additionalContext(f);
  }
}

/** The report as Markdown in `lang`. */
export function renderMarkdown(input: ReportInput, lang: Lang): string {
  const f = reportFacts(input);
  const w = WORDS[lang];
  const parts = [`# ${w.title(f)}`];
  for (const section of SECTIONS) parts.push(`### ${section}`, body(section, f, w));
  return `${parts.join('\n\n')}\n`;
}
