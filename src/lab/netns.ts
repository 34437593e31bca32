import { NodeWardenError } from '../core/errors.ts';
import { runChecked, runCommand, type CommandResult } from '../host/command.ts';

/**
 * Network-namespace plumbing for the lab, through iproute2 only. Every link
 * is made inside a namespace (`ip -n <ns> link add … peer … netns <ns>`), so
 * nothing of the lab ever appears in, or routes from, the root namespace.
 */

const timeoutMs = 10_000;

/** `ip <args>` in the root namespace; non-zero exit is COMMAND_FAILED. */
export function ip(args: readonly string[]): Promise<CommandResult> {
  return runChecked('ip', args, { timeoutMs });
}

/** `ip -n <ns> <args>`: an iproute2 command acting inside `ns`. */
export function ipIn(namespace: string, args: readonly string[]): Promise<CommandResult> {
  return runChecked('ip', ['-n', namespace, ...args], { timeoutMs });
}

/** Runs a program inside a namespace and returns its outcome, exit status included. */
export function execIn(
  namespace: string,
  argv: readonly [string, ...string[]],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<CommandResult> {
  return runCommand('ip', ['netns', 'exec', namespace, ...argv], {
    timeoutMs: options.timeoutMs ?? timeoutMs,
    ...(options.input === undefined ? {} : { input: options.input }),
  });
}

/**
 * GET `url` from inside a namespace (a Node one-liner run there: the root
 * namespace has no route into the lab). The body on a 2xx answer, else why not.
 * A `bearer` token goes in on stdin (not on a command line others can read).
 */
export async function fetchIn(
  namespace: string,
  url: string,
  timeoutMs: number,
  bearer?: string,
): Promise<{ ok: true; body: string } | { ok: false; error: string }> {
  const headers =
    bearer === undefined
      ? '{}'
      : `{authorization:'Bearer '+require('node:fs').readFileSync(0,'utf8').trim()}`;
  const script = `fetch(${JSON.stringify(url)},{headers:${headers},signal:AbortSignal.timeout(${timeoutMs})}).then(async r=>{if(!r.ok)throw new Error('HTTP '+r.status+' '+await r.text());process.stdout.write(await r.text())}).catch(e=>{process.stderr.write(String(e));process.exit(1)})`;
  const run = await execIn(namespace, [process.execPath, '-e', script], {
    timeoutMs: timeoutMs + 2_000,
    ...(bearer === undefined ? {} : { input: bearer }),
  });
  if (run.code === 0) return { ok: true, body: run.stdout };
  return {
    ok: false,
    error: (run.stderr || (run.timedOut ? 'timed out' : `exit ${run.code}`)).trim(),
  };
}

/** Like execIn, but a non-zero exit is a COMMAND_FAILED naming the namespace. */
export async function execCheckedIn(
  namespace: string,
  argv: readonly [string, ...string[]],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<CommandResult> {
  const result = await execIn(namespace, argv, options);
  if (result.timedOut || result.code !== 0) {
    const why = (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new NodeWardenError(
      result.timedOut ? 'TIMEOUT' : 'COMMAND_FAILED',
      `${argv.join(' ')} in namespace ${namespace} ${result.timedOut ? 'timed out' : `exited ${result.code ?? result.signal}`}: ${why}`,
    );
  }
  return result;
}

/** Names of all network namespaces (`ip -j netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await ip(['-j', 'netns', 'list']);
  if (stdout.trim() === '') return [];
  const parsed = JSON.parse(stdout) as { name?: unknown }[];
  return parsed.flatMap((entry) => (typeof entry.name === 'string' ? [entry.name] : []));
}

export async function addNamespace(namespace: string): Promise<void> {
  await ip(['netns', 'add', namespace]);
  await ipIn(namespace, ['link', 'set', 'lo', 'up']);
}

/** Deletes a namespace; one that is already gone is not an error. */
export async function deleteNamespace(namespace: string): Promise<void> {
  const result = await runCommand('ip', ['netns', 'delete', namespace], { timeoutMs });
  if (result.code === 0) return;
  if ((await listNamespaces()).includes(namespace)) {
    throw new NodeWardenError(
      'COMMAND_FAILED',
      `ip netns delete ${namespace} failed: ${result.stderr.trim()}`,
      {
        hint: 'see which processes hold it: ip netns pids ' + namespace,
      },
    );
  }
}

/** Pids of the processes whose network namespace is `namespace`. */
export async function namespacePids(namespace: string): Promise<number[]> {
  const result = await runCommand('ip', ['netns', 'pids', namespace], { timeoutMs });
  if (result.code !== 0) return [];
  return result.stdout
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** A bridge inside `namespace` holding `address` (CIDR), up, forwarding at once. */
export async function addBridge(namespace: string, bridge: string, address: string): Promise<void> {
  // STP off and no forward delay: ports forward as soon as they are up, so a
  // node is reachable the moment its veth is attached.
  await ipIn(namespace, [
    'link',
    'add',
    bridge,
    'type',
    'bridge',
    'stp_state',
    '0',
    'forward_delay',
    '0',
  ]);
  await ipIn(namespace, ['addr', 'add', address, 'dev', bridge]);
  await ipIn(namespace, ['link', 'set', bridge, 'up']);
}

export interface VethAttachment {
  readonly hubNamespace: string;
  readonly bridge: string;
  readonly hubVeth: string;
  readonly nodeNamespace: string;
  readonly nodeInterface: string;
  /** CIDR, e.g. 10.62.0.30/24. */
  readonly address: string;
  readonly gateway: string;
}

/**
 * Joins a node namespace to the hub's bridge with a veth pair made inside the
 * hub, its peer born straight into the node namespace under `nodeInterface`.
 */
export async function attachNode(a: VethAttachment): Promise<void> {
  await ipIn(a.hubNamespace, [
    'link',
    'add',
    a.hubVeth,
    'type',
    'veth',
    'peer',
    'name',
    a.nodeInterface,
    'netns',
    a.nodeNamespace,
  ]);
  await ipIn(a.hubNamespace, ['link', 'set', a.hubVeth, 'master', a.bridge, 'up']);
  await ipIn(a.nodeNamespace, ['addr', 'add', a.address, 'dev', a.nodeInterface]);
  await ipIn(a.nodeNamespace, ['link', 'set', a.nodeInterface, 'up']);
  await ipIn(a.nodeNamespace, [
    'route',
    'add',
    'default',
    'via',
    a.gateway,
    'dev',
    a.nodeInterface,
  ]);
}

export interface LinkInfo {
  readonly name: string;
  /** Administratively up (`UP` flag). */
  readonly up: boolean;
  /** `operstate` as the kernel reports it (UP, DOWN, LOWERLAYERDOWN, …). */
  readonly operState: string;
}

/** The links of a namespace, or of the root namespace when `namespace` is null. */
export async function listLinks(namespace: string | null): Promise<LinkInfo[]> {
  const args = ['-j', 'link', 'show'];
  const { stdout } = namespace === null ? await ip(args) : await ipIn(namespace, args);
  const parsed = JSON.parse(stdout || '[]') as {
    ifname?: string;
    flags?: string[];
    operstate?: string;
  }[];
  return parsed.flatMap((l) =>
    l.ifname === undefined
      ? []
      : [
          {
            name: l.ifname,
            up: (l.flags ?? []).includes('UP'),
            operState: l.operstate ?? 'UNKNOWN',
          },
        ],
  );
}

export async function setLink(
  namespace: string,
  link: string,
  state: 'up' | 'down',
): Promise<void> {
  await ipIn(namespace, ['link', 'set', link, state]);
}

/** Whether `namespace` has a default route via `gateway`. */
export async function hasDefaultRoute(namespace: string, gateway: string): Promise<boolean> {
  const { stdout } = await ipIn(namespace, ['-j', 'route', 'show', 'default']);
  const routes = JSON.parse(stdout || '[]') as { gateway?: string }[];
  return routes.some((r) => r.gateway === gateway);
}

/** Deletes a link in the root namespace; one that is already gone is not an error. */
export async function deleteRootLink(link: string): Promise<void> {
  const result = await runCommand('ip', ['link', 'delete', link], { timeoutMs });
  if (result.code !== 0 && (await listLinks(null)).some((l) => l.name === link)) {
    throw new NodeWardenError(
      'COMMAND_FAILED',
      `ip link delete ${link} failed: ${result.stderr.trim()}`,
    );
  }
}
