import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AgentMetrics } from '../../src/agent/agent-metrics.ts';
import {
  DEFAULT_CONTROLLER_OPTIONS,
  startController,
  type RunningController,
} from '../../src/controller/controller.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { runCommand } from '../../src/host/command.ts';
import { startFakeApiServer, type FakeApiServer } from '../fixtures/audit/fake-api-server.ts';
import { chartDir, repoRoot } from '../support/helm.ts';

/**
 * The alert rules and the Grafana dashboard: promtool checks and unit-tests
 * the rules (Debian's `prometheus` package), and every metric a rule or a
 * panel queries is one the code exports — read from a real controller's
 * /metrics (against a loopback API server) and a real agent registry, not
 * from a list kept by hand.
 */

const RULES = join(chartDir, 'files/prometheus-rules.yaml');
const RULES_TEST = join(repoRoot, 'deploy/prometheus/rules.test.yaml');
const DASHBOARD = join(chartDir, 'files/grafana-dashboard.json');
const RUNBOOK = join(repoRoot, 'docs/runbook.md');

const PROMTOOL = '/usr/bin/promtool';
const hasPromtool = existsSync(PROMTOOL);
if (!hasPromtool && process.env['CI'] === 'true') {
  throw new Error(`${PROMTOOL} is missing: CI installs Debian's prometheus package (.ci/run)`);
}

interface Rule {
  readonly alert?: string;
  readonly expr: string;
  readonly annotations?: Record<string, string>;
}
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups
  .flatMap((g) => g.rules)
  .filter((r) => r.alert !== undefined);

interface Panel {
  readonly title?: string;
  readonly type: string;
  readonly targets?: { expr: string }[];
  readonly datasource?: unknown;
}
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };

/** The metric names a PromQL expression reads (strings, label matchers and label lists removed). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...new Set(bare.match(/\bnodewarden_[a-z0-9_]+\b/g) ?? [])];
}

describe.skipIf(!hasPromtool)('alert rules (promtool)', () => {
  it('promtool check rules accepts the file', async () => {
    const r = await runCommand(PROMTOOL, ['check', 'rules', RULES], { timeoutMs: 30_000 });
    expect(r.stdout + r.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.code).toBe(0);
  });

  it('promtool test rules passes (deploy/prometheus/rules.test.yaml)', async () => {
    const r = await runCommand(PROMTOOL, ['test', 'rules', RULES_TEST], { timeoutMs: 60_000 });
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('every alert has a unit test', () => {
    const tested = readFileSync(RULES_TEST, 'utf8');
    for (const r of rules) expect(tested, r.alert).toContain(`alertname: ${r.alert ?? ''}`);
  });
});

describe('alerts and dashboard', () => {
  it("the issue's alerts exist, and each has a runbook section it links to", () => {
    const names = rules.map((r) => r.alert);
    for (const wanted of [
      'NodeWardenNodeSuspected',
      'NodeWardenNodeDown',
      'NodeWardenIncidentOpen',
      'NodeWardenAgentSilent',
      'NodeWardenRemediationBrakeEngaged',
      'NodeWardenRemediationFailed',
    ])
      expect(names).toContain(wanted);
    const runbook = readFileSync(RUNBOOK, 'utf8');
    for (const r of rules) {
      const alert = r.alert ?? '';
      expect(runbook, `docs/runbook.md has no "## ${alert}"`).toMatch(
        new RegExp(`^## ${alert}$`, 'm'),
      );
      expect(r.annotations?.['runbook']).toBe(`docs/runbook.md#${alert.toLowerCase()}`);
    }
  });

  it('the dashboard covers cluster health, mesh loss and detection/recovery times', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Cluster health', 'Mesh loss', 'Detection and recovery', 'Remediation']);
    const queries = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    expect(queries.some((q) => q.includes('nodewarden_incident_detection_seconds_bucket'))).toBe(
      true,
    );
    expect(queries.some((q) => q.includes('nodewarden_agent_peer_up'))).toBe(true);
    for (const p of dashboard.panels.filter((x) => x.type !== 'row'))
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });

  it('metricNames reads PromQL as the checks below need', () => {
    expect(
      metricNames(
        'sum by (le) (increase(nodewarden_x_bucket{job="a", s="nodewarden_not_me"}[5m])) and on (nodewarden_label) nodewarden_y == 1',
      ),
    ).toEqual(['nodewarden_x_bucket', 'nodewarden_y']);
  });

  describe('every metric queried is one the code exports', () => {
    let api: FakeApiServer;
    let controller: RunningController;
    const exported = new Set<string>();

    beforeAll(async () => {
      api = await startFakeApiServer([]);
      controller = await startController(
        {
          ...DEFAULT_CONTROLLER_OPTIONS,
          kubeconfig: api.kubeconfig,
          store: 'sqlite::memory:',
          listen: '127.0.0.1:0',
          identity: 'metrics-test',
          syncTimeoutMs: 15_000,
        },
        silentLogger,
      );
      const text = await (await fetch(`http://127.0.0.1:${controller.port}/metrics`)).text();
      const agent = new AgentMetrics(
        {
          backlogSize: () => 0,
          backlogCapacity: () => 10_000,
          controllerReachable: () => true,
          planTargets: () => 0,
          planFromFile: () => false,
          lastWordsPending: () => 0,
        },
        { processMetrics: true },
      );
      const all = text + '\n' + (await agent.registry.metrics());
      for (const m of all.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        const [, name = '', type] = m;
        exported.add(name);
        if (type === 'histogram')
          for (const s of ['_bucket', '_sum', '_count']) exported.add(name + s);
        if (type === 'summary') for (const s of ['_sum', '_count']) exported.add(name + s);
      }
    }, 30_000);

    afterAll(async () => {
      await controller.stop();
      await api.close();
    });

    it('reads real /metrics (the controller and the agent)', () => {
      expect(exported).toContain('nodewarden_leader');
      expect(exported).toContain('nodewarden_incident_detection_seconds_bucket');
      expect(exported).toContain('nodewarden_agent_peer_up');
    });

    it.each(rules.map((r) => [r.alert ?? '', r.expr] as const))('alert %s', (_, expr) => {
      const names = metricNames(expr);
      expect(names.length).toBeGreaterThan(0);
      for (const n of names) expect(exported, `${n} is not exported by the code`).toContain(n);
    });

    it.each(
      dashboard.panels
        .filter((p) => p.targets)
        .map((p) => [p.title ?? '', (p.targets ?? []).map((t) => t.expr)] as const),
    )('panel "%s"', (_, exprs) => {
      for (const expr of exprs) {
        const names = metricNames(expr);
        // `up` is Prometheus' own per-target series; everything else must be NodeWarden's.
        expect(names.length > 0 || /\bup\{job="nodewarden-/.test(expr), expr).toBe(true);
        for (const n of names) expect(exported, `${n} is not exported by the code`).toContain(n);
      }
    });
  });
});
