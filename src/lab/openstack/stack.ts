/**
 * `nodewarden lab openstack up|down|status`: a single-machine OpenStack (Zed,
 * from Debian bookworm's packages) on 127.0.0.1 — MariaDB, RabbitMQ,
 * Keystone and Placement under uWSGI, Glance, neutron-server with a bind-only
 * ML2 driver, Nova api/conductor/scheduler and a nova-compute running the
 * fake virt driver. Every process is started here, detached, in its own
 * process group, with its output in `<dir>/logs/<service>.log`.
 *
 * The slow part of a first start is the schema migrations and Keystone's
 * bootstrap (minutes on two cores). Their result — the databases, the
 * secrets that match them and Keystone's keys — is cached under
 * ~/.cache/nodewarden/openstack/<key>/ and restored on the next start; the key
 * covers the package versions and this file's layout version.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip, createGzip } from 'node:zlib';
import { spawn } from 'node:child_process';
import { describeError, NodeWardenError } from '../../core/errors.ts';
import { runCommand } from '../../host/command.ts';
import { startDaemon } from '../daemon.ts';
import {
  ADMIN_PROJECT,
  ADMIN_USER,
  CATALOG,
  COMPUTE_HOST,
  DATABASES,
  dbUrl,
  glanceConf,
  keystoneConf,
  keystoneUrl,
  LAB_PROJECT,
  LAB_USER,
  labPaths,
  neutronConf,
  novaConf,
  openrc,
  placementConf,
  PORTS,
  PYTHON,
  rabbitConf,
  REGION,
  SERVICE_PROJECT,
  SERVICE_USERS,
  serviceCommands,
  transportUrl,
  uwsgiIni,
  type LabPaths,
  type LabSecrets,
  type ServiceName,
} from './plan.ts';
import { field, findByName, passwordToken, rest } from './rest.ts';
import { groupMemory, stopGroups } from './procs.ts';

export const toolsDir = fileURLToPath(new URL('../../../tools/openstack/', import.meta.url));
/** Bump when what the cached databases hold changes (users, catalogue, cells). */
const CACHE_LAYOUT = 1;
const PACKAGES = [
  'python3-keystone',
  'python3-placement',
  'python3-glance',
  'python3-neutron',
  'python3-nova',
  'mariadb-server',
] as const;

export interface OpenStackLabState {
  readonly version: 1;
  readonly phase: 'building' | 'up';
  readonly createdAt: string;
  readonly dir: string;
  /** Process-group leaders, in start order. */
  readonly pids: Partial<Record<ServiceName, number>>;
  readonly start?: 'cold' | 'warm';
  readonly startSeconds?: number;
  readonly resources?: LabResources;
}

/** What `up` creates for servers to boot from, in the lab project. */
export interface LabResources {
  readonly labProjectId: string;
  readonly flavorId: string;
  readonly imageId: string;
  readonly networkId: string;
  readonly subnetId: string;
}

export interface OpenStackLabContext {
  readonly dir: string;
  readonly progress: (line: string) => void;
  /** Default ~/.cache/nodewarden/openstack. */
  readonly cacheDir?: string;
}

export function defaultOpenStackCacheDir(): string {
  return join(
    process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'),
    'nodewarden',
    'openstack',
  );
}

async function readLabState(dir: string): Promise<OpenStackLabState | null> {
  try {
    return JSON.parse(await readFile(labPaths(dir).state, 'utf8')) as OpenStackLabState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new NodeWardenError(
      'BAD_INPUT',
      `cannot read ${labPaths(dir).state}: ${describeError(error)}`,
      {
        hint: 'remove the file after stopping what it names (ps -ef), then lab openstack up',
      },
    );
  }
}

async function writeLabState(state: OpenStackLabState): Promise<void> {
  const file = labPaths(state.dir).state;
  await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
}

/** Fails by name when a package the lab runs is missing. */
function requirePackages(): void {
  const missing: string[] = [];
  for (const file of [
    '/usr/sbin/mariadbd',
    PYTHON,
    '/usr/bin/uwsgi-core',
    '/usr/lib/uwsgi/plugins/python3_plugin.so',
    '/usr/lib/rabbitmq/bin/rabbitmq-server',
    '/usr/bin/epmd',
  ]) {
    if (!existsSync(file)) missing.push(file);
  }
  for (const mod of ['keystone', 'placement', 'glance', 'neutron', 'nova', 'fixtures', 'pymysql']) {
    if (!existsSync(`/usr/lib/python3/dist-packages/${mod}`)) missing.push(`python module ${mod}`);
  }
  if (missing.length > 0) {
    throw new NodeWardenError(
      'MISSING_TOOL',
      `the lab OpenStack needs Debian's packages; missing: ${missing.join(', ')}`,
      {
        hint: `install them: sudo ${join(toolsDir, 'install-packages.sh')}`,
      },
    );
  }
}

/** The cache key: installed package versions and the cache layout. */
async function cacheKey(): Promise<string> {
  const res = await runCommand('dpkg-query', ['-W', '-f', '${Package}=${Version}\n', ...PACKAGES], {
    timeoutMs: 10_000,
  });
  const hash = createHash('sha256').update(`${CACHE_LAYOUT}\n${res.stdout}`).digest('hex');
  return hash.slice(0, 16);
}

function newSecrets(): LabSecrets {
  // Hex: a secret starting with '-' would be read as an option by the *-manage commands.
  const s = (): string => randomBytes(16).toString('hex');
  return {
    dbPassword: s(),
    rabbitPassword: s(),
    adminPassword: s(),
    servicePassword: s(),
    memberPassword: s(),
  };
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | null>,
  logHint: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== null) return value;
    } catch (error) {
      // A process that died will not come up: say so now, not at the deadline.
      if (error instanceof NodeWardenError && error.code === 'COMMAND_FAILED') throw error;
      last = describeError(error);
    }
    if (Date.now() > deadline) {
      throw new NodeWardenError(
        'TIMEOUT',
        `${what} not ready after ${timeoutMs / 1000} s${last ? ` (last: ${last})` : ''}`,
        {
          hint: `see ${logHint}`,
        },
      );
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

class Runner {
  readonly paths: LabPaths;
  private pids: Partial<Record<ServiceName, number>> = {};
  private readonly t0 = performance.now();

  constructor(
    private readonly ctx: OpenStackLabContext,
    private readonly createdAt: string,
  ) {
    this.paths = labPaths(ctx.dir);
  }

  log(line: string): void {
    this.ctx.progress(
      `[${((performance.now() - this.t0) / 1000).toFixed(1).padStart(5)} s] ${line}`,
    );
  }

  seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  async save(phase: 'building' | 'up', extra: Partial<OpenStackLabState> = {}): Promise<void> {
    await writeLabState({
      version: 1,
      phase,
      createdAt: this.createdAt,
      dir: this.ctx.dir,
      pids: this.pids,
      ...extra,
    });
  }

  async start(
    name: ServiceName,
    argv: readonly [string, ...string[]],
    env: Readonly<Record<string, string>> = {},
  ): Promise<void> {
    const pid = startDaemon({
      argv,
      logFile: join(this.paths.logs, `${name}.log`),
      env: { ...pythonEnv(), ...env },
    });
    this.pids = { ...this.pids, [name]: pid };
    await this.save('building');
  }

  alive(name: ServiceName): void {
    const pid = this.pids[name];
    if (pid === undefined) return;
    try {
      process.kill(pid, 0);
    } catch {
      throw new NodeWardenError('COMMAND_FAILED', `${name} exited during start`, {
        hint: `see ${join(this.paths.logs, `${name}.log`)}`,
      });
    }
  }

  async waitPort(name: ServiceName, port: number, timeoutMs = 120_000): Promise<void> {
    await waitFor(
      `${name} on 127.0.0.1:${port}`,
      timeoutMs,
      async () => {
        this.alive(name);
        return (await portOpen(port)) ? true : null;
      },
      join(this.paths.logs, `${name}.log`),
    );
  }

  /** A one-shot OpenStack command (`nova-manage …`), its output appended to logs/setup.log. */
  /** Secrets in the command lines below are written to setup.log as ***. */
  hide: readonly string[] = [];

  async manage(
    args: readonly string[],
    timeoutMs = 600_000,
    env: Readonly<Record<string, string>> = {},
  ): Promise<string> {
    const res = await runCommand(PYTHON, [join(toolsDir, 'launch.py'), ...args], {
      timeoutMs,
      env: { ...pythonEnv(), ...env },
    });
    const redact = (text: string): string =>
      this.hide.reduce((t, secret) => t.split(secret).join('***'), text);
    await writeFile(
      join(this.paths.logs, 'setup.log'),
      redact(`$ ${args.join(' ')}\n${res.stdout}${res.stderr}\n`),
      { flag: 'a' },
    );
    if (res.code !== 0 || res.timedOut) {
      throw new NodeWardenError(
        'COMMAND_FAILED',
        `${args.slice(0, 3).join(' ')} failed (${res.timedOut ? 'timed out' : `exit ${res.code}`}): ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        {
          hint: `see ${join(this.paths.logs, 'setup.log')}`,
        },
      );
    }
    return res.stdout;
  }

  async sql(statements: string): Promise<void> {
    const res = await runCommand(
      '/usr/bin/mariadb',
      ['--no-defaults', `--socket=${this.paths.mysqlSocket}`, '-u', 'root'],
      { timeoutMs: 60_000, input: statements },
    );
    if (res.code !== 0) {
      throw new NodeWardenError(
        'COMMAND_FAILED',
        `MariaDB refused the lab's SQL: ${res.stderr.trim()}`,
        {
          hint: `see ${join(this.paths.logs, 'mariadb.log')}`,
        },
      );
    }
  }

  pidList(): Partial<Record<ServiceName, number>> {
    return this.pids;
  }
}

/** Debian's Python with the lab's ML2 driver on its path, and nothing from another Python install. */
function pythonEnv(): Record<string, string> {
  return {
    PYTHONPATH: join(toolsDir, 'python'),
    PYTHONNOUSERSITE: '1',
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

async function writeConfigs(paths: LabPaths, secrets: LabSecrets): Promise<void> {
  const dirs = [
    paths.etc,
    paths.logs,
    paths.run,
    paths.fernetKeys,
    paths.credentialKeys,
    paths.images,
    paths.novaState,
    paths.neutronState,
    paths.glanceState,
    paths.rabbitBase,
    join(paths.novaState, 'instances'),
  ];
  for (const d of dirs) await mkdir(d, { recursive: true, mode: 0o700 });
  const files: Record<string, string> = {
    'keystone/keystone.conf': keystoneConf(secrets, paths),
    'placement/placement.conf': placementConf(secrets, paths),
    'glance-api.conf': glanceConf(secrets, paths, toolsDir),
    'neutron.conf': neutronConf(secrets, paths, toolsDir),
    'nova/nova.conf': novaConf(secrets, paths, toolsDir),
    'rabbitmq.conf':
      rabbitConf() + `default_user = nodewarden\ndefault_pass = ${secrets.rabbitPassword}\n`,
    'uwsgi-keystone.ini': uwsgiIni({
      port: PORTS.keystone,
      wsgiFile: join(toolsDir, 'wsgi', 'keystone.py'),
      env: { OS_KEYSTONE_CONFIG_DIR: join(paths.etc, 'keystone') },
      pythonPath: join(toolsDir, 'python'),
    }),
    'uwsgi-placement.ini': uwsgiIni({
      port: PORTS.placement,
      wsgiFile: join(toolsDir, 'wsgi', 'placement.py'),
      env: { OS_PLACEMENT_CONFIG_DIR: join(paths.etc, 'placement') },
      pythonPath: join(toolsDir, 'python'),
    }),
    'uwsgi-nova-api.ini': uwsgiIni({
      port: PORTS.nova,
      wsgiFile: join(toolsDir, 'wsgi', 'nova-api.py'),
      env: { OS_NOVA_CONFIG_DIR: join(paths.etc, 'nova') },
      pythonPath: join(toolsDir, 'python'),
    }),
  };
  for (const [name, text] of Object.entries(files)) {
    const file = join(paths.etc, name);
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, text, { mode: 0o600 });
  }
  // Nova's config is read by the uWSGI app from its dir (the first of api-paste.ini and nova.conf
  // is its paste pipeline) and by the RPC services by --config-file.
  await cp(join(paths.etc, 'nova', 'nova.conf'), join(paths.etc, 'nova.conf'));
  await cp(join(toolsDir, 'paste', 'nova-api-paste.ini'), join(paths.etc, 'nova', 'api-paste.ini'));
  await writeFile(paths.adminOpenrc, openrc(ADMIN_USER, secrets.adminPassword, ADMIN_PROJECT), {
    mode: 0o600,
  });
  await writeFile(paths.memberOpenrc, openrc(LAB_USER, secrets.memberPassword, LAB_PROJECT), {
    mode: 0o600,
  });
}

async function startMariadb(run: Runner, secrets: LabSecrets): Promise<void> {
  const p = run.paths;
  const init = await runCommand(
    '/usr/bin/mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${p.mysqlData}`,
      '--user=root',
      '--skip-test-db',
      '--auth-root-authentication-method=socket',
    ],
    { timeoutMs: 120_000 },
  );
  if (init.code !== 0) {
    throw new NodeWardenError(
      'COMMAND_FAILED',
      `mariadb-install-db failed: ${init.stderr.trim().slice(-300)}`,
      { hint: 'is mariadb-server installed?' },
    );
  }
  await run.start('mariadb', [
    '/usr/sbin/mariadbd',
    '--no-defaults',
    `--datadir=${p.mysqlData}`,
    `--socket=${p.mysqlSocket}`,
    `--pid-file=${join(p.run, 'mysqld.pid')}`,
    '--skip-networking',
    '--user=root',
    '--innodb-buffer-pool-size=64M',
    '--innodb-log-file-size=32M',
    // A throwaway database: no fsync, no doublewrite, one tablespace (the
    // schemas hold ~600 tables; a file and fsyncs per table made restores 40 s).
    '--innodb-flush-log-at-trx-commit=0',
    '--innodb-flush-method=nosync',
    '--innodb-doublewrite=0',
    '--innodb-file-per-table=0',
    '--max-connections=300',
    '--skip-name-resolve',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_general_ci',
  ]);
  await waitFor(
    'mariadb socket',
    60_000,
    () => {
      run.alive('mariadb');
      return Promise.resolve(existsSync(p.mysqlSocket) ? true : null);
    },
    join(p.logs, 'mariadb.log'),
  );
  await run.sql(
    DATABASES.map((db) => `CREATE DATABASE IF NOT EXISTS ${db} CHARACTER SET utf8mb4;\n`).join('') +
      `CREATE USER IF NOT EXISTS 'openstack'@'localhost' IDENTIFIED BY '${secrets.dbPassword}';\n` +
      `GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'localhost';\nFLUSH PRIVILEGES;\n`,
  );
}

async function startRabbit(run: Runner): Promise<void> {
  const p = run.paths;
  const env = {
    HOME: p.rabbitBase,
    RABBITMQ_NODENAME: 'nodewarden@localhost',
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(PORTS.rabbitmq),
    RABBITMQ_DIST_PORT: String(PORTS.rabbitmqDist),
    RABBITMQ_MNESIA_BASE: join(p.rabbitBase, 'mnesia'),
    RABBITMQ_LOG_BASE: join(p.logs, 'rabbitmq'),
    RABBITMQ_CONFIG_FILE: join(p.etc, 'rabbitmq'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(p.rabbitBase, 'enabled_plugins'),
    RABBITMQ_PID_FILE: join(p.run, 'rabbitmq.pid'),
    RABBITMQ_LOGS: '-',
    ERL_EPMD_ADDRESS: '127.0.0.1',
    ERL_EPMD_PORT: String(PORTS.epmd),
  };
  await writeFile(join(p.rabbitBase, 'enabled_plugins'), '[].\n');
  await mkdir(join(p.logs, 'rabbitmq'), { recursive: true });
  if (!(await portOpen(PORTS.epmd))) {
    await run.start(
      'epmd',
      ['/usr/bin/epmd', '-address', '127.0.0.1', '-port', String(PORTS.epmd)],
      env,
    );
  }
  await run.start('rabbitmq', ['/usr/lib/rabbitmq/bin/rabbitmq-server'], env);
}

/** Schema migrations, cells and Keystone's bootstrap: what the cache saves. */
async function coldSetup(run: Runner, secrets: LabSecrets): Promise<void> {
  const p = run.paths;
  const etc = (f: string): string => join(p.etc, f);
  run.log('migrating: keystone, placement, glance, neutron (in parallel)');
  await Promise.all([
    (async () => {
      await run.manage([
        'keystone-manage',
        '--config-file',
        etc('keystone/keystone.conf'),
        'db_sync',
      ]);
      await run.manage([
        'keystone-manage',
        '--config-file',
        etc('keystone/keystone.conf'),
        'fernet_setup',
        '--keystone-user',
        'root',
        '--keystone-group',
        'root',
      ]);
      await run.manage([
        'keystone-manage',
        '--config-file',
        etc('keystone/keystone.conf'),
        'credential_setup',
        '--keystone-user',
        'root',
        '--keystone-group',
        'root',
      ]);
      await run.manage(
        [
          'keystone-manage',
          '--config-file',
          etc('keystone/keystone.conf'),
          'bootstrap',
          '--bootstrap-username',
          ADMIN_USER,
          '--bootstrap-project-name',
          ADMIN_PROJECT,
          '--bootstrap-admin-url',
          keystoneUrl,
          '--bootstrap-internal-url',
          keystoneUrl,
          '--bootstrap-public-url',
          keystoneUrl,
          '--bootstrap-region-id',
          REGION,
        ],
        600_000,
        // From the environment, not argv: argv is visible to every user in ps.
        { OS_BOOTSTRAP_PASSWORD: secrets.adminPassword },
      );
      await run.manage([
        'placement-manage',
        '--config-file',
        etc('placement/placement.conf'),
        'db',
        'sync',
      ]);
      await run.manage(['glance-manage', '--config-file', etc('glance-api.conf'), 'db_sync']);
    })(),
    run.manage(['neutron-db-manage', '--config-file', etc('neutron.conf'), 'upgrade', 'heads']),
  ]);
  run.log('migrating: nova (api_db, cell0, cell1)');
  const nova = ['--config-file', etc('nova.conf')];
  await run.manage(['nova-manage', ...nova, 'api_db', 'sync']);
  await run.manage([
    'nova-manage',
    ...nova,
    'cell_v2',
    'map_cell0',
    '--database_connection',
    dbUrl(secrets, p, 'nova_cell0'),
  ]);
  await run.manage([
    'nova-manage',
    ...nova,
    'cell_v2',
    'create_cell',
    '--name',
    'cell1',
    '--transport-url',
    transportUrl(secrets),
    '--database_connection',
    dbUrl(secrets, p, 'nova'),
  ]);
  await run.manage(['nova-manage', ...nova, 'db', 'sync']);
}

/** Projects, users and the catalogue, through Keystone's API. */
async function registerIdentity(secrets: LabSecrets): Promise<void> {
  const token = await passwordToken(ADMIN_USER, secrets.adminPassword, ADMIN_PROJECT);
  const roles = await rest('GET', `${keystoneUrl}/roles`, { token });
  const roleId = (name: string): string => {
    const role = (roles.body['roles'] as { id: string; name: string }[]).find(
      (r) => r.name === name,
    );
    if (role === undefined)
      throw new NodeWardenError('UNAVAILABLE', `Keystone has no ${name} role after bootstrap`, {
        hint: 'see logs/setup.log',
      });
    return role.id;
  };
  const project = async (name: string): Promise<string> =>
    field(
      await rest('POST', `${keystoneUrl}/projects`, {
        token,
        body: { project: { name, domain_id: 'default', description: 'NodeWarden lab' } },
      }),
      'project',
    );
  const user = async (name: string, password: string): Promise<string> =>
    field(
      await rest('POST', `${keystoneUrl}/users`, {
        token,
        body: { user: { name, domain_id: 'default', password } },
      }),
      'user',
    );
  const grant = (projectId: string, userId: string, role: string): Promise<unknown> =>
    rest('PUT', `${keystoneUrl}/projects/${projectId}/users/${userId}/roles/${roleId(role)}`, {
      token,
    });
  const service = await project(SERVICE_PROJECT);
  for (const name of SERVICE_USERS)
    await grant(service, await user(name, secrets.servicePassword), 'admin');
  const lab = await project(LAB_PROJECT);
  await grant(lab, await user(LAB_USER, secrets.memberPassword), 'member');
  for (const entry of CATALOG) {
    const id = field(
      await rest('POST', `${keystoneUrl}/services`, {
        token,
        body: { service: { type: entry.type, name: entry.name } },
      }),
      'service',
    );
    for (const iface of ['public', 'internal', 'admin']) {
      await rest('POST', `${keystoneUrl}/endpoints`, {
        token,
        body: { endpoint: { service_id: id, interface: iface, url: entry.url, region_id: REGION } },
      });
    }
  }
}

async function dumpDatabases(run: Runner, cache: string, secrets: LabSecrets): Promise<void> {
  const p = run.paths;
  await mkdir(cache, { recursive: true, mode: 0o700 });
  const tmp = join(cache, 'databases.sql.gz.tmp');
  const child = spawn(
    '/usr/bin/mariadb-dump',
    [
      '--no-defaults',
      `--socket=${p.mysqlSocket}`,
      '-u',
      'root',
      '--single-transaction',
      '--databases',
      ...DATABASES,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await pipeline(child.stdout, createGzip({ level: 3 }), createWriteStream(tmp, { mode: 0o600 }));
  const code = await exited;
  if (code !== 0)
    throw new NodeWardenError('COMMAND_FAILED', `mariadb-dump failed: ${stderr.trim()}`, {
      hint: 'see logs/mariadb.log',
    });
  await rm(join(cache, 'fernet-keys'), { recursive: true, force: true });
  await rm(join(cache, 'credential-keys'), { recursive: true, force: true });
  await cp(p.fernetKeys, join(cache, 'fernet-keys'), { recursive: true });
  await cp(p.credentialKeys, join(cache, 'credential-keys'), { recursive: true });
  await writeFile(join(cache, 'secrets.json'), JSON.stringify(secrets, null, 2) + '\n', {
    mode: 0o600,
  });
  // The dump last: its presence is what marks the cache complete.
  await rename(tmp, join(cache, 'databases.sql.gz'));
}

async function restoreDatabases(run: Runner, cache: string): Promise<void> {
  const p = run.paths;
  const child = spawn(
    '/usr/bin/mariadb',
    ['--no-defaults', `--socket=${p.mysqlSocket}`, '-u', 'root'],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await pipeline(createReadStream(join(cache, 'databases.sql.gz')), createGunzip(), child.stdin);
  const code = await exited;
  if (code !== 0) {
    throw new NodeWardenError(
      'COMMAND_FAILED',
      `restoring the cached databases failed: ${stderr.trim().slice(0, 300)}`,
      {
        hint: `remove ${cache} to rebuild it with a cold start`,
      },
    );
  }
  await rm(p.fernetKeys, { recursive: true, force: true });
  await rm(p.credentialKeys, { recursive: true, force: true });
  await cp(join(cache, 'fernet-keys'), p.fernetKeys, { recursive: true });
  await cp(join(cache, 'credential-keys'), p.credentialKeys, { recursive: true });
}

/** A 1 MiB raw image: the fake driver never reads it, but Nova needs one from Glance. */
function tinyImage(): Uint8Array {
  return new Uint8Array(1024 * 1024);
}

/** Flavor, image, network and subnet for the lab's servers; made on every start (seconds). */
async function createResources(secrets: LabSecrets): Promise<LabResources> {
  const token = await passwordToken(ADMIN_USER, secrets.adminPassword, ADMIN_PROJECT);
  const labProjectId = await findByName(`${keystoneUrl}/projects`, token, 'projects', LAB_PROJECT);
  if (labProjectId === null)
    throw new NodeWardenError('UNAVAILABLE', `Keystone has no project ${LAB_PROJECT}`, {
      hint: 'remove the OpenStack cache and start cold',
    });
  const nova = `http://127.0.0.1:${PORTS.nova}/v2.1`;
  const flavorId = field(
    await rest('POST', `${nova}/flavors`, {
      token,
      body: {
        flavor: { name: 'nw.lab', ram: 512, vcpus: 1, disk: 1, 'os-flavor-access:is_public': true },
      },
    }),
    'flavor',
  );
  const glance = `http://127.0.0.1:${PORTS.glance}/v2`;
  const image = await rest('POST', `${glance}/images`, {
    token,
    body: {
      name: 'nw-lab-raw',
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'public',
    },
  });
  const imageId = image.body['id'];
  if (typeof imageId !== 'string')
    throw new NodeWardenError('UNAVAILABLE', 'Glance created no image id', {
      hint: 'see logs/glance-api.log',
    });
  await rest('PUT', `${glance}/images/${imageId}/file`, { token, raw: tinyImage() });
  const neutron = `http://127.0.0.1:${PORTS.neutron}/v2.0`;
  const networkId = field(
    await rest('POST', `${neutron}/networks`, {
      token,
      body: { network: { name: 'nw-lab-net', project_id: labProjectId } },
    }),
    'network',
  );
  const subnetId = field(
    await rest('POST', `${neutron}/subnets`, {
      token,
      body: {
        subnet: {
          name: 'nw-lab-subnet',
          network_id: networkId,
          project_id: labProjectId,
          ip_version: 4,
          cidr: '10.99.0.0/24',
          enable_dhcp: false,
        },
      },
    }),
    'subnet',
  );
  return { labProjectId, flavorId, imageId, networkId, subnetId };
}

/** Waits until Nova lists the fake hypervisor, then maps it into cell1 so the scheduler can use it. */
async function waitForCompute(run: Runner, secrets: LabSecrets): Promise<void> {
  const token = await passwordToken(ADMIN_USER, secrets.adminPassword, ADMIN_PROJECT);
  await waitFor(
    'nova-compute (the fake hypervisor in Nova)',
    180_000,
    async () => {
      run.alive('nova-compute');
      const answer = await rest(
        'GET',
        `http://127.0.0.1:${PORTS.nova}/v2.1/os-services?binary=nova-compute`,
        { token },
      );
      const services = answer.body['services'] as { state?: string; host?: string }[] | undefined;
      return services?.some((s) => s.host === COMPUTE_HOST && s.state === 'up') ? true : null;
    },
    join(run.paths.logs, 'nova-compute.log'),
  );
  await run.manage([
    'nova-manage',
    '--config-file',
    join(run.paths.etc, 'nova.conf'),
    'cell_v2',
    'discover_hosts',
  ]);
  await waitFor(
    'the hypervisor in Placement',
    60_000,
    async () => {
      const answer = await rest('GET', `http://127.0.0.1:${PORTS.placement}/resource_providers`, {
        token,
        headers: { 'openstack-api-version': 'placement 1.14' },
      });
      const providers = answer.body['resource_providers'] as { name?: string }[] | undefined;
      return providers?.some((r) => r.name === COMPUTE_HOST) ? true : null;
    },
    join(run.paths.logs, 'nova-compute.log'),
  );
}

export interface UpResult {
  readonly start: 'cold' | 'warm';
  readonly seconds: number;
  readonly memoryMiB: number;
  readonly resources: LabResources;
}

export async function openStackUp(ctx: OpenStackLabContext): Promise<UpResult> {
  requirePackages();
  const existing = await readLabState(ctx.dir);
  if (existing !== null) {
    throw new NodeWardenError(
      'CONFLICT',
      `a lab OpenStack is already recorded in ${ctx.dir} (${existing.phase})`,
      {
        hint: 'nodewarden lab openstack down first (it is idempotent)',
      },
    );
  }
  for (const [name, port] of Object.entries(PORTS)) {
    if (name !== 'epmd' && (await portOpen(port))) {
      throw new NodeWardenError('CONFLICT', `127.0.0.1:${port} (${name}) is already taken`, {
        hint: 'another OpenStack or RabbitMQ is running here; stop it, or lab openstack down',
      });
    }
  }
  // A fresh start: data of an earlier run goes, so nothing half-made is reused.
  await rm(ctx.dir, { recursive: true, force: true });
  await mkdir(ctx.dir, { recursive: true, mode: 0o700 });
  const run = new Runner(ctx, new Date().toISOString());
  const p = run.paths;
  const cache = join(ctx.cacheDir ?? defaultOpenStackCacheDir(), await cacheKey());
  const warm = existsSync(join(cache, 'databases.sql.gz'));
  const secrets: LabSecrets = warm
    ? (JSON.parse(await readFile(join(cache, 'secrets.json'), 'utf8')) as LabSecrets)
    : newSecrets();
  run.hide = Object.values(secrets);
  await writeConfigs(p, secrets);
  await run.save('building');
  try {
    run.log(`${warm ? 'warm' : 'cold'} start (cache ${cache}); logs in ${p.logs}`);
    await startRabbit(run);
    await startMariadb(run, secrets);
    run.log('mariadb up');
    const services = serviceCommands(p, toolsDir);
    const service = (name: ServiceName) => {
      const s = services.find((c) => c.name === name);
      if (s === undefined) throw new NodeWardenError('INTERNAL', `no command for ${name}`);
      return s;
    };
    const startService = async (name: ServiceName): Promise<void> => {
      const s = service(name);
      await run.start(name, s.argv, s.env);
    };
    if (warm) {
      await restoreDatabases(run, cache);
      // Nova's cell mappings name the MariaDB socket, which lives in the lab dir: point them at this one.
      const q = (text: string): string => `'${text.replace(/'/g, "''")}'`;
      await run.sql(
        `UPDATE nova_api.cell_mappings SET database_connection = ${q(dbUrl(secrets, p, 'nova_cell0'))} WHERE name = 'cell0';\n` +
          `UPDATE nova_api.cell_mappings SET database_connection = ${q(dbUrl(secrets, p, 'nova'))}, transport_url = ${q(transportUrl(secrets))} WHERE name = 'cell1';\n`,
      );
      run.log('databases restored from the cache');
      await startService('keystone');
    } else {
      await coldSetup(run, secrets);
      await startService('keystone');
      await run.waitPort('keystone', PORTS.keystone);
      await waitFor(
        'keystone tokens',
        120_000,
        () => passwordToken(ADMIN_USER, secrets.adminPassword, ADMIN_PROJECT),
        join(p.logs, 'keystone.log'),
      );
      await registerIdentity(secrets);
      await dumpDatabases(run, cache, secrets);
      run.log(`databases dumped to ${cache}`);
    }
    await waitFor(
      'rabbitmq',
      120_000,
      async () => {
        run.alive('rabbitmq');
        return (await portOpen(PORTS.rabbitmq)) ? true : null;
      },
      join(p.logs, 'rabbitmq.log'),
    );
    run.log('rabbitmq up');
    for (const name of [
      'placement',
      'glance-api',
      'neutron-server',
      'nova-conductor',
      'nova-scheduler',
      'nova-api',
    ] as const) {
      await startService(name);
    }
    for (const name of [
      'keystone',
      'placement',
      'glance-api',
      'neutron-server',
      'nova-api',
    ] as const) {
      const port = service(name).port;
      if (port !== undefined) await run.waitPort(name, port, 240_000);
      run.log(`${name} answers on 127.0.0.1:${port}`);
    }
    await waitFor(
      'keystone tokens',
      120_000,
      () => passwordToken(ADMIN_USER, secrets.adminPassword, ADMIN_PROJECT),
      join(p.logs, 'keystone.log'),
    );
    await startService('nova-compute');
    await waitForCompute(run, secrets);
    run.log('nova-compute up and mapped');
    const resources = await createResources(secrets);
    run.log('flavor nw.lab, image nw-lab-raw, network nw-lab-net made');
    const seconds = run.seconds();
    await run.save('up', {
      start: warm ? 'warm' : 'cold',
      startSeconds: Math.round(seconds * 10) / 10,
      resources,
    });
    const memory = await groupMemory(Object.values(run.pidList()));
    return { start: warm ? 'warm' : 'cold', seconds, memoryMiB: memory.totalKiB / 1024, resources };
  } catch (error) {
    run.log(
      `start failed: ${describeError(error)} — stopping what was started (logs stay in ${p.logs})`,
    );
    await openStackDown(ctx);
    throw error;
  }
}

/** Stops every process group the state names (services first, MariaDB last). Idempotent. */
export async function openStackDown(ctx: OpenStackLabContext): Promise<{ stopped: number }> {
  const state = await readLabState(ctx.dir);
  if (state === null) return { stopped: 0 };
  // The services first, MariaDB last: they write to it while they stop.
  const { mariadb, ...services } = state.pids;
  const pids = Object.values(services);
  await stopGroups(pids);
  if (mariadb !== undefined) await stopGroups([mariadb]);
  await rm(labPaths(ctx.dir).state, { force: true });
  return { stopped: pids.length + (mariadb === undefined ? 0 : 1) };
}

export interface ServiceStatus {
  readonly name: ServiceName;
  readonly pid: number;
  readonly running: boolean;
  readonly rssMiB: number;
  readonly port: number | null;
  readonly answers: boolean | null;
}

export interface OpenStackStatus {
  readonly dir: string;
  readonly phase: 'building' | 'up' | 'down';
  readonly start: 'cold' | 'warm' | null;
  readonly startSeconds: number | null;
  readonly services: readonly ServiceStatus[];
  readonly memoryMiB: number;
  readonly resources: LabResources | null;
  readonly adminOpenrc: string;
  readonly memberOpenrc: string;
}

const SERVICE_PORTS: Partial<Record<ServiceName, number>> = {
  rabbitmq: PORTS.rabbitmq,
  keystone: PORTS.keystone,
  placement: PORTS.placement,
  'glance-api': PORTS.glance,
  'neutron-server': PORTS.neutron,
  'nova-api': PORTS.nova,
};

export async function openStackStatus(ctx: OpenStackLabContext): Promise<OpenStackStatus> {
  const p = labPaths(ctx.dir);
  const state = await readLabState(ctx.dir);
  const services: ServiceStatus[] = [];
  let total = 0;
  for (const [name, pid] of Object.entries(state?.pids ?? {}) as [ServiceName, number][]) {
    const memory = await groupMemory([pid]);
    total += memory.totalKiB;
    const port = SERVICE_PORTS[name] ?? null;
    services.push({
      name,
      pid,
      running: memory.processes > 0,
      rssMiB: Math.round(memory.totalKiB / 102.4) / 10,
      port,
      answers: port === null ? null : await portOpen(port),
    });
  }
  return {
    dir: ctx.dir,
    phase: state?.phase ?? 'down',
    start: state?.start ?? null,
    startSeconds: state?.startSeconds ?? null,
    services,
    memoryMiB: Math.round(total / 102.4) / 10,
    resources: state?.resources ?? null,
    adminOpenrc: p.adminOpenrc,
    memberOpenrc: p.memberOpenrc,
  };
}

/** For tests: the secrets of a running lab (its openrc files hold the same). */
export async function readOpenrc(file: string): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) env[m[1]] = m[2];
  }
  return env;
}
