import {
  dataOf,
  EVIDENCE_SOURCES,
  vantageProbes,
  type Evidence,
} from '../../../src/core/evidence.ts';
import type { TimelineEntry } from '../../../src/core/incident.ts';
import { LAYERS } from '../../../src/core/probe.ts';
import type { IncidentDetail } from '../../../src/server/api/types.ts';
import { api, type ReportLang } from '../api.ts';
import { gpuChart, type Marker } from '../charts/gpu-chart.ts';
import { usageBars } from '../charts/usage-bars.ts';
import { h, type Child } from '../dom.ts';
import { clock, dateTime, duration, shortNode, zoneLabel } from '../format.ts';
import { parseMarkdown, section } from '../markdown.ts';
import { renderBlocks } from '../markdown-dom.ts';
import { href } from '../router.ts';
import { dataTable } from '../table.ts';
import { remediationPanel } from './remediation.ts';
import { confidenceMeter, nodeName, rootCauseMeaning, stateBadge } from '../ui.ts';
import type { Context, View } from '../view.ts';

interface Data {
  readonly detail: IncidentDetail;
  /** The report in the preview's language; null before the diagnosis. */
  readonly report: string | null;
  readonly lang: ReportLang;
}

/** The preview's language survives re-draws and incident changes. */
let previewLang: ReportLang = 'en';

const SOURCE_NAMES: Readonly<Record<Evidence['source'], string>> = {
  kubernetes: 'Kubernetes',
  network: 'Network probes',
  cloud: 'Cloud (OpenStack)',
  gpu: 'GPU (DCGM)',
  kernel: 'Kernel log',
  cni: 'CNI (Kube-OVN)',
  impact: 'Impact on the survivors',
};

/** The report section the verdict panel shows; both languages keep the seed's English headings. */
const RCA_HEADING = 'Root Cause Analysis';

async function download(id: string, lang: ReportLang, ctx: Context): Promise<void> {
  try {
    const { blob, filename } = await api.downloadReport(id, lang);
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    ctx.announce(`downloaded ${filename}`);
  } catch (error) {
    ctx.announce(`download failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function figures(d: IncidentDetail, zone: string): HTMLElement {
  const i = d.incident;
  const item = (term: string, value: Child, note?: string): HTMLElement =>
    h(
      'div',
      null,
      h('dt', null, term),
      h('dd', null, value, note === undefined ? null : h('span', { class: 'sub' }, ` ${note}`)),
    );
  return h(
    'dl',
    { class: 'figures' },
    item('Opened', dateTime(i.openedAt, zone)),
    item('Last heartbeat', dateTime(i.lastHeartbeatAt, zone)),
    item('Resolved', i.resolvedAt === null ? 'still open' : dateTime(i.resolvedAt, zone)),
    item('MTTD', duration(d.mttdSeconds), 'the seed: 4 min, noticed after 3 h 24 min'),
    item(
      'MTTR',
      d.mttrSeconds === null ? 'not yet' : duration(d.mttrSeconds),
      'the seed: 6 h 48 min',
    ),
  );
}

function verdictPanel(
  d: IncidentDetail,
  report: string | null,
  lang: ReportLang,
  zone: string,
): HTMLElement {
  const dx = d.diagnosis;
  if (dx === null)
    return h(
      'section',
      { id: 'verdict', 'aria-labelledby': 'verdict-h' },
      h('h2', { id: 'verdict-h' }, 'Verdict'),
      h('p', null, 'Diagnosing… the verdict appears here the moment it is decided.'),
    );
  const v = dx.verdict;
  // The section opens with the verdict sentence this panel already shows above it.
  const rca = (report === null ? [] : section(parseMarkdown(report), RCA_HEADING)).filter(
    (b, k) => !(k === 0 && b.kind === 'paragraph' && JSON.stringify(b).includes(v.rootCause)),
  );
  return h(
    'section',
    { id: 'verdict', 'aria-labelledby': 'verdict-h', class: 'panel' },
    h('h2', { id: 'verdict-h' }, 'Verdict'),
    h(
      'p',
      { class: 'verdict' },
      h('code', { class: 'root-cause', 'data-root-cause': v.rootCause }, v.rootCause),
      ' — ',
      rootCauseMeaning(v.rootCause),
      '.',
    ),
    h(
      'p',
      null,
      'Confidence ',
      confidenceMeter(v.confidence),
      ` · rule `,
      h('code', null, v.rule),
      ` · decided ${clock(v.decidedAt, zone)} ${zoneLabel(zone)}`,
      v.candidates.length > 0 ? ` · could also be: ${v.candidates.join(', ')}` : null,
    ),
    rca.length === 0 ? null : h('div', { class: 'report-excerpt', lang }, renderBlocks(rca, 3)),
  );
}

function timelinePanel(entries: readonly TimelineEntry[], zone: string): HTMLElement {
  const sorted = [...entries].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return h(
    'section',
    { id: 'timeline', 'aria-labelledby': 'timeline-h', class: 'panel' },
    h('h2', { id: 'timeline-h' }, 'Timeline'),
    h(
      'ol',
      { class: 'timeline' },
      sorted.map((e) =>
        h(
          'li',
          { class: `t-${e.kind}`, 'data-kind': e.kind },
          h('time', { datetime: e.at }, clock(e.at, zone)),
          h('span', { class: 'kind' }, e.kind),
          h('span', null, e.node === undefined ? '' : `${shortNode(e.node)}: `, e.message),
        ),
      ),
    ),
  );
}

function gpuPanel(d: IncidentDetail, zone: string): HTMLElement | null {
  const gpu = d.diagnosis === null ? null : dataOf(d.diagnosis.evidence, 'gpu');
  if (gpu === null || gpu.series.every((s) => s.points.length === 0)) return null;
  const i = d.incident;
  const markers: Marker[] = [
    ...(i.lastHeartbeatAt === null
      ? []
      : [{ at: i.lastHeartbeatAt, label: 'last heartbeat', tone: 'bad' as const }]),
    { at: i.openedAt, label: 'incident opened', tone: 'info' },
  ];
  return h(
    'section',
    { id: 'gpu', 'aria-labelledby': 'gpu-h', class: 'panel' },
    h('h2', { id: 'gpu-h' }, 'GPU memory around the incident'),
    gpuChart(
      gpu.series,
      markers,
      zone,
      `GPU framebuffer use (%) on ${i.nodes.join(', ')}, from ${gpu.origin === 'dcgm' ? 'DCGM via Prometheus' : 'the agent'}`,
    ),
    h(
      'p',
      { class: 'sub' },
      `Times in ${zoneLabel(zone)}. A gap is a stretch with no sample (the node could not be scraped).`,
    ),
  );
}

function survivorsPanel(d: IncidentDetail): HTMLElement | null {
  const impact = d.diagnosis === null ? null : dataOf(d.diagnosis.evidence, 'impact');
  if (impact === null || impact.survivors.length === 0) return null;
  return h(
    'section',
    { id: 'survivors', 'aria-labelledby': 'survivors-h', class: 'panel' },
    h('h2', { id: 'survivors-h' }, 'Survivors’ requests and limits'),
    h(
      'p',
      null,
      `${impact.podsDisplaced} pods displaced. Thin bars: before the failure; thick bars: after its pods moved. Past the 100% line a node has promised more than it has.`,
    ),
    usageBars(
      impact.survivors,
      'Requests and limits of the surviving nodes as % of allocatable, before and after',
    ),
  );
}

function evidenceDetail(e: Evidence, zone: string): Child {
  if (e.status !== 'ok' || e.data === null) return null;
  switch (e.source) {
    case 'network':
      return dataTable(
        ['vantage point', ...LAYERS],
        vantageProbes(e.data).map((v) => [
          `${shortNode(v.observer)}${v.observerIP === null ? '' : ` (${v.observerIP})`}`,
          ...LAYERS.map((l) => {
            const r = v.result?.layers.find((x) => x.layer === l);
            return h(
              'td',
              {
                class: `cell ${r?.status ?? 'none'}`,
                title: r === undefined ? (v.error ?? '') : `${r.command} → ${r.detail}`,
              },
              r?.status ?? '—',
            );
          }),
        ]),
        { caption: `Probes of ${e.data.target} from every vantage point`, rowHeader: true },
      );
    case 'cloud':
      return h(
        'ul',
        null,
        h(
          'li',
          null,
          `instance ${e.data.instanceId}: ${e.data.status ?? '?'} / ${e.data.powerState ?? '?'}, host ${e.data.hostStatus ?? 'unknown'}`,
        ),
        e.data.actions.map((a) =>
          h(
            'li',
            null,
            `${a.action} at ${dateTime(a.startTime, zone)} by ${a.userId ?? 'Nova itself'}`,
          ),
        ),
        e.data.ports.map((p) =>
          h('li', null, `port ${p.id}: ${p.status}, admin_state_up ${p.adminStateUp}`),
        ),
      );
    case 'kernel':
      return e.data.signatures.length === 0
        ? h('p', null, 'No known failure signature.')
        : h(
            'pre',
            null,
            e.data.signatures
              .map((s) => `${s.at ?? '(unstamped)'}  ${s.title}: ${s.line}`)
              .join('\n'),
          );
    case 'kubernetes':
      return h(
        'ul',
        null,
        e.data.conditions.map((c) =>
          h('li', null, `${c.type}=${c.status}${c.reason === undefined ? '' : ` (${c.reason})`}`),
        ),
        h(
          'li',
          null,
          `Lease ${e.data.leaseAgeSeconds === null ? 'missing' : `${duration(e.data.leaseAgeSeconds)} old`}`,
        ),
        e.data.taints.map((t) => h('li', null, `taint ${t.key}:${t.effect}`)),
      );
    case 'cni':
      return h(
        'ul',
        null,
        e.data.components.map((c) =>
          h(
            'li',
            null,
            `${c.pod} (${c.component}): ${c.restartsInWindow} restarts around the outage`,
          ),
        ),
      );
    case 'gpu':
    case 'impact':
      // Drawn as the charts above.
      return null;
  }
}

function evidencePanel(d: IncidentDetail, zone: string): HTMLElement | null {
  if (d.diagnosis === null) return null;
  const evidence = d.diagnosis.evidence;
  const relied = new Set(d.diagnosis.verdict.reliedOn.map((r) => r.source));
  return h(
    'section',
    { id: 'evidence', 'aria-labelledby': 'evidence-h', class: 'panel' },
    h('h2', { id: 'evidence-h' }, 'Evidence'),
    h(
      'ul',
      { class: 'evidence' },
      EVIDENCE_SOURCES.map((source) => {
        const items = evidence.filter((e) => e.source === source);
        const latest = items.sort((a, b) => Date.parse(b.observedAt) - Date.parse(a.observedAt))[0];
        if (latest === undefined)
          return h(
            'li',
            { 'data-source': source },
            h('strong', null, SOURCE_NAMES[source]),
            ' ',
            stateBadge('missing'),
            ' not collected',
          );
        const detail = evidenceDetail(latest, zone);
        return h(
          'li',
          { 'data-source': source },
          h(
            'details',
            { id: `ev-${source}` },
            h(
              'summary',
              null,
              h('strong', null, SOURCE_NAMES[source]),
              ' ',
              h(
                'span',
                { class: `badge ${latest.status === 'ok' ? 'good' : 'warn'}` },
                latest.status,
              ),
              relied.has(source) ? h('span', { class: 'badge info' }, 'relied on') : null,
              ` ${latest.summary}`,
            ),
            h(
              'p',
              { class: 'sub' },
              `observed ${clock(latest.observedAt, zone)} · took ${duration(latest.durationMs / 1000)}`,
            ),
            detail,
          ),
        );
      }),
    ),
  );
}

function reportPanel(
  d: IncidentDetail,
  report: string | null,
  lang: ReportLang,
  ctx: Context,
): HTMLElement {
  const id = d.incident.id;
  return h(
    'section',
    { id: 'report', 'aria-labelledby': 'report-h', class: 'panel' },
    h('h2', { id: 'report-h' }, 'Report'),
    d.reports === null
      ? h('p', null, 'The report is written when the diagnosis is done.')
      : h(
          'div',
          null,
          h(
            'p',
            { class: 'actions' },
            h(
              'button',
              {
                type: 'button',
                'data-download': 'ko',
                on: { click: () => void download(id, 'ko', ctx) },
              },
              'Download the report in Korean (한국어)',
            ),
            h(
              'button',
              {
                type: 'button',
                'data-download': 'en',
                on: { click: () => void download(id, 'en', ctx) },
              },
              'Download the report in English',
            ),
            h('a', { href: d.reports.json, download: `${id}.json` }, 'JSON'),
          ),
          h(
            'details',
            { id: 'report-preview' },
            h('summary', null, `Read the report here (${lang === 'ko' ? '한국어' : 'English'})`),
            h(
              'p',
              null,
              h(
                'button',
                {
                  type: 'button',
                  on: {
                    click: () => {
                      previewLang = lang === 'en' ? 'ko' : 'en';
                      ctx.refresh();
                    },
                  },
                },
                lang === 'en' ? '한국어로 보기' : 'Show in English',
              ),
            ),
            report === null
              ? null
              : h('article', { class: 'report', lang }, renderBlocks(parseMarkdown(report), 3)),
          ),
        ),
  );
}

function auditPanel(d: IncidentDetail, zone: string): HTMLElement | null {
  if (d.audit.length === 0) return null;
  return h(
    'section',
    { id: 'audit', 'aria-labelledby': 'audit-h', class: 'panel' },
    h('h2', { id: 'audit-h' }, 'Audit trail'),
    dataTable(
      ['When', 'Who', 'What', 'Why', 'Result', 'Took'],
      d.audit.map((a) => [
        clock(a.at, zone),
        a.actor,
        a.action,
        a.reason,
        a.result,
        duration(a.durationMs / 1000),
      ]),
    ),
  );
}

export function incidentView(id: string): View<Data> {
  return {
    name: 'incident',
    title: (data) => `Incident ${data.detail.incident.id}`,
    async load() {
      const lang = previewLang;
      const detail = await api.incident(id);
      const report = detail.reports === null ? null : await api.reportText(id, lang);
      return { detail, report, lang };
    },
    staleOn: (event) => {
      switch (event.type) {
        case 'incident':
          return event.incident.id === id;
        case 'verdict':
          return event.incidentId === id;
        case 'remediation':
          return event.incidentId === id || event.incidentId === null;
        case 'node':
        case 'hello':
        case 'tick':
          return false;
      }
    },
    render({ detail, report, lang }, ctx) {
      const i = detail.incident;
      return h(
        'div',
        { class: 'incident-page' },
        h(
          'p',
          { class: 'crumbs' },
          h('a', { href: href({ view: 'incidents' }) }, 'Incidents'),
          ' / ',
        ),
        h('h1', null, 'Incident ', h('span', { class: 'incident-id' }, i.id)),
        h(
          'p',
          { class: 'lead' },
          stateBadge(i.status),
          ` ${i.kind} incident on `,
          i.nodes.map((n, k) => [k > 0 ? ', ' : '', nodeName(n)]),
          ` — ${i.summary}`,
        ),
        figures(detail, ctx.zone),
        h(
          'div',
          { class: 'grid' },
          verdictPanel(detail, report, lang, ctx.zone),
          remediationPanel(detail, ctx),
        ),
        h(
          'div',
          { class: 'grid' },
          timelinePanel(i.timeline, ctx.zone),
          h('div', null, gpuPanel(detail, ctx.zone), survivorsPanel(detail)),
        ),
        evidencePanel(detail, ctx.zone),
        reportPanel(detail, report, lang, ctx),
        auditPanel(detail, ctx.zone),
      );
    },
  };
}
