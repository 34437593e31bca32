/**
 * The OpenStack adapter against the fixture server on 127.0.0.1: the shared
 * contract, then what only a real HTTP cloud has — authentication, token
 * renewal, the catalogue, retries, deadlines, TLS, and secrets kept out of
 * logs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../core/clock.ts';
import { systemClock } from '../../core/clock.ts';
import { NodeWardenError } from '../../core/errors.ts';
import { jsonLogger } from '../../host/json-logger.ts';
import {
  OpenStackFixtureServer,
  type FixtureServerOptions,
  type RecordedRequest,
} from '../../../test/fixtures/openstack/fixture-server.ts';
import {
  APP_CRED_ID,
  APP_CRED_SECRET,
  PASSWORD,
  PORT,
  SERVER,
  USERNAME,
  PROJECT_NAME,
  WORLD_NOW,
} from '../../../test/fixtures/openstack/world.ts';
import { selfSignedCert, type TlsMaterial } from '../../../test/unit/probe-servers.ts';
import { cloudContract } from '../contract.ts';
import type { OpenStackConfig } from './config.ts';
import { OpenStackHttpError } from './http.ts';
import {
  openOpenStackCloud,
  type OpenStackCloud,
  type OpenStackCloudOptions,
} from './openstack-cloud.ts';

function passwordConfig(authUrl: string, over: Partial<OpenStackConfig> = {}): OpenStackConfig {
  return {
    authUrl,
    auth: {
      type: 'password',
      username: USERNAME,
      password: PASSWORD,
      userDomain: { name: 'Default' },
      projectName: PROJECT_NAME,
      projectDomain: { name: 'Default' },
    },
    interface: 'public',
    region: 'RegionOne',
    ...over,
  };
}

function appCredConfig(authUrl: string): OpenStackConfig {
  return {
    authUrl,
    auth: { type: 'application_credential', id: APP_CRED_ID, secret: APP_CRED_SECRET },
    interface: 'public',
    region: 'RegionOne',
  };
}

cloudContract('OpenStack adapter against the fixture server', async (clock) => {
  const server = await OpenStackFixtureServer.start({ now: () => clock.now() });
  const cloud = await openOpenStackCloud(passwordConfig(server.authUrl), {
    clock,
    retries: 0,
    timeoutMs: 5_000,
  });
  return {
    cloud,
    close: async () => {
      cloud.close();
      await server.close();
    },
  };
});

/** A clock the test moves by hand; sleeps are real (and short: backoffs are set in ms). */
function movableClock(start = WORLD_NOW): Clock & { set(ms: number): void; add(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    setTimer: (ms, fn) => systemClock.setTimer(ms, fn),
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
    set: (ms) => (now = ms),
    add: (ms) => (now += ms),
  };
}

interface Rig {
  readonly server: OpenStackFixtureServer;
  readonly cloud: OpenStackCloud;
  readonly clock: ReturnType<typeof movableClock>;
  readonly lines: string[];
}

const open: Rig[] = [];

async function rig(
  options: {
    server?: FixtureServerOptions;
    cloud?: OpenStackCloudOptions;
    config?: (authUrl: string) => OpenStackConfig;
  } = {},
): Promise<Rig> {
  const clock = movableClock();
  const server = await OpenStackFixtureServer.start({ now: () => clock.now(), ...options.server });
  const lines: string[] = [];
  const cloud = await openOpenStackCloud((options.config ?? passwordConfig)(server.authUrl), {
    clock,
    logger: jsonLogger((line) => lines.push(line), 'debug'),
    random: () => 0.5,
    backoffBaseMs: 20,
    backoffMaxMs: 200,
    timeoutMs: 2_000,
    ...options.cloud,
  });
  const r = { server, cloud, clock, lines };
  open.push(r);
  return r;
}

afterEach(async () => {
  for (const r of open.splice(0)) {
    r.cloud.close();
    await r.server.close();
  }
});

async function failure(promise: Promise<unknown>): Promise<NodeWardenError> {
  const outcome = await promise.then(
    () => new Error('expected the call to fail, and it succeeded'),
    (error: unknown) => error,
  );
  if (!(outcome instanceof NodeWardenError)) throw outcome;
  return outcome;
}

const isServerGet = (r: RecordedRequest): boolean =>
  r.method === 'GET' && r.path === `/compute/v2.1/servers/${SERVER.mig}`;
const isReboot = (r: RecordedRequest): boolean =>
  r.method === 'POST' && (r.body as { reboot?: unknown } | undefined)?.reboot !== undefined;

describe('Keystone authentication', () => {
  it('password: the v3 body of the API reference, a project scope, and the token on every call', async () => {
    const { server, cloud } = await rig();
    await cloud.instance(`openstack:///${SERVER.mig}`);
    await cloud.ports(SERVER.mig);
    const [auth] = server.authRequests();
    expect(auth?.body).toEqual({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: USERNAME, domain: { name: 'Default' }, password: PASSWORD } },
        },
        scope: { project: { name: PROJECT_NAME, domain: { name: 'Default' } } },
      },
    });
    const token = [...server.tokens.keys()][0];
    const [nova, neutron] = server.apiRequests();
    expect(nova?.headers['x-auth-token']).toBe(token);
    expect(nova?.headers['openstack-api-version']).toBe('compute 2.79');
    expect(neutron?.headers['x-auth-token']).toBe(token);
    expect(neutron?.path).toBe('/networking/v2.0/ports');
    expect(neutron?.query.getAll('device_id')).toEqual([SERVER.mig]);
    expect(server.authRequests()).toHaveLength(1);
  });

  it('domains may be given by id', async () => {
    const { server, cloud } = await rig({
      config: (url) =>
        passwordConfig(url, {
          auth: {
            type: 'password',
            username: USERNAME,
            password: PASSWORD,
            userDomain: { id: 'default' },
            projectName: PROJECT_NAME,
            projectDomain: { id: 'default' },
          },
        }),
    });
    expect(await cloud.instance(`openstack:///${SERVER.mig}`)).not.toBeNull();
    expect(server.authRequests()[0]?.body).toMatchObject({
      auth: { scope: { project: { domain: { id: 'default' } } } },
    });
  });

  it('application credential: id and secret, no scope', async () => {
    const { server, cloud } = await rig({ config: appCredConfig });
    expect((await cloud.instance(`openstack:///${SERVER.mig}`))?.status).toBe('ACTIVE');
    expect(server.authRequests()[0]?.body).toEqual({
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: APP_CRED_ID, secret: APP_CRED_SECRET },
        },
      },
    });
  });

  it('a wrong password is BAD_INPUT naming the user and the variables to check, tried once', async () => {
    const { server, cloud } = await rig({
      config: (url) => {
        const c = passwordConfig(url);
        return { ...c, auth: { ...c.auth, password: 'wrong-password' } as OpenStackConfig['auth'] };
      },
    });
    const error = await failure(cloud.instance(`openstack:///${SERVER.mig}`));
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toContain(
      'Keystone refused to authenticate user nodewarden (domain Default)',
    );
    expect(error.message).toContain('The request you have made requires authentication.');
    expect(error.hint).toContain('OS_PASSWORD');
    expect(error).toBeInstanceOf(OpenStackHttpError);
    expect(server.authRequests()).toHaveLength(1);
    expect(server.apiRequests()).toHaveLength(0);
  });

  it('keeps the token until 5 minutes before it expires, then renews it', async () => {
    const { server, cloud, clock } = await rig();
    await cloud.ports(SERVER.mig);
    clock.add(55 * 60_000 - 1); // the token lives 60 minutes
    await cloud.ports(SERVER.mig);
    expect(server.authRequests()).toHaveLength(1);
    clock.add(1);
    await cloud.ports(SERVER.mig);
    expect(server.authRequests()).toHaveLength(2);
    const tokens = [...server.tokens.keys()];
    const used = server.apiRequests().map((r) => r.headers['x-auth-token']);
    expect(used).toEqual([tokens[0], tokens[0], tokens[1]]);
  });

  it('renews a short-lived token at half its life', async () => {
    const { server, cloud, clock } = await rig({ server: { tokenTtlMs: 4 * 60_000 } });
    await cloud.ports(SERVER.mig);
    clock.add(2 * 60_000 - 1);
    await cloud.ports(SERVER.mig);
    expect(server.authRequests()).toHaveLength(1);
    clock.add(1);
    await cloud.ports(SERVER.mig);
    expect(server.authRequests()).toHaveLength(2);
  });

  it('a token refused mid-session (401) is replaced once, and the call succeeds', async () => {
    const { server, cloud, lines } = await rig();
    await cloud.instance(`openstack:///${SERVER.mig}`);
    server.revokeTokens();
    expect((await cloud.instance(`openstack:///${SERVER.mig}`))?.id).toBe(SERVER.mig);
    await cloud.setPortAdminState(PORT.mig, false);
    expect(server.authRequests()).toHaveLength(2);
    const [first, second] = [...server.tokens.keys()];
    expect(server.apiRequests().map((r) => r.headers['x-auth-token'])).toEqual([
      first,
      first,
      second,
      second,
    ]);
    expect(lines.some((l) => l.includes('token refused; authenticating again'))).toBe(true);
  });

  it('a 401 that persists after one re-authentication is BAD_INPUT, without a loop', async () => {
    const { server, cloud } = await rig();
    server.inject({
      when: (r) => r.path.startsWith('/compute/'),
      action: { status: 401, file: 'error-401-unauthorized.json' },
      times: 10,
    });
    const error = await failure(cloud.instance(`openstack:///${SERVER.mig}`));
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toContain('The request you have made requires authentication.');
    expect(error.hint).toContain('credentials');
    expect(server.authRequests()).toHaveLength(2);
    expect(server.apiRequests()).toHaveLength(2);
  });

  it('concurrent calls share one authentication', async () => {
    const { server, cloud } = await rig();
    await Promise.all([
      cloud.instance(`openstack:///${SERVER.mig}`),
      cloud.ports(SERVER.mig),
      cloud.diagnostics(SERVER.mig),
      cloud.instanceActions(SERVER.mig),
      cloud.consoleLog(SERVER.mig, 5),
    ]);
    expect(server.authRequests()).toHaveLength(1);
    expect(server.apiRequests()).toHaveLength(5);
  });
});

describe('service catalogue', () => {
  it('without a region, endpoints in two regions are BAD_INPUT asking for the region', async () => {
    const { cloud } = await rig({
      config: (url) => {
        const config: { -readonly [K in keyof OpenStackConfig]?: OpenStackConfig[K] } =
          passwordConfig(url);
        delete config.region;
        return config as OpenStackConfig;
      },
    });
    const error = await failure(cloud.instance(`openstack:///${SERVER.mig}`));
    expect(error).toMatchObject({
      code: 'BAD_INPUT',
      message:
        'the Keystone catalogue has compute endpoints in several regions (RegionOne, RegionTwo)',
    });
    expect(error.hint).toContain('OS_REGION_NAME');
  });

  it('an interface the region lacks is BAD_INPUT listing what the catalogue has', async () => {
    const { cloud } = await rig({
      config: (url) => passwordConfig(url, { region: 'RegionTwo', interface: 'internal' }),
    });
    const error = await failure(cloud.instance(`openstack:///${SERVER.mig}`));
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toBe(
      'the Keystone catalogue has no compute endpoint with interface internal in region RegionTwo (it has: public@RegionOne, internal@RegionOne, admin@RegionOne, public@RegionTwo)',
    );
    expect(error.hint).toContain('OS_INTERFACE');
  });

  it('uses the configured interface and region', async () => {
    const internal = await rig({ config: (url) => passwordConfig(url, { interface: 'internal' }) });
    await internal.cloud.instance(`openstack:///${SERVER.mig}`);
    await internal.cloud.ports(SERVER.mig);
    expect(internal.server.apiRequests().map((r) => r.endpoint)).toEqual(['internal', 'internal']);
    const two = await rig({ config: (url) => passwordConfig(url, { region: 'RegionTwo' }) });
    await two.cloud.ports(SERVER.mig);
    expect(two.server.apiRequests().map((r) => r.endpoint)).toEqual(['region-two']);
  });

  it('a service missing at that interface is named: compute works on admin, network does not', async () => {
    const { cloud, server } = await rig({
      config: (url) => passwordConfig(url, { interface: 'admin' }),
    });
    expect(await cloud.instance(`openstack:///${SERVER.mig}`)).not.toBeNull();
    expect(server.apiRequests()[0]?.endpoint).toBe('admin');
    const error = await failure(cloud.ports(SERVER.mig));
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toContain('no network endpoint with interface admin in region RegionOne');
  });
});

describe('retries, deadlines and errors', () => {
  it('retries a 503 from the load balancer with backoff, then succeeds', async () => {
    const { server, cloud, lines } = await rig();
    server.inject({
      when: isServerGet,
      action: { status: 503, file: 'haproxy-503.txt' },
      times: 2,
    });
    const started = performance.now();
    expect((await cloud.instance(`openstack:///${SERVER.mig}`))?.status).toBe('ACTIVE');
    const elapsed = performance.now() - started;
    expect(server.apiRequests().filter(isServerGet)).toHaveLength(3);
    const retries = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['msg'] === 'openstack request retried');
    // base 20 ms, random 0.5: attempt 1 waits 10 + 5, attempt 2 waits 20 + 10.
    expect(retries.map((r) => [r['reason'], r['delayMs'], r['attemptsLeft']])).toEqual([
      ['HTTP 503', 15, 3],
      ['HTTP 503', 30, 2],
    ]);
    expect(elapsed).toBeGreaterThanOrEqual(45);
  });

  it('gives up after its retries with UNAVAILABLE and the load balancer’s words', async () => {
    const { server, cloud } = await rig({ cloud: { retries: 2 } });
    server.inject({
      when: isServerGet,
      action: { status: 503, file: 'haproxy-503.txt' },
      times: 10,
    });
    const error = await failure(cloud.instance(`openstack:///${SERVER.mig}`));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toContain(
      '503 Service Unavailable No server is available to handle this request.',
    );
    expect(server.apiRequests().filter(isServerGet)).toHaveLength(3);
  });

  it('does not retry a 400, and says what Nova said', async () => {
    const { server, cloud } = await rig();
    server.inject({
      when: isReboot,
      action: { status: 400, file: 'nova-400-bad-reboot-type.json' },
    });
    const error = await failure(cloud.reboot(SERVER.mig, 'SOFT'));
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toContain(
      "'WARM' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']",
    );
    expect(server.apiRequests().filter(isReboot)).toHaveLength(1);
  });

  it('does not retry a 409: one reboot request, CONFLICT', async () => {
    const { server, cloud } = await rig();
    const error = await failure(cloud.reboot(SERVER.rebooting, 'HARD'));
    expect(error).toBeInstanceOf(OpenStackHttpError);
    expect(error).toMatchObject({ code: 'CONFLICT', status: 409, fault: 'conflictingRequest' });
    expect(error.message).toMatch(/\(HTTP 409, request req-[0-9a-f-]{36}\)$/);
    expect(server.apiRequests().filter(isReboot)).toHaveLength(1);
  });

  it('a silent API is TIMEOUT after each attempt’s deadline', async () => {
    const { server, cloud } = await rig({ cloud: { timeoutMs: 150, retries: 1 } });
    server.inject({ when: isServerGet, action: 'hang', times: 5 });
    const started = performance.now();
    const error = await failure(cloud.instance(`openstack:///${SERVER.mig}`));
    const elapsed = performance.now() - started;
    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toContain('no answer within 150 ms (after 2 attempts)');
    expect(server.apiRequests().filter(isServerGet)).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('a reset connection is retried', async () => {
    const { server, cloud } = await rig();
    server.inject({ when: isServerGet, action: 'reset' });
    expect((await cloud.instance(`openstack:///${SERVER.mig}`))?.id).toBe(SERVER.mig);
    expect(server.apiRequests().filter(isServerGet)).toHaveLength(2);
  });

  it('a reboot is never sent twice after a timeout or a reset, but is after a 503', async () => {
    const { server, cloud } = await rig({ cloud: { timeoutMs: 150 } });
    server.inject({ when: isReboot, action: 'hang' });
    expect((await failure(cloud.reboot(SERVER.mig, 'SOFT'))).code).toBe('TIMEOUT');
    expect(server.apiRequests().filter(isReboot)).toHaveLength(1);
    server.inject({ when: isReboot, action: 'reset' });
    expect((await failure(cloud.reboot(SERVER.mig, 'SOFT'))).code).toBe('UNAVAILABLE');
    expect(server.apiRequests().filter(isReboot)).toHaveLength(2);
    server.inject({ when: isReboot, action: { status: 503, file: 'haproxy-503.txt' } });
    await cloud.reboot(SERVER.mig, 'SOFT');
    expect(server.apiRequests().filter(isReboot)).toHaveLength(4);
  });

  it('a refused connection is UNAVAILABLE after the retries', async () => {
    const { server, cloud } = await rig({ cloud: { retries: 1 } });
    await cloud.instance(`openstack:///${SERVER.mig}`);
    await server.close();
    const error = await failure(cloud.instance(`openstack:///${SERVER.mig}`));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/ECONNREFUSED|ECONNRESET/);
  });

  it('a cloud older than microversion 2.79 is UNSUPPORTED with Nova’s words', async () => {
    const { cloud } = await rig({ server: { maxMicroversion: '2.60' } });
    const error = await failure(cloud.instance(`openstack:///${SERVER.mig}`));
    expect(error.code).toBe('UNSUPPORTED');
    expect(error.message).toContain(
      'Version 2.79 is not supported by the API. Minimum is 2.1 and maximum is 2.60.',
    );
  });

  it('a policy refusal (403) is BAD_INPUT naming the rule, in Nova’s and Neutron’s formats', async () => {
    const { server, cloud } = await rig();
    server.inject({
      when: (r) => r.path.endsWith('/diagnostics'),
      action: { status: 403, file: 'nova-403-diagnostics-policy.json' },
    });
    const nova = await failure(cloud.diagnostics(SERVER.mig));
    expect(nova).toMatchObject({ code: 'BAD_INPUT', fault: 'forbidden' });
    expect(nova.message).toContain(
      "Policy doesn't allow os_compute_api:os-server-diagnostics to be performed.",
    );
    expect(nova.hint).toContain('role');
    server.inject({
      when: (r) => r.method === 'PUT',
      action: { status: 403, file: 'neutron-403-policy.json' },
    });
    const neutron = await failure(cloud.setPortAdminState(PORT.mig, false));
    expect(neutron).toMatchObject({ code: 'BAD_INPUT', fault: 'PolicyNotAuthorized' });
    expect(neutron.message).toContain('rule:update_port is disallowed by policy');
  });

  it('a 404 that is not Nova’s “not found” is an error, not a deleted server', async () => {
    const { server, cloud } = await rig();
    server.inject({
      when: isServerGet,
      action: { status: 404, text: '404 Not Found', contentType: 'text/plain' },
    });
    const error = await failure(cloud.instance(`openstack:///${SERVER.mig}`));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toContain('404 Not Found');
  });

  it('an answer that is not OpenStack’s JSON is UNAVAILABLE', async () => {
    const { server, cloud } = await rig();
    server.inject({
      when: isServerGet,
      action: { status: 200, text: '<html>login</html>', contentType: 'text/html' },
    });
    const error = await failure(cloud.instance(`openstack:///${SERVER.mig}`));
    expect(error).toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('not a JSON object') as string,
    });
  });

  it('pages through instance actions by Nova’s next links', async () => {
    const { server, cloud } = await rig({ server: { maxLimit: 1 } });
    const actions = await cloud.instanceActions(SERVER.stopped);
    expect(actions.map((a) => a.action)).toEqual(['stop', 'reboot', 'create']);
    const pages = server.apiRequests().map((r) => r.query.get('marker'));
    expect(pages).toEqual([
      null,
      'req-4b6f2c1e-8d3a-4e5f-9a7b-1c3d5e7f9a2b',
      'req-0e9d8c7b-6a5f-4e4d-8c3b-2a1f0e9d8c7b',
      'req-6c5b4a3f-2e1d-4c0b-9a8f-7e6d5c4b3a2f',
    ]);
    expect(server.apiRequests()[0]?.query.get('limit')).toBe('100');
  });

  it('asks Nova for changes-since in UTC', async () => {
    const { server, cloud } = await rig();
    await cloud.instanceActions(SERVER.stopped, '2025-08-25T13:00:00+09:00');
    expect(server.apiRequests()[0]?.query.get('changes-since')).toBe('2025-08-25T04:00:00.000Z');
  });

  it('asks for the whole console without a length, and the tail with one', async () => {
    const { server, cloud } = await rig();
    await cloud.consoleLog(SERVER.mig);
    await cloud.consoleLog(SERVER.mig, 50);
    expect(server.apiRequests().map((r) => r.body)).toEqual([
      { 'os-getConsoleOutput': {} },
      { 'os-getConsoleOutput': { length: 50 } },
    ]);
  });

  it('fetches the ports and groups of all servers in one request each', async () => {
    const { server, cloud } = await rig();
    await cloud.geneveAllowed([SERVER.mig, SERVER.stopped, SERVER.rebooting]);
    const [ports, groups] = server.apiRequests();
    expect(server.apiRequests()).toHaveLength(2);
    expect(ports?.query.getAll('device_id')).toEqual([
      SERVER.mig,
      SERVER.stopped,
      SERVER.rebooting,
    ]);
    expect(groups?.path).toBe('/networking/v2.0/security-groups');
    expect(groups?.query.getAll('id').sort()).toEqual(
      ['3f8b2a6c-7d4e-4e0f-9a1b-5c3d7e9f1a2b', '4a9c3b7d-8e5f-4f1a-8b2c-6d4e8f0a2b3c'].sort(),
    );
  });
});

describe('TLS with a private CA', () => {
  let tls: TlsMaterial;
  let dir: string;
  beforeAll(async () => {
    tls = await selfSignedCert();
    dir = await mkdtemp(join(tmpdir(), 'nw-openstack-ca-'));
    await writeFile(join(dir, 'ca.pem'), tls.cert);
    await writeFile(join(dir, 'not-pem.der'), Buffer.from([0x30, 0x82, 0x01, 0x0a]));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('trusts the cloud when caFile holds its CA', async () => {
    const { cloud, server } = await rig({
      server: { tls },
      config: (url) => passwordConfig(url, { caFile: join(dir, 'ca.pem') }),
    });
    expect(server.authUrl.startsWith('https://127.0.0.1:')).toBe(true);
    expect((await cloud.instance(`openstack:///${SERVER.mig}`))?.status).toBe('ACTIVE');
  });

  it('without it, the TLS failure says to set caFile, and is not retried', async () => {
    const { cloud, server, lines } = await rig({ server: { tls } });
    const error = await failure(cloud.instance(`openstack:///${SERVER.mig}`));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toContain('TLS failed: DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(error.hint).toContain('OS_CACERT');
    expect(server.requests).toHaveLength(0);
    expect(lines.filter((l) => l.includes('openstack request retried'))).toHaveLength(0);
  });

  it('an unreadable or non-PEM caFile is BAD_INPUT naming the file', async () => {
    const missing = await failure(
      openOpenStackCloud(
        passwordConfig('https://127.0.0.1:1/v3', { caFile: join(dir, 'absent.pem') }),
      ),
    );
    expect(missing).toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('absent.pem') as string,
    });
    const der = await failure(
      openOpenStackCloud(
        passwordConfig('https://127.0.0.1:1/v3', { caFile: join(dir, 'not-pem.der') }),
      ),
    );
    expect(der.message).toContain('holds no PEM certificate');
  });
});

describe('secrets', () => {
  /** Everything a session can do and fail at, logged at debug level. */
  async function fullSession(
    config: (url: string) => OpenStackConfig,
    secret: string,
  ): Promise<{ lines: string[]; errors: string[]; secrets: string[] }> {
    const { server, cloud, lines } = await rig({ config, cloud: { timeoutMs: 150 } });
    const errors: string[] = [];
    const attempt = async (p: Promise<unknown>): Promise<void> => {
      try {
        await p;
      } catch (error) {
        if (error instanceof NodeWardenError) errors.push(`${error.message} ${error.hint ?? ''}`);
        else throw error;
      }
    };
    await attempt(cloud.instance(`openstack:///${SERVER.mig}`));
    await attempt(cloud.instanceActions(SERVER.stopped));
    await attempt(cloud.consoleLog(SERVER.mig, 10));
    await attempt(cloud.diagnostics(SERVER.mig));
    await attempt(cloud.ports(SERVER.mig));
    await attempt(cloud.geneveAllowed([SERVER.mig, SERVER.stopped]));
    await attempt(cloud.setPortAdminState(PORT.gone, false));
    await attempt(cloud.reboot(SERVER.rebooting, 'HARD'));
    server.revokeTokens();
    await attempt(cloud.reboot(SERVER.mig, 'SOFT'));
    server.inject({ when: isServerGet, action: { status: 503, file: 'haproxy-503.txt' } });
    await attempt(cloud.instance(`openstack:///${SERVER.mig}`));
    server.inject({ when: isServerGet, action: 'hang', times: 4 });
    await attempt(cloud.instance(`openstack:///${SERVER.mig}`));
    // A broken proxy that echoes the request, secret and token, into its error page
    // (the token last, where the 200-character cut of error texts falls inside it).
    const token = [...server.tokens.keys()].at(-1) ?? '';
    const echoed = `<h1>502 Bad Gateway</h1> upstream got password=${secret} token=${token}`;
    server.inject({
      when: isServerGet,
      action: { status: 502, text: echoed, contentType: 'text/html' },
      times: 4,
    });
    await attempt(cloud.instance(`openstack:///${SERVER.mig}`));
    expect(server.authRequests().length).toBeGreaterThanOrEqual(2);
    return { lines, errors, secrets: [secret, ...server.tokens.keys()] };
  }

  for (const [name, config, secret] of [
    ['password', passwordConfig, PASSWORD],
    ['application credential', appCredConfig, APP_CRED_SECRET],
  ] as const) {
    it(`a whole ${name} session logs no password, secret or token, and no error carries one`, async () => {
      const { lines, errors, secrets } = await fullSession(config, secret);
      expect(lines.length).toBeGreaterThan(20);
      expect(errors.length).toBeGreaterThanOrEqual(4);
      for (const secret of secrets) {
        for (const line of lines) expect(line).not.toContain(secret);
        for (const error of errors) expect(error).not.toContain(secret);
      }
      // The echoing proxy's page reached the error, redacted, token included though cut short.
      expect(errors.some((e) => e.includes('password=[redacted] token=[redacted]'))).toBe(true);
      // No prefix of a token either (a cut token is still most of a token).
      for (const token of secrets.slice(1)) {
        for (const text of [...lines, ...errors]) expect(text).not.toContain(token.slice(0, 40));
      }
    });
  }

  it('logs each request with its status, and the token’s expiry, not the token', async () => {
    const { cloud, lines } = await rig();
    await cloud.instance(`openstack:///${SERVER.mig}`);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.find((l) => l['msg'] === 'keystone token issued')).toMatchObject({
      cloud: 'openstack',
      method: 'password',
      expiresAt: new Date(WORLD_NOW + 3_600_000).toISOString(),
      renewAt: new Date(WORLD_NOW + 3_300_000).toISOString(),
    });
    expect(
      parsed
        .filter((l) => l['msg'] === 'openstack request')
        .map((l) => [l['service'], l['method'], l['path'], l['status']]),
    ).toEqual([
      ['identity', 'POST', '/identity/v3/auth/tokens', 201],
      ['compute', 'GET', `/compute/v2.1/servers/${SERVER.mig}`, 200],
    ]);
    expect(parsed.find((l) => l['msg'] === 'openstack cloud configured')).toMatchObject({
      username: USERNAME,
      project: PROJECT_NAME,
    });
  });
});
