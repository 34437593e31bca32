import { hostname } from 'node:os';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { systemClock } from '../core/clock.ts';
import {
  clusterDetectionConfig,
  DEFAULT_CLUSTER_DETECTION_CONFIG,
} from '../core/detection-cluster.ts';
import { detectionConfig } from '../core/detection.ts';
import { describeError, NodeWardenError } from '../core/errors.ts';
import { DEFAULT_INCIDENT_CONFIG } from '../core/incidents.ts';
import type { NodeHealth } from '../core/incident.ts';
import type { Logger } from '../core/logger.ts';
import { KubeClusterView, LEASE_LAG_SAMPLES } from '../kube/cluster-view.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { KubeHttpError, kubeRequest } from '../kube/http.ts';
import { DEFAULT_LEADER_TIMING, LeaderElector } from '../kube/leader.ts';
import { LinuxProber } from '../probe/linux-prober.ts';
import { startOpsServer } from '../server/ops-server.ts';
import { openStore } from '../store/open.ts';
import type { IncidentStore } from '../store/port.ts';
import { DetectionLoop } from './detection-loop.ts';
import { DEFAULT_DIRECT_PROBES, DirectProbes } from './direct-probes.ts';
import { AgentMesh, combineObservationSources } from './mesh.ts';
import { agentApiRoutes } from '../server/agent-api.ts';
import { AgentAuth } from '../server/agent-api-auth.ts';
import { storeSink } from './store-sink.ts';
import type { CloudProvider } from '../core/cloud.ts';
import type { RemediationMode } from '../core/remediation-policy.ts';
import { openStackConfigFromEnv } from '../cloud/openstack/config.ts';
import { openOpenStackCloud } from '../cloud/openstack/openstack-cloud.ts';
import { KubeClusterWriter } from '../kube/cluster-writer.ts';
import { RemediationExecutor } from '../remediate/executor.ts';
import { registerRemediationMetrics } from '../remediate/metrics.ts';
import { loadPolicyFile } from '../remediate/policy-file.ts';
import { bearerToken } from '../server/agent-api-auth.ts';
import { remediationApiRoutes } from '../server/remediation-api.ts';
import { incidentMetrics, withIncidentMetrics } from './incident-metrics.ts';

/**
 * `nodewarden controller`: the composition root. Watches the cluster,
 * probes nodes from its own vantage point, detects, keeps incidents in the
 * store, and serves /healthz, /readyz and /metrics. Several replicas may
 * run; a Lease elects the one that writes.
 */
export interface ControllerOptions {
  readonly kubeconfig?: string;
  readonly store?: string;
  readonly listen: string;
  readonly identity: string;
  readonly leaseNamespace: string;
  readonly leaseName: string;
  /** A node must be healthy this long before its incident resolves. */
  readonly stablePeriodMs: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  /** How long the first list of every resource may take before start-up fails. */
  readonly syncTimeoutMs: number;
  /** Bearer tokens agents push results with (`token` or `node token` lines); no agent API without it. */
  readonly agentTokenFile?: string;
  /** Bearer tokens for admin calls (probe-now, remediation approvals). */
  readonly adminTokenFile?: string;
  /** Overrides the policy's mode; absent: the policy's (built-in: dry-run). */
  readonly remediationMode?: RemediationMode;
  /** A YAML remediation policy; absent: the built-in one. */
  readonly remediationPolicy?: string;
  /**
   * The cloud behind the nodes, for console capture and reboots: `openstack`
   * (OS_* variables as the openstack CLI reads them) or `none`. Default:
   * `openstack` when OS_AUTH_URL is set, else `none`.
   */
  readonly cloud?: 'openstack' | 'none';
}

export const DEFAULT_CONTROLLER_OPTIONS: Omit<ControllerOptions, 'identity'> = {
  listen: ':9464',
  leaseNamespace: process.env['POD_NAMESPACE'] ?? 'default',
  leaseName: 'nodewarden-controller',
  stablePeriodMs: 60_000,
  probeIntervalMs: 1_000,
  probeTimeoutMs: 2_000,
  syncTimeoutMs: 30_000,
};

export const defaultIdentity = (): string =>
  process.env['POD_NAME'] ?? `${hostname()}-${process.pid}`;

/** Resources the controller lists at start; a 403 on any of them is named in one clear error. */
const REQUIRED_READS = [
  ['nodes', '/api/v1/nodes?limit=1'],
  ['pods', '/api/v1/pods?limit=1'],
  [
    'leases in kube-node-lease',
    '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases?limit=1',
  ],
  ['events', '/api/v1/events?limit=1'],
] as const;

export interface RunningController {
  readonly port: number;
  readonly loop: DetectionLoop;
  readonly store: IncidentStore;
  readonly elector: LeaderElector;
  readonly remediation: RemediationExecutor;
  stop(): Promise<void>;
}

export async function startController(
  opts: ControllerOptions,
  log: Logger,
): Promise<RunningController> {
  const { kc, source } = await loadKubeConfig(opts.kubeconfig);
  const server = kc.getCurrentCluster()?.server ?? '?';
  log.log('info', 'starting', { kubeconfig: source, server, identity: opts.identity });

  // Fail fast and clearly on an unreachable API server or missing RBAC.
  for (const [what, path] of REQUIRED_READS) {
    try {
      await kubeRequest(kc, 'GET', path, 10_000);
    } catch (error) {
      if (error instanceof KubeHttpError && error.status === 403) {
        throw new NodeWardenError(
          'BAD_INPUT',
          `Forbidden: the controller's identity may not list ${what} (${error.message})`,
          {
            hint: 'grant the ClusterRole from deploy/helm (get/list/watch on nodes, pods, events and leases)',
            cause: error,
          },
        );
      }
      throw new NodeWardenError(
        'UNAVAILABLE',
        `cannot reach the API server ${server}: ${describeError(error)}`,
        {
          hint: 'check the kubeconfig server address and that the API server is up',
          cause: error,
        },
      );
    }
  }

  // A bad policy is refused before anything starts, naming the file, key and reason.
  const policy = await loadPolicyFile(opts.remediationPolicy);
  const cloudKind = opts.cloud ?? (process.env['OS_AUTH_URL'] ? 'openstack' : 'none');
  const cloud: CloudProvider | null =
    cloudKind === 'openstack'
      ? await openOpenStackCloud(openStackConfigFromEnv(process.env))
      : null;

  const store = await openStore(opts.store);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'nodewarden_controller_' });

  const view = new KubeClusterView(kc, log.child({ component: 'cluster-view' }));
  const elector = new LeaderElector(
    kc,
    {
      namespace: opts.leaseNamespace,
      name: opts.leaseName,
      identity: opts.identity,
      ...DEFAULT_LEADER_TIMING,
    },
    log,
  );
  const probes = new DirectProbes(view, new LinuxProber(), log, {
    ...DEFAULT_DIRECT_PROBES,
    intervalMs: opts.probeIntervalMs,
    timeoutMs: opts.probeTimeoutMs,
    // Agents watch every node they cover; the controller adds its vantage point where they
    // do not, and for nodes in trouble.
    wanted: (name: string): boolean =>
      mesh.observations(name).length === 0 || loop.state?.nodes.get(name)?.health !== 'Healthy',
  });
  // The agent mesh: k observers per node push results here; the controller's own probes join them.
  const mesh = new AgentMesh(() => view.nodes(), systemClock, log.child({ component: 'mesh' }));
  const node = detectionConfig({ stablePeriodMs: opts.stablePeriodMs });
  const loop = new DetectionLoop(view, systemClock, combineObservationSources(probes, mesh), {
    detection: clusterDetectionConfig({ ...DEFAULT_CLUSTER_DETECTION_CONFIG, node }),
    incidents: { ...DEFAULT_INCIDENT_CONFIG, stablePeriodMs: opts.stablePeriodMs },
    sink: withIncidentMetrics(
      storeSink(store, log.child({ component: 'incidents' }), (action) =>
        elector.assertLeader(action),
      ),
      incidentMetrics(registry),
    ),
    mayWrite: () => elector.isLeader(),
    // Detection needs ~1 s resolution; a large cluster's stream of Lease renewals must not
    // turn into one whole-cluster evaluation per event.
    minEvaluateIntervalMs: 250,
    // The store keeps history; memory keeps what detection and flap handling need.
    retention: {
      resolvedIncidentsMs: DEFAULT_INCIDENT_CONFIG.reopenWindowMs,
      historyEntries: 10_000,
    },
    onSinkError: (error) =>
      log.log('error', 'could not record incident change', { error: describeError(error) }),
  });

  // A new leader starts from what the store holds: open incidents and the recently resolved (flaps).
  const reload = async (): Promise<void> => {
    const since = Date.now() - DEFAULT_INCIDENT_CONFIG.reopenWindowMs;
    const recent = await store.listIncidents({ limit: 500 });
    loop.resetIncidents(
      recent.filter((i) => i.status === 'open' || Date.parse(i.resolvedAt ?? '') >= since),
    );
  };
  elector.onChange((leading) => {
    if (leading)
      void reload().then(
        () => loop.evaluate(),
        (error: unknown) =>
          log.log('error', 'could not load incidents', { error: describeError(error) }),
      );
  });

  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    collect: (g: Gauge) => void,
  ): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        collect(this);
      },
    });
  };
  gauge('nodewarden_leader', '1 when this replica holds the leader Lease', [], (g) =>
    g.set(elector.isLeader() ? 1 : 0),
  );
  gauge('nodewarden_api_connected', '1 when the API server answered recently', [], (g) =>
    g.set(view.connection().connected ? 1 : 0),
  );
  gauge('nodewarden_nodes', 'Nodes by detection state', ['state'], (g) => {
    g.reset();
    for (const n of loop.state?.nodes.values() ?? []) g.inc({ state: n.health });
  });
  gauge('nodewarden_incidents_open', 'Open incidents by kind', ['kind'], (g) => {
    g.reset();
    for (const i of loop.incidents) if (i.status === 'open') g.inc({ kind: i.kind });
  });

  for (const [stat, field] of [
    ['p50', 'p50Ms'],
    ['p99', 'p99Ms'],
    ['max', 'maxMs'],
  ] as const)
    gauge(
      `nodewarden_lease_event_lag_${stat}_seconds`,
      `${stat} of the last ${LEASE_LAG_SAMPLES} node Lease renewals' delay until their watch event`,
      [],
      (g) => g.set(view.leaseEventLag()[field] / 1000),
    );

  const remediation = new RemediationExecutor({
    view,
    writer: new KubeClusterWriter(kc),
    cloud,
    store,
    clock: systemClock,
    log: log.child({ component: 'remediation' }),
    policy: policy.policy,
    policySource: policy.source,
    ...(opts.remediationMode ? { mode: opts.remediationMode } : {}),
    actor: `controller/${opts.identity}`,
    isLeader: () => elector.isLeader() && synced,
    assertLeader: (action) => elector.assertLeader(action),
    health: () => {
      const out = new Map<string, NodeHealth>();
      for (const [name, s] of loop.state?.nodes ?? []) out.set(name, s.health);
      return out;
    },
    incidents: () => store.listIncidents({ limit: 200 }),
  });
  registerRemediationMetrics(registry, remediation);
  log.log('info', 'remediation', {
    mode: remediation.overview().mode,
    policy: policy.source,
    cloud: cloudKind,
  });
  const auth =
    opts.agentTokenFile || opts.adminTokenFile
      ? new AgentAuth({
          ...(opts.agentTokenFile ? { agentTokenFile: opts.agentTokenFile } : {}),
          ...(opts.adminTokenFile ? { adminTokenFile: opts.adminTokenFile } : {}),
        })
      : null;

  let synced = false;
  const ops = await startOpsServer({
    listen: opts.listen,
    registry,
    healthy: () => ({ ok: true, reason: '' }),
    routes: [
      ...remediationApiRoutes({
        control: remediation,
        isAdmin: opts.adminTokenFile
          ? (req) => {
              const token = bearerToken(req);
              return token !== null && auth?.identify(token)?.kind === 'admin';
            }
          : null,
        log: log.child({ component: 'remediation-api' }),
      }),
      ...(opts.agentTokenFile && auth
        ? agentApiRoutes({ mesh, store, log: log.child({ component: 'agent-api' }), auth })
        : []),
    ],
    ready: () => {
      const c = view.connection();
      if (!synced) return { ok: false, reason: 'caches not synced yet' };
      return c.connected
        ? { ok: true, reason: '' }
        : { ok: false, reason: `API server unreachable: ${c.error ?? 'unknown'}` };
    },
  });
  log.log('info', 'serving /healthz /readyz /metrics', { listen: opts.listen, port: ops.port });

  elector.start();
  const syncing = loop.start();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () =>
        reject(
          new NodeWardenError(
            'TIMEOUT',
            `caches did not sync within ${opts.syncTimeoutMs / 1000} s`,
            { hint: 'the API server is slow or unreachable' },
          ),
        ),
      opts.syncTimeoutMs,
    ).unref(),
  );
  await Promise.race([syncing, timeout]);
  synced = true;
  log.log('info', 'caches synced', { nodes: view.nodes().length, pods: view.pods().length });
  remediation.start();

  return {
    port: ops.port,
    loop,
    store,
    elector,
    remediation,
    async stop() {
      await remediation.stop();
      await loop.stop();
      await loop.flushed();
      await elector.stop();
      await ops.close();
      await store.close();
      log.log('info', 'stopped');
    },
  };
}
