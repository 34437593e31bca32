/**
 * The driver audit as a person reads it (a table or Markdown) and as JSON.
 * Pure string building; the CLI prints.
 */
import {
  COMPONENT_LABEL,
  DRIVER_COMPONENTS,
  type DriverAudit,
  type DriverStack,
} from '../core/driver-audit.ts';
import { markdownTable, textTable, type OutputFormat } from './render.ts';

const cell = (v: string | null): string => v ?? '-';
const stackCells = (s: DriverStack): string[] => DRIVER_COMPONENTS.map((c) => cell(s[c]));
const HEADER = DRIVER_COMPONENTS.map((c) => COMPONENT_LABEL[c].toUpperCase());

export function renderDriverAudit(
  audit: DriverAudit,
  format: OutputFormat,
  source: string,
): string {
  if (format === 'json') return JSON.stringify({ source, ...audit }, null, 2) + '\n';
  const md = format === 'md';
  const table = md ? markdownTable : textTable;
  const out: string[] = [];
  const drifting = new Set(audit.pools.flatMap((p) => p.drift.map((d) => d.node)));
  out.push(
    md
      ? `## Driver compatibility audit\n\n${audit.nodes.length} node inventories from ${source}: ${audit.combinations.length} combination(s), ${drifting.size} node(s) drifting from their pool, ${audit.knownBad.length} known-bad match(es).\n`
      : `Driver compatibility audit of ${source}: ${audit.nodes.length} node(s), ${audit.combinations.length} combination(s), ${drifting.size} drifting, ${audit.knownBad.length} known-bad match(es)\n`,
  );
  out.push(md ? '### Combinations\n' : 'Combinations (nodes with the same stack):');
  out.push(
    table(
      ['NODES', ...HEADER],
      audit.combinations.map((c) => [
        c.nodes.length <= 3
          ? c.nodes.join(', ')
          : `${c.nodes.length}: ${c.nodes.slice(0, 2).join(', ')}, …`,
        ...stackCells(c.stack),
      ]),
    ),
  );
  const drift = audit.pools.flatMap((p) => p.drift.map((d) => ({ pool: p.pool, ...d })));
  out.push(
    md
      ? '### Drift from the pool\n'
      : 'Drift (a node whose version differs from most of its pool):',
  );
  out.push(
    drift.length === 0
      ? 'None: every node matches its pool.\n'
      : table(
          ['POOL', 'NODE', 'COMPONENT', 'NODE HAS', 'POOL HAS'],
          drift.map((d) => [
            d.pool,
            d.node,
            COMPONENT_LABEL[d.component],
            cell(d.value),
            cell(d.baseline),
          ]),
        ),
  );
  out.push(md ? '### Known-bad versions\n' : 'Known-bad versions:');
  if (audit.knownBad.length === 0) out.push('None on the list.\n');
  for (const hit of audit.knownBad) {
    const e = hit.entry;
    const range = `${e.from ?? 'any'} ≤ version < ${e.fixedIn ?? 'no fix known'}`;
    const lines = [
      md
        ? `- **${e.severity.toUpperCase()}** ${hit.node}: ${COMPONENT_LABEL[e.component]} ${hit.version} — ${e.title} (${e.id}; ${range})`
        : `  ${e.severity.toUpperCase()} ${hit.node}: ${COMPONENT_LABEL[e.component]} ${hit.version} — ${e.title} (${e.id}; ${range})`,
      `${md ? '  - ' : '    '}what happens: ${e.symptom}`,
      `${md ? '  - ' : '    '}fix: ${e.fix}`,
      ...e.sources.map((s) => `${md ? '  - ' : '    '}source: ${s.title} <${s.url}>`),
    ];
    out.push(lines.join('\n') + (md ? '' : '\n'));
  }
  if (audit.stale.length > 0) {
    out.push(
      `${md ? '\n' : ''}Stale inventories (the agent has not reported for a while; versions may be out of date): ${audit.stale
        .map((s) => `${s.node} (${s.at})`)
        .join(', ')}\n`,
    );
  }
  return out.join('\n');
}
