/**
 * The lab OpenStack on paper: where every file goes, which port each API
 * listens on, every service's configuration file and command line. Pure: the
 * runner (stack.ts) writes these files and starts these commands.
 *
 * Everything listens on 127.0.0.1 of the root namespace; MariaDB only on a
 * unix socket. One worker per service (the machine is shared and has two
 * cores).
 */
import { join } from 'node:path';

export const DEFAULT_OPENSTACK_DIR = '/var/lib/nodewarden/openstack';
export const REGION = 'RegionOne';
/** Nova's `host` of the fake compute service, and so the hypervisor name. */
export const COMPUTE_HOST = 'nw-os-compute';
/** The project the lab's nodes (servers) live in, and its member user. */
export const LAB_PROJECT = 'nodewarden-lab';
export const LAB_USER = 'nodewarden';
export const ADMIN_USER = 'admin';
export const ADMIN_PROJECT = 'admin';
export const SERVICE_PROJECT = 'service';

export const PORTS = {
  keystone: 5000,
  placement: 8778,
  glance: 9292,
  neutron: 9696,
  nova: 8774,
  rabbitmq: 5672,
  rabbitmqDist: 25672,
  epmd: 4369,
} as const;

export const DATABASES = [
  'keystone',
  'placement',
  'glance',
  'neutron',
  'nova_api',
  'nova',
  'nova_cell0',
] as const;

/** Generated once, cached with the database dump (the dump holds their hashes and the cell mappings hold the URLs). */
export interface LabSecrets {
  readonly dbPassword: string;
  readonly rabbitPassword: string;
  readonly adminPassword: string;
  readonly servicePassword: string;
  readonly memberPassword: string;
}

export type ServiceName =
  | 'mariadb'
  | 'epmd'
  | 'rabbitmq'
  | 'keystone'
  | 'placement'
  | 'glance-api'
  | 'neutron-server'
  | 'nova-conductor'
  | 'nova-scheduler'
  | 'nova-api'
  | 'nova-compute';

export interface LabPaths {
  readonly dir: string;
  readonly etc: string;
  readonly logs: string;
  readonly run: string;
  readonly mysqlData: string;
  readonly mysqlSocket: string;
  readonly rabbitBase: string;
  readonly fernetKeys: string;
  readonly credentialKeys: string;
  readonly images: string;
  readonly novaState: string;
  readonly neutronState: string;
  readonly glanceState: string;
  readonly state: string;
  readonly adminOpenrc: string;
  readonly memberOpenrc: string;
}

export function labPaths(dir: string): LabPaths {
  return {
    dir,
    etc: join(dir, 'etc'),
    logs: join(dir, 'logs'),
    run: join(dir, 'run'),
    mysqlData: join(dir, 'mysql'),
    mysqlSocket: join(dir, 'run', 'mysqld.sock'),
    rabbitBase: join(dir, 'rabbitmq'),
    fernetKeys: join(dir, 'keystone', 'fernet-keys'),
    credentialKeys: join(dir, 'keystone', 'credential-keys'),
    images: join(dir, 'glance', 'images'),
    novaState: join(dir, 'nova'),
    neutronState: join(dir, 'neutron'),
    glanceState: join(dir, 'glance'),
    state: join(dir, 'state.json'),
    adminOpenrc: join(dir, 'admin-openrc'),
    memberOpenrc: join(dir, 'member-openrc'),
  };
}

export const keystoneUrl = `http://127.0.0.1:${PORTS.keystone}/v3`;

/** The catalogue the lab registers (public, internal and admin interfaces alike). */
export const CATALOG: readonly { type: string; name: string; url: string }[] = [
  { type: 'compute', name: 'nova', url: `http://127.0.0.1:${PORTS.nova}/v2.1` },
  { type: 'placement', name: 'placement', url: `http://127.0.0.1:${PORTS.placement}` },
  { type: 'image', name: 'glance', url: `http://127.0.0.1:${PORTS.glance}` },
  { type: 'network', name: 'neutron', url: `http://127.0.0.1:${PORTS.neutron}` },
];

/** Service users, each an admin of the service project. */
export const SERVICE_USERS = ['nova', 'placement', 'glance', 'neutron'] as const;

type Ini = Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>>;

/** oslo.config INI text. */
export function renderIni(ini: Ini): string {
  return (
    Object.entries(ini)
      .map(
        ([section, values]) =>
          `[${section}]\n` +
          Object.entries(values)
            .map(([k, v]) => `${k} = ${String(v)}\n`)
            .join(''),
      )
      .join('\n') + ''
  );
}

export function dbUrl(secrets: LabSecrets, paths: LabPaths, database: string): string {
  return `mysql+pymysql://openstack:${secrets.dbPassword}@localhost/${database}?unix_socket=${paths.mysqlSocket}&charset=utf8`;
}

export function transportUrl(secrets: LabSecrets): string {
  return `rabbit://nodewarden:${secrets.rabbitPassword}@127.0.0.1:${PORTS.rabbitmq}/`;
}

/** keystonemiddleware / keystoneauth settings of a service user. */
function serviceAuth(secrets: LabSecrets, user: string): Record<string, string> {
  return {
    auth_url: `http://127.0.0.1:${PORTS.keystone}/`,
    auth_type: 'password',
    project_domain_name: 'Default',
    user_domain_name: 'Default',
    project_name: SERVICE_PROJECT,
    username: user,
    password: secrets.servicePassword,
    region_name: REGION,
  };
}

function authtoken(
  secrets: LabSecrets,
  user: string,
  cacheSeconds = 300,
): Record<string, string | number> {
  return {
    www_authenticate_uri: `http://127.0.0.1:${PORTS.keystone}/`,
    ...serviceAuth(secrets, user),
    // How long a validated token is trusted without asking Keystone again
    // (keystonemiddleware's default: 300 s). A token revoked in Keystone is
    // still accepted for up to this long — real clouds behave the same.
    token_cache_time: cacheSeconds,
  };
}

/**
 * No AMQP heartbeats. nova-api runs under uWSGI without eventlet, so nothing
 * sends its heartbeats while it is idle: RabbitMQ closed its connection after
 * 60 s ("missed heartbeats from client"), the replies to its calls to
 * nova-compute were lost, and console output, attach_interface, … failed with
 * MessagingTimeout after 60 s. On loopback a dead peer is seen anyway.
 */
const RABBIT_CLIENT = { heartbeat_timeout_threshold: 0 } as const;

export function keystoneConf(secrets: LabSecrets, paths: LabPaths): string {
  return renderIni({
    DEFAULT: { use_stderr: true },
    database: { connection: dbUrl(secrets, paths, 'keystone') },
    token: { provider: 'fernet', expiration: 3600 },
    // bcrypt's minimum cost: at the default (12) each password login costs
    // seconds of CPU on the lab's two shared cores.
    identity: { password_hash_rounds: 4 },
    fernet_tokens: { key_repository: paths.fernetKeys },
    credential: { key_repository: paths.credentialKeys },
    // In-process cache of roles, catalogue and validated tokens: without it each
    // token validation costs seconds of CPU on the lab's two shared cores. One
    // Keystone process, so a revocation invalidates it at once.
    cache: { enabled: true, backend: 'oslo_cache.dict' },
  });
}

export function placementConf(secrets: LabSecrets, paths: LabPaths): string {
  return renderIni({
    DEFAULT: { use_stderr: true },
    placement_database: { connection: dbUrl(secrets, paths, 'placement') },
    api: { auth_strategy: 'keystone' },
    keystone_authtoken: authtoken(secrets, 'placement'),
  });
}

export function glanceConf(secrets: LabSecrets, paths: LabPaths, toolsDir: string): string {
  return renderIni({
    DEFAULT: {
      use_stderr: true,
      bind_host: '127.0.0.1',
      bind_port: PORTS.glance,
      // 0: serve in the launched process itself (no forked worker).
      workers: 0,
      enabled_backends: 'file:file',
    },
    database: { connection: dbUrl(secrets, paths, 'glance') },
    glance_store: { default_backend: 'file' },
    file: { filesystem_store_datadir: paths.images },
    os_glance_staging_store: { filesystem_store_datadir: join(paths.glanceState, 'staging') },
    os_glance_tasks_store: { filesystem_store_datadir: join(paths.glanceState, 'tasks') },
    keystone_authtoken: authtoken(secrets, 'glance'),
    paste_deploy: {
      flavor: 'keystone',
      config_file: join(toolsDir, 'paste', 'glance-api-paste.ini'),
    },
    oslo_concurrency: { lock_path: join(paths.glanceState, 'lock') },
  });
}

export function neutronConf(secrets: LabSecrets, paths: LabPaths, toolsDir: string): string {
  return renderIni({
    DEFAULT: {
      use_stderr: true,
      core_plugin: 'ml2',
      service_plugins: '',
      auth_strategy: 'keystone',
      transport_url: transportUrl(secrets),
      bind_host: '127.0.0.1',
      bind_port: PORTS.neutron,
      // 0: the API in the launched process; Neutron forks one RPC worker whatever the setting.
      api_workers: 0,
      rpc_workers: 1,
      rpc_state_report_workers: 0,
      state_path: paths.neutronState,
      api_paste_config: join(toolsDir, 'paste', 'neutron-api-paste.ini'),
      // No agents: nothing to schedule networks to, nothing that reports a port up.
      dhcp_agent_notification: false,
      notify_nova_on_port_status_changes: false,
      notify_nova_on_port_data_changes: false,
    },
    database: { connection: dbUrl(secrets, paths, 'neutron') },
    keystone_authtoken: authtoken(secrets, 'neutron'),
    oslo_concurrency: { lock_path: join(paths.neutronState, 'lock') },
    ml2: {
      type_drivers: 'flat,vxlan',
      tenant_network_types: 'vxlan',
      mechanism_drivers: 'nodewarden_bind',
      extension_drivers: 'port_security',
    },
    ml2_type_vxlan: { vni_ranges: '1:1000' },
    ml2_type_flat: { flat_networks: '*' },
    securitygroup: { enable_security_group: true },
    oslo_messaging_rabbit: RABBIT_CLIENT,
  });
}

export function novaConf(secrets: LabSecrets, paths: LabPaths, toolsDir: string): string {
  return renderIni({
    DEFAULT: {
      use_stderr: true,
      transport_url: transportUrl(secrets),
      my_ip: '127.0.0.1',
      host: COMPUTE_HOST,
      compute_driver: 'fake.FakeDriver',
      state_path: paths.novaState,
      instances_path: join(paths.novaState, 'instances'),
      osapi_compute_workers: 1,
      metadata_workers: 1,
      // Nova's periodic power-state sync (what stops a server whose guest shut
      // itself down) every 10 s instead of 10 min, so the lab can show it.
      sync_power_state_interval: 10,
    },
    api: { auth_strategy: 'keystone' },
    api_database: { connection: dbUrl(secrets, paths, 'nova_api') },
    database: { connection: dbUrl(secrets, paths, 'nova') },
    wsgi: { api_paste_config: join(toolsDir, 'paste', 'nova-api-paste.ini') },
    // 5 s, not 300: the adapter tests revoke a token and expect Nova to refuse it soon after.
    keystone_authtoken: authtoken(secrets, 'nova', 5),
    placement: serviceAuth(secrets, 'placement'),
    neutron: serviceAuth(secrets, 'neutron'),
    glance: { region_name: REGION },
    service_user: { send_service_user_token: false },
    conductor: { workers: 1 },
    scheduler: { workers: 1, discover_hosts_in_cells_interval: 2 },
    vnc: { enabled: false },
    oslo_concurrency: { lock_path: join(paths.novaState, 'lock') },
    oslo_messaging_notifications: { driver: 'noop' },
    oslo_messaging_rabbit: RABBIT_CLIENT,
  });
}

/** RabbitMQ: loopback only, no management plugin. */
export function rabbitConf(): string {
  return [
    `listeners.tcp.default = 127.0.0.1:${PORTS.rabbitmq}`,
    `distribution.listener.interface = 127.0.0.1`,
    `distribution.listener.port_range.min = ${PORTS.rabbitmqDist}`,
    `distribution.listener.port_range.max = ${PORTS.rabbitmqDist}`,
    'loopback_users = none',
    'log.console = true',
    'log.file = false',
    '',
  ].join('\n');
}

export function uwsgiIni(options: {
  readonly port: number;
  readonly wsgiFile: string;
  readonly env: Readonly<Record<string, string>>;
  readonly pythonPath: string;
}): string {
  return [
    '[uwsgi]',
    'plugins = python3',
    `http-socket = 127.0.0.1:${options.port}`,
    `wsgi-file = ${options.wsgiFile}`,
    `pythonpath = ${options.pythonPath}`,
    'master = true',
    'processes = 1',
    // One thread: with two, nova-api lost RPC replies now and then (MessagingTimeout after 60 s).
    'threads = 1',
    'enable-threads = true',
    'lazy-apps = true',
    'die-on-term = true',
    'buffer-size = 65535',
    // uWSGI's http-socket closes every connection after the answer; saying so
    // stops keep-alive clients (keystoneauth) from reusing a closed socket.
    'add-header = Connection: close',
    ...Object.entries(options.env).map(([k, v]) => `env = ${k}=${v}`),
    '',
  ].join('\n');
}

/** Where the per-service configuration file lives in the lab dir. */
export function configFile(paths: LabPaths, file: string): string {
  return join(paths.etc, file);
}

export interface ServiceCommand {
  readonly name: ServiceName;
  readonly argv: readonly [string, ...string[]];
  readonly env?: Readonly<Record<string, string>>;
  /** A TCP port on 127.0.0.1 that answers once it is up; absent for RPC-only services. */
  readonly port?: number;
}

export const PYTHON = '/usr/bin/python3';
export const UWSGI = '/usr/bin/uwsgi-core';

/** The command lines of the OpenStack services (MariaDB and RabbitMQ are in stack.ts). */
export function serviceCommands(paths: LabPaths, toolsDir: string): ServiceCommand[] {
  const launch = (name: string, ...args: string[]): [string, ...string[]] => [
    PYTHON,
    join(toolsDir, 'launch.py'),
    name,
    ...args,
  ];
  const uwsgi = (name: ServiceName, port: number): ServiceCommand => ({
    name,
    argv: [UWSGI, '--ini', configFile(paths, `uwsgi-${name}.ini`)],
    port,
  });
  const nova = ['--config-file', configFile(paths, 'nova.conf')];
  return [
    uwsgi('keystone', PORTS.keystone),
    uwsgi('placement', PORTS.placement),
    {
      name: 'glance-api',
      argv: launch('glance-api', '--config-file', configFile(paths, 'glance-api.conf')),
      port: PORTS.glance,
    },
    {
      name: 'neutron-server',
      argv: launch('neutron-server', '--config-file', configFile(paths, 'neutron.conf')),
      port: PORTS.neutron,
    },
    { name: 'nova-conductor', argv: launch('nova-conductor', ...nova) },
    { name: 'nova-scheduler', argv: launch('nova-scheduler', ...nova) },
    uwsgi('nova-api', PORTS.nova),
    { name: 'nova-compute', argv: launch('nova-compute', ...nova) },
  ];
}

/** An openrc file, as `source`d by the OpenStack CLI and read by `openStackConfigFromEnv`. */
export function openrc(user: string, password: string, project: string): string {
  return [
    `export OS_AUTH_URL=${keystoneUrl}`,
    'export OS_AUTH_TYPE=password',
    `export OS_USERNAME=${user}`,
    `export OS_PASSWORD=${password}`,
    'export OS_USER_DOMAIN_NAME=Default',
    `export OS_PROJECT_NAME=${project}`,
    'export OS_PROJECT_DOMAIN_NAME=Default',
    `export OS_REGION_NAME=${REGION}`,
    'export OS_INTERFACE=public',
    'export OS_IDENTITY_API_VERSION=3',
    '',
  ].join('\n');
}
