import { parseQuantity } from '../core/quantity.ts';
import { auditCapacity, DEFAULT_THRESHOLDS, type CapacityThresholds } from '../core/capacity.ts';
import { badInput } from '../core/errors.ts';
import { auditMigWorkloads, DEFAULT_MIG_AUDIT_OPTIONS } from '../core/mig-audit.ts';
import { predictNodeLoss } from '../core/whatif.ts';
import { auditDrivers } from '../core/driver-audit.ts';
import { readInventories, readKnownBadList } from '../audit/drivers.ts';
import { renderDriverAudit } from '../audit/render-drivers.ts';
import { openStore } from '../store/open.ts';
import {
  readClusterFile,
  readClusterFromApi,
  type ClusterSnapshot,
} from '../audit/cluster-source.ts';
import {
  OUTPUT_FORMATS,
  renderCapacity,
  renderMigAudit,
  renderWhatIf,
  type OutputFormat,
} from '../audit/render.ts';
import { EXIT_OK, EXIT_UNHEALTHY, intFlag, parseFlags, type Command, type Io } from './command.ts';

const DEFAULT_TIMEOUT_MS = 30_000;

const help = `nodewarden audit — how close is each node to trouble, what happens if one dies, and which GPU pods make it worse?

Usage:
  nodewarden audit [--fail <node>[,<node>…]] [source] [--format table|json|md] [thresholds]
  nodewarden audit mig [source] [--format table|json|md] [mig options]
  nodewarden audit drivers [--store URL] [--known-bad <file>] [--stale-after-hours N] [--format …]

  source: --kubeconfig <path>   read the cluster from its API server (default: $KUBECONFIG,
                                in-cluster service account, ~/.kube/config; needs list on
                                nodes, pods, node leases and events)
          --from <file>         or from a saved copy: kubectl get nodes,pods -A -o yaml > cluster.yaml

nodewarden audit
  Per node, CPU / memory / disk (ephemeral-storage) requests and limits as % of
  allocatable, plus nvidia.com/gpu and MIG slices in use / allocatable — the
  "Resource Information" table of the 2025-08-25 report ("88.9% / 340.6%" is
  requests / limits). A pod counts on its node unless it has terminated or is
  being deleted; its request is max(sum of containers, largest init container).
  A share over a threshold is marked "!" and the node is listed under the table.

    --cpu-limit-threshold N      flag CPU limits above N% of allocatable (default ${DEFAULT_THRESHOLDS.cpuLimitsPct})
    --memory-limit-threshold N   flag memory limits above N% (default ${DEFAULT_THRESHOLDS.memoryLimitsPct})
    --request-threshold N        flag CPU, memory or disk requests above N% (default ${DEFAULT_THRESHOLDS.requestsPct})
    GPUs and MIG slices are flagged only above 100%: pods hold more than the node now offers.

nodewarden audit --fail <node>[,<node>…]
  What if these nodes die? Their pods are handled as Kubernetes handles a node
  that goes dark: DaemonSet and static pods stay, bare pods are lost, the rest
  are evicted after their tolerationSeconds and recreated, then placed one by
  one (highest priority, then oldest first) on the survivors by a
  kube-scheduler-like model: not cordoned, taints tolerated, nodeSelector and
  node affinity, pod count, every requested resource (nvidia.com/mig-* too)
  fits; the least allocated node wins. Prints the survivors' table before →
  after, where each pod goes, which stay Pending and why
  ("0/4 nodes have nvidia.com/mig-1g.10gb"), and which survivors the loss
  pushes over the thresholds.

nodewarden audit mig
  Pods that request nvidia.com/gpu or nvidia.com/mig-* and lack CPU or memory
  limits, are not Guaranteed QoS, have no PriorityClass, or whose limits dwarf
  their requests — grouped by namespace and owning workload, each with the
  patch that fixes it (requests = limits, so the scheduler reserves what the
  pod may use). Enforce it from now on with: nodewarden policy mig-limits.

    --limit-ratio N          a limit more than N× its request dwarfs it (default ${DEFAULT_MIG_AUDIT_OPTIONS.maxLimitRatio})
    --priority-class NAME    PriorityClass the fix sets (default ${DEFAULT_MIG_AUDIT_OPTIONS.priorityClassName})
    --default-cpu Q          CPU for a container that sets none (default ${DEFAULT_MIG_AUDIT_OPTIONS.defaultCpu})
    --default-memory Q       memory for a container that sets none (default ${DEFAULT_MIG_AUDIT_OPTIONS.defaultMemory})
    --namespace NS           only this namespace

nodewarden audit drivers
  The fleet's kernel / NVIDIA driver / GSP firmware / NIC driver / OVS / OVN
  combinations, from the inventory each agent sends the controller (stored as
  last words of kind "inventory"; the newest per node). Lists the nodes that
  differ from most of their pool (the pool is the node name without its
  generated suffixes: tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq → tkai-oks-md-1)
  and the nodes whose versions are on the known-bad list, each with what goes
  wrong, the fix and the sources.

    --store URL              the controller's store: sqlite:<path> (default <data dir>/nodewarden.db)
                             or postgres://… (read only)
    --known-bad FILE         your own list instead of the shipped data/known-bad-drivers.json
    --stale-after-hours N    mark inventories older than N hours as stale (default 24)

Common options:
  --format F        table (default), md (Markdown, for a report or a ticket), json
  --timeout-ms N    give up listing the API server after N ms (default ${DEFAULT_TIMEOUT_MS})

Exit status: 0 nothing flagged; 1 a node over a threshold, a predicted loss
that overcommits a survivor or leaves pods Pending or lost, a GPU workload to
fix, a node drifting from its pool or on the known-bad list, no inventories,
or the cluster or store could not be read; 2 bad usage.

Examples:
  nodewarden audit --kubeconfig ~/.kube/config
  nodewarden audit --from cluster.yaml --format md
  nodewarden audit --fail tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq --from cluster.yaml
  nodewarden audit --fail node-a,node-b --cpu-limit-threshold 300 --format json
  nodewarden audit mig --namespace ml-serving --format md
  nodewarden audit drivers --store sqlite:/var/lib/nodewarden/nodewarden.db --format md
`;

const SOURCE_FLAGS = {
  kubeconfig: { type: 'string' },
  from: { type: 'string' },
  format: { type: 'string' },
  'timeout-ms': { type: 'string' },
} as const;

const CAPACITY_FLAGS = {
  ...SOURCE_FLAGS,
  fail: { type: 'string', multiple: true },
  'cpu-limit-threshold': { type: 'string' },
  'memory-limit-threshold': { type: 'string' },
  'request-threshold': { type: 'string' },
} as const;

const MIG_FLAGS = {
  ...SOURCE_FLAGS,
  'limit-ratio': { type: 'string' },
  'priority-class': { type: 'string' },
  'default-cpu': { type: 'string' },
  'default-memory': { type: 'string' },
  namespace: { type: 'string' },
} as const;

interface SourceValues {
  readonly kubeconfig?: string | undefined;
  readonly from?: string | undefined;
  readonly format?: string | undefined;
  readonly 'timeout-ms'?: string | undefined;
}

function outputFormat(value: string | undefined): OutputFormat {
  if (value === undefined) return 'table';
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw badInput(
    `--format "${value}" is not one of ${OUTPUT_FORMATS.join(', ')}`,
    'pass --format table, md or json',
  );
}

/** Where to read the cluster, checked before anything is read. */
function source(values: SourceValues): () => Promise<ClusterSnapshot> {
  if (values.kubeconfig !== undefined && values.from !== undefined) {
    throw badInput(
      '--kubeconfig and --from both given',
      'read the cluster from its API server or from a file, not both',
    );
  }
  const timeoutMs = intFlag('timeout-ms', values['timeout-ms'], DEFAULT_TIMEOUT_MS, 1_000, 600_000);
  const from = values.from;
  if (from !== undefined) return () => readClusterFile(from);
  return () => readClusterFromApi(values.kubeconfig, timeoutMs);
}

function quantityFlag(name: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  let parsed: number;
  try {
    parsed = parseQuantity(value);
  } catch {
    parsed = Number.NaN;
  }
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw badInput(
      `--${name} "${value}" is not a positive Kubernetes quantity`,
      `pass e.g. --${name} ${fallback}`,
    );
  }
  return value;
}

const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const DRIVER_FLAGS = {
  store: { type: 'string' },
  'known-bad': { type: 'string' },
  'stale-after-hours': { type: 'string' },
  format: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseAll>['values'];

/** One parse for every mode, so that `audit --from f mig` and `audit mig --from f` both work. */
function parseAll(argv: readonly string[]) {
  return parseFlags('audit', argv, { ...CAPACITY_FLAGS, ...MIG_FLAGS, ...DRIVER_FLAGS });
}

/** Flags of the other mode are mistakes, not silently ignored options. */
function rejectForeign(values: Values, own: Readonly<Record<string, unknown>>, mode: string): void {
  const foreign = Object.keys(values).find((k) => !(k in own));
  if (foreign !== undefined) {
    throw badInput(`--${foreign} does not apply to ${mode}`, 'see: nodewarden audit --help');
  }
}

/** A subcommand that takes only its own options. */
function onlyOptions(
  values: Values,
  positionals: readonly string[],
  own: Readonly<Record<string, unknown>>,
  mode: string,
): void {
  rejectForeign(values, own, mode);
  if (positionals.length > 0) {
    throw badInput(
      `unexpected argument "${positionals[0]}"`,
      `\`${mode}\` takes only options; see --help`,
    );
  }
}

async function runMig(values: Values, positionals: readonly string[], io: Io): Promise<number> {
  onlyOptions(values, positionals, MIG_FLAGS, 'nodewarden audit mig');
  const format = outputFormat(values.format);
  const read = source(values);
  const options = {
    maxLimitRatio: intFlag(
      'limit-ratio',
      values['limit-ratio'],
      DEFAULT_MIG_AUDIT_OPTIONS.maxLimitRatio,
      1,
      1000,
    ),
    priorityClassName: values['priority-class'] ?? DEFAULT_MIG_AUDIT_OPTIONS.priorityClassName,
    defaultCpu: quantityFlag(
      'default-cpu',
      values['default-cpu'],
      DEFAULT_MIG_AUDIT_OPTIONS.defaultCpu,
    ),
    defaultMemory: quantityFlag(
      'default-memory',
      values['default-memory'],
      DEFAULT_MIG_AUDIT_OPTIONS.defaultMemory,
    ),
  };
  if (!K8S_NAME.test(options.priorityClassName)) {
    throw badInput(
      `--priority-class "${options.priorityClassName}" is not a valid PriorityClass name`,
      'use lowercase letters, digits, "-" and ".", e.g. --priority-class gpu-workload',
    );
  }
  const cluster = await read();
  const namespace = values.namespace;
  const pods =
    namespace === undefined ? cluster.pods : cluster.pods.filter((p) => p.namespace === namespace);
  const audit = auditMigWorkloads(pods, options);
  const label =
    namespace === undefined ? cluster.source : `${cluster.source}, namespace ${namespace}`;
  io.out(renderMigAudit(audit, format, label));
  return audit.namespaces.length > 0 ? EXIT_UNHEALTHY : EXIT_OK;
}

async function runDrivers(values: Values, positionals: readonly string[], io: Io): Promise<number> {
  onlyOptions(values, positionals, DRIVER_FLAGS, 'nodewarden audit drivers');
  const format = outputFormat(values.format);
  const staleHours = intFlag('stale-after-hours', values['stale-after-hours'], 24, 1, 24 * 365);
  const knownBad = await readKnownBadList(values['known-bad']);
  const store = await openStore(values.store);
  let inventories;
  try {
    inventories = await readInventories(store);
  } finally {
    await store.close();
  }
  if (inventories.length === 0) {
    io.err(
      `nodewarden audit drivers: no inventories in ${values.store ?? 'the default store'}\n` +
        "  → agents send one when they start (nodewarden agent --controller …); point --store at the controller's store\n",
    );
    return EXIT_UNHEALTHY;
  }
  const audit = auditDrivers(inventories, knownBad, {
    now: Date.now(),
    staleAfterMs: staleHours * 3_600_000,
  });
  io.out(renderDriverAudit(audit, format, values.store ?? 'the default store'));
  const drift = audit.pools.some((p) => p.drift.length > 0);
  return audit.knownBad.length > 0 || drift ? EXIT_UNHEALTHY : EXIT_OK;
}

async function runCapacity(
  values: Values,
  positionals: readonly string[],
  io: Io,
): Promise<number> {
  rejectForeign(values, CAPACITY_FLAGS, 'nodewarden audit (use them with nodewarden audit mig)');
  if (positionals.length > 0) {
    throw badInput(
      `unexpected argument "${positionals[0]}"`,
      'use `nodewarden audit` for the capacity table, `nodewarden audit --fail <node>` for what-if, `nodewarden audit mig` for GPU pods',
    );
  }
  const format = outputFormat(values.format);
  const read = source(values);
  const thresholds: CapacityThresholds = {
    cpuLimitsPct: intFlag(
      'cpu-limit-threshold',
      values['cpu-limit-threshold'],
      DEFAULT_THRESHOLDS.cpuLimitsPct,
      1,
      100_000,
    ),
    memoryLimitsPct: intFlag(
      'memory-limit-threshold',
      values['memory-limit-threshold'],
      DEFAULT_THRESHOLDS.memoryLimitsPct,
      1,
      100_000,
    ),
    requestsPct: intFlag(
      'request-threshold',
      values['request-threshold'],
      DEFAULT_THRESHOLDS.requestsPct,
      1,
      100_000,
    ),
  };
  const fail = (values.fail ?? []).flatMap((v) => v.split(',')).map((v) => v.trim());
  if (values.fail !== undefined && fail.every((n) => n === '')) {
    throw badInput(
      '--fail needs a node name',
      'e.g. --fail tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq',
    );
  }
  const cluster = await read();
  if (values.fail === undefined) {
    const audit = auditCapacity(cluster.nodes, cluster.pods, thresholds);
    io.out(renderCapacity(audit, format, cluster.source));
    return audit.flagged.length > 0 ? EXIT_UNHEALTHY : EXIT_OK;
  }
  const prediction = predictNodeLoss(cluster.nodes, cluster.pods, fail, thresholds);
  io.out(renderWhatIf(prediction, format, cluster.source));
  const harmful =
    prediction.overThreshold.length > 0 ||
    prediction.pending.length > 0 ||
    prediction.lost.length > 0;
  return harmful ? EXIT_UNHEALTHY : EXIT_OK;
}

export const command: Command = {
  name: 'audit',
  summary:
    'requests/limits per node, what if a node dies (--fail), MIG pods without limits (mig), driver combinations (drivers)',
  help,
  run(argv, io) {
    const { values, positionals } = parseAll(argv);
    if (positionals[0] === 'mig') return runMig(values, positionals.slice(1), io);
    if (positionals[0] === 'drivers') return runDrivers(values, positionals.slice(1), io);
    return runCapacity(values, positionals, io);
  },
};
