import { spawn, type ChildProcess } from 'node:child_process';
import { LAB_CONTROLLER_PORT } from '../../src/lab/node-processes.ts';
import { labPaths } from '../../src/lab/state.ts';
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

/**
 * Waits until `c` leads, then one plan period of the agents (they fetch their
 * plan every 10 s and push every second), so every node is watched by `c`.
 */
export async function untilWatching(c: Controller): Promise<void> {
  await untilLeader(c);
  await new Promise((r) => setTimeout(r, 12_000));
}

export interface LabControllerOptions {
  /** The lab's directory: its agent token, and `--lab-dir` for `cloud: 'lab'`. */
  readonly labDir: string;
  /** `--admin-token-file`, when the test calls the admin API. */
  readonly adminTokenFile?: string;
  /** `--remediation-mode`. */
  readonly mode: string;
  /** `lab` (the lab's Nova stand-in, `--lab-dir`) or `openstack` (OS_* in the environment). */
  readonly cloud: 'lab' | 'openstack';
  /** `--lab-boot-delay` seconds (lab cloud only); the controller's default when absent. */
  readonly bootDelayS?: number;
  /** `--gateway`: the hub's address, `ip` or `ip:port`. */
  readonly gateway: string;
  /** `--report-dir`. */
  readonly reportDir: string;
}

/**
 * The `extra` arguments of a lab controller that serves the agents: the agent
 * API on LAB_CONTROLLER_PORT with the lab's token, 1.5 s probes, a cloud
 * polled every 2 s, the hub as gateway.
 */
export function labControllerArgs(o: LabControllerOptions): string[] {
  return [
    '--listen',
    `:${LAB_CONTROLLER_PORT}`,
    '--agent-token-file',
    labPaths(o.labDir).token,
    ...(o.adminTokenFile === undefined ? [] : ['--admin-token-file', o.adminTokenFile]),
    '--probe-timeout-ms',
    '1500',
    '--remediation-mode',
    o.mode,
    '--cloud',
    o.cloud,
    ...(o.cloud === 'lab' ? ['--lab-dir', o.labDir] : []),
    ...(o.bootDelayS === undefined ? [] : ['--lab-boot-delay', String(o.bootDelayS)]),
    '--cloud-poll-interval',
    '2',
    '--gateway',
    o.gateway,
    '--report-dir',
    o.reportDir,
  ];
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
