import { spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runCommand } from '../../src/host/command.ts';
import {
  labNamespaces,
  nodewarden,
  nodewardenOk,
  repoRoot,
  SHARED_LAB_UP,
  standinProcesses,
} from './lab-harness.ts';

/**
 * `lab down` must leave nothing behind — no namespace, no link, no process —
 * after a clean lab and after a `lab up` killed half-way. The shared lab is
 * brought back up at the end so the order of test files does not matter.
 */
const lab = inject('lab');

async function expectNothingLeft(dir: string): Promise<void> {
  expect(await labNamespaces()).toEqual([]);
  expect(await standinProcesses()).toEqual([]);
  const links = await runCommand('ip', ['-o', 'link', 'show'], { timeoutMs: 5_000 });
  expect(links.stdout).not.toMatch(/nwbr0|nwh-/);
  await expect(access(join(dir, 'state.json'))).rejects.toMatchObject({ code: 'ENOENT' });
}

/** Starts `lab up` and SIGKILLs it as soon as it prints `line`; resolves with what it printed. */
function killUpAfter(dir: string, line: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, 'bin', 'nodewarden.js'), 'lab', 'up', '--nodes', '4'],
      {
        env: { ...process.env, NODEWARDEN_LAB_DIR: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (line.test(out)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && line.test(out)) resolve(out);
      else reject(new Error(`lab up was not killed mid-way (signal ${signal}):\n${out}`));
    });
  });
}

describe.skipIf(lab.skip !== null)('lab down', () => {
  it('removes the whole lab and can run again', async () => {
    expect(await standinProcesses()).toHaveLength(5);
    const down = await nodewardenOk(lab.dir, ['lab', 'down']);
    expect(down.stdout).toMatch(/lab down: stopped 18 processes, deleted 6 namespaces/);
    await expectNothingLeft(lab.dir);
    const again = await nodewardenOk(lab.dir, ['lab', 'down']);
    expect(again.stdout).toMatch(/no lab to remove/);
    const status = await nodewarden(lab.dir, ['lab', 'status']);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/no lab in /);
  });

  it('cleans a lab whose `lab up` was killed after starting a stand-in', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodewarden-lab-crash-'));
    try {
      const printed = await killUpAfter(dir, /kubelet stand-in \w+: pid \d+/);
      expect(printed).not.toMatch(/lab up:/);
      expect((await labNamespaces()).length).toBeGreaterThan(0);
      expect((await standinProcesses()).length).toBeGreaterThan(0);
      // Stand-ins started before the kill outlive the CLI; down finds them by pid file and namespace.
      const blocked = await nodewarden(dir, ['lab', 'up', '--nodes', '4']);
      expect(blocked.code).toBe(1);
      await nodewardenOk(dir, ['lab', 'down']);
      await expectNothingLeft(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('cleans namespaces left without any state file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodewarden-lab-crash-'));
    try {
      const printed = await killUpAfter(dir, /hub nw-hub/);
      expect(printed).toMatch(/hub nw-hub/);
      await rm(join(dir, 'state.json'), { force: true });
      const elsewhere = await mkdtemp(join(tmpdir(), 'nodewarden-lab-other-'));
      const blocked = await nodewarden(elsewhere, ['lab', 'up']);
      expect(blocked.stderr).toMatch(/lab namespaces exist but .* holds no lab state/);
      await nodewardenOk(elsewhere, ['lab', 'down']);
      await expectNothingLeft(elsewhere);
      await rm(elsewhere, { recursive: true, force: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('brings the shared lab back for the other test files', async () => {
    await nodewardenOk(lab.dir, SHARED_LAB_UP, 300_000);
    expect(await standinProcesses()).toHaveLength(5);
  });
});
