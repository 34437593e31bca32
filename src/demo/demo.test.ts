import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mttrSeconds, type Incident } from '../core/incident.ts';
import { DEFAULT_DEMO, runDemo } from './demo.ts';

describe('demo', () => {
  it('seed: one node incident on the MIG node, detected within seconds, resolved after it comes back', async () => {
    const lines: string[] = [];
    const { incidents } = await runDemo({ ...DEFAULT_DEMO, speed: 600 }, (l) => lines.push(l));
    expect(incidents).toHaveLength(1);
    const [incident] = incidents;
    expect(incident?.kind).toBe('node');
    expect(incident?.nodes).toEqual(['tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq']);
    expect(incident?.status).toBe('resolved');
    const mttd =
      (Date.parse(incident?.openedAt ?? '') - Date.parse(incident?.lastHeartbeatAt ?? '')) / 1000;
    expect(mttd).toBeLessThan(15);
    expect(lines.join('\n')).toMatch(/12:58:\d\d KST {2}INCIDENT {2}opened/);
    expect(lines.join('\n')).toMatch(/summary: .*MTTD.*MTTR/);
  }, 60_000);

  it('seed: the remediation ladder (mode auto) reboots the node through FakeCloud and it comes back', async () => {
    const lines: string[] = [];
    const { incidents, remediations } = await runDemo({ ...DEFAULT_DEMO, speed: 600 }, (l) =>
      lines.push(l),
    );
    expect(remediations).toHaveLength(1);
    const [r] = remediations;
    expect(r?.mode).toBe('auto');
    expect(r?.status).toBe('succeeded');
    expect(r?.steps.filter((s) => s.status === 'succeeded').map((s) => s.step)).toEqual([
      'capture-console',
      'cordon',
      'soft-reboot',
      'remove-taints',
    ]);
    expect(incidents[0]?.status).toBe('resolved');
    // Back after the 60 s boot, resolved after the 60 s stable period: minutes, not the seed's hours.
    expect(mttrSeconds(incidents[0] as Incident)).toBeLessThan(4 * 60);
    expect(lines.join('\n')).toMatch(/remediate soft-reboot +started +SOFT reboot/);
    expect(lines.join('\n')).toMatch(/Remediation \(auto\): succeeded/);
  }, 60_000);

  it('seed: the incident is diagnosed at open as NODE_HALTED and its reports are written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nw-demo-test-'));
    try {
      const lines: string[] = [];
      const { reports } = await runDemo({ ...DEFAULT_DEMO, speed: 600, reportDir: dir }, (l) =>
        lines.push(l),
      );
      expect(reports).toHaveLength(1);
      const [report] = reports;
      expect(report?.rootCause).toBe('NODE_HALTED');
      expect(report?.totalMs).toBeLessThanOrEqual(15_000);
      const text = lines.join('\n');
      for (const source of ['kubernetes', 'network', 'cloud', 'gpu', 'kernel', 'cni', 'impact']) {
        expect(text).toMatch(new RegExp(`diagnose  ${source} +ok`));
      }
      expect(text).toMatch(/VERDICT {3}NODE_HALTED/);
      expect(text).toMatch(
        new RegExp(`summary: node incident ${report?.incidentId}.*Verdict NODE_HALTED`),
      );
      expect(text).toContain(`report: ${report?.en}`);
      for (const path of [report?.en ?? '', report?.ko ?? '']) {
        expect(path.startsWith(dir)).toBe(true);
        const body = await readFile(path, 'utf8');
        expect(body).toContain('10.62.0.30');
        expect(body).toContain('12:58');
        expect(body).toContain('NODE_HALTED');
      }
      const en = await readFile(report?.en ?? '', 'utf8');
      expect(en).toContain('0% → 45.5%');
      expect(JSON.parse(await readFile(report?.json ?? '', 'utf8'))).toMatchObject({
        verdict: { rootCause: 'NODE_HALTED' },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('storm: three nodes cut together make one partition incident and no node incident', async () => {
    const { incidents, reports, remediations } = await runDemo(
      { ...DEFAULT_DEMO, scenario: 'storm', speed: 600 },
      () => undefined,
    );
    expect(incidents.map((i) => i.kind)).toEqual(['partition']);
    expect(incidents[0]?.nodes).toHaveLength(3);
    expect(reports.map((r) => r.rootCause)).toEqual(['CONTROL_PLANE_SIDE']);
    // A partition is never remediated: nothing was rebooted.
    expect(remediations).toEqual([]);
  }, 60_000);

  it('kubelet: a node incident for the MIG node', async () => {
    const { incidents, reports } = await runDemo(
      { ...DEFAULT_DEMO, scenario: 'kubelet', speed: 600 },
      () => undefined,
    );
    expect(incidents.map((i) => i.kind)).toEqual(['node']);
    expect(reports.map((r) => r.rootCause)).toEqual(['KUBELET_DOWN']);
  }, 60_000);
});
