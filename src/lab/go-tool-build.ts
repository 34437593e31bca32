import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { NodeWardenError } from '../core/errors.ts';
import { runCommand } from '../host/command.ts';
import { defaultCacheDir, goBuildFailed, type BuildProgress } from './k8s-build.ts';

/**
 * One Go command built from a wrapper module under `tools/` (kwok, helm):
 * once, into `<cache>/<name>/<version>/<name>`, and again only when the
 * wrapper module's files change. The binary is written to a temporary folder
 * and renamed into place, so an interrupted build never leaves a
 * half-written cache.
 */
export interface GoToolSpec {
  /** Binary and cache folder name, e.g. `helm`. */
  readonly name: string;
  /** The module version the wrapper requires; names the cache folder. */
  readonly version: string;
  /** The wrapper module (holds go.mod, go.sum, tools.go). */
  readonly moduleDir: string;
  /** The main package, e.g. `helm.sh/helm/v3/cmd/helm`. */
  readonly mainPackage: string;
  readonly ldflags: string;
  /** Where a build failure's reader should look, e.g. `tools/helm/README.md`. */
  readonly readme: string;
}

export interface BuiltGoTool {
  readonly path: string;
  /** False when the binary came from the cache. */
  readonly built: boolean;
  readonly seconds: number;
}

const stampName = '.nodewarden-build.json';

async function fingerprint(spec: GoToolSpec): Promise<string> {
  const parts = await Promise.all(
    ['go.mod', 'go.sum', 'tools.go'].map((f) => readFile(join(spec.moduleDir, f), 'utf8')),
  );
  return createHash('sha256')
    .update([spec.version, spec.mainPackage, spec.ldflags, ...parts].join('\0'))
    .digest('hex');
}

async function isCached(dir: string, spec: GoToolSpec, want: string): Promise<boolean> {
  try {
    const stamp = JSON.parse(await readFile(join(dir, stampName), 'utf8')) as {
      fingerprint?: string;
    };
    if (stamp.fingerprint !== want) return false;
    await access(join(dir, spec.name));
    return true;
  } catch {
    // No stamp or no binary: not cached.
    return false;
  }
}

/** Returns the tool from the cache, or builds it with `go build` (minutes on 2 cores). */
export async function buildGoTool(
  spec: GoToolSpec,
  progress: BuildProgress,
  cacheDir = defaultCacheDir(),
): Promise<BuiltGoTool> {
  const started = Date.now();
  const seconds = (): number => (Date.now() - started) / 1000;
  const dir = join(cacheDir, spec.name, spec.version);
  const path = join(dir, spec.name);
  const want = await fingerprint(spec);
  if (await isCached(dir, spec, want)) return { path, built: false, seconds: seconds() };
  const goVersion = await runCommand('go', ['version'], { timeoutMs: 30_000 }).catch(
    (error: unknown) => {
      throw new NodeWardenError(
        'MISSING_TOOL',
        `${spec.name} is built with Go, and go is not on PATH`,
        { hint: 'install Go ≥ 1.24 (this project is tested with Go 1.26) and retry', cause: error },
      );
    },
  );
  progress(`building ${spec.name} ${spec.version} with ${goVersion.stdout.trim()} into ${dir}`);
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
        `-ldflags=${spec.ldflags}`,
        '-o',
        join(tmp, spec.name),
        spec.mainPackage,
      ],
      {
        timeoutMs: 3_600_000,
        cwd: spec.moduleDir,
        env: { GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
        onOutput: (chunk, stream) => {
          if (stream !== 'stderr') return;
          compiled += chunk.split('\n').filter((l) => l && !l.startsWith('#')).length;
          if (Date.now() - shownAt > 15_000) {
            shownAt = Date.now();
            progress(`[${spec.name}] ${compiled} packages compiled, ${Math.round(seconds())} s`);
          }
        },
      },
    );
    if (result.code !== 0) {
      throw goBuildFailed(
        `${spec.name} ${spec.version}`,
        result.stderr,
        spec.moduleDir,
        spec.readme,
      );
    }
    await writeFile(
      join(tmp, stampName),
      JSON.stringify({
        fingerprint: want,
        [spec.name]: spec.version,
        builtAt: new Date().toISOString(),
      }) + '\n',
    );
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(cacheDir, spec.name), { recursive: true });
    await rename(tmp, dir);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  progress(`[${spec.name}] built in ${Math.round(seconds())} s`);
  return { path, built: true, seconds: seconds() };
}
