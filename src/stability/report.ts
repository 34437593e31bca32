/**
 * A stability test's report: a per-second time series of GPU memory against
 * probe loss and latency, and the result as Markdown, JSON and an SVG chart
 * (GPU memory line, the node's loss as red bars, step boundaries, the step
 * where trouble began shaded). Pure string building.
 */
import type { Layer } from '../core/probe.ts';
import { STABILITY_LAYERS } from '../core/stability.ts';
import type { StabilityRun } from './run.ts';

export interface SeriesPoint {
  /** Seconds after the start (bucket start). */
  readonly t: number;
  readonly gpuPercent: number | null;
  /** Node's loss % over all layers in the bucket; null when nothing was probed. */
  readonly lossPct: number | null;
  readonly latencyMs: Readonly<Partial<Record<Layer, number>>>;
}

/** One point per second: GPU memory (last sample), the node's loss, its worst latency per layer. */
export function timeSeries(run: StabilityRun, bucketMs = 1_000): SeriesPoint[] {
  const end = Math.max(0, ...run.probes.map((p) => p.atMs), ...run.gpu.map((g) => g.atMs));
  const points: SeriesPoint[] = [];
  let gpuNow: number | null = null;
  for (let from = 0; from <= end; from += bucketMs) {
    const to = from + bucketMs;
    const g = run.gpu.filter((x) => x.atMs >= from && x.atMs < to && x.percent !== null);
    if (g.length > 0) gpuNow = g[g.length - 1]?.percent ?? gpuNow;
    const p = run.probes.filter((x) => x.target === 'node' && x.atMs >= from && x.atMs < to);
    const latencyMs: Partial<Record<Layer, number>> = {};
    for (const layer of STABILITY_LAYERS) {
      const l = p
        .filter((x) => x.layer === layer && x.latencyMs !== null)
        .map((x) => x.latencyMs ?? 0);
      if (l.length > 0) latencyMs[layer] = Math.round(Math.max(...l) * 10) / 10;
    }
    points.push({
      t: from / 1000,
      gpuPercent: gpuNow === null ? null : Math.round(gpuNow * 10) / 10,
      lossPct:
        p.length === 0 ? null : Math.round((1000 * p.filter((x) => !x.ok).length) / p.length) / 10,
      latencyMs,
    });
  }
  return points;
}

/** What the store and the dashboard keep: the result and the series, without the raw probes. */
export function stabilityReportJson(run: StabilityRun): Record<string, unknown> {
  return {
    kind: 'stability-test',
    node: run.node,
    reference: run.reference,
    job: run.job,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    verdict: run.result.verdict,
    summary: run.result.summary,
    troubleStep: run.result.troubleStep,
    troubleGpuPercent: run.result.troubleGpuPercent,
    aborted: run.result.aborted,
    thresholds: run.result.thresholds,
    steps: run.result.steps,
    gpuErrors: run.gpuErrors,
    cleanup: run.cleanup,
    probesRecorded: run.probes.length,
    series: timeSeries(run),
  };
}

const f1 = (n: number | null): string =>
  n === null ? '-' : Number.isInteger(n) ? String(n) : n.toFixed(1);

export function stabilityMarkdown(run: StabilityRun): string {
  const r = run.result;
  const lines = [
    `# Network stability under GPU load: ${run.node}`,
    '',
    `**${r.verdict.toUpperCase()}** — ${r.summary}`,
    '',
    `- Run: ${run.startedAt} → ${run.endedAt}, Job ${run.job} (${run.cleanup})`,
    `- Probed from this host at every layer; reference node: ${run.reference ?? 'none'}`,
    `- Thresholds: loss ≤ ${r.thresholds.maxLossPct}% per layer and step; p99 ≤ ${STABILITY_LAYERS.map((l) => `${l} ${r.thresholds.maxP99Ms[l] ?? '-'} ms`).join(', ')}; down = ${r.thresholds.downAfter} failures in a row`,
    ...(r.aborted ? [`- Load stopped early: ${r.aborted}`] : []),
    ...(run.gpuErrors.length > 0 ? [`- GPU sampling: ${run.gpuErrors.join('; ')}`] : []),
    '',
    '| step | window (s) | GPU planned | GPU measured | loss L2/L3/L4/L7 | p99 ms L2/L3/L4/L7 | problems |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const s of r.steps) {
    const per = (fn: (l: (typeof s.layers)[number]) => string) =>
      STABILITY_LAYERS.map((layer) => {
        const l = s.layers.find((x) => x.layer === layer);
        return l === undefined ? '-' : fn(l);
      }).join(' / ');
    const mark = s.step.index === r.troubleStep ? ' ⚠' : '';
    lines.push(
      `| ${s.step.index === 0 ? 'baseline' : s.step.index}${mark} | ${f1(s.step.startMs / 1000)}–${f1(s.step.endMs / 1000)} | ${f1(s.step.fromPercent)}→${f1(s.step.toPercent)}% | ${s.gpuMinPercent === null ? '-' : `${f1(s.gpuMinPercent)}–${f1(s.gpuMaxPercent)}%`} | ${per((l) => `${f1(l.lossPct)}%`)} | ${per((l) => f1(l.p99Ms))} | ${s.problems.join('; ') || '-'} |`,
    );
  }
  lines.push('', '![GPU memory vs probe loss](stability.svg)', '');
  return lines.join('\n');
}

/** GPU memory (blue line, left axis %) and the node's probe loss (red bars, same 0–100 scale) over time. */
export function stabilitySvg(run: StabilityRun): string {
  const series = timeSeries(run);
  const W = 800;
  const H = 300;
  const m = { l: 50, r: 20, t: 30, b: 40 };
  const span = Math.max(1, series.length);
  const x = (t: number) => m.l + ((W - m.l - m.r) * t) / span;
  const y = (pct: number) => H - m.b - ((H - m.t - m.b) * pct) / 100;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(`${run.node}: ${run.result.summary}`)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  const trouble = run.result.steps.find((s) => s.step.index === run.result.troubleStep);
  if (trouble) {
    const a = x(trouble.step.startMs / 1000);
    parts.push(
      `<rect x="${a.toFixed(1)}" y="${m.t}" width="${(x(trouble.step.endMs / 1000) - a).toFixed(1)}" height="${H - m.t - m.b}" fill="#fde2e2"/>`,
    );
  }
  for (const pct of [0, 25, 50, 75, 100]) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(pct)}" y2="${y(pct)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y(pct) + 4}" text-anchor="end">${pct}%</text>`);
  }
  for (const s of run.result.steps) {
    const sx = x(s.step.startMs / 1000).toFixed(1);
    parts.push(
      `<line x1="${sx}" x2="${sx}" y1="${m.t}" y2="${H - m.b}" stroke="#999" stroke-dasharray="3,3"/>`,
    );
    parts.push(
      `<text x="${sx}" y="${m.t - 6}" fill="#555">${s.step.index === 0 ? 'base' : `step ${s.step.index}`}</text>`,
    );
  }
  const bar = Math.max(1, (W - m.l - m.r) / span - 1);
  for (const p of series) {
    if (p.lossPct === null || p.lossPct === 0) continue;
    parts.push(
      `<rect x="${x(p.t).toFixed(1)}" y="${y(p.lossPct).toFixed(1)}" width="${bar.toFixed(1)}" height="${(y(0) - y(p.lossPct)).toFixed(1)}" fill="#d33" opacity="0.7"/>`,
    );
  }
  const line = series
    .filter((p) => p.gpuPercent !== null)
    .map((p) => `${x(p.t + 0.5).toFixed(1)},${y(p.gpuPercent ?? 0).toFixed(1)}`)
    .join(' ');
  if (line !== '')
    parts.push(`<polyline points="${line}" fill="none" stroke="#1f6fd1" stroke-width="2"/>`);
  parts.push(
    `<text x="${m.l}" y="${H - 10}">seconds 0–${span}</text>`,
    `<text x="${W - m.r}" y="${H - 10}" text-anchor="end"><tspan fill="#1f6fd1">— GPU memory %</tspan>  <tspan fill="#d33">▮ probe loss % (node, all layers)</tspan></text>`,
    `<text x="${m.l}" y="14" font-weight="bold">${esc(`${run.node} — ${run.result.verdict.toUpperCase()}`)}</text>`,
    '</svg>',
  );
  return parts.join('\n') + '\n';
}

function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}
