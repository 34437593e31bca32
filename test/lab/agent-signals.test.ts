import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { GpuSampleResult } from '../../src/gpu/gpu-sampler.ts';
import { loadDiagnosis } from '../../src/diagnose/stored.ts';
import { openStore } from '../../src/store/open.ts';
import type { LastWords } from '../../src/store/port.ts';
import {
  logLines,
  opened,
  startController,
  stopController,
  type Controller,
} from './controller-process.ts';
import { BYSTANDER, labStatus, MIG, nodewardenOk, OBSERVER } from './lab-harness.ts';
import { until } from '../support/until.ts';

/**
 * What the lab's agents tell a controller in the hub (agent API on :9464),
 * read back from the controller's own store and log:
 * - the MIG node's GPU ramp 0 → 45.5 % (its GPU simulator, read by its agent
 *   with --dcgm) and an Xid 79 kernel line arrive as last words before its
 *   link is cut;
 * - the diagnosis at incident open reads that ramp back from the lab's
 *   Prometheus (a --cloud lab controller uses it without --prometheus);
 * - link-down: its observers fail it at L2/L3 within seconds and the
 *   controller marks it Suspect/Down from the mesh long before its Lease
 *   (40 s) expires;
 * - a partition from two observers: the controller's record of the Suspect
 *   names who cannot reach the node and who can.
 */
const lab = inject('lab');
const MIG_NODE = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';
const XID_79 =
  "NVRM: Xid (PCI:0000:3b:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.";
/** The agent's defaults for a priority (MIG) target: 500 ms interval, 1 s L4, 2 s full probe. */
const PROBE_ROUND_MS = 500 + 1_000 + 2_000;
const LEASE_DURATION_MS = 40_000;

let dir = '';
let c: Controller | null = null;

/** GI 7's framebuffer use in each stored GPU sample, oldest first. */
function gi7Series(words: readonly LastWords[]): { at: string; percent: number }[] {
  return words
    .filter((w) => w.kind === 'gpu-samples')
    .flatMap((w) => {
      const sample = w.data as unknown as GpuSampleResult;
      if (!sample.ok) return [];
      const gi7 = sample.snapshot.instances.find((i) => i.gpu === 0 && i.gpuInstanceId === 7);
      const percent = gi7?.memory.usedPercent;
      return percent === null || percent === undefined ? [] : [{ at: w.at, percent }];
    })
    .sort((a, b) => a.at.localeCompare(b.at));
}

async function lastWords(db: string, sinceMs: number): Promise<LastWords[]> {
  const store = await openStore(`sqlite:${db}`);
  try {
    return await store.lastWords(MIG_NODE, new Date(sinceMs).toISOString());
  } finally {
    await store.close();
  }
}

function healthLines(controller: Controller): Record<string, unknown>[] {
  return logLines(controller, 'node health').filter((l) => l['node'] === MIG_NODE);
}

describe.skipIf(lab.skip !== null)('agent signals through the lab controller', () => {
  let db = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodewarden-agent-signals-'));
    db = join(dir, 'signals.db');
    const status = await labStatus(lab.dir);
    if (!status.controlPlane) throw new Error('the shared lab has no control plane');
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
    await nodewardenOk(lab.dir, ['lab', 'gpu', MIG, 'set', '0']);
    c = startController({
      hub: status.hub.namespace,
      kubeconfig: status.controlPlane.labAdminKubeconfig,
      identity: 'signals',
      store: `sqlite:${db}`,
      // --cloud lab: the lab's controller, which reads GPU history from the lab's Prometheus.
      extra: [
        '--listen',
        ':9464',
        '--agent-token-file',
        join(lab.dir, 'token'),
        '--cloud',
        'lab',
        '--lab-dir',
        lab.dir,
      ],
    });
    const controller = c;
    await until('leader', 30_000, () => controller.logs().includes('became leader'));
    // Agents poll their plan every 10 s; the MIG node's agent pushes last words every 5 s.
    const since = Date.now();
    await until(
      'the MIG agent pushing last words',
      30_000,
      async () => (await lastWords(db, since - 60_000)).length > 0,
    );
    await new Promise((r) => setTimeout(r, 10_000));
  }, 120_000);

  afterEach(async () => {
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
  });

  afterAll(async () => {
    if (c) await stopController(c);
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
    await nodewardenOk(lab.dir, ['lab', 'gpu', MIG, 'set', '0']);
    await rm(dir, { recursive: true, force: true });
  });

  it('a partition from two observers: the Suspect record names who cannot reach the node and who can', async () => {
    const controller = c!;
    const before = healthLines(controller).length;
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'partition', `${OBSERVER},${BYSTANDER}`]);
    const suspect = await until('Suspect naming both cut observers', 30_000, () => {
      const line = healthLines(controller)
        .slice(before)
        .find((l) => l['to'] === 'Suspect');
      return line ?? null;
    });
    process.stderr.write(`partition: ${JSON.stringify(suspect).slice(0, 800)}\n`);
    const cannot = (suspect['cannotReach'] as string[]).join(' | ');
    const reach = (suspect['reach'] as string[]).join(' ');
    expect(cannot).toContain(OBSERVER);
    expect(cannot).toContain(BYSTANDER);
    expect(cannot).toMatch(/\(L[23]: /);
    // The two others (and possibly the controller) still reach it; the cut ones do not.
    expect(reach).toMatch(/pkmt5|wn4gb/);
    expect(reach).not.toContain(OBSERVER);
    expect(reach).not.toContain(BYSTANDER);
    // Reachable from the rest and renewing its Lease: Suspect, never Down, no incident —
    // watched over two and a half renew periods (a Lease just past 10 s once made it Down).
    await new Promise((r) => setTimeout(r, 25_000));
    const after = healthLines(controller).slice(before);
    expect(
      after.map((l) => l['to']),
      JSON.stringify(after).slice(0, 2_000),
    ).not.toContain('Down');
    expect(opened(controller)).toBe(false);
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG, 'partition']);
    await until('Healthy again after heal', 60_000, () =>
      healthLines(controller)
        .slice(before)
        .some((l) => l['to'] === 'Healthy')
        ? true
        : null,
    );
  }, 120_000);

  it('the GPU ramp 0 → 45.5 % and an Xid 79 line reach the controller before the cut; the mesh flags the cut within seconds', async () => {
    const controller = c!;
    const rampAt = Date.now();
    await nodewardenOk(lab.dir, ['lab', 'gpu', MIG, 'ramp', '0', '45.5', '--over', '20s']);
    await nodewardenOk(lab.dir, ['lab', 'kmsg', MIG, XID_79]);
    await until('GI 7 at 45.5 % stored as last words', 60_000, async () => {
      const series = gi7Series(await lastWords(db, rampAt - 1_000));
      return series.some((s) => s.percent >= 45);
    });
    const before = healthLines(controller).length;
    const cutAt = Date.now();
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'link-down']);
    await until('incident opened', 60_000, async () => {
      const store = await openStore(`sqlite:${db}`);
      try {
        const incidents = await store.listIncidents({ node: MIG_NODE });
        return incidents.some((i) => Date.parse(i.openedAt) >= cutAt);
      } finally {
        await store.close();
      }
    });

    const words = await lastWords(db, rampAt - 1_000);
    const series = gi7Series(words).filter((s) => Date.parse(s.at) < cutAt);
    process.stderr.write(
      `last words before the cut: GI 7 ${series.map((s) => `${s.percent.toFixed(1)}%`).join(' → ')}\n`,
    );
    // The ramp itself, not only its end: a low start, a point on the way, 45.5 % at the end.
    expect(series.length).toBeGreaterThanOrEqual(3);
    expect(series[0]!.percent).toBeLessThan(20);
    expect(series.some((s) => s.percent > 5 && s.percent < 40)).toBe(true);
    expect(series.at(-1)!.percent).toBeCloseTo(45.5, 0);
    for (let i = 1; i < series.length; i++)
      expect(series[i]!.percent).toBeGreaterThanOrEqual(series[i - 1]!.percent);
    const xid = words.find(
      (w) => w.kind === 'kernel-log' && JSON.stringify(w.data).includes('fallen off the bus'),
    );
    expect(xid, JSON.stringify(words.map((w) => w.kind))).toBeDefined();
    expect(Date.parse(xid!.at)).toBeLessThan(cutAt);
    expect(JSON.stringify(xid!.data)).toContain('gpu.xid.79');

    // The mesh: observers fail it at L2/L3, and the controller acts on that alone.
    const flagged = healthLines(controller)
      .slice(before)
      .find((l) => l['to'] === 'Suspect' || l['to'] === 'Down');
    expect(flagged, JSON.stringify(healthLines(controller)).slice(-3000)).toBeDefined();
    const store = await openStore(`sqlite:${db}`);
    try {
      const incident = (await store.listIncidents({ node: MIG_NODE })).find(
        (i) => Date.parse(i.openedAt) >= cutAt,
      );
      const suspect = incident?.timeline.find((e) => e.kind === 'suspect');
      expect(suspect?.message).toMatch(/observers fail it at L[23]/);
      const suspectMs = Date.parse(suspect!.at) - cutAt;
      const lastRenew = Date.parse(incident!.lastHeartbeatAt ?? '');
      process.stderr.write(
        `link-down → Suspect from the mesh after ${(suspectMs / 1000).toFixed(1)} s (probe round ${PROBE_ROUND_MS / 1000} s); ` +
          `Lease would expire ${((lastRenew + LEASE_DURATION_MS - cutAt) / 1000).toFixed(1)} s after the cut; ${suspect!.message.slice(0, 300)}\n`,
      );
      const cannot = flagged!['cannotReach'] as string[];
      expect(cannot.filter((o) => /\(L[23]: /.test(o)).length).toBeGreaterThanOrEqual(2);
      // Seconds after the cut (a probe round is the next tick, the L4 timeout and the full L2–L7 probe) …
      expect(suspectMs).toBeLessThan(20_000);
      // … and before the Lease could have expired.
      expect(Date.parse(suspect!.at)).toBeLessThan(lastRenew + LEASE_DURATION_MS);
    } finally {
      await store.close();
    }

    // The diagnosis at open read the GPU history from the lab's Prometheus, which saw the ramp.
    const diagnosed = await until('the incident diagnosed', 60_000, () => {
      const line = logLines(controller, 'incident diagnosed').find((l) => l['node'] === MIG_NODE);
      return line ?? null;
    });
    const audit = await openStore(`sqlite:${db}`);
    try {
      const stored = await loadDiagnosis(audit, String(diagnosed['incident']));
      const gpu = stored.evidence.find((e) => e.source === 'gpu');
      process.stderr.write(`GPU evidence at open: ${gpu?.summary ?? 'none'}\n`);
      expect(logLines(controller, 'gpu history')[0]).toMatchObject({
        prometheus: 'http://10.62.0.1:9090',
        from: 'lab state',
      });
      expect(gpu?.status).toBe('ok');
      expect(gpu?.summary).toMatch(/^Prometheus \(DCGM\): 7 series \(GPU 0 MIG 7 /);
      const data = gpu?.status === 'ok' && gpu.source === 'gpu' ? gpu.data : null;
      expect(data?.origin).toBe('dcgm');
      expect(data?.fallback).toBeUndefined();
      const gi7 = data?.series.find((s) => s.migInstance === '7');
      const points = gi7?.points ?? [];
      // Each point is the last scrape of its 15 s step, stamped at the step's end: the one
      // at or before the ramp's start holds only the idle GPU; a later one holds 45.5 %.
      const before = points.filter((p) => Date.parse(p.at) <= rampAt).at(-1);
      const after = points.filter((p) => Date.parse(p.at) > rampAt).map((p) => p.usedPct);
      expect(before?.usedPct, JSON.stringify(points)).toBeLessThan(1);
      expect(Math.max(...after), JSON.stringify(points)).toBeCloseTo(45.5, 0);
    } finally {
      await audit.close();
    }
  }, 180_000);
});
