import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAgentArgs } from '../../src/cli/agent.ts';
import { parseControllerArgs } from '../../src/cli/controller.ts';
import {
  accessGrants,
  CONTROLLER_ACCESS,
  grantKey,
  NOT_CONTROLLER_CALLERS,
  type KubeVerb,
  type RbacRule,
} from '../../src/kube/access.ts';
import { parseStoreUrl } from '../../src/store/open.ts';
import { parsePolicyText } from '../../src/remediate/policy-file.ts';
import { parse } from 'yaml';

import {
  chartDir,
  repoRoot,
  container,
  expandArgs,
  find,
  helm,
  KUBE_VERSION,
  NAMESPACE,
  RELEASE,
  renderChart,
  runHelm,
  type K8sObject,
  type Loose,
} from '../support/helm.ts';

/**
 * The Helm chart, rendered by the real helm: it lints, it renders what the
 * issue lists, it refuses values that cannot work with a message saying what
 * to change, every flag it passes is one the binaries' own parsers accept,
 * and its RBAC is exactly the calls the code makes (src/kube/access.ts).
 */

const POSTGRES: Loose = {
  store: { type: 'postgres', postgres: { existingSecret: 'nw-db' } },
};
/** The documented example policy, as a user would put it under remediation.policy. */
const EXAMPLE_POLICY = parse(
  readFileSync(join(repoRoot, 'deploy/examples/remediation-policy.yaml'), 'utf8'),
) as Loose;
const EVERYTHING: Loose = {
  ...POSTGRES,
  remediation: { mode: 'approve', policy: EXAMPLE_POLICY },
  cloud: { provider: 'openstack', openstack: { existingSecret: 'nw-openstack' } },
  diagnosis: {
    prometheusUrl: 'http://prometheus.monitoring:9090',
    gateway: '10.62.0.1',
    ovnGateway: '100.64.0.1',
  },
  controller: { antiAffinity: 'hard', extraArgs: ['--probe-timeout-ms', '3000'] },
  agent: { dcgmUrl: 'http://127.0.0.1:9400/metrics', uplink: 'ens3', nvidiaSmi: true },
  tokens: { admin: { existingSecret: 'nw-admin' }, read: { existingSecret: 'nw-read' } },
  stability: {
    schedule: '30 3 * * 1-5',
    selector: 'node-role=mig,!nodewarden.io/no-stability-test',
    profile: 'steps',
    to: '50%',
    duration: '5m',
    command: ['/load', '--follow-plan'],
    dcgmUrl: 'http://{ip}:9400/metrics',
  },
  metrics: {
    serviceMonitor: { enabled: true, labels: { release: 'prom' } },
    prometheusRule: { enabled: true },
    grafanaDashboard: { enabled: true },
  },
};

const controllerName = `${RELEASE}-nodewarden-controller`;
const agentName = `${RELEASE}-nodewarden-agent`;

beforeAll(async () => {
  await helm(); // builds helm on a machine that has none yet (minutes), else instant
}, 1_800_000);

describe('helm lint', () => {
  it.each([
    ['default values', {}],
    ['PostgreSQL, monitoring, admin tokens, GPU options', EVERYTHING],
  ])('passes --strict with %s', async (_, values) => {
    const r = await runHelm(['lint', '--strict', chartDir, '--kube-version', KUBE_VERSION], values);
    expect(r.stderr + r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.code).toBe(0);
  });
});

describe('rendered chart', () => {
  it('by default: one controller on SQLite (a kept PVC, Recreate), agents everywhere, no PDB', async () => {
    const objects = await renderChart();
    const deploy = find(objects, 'Deployment', controllerName);
    const spec = deploy['spec'] as Loose;
    expect(spec['replicas']).toBe(1);
    expect(spec['strategy']).toEqual({ type: 'Recreate' });
    const pvc = find(objects, 'PersistentVolumeClaim');
    expect(pvc.metadata['annotations']).toEqual({ 'helm.sh/resource-policy': 'keep' });
    expect(objects.some((o) => o.kind === 'PodDisruptionBudget')).toBe(false);
    expect(objects.some((o) => o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule')).toBe(
      false,
    );
    find(objects, 'Secret', `${RELEASE}-nodewarden-agent-token`);
  });

  it('with PostgreSQL: two replicas spread over nodes, a PDB, the URL from the Secret', async () => {
    const objects = await renderChart(POSTGRES);
    const deploy = find(objects, 'Deployment', controllerName);
    const pod = (deploy['spec'] as { template: { spec: Loose } }).template.spec;
    expect((deploy['spec'] as Loose)['replicas']).toBe(2);
    expect(JSON.stringify(pod['affinity'])).toContain('"topologyKey":"kubernetes.io/hostname"');
    expect(find(objects, 'PodDisruptionBudget')['spec']).toMatchObject({ minAvailable: 1 });
    expect(objects.some((o) => o.kind === 'PersistentVolumeClaim')).toBe(false);
    expect(container(deploy).env).toContainEqual({
      name: 'NODEWARDEN_STORE_URL',
      valueFrom: { secretKeyRef: { name: 'nw-db', key: 'url' } },
    });
    expect(pod['priorityClassName']).toBe('system-cluster-critical');
    expect(pod['securityContext']).toMatchObject({ runAsNonRoot: true });
  });

  it('the agent: host network, every taint tolerated, node-critical, /dev/kmsg read-only, no API token', async () => {
    const ds = find(await renderChart(), 'DaemonSet', agentName);
    const pod = (ds['spec'] as { template: { spec: Loose } }).template.spec;
    expect(pod).toMatchObject({
      hostNetwork: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      priorityClassName: 'system-node-critical',
      automountServiceAccountToken: false,
      tolerations: [{ operator: 'Exists' }],
    });
    const c = (pod['containers'] as Loose[])[0] as Loose;
    expect(c['volumeMounts']).toContainEqual({
      name: 'kmsg',
      mountPath: '/dev/kmsg',
      readOnly: true,
    });
    expect(pod['volumes']).toContainEqual({
      name: 'kmsg',
      hostPath: { path: '/dev/kmsg', type: 'CharDevice' },
    });
  });

  it('without kmsg the agent is not privileged: root with NET_RAW only', async () => {
    const ds = find(
      await renderChart({ agent: { kmsg: { enabled: false }, privileged: false } }),
      'DaemonSet',
      agentName,
    );
    const c = container(ds) as unknown as Loose;
    expect(c['securityContext']).toMatchObject({
      capabilities: { drop: ['ALL'], add: ['NET_RAW'] },
      allowPrivilegeEscalation: false,
    });
    expect(JSON.stringify(c)).not.toContain('kmsg');
  });

  it('monitoring objects when asked: ServiceMonitors with a fixed job label, the rules, the dashboard', async () => {
    const objects = await renderChart(EVERYTHING);
    const monitors = objects.filter((o) => o.kind === 'ServiceMonitor');
    expect(monitors.map((m) => m.metadata.name).sort()).toEqual([
      `${RELEASE}-nodewarden-agent`,
      `${RELEASE}-nodewarden-controller`,
    ]);
    for (const m of monitors) {
      expect(m.metadata['labels']).toMatchObject({ release: 'prom' });
      expect(m['spec']).toMatchObject({ jobLabel: 'nodewarden.io/job' });
    }
    // Each ServiceMonitor selects exactly one Service (the -leader one would scrape the leader twice).
    const services = objects.filter((o) => o.kind === 'Service');
    for (const m of monitors) {
      const want = (m['spec'] as { selector: { matchLabels: Loose } }).selector.matchLabels;
      const picked = services.filter((svc) =>
        Object.entries(want).every(([k, v]) => (svc.metadata['labels'] as Loose)[k] === v),
      );
      expect(picked.map((svc) => svc.metadata.name)).toEqual([m.metadata.name]);
      expect((picked[0]?.metadata['labels'] as Loose)['nodewarden.io/job']).toBe(
        `nodewarden-${m.metadata.name.split('-').at(-1) ?? ''}`,
      );
    }
    const rule = find(objects, 'PrometheusRule');
    expect(JSON.stringify(rule['spec'])).toContain('NodeWardenNodeDown');
    const dashboard = find(objects, 'ConfigMap', `${RELEASE}-nodewarden-dashboard`);
    const json = (dashboard['data'] as Record<string, string>)['nodewarden.json'] ?? '';
    expect((JSON.parse(json) as { title: string }).title).toBe('NodeWarden');
  });
});

describe('remediation, cloud and diagnosis values', () => {
  it("the policy is mounted from a ConfigMap the controller's own parser accepts, and the mode is the flag", async () => {
    const objects = await renderChart(EVERYTHING);
    const cm = find(objects, 'ConfigMap', `${controllerName}-remediation-policy`);
    const text = (cm['data'] as Record<string, string>)['policy.yaml'] ?? '';
    const policy = parsePolicyText(text, 'policy.yaml');
    expect(policy.mode).toBe('approve');
    expect(Object.keys(policy.ladders)).toContain('NODE_HALTED');
    const [, ...argv] = container(find(objects, 'Deployment', controllerName)).args ?? [];
    const { options } = parseControllerArgs(argv, { POD_NAME: 'p', POD_NAMESPACE: NAMESPACE });
    expect(options.remediationMode).toBe('approve');
    expect(options.remediationPolicy).toBe('/etc/nodewarden/remediation/policy.yaml');
    expect(options.prometheusUrl).toBe('http://prometheus.monitoring:9090');
    // A bad policy in values reaches the same parser, which names the key.
    const bad = await renderChart({ remediation: { policy: { brakes: { maxConcurent: 1 } } } });
    const badText =
      (
        find(bad, 'ConfigMap', `${controllerName}-remediation-policy`)['data'] as Record<
          string,
          string
        >
      )['policy.yaml'] ?? '';
    expect(() => parsePolicyText(badText, 'policy.yaml')).toThrow(/maxConcurent/);
  });

  it('a stability schedule reaches the controller as its flags, the Jobs in the release namespace', async () => {
    const deploy = find(await renderChart(EVERYTHING), 'Deployment', controllerName);
    const [, ...argv] = container(deploy).args ?? [];
    const { options } = parseControllerArgs(argv, { POD_NAME: 'p', POD_NAMESPACE: NAMESPACE });
    const s = options.stabilitySchedule;
    expect(s?.schedule.text).toBe('30 3 * * 1-5');
    expect(s?.selector).toHaveLength(2);
    expect(s?.settings).toMatchObject({
      profile: 'steps',
      toPercent: 50,
      durationMs: 300_000,
      baselineMs: 30_000,
      steps: 5,
      maxLossPct: 1,
      namespace: NAMESPACE,
      command: ['/load', '--follow-plan'],
      dcgmUrl: 'http://{ip}:9400/metrics',
    });
    // Without a schedule no flag is passed (the parser refuses stray --stability-* flags).
    const plain = find(await renderChart(), 'Deployment', controllerName);
    expect((container(plain).args ?? []).some((a) => a.startsWith('--stability-'))).toBe(false);
  });

  it('OpenStack credentials come from the Secret as OS_* variables', async () => {
    const deploy = find(await renderChart(EVERYTHING), 'Deployment', controllerName);
    const c = container(deploy) as unknown as Loose;
    expect(c['envFrom']).toEqual([{ secretRef: { name: 'nw-openstack' } }]);
    expect(container(deploy).args).toEqual(expect.arrayContaining(['--cloud', 'openstack']));
  });
});

describe('values that cannot work are refused with what to change', () => {
  it.each([
    [
      'two replicas on SQLite',
      { controller: { replicas: 2 } },
      'controller.replicas=2 needs store.type=postgres',
    ],
    [
      'PostgreSQL without its Secret',
      { store: { type: 'postgres' } },
      'store.type=postgres needs store.postgres.existingSecret',
    ],
    [
      'read tokens with tokenreview',
      { api: { auth: 'tokenreview' }, tokens: { read: { existingSecret: 'r' } } },
      'tokens.read is for api.auth=tokens',
    ],
    [
      'admin subjects with tokens',
      { api: { adminSubjects: 'group:sre' } },
      'api.adminSubjects is for api.auth=tokenreview',
    ],
    [
      'OpenStack without its Secret',
      { cloud: { provider: 'openstack' } },
      'cloud.provider=openstack needs cloud.openstack.existingSecret',
    ],
    [
      'kmsg without privileges',
      { agent: { privileged: false } },
      'agent.kmsg.enabled=true needs agent.privileged=true',
    ],
    [
      'an unknown store',
      { store: { type: 'mysql' } },
      "at '/store/type': value must be one of 'sqlite', 'postgres'",
    ],
    [
      'a misspelt key',
      { controler: { replicas: 1 } },
      "additional properties 'controler' not allowed",
    ],
    [
      'a number out of range',
      { controller: { probeIntervalMs: 5 } },
      "at '/controller/probeIntervalMs'",
    ],
    [
      'a stability schedule that is not cron',
      { stability: { schedule: 'every night' } },
      "at '/stability/schedule'",
    ],
    [
      'an unknown stability profile',
      { stability: { schedule: '@daily', profile: 'wave' } },
      "at '/stability/profile': value must be one of 'ramp', 'steps', 'spike'",
    ],
  ])('%s', async (_, values, message) => {
    const r = await runHelm(
      ['template', RELEASE, chartDir, '--kube-version', KUBE_VERSION],
      values,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
  });
});

describe('the flags the chart passes are flags the binaries accept', () => {
  const env = { NODE_NAME: 'gpu-1', NODEWARDEN_STORE_URL: 'postgres://nw:pw@db:5432/nodewarden' };

  const variants: [string, Loose][] = [
    ['default values', {}],
    ['everything set', EVERYTHING],
    ['kmsg off', { agent: { kmsg: { enabled: false }, privileged: false } }],
    ['TokenReview', { api: { auth: 'tokenreview', adminSubjects: 'user:alice,group:sre' } }],
  ];

  it.each(variants)('controller, %s', async (_, values) => {
    const objects = await renderChart(values);
    const c = container(find(objects, 'Deployment', controllerName));
    const [sub, ...argv] = expandArgs(c.args ?? [], env);
    expect(sub).toBe('controller');
    // The downward API fills these in the pod; the chart must set them when a flag needs them.
    const podEnv = { POD_NAME: `${controllerName}-5d8f-x2x`, POD_NAMESPACE: NAMESPACE };
    const { options } = parseControllerArgs(argv, podEnv);
    expect(options.leaseNamespace).toBe(NAMESPACE);
    if (options.labelLeaderPod) {
      expect(options.labelLeaderPod).toEqual({ pod: podEnv.POD_NAME, namespace: NAMESPACE });
      const fromPod = (c.env ?? []).map((e) => [e.name, JSON.stringify(e)]);
      expect(Object.fromEntries(fromPod)).toMatchObject({
        POD_NAME: expect.stringContaining('metadata.name') as unknown,
        POD_NAMESPACE: expect.stringContaining('metadata.namespace') as unknown,
      });
    }
    expect(parseStoreUrl(options.store).kind).toBe(
      (values['store'] as Loose | undefined)?.['type'] ?? 'sqlite',
    );
    // Files the flags name are where the chart mounts them.
    const mounts = mountPaths(find(objects, 'Deployment', controllerName));
    for (const file of [options.agentTokenFile, options.adminTokenFile, options.readTokenFile]) {
      if (file !== undefined) expect(mounts.some((m) => file.startsWith(`${m}/`))).toBe(true);
    }
    const store = parseStoreUrl(options.store);
    if (store.kind === 'sqlite')
      expect(mounts.some((m) => store.path.startsWith(`${m}/`))).toBe(true);
  });

  it.each(variants)('agent, %s', async (_, values) => {
    const objects = await renderChart(values);
    const ds = find(objects, 'DaemonSet', agentName);
    const [sub, ...argv] = expandArgs(container(ds).args ?? [], env);
    expect(sub).toBe('agent');
    const { options } = parseAgentArgs(argv, {});
    expect(options.node).toBe('gpu-1');
    // The URL names a Service of the chart, in the release namespace, on its port, that
    // selects controller pods (with two replicas, only the one labelled leader).
    const url = new URL(options.controller);
    const [svcName, ns] = url.hostname.split('.');
    expect(ns).toBe(NAMESPACE);
    const service = find(objects, 'Service', svcName);
    const spec = service['spec'] as { ports: { port: number }[]; selector: Loose };
    expect(Number(url.port)).toBe(spec.ports[0]?.port);
    expect(spec.selector).toMatchObject({ 'app.kubernetes.io/component': 'controller' });
    const replicas = (find(objects, 'Deployment', controllerName)['spec'] as Loose)['replicas'];
    expect(spec.selector['nodewarden.io/leader']).toBe(replicas === 1 ? undefined : 'true');
    const mounts = mountPaths(ds);
    expect(mounts.some((m) => options.tokenFile.startsWith(`${m}/`))).toBe(true);
    expect(mounts).toContain(options.stateDir);
  });

  it('an extra flag the controller does not know fails the check', async () => {
    const objects = await renderChart({ controller: { extraArgs: ['--no-such-flag'] } });
    const [, ...argv] = container(find(objects, 'Deployment', controllerName)).args ?? [];
    expect(() => parseControllerArgs(argv)).toThrow(/no-such-flag/);
  });
});

function mountPaths(workload: K8sObject): string[] {
  const c = container(workload) as unknown as { volumeMounts?: { mountPath: string }[] };
  return (c.volumeMounts ?? []).map((m) => m.mountPath);
}

describe('RBAC: exactly the calls the code makes', () => {
  interface Rule {
    apiGroups?: string[];
    resources?: string[];
    verbs?: string[];
    resourceNames?: string[];
    nonResourceURLs?: string[];
  }

  /** Every (namespace, group, resource, verb, name) the chart grants the controller. */
  function chartGrants(objects: readonly K8sObject[]): RbacRule[] {
    const bindings = objects.filter(
      (o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding',
    );
    const out: RbacRule[] = [];
    for (const b of bindings) {
      const subjects = b['subjects'] as { kind: string; name: string; namespace: string }[];
      expect(subjects).toEqual([
        { kind: 'ServiceAccount', name: controllerName, namespace: NAMESPACE },
      ]);
      const ref = b['roleRef'] as { kind: string; name: string };
      const role = find(objects, ref.kind, ref.name);
      const namespace = ref.kind === 'ClusterRole' ? null : (role.metadata.namespace ?? null);
      expect(namespace === null || namespace === b.metadata.namespace).toBe(true);
      for (const rule of role['rules'] as Rule[]) {
        expect(rule.nonResourceURLs).toBeUndefined();
        for (const apiGroup of rule.apiGroups ?? [])
          for (const resource of rule.resources ?? [])
            for (const verb of rule.verbs ?? [])
              for (const resourceName of rule.resourceNames ?? [null])
                out.push({ namespace, apiGroup, resource, verb: verb as KubeVerb, resourceName });
      }
    }
    return out;
  }

  it.each([
    ['one replica (default)', {}, []],
    ['two replicas (PostgreSQL): the leader label', POSTGRES, ['leaderLabel']],
    ['remediation approve', { remediation: { mode: 'approve' } }, ['remediation']],
    ['remediation dry-run writes nothing', { remediation: { mode: 'dry-run' } }, []],
    ['stability schedule', { stability: { schedule: '@daily' } }, ['stabilitySchedule']],
    [
      'everything',
      {
        ...EVERYTHING,
        remediation: { mode: 'auto' },
        api: { auth: 'tokenreview', adminSubjects: 'group:sre' },
        tokens: { admin: { existingSecret: 'nw-admin' } },
      },
      ['leaderLabel', 'remediation', 'tokenReview', 'stabilitySchedule'],
    ],
  ] as const)(
    'the chart grants what src/kube/access.ts lists, no more and no less: %s',
    async (_, values, features) => {
      const objects = await renderChart(values);
      const granted = chartGrants(objects).map(grantKey).sort();
      const needed = accessGrants(CONTROLLER_ACCESS, NAMESPACE, new Set(features))
        .map(grantKey)
        .sort();
      expect(granted).toEqual(needed);
    },
  );

  it('no role or binding names the agent, and roles exist only where they are bound', async () => {
    const objects = await renderChart({
      ...EVERYTHING,
      remediation: { mode: 'auto' },
      api: { auth: 'tokenreview' },
      tokens: {},
    });
    const rbac = objects.filter((o) => o.apiVersion.startsWith('rbac.authorization.k8s.io'));
    expect(JSON.stringify(rbac)).not.toContain(agentName);
    const roles = rbac.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole');
    const bound = rbac
      .filter((o) => o.kind.endsWith('Binding'))
      .map((b) => (b['roleRef'] as { name: string }).name);
    expect(roles.map((r) => r.metadata.name).sort()).toEqual(bound.sort());
  });

  /**
   * Every API path a controller-side source file holds, as (group, resource):
   * `/api/v1/[namespaces/<ns>/]<resource>[/<name>[/<sub>]]` and the same under
   * `/apis/<group>/<version>/`. Comments are dropped first.
   */
  function apiPaths(source: string): { apiGroup: string; resource: string }[] {
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
    const seg = '(?:\\$\\{[^}]+\\}|[a-z0-9.-]+)';
    const re = new RegExp(
      `['"\`]/(?:api/v1|apis/([a-z0-9.-]+)/v[0-9a-z]+)/(?:namespaces/${seg}/)?([a-z]+)(?:/${seg}(?:/([a-z]+))?)?`,
      'g',
    );
    return [...code.matchAll(re)].map((m) => ({
      apiGroup: m[1] ?? '',
      resource: m[3] ? `${m[2] ?? ''}/${m[3]}` : (m[2] ?? ''),
    }));
  }

  const HTTP_VERB: Record<string, KubeVerb> = {
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: 'delete',
  };

  it('every source file that calls the API server has its rows (a new call fails here)', () => {
    const files = listTs(join(repoRoot, 'src'));
    let scanned = 0;
    for (const file of files) {
      const rel = relative(repoRoot, file);
      if (Object.keys(NOT_CONTROLLER_CALLERS).some((prefix) => rel.startsWith(prefix))) continue;
      const text = readFileSync(file, 'utf8');
      // Only files that reach the API server (NodeWarden's own HTTP API also lives under /api/v1).
      if (!/\b(kubeRequest|kubeWatch)\s*[<(]|new Informer\s*[<(]/.test(text)) continue;
      const paths = apiPaths(text);
      if (paths.length === 0) continue;
      scanned += 1;
      const rows = CONTROLLER_ACCESS.filter((r) => r.module === rel);
      for (const p of paths) {
        expect(
          rows.some((r) => r.apiGroup === p.apiGroup && r.resource === p.resource),
          `${rel} calls ${p.apiGroup || 'core'}/${p.resource}: add a row for it to src/kube/access.ts and the rule to deploy/helm/nodewarden/templates/rbac.yaml`,
        ).toBe(true);
      }
      // Writes: each HTTP method the file sends must be a verb of its rows.
      for (const [method, verb] of Object.entries(HTTP_VERB)) {
        if (!new RegExp(`['"]${method}['"]`).test(text)) continue;
        expect(
          rows.some((r) => r.verbs.includes(verb)),
          `${rel} sends ${method}: a row of src/kube/access.ts for it needs the verb ${verb}`,
        ).toBe(true);
      }
    }
    // The scan itself works: the informers and the elector were found.
    expect(scanned).toBeGreaterThanOrEqual(3);
    expect(apiPaths("kubeRequest(kc, 'PATCH', `/api/v1/nodes/${name}`")).toEqual([
      { apiGroup: '', resource: 'nodes' },
    ]);
    expect(
      apiPaths('`/api/v1/namespaces/${ns}/pods/${pod}/eviction`  // `/api/v1/secrets`'),
    ).toEqual([{ apiGroup: '', resource: 'pods/eviction' }]);
  });

  it('each row names a module that exists', () => {
    for (const row of CONTROLLER_ACCESS) {
      expect(statSync(join(repoRoot, row.module)).isFile()).toBe(true);
    }
  });
});

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return listTs(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}
