/**
 * The fixtures keep the shapes of the API reference, the README accounts for
 * every file, and the fixture server's generated answers are the files'.
 */
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenStackFixtureServer } from '../../../test/fixtures/openstack/fixture-server.ts';
import {
  PASSWORD,
  PROJECT_NAME,
  SERVER,
  USERNAME,
  fixtureJson,
  fixtureText,
  migConsoleRaw,
} from '../../../test/fixtures/openstack/world.ts';

const DIR = new URL('../../../test/fixtures/openstack/', import.meta.url);

/** Top-level keys of GET /servers/{id} at microversion 2.73–2.79 (nova doc/api_samples/servers/v2.73/server-get-resp.json). */
const SERVER_KEYS = [
  'OS-DCF:diskConfig',
  'OS-EXT-AZ:availability_zone',
  'OS-EXT-SRV-ATTR:host',
  'OS-EXT-SRV-ATTR:hostname',
  'OS-EXT-SRV-ATTR:hypervisor_hostname',
  'OS-EXT-SRV-ATTR:instance_name',
  'OS-EXT-SRV-ATTR:kernel_id',
  'OS-EXT-SRV-ATTR:launch_index',
  'OS-EXT-SRV-ATTR:ramdisk_id',
  'OS-EXT-SRV-ATTR:reservation_id',
  'OS-EXT-SRV-ATTR:root_device_name',
  'OS-EXT-SRV-ATTR:user_data',
  'OS-EXT-STS:power_state',
  'OS-EXT-STS:task_state',
  'OS-EXT-STS:vm_state',
  'OS-SRV-USG:launched_at',
  'OS-SRV-USG:terminated_at',
  'accessIPv4',
  'accessIPv6',
  'addresses',
  'config_drive',
  'created',
  'description',
  'flavor',
  'hostId',
  'host_status',
  'id',
  'image',
  'key_name',
  'links',
  'locked',
  'locked_reason',
  'metadata',
  'name',
  'os-extended-volumes:volumes_attached',
  'progress',
  'security_groups',
  'server_groups',
  'status',
  'tags',
  'tenant_id',
  'trusted_image_certificates',
  'updated',
  'user_id',
].sort();

/** nova views/servers.py _show_from_down_cell for GET /servers/{id}. */
const DOWN_CELL_KEYS = [
  'OS-EXT-AZ:availability_zone',
  'OS-EXT-STS:power_state',
  'created',
  'flavor',
  'id',
  'image',
  'links',
  'server_groups',
  'status',
  'tenant_id',
  'user_id',
].sort();

describe('OpenStack fixtures', () => {
  it('the README accounts for every file, and names none that is missing', () => {
    const readme = fixtureText('README.md');
    const files = readdirSync(DIR).filter((f) => f !== 'README.md');
    const listed = [...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(files.sort());
  });

  it('servers carry the 2.79 show fields; progress only where Nova shows it; the down cell only its partial set', () => {
    for (const file of ['nova-server-bkqzq.json', 'nova-server-pkmt5.json']) {
      expect(Object.keys(fixtureJson<{ server: object }>(file).server).sort()).toEqual(SERVER_KEYS);
    }
    for (const file of ['nova-server-85zt7.json', 'nova-server-9f79t.json']) {
      expect(Object.keys(fixtureJson<{ server: object }>(file).server).sort()).toEqual(
        SERVER_KEYS.filter((k) => k !== 'progress'),
      );
    }
    expect(
      Object.keys(
        fixtureJson<{ server: object }>('nova-server-wn4gb-cell-down.json').server,
      ).sort(),
    ).toEqual(DOWN_CELL_KEYS);
  });

  it('instance actions carry the 2.58 fields, with Nova’s times (UTC, microseconds, no zone)', () => {
    for (const file of [
      'nova-actions-85zt7.json',
      'nova-actions-9f79t.json',
      'nova-actions-bkqzq.json',
    ]) {
      for (const action of fixtureJson<{ instanceActions: Record<string, unknown>[] }>(file)
        .instanceActions) {
        expect(Object.keys(action).sort()).toEqual(
          [
            'action',
            'instance_uuid',
            'message',
            'project_id',
            'request_id',
            'start_time',
            'updated_at',
            'user_id',
          ].sort(),
        );
        expect(action['start_time']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/);
      }
    }
  });

  it('the raw console is what a serial console writes; Nova’s output of it is stripped and ASCII', () => {
    const raw = migConsoleRaw();
    expect(raw).toContain('\r\n');
    expect(raw).toContain('\u001b[0;32m  OK  ');
    expect(raw).toContain('\u2013');
    const output = fixtureJson<{ output: string }>('nova-console-output-bkqzq.json').output;
    expect(output.includes('\r') || output.includes('\u001b') || output.includes('\u2013')).toBe(
      false,
    );
    expect(output.match(/\ufffd/g)).toHaveLength(6);
  });

  it('security group rules and ports carry the Neutron fields the adapter reads', () => {
    const groups = fixtureJson<{
      security_groups: { security_group_rules: Record<string, unknown>[] }[];
    }>('neutron-security-groups.json').security_groups;
    for (const rule of groups.flatMap((g) => g.security_group_rules)) {
      for (const key of [
        'id',
        'direction',
        'ethertype',
        'protocol',
        'port_range_min',
        'port_range_max',
        'remote_ip_prefix',
        'remote_group_id',
        'remote_address_group_id',
        'security_group_id',
      ]) {
        expect(rule).toHaveProperty(key);
      }
    }
    const ports = fixtureJson<{ ports: Record<string, unknown>[] }>('neutron-ports.json').ports;
    for (const port of ports) {
      for (const key of [
        'id',
        'device_id',
        'device_owner',
        'status',
        'admin_state_up',
        'binding:host_id',
        'binding:vif_type',
        'fixed_ips',
        'security_groups',
        'port_security_enabled',
      ]) {
        expect(port).toHaveProperty(key);
      }
    }
  });
});

describe('the fixture server answers with the files', () => {
  let server: OpenStackFixtureServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  function call(method: string, path: string, body: unknown, token?: string) {
    const s = server;
    if (s === undefined) throw new Error('no server');
    return new Promise<{ status: number; headers: Record<string, unknown>; body: unknown }>(
      (resolve, reject) => {
        const payload = JSON.stringify(body);
        const req = request(
          `${s.origin}${path}`,
          {
            method,
            headers: {
              'content-type': 'application/json',
              'openstack-api-version': 'compute 2.79',
              ...(token === undefined ? {} : { 'x-auth-token': token }),
            },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (c: string) => (text += c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: text === '' ? undefined : (JSON.parse(text) as unknown),
              }),
            );
          },
        );
        req.on('error', reject);
        req.end(method === 'GET' ? undefined : payload);
      },
    );
  }

  it('409s, 404s and 401s are the fixture bodies, with the headers Nova and keystonemiddleware send', async () => {
    server = await OpenStackFixtureServer.start();
    const bad = await call('POST', '/identity/v3/auth/tokens', {
      auth: { identity: { methods: ['password'] } },
    });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual(fixtureJson('error-401-unauthorized.json'));
    expect(bad.headers['www-authenticate']).toBe(`Keystone uri="${server.origin}/identity"`);
    const auth = await call('POST', '/identity/v3/auth/tokens', {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: USERNAME, domain: { name: 'Default' }, password: PASSWORD } },
        },
        scope: { project: { name: PROJECT_NAME, domain: { name: 'Default' } } },
      },
    });
    expect(auth.status).toBe(201);
    const token = auth.headers['x-subject-token'] as string;
    expect(token).toMatch(/^gAAAAA[\w-]{170,}$/);
    const catalog = JSON.stringify((auth.body as { token: { catalog: unknown } }).token.catalog);
    expect(catalog).toContain(`${server.origin}/compute/v2.1`);
    expect(catalog).not.toContain('openstack.test');

    const taskConflict = await call(
      'POST',
      `/compute/v2.1/servers/${SERVER.rebooting}/action`,
      { reboot: { type: 'HARD' } },
      token,
    );
    expect([taskConflict.status, taskConflict.body]).toEqual([
      409,
      fixtureJson('nova-409-reboot-task-state.json'),
    ]);
    expect(taskConflict.headers['openstack-api-version']).toBe('compute 2.79');
    const vmConflict = await call(
      'POST',
      `/compute/v2.1/servers/${SERVER.stopped}/action`,
      { reboot: { type: 'SOFT' } },
      token,
    );
    expect([vmConflict.status, vmConflict.body]).toEqual([
      409,
      fixtureJson('nova-409-reboot-vm-state.json'),
    ]);
    const gone = await call('GET', `/compute/v2.1/servers/${SERVER.gone}`, undefined, token);
    expect([gone.status, gone.body]).toEqual([404, fixtureJson('nova-404-server-not-found.json')]);
    const badType = await call(
      'POST',
      `/compute/v2.1/servers/${SERVER.mig}/action`,
      { reboot: { type: 'WARM' } },
      token,
    );
    expect([badType.status, badType.body]).toEqual([
      400,
      fixtureJson('nova-400-bad-reboot-type.json'),
    ]);
    const port = await call(
      'PUT',
      '/networking/v2.0/ports/c1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7ff',
      { port: { admin_state_up: false } },
      token,
    );
    expect([port.status, port.body]).toEqual([404, fixtureJson('neutron-404-port-not-found.json')]);
    const expired = await call(
      'GET',
      `/compute/v2.1/servers/${SERVER.mig}`,
      undefined,
      'gAAAAAnot-a-token',
    );
    expect([expired.status, expired.body]).toEqual([
      401,
      fixtureJson('error-401-unauthorized.json'),
    ]);
  });
});
