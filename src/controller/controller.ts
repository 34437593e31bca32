import type { ReferenceAddress } from '../core/evidence.ts';
import { hostname } from 'node:os';
import type { Gauge } from 'prom-client';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { systemClock } from '../core/clock.ts';
import {
  clusterDetectionConfig,
  DEFAULT_CLUSTER_DETECTION_CONFIG,
} from '../core/detection-cluster.ts';
import { countChanges, detectionConfig, transitionFields } from '../core/detection.ts';
import { describeError, NodeWardenError } from '../core/errors.ts';
import { DEFAULT_INCIDENT_CONFIG } from '../core/incidents.ts';
import type { NodeHealth } from '../core/incident.ts';
import type { Logger } from '../core/logger.ts';
import { KubeClusterView, LEASE_LAG_SAMPLES } from '../kube/cluster-view.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { KubeHttpError, kubeRequest } from '../kube/http.ts';
import { DEFAULT_LEADER_TIMING, LeaderElector } from '../kube/leader.ts';
import { LeaderPodLabel, type LeaderPodLabelConfig } from '../kube/leader-label.ts';
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
import { TokenFileAuth, TokenReviewAuth } from '../server/api/auth.ts';
import { EventHub, observedStore } from '../server/api/events.ts';
import { LiveReadModel } from '../server/api/read-model.ts';
import { createApi } from '../server/api/router.ts';
import { dashboardRoute, packageVersion } from '../server/dashboard.ts';
import { collectedGauge } from '../server/gauge.ts';
import { openCloud, type CloudChoice } from '../cloud/open-cloud.ts';
import { DEFAULT_LAB_BOOT_DELAY_MS } from '../cloud/lab/lab-cloud.ts';
import { gpuHistoryOf } from '../diagnose/gpu-history.ts';
import { labDirFrom } from '../lab/state.ts';
import { labPrometheusUrl } from '../lab/lab-prometheus.ts';
import { HttpPrometheusClient } from '../metrics/prometheus-client.ts';
import { DEFAULT_DIAGNOSER_OPTIONS, IncidentDiagnoser } from './diagnoser.ts';
import { openNotifier, type NotifyOptions } from '../notify/open.ts';
import { CloudMonitor, DEFAULT_CLOUD_MONITOR } from '../cloud/monitor.ts';
import type { CloudProvider } from '../core/cloud.ts';
import type { RemediationMode } from '../core/remediation-policy.ts';
import { KubeClusterWriter } from '../kube/cluster-writer.ts';
import { remediationIncidents, RemediationExecutor } from '../remediate/executor.ts';
import { registerRemediationMetrics } from '../remediate/metrics.ts';
import { loadPolicyFile } from '../remediate/policy-file.ts';
import { incidentMetrics, withIncidentMetrics } from './incident-metrics.ts';
import { startStabilitySchedule, type StabilityScheduleOptions } from './stability-schedule.ts';
import type { StabilityScheduler } from '../stability/scheduler.ts';

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
  /** How the HTTP API (/api/v1) authenticates: token files (read and admin) or Kubernetes TokenReview. */
  readonly apiAuth: 'tokens' | 'tokenreview';
  /** Bearer tokens with the API's read role, one per line (admin tokens come from adminTokenFile). */
  readonly readTokenFile?: string;
  /** tokenreview: users (`user:<name>` or a bare name) and groups (`group:<name>`) with the admin role. */
  readonly adminSubjects?: string;
  /** The built dashboard served at `/`; default dist/web of this package. */
  readonly webRoot?: string;
  /** Overrides the policy's mode; absent: the policy's (built-in: dry-run). */
  readonly remediationMode?: RemediationMode;
  /** A YAML remediation policy; absent: the built-in one. */
  readonly remediationPolicy?: string;
  /**
   * The cloud behind the nodes, for diagnosis evidence, infrastructure
   * monitoring, console capture and reboots: `openstack` (a clouds.yaml, or
   * OS_* variables as the openstack CLI reads them), `lab` (the netns lab's
   * node namespaces) or `none`. Default kind: `openstack` when OS_AUTH_URL
   * is set, else `none`.
   */
  readonly cloud?: Partial<Omit<CloudChoice, 'actor' | 'env'>>;
  /** Diagnose every incident the moment it opens (default true). */
  readonly diagnose: boolean;
  /** IANA zone of report times. */
  readonly zone: string;
  /** Prometheus with the DCGM exporter's series; without it, GPU history is the agents' samples. */
  readonly prometheusUrl?: string;
  /** Where incident notifications go (docs/notifications.md); absent or empty: none. */
  readonly notify?: NotifyOptions;
  /** Reference points probed from the failed node's observers during diagnosis (the controller's own probe when none answers). */
  readonly gateway?: ReferenceAddress;
  readonly ovnGateway?: ReferenceAddress;
  /** Also write each diagnosis as en/ko/json report files here. */
  readonly reportDir?: string;
  /** How often the cloud monitor polls every node's instance, hypervisor and ports (with a cloud). */
  readonly cloudPollIntervalMs: number;
  /** Label this replica's pod `nodewarden.io/leader=true` while it leads (agents' Service selects it). */
  readonly labelLeaderPod?: LeaderPodLabelConfig;
  /** Scheduled stability tests (`--stability-schedule`, docs/stability.md); absent: none. */
  readonly stabilitySchedule?: StabilityScheduleOptions;
}

export const DEFAULT_CONTROLLER_OPTIONS: Omit<ControllerOptions, 'identity'> = {
  listen: ':9464',
  apiAuth: 'tokens',
  leaseNamespace: process.env['POD_NAMESPACE'] ?? 'default',
  leaseName: 'nodewarden-controller',
  stablePeriodMs: 60_000,
  probeIntervalMs: 1_000,
  probeTimeoutMs: 2_000,
  // 5,000 nodes and 150,000 pods list in ~100 s on a busy API server (docs/scale.md).
  syncTimeoutMs: 300_000,
  diagnose: true,
  zone: 'Asia/Seoul',
  cloudPollIntervalMs: DEFAULT_CLOUD_MONITOR.intervalMs,
};

/** `node health` lines one evaluation logs in full; the rest are counted (see onTransitions). */
const HEALTH_LINES_PER_EVALUATION = 50;

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
  stop(): Promise<void>; /** The cloud the controller was started with; null for none. */
  readonly cloud: CloudProvider | null;
  /** Diagnosis at incident open and on request (`onVerdict`: hear each verdict); null with --no-diagnose. */
  readonly diagnoser: IncidentDiagnoser | null;
  /** Infrastructure monitoring of every node's instance, hypervisor and ports; null without a cloud. */
  readonly cloudMonitor: CloudMonitor | null;
  /** Scheduled stability tests; null without --stability-schedule. */
  readonly stability: StabilityScheduler | null;
}

export async function startController(
  opts: ControllerOptions,
  log: Logger,
): Promise<RunningController> {
  // A bad policy is refused before anything else, naming the file, key and reason.
  const policy = await loadPolicyFile(opts.remediationPolicy);
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

  const cloudKind = opts.cloud?.kind ?? (process.env['OS_AUTH_URL'] ? 'openstack' : 'none');
  const labDir = opts.cloud?.labDir ?? labDirFrom(process.env);
  const opened = await openCloud(
    {
      ...opts.cloud,
      kind: cloudKind,
      labDir,
      labBootDelayMs: opts.cloud?.labBootDelayMs ?? DEFAULT_LAB_BOOT_DELAY_MS,
      actor: `nodewarden-controller/${opts.identity}`,
      env: process.env,
    },
    log.child({ component: 'cloud' }),
  );
  const cloud: CloudProvider | null = opened.provider;
  log.log('info', 'cloud', opened.describe);
  /** The lab's own Prometheus, when its lab up started one. */
  const labPrometheus = async (): Promise<string | null> => {
    try {
      return await labPrometheusUrl(labDir);
    } catch (error) {
      log.log('warn', 'cannot read the lab state for its Prometheus; GPU history from agents', {
        labDir,
        error: describeError(error),
      });
      return null;
    }
  };

  // Every write to the store becomes a live event of the HTTP API (/api/v1/events).
  const hub = new EventHub();
  const store = observedStore(await openStore(opts.store), hub, (error) =>
    log.log('warn', 'could not publish a store change to the API', { error: describeError(error) }),
  );
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
  const observations = combineObservationSources(probes, mesh);
  const prometheusUrl = opts.prometheusUrl ?? (cloudKind === 'lab' ? await labPrometheus() : null);
  log.log('info', 'gpu history', {
    source: prometheusUrl === null ? 'agent samples' : 'Prometheus, else agent samples',
    ...(prometheusUrl === null ? {} : { prometheus: prometheusUrl }),
    ...(opts.prometheusUrl === undefined && prometheusUrl !== null ? { from: 'lab state' } : {}),
  });
  const gpuHistory = gpuHistoryOf(
    prometheusUrl === null ? null : new HttpPrometheusClient(prometheusUrl),
    store,
  );
  const diagnoser = opts.diagnose
    ? new IncidentDiagnoser(
        {
          view,
          mesh,
          observations,
          prober: new LinuxProber(),
          cloud,
          gpu: gpuHistory,
          store,
        },
        {
          ...DEFAULT_DIAGNOSER_OPTIONS,
          actor: `controller/${opts.identity}`,
          zone: opts.zone,
          probeTimeoutMs: opts.probeTimeoutMs,
          references: { gateway: opts.gateway ?? null, ovnGateway: opts.ovnGateway ?? null },
          reportDir: opts.reportDir ?? null,
        },
        log.child({ component: 'diagnosis' }),
        (action) => elector.assertLeader(action),
      )
    : null;
  const notifier = await openNotifier(opts.notify, log.child({ component: 'notify' }));
  if (notifier && diagnoser) {
    diagnoser.onVerdict((event) => {
      if (event.trigger !== 'open') return;
      const v = event.diagnosis.verdict;
      notifier.notify('verdict', { ...event.incident, rootCause: v.rootCause }, v.confidence);
    });
  }
  const incidentSink = withIncidentMetrics(
    storeSink(store, log.child({ component: 'incidents' }), (action) =>
      elector.assertLeader(action),
    ),
    incidentMetrics(registry),
  );
  const loop = new DetectionLoop(view, systemClock, observations, {
    detection: clusterDetectionConfig({ ...DEFAULT_CLUSTER_DETECTION_CONFIG, node }),
    incidents: { ...DEFAULT_INCIDENT_CONFIG, stablePeriodMs: opts.stablePeriodMs },
    // Diagnosis starts once the incident is in the store, so its evidence has an incident to
    // belong to; its root cause on the incident is what remediation waits for.
    sink: async (commands, incidents) => {
      await incidentSink(commands, incidents);
      for (const command of commands) {
        if (command.kind === 'open') {
          // The first message goes out now, before the diagnosis (which may take seconds).
          notifier?.notify('opened', command.incident);
          diagnoser?.opened(command.incident);
        }
        if (command.kind === 'resolve' && notifier) {
          // The store's copy carries the root cause the diagnosis set.
          const known = incidents.find((i) => i.id === command.id);
          const stored = await store.getIncident(command.id).catch(() => known);
          if (stored) notifier.notify('resolved', stored);
        }
        // A flap reopens the incident: a new outage, diagnosed anew (the cause may differ).
        if (command.kind === 'update' && command.patch.status === 'open') {
          const reopened = incidents.find((i) => i.id === command.id);
          if (reopened !== undefined) diagnoser?.opened(reopened);
        }
      }
    },
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
    // Every health change with who could and could not reach the node: a partial
    // partition (Suspect, no incident) is recorded here and nowhere else. A storm
    // logs its first HEALTH_LINES_PER_EVALUATION changes and a count of the rest
    // (the partition incident names every node), not thousands of lines at once.
    onTransitions: (transitions) => {
      transitions.slice(0, HEALTH_LINES_PER_EVALUATION).forEach((t) => {
        log.log('info', 'node health', transitionFields(t));
      });
      if (transitions.length > HEALTH_LINES_PER_EVALUATION) {
        log.log('info', 'node health: more changes in this evaluation', {
          more: transitions.length - HEALTH_LINES_PER_EVALUATION,
          changes: countChanges(transitions.slice(HEALTH_LINES_PER_EVALUATION)),
        });
      }
      for (const t of transitions) {
        hub.publish({
          type: 'node',
          node: t.node,
          from: t.from,
          to: t.to,
          at: new Date(t.at).toISOString(),
          reason: t.reason,
        });
      }
    },
  });

  // A new leader starts from what the store holds: open incidents and the recently resolved (flaps).
  const reload = async (): Promise<void> => {
    const since = Date.now() - DEFAULT_INCIDENT_CONFIG.reopenWindowMs;
    const recent = await store.listIncidents({ limit: 500 });
    loop.resetIncidents(
      recent.filter((i) => i.status === 'open' || Date.parse(i.resolvedAt ?? '') >= since),
    );
  };
  const podLabel = opts.labelLeaderPod
    ? new LeaderPodLabel(kc, opts.labelLeaderPod, log.child({ component: 'leader-label' }))
    : null;
  if (podLabel) {
    void podLabel.follow(false);
    elector.onChange((leading) => void podLabel.follow(leading));
  }
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
  ): void => collectedGauge(registry, name, help, labelNames, collect);
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
    incidents: (underWay) => remediationIncidents(store, underWay),
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

  const cloudMonitor =
    cloud === null
      ? null
      : new CloudMonitor(
          cloud,
          () => view.nodes(),
          systemClock,
          log.child({ component: 'cloud-monitor' }),
          { ...DEFAULT_CLOUD_MONITOR, intervalMs: opts.cloudPollIntervalMs },
        );
  if (cloudMonitor !== null) {
    cloudMonitor.register(registry);
    // A change under a node with an open incident belongs on that incident's timeline.
    cloudMonitor.onChange((change) => {
      if (!elector.isLeader()) return;
      const open = loop.incidents.filter(
        (i) => i.status === 'open' && i.nodes.includes(change.node),
      );
      for (const incident of open) {
        void (async () => {
          elector.assertLeader(`add a cloud change to ${incident.id}`);
          await store.appendTimeline(incident.id, [
            { at: change.at, kind: 'cloud', node: change.node, message: change.message },
          ]);
        })().catch((error: unknown) =>
          log.log('error', 'could not record a cloud change on the incident', {
            incident: incident.id,
            error: describeError(error),
          }),
        );
      }
    });
  }

  let synced = false;
  const api = createApi({
    model: new LiveReadModel({
      mode: 'controller',
      version: packageVersion(),
      speed: 1,
      zone: opts.zone,
      scenario: null,
      clock: systemClock,
      view,
      loop,
      observations,
      store,
      hub,
      gpu: gpuHistory,
      remediation,
      synced: () => synced,
    }),
    auth:
      opts.apiAuth === 'tokenreview'
        ? new TokenReviewAuth(kc, log.child({ component: 'api-auth' }), {
            adminSubjects: opts.adminSubjects ?? '',
          })
        : new TokenFileAuth({
            ...(opts.readTokenFile ? { readTokenFile: opts.readTokenFile } : {}),
            ...(opts.adminTokenFile ? { adminTokenFile: opts.adminTokenFile } : {}),
          }),
    log: log.child({ component: 'api' }),
  });
  const ops = await startOpsServer({
    listen: opts.listen,
    registry,
    healthy: () => ({ ok: true, reason: '' }),
    routes: [
      ...(opts.agentTokenFile && auth
        ? agentApiRoutes({
            mesh,
            store,
            log: log.child({ component: 'agent-api' }),
            auth,
            ...(diagnoser === null ? {} : { diagnoser }),
          })
        : []),
      api.route,
      dashboardRoute(opts.webRoot),
    ],
    ready: () => {
      const c = view.connection();
      if (!synced) return { ok: false, reason: 'caches not synced yet' };
      return c.connected
        ? { ok: true, reason: '' }
        : { ok: false, reason: `API server unreachable: ${c.error ?? 'unknown'}` };
    },
  });
  log.log('info', 'serving /healthz /readyz /metrics, the HTTP API /api/v1 and the dashboard /', {
    listen: opts.listen,
    port: ops.port,
    apiAuth: opts.apiAuth,
  });

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
  cloudMonitor?.start();
  const stability =
    opts.stabilitySchedule === undefined
      ? null
      : startStabilitySchedule(opts.stabilitySchedule, {
          kc,
          nodes: () => view.nodes(),
          incidents: () => loop.incidents,
          isLeader: () => elector.isLeader() && synced,
          assertLeader: (action) => elector.assertLeader(action),
          store,
          registry,
          actor: `controller/${opts.identity}`,
          log: log.child({ component: 'stability' }),
        });
  stability?.start();
  if (stability !== null) {
    log.log('info', 'stability tests scheduled', {
      schedule: opts.stabilitySchedule?.schedule.text,
      candidates: stability.candidates(),
    });
  }

  return {
    port: ops.port,
    loop,
    store,
    elector,
    remediation,
    cloud,
    diagnoser,
    cloudMonitor,
    stability,
    async stop() {
      // First: a running test's load Job is deleted while the API client still works.
      await stability?.stop();
      await cloudMonitor?.stop();
      await remediation.stop();
      await loop.stop();
      await loop.flushed();
      notifier?.stop();
      diagnoser?.stop();
      await diagnoser?.idle();
      opened.close();
      await elector.stop();
      await podLabel?.follow(false);
      api.close();
      await ops.close();
      await store.close();
      log.log('info', 'stopped');
    },
  };
}
