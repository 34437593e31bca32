import { describe, expect, it } from 'vitest';
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
    expect(lines.join('\n')).toMatch(/summary: .*MTTD .*MTTR/);
  }, 60_000);

  it('storm: three nodes cut together make one partition incident and no node incident', async () => {
    const { incidents } = await runDemo(
      { ...DEFAULT_DEMO, scenario: 'storm', speed: 600 },
      () => undefined,
    );
    expect(incidents.map((i) => i.kind)).toEqual(['partition']);
    expect(incidents[0]?.nodes).toHaveLength(3);
  }, 60_000);

  it('kubelet: a node incident for the MIG node', async () => {
    const { incidents } = await runDemo(
      { ...DEFAULT_DEMO, scenario: 'kubelet', speed: 600 },
      () => undefined,
    );
    expect(incidents.map((i) => i.kind)).toEqual(['node']);
  }, 60_000);
});
