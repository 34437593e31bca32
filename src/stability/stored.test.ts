/**
 * Stored stability tests read back from a real (in-memory SQLite) store:
 * the list the API serves, newest first and filtered; the report in each
 * format; an unknown id; the schedule's "last tested" per node.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stabilityRunFixture } from '../../test/support/stability-run.ts';
import { openStore } from '../store/open.ts';
import type { IncidentStore } from '../store/port.ts';
import { stabilityAuditRecord } from './prepare.ts';
import { lastTested, listStabilityTests, stabilityTestReport } from './stored.ts';

const at = (iso: string) => Date.parse(iso);
let store: IncidentStore;

beforeEach(async () => {
  store = await openStore('sqlite::memory:');
  const runs = [
    stabilityRunFixture('gpu-a', at('2025-08-24T03:10:00Z')),
    stabilityRunFixture('gpu-b', at('2025-08-25T03:10:00Z'), { cancelled: true }),
    stabilityRunFixture('gpu-a', at('2025-08-26T03:10:00Z')),
  ];
  for (const [i, run] of runs.entries())
    await store.appendAudit(stabilityAuditRecord(run, i === 0 ? 'user:sre' : 'controller/nw-0'));
  // Other audit records outside incidents are not stability tests.
  await store.appendAudit({
    id: 'other-1',
    incidentId: null,
    at: '2025-08-26T04:00:00Z',
    actor: 'controller/nw-0',
    action: 'cordon',
    reason: 'x',
    evidence: null,
    result: 'succeeded',
    durationMs: 1,
  });
});

afterEach(async () => {
  await store.close();
});

describe('stored stability tests', () => {
  it('lists them newest first with verdict, summary and who ran them; node and limit filter', async () => {
    const all = await listStabilityTests(store);
    expect(all.map((t) => [t.node, t.endedAt, t.verdict, t.actor])).toEqual([
      ['gpu-a', '2025-08-26T03:10:00.000Z', 'pass', 'controller/nw-0'],
      ['gpu-b', '2025-08-25T03:10:00.000Z', 'inconclusive', 'controller/nw-0'],
      ['gpu-a', '2025-08-24T03:10:00.000Z', 'pass', 'user:sre'],
    ]);
    expect(all[0]).toMatchObject({
      id: 'stability-gpu-a-2025-08-26T03:09:00.000Z',
      startedAt: '2025-08-26T03:09:00.000Z',
      troubleStep: null,
      durationMs: 60_000,
    });
    expect(all[1]?.summary).toContain('inconclusive: stopped early (cancelled)');
    expect((await listStabilityTests(store, { node: 'gpu-b' })).map((t) => t.node)).toEqual([
      'gpu-b',
    ]);
    expect(await listStabilityTests(store, { limit: 1 })).toHaveLength(1);
    expect(lastTested(all)).toEqual({
      'gpu-a': at('2025-08-26T03:10:00Z'),
      'gpu-b': at('2025-08-25T03:10:00Z'),
    });
  });

  it('returns the report as JSON, Markdown or SVG, and NOT_FOUND names an unknown id', async () => {
    const [newest] = await listStabilityTests(store);
    const id = newest?.id ?? '';
    const json = JSON.parse(await stabilityTestReport(store, id, 'json')) as Record<
      string,
      unknown
    >;
    expect(json).toMatchObject({ kind: 'stability-test', node: 'gpu-a', verdict: 'pass' });
    expect(await stabilityTestReport(store, id, 'md')).toContain(
      '# Network stability under GPU load: gpu-a',
    );
    expect(await stabilityTestReport(store, id, 'svg')).toMatch(/^<svg /);
    await expect(stabilityTestReport(store, 'stability-nope', 'json')).rejects.toThrow(
      'no stability test stability-nope',
    );
    // Ids the store could never have kept (empty, too long) are unknown too, not bad input.
    for (const bad of ['other-1', '', 'x'.repeat(300)]) {
      await expect(stabilityTestReport(store, bad, 'json')).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    }
  });
});
