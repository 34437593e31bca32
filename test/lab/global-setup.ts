import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { runCommand } from '../../src/host/command.ts';
import { buildDist, labNamespaces, nodewarden, SHARED_LAB_UP } from './lab-harness.ts';

/**
 * One lab for the whole `lab` project: built once here with its own lab
 * directory under /tmp, torn down when the run ends.
 * - Not root and CI=true: throw, so CI can never pass by skipping the lab.
 * - Not root elsewhere: the lab tests skip, saying why.
 * - nw- namespaces already present: throw rather than tear down somebody's lab.
 */
export interface LabFixture {
  /** Why the lab tests are skipped; null when the lab is up. */
  readonly skip: string | null;
  readonly dir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    lab: LabFixture;
  }
}

export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  if (process.getuid?.() !== 0) {
    const why =
      'the lab tests need root: they create network namespaces (sudo npx vitest run --project lab)';
    if (process.env['CI'] === 'true')
      throw new Error(`${why}; refusing to skip them in CI (CI=true)`);
    process.stderr.write(`lab tests skipped: ${why}\n`);
    project.provide('lab', { skip: why, dir: '' });
    return undefined;
  }
  await buildDist();
  const existing = await labNamespaces();
  if (existing.length > 0) {
    throw new Error(
      `lab namespaces already exist (${existing.slice(0, 3).join(', ')}…): another lab is up. ` +
        'The lab tests need the nw- namespaces to themselves; run `sudo nodewarden lab down` first.',
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'nodewarden-lab-test-'));
  // The control-plane binaries come from the cache (.ci/run builds them first); a cold build takes minutes.
  const up = await nodewarden(dir, SHARED_LAB_UP, 900_000);
  if (up.code !== 0) {
    await nodewarden(dir, ['lab', 'down'], 60_000);
    throw new Error(`lab up failed (exit ${up.code}):\n${up.stdout}${up.stderr}`);
  }
  process.stderr.write(
    `lab up for the lab tests: ${(up.durationMs / 1000).toFixed(1)} s (${dir})\n`,
  );
  project.provide('lab', { skip: null, dir });
  return async () => {
    const down = await nodewarden(dir, ['lab', 'down'], 60_000);
    process.stderr.write(
      `lab down after the lab tests: ${(down.durationMs / 1000).toFixed(1)} s\n`,
    );
    await rm(dir, { recursive: true, force: true });
    const left = await labNamespaces();
    if (down.code !== 0 || left.length > 0) {
      throw new Error(
        `lab down at the end of the run failed (exit ${down.code}; left: ${left.join(', ')}):\n${down.stderr}`,
      );
    }
    // Nothing of the lab may be left in the root namespace either.
    const links = await runCommand('ip', ['-o', 'link', 'show'], { timeoutMs: 5_000 });
    if (/\b(nwbr0|nwh-[a-z0-9]{5})\b/.test(links.stdout))
      throw new Error(`lab links left in the root namespace:\n${links.stdout}`);
  };
}
