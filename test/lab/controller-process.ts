import { spawn, type ChildProcess } from 'node:child_process';
import { until } from '../support/until.ts';
import { inHub } from './lab-cli.ts';

/**
 * `nodewarden controller` run the way an operator runs it in the lab: inside
 * the hub namespace (the only place that routes to the nodes), its JSON log
 * lines collected from stderr. Shared by the lab test files that need one.
 */
export interface Controller {
  readonly child: ChildProcess;
  readonly identity: string;
  readonly logs: () => string;
  readonly exited: Promise<number | null>;
}

export interface ControllerSpec {
  readonly hub: string;
  readonly kubeconfig: string;
  readonly identity: string;
  /** `sqlite:<file>`. */
  readonly store: string;
  /** Default `--listen 127.0.0.1:0`. */
  readonly extra?: readonly string[];
  /** Added to this process's environment (e.g. the OS_* of an openrc for --cloud openstack). */
  readonly env?: Readonly<Record<string, string>>;
}

export function startController(spec: ControllerSpec): Controller {
  const child = spawn(
    'ip',
    inHub(spec.hub, [
      'controller',
      '--kubeconfig',
      spec.kubeconfig,
      '--store',
      spec.store,
      '--stable-period',
      '10',
      '--identity',
      spec.identity,
      '--lease-namespace',
      'kube-system',
      ...(spec.extra ?? ['--listen', '127.0.0.1:0']),
    ]),
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...spec.env } },
  );
  let text = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (text += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, identity: spec.identity, logs: () => text, exited };
}

/** SIGTERM, SIGKILL after 5 s. */
export async function stopController(c: Controller): Promise<void> {
  c.child.kill('SIGTERM');
  await Promise.race([c.exited, new Promise((r) => setTimeout(r, 5_000))]);
  c.child.kill('SIGKILL');
}

/** Waits until `c` leads; throws with the end of its log when it exits first. */
export async function untilLeader(c: Controller, timeoutMs = 60_000): Promise<void> {
  await until(`${c.identity} leads`, timeoutMs, () => {
    if (c.child.exitCode !== null)
      throw new Error(`the controller exited (${c.child.exitCode}):\n${logTail(c)}`);
    return c.logs().includes('became leader');
  });
}

/** The end of `c`'s log, for an error message; '' when there is no controller. */
export const logTail = (c: Controller | null, chars = 4000): string =>
  c?.logs().slice(-chars) ?? '';

export const opened = (c: Controller): boolean => c.logs().includes('"msg":"incident opened"');

/** The controller's JSON log lines with `msg`, parsed. */
export function logLines(c: Controller, msg: string): Record<string, unknown>[] {
  return c
    .logs()
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
