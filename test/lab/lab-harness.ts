import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProbeResult } from '../../src/core/probe.ts';
import { expect } from 'vitest';
import { runCommand, type CommandResult } from '../../src/host/command.ts';
import type { LabStatus } from '../../src/lab/lab.ts';

/** Helpers the lab tests share: the built CLI, run as a user would run it. */

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(repoRoot, 'bin', 'nodewarden.js');

/** The MIG node of the seed and two survivors, by the short names a person types. */
export const MIG = 'bkqzq';
export const MIG_IP = '10.62.0.30';
export const OBSERVER = '85zt7';
export const BYSTANDER = '9f79t';

/**
 * Kubernetes timing of the shared lab, shortened so a test sees NotReady and
 * eviction in seconds (Kubernetes' defaults: 50 s grace period, 300 s toleration).
 */
export const SHARED_LAB_TIMING = { gracePeriodSeconds: 20, tolerationSeconds: 10 } as const;

/** `lab up` arguments of the shared lab that every test file uses. */
export const SHARED_LAB_UP: readonly string[] = [
  'lab',
  'up',
  '--nodes',
  '5',
  '--grace-period',
  String(SHARED_LAB_TIMING.gracePeriodSeconds),
  '--toleration',
  String(SHARED_LAB_TIMING.tolerationSeconds),
];

/** Probe timeout per layer: short, so a dead layer costs 1.5 s, not the default. */
export const PROBE_TIMEOUT_MS = 1500;

/**
 * Compiles src/ to dist/. tsc still emits when files other engineers are
 * editing fail to type-check, so success means: every file the lab runs was
 * written by this build.
 */
export async function buildDist(): Promise<void> {
  const started = Date.now();
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = await runCommand(
    process.execPath,
    [tsc, '-p', join(repoRoot, 'tsconfig.build.json')],
    {
      timeoutMs: 300_000,
    },
  );
  for (const file of ['cli/main.js', 'cli/lab.js', 'cli/probe.js', 'lab/kubelet-standin.js']) {
    const path = join(repoRoot, 'dist', file);
    const written = await stat(path).then(
      (s) => s.mtimeMs >= started - 1_000,
      () => false,
    );
    if (!written) {
      throw new Error(`npm run build did not produce ${path}:\n${build.stdout.slice(-2_000)}`);
    }
  }
}

/**
 * `ip` arguments that run `nodewarden <args>` inside the hub namespace, the
 * only place that routes to the nodes. `ip netns exec` execs, so a child
 * spawned with these has the CLI's own pid and a signal reaches it.
 */
export function inHub(hub: string, args: readonly string[]): string[] {
  return ['netns', 'exec', hub, process.execPath, bin, ...args];
}

/** Runs `nodewarden <args>` with the test lab's directory. */
export function nodewarden(
  dir: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<CommandResult> {
  return runCommand(process.execPath, [bin, ...args], {
    timeoutMs,
    env: { NODEWARDEN_LAB_DIR: dir },
  });
}

/** Runs a command and fails with its output when it exits non-zero. */
export async function nodewardenOk(
  dir: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<CommandResult> {
  const result = await nodewarden(dir, args, timeoutMs);
  if (result.code !== 0) {
    throw new Error(
      `nodewarden ${args.join(' ')} exited ${result.code}:\n${result.stdout}${result.stderr}`,
    );
  }
  return result;
}

export interface ProbeRun {
  readonly exitCode: number | null;
  readonly result: ProbeResult;
}

/** `lab exec <observer> -- nodewarden probe <ip> --json`, parsed. */
export async function probeFrom(dir: string, observer: string, ip: string): Promise<ProbeRun> {
  const run = await nodewarden(
    dir,
    [
      'lab',
      'exec',
      observer,
      '--',
      'nodewarden',
      'probe',
      ip,
      '--timeout-ms',
      String(PROBE_TIMEOUT_MS),
      '--json',
    ],
    30_000,
  );
  try {
    return { exitCode: run.code, result: JSON.parse(run.stdout) as ProbeResult };
  } catch {
    throw new Error(
      `probe from ${observer} printed no JSON (exit ${run.code}):\n${run.stdout}${run.stderr}`,
    );
  }
}

/** `{L2: 'ok: ARP reply …', …}`: one line per layer, so a failed expectation shows every layer. */
export function layers(result: ProbeResult): Record<string, string> {
  return Object.fromEntries(result.layers.map((l) => [l.layer, `${l.status}: ${l.detail}`]));
}

/** Expects each named layer's `status: detail` line to match; a failure prints every layer. */
export function expectLayers(
  result: ProbeResult,
  expected: Readonly<Record<string, RegExp>>,
): void {
  const actual = layers(result);
  for (const [name, pattern] of Object.entries(expected)) {
    expect(actual[name], `${name} in ${JSON.stringify(actual, null, 1)}`).toMatch(pattern);
  }
}

export async function labStatus(dir: string): Promise<LabStatus> {
  return JSON.parse((await nodewardenOk(dir, ['lab', 'status', '--json'])).stdout) as LabStatus;
}

/** Names of the network namespaces the lab owns (`nw-` prefix). */
export async function labNamespaces(): Promise<string[]> {
  const { stdout } = await runCommand('ip', ['-j', 'netns', 'list'], { timeoutMs: 5_000 });
  const entries = stdout.trim() === '' ? [] : (JSON.parse(stdout) as { name: string }[]);
  return entries.map((e) => e.name).filter((n) => n.startsWith('nw-'));
}

/** Pids of running kubelet stand-ins (any lab), read from /proc; zombies do not count. */
export async function standinProcesses(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes('kubelet-standin.js')) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state !== 'Z' && state !== '') pids.push(Number(entry));
  }
  return pids;
}

/** Polls `probe` every 250 ms until it returns non-null; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | null>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
