import { describe, expect, it } from 'vitest';
import { openStackConfigFromEnv } from '../../cloud/openstack/config.ts';
import {
  glanceConf,
  keystoneConf,
  labPaths,
  neutronConf,
  novaConf,
  openrc,
  PYTHON,
  renderIni,
  serviceCommands,
  uwsgiIni,
  type LabSecrets,
} from './plan.ts';
import { parseStatPgrp, parseStatusRssKiB } from './procs.ts';

const secrets: LabSecrets = {
  dbPassword: 'db-secret',
  rabbitPassword: 'rabbit-secret',
  adminPassword: 'admin-secret',
  servicePassword: 'service-secret',
  memberPassword: 'member-secret',
};
const paths = labPaths('/var/lib/nodewarden/openstack');
const tools = '/repo/tools/openstack/';

/** The values of one section of an INI text. */
function section(ini: string, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  let current = '';
  for (const line of ini.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1] !== undefined) current = header[1];
    const kv = /^(\S+) = (.*)$/.exec(line);
    if (current === name && kv?.[1] !== undefined && kv[2] !== undefined) out[kv[1]] = kv[2];
  }
  return out;
}

describe('lab OpenStack configuration', () => {
  it('renders oslo.config INI sections in order', () => {
    expect(renderIni({ a: { x: 1, y: true }, b: { z: 'w' } })).toBe(
      '[a]\nx = 1\ny = true\n\n[b]\nz = w\n',
    );
  });

  it('points every service at MariaDB on the lab socket, never TCP', () => {
    for (const conf of [
      keystoneConf(secrets, paths),
      glanceConf(secrets, paths, tools),
      neutronConf(secrets, paths, tools),
    ]) {
      expect(section(conf, 'database')['connection']).toMatch(
        /^mysql\+pymysql:\/\/openstack:db-secret@localhost\/\w+\?unix_socket=\/var\/lib\/nodewarden\/openstack\/run\/mysqld\.sock&charset=utf8$/,
      );
    }
    const nova = novaConf(secrets, paths, tools);
    expect(section(nova, 'api_database')['connection']).toContain('/nova_api?unix_socket=');
  });

  it('runs Nova with the fake driver, short token trust, no AMQP heartbeats and a fast power sync', () => {
    const nova = novaConf(secrets, paths, tools);
    expect(section(nova, 'DEFAULT')).toMatchObject({
      compute_driver: 'fake.FakeDriver',
      host: 'nw-os-compute',
      sync_power_state_interval: '10',
      transport_url: 'rabbit://nodewarden:rabbit-secret@127.0.0.1:5672/',
    });
    expect(section(nova, 'keystone_authtoken')['token_cache_time']).toBe('5');
    expect(section(nova, 'oslo_messaging_rabbit')['heartbeat_timeout_threshold']).toBe('0');
    expect(section(nova, 'scheduler')['workers']).toBe('1');
    expect(section(nova, 'conductor')['workers']).toBe('1');
  });

  it('binds ports with the lab ML2 driver and keeps Neutron and Glance in the launched process', () => {
    const neutron = neutronConf(secrets, paths, tools);
    expect(section(neutron, 'ml2')['mechanism_drivers']).toBe('nodewarden_bind');
    expect(section(neutron, 'DEFAULT')['api_workers']).toBe('0');
    expect(section(neutron, 'DEFAULT')['bind_host']).toBe('127.0.0.1');
    expect(section(glanceConf(secrets, paths, tools), 'DEFAULT')['workers']).toBe('0');
  });

  it('gives uWSGI one process, loopback only, and Connection: close', () => {
    const ini = uwsgiIni({ port: 5000, wsgiFile: '/w.py', env: { A: 'b' }, pythonPath: '/p' });
    expect(ini).toContain('http-socket = 127.0.0.1:5000');
    expect(ini).toContain('processes = 1');
    expect(ini).toContain('threads = 1');
    expect(ini).toContain('add-header = Connection: close');
    expect(ini).toContain('env = A=b');
  });

  it("starts the Python services with Debian's python3 through launch.py", () => {
    const commands = serviceCommands(paths, tools);
    expect(commands.map((c) => c.name)).toEqual([
      'keystone',
      'placement',
      'glance-api',
      'neutron-server',
      'nova-conductor',
      'nova-scheduler',
      'nova-api',
      'nova-compute',
    ]);
    const compute = commands.find((c) => c.name === 'nova-compute');
    expect(compute?.argv.slice(0, 3)).toEqual([
      PYTHON,
      '/repo/tools/openstack/launch.py',
      'nova-compute',
    ]);
  });

  it('writes openrc files the adapter reads', () => {
    const env: Record<string, string> = {};
    for (const line of openrc('nodewarden', 'pw', 'nodewarden-lab').split('\n')) {
      const m = /^export (\w+)=(.*)$/.exec(line);
      if (m?.[1] !== undefined && m[2] !== undefined) env[m[1]] = m[2];
    }
    const config = openStackConfigFromEnv(env);
    expect(config.auth).toMatchObject({
      type: 'password',
      username: 'nodewarden',
      projectName: 'nodewarden-lab',
    });
    expect(config.region).toBe('RegionOne');
  });
});

describe('process groups from /proc', () => {
  it('reads the process group after a command name with spaces and parentheses', () => {
    expect(parseStatPgrp('4242 (nova-compute (x) y) S 1 4240 4240 0 -1 4194560')).toBe(4240);
    expect(parseStatPgrp('garbage')).toBeNull();
  });

  it('reads VmRSS, and 0 for a kernel thread without it', () => {
    expect(parseStatusRssKiB('Name:\tuwsgi\nVmRSS:\t  153600 kB\nThreads: 3\n')).toBe(153600);
    expect(parseStatusRssKiB('Name:\tkthreadd\n')).toBe(0);
  });
});
