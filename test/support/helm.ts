/**
 * The Helm chart as tests see it: the real `helm` binary (built from its Go
 * module by `nodewarden lab build-helm`, cached; built here on first use),
 * `helm template` with values given as an object, and the rendered documents
 * parsed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { runCommand, type CommandResult } from '../../src/host/command.ts';
import { buildHelm } from '../../src/lab/helm-build.ts';
import { K8S_VERSION } from '../../src/lab/k8s-build.ts';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const chartDir = join(repoRoot, 'deploy/helm/nodewarden');

export type Loose = Record<string, unknown>;

/** A rendered Kubernetes object, loosely typed: tests read what they check. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string } & Loose;
  readonly [key: string]: unknown;
}

let helmPath: Promise<string> | null = null;

/** The helm binary's path; builds it once (minutes) when the cache has none. */
export function helm(): Promise<string> {
  helmPath ??= buildHelm((line) => process.stderr.write(`${line}\n`)).then((b) => b.path);
  return helmPath;
}

/** Runs helm with a values file written from `values`; never throws on a non-zero exit. */
export async function runHelm(args: readonly string[], values: Loose = {}): Promise<CommandResult> {
  const dir = await mkdtemp(join(tmpdir(), 'nodewarden-helm-'));
  try {
    const file = join(dir, 'values.json');
    await writeFile(file, JSON.stringify(values));
    return await runCommand(await helm(), [...args, '--values', file], {
      timeoutMs: 60_000,
      // helm keeps a cache and config under HOME; keep them out of the user's.
      env: { HELM_CACHE_HOME: dir, HELM_CONFIG_HOME: dir, HELM_DATA_HOME: dir },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const RELEASE = 'nw';
/** The lab's Kubernetes (src/lab/k8s-build.ts); helm otherwise assumes v1.20 and refuses the chart. */
export const KUBE_VERSION = K8S_VERSION;
export const NAMESPACE = 'nodewarden';

/** `helm template` of the chart; throws with helm's stderr when it fails. */
export async function renderChart(values: Loose = {}, namespace = NAMESPACE): Promise<K8sObject[]> {
  const r = await runHelm(
    ['template', RELEASE, chartDir, '--namespace', namespace, '--kube-version', KUBE_VERSION],
    values,
  );
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr.trim()}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((d): d is K8sObject => d !== null);
}

export function find(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const hit = objects.find(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  if (!hit) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in the rendered chart`);
  return hit;
}

interface Container {
  readonly name: string;
  readonly args?: string[];
  readonly env?: { name: string; value?: string }[];
}

/** The first container of a Deployment or DaemonSet. */
export function container(workload: K8sObject): Container {
  const spec = workload['spec'] as { template: { spec: { containers: Container[] } } };
  const c = spec.template.spec.containers[0];
  if (!c) throw new Error(`${workload.kind} ${workload.metadata.name} has no container`);
  return c;
}

/** Expands $(VAR) in container args the way the kubelet does, from the given values. */
export function expandArgs(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): string[] {
  return args.map((a) =>
    a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m),
  );
}
