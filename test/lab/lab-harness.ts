import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProbeResult } from '../../src/core/probe.ts';
import { expect } from 'vitest';
import { runCommand } from '../../src/host/command.ts';
import { nodewarden, repoRoot } from './lab-cli.ts';

/**
 * Helpers the lab tests share: the CLI wrappers of lab-cli.ts (vitest-free,
 * so the lab benches use them too) and what only a test needs on top.
 */
export * from './lab-cli.ts';

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
