import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { Incident } from '../../src/core/incident.ts';
import { runCommand, type CommandResult } from '../../src/host/command.ts';
import { accessGrants, CONTROLLER_ACCESS } from '../../src/kube/access.ts';
import { defaultCacheDir, K8S_VERSION } from '../../src/lab/k8s-build.ts';
import { openStore } from '../../src/store/open.ts';
import { container, expandArgs, find, renderChart, type K8sObject } from '../support/helm.ts';
import { inHub, labStatus, MIG, nodewardenOk } from './lab-harness.ts';
import { until } from '../support/until.ts';

/**
 * The chart against the lab's real API server: its ServiceAccounts and RBAC
 * are applied as rendered, the controller runs with the chart's own
 * arguments under a token of the chart's ServiceAccount (not admin) in the
 * hub namespace, the lab's agents push to it, and the `link-down` scenario
 * on the MIG node ends in an incident naming it. Any Forbidden fails the
 * test; the API server's authorizer is also asked, for every grant of
 * src/kube/access.ts, that it is allowed, and for calls outside it, that
 * they are not.
 */
const lab = inject('lab');
const MIG_NODE = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';
const NS = 'nodewarden-helm-test';
const SA = 'nw-nodewarden-controller';
const kubectl = join(defaultCacheDir(), 'k8s', K8S_VERSION, 'kubectl');

let dir = '';
let adminKubeconfig = '';
let rbacFile = '';
let hub = '';
let controller: ChildProcess | null = null;
let logs = '';

async function k(args: readonly string[], input?: string): Promise<CommandResult> {
  return runCommand(kubectl, ['--kubeconfig', adminKubeconfig, ...args], {
    timeoutMs: 60_000,
    ...(input === undefined ? {} : { input }),
  });
}

async function kOk(args: readonly string[], input?: string): Promise<string> {
  const r = await k(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

describe.skipIf(lab.skip !== null)('the Helm chart on the lab control plane', () => {
  let objects: K8sObject[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodewarden-helm-lab-'));
    const status = await labStatus(lab.dir);
    if (!status.controlPlane) throw new Error('the shared lab has no control plane');
    adminKubeconfig = status.controlPlane.adminKubeconfig;
    hub = status.hub.namespace;
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
    objects = await renderChart({ controller: { stablePeriodSeconds: 10 } }, NS);
    // What the chart gives the controller its identity and rights with, as rendered.
    const rbac = objects.filter(
      (o) => o.kind === 'ServiceAccount' || o.apiVersion.startsWith('rbac.authorization.k8s.io/'),
    );
    rbacFile = join(dir, 'rbac.yaml');
    await writeFile(rbacFile, rbac.map((o) => stringify(o)).join('---\n'));
    await k(['create', 'namespace', NS]);
    await kOk(['apply', '-f', rbacFile]);
  }, 120_000);

  afterAll(async () => {
    if (controller && controller.exitCode === null) {
      controller.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 3_000));
      controller.kill('SIGKILL');
    }
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
    if (rbacFile) await k(['delete', '--ignore-not-found', '-f', rbacFile]);
    await k(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
    await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('the API server allows exactly what src/kube/access.ts lists, and refuses the rest', async () => {
    const as = `system:serviceaccount:${NS}:${SA}`;
    const can = async (verb: string, resource: string, ns: string | null, name?: string) => {
      const target = name ? `${resource}/${name}` : resource;
      const r = await k(['auth', 'can-i', verb, target, '--as', as, ...(ns ? ['-n', ns] : [])]);
      return r.stdout.trim() === 'yes';
    };
    const grants = accessGrants(CONTROLLER_ACCESS, NS);
    for (const g of grants) {
      const resource = g.apiGroup ? `${g.resource}.${g.apiGroup}` : g.resource;
      expect(
        await can(g.verb, resource, g.namespace ?? 'default', g.resourceName ?? undefined),
        `${g.verb} ${resource}`,
      ).toBe(true);
    }
    // Outside the table: refused.
    for (const [verb, resource, ns, name] of [
      ['patch', 'nodes', null], // remediation is off by default
      ['get', 'secrets', NS],
      ['delete', 'pods', 'default'],
      ['update', 'leases.coordination.k8s.io', 'kube-node-lease', MIG_NODE],
      ['update', 'leases.coordination.k8s.io', NS, 'someone-else'],
      ['create', 'tokenreviews.authentication.k8s.io', null],
    ] as const)
      expect(await can(verb, resource, ns, name), `${verb} ${resource}`).toBe(false);
  });

  it("the controller, with the chart's arguments and ServiceAccount, sees link-down on the MIG node; nothing is Forbidden", async () => {
    // A kubeconfig for the chart's ServiceAccount: the in-lab API address, the lab CA, a minted token.
    const token = (await kOk(['-n', NS, 'create', 'token', SA, '--duration', '1h'])).trim();
    const admin = parse(
      await readFile((await labStatus(lab.dir)).controlPlane?.labAdminKubeconfig ?? '', 'utf8'),
    ) as { clusters: { cluster: { server: string; 'certificate-authority': string } }[] };
    const cluster = admin.clusters[0]?.cluster;
    if (!cluster) throw new Error('the lab kubeconfig has no cluster');
    const kubeconfig = join(dir, 'sa.kubeconfig');
    await writeFile(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'lab', cluster }],
        users: [{ name: SA, user: { token } }],
        contexts: [{ name: SA, context: { cluster: 'lab', user: SA } }],
        'current-context': SA,
      }),
    );
    // The Deployment's own arguments; files the pod would mount point into this test's folder.
    const deploy = find(objects, 'Deployment', SA);
    const args = expandArgs(container(deploy).args ?? [], {}).map((a) =>
      a
        .replace('/var/lib/nodewarden/', `${dir}/`)
        .replace(/^\/etc\/nodewarden\/agent-token\/.*$/, join(lab.dir, 'token')),
    );
    expect(args.slice(0, 1)).toEqual(['controller']);
    expect(args).toContain('--lease-namespace');
    controller = spawn(
      'ip',
      inHub(hub, [...args, '--kubeconfig', kubeconfig, '--identity', 'helm-test']),
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    controller.stderr?.setEncoding('utf8').on('data', (c: string) => (logs += c));
    await until('caches synced', 30_000, () => logs.includes('caches synced'));
    await until('leader (the Lease in the release namespace)', 30_000, () =>
      logs.includes('became leader'),
    );
    // Agents poll their plan every 10 s: let them find this controller.
    await new Promise((r) => setTimeout(r, 12_000));
    const cutAt = Date.now();
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'link-down']);
    const line = await until(
      'incident opened',
      60_000,
      () => logs.split('\n').find((l) => l.includes('"msg":"incident opened"')) ?? null,
    );
    const seconds = (Date.now() - cutAt) / 1000;
    expect(line).toContain(MIG_NODE);
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
    await until('incident resolved', 120_000, () => logs.includes('"msg":"incident resolved"'));
    controller.kill('SIGTERM');
    await new Promise((r) => controller?.once('exit', r));

    expect(logs).not.toMatch(/Forbidden|HTTP 403|"status":403/);
    const store = await openStore(`sqlite:${join(dir, 'nodewarden.db')}`);
    try {
      const incidents: Incident[] = await store.listIncidents();
      expect(incidents.map((i) => [i.kind, i.nodes, i.status])).toEqual([
        ['node', [MIG_NODE], 'resolved'],
      ]);
    } finally {
      await store.close();
    }
    // The Lease it led with is the one the chart's Role names.
    const lease = JSON.parse(
      await kOk(['-n', NS, 'get', 'lease', 'nodewarden-controller', '-o', 'json']),
    ) as { spec: { holderIdentity?: string } };
    expect(lease.spec.holderIdentity ?? '').toMatch(/^(helm-test)?$/);
    process.stderr.write(
      `helm chart RBAC: link-down → incident after ${seconds.toFixed(1)} s as ${SA}: ${line.slice(0, 300)}\n`,
    );
  }, 240_000);
});
