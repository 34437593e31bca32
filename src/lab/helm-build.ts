import { fileURLToPath } from 'node:url';
import { buildGoTool, type BuiltGoTool } from './go-tool-build.ts';
import { defaultCacheDir, type BuildProgress } from './k8s-build.ts';

/**
 * Builds the `helm` v3 command from its Go module (helm.sh/helm/v3) for
 * `helm lint` and `helm template` of deploy/helm/nodewarden in tests and CI:
 * no prebuilt binary can be downloaded here, and the module proxy serves
 * helm. v3.21.4 is the newest v3 release the proxy served and `go mod tidy`
 * accepted with Go 1.26 (tools/helm/README.md).
 */
export const HELM_VERSION = 'v3.21.4';

/** tools/helm in this package, from src/lab or dist/lab alike. */
export const helmModuleDir = fileURLToPath(new URL('../../tools/helm/', import.meta.url));

/** Returns helm from `<cache>/helm/<version>/helm`, building it first when needed. */
export function buildHelm(
  progress: BuildProgress,
  cacheDir = defaultCacheDir(),
): Promise<BuiltGoTool> {
  return buildGoTool(
    {
      name: 'helm',
      version: HELM_VERSION,
      moduleDir: helmModuleDir,
      mainPackage: 'helm.sh/helm/v3/cmd/helm',
      // `helm version` reports the release instead of "v3.x-dev".
      ldflags: `-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`,
      readme: 'tools/helm/README.md',
    },
    progress,
    cacheDir,
  );
}
