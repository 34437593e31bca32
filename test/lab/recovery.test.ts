import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { NodeSnapshot } from '../../src/core/cluster.ts';
import { runCommand } from '../../src/host/command.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { kubeRequest } from '../../src/kube/http.ts';
import { toNode } from '../../src/kube/map.ts';
import { fetchIn } from '../../src/lab/netns.ts';
import { readState, vmOf } from '../../src/lab/state.ts';
import type { IncidentsView, RemediationsView } from '../../src/server/api/types.ts';
import { openStore } from '../../src/store/open.ts';
import {
  labControllerArgs,
  logLines,
  logTail,
  startController,
  stopController,
  untilWatching,
  type Controller,
} from './controller-process.ts';
import {
  inHub,
  labStatus,
  NODE,
  nodewarden,
  nodewardenOk,
  SHARED_LAB_TIMING,
  short,
} from './lab-harness.ts';
import { until } from '../support/until.ts';

/**
 * Issue #7's remediation end to end on the shared lab: a controller in the
 * hub with the agents, the lab cloud (reboots restart the node namespace's
 * link and processes after a short boot delay) and its own SQLite store per
 * case, so no brake state (back-off, storm cooldown) carries from one case to
 * the next.
 * (a) kernel-panic on the MIG node, mode auto: console saved, reboot issued
 *     through the lab cloud, node Ready again, NodeWarden's taint and cordon
 *     gone, incident resolved with its MTTR;
 * (b) three of five nodes cut at once: no reboot, no port reset; the
 *     max-unhealthy brake engaged in the API and in /metrics;
 * (c) kube-apiserver stopped (SIGSTOP) past the grace period: no action
 *     while it is away nor after it returns (stale Leases are not dead
 *     nodes); the api-unreachable brake shows in /metrics;
 * (d) mode approve: only the read-only console capture runs until a person
 *     approves through `nodewarden remediation approve`; then it proceeds.
 * After each case the lab is restored: every node healed (a reboot in
 * flight finished), Ready, without taints, uncordoned.
 */
const lab = inject('lab');

const ALL = Object.values(NODE);

/** How long a rebooted lab node stays down (the controller's --lab-boot-delay). */
const BOOT_DELAY_S = 3;
/** The controller's HTTP port inside the hub (agents post to it there). */
const API = 'http://127.0.0.1:9464';
const TAINT = 'nodewarden.io/remediating';

let dir = '';
let hub = '';
let hubIp = '';
let labKubeconfig = '';
let tokenFile = '';
let adminToken = '';
let apiserverPid = 0;
let kc: KubeConfig;
let controller: Controller | null = null;

const nodes = async (): Promise<NodeSnapshot[]> =>
  (await kubeRequest<{ items: unknown[] }>(kc, 'GET', '/api/v1/nodes', 10_000)).items.map(toNode);
const ready = (n: NodeSnapshot | undefined): string =>
  n?.conditions.find((c) => c.type === 'Ready')?.status ?? 'missing';

function start(identity: string, mode: string): Controller {
  controller = startController({
    hub,
    kubeconfig: labKubeconfig,
    identity,
    store: `sqlite:${join(dir, `${identity}.db`)}`,
    extra: labControllerArgs({
      labDir: lab.dir,
      adminTokenFile: tokenFile,
      mode,
      cloud: 'lab',
      bootDelayS: BOOT_DELAY_S,
      gateway: hubIp,
      reportDir: join(dir, 'reports'),
    }),
  });
  return controller;
}

/** GET from inside the hub (the only namespace that reaches the controller). */
async function hubGet(path: string, auth: boolean): Promise<string> {
  const got = await fetchIn(hub, API + path, 15_000, auth ? adminToken : undefined);
  if (!got.ok) throw new Error(`GET ${path} in ${hub}: ${got.error}`);
  return got.body;
}

const metrics = (): Promise<string> => hubGet('/metrics', false);
const brakeLine = (brake: string, value: 0 | 1): string =>
  `nodewarden_remediation_brake_engaged{brake="${brake}",scope="cluster",node=""} ${value}`;

/** `nodewarden remediation <args>` run inside the hub against this controller, with the admin token. */
function remediationCli(...args: string[]) {
  return runCommand(
    'ip',
    inHub(hub, ['remediation', ...args, '--controller', API, '--token-file', tokenFile]),
    { timeoutMs: 30_000 },
  );
}

async function overview(): Promise<RemediationsView> {
  const run = await remediationCli('list', '--json');
  if (run.code !== 0) throw new Error(`remediation list: ${run.stdout}${run.stderr}`);
  return JSON.parse(run.stdout) as RemediationsView;
}

/** Reboots the lab cloud recorded for `node` as asked by this controller since `sinceIso`. */
async function reboots(identity: string, node: string, sinceIso: string): Promise<number> {
  const state = await readState(lab.dir);
  const n = state?.nodes.find((x) => x.name === node);
  if (state === null || n === undefined) throw new Error(`no lab node ${node} in ${lab.dir}`);
  return vmOf(state, n).actions.filter(
    (a) =>
      a.action === 'reboot' &&
      a.userId === `nodewarden-controller/${identity}` &&
      a.startTime >= sinceIso,
  ).length;
}

/** The controller's `remediation` log lines for `node` (one per recorded event). */
const events = (c: Controller, node: string): string[] =>
  logLines(c, 'remediation')
    .filter((l) => l['node'] === node && typeof l['action'] === 'string')
    .map((l) => `${String(l['action'])}:${String(l['result'])}`);

/** Heals every node, waits for every reboot to be done and every node Ready, untainted, uncordoned. */
async function restoreLab(): Promise<void> {
  if (apiserverPid) process.kill(apiserverPid, 'SIGCONT');
  for (const n of ALL) await nodewarden(lab.dir, ['lab', 'heal', short(n)]);
  await until('no reboot in flight in the lab cloud', 60_000, async () => {
    const state = await readState(lab.dir);
    return state?.nodes.every((n) => vmOf(state, n).task === null && !vmOf(state, n).panicked)
      ? true
      : null;
  });
  // A case that failed half-way may have left NodeWarden's cordon or taint: take them off.
  for (const n of await nodes()) {
    if (!n.unschedulable && !n.taints.some((t) => t.key === TAINT)) continue;
    await kubeRequest(
      kc,
      'PATCH',
      `/api/v1/nodes/${n.name}`,
      10_000,
      { spec: { unschedulable: false, taints: n.taints.filter((t) => t.key !== TAINT) } },
      'application/merge-patch+json',
    );
  }
  await until('5 nodes Ready, without taints, uncordoned', 120_000, async () => {
    const all = await nodes();
    return all.length === 5 &&
      all.every((x) => ready(x) === 'True' && x.taints.length === 0 && !x.unschedulable)
      ? true
      : null;
  });
}

describe.skipIf(lab.skip !== null)('lab recovery: the remediation ladder end to end', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodewarden-recovery-'));
    adminToken = randomBytes(24).toString('hex');
    tokenFile = join(dir, 'admin-token');
    await writeFile(tokenFile, `${adminToken}\n`, { mode: 0o600 });
    const status = await labStatus(lab.dir);
    if (!status.controlPlane) throw new Error('the shared lab has no control plane');
    hub = status.hub.namespace;
    hubIp = status.hub.ip;
    labKubeconfig = status.controlPlane.labAdminKubeconfig;
    apiserverPid = status.controlPlane.processes['kube-apiserver']?.pid ?? 0;
    ({ kc } = await loadKubeConfig(status.controlPlane.adminKubeconfig));
    await restoreLab();
  }, 300_000);

  afterEach(async () => {
    if (controller !== null) await stopController(controller);
    controller = null;
    await restoreLab();
  }, 300_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('(a) kernel-panic on the MIG node, mode auto: console saved, rebooted, Ready, untainted, resolved with MTTR', async () => {
    const c = start('recovery-auto', 'auto');
    await untilWatching(c);
    const since = new Date().toISOString();
    const faultAt = Date.now();
    await nodewardenOk(lab.dir, ['lab', 'fault', short(NODE.mig), 'kernel-panic']);

    await until('the remediation of the MIG node succeeded', 180_000, () => {
      const seen = events(c, NODE.mig);
      if (seen.includes('remediation:failed') || seen.includes('remediation:escalated'))
        throw new Error(
          `the remediation did not succeed: ${seen.join(', ')}\n${logTail(controller)}`,
        );
      return seen.includes('remediation:succeeded');
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${logTail(controller)}`);
    });
    const succeededAt = Date.now();
    expect(events(c, NODE.mig)).toEqual(
      expect.arrayContaining([
        'remediation:started',
        'capture-console:succeeded',
        'cordon:succeeded',
        'soft-reboot:started',
        'soft-reboot:succeeded',
        'remove-taints:succeeded',
      ]),
    );
    expect(await reboots('recovery-auto', NODE.mig, since)).toBe(1);
    const mig = (await nodes()).find((n) => n.name === NODE.mig);
    expect(ready(mig)).toBe('True');
    expect(mig?.unschedulable).toBe(false);
    expect(mig?.taints.map((t) => t.key)).not.toContain(TAINT);

    // The incident resolves after the stable period (10 s here), with its MTTR.
    const incident = await until('the MIG incident resolved', 90_000, async () => {
      const view = JSON.parse(
        await hubGet(`/api/v1/incidents?status=resolved&node=${NODE.mig}`, true),
      ) as IncidentsView;
      return view.incidents[0] ?? null;
    });
    expect(incident.rootCause).toBe('NODE_HALTED');
    expect(incident.mttrSeconds).toBeGreaterThan(0);
    const store = await openStore(`sqlite:${join(dir, 'recovery-auto.db')}`);
    try {
      const words = await store.lastWords(NODE.mig, since);
      const saved = words.find((w) => w.kind === 'console-log');
      expect(JSON.stringify(saved?.data)).toContain('Kernel panic - not syncing');
      const audit = (await store.listAudit(incident.id)).map((a) => `${a.action}:${a.result}`);
      expect(audit).toEqual(
        expect.arrayContaining([
          'remediation-capture-console:succeeded',
          'remediation-soft-reboot:succeeded',
          'remediation:succeeded',
        ]),
      );
    } finally {
      await store.close();
    }
    process.stderr.write(
      `recovery (a): kernel-panic → remediation succeeded ${((succeededAt - faultAt) / 1000).toFixed(1)} s ` +
        `(boot delay ${BOOT_DELAY_S} s); incident ${incident.id} resolved, MTTD ${String(incident.mttdSeconds)} s, MTTR ${String(incident.mttrSeconds)} s\n`,
    );
  }, 360_000);

  it('(b) three of five nodes cut at once: no reboot, max-unhealthy engaged in the API and /metrics', async () => {
    const c = start('recovery-storm', 'auto');
    await untilWatching(c);
    const since = new Date().toISOString();
    const cut = [NODE.a, NODE.b, NODE.c];
    await Promise.all(
      cut.map((n) => nodewardenOk(lab.dir, ['lab', 'fault', short(n), 'link-down'])),
    );

    await until('max-unhealthy engaged in /metrics', 60_000, async () =>
      (await metrics()).includes(brakeLine('max-unhealthy', 1)),
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${logTail(controller)}`);
    });
    const o = await overview();
    const brake = o.brakes.find((b) => b.name === 'max-unhealthy');
    expect(brake?.engaged).toBe(true);
    expect(brake?.detail).toMatch(/^[345] of 5 nodes unhealthy/);
    // Longer than case (a) took from fault to reboot; detection and diagnosis have had their turn.
    await new Promise((r) => setTimeout(r, 25_000));
    expect((await metrics()).includes(brakeLine('max-unhealthy', 1)), logTail(controller)).toBe(
      true,
    );
    for (const n of ALL) expect(await reboots('recovery-storm', n, since)).toBe(0);
    const state = await readState(lab.dir);
    if (state === null) throw new Error(`no lab in ${lab.dir}`);
    for (const n of state.nodes) expect(vmOf(state, n).portAdminUp, n.name).toBe(true);
    // One that started in the instant before the third node went down is held, not acting.
    for (const r of (await overview()).remediations.filter((x) => x.status === 'in-progress'))
      expect(r.heldBy, r.id).toContain('max-unhealthy');
    expect(c.logs()).not.toMatch(/"action":"(soft-reboot|hard-reboot|port-reset)"/);
  }, 300_000);

  it('(c) kube-apiserver stopped past the grace period: no action while away nor after it returns', async () => {
    if (!apiserverPid) throw new Error('the lab status names no kube-apiserver pid');
    const c = start('recovery-api', 'auto');
    await untilWatching(c);
    const since = new Date().toISOString();
    process.kill(apiserverPid, 'SIGSTOP');
    const stoppedAt = Date.now();
    try {
      await until('api-unreachable engaged in /metrics', 45_000, async () =>
        (await metrics()).includes(brakeLine('api-unreachable', 1)),
      );
      // Away longer than the grace period, so every Lease is stale when it returns.
      const away = (SHARED_LAB_TIMING.gracePeriodSeconds + 10) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + away - Date.now())));
    } finally {
      process.kill(apiserverPid, 'SIGCONT');
    }
    await until('API server reachable again', 45_000, () =>
      c.logs().lastIndexOf('API server reachable') > c.logs().lastIndexOf('API server unreachable')
        ? true
        : null,
    );
    // One grace period and more: what would (wrongly) act on the stale Leases has had its time.
    await new Promise((r) => setTimeout(r, (SHARED_LAB_TIMING.gracePeriodSeconds + 5) * 1000));
    expect(await metrics()).toContain(brakeLine('api-unreachable', 0));
    for (const n of ALL) expect(await reboots('recovery-api', n, since)).toBe(0);
    const o = await overview();
    expect(o.remediations, logTail(controller)).toEqual([]);
    expect(c.logs(), logTail(controller)).not.toContain('"msg":"incident opened"');
    expect((await nodes()).filter((n) => n.taints.some((t) => t.key === TAINT))).toEqual([]);
  }, 300_000);

  it('(d) mode approve: nothing changes on the node until approved through the CLI, then it proceeds', async () => {
    const c = start('recovery-approve', 'approve');
    await untilWatching(c);
    const since = new Date().toISOString();
    const node = NODE.c;
    await nodewardenOk(lab.dir, ['lab', 'fault', short(node), 'kernel-panic']);
    const waiting = await until('a step awaiting approval', 120_000, async () => {
      const r = (await overview()).remediations.find((x) => x.node === node);
      return r?.steps[1]?.status === 'awaiting-approval' ? r : null;
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${logTail(controller)}`);
    });
    // The read-only step ran; nothing that changes the node did.
    expect(waiting.steps[0]?.step).toBe('capture-console');
    expect(waiting.steps[0]?.status).toBe('succeeded');
    await new Promise((r) => setTimeout(r, 10_000));
    const held = (await overview()).remediations.find((x) => x.id === waiting.id);
    expect(held?.steps[1]?.status).toBe('awaiting-approval');
    expect((await nodes()).find((n) => n.name === node)?.unschedulable).toBe(false);
    expect(await reboots('recovery-approve', node, since)).toBe(0);

    const approvals: string[] = [];
    const done = await until('the approved remediation ended', 180_000, async () => {
      const r = (await overview()).remediations.find((x) => x.id === waiting.id);
      if (r === undefined) throw new Error(`remediation ${waiting.id} vanished`);
      if (r.status !== 'in-progress') return r;
      const i = r.steps.findIndex((s) => s.status === 'awaiting-approval');
      if (i < 0) return null;
      const run = await remediationCli('approve', r.id, '--step', String(i));
      if (run.code !== 0) throw new Error(`approve ${r.id} step ${i}: ${run.stdout}${run.stderr}`);
      approvals.push(r.steps[i]?.step ?? '?');
      return null;
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${logTail(controller)}`);
    });
    expect(done.status, JSON.stringify(done.steps)).toBe('succeeded');
    expect(approvals.slice(0, 2)).toEqual(['cordon', 'soft-reboot']);
    expect(approvals).toContain('remove-taints');
    for (const s of done.steps.filter((x) => approvals.includes(x.step)))
      expect(s.approvedBy).toBe(`user:admin token ${tokenFile}:1`);
    expect(await reboots('recovery-approve', node, since)).toBe(1);
    const n = (await nodes()).find((x) => x.name === node);
    expect(ready(n)).toBe('True');
    expect(n?.unschedulable).toBe(false);
    expect(n?.taints.map((t) => t.key)).not.toContain(TAINT);
  }, 360_000);
});
