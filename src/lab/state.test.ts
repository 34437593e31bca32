import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeWardenError } from '../core/errors.ts';
import {
  DEFAULT_LAB_DIR,
  labDirFrom,
  labPaths,
  readState,
  removeLabFiles,
  requireState,
  takeoverClaim,
  takeOverStaleLock,
  withLabLock,
  writeState,
  type LabState,
} from './state.ts';
import { planLab } from './topology.ts';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nw-state-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sampleState(at: string): LabState {
  const plan = planLab(2, '10.62.0.0/24');
  return {
    version: 1,
    phase: 'up',
    createdAt: at,
    updatedAt: at,
    dir,
    subnet: plan.subnet,
    prefixLength: plan.prefixLength,
    gateway: plan.gateway,
    hub: plan.hub,
    caCert: join(dir, 'pki/ca.crt'),
    tokenFile: join(dir, 'token'),
    nodes: plan.nodes.map((n) => ({
      ...n,
      kubelet: { port: 10250, pid: 42, pidFile: 'p', logFile: 'l', certFile: 'c', keyFile: 'k' },
      faults: [{ kind: 'loss', percent: 30, since: at }],
    })),
  };
}

describe('lab state file', () => {
  it('round-trips and leaves no temporary file', async () => {
    const state = sampleState('2025-08-25T03:58:00.000Z');
    await writeState(state);
    expect(await readState(dir)).toEqual(state);
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('is null when no lab was made', async () => {
    expect(await readState(join(dir, 'nothing-here'))).toBeNull();
  });

  it('is required: NOT_FOUND naming the directory and its state file, with how to start one', async () => {
    const empty = join(dir, 'nothing-here');
    const error = await requireState(empty).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NodeWardenError);
    expect(error).toMatchObject({
      code: 'NOT_FOUND',
      message: `no lab in ${empty} (no ${join(empty, 'state.json')})`,
      hint: expect.stringContaining('nodewarden lab up') as string,
    });
    const state = sampleState('2025-08-25T03:58:00.000Z');
    await writeState(state);
    expect(await requireState(dir)).toEqual(state);
  });

  it('calls a broken or foreign file a CONFLICT that points at lab down', async () => {
    await writeFile(labPaths(dir).state, '{"version": 1, "nodes": [');
    const broken = await readState(dir).catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(NodeWardenError);
    expect((broken as NodeWardenError).code).toBe('CONFLICT');
    expect((broken as NodeWardenError).hint).toMatch(/lab down/);
    await writeFile(labPaths(dir).state, '{"version": 7}');
    await expect(readState(dir)).rejects.toThrow(/not a version 1 lab state/);
  });

  it('takes the lab dir from NODEWARDEN_LAB_DIR, made absolute', () => {
    expect(labDirFrom({})).toBe(DEFAULT_LAB_DIR);
    expect(labDirFrom({ NODEWARDEN_LAB_DIR: '/tmp/x' })).toBe('/tmp/x');
    expect(labDirFrom({ NODEWARDEN_LAB_DIR: 'rel' })).toBe(join(process.cwd(), 'rel'));
  });
});

describe('withLabLock', () => {
  it('runs commands one at a time', async () => {
    const order: string[] = [];
    const task = (name: string) =>
      withLabLock(dir, async () => {
        order.push(`${name}:start`);
        await new Promise((r) => setTimeout(r, 150));
        order.push(`${name}:end`);
      });
    await Promise.all([task('a'), task('b')]);
    // Either may go first; neither starts before the other ended.
    const first = order[0]?.startsWith('a') ? 'a' : 'b';
    const second = first === 'a' ? 'b' : 'a';
    expect(order).toEqual([`${first}:start`, `${first}:end`, `${second}:start`, `${second}:end`]);
  });

  it('takes over a lock whose holder died, and names a live holder', async () => {
    await writeFile(labPaths(dir).lock, '999999999\n');
    expect(await withLabLock(dir, () => Promise.resolve('ran'))).toBe('ran');
    await writeFile(labPaths(dir).lock, `${process.pid}\n`);
    const error = await withLabLock(dir, () => Promise.resolve('x'), 200).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NodeWardenError);
    expect((error as NodeWardenError).message).toContain(`pid ${process.pid}`);
  });

  it('takes a stale lock over atomically: of two that saw it dead, exactly one wins', async () => {
    const path = labPaths(dir).lock;
    const stale = '999999999 0123456789abcdef\n';
    await writeFile(path, stale);
    // Both inspected the stale lock; the first replaces it, the late one must
    // not replace the winner's lock (rm-then-create would, and both would hold it).
    expect(await takeOverStaleLock(path, stale, 'first\n')).toBe(true);
    expect(await takeOverStaleLock(path, stale, 'late\n')).toBe(false);
    expect(await readFile(path, 'utf8')).toBe('first\n');
    // Racing for real: eight at once, one winner, its lock in place, no files left over.
    await writeFile(path, stale);
    const won = await Promise.all(
      Array.from({ length: 8 }, (_, i) => takeOverStaleLock(path, stale, `racer-${i}\n`)),
    );
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(await readFile(path, 'utf8')).toBe(`racer-${won.indexOf(true)}\n`);
    expect(await readdir(dir)).toEqual(['lock']);
  });

  it("names both files when a takeover of a dead holder's lock never finished", async () => {
    const path = labPaths(dir).lock;
    const stale = '999999999\n';
    await writeFile(path, stale);
    // A claimant that died between claiming and replacing left its claim.
    await writeFile(takeoverClaim(path, stale), stale);
    const error = await withLabLock(dir, () => Promise.resolve('x'), 200).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('pid 999999999, which is gone') as string,
      hint: expect.stringContaining(takeoverClaim(path, stale)) as string,
    });
    expect(await readFile(path, 'utf8')).toBe(stale);
  });

  it('releases only its own lock and leaves no temporary files', async () => {
    await withLabLock(dir, async () => {
      const held = await readFile(labPaths(dir).lock, 'utf8');
      expect(held).toMatch(new RegExp(`^${process.pid} [0-9a-f]{16}\\n$`));
      expect(await readdir(dir)).toEqual(['lock']);
    });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('removeLabFiles', () => {
  it('removes what the lab wrote and nothing else', async () => {
    await writeState(sampleState('2025-08-25T03:58:00.000Z'));
    await writeFile(labPaths(dir).token, 't');
    for (const sub of ['etcd/member/snap', 'kube'])
      await mkdir(join(dir, sub), { recursive: true });
    await writeFile(join(dir, 'etcd/member/snap/db'), 'old cluster');
    await writeFile(join(dir, 'notes.txt'), 'mine');
    await removeLabFiles(dir);
    expect(await readdir(dir)).toEqual(['notes.txt']);
    expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    await rm(join(dir, 'notes.txt'));
    await removeLabFiles(dir);
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
