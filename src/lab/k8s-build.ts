import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeWardenError } from '../core/errors.ts';
import { runCommand, runChecked } from '../host/command.ts';

/**
 * Builds the lab's control plane from the Kubernetes and etcd Go modules.
 *
 * Kubernetes 1.32 is the seed cluster's version; v1.32.13 is its newest patch
 * that the module proxy serves (see tools/k8s/README.md). etcd 3.5 is the line
 * Kubernetes 1.32 is tested with.
 */
export const K8S_VERSION = 'v1.32.13';
export const ETCD_VERSION = 'v3.5.21';

export type ControlPlaneBinary =
  'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubectl' | 'etcd';

export const CONTROL_PLANE_BINARIES: readonly ControlPlaneBinary[] = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'etcd',
];

/** tools/k8s in this package, from src/lab or dist/lab alike. */
export const toolsDir = fileURLToPath(new URL('../../tools/k8s/', import.meta.url));

export function defaultCacheDir(): string {
  return process.env['NODEWARDEN_CACHE'] ?? join(homedir(), '.cache', 'nodewarden');
}

export interface BuildProgress {
  (line: string): void;
}

export interface BuiltControlPlane {
  readonly dir: string;
  readonly paths: Readonly<Record<ControlPlaneBinary, string>>;
  /** False when the binaries came from the cache. */
  readonly built: boolean;
  readonly seconds: number;
}

const stampName = '.nodewarden-build.json';

/** What the binaries were built from; a change to any of it rebuilds them. */
async function buildFingerprint(): Promise<string> {
  const parts = await Promise.all(
    ['kubernetes/go.mod', 'kubernetes/go.sum', 'etcd/go.mod', 'etcd/go.sum', 'etcd/main.go'].map(
      (f) => readFile(join(toolsDir, f), 'utf8'),
    ),
  );
  const { createHash } = await import('node:crypto');
  return createHash('sha256')
    .update(K8S_VERSION + ETCD_VERSION + parts.join('\0'))
    .digest('hex');
}

function binaryPaths(dir: string): Record<ControlPlaneBinary, string> {
  return Object.fromEntries(CONTROL_PLANE_BINARIES.map((b) => [b, join(dir, b)])) as Record<
    ControlPlaneBinary,
    string
  >;
}

async function cached(dir: string, fingerprint: string): Promise<boolean> {
  try {
    const stamp = JSON.parse(await readFile(join(dir, stampName), 'utf8')) as {
      fingerprint?: string;
    };
    if (stamp.fingerprint !== fingerprint) return false;
    await Promise.all(Object.values(binaryPaths(dir)).map((p) => access(p)));
    return true;
  } catch {
    // No stamp or a missing binary: not cached.
    return false;
  }
}

function versionLdflags(): string {
  const [major, minor] = K8S_VERSION.slice(1).split('.');
  const base = 'k8s.io/component-base/version';
  return [
    '-s',
    '-w',
    `-X ${base}.gitVersion=${K8S_VERSION}`,
    `-X ${base}.gitMajor=${major}`,
    `-X ${base}.gitMinor=${minor}`,
    `-X ${base}.gitTreeState=clean`,
    `-X k8s.io/client-go/pkg/version.gitVersion=${K8S_VERSION}`,
  ].join(' ');
}

/** A failed `go build`: the last lines of its errors (not the package list), and where to look. */
export function goBuildFailed(
  what: string,
  stderr: string,
  moduleDir: string,
  readme: string,
): NodeWardenError {
  const tail = stderr
    .split('\n')
    .filter((l) => !/^[\w./-]+$/.test(l))
    .slice(-15)
    .join('\n');
  return new NodeWardenError('COMMAND_FAILED', `go build of ${what} failed:\n${tail}`, {
    hint: `the Go module proxy must serve the modules in ${moduleDir}/go.sum; see ${readme}`,
  });
}

/**
 * Runs one `go build -v` and reports compiled packages against the total from
 * `go list -deps`, so a 20-minute cold build shows where it is.
 */
async function goBuild(
  label: string,
  moduleDir: string,
  packages: readonly string[],
  outDir: string,
  ldflags: string,
  progress: BuildProgress,
): Promise<void> {
  const env = { GOTOOLCHAIN: 'local', CGO_ENABLED: '0' };
  const list = await runChecked('go', ['list', '-deps', ...packages], {
    timeoutMs: 600_000,
    cwd: moduleDir,
    env,
  });
  const total = list.stdout.split('\n').filter(Boolean).length;
  let done = 0;
  let lastShown = 0;
  const started = Date.now();
  const result = await runCommand(
    'go',
    ['build', '-v', '-trimpath', `-ldflags=${ldflags}`, '-o', outDir + '/', ...packages],
    {
      timeoutMs: 3_600_000,
      cwd: moduleDir,
      env,
      onOutput: (chunk, stream) => {
        if (stream !== 'stderr') return;
        done += chunk.split('\n').filter((l) => l && !l.startsWith('#')).length;
        if (Date.now() - lastShown > 15_000) {
          lastShown = Date.now();
          const pct = Math.min(99, Math.round((100 * done) / Math.max(total, 1)));
          progress(
            `[${label}] ${pct}% (${done}/${total} packages, ${Math.round((Date.now() - started) / 1000)} s)`,
          );
        }
      },
    },
  );
  if (result.code !== 0)
    throw goBuildFailed(label, result.stderr, moduleDir, 'tools/k8s/README.md');
  progress(`[${label}] done in ${Math.round((Date.now() - started) / 1000)} s`);
}

/**
 * Builds kube-apiserver, kube-controller-manager, kube-scheduler and etcd once
 * into `<cache>/k8s/<version>/`; a later call with the same sources is
 * instant. The binaries are built into a temporary folder and moved into
 * place, so an interrupted build never leaves a half-written cache.
 */
export async function buildControlPlane(
  progress: BuildProgress,
  cacheDir = defaultCacheDir(),
): Promise<BuiltControlPlane> {
  const started = Date.now();
  const dir = join(cacheDir, 'k8s', K8S_VERSION);
  const fingerprint = await buildFingerprint();
  if (await cached(dir, fingerprint)) {
    return { dir, paths: binaryPaths(dir), built: false, seconds: (Date.now() - started) / 1000 };
  }
  const goVersion = await runCommand('go', ['version'], { timeoutMs: 30_000 }).catch(
    (error: unknown) => {
      throw new NodeWardenError(
        'MISSING_TOOL',
        'the lab control plane is built with Go, and go is not on PATH',
        {
          hint: 'install Go ≥ 1.23 (this project is tested with Go 1.26) and retry',
          cause: error,
        },
      );
    },
  );
  progress(
    `building Kubernetes ${K8S_VERSION} and etcd ${ETCD_VERSION} with ${goVersion.stdout.trim()} into ${dir}`,
  );
  progress('a cold build takes tens of minutes on 2 cores; later runs reuse the cache');
  // The etcd wrapper module's last path element is `etcd`, so go names the binary etcd.
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await goBuild(
      'kubernetes',
      join(toolsDir, 'kubernetes'),
      [
        'k8s.io/kubernetes/cmd/kube-apiserver',
        'k8s.io/kubernetes/cmd/kube-controller-manager',
        'k8s.io/kubernetes/cmd/kube-scheduler',
        // kubectl shares most packages with the rest: about half a minute more.
        'k8s.io/kubernetes/cmd/kubectl',
      ],
      tmp,
      versionLdflags(),
      progress,
    );
    await goBuild('etcd', join(toolsDir, 'etcd'), ['.'], tmp, '-s -w', progress);
    await writeFile(
      join(tmp, stampName),
      JSON.stringify({
        fingerprint,
        k8s: K8S_VERSION,
        etcd: ETCD_VERSION,
        builtAt: new Date().toISOString(),
      }) + '\n',
    );
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(cacheDir, 'k8s'), { recursive: true });
    await rename(tmp, dir);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  return { dir, paths: binaryPaths(dir), built: true, seconds: (Date.now() - started) / 1000 };
}
