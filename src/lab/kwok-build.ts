import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeWardenError } from '../core/errors.ts';
import { runCommand } from '../host/command.ts';
import { defaultCacheDir, toolsDir, type BuildProgress } from './k8s-build.ts';

/**
 * Builds kwok (sigs.k8s.io/kwok/cmd/kwok) from its Go module for the
 * controller-scale bench, the way buildControlPlane builds the control plane:
 * once, into `<cache>/kwok/<version>/kwok`, rebuilt only when the wrapper
 * module changes. The proxy serves v0.6.1, v0.7.0 and v0.8.0; v0.7.0 is built
 * with Kubernetes 1.33 client libraries, one minor ahead of the lab's 1.32 API
 * server (within client-go's supported skew), while v0.8.0 jumps to 1.36.
 */
export const KWOK_VERSION = 'v0.7.0';

export interface BuiltKwok {
  readonly path: string;
  /** kwok's Stage configuration (tools/k8s/kwok/stages.yaml); pass it with --config. */
  readonly stages: string;
  /** False when the binary came from the cache. */
  readonly built: boolean;
  readonly seconds: number;
}

const stampName = '.nodewarden-build.json';
const moduleDir = (): string => join(toolsDir, 'kwok');

async function fingerprint(): Promise<string> {
  const parts = await Promise.all(
    ['go.mod', 'go.sum', 'tools.go'].map((f) => readFile(join(moduleDir(), f), 'utf8')),
  );
  const { createHash } = await import('node:crypto');
  return createHash('sha256')
    .update(KWOK_VERSION + parts.join('\0'))
    .digest('hex');
}

async function isCached(dir: string, want: string): Promise<boolean> {
  try {
    const stamp = JSON.parse(await readFile(join(dir, stampName), 'utf8')) as {
      fingerprint?: string;
    };
    if (stamp.fingerprint !== want) return false;
    await access(join(dir, 'kwok'));
    return true;
  } catch {
    // No stamp or no binary: not cached.
    return false;
  }
}

/**
 * Returns kwok from the cache, or builds it (a few minutes on 2 cores). The
 * binary is written to a temporary folder and renamed into place, so an
 * interrupted build never leaves a half-written cache.
 */
export async function buildKwok(
  progress: BuildProgress,
  cacheDir = defaultCacheDir(),
): Promise<BuiltKwok> {
  const started = Date.now();
  const dir = join(cacheDir, 'kwok', KWOK_VERSION);
  const stages = join(moduleDir(), 'stages.yaml');
  const want = await fingerprint();
  const seconds = (): number => (Date.now() - started) / 1000;
  if (await isCached(dir, want)) {
    return { path: join(dir, 'kwok'), stages, built: false, seconds: seconds() };
  }
  const goVersion = await runCommand('go', ['version'], { timeoutMs: 30_000 }).catch(
    (error: unknown) => {
      throw new NodeWardenError('MISSING_TOOL', 'kwok is built with Go, and go is not on PATH', {
        hint: 'install Go ≥ 1.24 (this project is tested with Go 1.26) and retry',
        cause: error,
      });
    },
  );
  progress(`building kwok ${KWOK_VERSION} with ${goVersion.stdout.trim()} into ${dir}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    let compiled = 0;
    let shownAt = Date.now();
    const result = await runCommand(
      'go',
      [
        'build',
        '-v',
        '-trimpath',
        '-ldflags=-s -w',
        '-o',
        join(tmp, 'kwok'),
        'sigs.k8s.io/kwok/cmd/kwok',
      ],
      {
        timeoutMs: 3_600_000,
        cwd: moduleDir(),
        env: { GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
        onOutput: (chunk, stream) => {
          if (stream !== 'stderr') return;
          compiled += chunk.split('\n').filter((l) => l && !l.startsWith('#')).length;
          if (Date.now() - shownAt > 15_000) {
            shownAt = Date.now();
            progress(`[kwok] ${compiled} packages compiled, ${Math.round(seconds())} s`);
          }
        },
      },
    );
    if (result.code !== 0) {
      const tail = result.stderr
        .split('\n')
        .filter((l) => !/^[\w./-]+$/.test(l))
        .slice(-15)
        .join('\n');
      throw new NodeWardenError(
        'COMMAND_FAILED',
        `go build of kwok ${KWOK_VERSION} failed:\n${tail}`,
        {
          hint: `the Go module proxy must serve the modules in ${moduleDir()}/go.sum; see tools/k8s/README.md`,
        },
      );
    }
    await writeFile(
      join(tmp, stampName),
      JSON.stringify({ fingerprint: want, kwok: KWOK_VERSION, builtAt: new Date().toISOString() }) +
        '\n',
    );
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(cacheDir, 'kwok'), { recursive: true });
    await rename(tmp, dir);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  progress(`[kwok] built in ${Math.round(seconds())} s`);
  return { path: join(dir, 'kwok'), stages, built: true, seconds: seconds() };
}
