import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import type { IncidentStore } from '../../src/store/port.ts';
import { openStore } from '../../src/store/open.ts';
import { runCommand } from '../../src/host/command.ts';
import { kubeconfigYaml } from '../../src/lab/control-plane.ts';
import { openLabPki } from '../../src/lab/pki.ts';
import {
  type Controller,
  logTail,
  opened,
  startController as start,
  stopController,
} from './controller-process.ts';
import { inHub, labStatus, MIG, nodewardenOk } from './lab-harness.ts';
import { until } from '../support/until.ts';

/**
 * `nodewarden controller` against the lab's real control plane, run the way
 * an operator would run it in the lab: inside the hub namespace (the only
 * place that routes to the nodes), with its own SQLite store.
 */
const lab = inject('lab');
const MIG_NODE = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';

let dir = '';
let hub = '';
let kubeconfig = '';
let apiserverPid = 0;
const running: Controller[] = [];

function startController(
  identity: string,
  store: string,
  extra: readonly string[] = ['--listen', '127.0.0.1:0'],
): Controller {
  const c = start({ hub, kubeconfig, identity, store, extra });
  running.push(c);
  return c;
}

describe.skipIf(lab.skip !== null)('nodewarden controller on the lab control plane', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodewarden-controller-test-'));
    const status = await labStatus(lab.dir);
    if (!status.controlPlane) throw new Error('the shared lab has no control plane');
    hub = status.hub.namespace;
    kubeconfig = status.controlPlane.labAdminKubeconfig;
    apiserverPid = status.controlPlane.processes['kube-apiserver']?.pid ?? 0;
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
  });

  afterEach(async () => {
    for (const c of running.splice(0)) await stopController(c);
    if (apiserverPid) process.kill(apiserverPid, 'SIGCONT');
  });

  afterAll(async () => {
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
    await rm(dir, { recursive: true, force: true });
  });

  it('link-down on the MIG node opens exactly one incident naming it; heal resolves it', async () => {
    const db = `sqlite:${join(dir, 'one.db')}`;
    const c = startController('solo', db);
    await until('caches synced', 30_000, () => c.logs().includes('caches synced'));
    await until('leader', 30_000, () => c.logs().includes('became leader'));
    const cutAt = Date.now();
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'link-down']);
    await until('incident opened', 60_000, () => opened(c));
    const openedAfterMs = Date.now() - cutAt;
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
    await until('incident resolved', 120_000, () => c.logs().includes('"msg":"incident resolved"'));
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);

    const store: IncidentStore = await openStore(db);
    try {
      const incidents: Incident[] = await store.listIncidents();
      expect(incidents).toHaveLength(1);
      const [incident] = incidents;
      expect(incident?.kind).toBe('node');
      expect(incident?.nodes).toEqual([MIG_NODE]);
      expect(incident?.status).toBe('resolved');
      const kinds = incident?.timeline.map((e) => e.kind) ?? [];
      for (const k of [
        'last-heartbeat',
        'suspect',
        'down',
        'incident-opened',
        'recovering',
        'resolved',
      ] as const)
        expect(kinds).toContain(k);
      process.stderr.write(
        `controller: link-down → incident opened (seen in its log) after ${(openedAfterMs / 1000).toFixed(1)} s; timeline: ${kinds.join(', ')}\n`,
      );
    } finally {
      await store.close();
    }
  }, 240_000);

  it('with the lab agents: the mesh fails the cut node within seconds, and an Xid line arrives as last words first', async () => {
    const db = join(dir, 'mesh.db');
    const c = startController('mesh', `sqlite:${db}`, [
      '--listen',
      ':9464',
      '--agent-token-file',
      join(lab.dir, 'token'),
    ]);
    await until('leader', 30_000, () => c.logs().includes('became leader'));
    // Agents poll their plan every 10 s and push every second: wait until they report.
    await new Promise((r) => setTimeout(r, 15_000));
    const xid =
      "NVRM: Xid (PCI:0000:3b:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.";
    await nodewardenOk(lab.dir, ['lab', 'kmsg', MIG, xid]);
    const store: IncidentStore = await openStore(`sqlite:${db}`);
    try {
      await until("the Xid line stored as the MIG node's last words", 30_000, async () => {
        const words = await store.lastWords(MIG_NODE, new Date(Date.now() - 120_000).toISOString());
        return JSON.stringify(words).includes('fallen off the bus');
      });
    } finally {
      await store.close();
    }
    const cutAt = Date.now();
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'link-down']);
    await until('incident opened', 60_000, () => opened(c));
    const seconds = (Date.now() - cutAt) / 1000;
    const line =
      c
        .logs()
        .split('\n')
        .find((l) => l.includes('"msg":"incident opened"')) ?? '';
    process.stderr.write(
      `mesh: link-down → incident after ${seconds.toFixed(1)} s: ${line.slice(0, 400)}\n`,
    );
    // Several agents, not only the controller, saw it fail at L2/L3.
    expect(line).toMatch(/(\d+) of \d+ observers fail it at L[23]/);
    expect(Number(/(\d+) of \d+ observers/.exec(line)?.[1])).toBeGreaterThanOrEqual(2);
    expect(seconds).toBeLessThan(15);
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
  }, 180_000);

  it('the API server frozen for 30 s opens no node incident and fails readiness, not the nodes', async () => {
    const c = startController('frozen-api', `sqlite:${join(dir, 'frozen.db')}`);
    await until('leader', 30_000, () => c.logs().includes('became leader'));
    process.kill(apiserverPid, 'SIGSTOP');
    await until('API server unreachable logged', 30_000, () =>
      c.logs().includes('API server unreachable'),
    );
    await new Promise((r) => setTimeout(r, 30_000));
    process.kill(apiserverPid, 'SIGCONT');
    // Leases are stale when the view returns: give detection the time it would need to (wrongly) act.
    await until('API server reachable again', 30_000, () =>
      c.logs().lastIndexOf('API server reachable') > c.logs().lastIndexOf('API server unreachable')
        ? true
        : null,
    );
    await new Promise((r) => setTimeout(r, 15_000));
    expect(opened(c), logTail(c)).toBe(false);
  }, 180_000);

  it('an identity without RBAC permissions is refused at start with one clear Forbidden line', async () => {
    const pki = await openLabPki(join(lab.dir, 'pki'));
    const nobody = await pki.issue({
      name: 'nobody-test',
      commonName: 'nodewarden-nobody',
      usage: 'client',
    });
    const server = /server: (\S+)/.exec(await readFile(kubeconfig, 'utf8'))?.[1] ?? '';
    const file = join(dir, 'nobody.kubeconfig');
    await writeFile(file, kubeconfigYaml(server, pki.ca.cert, nobody, 'nobody'));
    const run = await runCommand(
      'ip',
      inHub(hub, [
        'controller',
        '--kubeconfig',
        file,
        '--store',
        'sqlite::memory:',
        '--listen',
        '127.0.0.1:0',
      ]),
      { timeoutMs: 30_000 },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /nodewarden controller: Forbidden: the controller's identity may not list nodes/,
    );
    expect(run.stderr).toMatch(/→ grant the ClusterRole/);
  }, 60_000);

  it('two controllers elect one leader; killing it hands over within the lease time', async () => {
    const db = `sqlite:${join(dir, 'two.db')}`;
    const a = startController('replica-a', db);
    const b = startController('replica-b', db);
    const leader = await until(
      'a leader',
      40_000,
      () => [a, b].find((c) => c.logs().includes('became leader')) ?? null,
    );
    const standby = leader === a ? b : a;
    await new Promise((r) => setTimeout(r, 5_000));
    expect(standby.logs()).not.toContain('became leader');
    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    await until('standby takes over', 30_000, () => standby.logs().includes('became leader'));
    const handover = (Date.now() - killedAt) / 1000;
    process.stderr.write(
      `leader election: ${leader.identity} killed, ${standby.identity} leads after ${handover.toFixed(1)} s (lease 15 s)\n`,
    );
    expect(handover).toBeLessThan(15 + 2 + 3);
  }, 120_000);
});
