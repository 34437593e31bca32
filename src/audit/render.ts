/**
 * The audits as a person reads them: a terminal table shaped like the seed
 * report's Resource Information table (`88.9% / 340.6%` = requests / limits
 * as % of allocatable), Markdown for an incident report or a ticket, and
 * JSON for machines. Pure string building; the CLI prints.
 */
import { stringify } from 'yaml';
import {
  isGpuResource,
  MIG_PREFIX,
  percent1,
  useOf,
  type CapacityAudit,
  type CapacityFlag,
  type NodeCapacity,
  type ResourceUse,
} from '../core/capacity.ts';
import type { MigAudit, MigWorkload } from '../core/mig-audit.ts';
import type { NodeLossPrediction, PendingPod, Placement, UnmovedPod } from '../core/whatif.ts';

export type OutputFormat = 'table' | 'json' | 'md';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'md'];

const pct = (v: number | null): string => (v === null ? 'n/a' : `${percent1(v)}%`);

function flagged(c: NodeCapacity, resource: string, measure: 'requests' | 'limits'): boolean {
  return c.flags.some((f) => f.resource === resource && f.measure === measure);
}

/** "88.9% / 340.6%", each flagged share marked (`!` in a table, bold in Markdown). */
function pair(c: NodeCapacity, resource: string, md: boolean): string {
  const use = useOf(c, resource);
  if (use.allocatable <= 0 && use.requests <= 0) return '-';
  const mark = (text: string, on: boolean) => (on ? (md ? `**${text}**` : `${text}!`) : text);
  return `${mark(pct(use.requestsPct), flagged(c, resource, 'requests'))} / ${mark(pct(use.limitsPct), flagged(c, resource, 'limits'))}`;
}

const count = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(2));

function devices(use: ResourceUse): string {
  return `${count(use.requests)}/${count(use.allocatable)}`;
}

function gpuCell(c: NodeCapacity): string {
  const gpu = c.resources.find((r) => r.resource === 'nvidia.com/gpu');
  return gpu ? devices(gpu) : '-';
}

function migCell(c: NodeCapacity): string {
  const mig = c.resources.filter((r) => r.resource.startsWith(MIG_PREFIX));
  if (mig.length === 0) return '-';
  return mig.map((r) => `${r.resource.slice(MIG_PREFIX.length)} ${devices(r)}`).join(', ');
}

function shortFlag(f: CapacityFlag): string {
  const name = isGpuResource(f.resource)
    ? f.resource
    : f.resource.replace('ephemeral-storage', 'disk');
  return `${name} ${f.measure} > ${f.thresholdPct}%`;
}

/** Left-aligned columns separated by two spaces, kubectl style. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

const mdEscape = (s: string): string => s.replace(/\|/g, '\\|');

export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]) => `| ${cells.map(mdEscape).join(' | ')} |`;
  return (
    [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n') + '\n'
  );
}

const CAPACITY_HEADER = [
  'NODE',
  'CPU req / lim',
  'MEMORY req / lim',
  'DISK req / lim',
  'GPU',
  'MIG',
  'PODS',
  'FLAGS',
];

function capacityRow(c: NodeCapacity, md: boolean): string[] {
  return [
    c.node + (c.unschedulable ? ' (cordoned)' : ''),
    pair(c, 'cpu', md),
    pair(c, 'memory', md),
    pair(c, 'ephemeral-storage', md),
    gpuCell(c),
    migCell(c),
    `${c.pods.count}/${c.pods.allocatable}`,
    c.flags.length === 0 ? '-' : c.flags.map(shortFlag).join('; '),
  ];
}

function thresholdsLine(t: CapacityAudit['thresholds']): string {
  return `thresholds: CPU limits ${t.cpuLimitsPct}%, memory limits ${t.memoryLimitsPct}%, requests ${t.requestsPct}%, GPU/MIG 100%`;
}

export function renderCapacity(audit: CapacityAudit, format: OutputFormat, source: string): string {
  if (format === 'json') return JSON.stringify({ source, ...audit }, null, 2) + '\n';
  const md = format === 'md';
  const title = `Requests / limits as % of allocatable, ${audit.nodes.length} node(s) from ${source}`;
  const table = (md ? markdownTable : textTable)(
    md ? CAPACITY_HEADER.map((h) => h.toLowerCase()) : CAPACITY_HEADER,
    audit.nodes.map((n) => capacityRow(n, md)),
  );
  const flaggedNodes = audit.nodes.filter((n) => n.flags.length > 0);
  const summary =
    flaggedNodes.length === 0
      ? `No node over the thresholds (${thresholdsLine(audit.thresholds)}).\n`
      : `${flaggedNodes.length} of ${audit.nodes.length} node(s) over the thresholds (${thresholdsLine(audit.thresholds)}):\n` +
        flaggedNodes
          .flatMap((n) => n.flags.map((f) => `${md ? '- ' : '  '}${n.node}: ${f.message}`))
          .join('\n') +
        '\n';
  return md
    ? `### Resource information\n\n${title}.\n\n${table}\n${summary}`
    : `${title}\n\n${table}\n${summary}`;
}

function arrow(before: NodeCapacity, after: NodeCapacity, resource: string, md: boolean): string {
  return `${pair(before, resource, md)} → ${pair(after, resource, md)}`;
}

const seconds = (s: number): string => (s === 0 ? 'at once' : `after ${s} s`);

function groupBy<T>(items: readonly T[], key: (t: T) => string): [string, T[]][] {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k) ?? [];
    list.push(item);
    out.set(k, list);
  }
  return [...out.entries()];
}

function movedLines(placements: readonly Placement[], bullet: string): string[] {
  return placements.map(
    (p) =>
      `${bullet}${p.pod} (${p.owner ?? 'bare'}) → ${p.to}, evicted ${seconds(p.evictedAfterSeconds)}${p.note ? `; ${p.note}` : ''}`,
  );
}

function pendingLines(pending: readonly PendingPod[], bullet: string): string[] {
  return groupBy(pending, (p) => p.reason).flatMap(([reason, pods]) => [
    `${bullet}${pods.length} pod(s): ${reason}`,
    ...pods.map((p) => `${bullet === '- ' ? '  - ' : '      '}${p.pod} (${p.owner ?? 'bare'})`),
  ]);
}

function unmovedLines(pods: readonly UnmovedPod[], bullet: string): string[] {
  return groupBy(pods, (p) => p.why).flatMap(([why, list]) => [
    `${bullet}${why}: ${list.map((p) => p.pod).join(', ')}`,
  ]);
}

export function renderWhatIf(p: NodeLossPrediction, format: OutputFormat, source: string): string {
  if (format === 'json') return JSON.stringify({ source, ...p }, null, 2) + '\n';
  const md = format === 'md';
  const table = (header: readonly string[], rows: readonly (readonly string[])[]) =>
    md
      ? markdownTable(
          header.map((h) => h.toLowerCase()),
          rows,
        )
      : textTable(header, rows);
  const out: string[] = [];
  const heading = (text: string) => out.push(md ? `### ${text}\n` : `${text}\n`);
  const names = p.failed.join(', ');
  out.push(
    md
      ? `## What if ${names} ${p.failed.length === 1 ? 'dies' : 'die'}?\n`
      : `What if ${names} ${p.failed.length === 1 ? 'dies' : 'die'}? (cluster from ${source})\n`,
  );
  out.push(
    'Predicted as Kubernetes handles a node that goes dark: tainted unreachable, its pods evicted after their tolerationSeconds and recreated by their controllers, placed by a kube-scheduler-like model (filters, then LeastAllocated). Requests / limits as % of allocatable.\n',
  );
  heading(p.failed.length === 1 ? 'Failed node, before' : 'Failed nodes, before');
  out.push(
    table(
      ['NODE', 'CPU req / lim', 'MEMORY req / lim', 'DISK req / lim', 'GPU', 'MIG', 'PODS'],
      p.failedBefore.map((c) => capacityRow(c, md).slice(0, 7)),
    ),
  );
  heading(`Survivors, before → after`);
  out.push(
    table(
      ['NODE', 'CPU req / lim', 'MEMORY req / lim', 'DISK req / lim', '+PODS', 'NEW FLAGS'],
      p.survivors.map((s) => [
        s.node + (s.after.unschedulable ? ' (cordoned)' : ''),
        arrow(s.before, s.after, 'cpu', md),
        arrow(s.before, s.after, 'memory', md),
        arrow(s.before, s.after, 'ephemeral-storage', md),
        `+${s.podsAdded}`,
        s.newFlags.length === 0 ? '-' : s.newFlags.map(shortFlag).join('; '),
      ]),
    ),
  );
  const bullet = md ? '- ' : '  ';
  const section = (title: string, lines: string[]) => {
    if (lines.length === 0) return;
    heading(title);
    out.push(lines.join('\n') + '\n');
  };
  section(`Moved (${p.placements.length})`, movedLines(p.placements, bullet));
  section(`Pending (${p.pending.length})`, pendingLines(p.pending, bullet));
  section(`Lost (${p.lost.length})`, unmovedLines(p.lost, bullet));
  section(`Staying on the dead node (${p.staying.length})`, unmovedLines(p.staying, bullet));
  heading('Capacity guard');
  out.push(
    p.overThreshold.length === 0
      ? p.pending.length === 0
        ? `The survivors absorb the loss within the thresholds (${thresholdsLine(p.thresholds)}).\n`
        : `No survivor that receives pods goes over the thresholds (${thresholdsLine(p.thresholds)}), but ${p.pending.length} pod(s) have nowhere to go (Pending above).\n`
      : `The loss leaves ${new Set(p.overThreshold.map((o) => o.node)).size} survivor(s) that receive pods over the thresholds (${thresholdsLine(p.thresholds)}):\n` +
          p.overThreshold
            .map(
              (o) =>
                `${bullet}${o.node}: ${o.flag.resource} ${o.flag.measure} ${pct(o.beforePct)} → ${pct(o.flag.pct)} (> ${o.flag.thresholdPct}%${o.crossed ? ', crossed by the loss' : ''})`,
            )
            .join('\n') +
          '\n',
  );
  return out.join('\n');
}

function workloadTitle(w: MigWorkload): string {
  const gpu = Object.entries(w.gpu)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  return `${w.owner.kind} ${w.owner.name} — ${w.pods.length} pod(s), ${gpu}, QoS ${w.qosClass}, ${w.priorityClassName ? `PriorityClass ${w.priorityClassName}` : 'no PriorityClass'}`;
}

export function renderMigAudit(audit: MigAudit, format: OutputFormat, source: string): string {
  if (format === 'json') return JSON.stringify({ source, ...audit }, null, 2) + '\n';
  const md = format === 'md';
  const workloads = audit.namespaces.reduce((n, ns) => n + ns.workloads.length, 0);
  const out: string[] = [];
  out.push(
    md
      ? `## MIG/GPU workload audit\n\n${audit.gpuPods} GPU/MIG pod(s) in ${source}: ${audit.compliantPods} compliant, ${workloads} workload(s) to fix.\n`
      : `MIG/GPU workload audit of ${source}: ${audit.gpuPods} GPU/MIG pod(s), ${audit.compliantPods} compliant, ${workloads} workload(s) to fix\n`,
  );
  for (const { namespace, workloads: list } of audit.namespaces) {
    out.push(md ? `### Namespace ${namespace}\n` : `namespace ${namespace}`);
    for (const w of list) {
      const lines: string[] = [];
      lines.push(md ? `#### ${workloadTitle(w)}\n` : `  ${workloadTitle(w)}`);
      lines.push(...w.findings.map((f) => `${md ? '- ' : '    - '}${f.message}`));
      lines.push(md ? `\n**Fix:** ${w.fix.summary}.` : `    fix: ${w.fix.summary}`);
      const patch = stringify(w.fix.patch, { lineWidth: 0 }).trimEnd();
      const apply = w.fix.command ? `# ${w.fix.command}\n` : '';
      if (md) {
        lines.push('', '```yaml', apply + patch, '```');
        lines.push(...w.fix.notes.map((n) => `- ${n}`));
      } else {
        lines.push(
          ...(apply + patch).split('\n').map((l) => `      ${l}`),
          ...w.fix.notes.map((n) => `    note: ${n}`),
        );
      }
      out.push(lines.join('\n') + '\n');
    }
  }
  if (workloads === 0) out.push(md ? 'Nothing to fix.\n' : 'Nothing to fix.\n');
  return out.join('\n');
}
