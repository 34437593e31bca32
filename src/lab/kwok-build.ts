import { join } from 'node:path';
import { buildGoTool } from './go-tool-build.ts';
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

const moduleDir = (): string => join(toolsDir, 'kwok');

/** Returns kwok from the cache, or builds it (a few minutes on 2 cores). */
export async function buildKwok(
  progress: BuildProgress,
  cacheDir = defaultCacheDir(),
): Promise<BuiltKwok> {
  const built = await buildGoTool(
    {
      name: 'kwok',
      version: KWOK_VERSION,
      moduleDir: moduleDir(),
      mainPackage: 'sigs.k8s.io/kwok/cmd/kwok',
      ldflags: '-s -w',
      readme: 'tools/k8s/README.md',
    },
    progress,
    cacheDir,
  );
  return { ...built, stages: join(moduleDir(), 'stages.yaml') };
}
