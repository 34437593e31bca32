/**
 * API authentication: token files (roles, rotation, refusals) and TokenReview
 * against a loopback server speaking the TokenReview API (what the lab API
 * server answers; test/lab/api.test.ts asks the real one).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/logger.ts';
import { parseAdminSubjects, TokenFileAuth, TokenReviewAuth } from './auth.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function tokenFiles(read: string, admin: string) {
  const dir = await mkdtemp(join(tmpdir(), 'nw-auth-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'read'), read);
  await writeFile(join(dir, 'admin'), admin);
  return { readTokenFile: join(dir, 'read'), adminTokenFile: join(dir, 'admin') };
}

describe('TokenFileAuth', () => {
  it('maps tokens to roles; an unknown or missing token is UNAUTHENTICATED', async () => {
    const files = await tokenFiles('# viewers\nr-0123456789abcdef\n', 'a-0123456789abcdef\n');
    const auth = new TokenFileAuth(files);
    expect(await auth.authenticate('r-0123456789abcdef')).toMatchObject({ role: 'read' });
    expect(await auth.authenticate('a-0123456789abcdef')).toMatchObject({ role: 'admin' });
    await expect(auth.authenticate('x-0123456789abcdef')).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    await expect(auth.authenticate(null)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('a token in both files is admin; a rotated file takes effect without a restart', async () => {
    const files = await tokenFiles('same-0123456789abcdef\n', 'same-0123456789abcdef\n');
    const auth = new TokenFileAuth({ ...files, recheckMs: 0 });
    expect(await auth.authenticate('same-0123456789abcdef')).toMatchObject({ role: 'admin' });
    await writeFile(files.adminTokenFile, 'new-admin-0123456789abcdef-longer\n');
    await expect(auth.authenticate('same-0123456789abcdef')).resolves.toMatchObject({
      role: 'read',
    });
    expect(await auth.authenticate('new-admin-0123456789abcdef-longer')).toMatchObject({
      role: 'admin',
    });
  });

  it('refuses short tokens and empty files at start, naming the file and line', async () => {
    const files = await tokenFiles('short\n', '\n# nothing\n');
    expect(() => new TokenFileAuth({ readTokenFile: files.readTokenFile })).toThrow(
      `${files.readTokenFile}:1: a token must be at least 16 characters`,
    );
    expect(() => new TokenFileAuth({ adminTokenFile: files.adminTokenFile })).toThrow(
      'holds no token',
    );
  });

  it('with no file at all every call is refused, saying which flags to pass', async () => {
    await expect(new TokenFileAuth({}).authenticate('a-0123456789abcdef')).rejects.toThrow(
      'accepts no API token',
    );
  });
});

describe('parseAdminSubjects', () => {
  it('reads users and groups; refuses an unknown prefix', () => {
    const s = parseAdminSubjects('user:alice, group:sre,system:serviceaccount:nw:admin');
    expect([...s.users]).toEqual(['alice', 'system:serviceaccount:nw:admin']);
    expect([...s.groups]).toEqual(['sre']);
    expect(() => parseAdminSubjects('role:admin')).toThrow('is not user:<name> or group:<name>');
  });
});

/** A loopback API server answering TokenReviews from a table; counts the reviews. */
async function reviewServer(
  answer: (token: string) => { status: number; body: unknown },
): Promise<{ kc: KubeConfig; reviews: () => number; server: Server }> {
  let reviews = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      reviews += 1;
      const review = JSON.parse(body) as { kind: string; spec: { token: string } };
      expect(req.url).toBe('/apis/authentication.k8s.io/v1/tokenreviews');
      expect(review.kind).toBe('TokenReview');
      const out = answer(review.spec.token);
      res
        .writeHead(out.status, { 'content-type': 'application/json' })
        .end(JSON.stringify(out.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => server.close(() => r())));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'loopback',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'controller' }],
    contexts: [{ name: 'c', cluster: 'loopback', user: 'controller' }],
    currentContext: 'c',
  });
  return { kc, reviews: () => reviews, server };
}

const user = (username: string, groups: string[]) => ({
  status: 201,
  body: { kind: 'TokenReview', status: { authenticated: true, user: { username, groups } } },
});

describe('TokenReviewAuth', () => {
  it('authenticated users read; listed users and groups are admins; answers are cached', async () => {
    const { kc, reviews } = await reviewServer((token) =>
      token === 'sre-token'
        ? user('system:serviceaccount:nodewarden:sre', ['system:serviceaccounts'])
        : token === 'oncall-token'
          ? user('bob', ['oncall'])
          : token === 'viewer-token'
            ? user('carol', ['viewers'])
            : {
                status: 201,
                body: { status: { authenticated: false, error: 'invalid bearer token' } },
              },
    );
    let now = 1_000_000;
    const auth = new TokenReviewAuth(kc, silentLogger, {
      adminSubjects: 'user:system:serviceaccount:nodewarden:sre,group:oncall',
      now: () => now,
    });
    expect(await auth.authenticate('sre-token')).toEqual({
      subject: 'system:serviceaccount:nodewarden:sre',
      role: 'admin',
    });
    expect(await auth.authenticate('oncall-token')).toMatchObject({ role: 'admin' });
    expect(await auth.authenticate('viewer-token')).toEqual({ subject: 'carol', role: 'read' });
    await expect(auth.authenticate('forged')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(auth.authenticate(null)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(reviews()).toBe(4);
    await auth.authenticate('viewer-token');
    expect(reviews()).toBe(4);
    now += 11_000;
    await auth.authenticate('viewer-token');
    expect(reviews()).toBe(5);
  });

  it("a TokenReview the API server forbids is UNAVAILABLE with the RBAC hint, not the caller's fault", async () => {
    const { kc } = await reviewServer(() => ({
      status: 403,
      body: { kind: 'Status', reason: 'Forbidden', message: 'tokenreviews is forbidden' },
    }));
    const auth = new TokenReviewAuth(kc, silentLogger, { adminSubjects: '' });
    await expect(auth.authenticate('any-token')).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      hint: expect.stringContaining('system:auth-delegator') as unknown,
    });
  });
});
