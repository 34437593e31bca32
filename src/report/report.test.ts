import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classify, type Verdict } from '../core/classify.ts';
import { NodeWardenError } from '../core/errors.ts';
import type { CloudData, Evidence } from '../core/evidence.ts';
import type { Incident } from '../core/incident.ts';
import { renderJson } from './json.ts';
import { renderMarkdown, SECTIONS } from './markdown.ts';
import { parseReportParts, type RemediationRecord, type ReportInput } from './report-input.ts';
import type { Lang } from './zone.ts';

const FIXTURES = new URL('../../test/fixtures/report/', import.meta.url);
const readJson = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`seed/${name}`, FIXTURES), 'utf8'));

/** When NodeWarden decided (5 s after the 13:02 KST detection) and wrote the final report. */
const DECIDED = '2025-08-25T04:02:05Z';
const GENERATED = '2025-08-25T10:46:05Z';

function seedParts() {
  return parseReportParts({
    incident: readJson('incident.json'),
    evidence: readJson('evidence.json'),
    remediation: readJson('remediation.json'),
  });
}

function seedInput(over: Partial<ReportInput> = {}): ReportInput {
  const parts = seedParts();
  const verdict = classify({ incident: parts.incident, evidence: parts.evidence, now: DECIDED });
  return { ...parts, verdict, zone: 'Asia/Seoul', generatedAt: GENERATED, ...over };
}

/** The body of one `### heading` section. */
function section(md: string, heading: string): string {
  const start = md.indexOf(`### ${heading}\n`);
  if (start < 0) throw new Error(`no section ${heading}`);
  const next = md.indexOf('\n### ', start + 4);
  return md.slice(start, next < 0 ? undefined : next);
}

describe('golden: the 2025-08-25 report, byte for byte (UPDATE_GOLDEN=1 rewrites)', () => {
  for (const lang of ['en', 'ko'] as const) {
    it(`seed.${lang}.md`, () => {
      const file = new URL(`seed.${lang}.md`, FIXTURES);
      const rendered = renderMarkdown(seedInput(), lang);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, rendered);
      expect(rendered).toBe(readFileSync(file, 'utf8'));
    });
  }
});

describe('the seed report states the seed’s facts', () => {
  it('classifies the seed as NODE_HALTED with the GPU rise as a correlation', () => {
    const v = seedInput().verdict;
    expect(v.rootCause).toBe('NODE_HALTED');
    expect(v.confidence).toBe(0.85);
    expect(v.correlations).toHaveLength(1);
    expect(v.correlations[0]).toMatchObject({ kind: 'gpu-memory-rise', fromPct: 0, toPct: 45.5 });
  });

  for (const lang of ['en', 'ko'] as const) {
    it(`${lang}: every section of the seed, once each, in the seed's order`, () => {
      const md = renderMarkdown(seedInput(), lang);
      const headings = [...md.matchAll(/^### (.+)$/gm)].map((m) => m[1]);
      expect(headings).toEqual([...SECTIONS]);
      expect(SECTIONS).toEqual([
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
      ]);
    });
  }

  const COMMON: readonly [string, readonly string[]][] = [
    ['Infrastructure Type', ['Kubernetes Cluster']],
    ['Issue Type', ['Outage/Downtime']],
    ['Severity', ['Critical - Service down, blocking all users']],
    ['Issue Description', ['tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq', '10.62.0.30', 'NODE_HALTED']],
    ['Environment Details', ['Kubernetes v1.32.6', 'Kube-OVN (Geneve)', 'Ubuntu 24.04']],
    [
      'Resource Information',
      [
        '| `tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7` | 88.9% / 340.6% | 58.7% / 149.8% |',
        '| `tkai-oks-md-0-193cfbbbb78b-5gblf-9f79t` | 90.5% / 381.3% | 57.3% / 178.6% |',
        '| `tkai-oks-md-0-193cfbbbb78b-5gblf-pkmt5` | 93.4% / 416.6% | 84.2% / 213.3% |',
        '| `tkai-oks-md-0-193cfbbbb78b-5gblf-wn4gb` | 147.9% / 601.3% | 84.1% / 357.1% |',
        'CPU requests: 14%, limits: 69%',
        'Memory requests: 7%, limits: 22%',
        '75.7%',
      ],
    ],
    [
      'Timeline',
      [
        '**2025-08-25 12:58 KST**',
        '**2025-08-25 13:02 KST**',
        '**2025-08-25 13:08 KST**',
        '**2025-08-25 16:32 KST**',
        '**2025-08-25 19:46 KST**',
        '**2025-08-25 12:57:30 KST**',
        '0% → 45.5%',
      ],
    ],
    ['Monitoring Data', ['45.5%', '75.7%', '340.6%', '601.3%']],
    [
      'Logs and Error Messages',
      [
        '`ping -c 1 -W 3 10.62.0.30` → `Destination Host Unreachable (from 10.62.0.10)`',
        '`nc -vz -w 3 10.62.0.30 10250` → `timeout after 3000 ms`',
        '`curl -sk https://10.62.0.30:10250/healthz` → `connect timeout after 3000 ms`',
        '`ip neigh show 10.62.0.30`',
        '`FAILED`',
        '`arping -c 1 -w 3 -I eth0 10.62.0.30` → `no ARP reply (kernel neighbour: FAILED)`',
        '`100.64.0.1`',
        '— OK',
        'power_state `Running`',
        'status `ACTIVE`',
      ],
    ],
    ['Troubleshooting Steps Taken', ['**13:02:02 KST**', '**13:02:03 KST**', '**13:02:05 KST**']],
    ['Root Cause Analysis', ['`NODE_HALTED`', '0.85', '`dead-cloud-running`']],
    ['Recovery Actions', ['**2025-08-25 19:46 KST**']],
  ];

  const WORDED: Readonly<Record<Lang, readonly [string, readonly string[]][]>> = {
    en: [
      [
        'Issue Description',
        ['every network layer', 'ACTIVE / Running with no stop or shutoff action'],
      ],
      [
        'Impact Assessment',
        ['10 pods displaced', 'CPU limits 340.6%–601.3%', 'memory limits 149.8%–357.1%'],
      ],
      [
        'Symptoms',
        ['`NodeNotReady`', 'No answer at any layer (L2/L3/L4/L7) from 5 of 5 vantage points'],
      ],
      ['Timeline', ['**MTTD**: 4 min', '**MTTR**: 6 h 48 min', 'correlation, causality unproven']],
      [
        'Logs and Error Messages',
        ['The reference points answered: the network infrastructure itself was healthy.'],
      ],
      ['Troubleshooting Steps Taken', ['From detection to root cause: 5.0 s.']],
      [
        'Root Cause Analysis',
        [
          'rose 0% → 45.5% in the 5 minutes before the last heartbeat',
          '— correlation, causality unproven',
          '**Correlations (not causes):**',
          'no stop/shutoff',
        ],
      ],
      [
        'Proposed Resolution',
        ['**Immediate:**', '**Long term:**', 'console log before any reboot'],
      ],
      ['Recovery Actions', ['MTTR 6 h 48 min']],
      ['Additional Context', ['3 h 24 min', 'causality is unproven']],
    ],
    ko: [
      ['Issue Description', ['전 계층 응답 없음', 'stop/shutoff 이력 없음', '인과관계는 미확정']],
      [
        'Impact Assessment',
        ['파드 10개', 'CPU limits 340.6%~601.3%', 'Memory limits 149.8%~357.1%'],
      ],
      ['Symptoms', ['`NodeNotReady` 상태로 전환', '모든 네트워크 계층에서 통신 불가']],
      ['Timeline', ['**MTTD**: 4분', '**MTTR**: 6시간 48분', '마지막 kubelet heartbeat 확인']],
      [
        'Logs and Error Messages',
        ['**네트워크 계층별 테스트 결과**', '네트워크 인프라 자체는 정상'],
      ],
      ['Troubleshooting Steps Taken', ['감지부터 원인 판정까지 5.0초 소요.']],
      [
        'Root Cause Analysis',
        ['0% → 45.5% 상승', '시간적 상관관계일 뿐 인과관계는 미확정', '**상관관계 (원인 아님):**'],
      ],
      ['Proposed Resolution', ['**즉시 조치:**', '**장기 대책:**']],
      ['Recovery Actions', ['**복구 조치:**', 'MTTR 6시간 48분']],
      ['Additional Context', ['3시간 24분', '인과관계는 미확정']],
    ],
  };

  for (const lang of ['en', 'ko'] as const) {
    it(`${lang}: each fact sits in its section`, () => {
      const md = renderMarkdown(seedInput(), lang);
      for (const [heading, facts] of [...COMMON, ...WORDED[lang]]) {
        const body = section(md, heading);
        for (const fact of facts) expect(body, `${heading} should contain ${fact}`).toContain(fact);
      }
    });

    it(`${lang}: the survivors' table rows keep the seed's order`, () => {
      const body = section(renderMarkdown(seedInput(), lang), 'Resource Information');
      const at = ['85zt7', '9f79t', 'pkmt5', 'wn4gb'].map((s) => body.indexOf(`5gblf-${s}\``));
      expect(at.every((i) => i > 0)).toBe(true);
      expect([...at].sort((a, b) => a - b)).toEqual(at);
    });

    it(`${lang}: the GPU rise is never called a cause`, () => {
      const md = renderMarkdown(seedInput(), lang);
      const rca = section(md, 'Root Cause Analysis');
      const verdictLine = rca.split('\n').find((l) => l.includes('NODE_HALTED')) ?? '';
      expect(verdictLine).not.toMatch(/GPU/);
      expect(md).not.toContain('GPU_FAULT');
    });
  }

  it('titles follow the seed: 2025.08.25 in Korean, 2025-08-25 in English', () => {
    expect(renderMarkdown(seedInput(), 'ko').split('\n')[0]).toBe(
      '# 2025.08.25 **노드 시스템 정지로 인한 전 계층 네트워크 단절 및 NodeNotReady 발생**',
    );
    expect(renderMarkdown(seedInput(), 'en').split('\n')[0]).toMatch(
      /^# 2025-08-25 \*\*Node halted/,
    );
  });
});

describe('report variants', () => {
  const open = (): Incident => {
    const incident = seedParts().incident;
    return {
      ...incident,
      status: 'open',
      resolvedAt: null,
      timeline: incident.timeline.filter((e) => e.kind !== 'resolved' && e.kind !== 'ready-again'),
    };
  };

  it('an open incident says it is not yet recovered, in both languages', () => {
    const input = seedInput({ incident: open() });
    const en = renderMarkdown(input, 'en');
    expect(section(en, 'Timeline')).toContain('**MTTR**: not yet recovered');
    expect(section(en, 'Recovery Actions')).toContain(
      'Not yet recovered (open since 2025-08-25 13:02 KST).',
    );
    const ko = renderMarkdown(input, 'ko');
    expect(section(ko, 'Timeline')).toContain('**MTTR**: 아직 복구되지 않음');
    expect(section(ko, 'Additional Context')).toContain('MTTR: 미복구');
  });

  it('another zone moves every time: UTC', () => {
    const md = renderMarkdown(seedInput({ zone: 'UTC' }), 'en');
    expect(section(md, 'Timeline')).toContain('**2025-08-25 03:58 UTC**: last kubelet heartbeat');
    expect(md).not.toContain('KST');
  });

  it('a zone without a table entry is labelled by Intl (EDT) or by offset', () => {
    const md = renderMarkdown(seedInput({ zone: 'America/New_York' }), 'en');
    expect(section(md, 'Timeline')).toContain('**2025-08-24 23:58 EDT**');
    const india = renderMarkdown(seedInput({ zone: 'Asia/Kathmandu' }), 'en');
    expect(section(india, 'Timeline')).toContain('**2025-08-25 09:43 UTC+5:45**');
  });

  it('an unknown zone is BAD_INPUT naming it', () => {
    let error: unknown;
    try {
      renderMarkdown(seedInput({ zone: 'Mars/Olympus' }), 'en');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NodeWardenError);
    expect((error as NodeWardenError).code).toBe('BAD_INPUT');
    expect((error as NodeWardenError).message).toContain('Mars/Olympus');
  });

  it('remediation steps are listed with times and results', () => {
    const steps: RemediationRecord[] = [
      {
        at: '2025-08-25T04:02:06Z',
        action: 'capture-console-log',
        target: 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq',
        result: 'succeeded',
        detail: 'saved 200 lines',
        actor: 'nodewarden',
      },
      {
        at: '2025-08-25T04:02:09Z',
        action: 'soft-reboot',
        target: 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq',
        result: 'refused',
        detail: 'max unhealthy reached',
        actor: 'nodewarden',
      },
    ];
    const input = seedInput({ remediation: steps });
    const en = section(renderMarkdown(input, 'en'), 'Recovery Actions');
    expect(en).toContain(
      '**2025-08-25 13:02:06 KST**: `capture-console-log` on `tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq` by nodewarden — succeeded: saved 200 lines',
    );
    expect(en).toContain('`soft-reboot`');
    expect(en).toContain('refused by a brake: max unhealthy reached');
    expect(en).not.toContain('No automatic remediation');
    const ko = renderMarkdown(input, 'ko');
    expect(section(ko, 'Recovery Actions')).toContain('안전장치로 거부됨: max unhealthy reached');
    expect(section(ko, 'Timeline')).toContain(
      '**2025-08-25 13:02:09 KST**: 복구 조치 `soft-reboot`',
    );
    expect(section(ko, 'Proposed Resolution')).not.toContain('자동 복구 활성화');
  });

  it('without cloud evidence: UNKNOWN, never NODE_HALTED, and the report says the cloud is missing', () => {
    const parts = seedParts();
    const evidence: Evidence[] = parts.evidence.map((e) =>
      e.source === 'cloud'
        ? { ...e, status: 'timeout', summary: 'Nova did not answer in 5 s', data: null }
        : e,
    );
    const verdict = classify({ incident: parts.incident, evidence, now: DECIDED });
    expect(verdict.rootCause).toBe('UNKNOWN');
    const md = renderMarkdown({ ...seedInput(), evidence, verdict }, 'en');
    expect(md).not.toContain('NODE_HALTED —');
    expect(section(md, 'Issue Description')).toContain(
      'Cloud evidence is not available (timed out: Nova did not answer in 5 s).',
    );
    expect(section(md, 'Root Cause Analysis')).toContain('**Not ruled out:** `NODE_HALTED`');
    expect(section(md, 'Proposed Resolution')).toContain('Configure the OpenStack provider');
    const ko = renderMarkdown({ ...seedInput(), evidence, verdict }, 'ko');
    expect(section(ko, 'Root Cause Analysis')).toContain('**현재 상태:** 원인 미확정');
  });

  it('a Nova power-sync stop is attributed to Nova, not a person', () => {
    const parts = seedParts();
    const evidence = parts.evidence.map((e): Evidence => {
      if (e.source !== 'cloud' || e.data === null) return e;
      const data: CloudData = {
        ...e.data,
        status: 'SHUTOFF',
        powerState: 'SHUTDOWN',
        vmState: 'stopped',
        actions: [
          ...e.data.actions,
          {
            action: 'stop',
            requestId: 'req-2',
            userId: null,
            startTime: '2025-08-25T03:58:20Z',
            message: null,
          },
        ],
      };
      return { ...e, data };
    });
    const verdict = classify({ incident: parts.incident, evidence, now: DECIDED });
    expect(verdict.rootCause).toBe('NODE_POWERED_OFF');
    const md = renderMarkdown({ ...seedInput(), evidence, verdict }, 'en');
    expect(section(md, 'Issue Description')).toContain(
      'with a `stop` by Nova’s power sync at 12:58:20 KST',
    );
    expect(section(md, 'Root Cause Analysis')).toContain('by Nova itself (user_id null');
    expect(md.split('\n')[0]).toContain('Node powered off');
  });

  it('outside text cannot break the Markdown: pipes, backticks and newlines', () => {
    const parts = seedParts();
    const evidence = parts.evidence.map((e): Evidence => {
      if (e.source !== 'kubernetes' || e.data === null) return e;
      return {
        ...e,
        data: {
          ...e.data,
          events: [
            {
              reason: 'Weird`Reason',
              message: 'a | b\n### injected\n*bold*',
              type: 'Warning',
              at: '2025-08-25T04:01:00Z',
              count: 2,
            },
          ],
        },
      };
    });
    const md = renderMarkdown({ ...seedInput(), evidence }, 'en');
    expect([...md.matchAll(/^### /gm)]).toHaveLength(SECTIONS.length);
    expect(section(md, 'Logs and Error Messages')).toContain(
      '13:01 KST Warning ``Weird`Reason``: a \\| b \\#\\#\\# injected \\*bold\\* (×2)',
    );
  });

  it('JSON carries the verdict, MTTD/MTTR, the survivors and both titles', () => {
    const json = JSON.parse(renderJson(seedInput())) as {
      schema: string;
      title: Record<Lang, string>;
      severity: { level: string };
      mttdSeconds: number;
      mttrSeconds: number;
      recovered: boolean;
      verdict: Verdict;
      network: { vantagePoints: number; deadEverywhere: boolean };
      impact: { podsDisplaced: number; survivors: { cpuLimits: { min: number; max: number } } };
      sections: string[];
      evidence: unknown[];
    };
    expect(json.schema).toBe('nodewarden.report/v1');
    expect(json.title.ko).toBe(
      '2025.08.25 노드 시스템 정지로 인한 전 계층 네트워크 단절 및 NodeNotReady 발생',
    );
    expect(json.severity.level).toBe('Critical');
    expect(json.mttdSeconds).toBe(240);
    expect(json.mttrSeconds).toBe(6 * 3600 + 48 * 60);
    expect(json.recovered).toBe(true);
    expect(json.verdict.rootCause).toBe('NODE_HALTED');
    expect(json.network).toMatchObject({ vantagePoints: 5, deadEverywhere: true });
    expect(json.impact.podsDisplaced).toBe(10);
    expect(json.impact.survivors.cpuLimits).toEqual({ min: 340.6, max: 601.3 });
    expect(json.sections).toEqual([...SECTIONS]);
    expect(json.evidence).toHaveLength(7);
  });
});

describe('report inputs are checked', () => {
  it('a malformed remediation record names its field', () => {
    expect(() =>
      parseReportParts({
        incident: readJson('incident.json'),
        evidence: readJson('evidence.json'),
        remediation: [{ at: 'now', action: 'x', target: 'n', result: 'succeeded', actor: 'a' }],
      }),
    ).toThrow(/remediation\[0\]\.at: "now" is not an ISO-8601 time/);
    expect(() =>
      parseReportParts({
        incident: readJson('incident.json'),
        evidence: readJson('evidence.json'),
        remediation: [
          { at: '2025-08-25T04:02:06Z', action: 'x', target: 'n', result: 'maybe', actor: 'a' },
        ],
      }),
    ).toThrow(/remediation\[0\]\.result: "maybe" is not one of/);
  });
});
