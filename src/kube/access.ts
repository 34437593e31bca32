/**
 * Every Kubernetes API call NodeWarden's in-cluster processes make, one row
 * per (module, resource, verbs). It is the source of the chart's RBAC:
 * `test/unit/helm-chart.test.ts` renders `deploy/helm/nodewarden` and fails
 * when the chart's Roles grant anything this table does not list or lack
 * anything it does; it also scans `src/` so that a module that starts calling
 * the API without a row here fails too. The lab test `test/lab/helm.test.ts`
 * then runs the controller under the rendered RBAC against a real API server.
 *
 * Only the controller talks to the API server; the agent talks to the
 * controller alone and has no RBAC.
 */

/** Where the permission applies, which decides Role or ClusterRole. */
export type AccessScope =
  /** Every namespace or a cluster-scoped resource: a ClusterRole. */
  | { readonly kind: 'cluster' }
  /** One fixed namespace, e.g. kube-node-lease: a Role there. */
  | { readonly kind: 'namespace'; readonly namespace: string }
  /** The namespace the controller is installed in: a Role there. */
  | { readonly kind: 'release-namespace' };

export type KubeVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface KubeAccess {
  /** The source file that makes the call (relative to the repository). */
  readonly module: string;
  /** API group: '' for the core group. */
  readonly apiGroup: string;
  /** Plural resource name, with `/subresource` when one is used. */
  readonly resource: string;
  readonly verbs: readonly KubeVerb[];
  readonly scope: AccessScope;
  /** Limits the grant to named objects (never for create/list/watch, which RBAC cannot limit by name). */
  readonly resourceNames?: readonly string[];
  /** Why the call is made, for docs and for the reviewer of a new row. */
  readonly why: string;
  /**
   * Granted only when the chart enables this feature: remediation writes
   * with `remediation.mode` approve or auto (not to detect or dry-run), TokenReview with `api.auth` tokenreview
   * (the HTTP API authenticating Kubernetes tokens), the leader label
   * only with more than one replica, the stability tests' Jobs only with
   * `stability.schedule` set.
   */
  readonly feature?: AccessFeature;
}

export type AccessFeature = 'remediation' | 'tokenReview' | 'leaderLabel' | 'stabilitySchedule';

/** The leader-election Lease's fixed name (src/controller/controller.ts). */
export const CONTROLLER_LEASE_NAME = 'nodewarden-controller';

const cluster = { kind: 'cluster' } as const;

export const CONTROLLER_ACCESS: readonly KubeAccess[] = [
  {
    module: 'src/kube/cluster-view.ts',
    apiGroup: '',
    resource: 'nodes',
    verbs: ['list', 'watch'],
    scope: cluster,
    why: 'informer: node conditions, taints, addresses, capacity',
  },
  {
    module: 'src/kube/cluster-view.ts',
    apiGroup: '',
    resource: 'pods',
    verbs: ['list', 'watch'],
    scope: cluster,
    why: 'informer: what a node failure displaces (impact, what-if)',
  },
  {
    module: 'src/kube/cluster-view.ts',
    apiGroup: '',
    resource: 'events',
    verbs: ['list', 'watch'],
    scope: cluster,
    why: "informer of Node events: Kubernetes' own NotReady, taints and evictions on the timeline",
  },
  {
    module: 'src/kube/cluster-view.ts',
    apiGroup: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['list', 'watch'],
    scope: { kind: 'namespace', namespace: 'kube-node-lease' },
    why: 'informer: kubelet heartbeats',
  },
  ...(
    [
      ['', 'nodes', cluster],
      ['', 'pods', cluster],
      ['', 'events', cluster],
      ['coordination.k8s.io', 'leases', { kind: 'namespace', namespace: 'kube-node-lease' }],
    ] as const
  ).map(([apiGroup, resource, scope]): KubeAccess => ({
    module: 'src/controller/controller.ts',
    apiGroup,
    resource,
    verbs: ['list'],
    scope,
    why: 'start-up check: one page of each list, so missing RBAC fails fast with a clear error',
  })),
  {
    module: 'src/kube/leader.ts',
    apiGroup: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['create'],
    scope: { kind: 'release-namespace' },
    why: 'leader election: the first replica creates the Lease',
  },
  {
    module: 'src/kube/leader.ts',
    apiGroup: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['get', 'update'],
    scope: { kind: 'release-namespace' },
    resourceNames: [CONTROLLER_LEASE_NAME],
    why: 'leader election: read, acquire and renew the Lease',
  },
  {
    module: 'src/kube/cluster-writer.ts',
    apiGroup: '',
    resource: 'nodes',
    verbs: ['get', 'patch'],
    scope: cluster,
    feature: 'remediation',
    why: 'remediation: read a node, then cordon and taint it with a JSON Patch that tests its resourceVersion',
  },
  {
    module: 'src/kube/cluster-writer.ts',
    apiGroup: 'cluster.x-k8s.io',
    resource: 'machines',
    verbs: ['patch'],
    scope: cluster,
    feature: 'remediation',
    why: 'remediation: hand a node to Cluster API (the remediate-machine annotation on its Machine)',
  },
  {
    module: 'src/kube/leader-label.ts',
    apiGroup: '',
    resource: 'pods',
    verbs: ['list', 'patch'],
    scope: { kind: 'release-namespace' },
    feature: 'leaderLabel',
    why: "two replicas: label the leader's own pod for the agents' Service, unlabel an old leader's",
  },
  {
    module: 'src/stability/kube-jobs.ts',
    apiGroup: 'batch',
    resource: 'jobs',
    verbs: ['create', 'get', 'delete'],
    scope: { kind: 'release-namespace' },
    feature: 'stabilitySchedule',
    why: 'scheduled stability tests (--stability-schedule): create the GPU load Job, delete it with its pod (foreground) and read it until it is gone',
  },
  {
    module: 'src/server/api/auth.ts',
    apiGroup: 'authentication.k8s.io',
    resource: 'tokenreviews',
    verbs: ['create'],
    scope: cluster,
    feature: 'tokenReview',
    why: 'HTTP API auth (--auth tokenreview): ask the API server who a bearer token belongs to',
  },
];

/**
 * Source files that hold API paths but whose calls are not the controller's,
 * with why. The source scan in the chart test skips exactly these.
 */
export const NOT_CONTROLLER_CALLERS: Readonly<Record<string, string>> = {
  'src/lab/': "the lab: root's admin kubeconfig on the lab's own control plane, never in a cluster",
  'src/cli/stability-test.ts':
    "nodewarden stability-test: an operator's command, with the operator's kubeconfig (not the controller's ServiceAccount)",
};

/** One RBAC rule as Kubernetes writes it, with where it applies. */
export interface RbacRule {
  readonly namespace: string | null;
  readonly apiGroup: string;
  readonly resource: string;
  readonly verb: KubeVerb;
  readonly resourceName: string | null;
}

/**
 * The table as single (namespace, group, resource, verb, name) grants, the
 * form both the table and the chart's Roles reduce to for comparison.
 * `releaseNamespace` is where the chart is installed; rows of a feature
 * count only when `features` has it.
 */
export function accessGrants(
  table: readonly KubeAccess[],
  releaseNamespace: string,
  features: ReadonlySet<AccessFeature> = new Set(),
): readonly RbacRule[] {
  const out = new Map<string, RbacRule>();
  for (const row of table) {
    if (row.feature !== undefined && !features.has(row.feature)) continue;
    const namespace =
      row.scope.kind === 'cluster'
        ? null
        : row.scope.kind === 'namespace'
          ? row.scope.namespace
          : releaseNamespace;
    for (const verb of row.verbs)
      for (const resourceName of row.resourceNames ?? [null]) {
        const rule = {
          namespace,
          apiGroup: row.apiGroup,
          resource: row.resource,
          verb,
          resourceName,
        };
        out.set(grantKey(rule), rule);
      }
  }
  return [...out.values()];
}

export const grantKey = (r: RbacRule): string =>
  `${r.namespace ?? '*'} ${r.apiGroup || 'core'}/${r.resource} ${r.verb}${r.resourceName ? ` name=${r.resourceName}` : ''}`;
