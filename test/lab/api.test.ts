import type { KubeConfig } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCommand } from '../../src/host/command.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { kubeRequest } from '../../src/kube/http.ts';
import {
  startController,
  stopController,
  untilLeader,
  type Controller,
} from './controller-process.ts';
import { createObject, deleteObject } from './kube-objects.ts';
import { labStatus } from './lab-harness.ts';
import { until } from '../support/until.ts';

/**
 * The controller's HTTP API with `--auth tokenreview` against the lab's real
 * kube-apiserver: ServiceAccount tokens from the TokenRequest API are
 * checked with a TokenReview; the admin role goes to the subject named in
 * --admin-subjects, every other authenticated account reads; a token the
 * API server does not accept — made up, or of a ServiceAccount since deleted
 * — is refused with 401 and a body that says why and what to send.
 */
const lab = inject('lab');
const NS = 'api-auth';
/** On the hub's loopback: the test reaches it with curl inside the hub namespace. */
const LISTEN = '127.0.0.1:19464';

let kc: KubeConfig;
let hub = '';
let dir = '';
let c: Controller | null = null;
const tokens: Record<string, string> = {};

const call = <T>(method: string, path: string, body?: unknown): Promise<T> =>
  kubeRequest<T>(kc, method, path, 10_000, body);
const create = (path: string, body: unknown): Promise<void> => createObject(kc, path, body);

async function serviceAccountToken(name: string): Promise<string> {
  await create(`/api/v1/namespaces/${NS}/serviceaccounts`, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name },
  });
  const answer = await call<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${NS}/serviceaccounts/${name}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 900 },
    },
  );
  return answer.status.token;
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** `curl` in the hub namespace, where the controller listens. */
async function api(method: 'GET' | 'POST', path: string, token: string | null): Promise<Answer> {
  const run = await runCommand(
    'ip',
    [
      'netns',
      'exec',
      hub,
      'curl',
      '-sS',
      '-m',
      '15',
      '-X',
      method,
      ...(token === null ? [] : ['-H', `Authorization: Bearer ${token}`]),
      '-w',
      '\n%{http_code}',
      `http://${LISTEN}${path}`,
    ],
    { timeoutMs: 20_000 },
  );
  const at = run.stdout.lastIndexOf('\n');
  const status = Number(run.stdout.slice(at + 1));
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(run.stdout.slice(0, at)) as Record<string, unknown>;
  } catch {
    body = { unparsed: run.stdout.slice(0, at) + run.stderr };
  }
  return { status, body };
}

/** A read with the account's token (must be 200), then an approve of a step that does not exist. */
async function readThenApprove(account: string, readPath: string): Promise<Answer> {
  const read = await api('GET', readPath, tokens[account]!);
  expect(read.status, JSON.stringify(read.body)).toBe(200);
  return api(
    'POST',
    '/api/v1/remediations/no-such-remediation/steps/cordon/approve',
    tokens[account]!,
  );
}

describe.skipIf(lab.skip !== null)('HTTP API with --auth tokenreview on the lab API server', () => {
  beforeAll(async () => {
    const status = await labStatus(lab.dir);
    if (!status.controlPlane) throw new Error('the shared lab has no control plane');
    hub = status.hub.namespace;
    ({ kc } = await loadKubeConfig(status.controlPlane.adminKubeconfig));
    await create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NS },
    });
    for (const name of ['sre', 'viewer', 'gone']) tokens[name] = await serviceAccountToken(name);
    dir = await mkdtemp(join(tmpdir(), 'nodewarden-api-test-'));
    c = startController({
      hub,
      kubeconfig: status.controlPlane.labAdminKubeconfig,
      identity: 'api-auth',
      store: `sqlite:${join(dir, 'api.db')}`,
      extra: [
        '--listen',
        LISTEN,
        '--auth',
        'tokenreview',
        '--admin-subjects',
        `user:system:serviceaccount:${NS}:sre`,
      ],
    });
    const controller = c;
    await untilLeader(controller);
    await until(
      'controller serving',
      60_000,
      async () => (await api('GET', '/healthz', null)).status > 0,
    );
  }, 120_000);

  afterAll(async () => {
    if (c) await stopController(c);
    if (kc) await deleteObject(kc, `/api/v1/namespaces/${NS}`);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('accepts the admin subject’s token for reads and for approve', async () => {
    const approve = await readThenApprove('sre', '/api/v1/status');
    // Authorised: what follows is the route's own answer (no such remediation), not 401/403.
    expect([401, 403], JSON.stringify(approve.body)).not.toContain(approve.status);
  });

  it('lets another ServiceAccount read, and refuses it approve with 403 and a clear body', async () => {
    const approve = await readThenApprove('viewer', '/api/v1/nodes');
    expect(approve.status).toBe(403);
    expect(approve.body['error']).toEqual(expect.any(String));
    expect(approve.body['message']).toMatch(
      /needs the admin role; system:serviceaccount:api-auth:viewer has read/,
    );
    expect(approve.body['hint']).toEqual(expect.any(String));
  });

  it('refuses a made-up token and a missing one with 401, saying what to send', async () => {
    const bogus = await api(
      'GET',
      '/api/v1/status',
      'not-a-token-the-api-server-issued-0123456789',
    );
    expect(bogus.status).toBe(401);
    expect(bogus.body['message']).toMatch(/did not accept the bearer token \(TokenReview\)/);
    expect(bogus.body['hint']).toMatch(/service-account token/);
    const none = await api('GET', '/api/v1/status', null);
    expect(none.status).toBe(401);
    expect(none.body['hint']).toMatch(/kubectl create token/);
  });

  it('refuses the token of a ServiceAccount deleted since it was issued', async () => {
    await call('DELETE', `/api/v1/namespaces/${NS}/serviceaccounts/gone`);
    // The API server looks the account up through its cache: give it a few seconds.
    const refused = await until('the deleted account’s token refused', 30_000, async () => {
      const a = await api('GET', '/api/v1/status', tokens['gone']!);
      return a.status === 401 ? a : null;
    });
    expect(refused.body['message']).toMatch(/TokenReview/);
  });
});
