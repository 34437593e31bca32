import { badInput } from '../core/errors.ts';
import { DEFAULT_OPENSTACK_DIR } from '../lab/openstack/plan.ts';
import {
  defaultOpenStackCacheDir,
  openStackDown,
  openStackStatus,
  openStackUp,
  type OpenStackLabContext,
  type OpenStackStatus,
} from '../lab/openstack/stack.ts';
import { isAbsolute, resolve } from 'node:path';
import { EXIT_OK, EXIT_UNHEALTHY, parseFlags, type Io } from './command.ts';

export const openStackHelp = `nodewarden lab openstack — a real single-machine OpenStack for the lab (root only)

Usage:
  nodewarden lab openstack up
  nodewarden lab openstack status [--json]
  nodewarden lab openstack down

Runs OpenStack Zed from Debian bookworm's packages on 127.0.0.1 (install them
once with tools/openstack/install-packages.sh; .ci/run does):
  MariaDB (unix socket only), RabbitMQ :5672, Keystone :5000 and Placement :8778
  under uWSGI, Glance :9292 (file store), neutron-server :9696 (ML2 with a
  bind-only mechanism driver, no agents), nova-api :8774, nova-conductor,
  nova-scheduler and nova-compute with the fake virt driver (host nw-os-compute).
One worker per service. Nothing else of the machine is touched: no system
service is started and no file outside the two directories below is written.

up creates the admin user (project admin), a member user nodewarden in project
nodewarden-lab, the flavor nw.lab, the raw image nw-lab-raw and the network
nw-lab-net (10.99.0.0/24) in that project, and writes admin-openrc and
member-openrc in the lab directory:
  source /var/lib/nodewarden/openstack/member-openrc     # then OS_* are set
The first up migrates every schema (minutes); it then caches the databases
under ~/.cache/nodewarden/openstack/ (per package versions) and later ups
restore them. down stops every process (idempotent); logs stay in logs/.

The lab directory (state.json, etc/, logs/, the databases) is
${DEFAULT_OPENSTACK_DIR}, or NODEWARDEN_OPENSTACK_DIR.

Examples:
  sudo tools/openstack/install-packages.sh
  sudo nodewarden lab openstack up
  sudo nodewarden lab openstack status
  sudo nodewarden lab openstack down
`;

export function openStackDirFrom(env: Readonly<Record<string, string | undefined>>): string {
  const dir = env['NODEWARDEN_OPENSTACK_DIR'];
  if (dir === undefined || dir === '') return DEFAULT_OPENSTACK_DIR;
  return isAbsolute(dir) ? dir : resolve(dir);
}

function printStatus(status: OpenStackStatus, io: Io): void {
  io.out(
    `lab OpenStack ${status.phase}` +
      (status.start === null ? '' : ` (${status.start} start, ${status.startSeconds} s)`) +
      `, dir ${status.dir}, memory ${status.memoryMiB} MiB\n`,
  );
  const header = ['SERVICE', 'PID', 'STATE', 'RSS MiB', 'PORT'];
  const rows = status.services.map((s) => [
    s.name,
    String(s.pid),
    s.running ? 'running' : 'EXITED',
    s.rssMiB.toFixed(1),
    s.port === null ? '-' : `${s.port} ${s.answers === true ? 'answers' : 'CLOSED'}`,
  ]);
  const table = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  for (const row of table)
    io.out(
      row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd() + '\n',
    );
  if (status.phase !== 'down')
    io.out(`credentials: ${status.adminOpenrc}, ${status.memberOpenrc}\n`);
}

function noArguments(sub: string, positionals: readonly string[]): void {
  if (positionals.length > 0) {
    throw badInput(
      `lab openstack ${sub} takes no argument "${positionals.join(' ')}"`,
      'see: nodewarden lab openstack --help',
    );
  }
}

export async function runLabOpenStack(argv: readonly string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const ctx: OpenStackLabContext = {
    dir: openStackDirFrom(process.env),
    cacheDir: defaultOpenStackCacheDir(),
    progress: (line) => io.out(`${line}\n`),
  };
  switch (sub) {
    case 'up': {
      noArguments('up', parseFlags('lab openstack', rest, {}).positionals);
      const up = await openStackUp(ctx);
      io.out(
        `\nOpenStack is up (${up.start} start): ${up.seconds.toFixed(1)} s, ${up.memoryMiB.toFixed(0)} MiB resident.\n` +
          `  source ${ctx.dir}/member-openrc   # project nodewarden-lab, role member\n` +
          `  source ${ctx.dir}/admin-openrc    # admin\n` +
          `  flavor ${up.resources.flavorId}, image ${up.resources.imageId}, network ${up.resources.networkId}\n`,
      );
      return EXIT_OK;
    }
    case 'down': {
      noArguments('down', parseFlags('lab openstack', rest, {}).positionals);
      const down = await openStackDown(ctx);
      io.out(
        down.stopped === 0
          ? `no lab OpenStack recorded in ${ctx.dir}; nothing to stop\n`
          : `stopped ${down.stopped} services\n`,
      );
      return EXIT_OK;
    }
    case 'status': {
      const { values, positionals } = parseFlags('lab openstack', rest, {
        json: { type: 'boolean', default: false },
      });
      noArguments('status', positionals);
      const status = await openStackStatus(ctx);
      if (values.json) io.out(JSON.stringify(status, null, 2) + '\n');
      else printStatus(status, io);
      return status.services.every((s) => s.running) ? EXIT_OK : EXIT_UNHEALTHY;
    }
    case '--help':
    case '-h':
    case 'help':
      io.out(openStackHelp);
      return EXIT_OK;
    case undefined:
    default:
      throw badInput(
        sub === undefined
          ? 'lab openstack needs a subcommand'
          : `unknown lab openstack subcommand "${sub}"`,
        'one of: up, status, down (nodewarden lab openstack --help)',
      );
  }
}
