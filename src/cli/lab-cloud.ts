import { DEFAULT_LAB_BOOT_DELAY_MS, LabCloud } from '../cloud/lab/lab-cloud.ts';
import { badInput } from '../core/errors.ts';
import type { LabContext } from '../lab/lab.ts';
import { labServerId } from '../lab/seed-cluster.ts';
import { readState } from '../lab/state.ts';
import { resolveNode } from '../lab/topology.ts';
import { EXIT_OK, intFlag, parseFlags, type Io } from './command.ts';

/**
 * `nodewarden lab cloud <node> [reboot soft|hard | port up|down]`: the lab
 * cloud as the controller sees it — instance, port, actions, console — and
 * the two things remediation does through it, by hand.
 */
export const LAB_CLOUD_USAGE = `  nodewarden lab cloud <node>                       instance, port, actions, console tail
  nodewarden lab cloud <node> reboot [soft|hard]    reboot it; waits until it has booted
                                    [--boot-delay S] (default ${DEFAULT_LAB_BOOT_DELAY_MS / 1000})
  nodewarden lab cloud <node> port up|down          the port's admin state (the hub-side veth)`;

export async function runLabCloud(
  ctx: LabContext,
  argv: readonly string[],
  io: Io,
): Promise<number> {
  const { values, positionals } = parseFlags('lab', argv, {
    'boot-delay': { type: 'string' },
    lines: { type: 'string' },
  });
  const [query, action, arg, extra] = positionals;
  if (query === undefined) {
    throw badInput('lab cloud needs a node', 'e.g. nodewarden lab cloud bkqzq');
  }
  if (extra !== undefined) {
    throw badInput(`lab cloud takes at most two words after the node`, LAB_CLOUD_USAGE);
  }
  const state = await readState(ctx.dir);
  if (state === null) throw badInput(`no lab in ${ctx.dir}`, 'start one: sudo nodewarden lab up');
  const node = resolveNode(state.nodes, query);
  const serverId = labServerId(node.ip);
  const bootDelayMs =
    intFlag('boot-delay', values['boot-delay'], DEFAULT_LAB_BOOT_DELAY_MS / 1000, 0, 3_600) * 1000;
  const cloud = new LabCloud({ dir: ctx.dir, actor: 'user:lab-cli', bootDelayMs });
  switch (action) {
    case undefined: {
      const lines = intFlag('lines', values.lines, 10, 1, 10_000);
      const instance = await cloud.instance(`openstack:///${serverId}`);
      const [port] = await cloud.ports(serverId);
      const actions = await cloud.instanceActions(serverId);
      const console = await cloud.consoleLog(serverId, lines);
      io.out(
        `${node.name}  server ${serverId}\n` +
          `  status ${instance?.status ?? '?'}  power ${instance?.powerState ?? '?'}  task ${instance?.taskState ?? '-'}  vm_state ${instance?.vmState ?? '?'}  host ${instance?.hypervisorHost ?? '?'} ${instance?.hostStatus ?? '?'}\n` +
          (port === undefined
            ? '  no port\n'
            : `  port ${port.id} ${port.status} admin ${port.adminStateUp ? 'up' : 'down'} ${port.macAddress} ${port.fixedIps.map((f) => f.ipAddress).join(',')}\n`) +
          `  actions (newest first):\n` +
          actions
            .slice(0, 10)
            .map(
              (a) =>
                `    ${a.startTime}  ${a.action.padEnd(7)} by ${a.userId ?? '(no user: Nova power sync)'}\n`,
            )
            .join('') +
          `  console (last ${lines} lines):\n` +
          console
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => `    ${l}\n`)
            .join(''),
      );
      return EXIT_OK;
    }
    case 'reboot': {
      const type = (arg ?? 'soft').toUpperCase();
      if (type !== 'SOFT' && type !== 'HARD') {
        throw badInput(`reboot "${arg ?? ''}" is not soft or hard`, LAB_CLOUD_USAGE);
      }
      const started = performance.now();
      await cloud.reboot(serverId, type);
      ctx.progress(
        `${type} reboot of ${node.name} accepted; it boots in ${bootDelayMs / 1000} s …`,
      );
      await cloud.idle();
      const after = await cloud.instance(`openstack:///${serverId}`);
      ctx.progress(
        `${node.name} booted: ${after?.status ?? '?'}/${after?.powerState ?? '?'} after ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      return EXIT_OK;
    }
    case 'port': {
      if (arg !== 'up' && arg !== 'down') {
        throw badInput(`port "${arg ?? ''}" is not up or down`, LAB_CLOUD_USAGE);
      }
      const port = await cloud.setPortAdminState(
        (await cloud.ports(serverId))[0]?.id ?? '',
        arg === 'up',
      );
      ctx.progress(
        `port ${port.id} of ${node.name}: admin ${port.adminStateUp ? 'up' : 'down'}, status ${port.status}`,
      );
      return EXIT_OK;
    }
    default:
      throw badInput(`unknown lab cloud action "${action}"`, LAB_CLOUD_USAGE);
  }
}
