import { writeFile } from 'node:fs/promises';
import { openStackConfigFromEnv } from '../cloud/openstack/config.ts';
import { openOpenStackCloud } from '../cloud/openstack/openstack-cloud.ts';
import { badInput } from '../core/errors.ts';
import { jsonLogger } from '../host/json-logger.ts';
import { checkServers, runHypervisor } from '../lab/hypervisor.ts';
import type { LabContext } from '../lab/lab.ts';
import { labPaths as openStackPaths } from '../lab/openstack/plan.ts';
import { readOpenrc } from '../lab/openstack/stack.ts';
import { readState } from '../lab/state.ts';
import { EXIT_OK, intFlag, parseFlags, type Io } from './command.ts';

export const LAB_HYPERVISOR_USAGE = `  nodewarden lab hypervisor [--interval-ms 2000] [--pid-file F]
                                    applies Nova's actions to the nodes (lab up --openstack runs it)`;

/**
 * `nodewarden lab hypervisor`: the process `lab up --openstack` starts in the
 * root namespace (where the lab OpenStack listens). It reads the lab state
 * for the nodes' Nova servers, the lab OpenStack's admin-openrc and the boot
 * delay, writes its pid file once it has read every server from Nova, logs JSON
 * lines to stderr and runs until SIGTERM.
 */
export async function runLabHypervisor(
  ctx: LabContext,
  argv: readonly string[],
  io: Io,
): Promise<number> {
  const { values, positionals } = parseFlags('lab hypervisor', argv, {
    'interval-ms': { type: 'string' },
    'pid-file': { type: 'string' },
  });
  if (positionals.length > 0) {
    throw badInput(
      `lab hypervisor takes no argument "${positionals.join(' ')}"`,
      LAB_HYPERVISOR_USAGE,
    );
  }
  const intervalMs = intFlag('interval-ms', values['interval-ms'], 2_000, 100, 60_000);
  const state = await readState(ctx.dir);
  if (state?.openstack === undefined) {
    throw badInput(
      `the lab in ${ctx.dir} is not backed by the lab OpenStack`,
      'bring it up with: sudo nodewarden lab up --openstack (which starts the hypervisor itself)',
    );
  }
  const log = jsonLogger().child({ component: 'lab-hypervisor' });
  const env = await readOpenrc(openStackPaths(state.openstack.dir).adminOpenrc);
  const cloud = await openOpenStackCloud(openStackConfigFromEnv(env), {
    logger: log,
    timeoutMs: 30_000,
    retries: 1,
  });
  const stop = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop.abort());
  const pidFile = values['pid-file'];
  log.log('info', 'lab hypervisor started', {
    dir: ctx.dir,
    openstack: state.openstack.dir,
    servers: state.nodes.filter((n) => n.novaServer !== undefined).length,
    bootDelayMs: state.openstack.bootDelayMs,
    intervalMs,
  });
  const options = { dir: ctx.dir, cloud, bootDelayMs: state.openstack.bootDelayMs, log };
  try {
    const servers = await checkServers(options, 60_000);
    if (pidFile !== undefined) await writeFile(pidFile, `${process.pid}\n`);
    log.log('info', 'lab hypervisor ready: every server answered', { servers });
    await runHypervisor(options, intervalMs, stop.signal);
  } finally {
    cloud.close();
  }
  io.out('lab hypervisor stopped\n');
  return EXIT_OK;
}
