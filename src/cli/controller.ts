import { jsonLogger } from '../host/json-logger.ts';
import {
  DEFAULT_CONTROLLER_OPTIONS,
  defaultIdentity,
  startController,
  type ControllerOptions,
} from '../controller/controller.ts';
import { parseListen } from '../server/ops-server.ts';
import { parseAdminSubjects } from '../server/api/auth.ts';
import { intFlag, parseFlags, serveUntilSignal, type Command } from './command.ts';
import { badInput } from '../core/errors.ts';
import { parseCloudKind } from '../cloud/open-cloud.ts';
import { checkZone } from '../diagnose/pipeline.ts';
import { checkReferenceAddress } from './diagnose.ts';
import { REMEDIATION_MODES, type RemediationMode } from '../core/remediation-policy.ts';
import { ownPod } from '../kube/leader-label.ts';
import { parseCron, parseNodeSelector } from '../core/stability-schedule.ts';
import type { StabilityScheduleOptions } from '../controller/stability-schedule.ts';
import {
  STABILITY_SETTING_FLAGS,
  stabilitySettingOptions,
  stabilitySettingsFromFlags,
} from './stability-test.ts';

/** Each value must be an http(s) URL (these are not secrets: Alertmanager, the public URL). */
function checkUrls(flag: string, urls: readonly string[]): string[] {
  for (const url of urls) {
    if (!/^https?:\/\/[^/]/.test(url))
      throw badInput(
        `--${flag} "${url}" is not an http(s) URL`,
        `pass e.g. --${flag} http://alertmanager:9093`,
      );
  }
  return [...urls];
}

const help = `nodewarden controller — watch the cluster, detect dead nodes in seconds, keep incidents

Usage:
  nodewarden controller [--kubeconfig PATH] [--store URL] [--listen HOST:PORT]
                        [--stable-period S] [--probe-interval-ms N] [--probe-timeout-ms N]
                        [--lease-namespace NS] [--identity NAME] [--log-level info]
                        [--agent-token-file F] [--admin-token-file F]
                        [--auth tokens|tokenreview] [--read-token-file F]
                        [--admin-subjects LIST] [--web-root DIR]
                        [--sync-timeout S] [--label-leader-pod]
                        [--remediation-mode off|dry-run|approve|auto]
                        [--remediation-policy FILE] [--cloud none|lab|openstack]
                        [--cloud-config clouds.yaml] [--os-cloud NAME]
                        [--lab-dir DIR] [--lab-boot-delay S] [--cloud-poll-interval S]
                        [--no-diagnose] [--zone ZONE] [--prometheus URL]
                        [--gateway IP[:PORT]] [--ovn-gateway IP[:PORT]] [--report-dir DIR]
                        [--notify-slack-url-file F] [--notify-alertmanager-url URL]
                        [--public-url URL]
                        [--stability-schedule CRON [--stability-selector SEL]
                         [--stability-profile P] [--stability-to P%] [--stability-duration D] …]

Watches Nodes, node Leases, Pods and Node Events; probes every node at
L2/L3/L4/L7 from here each second; opens an incident when a node goes Down
(one partition incident when many go together, none when it is this
controller that lost the API server); records Kubernetes' own NotReady, taints
and evictions on the incident's timeline; resolves it when the node has been
healthy for the stable period. Several replicas may run: a Lease in
--lease-namespace elects the one that writes.

The moment an incident opens it is diagnosed: every observer of the node is
asked for a full L2–L7 probe now, the controller probes it directly, and the
Kubernetes view, the cloud (instance, actions, console log, port,
diagnostics), the agents' last words and GPU history are collected at once;
the root cause, the evidence and a timeline entry are kept with the incident
(nodewarden report <incident-id> --store <the same URL> renders the report).
With --admin-token-file, POST /v1/incidents/<id>/diagnose diagnoses again and
POST /v1/nodes/<node>/diagnose diagnoses a node now.

Once an incident has a root cause a reboot can fix, the remediation ladder
runs (docs/recovery.md): console capture, cordon, port reset or soft
reboot, hard reboot, out-of-service once the cloud confirms the VM off,
wait Ready, remove its taints, escalate — held by its brakes (too many
nodes down, a partition, the API server unreachable, attempts, …). The
built-in mode is dry-run: it records what it would do and does nothing.

Notifications: with --notify-slack-url-file and/or --notify-alertmanager-url
the controller says so the moment an incident opens (before the diagnosis),
again when the verdict is known, and when it resolves — to Slack-compatible
incoming webhooks and to Alertmanager's API v2 (POST /api/v2/alerts, so your
routes and silences apply; resolved = endsAt, open alerts re-posted every
minute). Failed posts are retried with backoff (5 attempts; 408, 429 honouring
Retry-After, 5xx, timeouts, refused connections), at most 10 back to back then
one every 3 s per target; webhook URLs never appear in logs
(docs/notifications.md).

Options:
  --kubeconfig PATH       default: $KUBECONFIG, in-cluster, ~/.kube/config
  --store URL             sqlite:<path> (default <data dir>/nodewarden.db),
                          sqlite::memory:, or postgres://user@host/db
  --listen HOST:PORT      /healthz /readyz /metrics (default ${DEFAULT_CONTROLLER_OPTIONS.listen})
  --stable-period S       healthy this long before an incident resolves (default 60)
  --probe-interval-ms N   how often each node is probed (default 1000)
  --probe-timeout-ms N    per-layer probe timeout (default 2000)
  --lease-namespace NS    namespace of the leader Lease (default $POD_NAMESPACE or default)
  --identity NAME         leader-election identity (default $POD_NAME or host-pid)
  --log-level LEVEL       debug, info, warn, error (default info)
  --agent-token-file F    serve the agent API (/v1/agents/…): bearer tokens agents
                          push with, one per line ("token" or "node token")
  --admin-token-file F    tokens for admin calls: probe-now, diagnose, and the HTTP
                          API's admin role (approve/reject a remediation step)
  --auth MODE             how the HTTP API /api/v1 (docs/api.md) and the dashboard's
                          data are protected: tokens (default; --read-token-file and
                          --admin-token-file, one token per line) or tokenreview
                          (any token the API server accepts, e.g. kubectl create
                          token; the ServiceAccount needs create on tokenreviews)
  --read-token-file F     tokens with the API's read role
  --admin-subjects LIST   tokenreview: who has the admin role, comma-separated
                          user:<name> / group:<name> (everyone else reads), e.g.
                          user:system:serviceaccount:nodewarden:sre,group:sre
  --web-root DIR          the dashboard bundle served at / (default dist/web)
  --sync-timeout S        how long the first list of everything may take (default
                          300; 5,000 nodes and 150,000 pods took ~100 s)
  --remediation-mode M    off, dry-run, approve (each step waits for
                          nodewarden remediation approve) or auto; default: the
                          policy's mode (built-in policy: dry-run)
  --remediation-policy F  YAML ladders and brakes (deploy/examples/remediation-policy.yaml);
                          a bad file is refused at start with the key and reason
  --cloud KIND            openstack (a clouds.yaml with --cloud-config, else OS_*
                          variables as the openstack CLI reads them), lab (the
                          netns lab's namespaces as VMs; run the controller in
                          nw-hub) or none; default openstack when OS_AUTH_URL is
                          set, else none
  --cloud-config FILE     openstack: a clouds.yaml
  --os-cloud NAME         which cloud of --cloud-config (default $OS_CLOUD or openstack)
  --lab-dir DIR           lab: the lab directory (default $NODEWARDEN_LAB_DIR or
                          /var/lib/nodewarden/lab)
  --lab-boot-delay S      lab: how long a rebooted node stays down (default 5)
  --cloud-poll-interval S with a cloud: poll every node's instance, hypervisor
                          host_status and ports this often (default 60); a port
                          going DOWN, a hypervisor DOWN/UNKNOWN or an instance
                          leaving ACTIVE is logged as a warning, added to any open
                          incident of the node, and exported as metrics
  --no-diagnose           do not diagnose incidents when they open
  --zone ZONE             IANA zone of report times (default Asia/Seoul)
  --prometheus URL        GPU history (DCGM series) from this Prometheus, falling
                          back to the agents' GPU samples in the store when it
                          fails or holds nothing for the node (the evidence says
                          so); default: with --cloud lab the lab's Prometheus
                          (lab up starts one on http://10.62.0.1:9090), else
                          the agents' samples alone
  --gateway IP[:PORT]     the nodes' gateway, a reference point: at incident open up
                          to 3 observers of the node (one per zone first) ping it,
                          and with :PORT also connect to it; the controller pings
                          it itself when no observer answers
  --ovn-gateway IP[:PORT] the OVN gateway (e.g. 100.64.0.1), probed the same way
  --report-dir DIR        also write each diagnosis as <incident>.{en,ko}.md and .json
  --notify-slack-url-file F  a file holding Slack-compatible incoming-webhook URLs,
                          one per line (# comments): a file, because the URL is
                          the credential; repeatable
  --notify-alertmanager-url URL  Alertmanager base URL, e.g. http://alertmanager:9093
                          (alerts go to URL/api/v2/alerts); repeatable
  --public-url URL        where people reach this controller's HTTP API; messages
                          link the report at URL/api/v1/incidents/<id>/report
  --label-leader-pod      in a pod ($POD_NAME, $POD_NAMESPACE): label it
                          nodewarden.io/leader=true while this replica leads, so a
                          Service selecting the label sends agents to the leader

Scheduled stability tests (docs/stability.md): with --stability-schedule the
leader runs nodewarden stability-test itself at each slot of a five-field cron
expression (UTC): on one selected GPU node at a time (the Ready, uncordoned
one tested longest ago), never while an incident is open (the slot waits until
it closes; an incident that opens mid-test stops the load at once), the load
Job in --stability-namespace; results are stored like a manual run (audit
action stability-test) and exported as nodewarden_stability_* metrics.

  --stability-schedule CRON   "m h dom mon dow" in UTC, e.g. "30 3 * * 1-5", or @daily
  --stability-selector SEL    which nodes: key, !key, key=value, key!=value, all must
                              hold (default: every node offering nvidia.com/gpu or MIG)
  --stability-namespace NS    where the load Job runs (default: --lease-namespace)
  --stability-profile P, --stability-to P%, --stability-duration D,
  --stability-baseline D, --stability-steps N, --stability-rate N,
  --stability-max-loss P, --stability-max-p99 L=MS,…, --stability-image I,
  --stability-command JSON,
  --stability-dcgm-url URL    as the same flags of nodewarden stability-test
                              (defaults: ramp to 45.5% over 10m after a 30s baseline)

The same port serves the HTTP API (/api/v1, OpenAPI at /api/v1/openapi.json) and
the dashboard at /. Every API call needs a bearer token (no token file: every
call is refused with 401).

Logs are JSON lines on stderr. Exit: 0 after SIGTERM/SIGINT, 1 when it cannot
start (the reason is logged and printed), 2 for bad flags.

Example (the lab; the controller runs inside the hub namespace to reach the nodes):
  sudo ip netns exec nw-hub nodewarden controller \\
      --kubeconfig /var/lib/nodewarden/lab/kube/admin-in-lab.kubeconfig --store sqlite:/tmp/nw.db
`;

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * Reads the controller's flags into its options without starting anything,
 * so the Helm chart's rendered arguments can be checked against the real
 * parser (test/unit/helm-chart.test.ts). Throws BAD_INPUT naming the flag.
 */
export function parseControllerArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): {
  readonly options: ControllerOptions;
  readonly level: (typeof LEVELS)[number];
} {
  const { values, positionals } = parseFlags('controller', argv, {
    kubeconfig: { type: 'string' },
    store: { type: 'string' },
    listen: { type: 'string', default: DEFAULT_CONTROLLER_OPTIONS.listen },
    'stable-period': { type: 'string' },
    'probe-interval-ms': { type: 'string' },
    'probe-timeout-ms': { type: 'string' },
    'lease-namespace': { type: 'string', default: DEFAULT_CONTROLLER_OPTIONS.leaseNamespace },
    identity: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    'sync-timeout': { type: 'string' },
    'agent-token-file': { type: 'string' },
    'admin-token-file': { type: 'string' },
    auth: { type: 'string', default: DEFAULT_CONTROLLER_OPTIONS.apiAuth },
    'read-token-file': { type: 'string' },
    'admin-subjects': { type: 'string' },
    'web-root': { type: 'string' },
    'remediation-mode': { type: 'string' },
    'remediation-policy': { type: 'string' },
    cloud: { type: 'string' },
    'cloud-config': { type: 'string' },
    'os-cloud': { type: 'string' },
    'lab-dir': { type: 'string' },
    'lab-boot-delay': { type: 'string' },
    'no-diagnose': { type: 'boolean', default: false },
    zone: { type: 'string', default: DEFAULT_CONTROLLER_OPTIONS.zone },
    prometheus: { type: 'string' },
    gateway: { type: 'string' },
    'ovn-gateway': { type: 'string' },
    'report-dir': { type: 'string' },
    'cloud-poll-interval': { type: 'string' },
    'label-leader-pod': { type: 'boolean', default: false },
    'notify-slack-url-file': { type: 'string', multiple: true },
    'notify-alertmanager-url': { type: 'string', multiple: true },
    'public-url': { type: 'string' },
    'stability-schedule': { type: 'string' },
    'stability-selector': { type: 'string' },
    ...stabilitySettingOptions('stability-'),
  });
  if (positionals.length > 0)
    throw badInput(
      `controller takes no argument "${positionals.join(' ')}"`,
      'see: nodewarden controller --help',
    );
  const level = values['log-level'];
  if (!(LEVELS as readonly string[]).includes(level))
    throw badInput(
      `--log-level "${level}" is not one of ${LEVELS.join(', ')}`,
      'pass --log-level info',
    );
  parseListen(values.listen);
  const mode = values['remediation-mode'];
  if (mode !== undefined && !(REMEDIATION_MODES as readonly string[]).includes(mode))
    throw badInput(
      `--remediation-mode "${mode}" is not one of ${REMEDIATION_MODES.join(', ')}`,
      'pass --remediation-mode dry-run to see what it would do first',
    );
  const apiAuth = values.auth;
  if (apiAuth !== 'tokens' && apiAuth !== 'tokenreview')
    throw badInput(
      `--auth "${apiAuth}" is not tokens or tokenreview`,
      'pass --auth tokens (with --read-token-file/--admin-token-file) or --auth tokenreview (in a cluster)',
    );
  if (apiAuth === 'tokenreview' && values['read-token-file'] !== undefined)
    throw badInput(
      '--read-token-file is for --auth tokens; with --auth tokenreview every authenticated caller may read',
      'drop --read-token-file, or use --auth tokens',
    );
  if (apiAuth === 'tokens' && values['admin-subjects'] !== undefined)
    throw badInput(
      '--admin-subjects is for --auth tokenreview',
      'add --auth tokenreview, or give admins tokens with --admin-token-file',
    );
  if (values['admin-subjects'] !== undefined) parseAdminSubjects(values['admin-subjects']);
  const cloudKind = values.cloud === undefined ? undefined : parseCloudKind(values.cloud);
  if (values['cloud-config'] !== undefined && cloudKind !== 'openstack')
    throw badInput(
      `--cloud-config is for --cloud openstack, not --cloud ${cloudKind ?? '(default)'}`,
      'add --cloud openstack',
    );
  checkZone(values.zone);
  const gateway = checkReferenceAddress('gateway', values.gateway);
  const ovnGateway = checkReferenceAddress('ovn-gateway', values['ovn-gateway']);
  if (values.prometheus !== undefined && !/^https?:\/\/[^/]/.test(values.prometheus))
    throw badInput(
      `--prometheus "${values.prometheus}" is not an http(s) URL`,
      'pass e.g. --prometheus http://10.62.0.1:9090',
    );
  const stabilitySchedule = stabilityScheduleFrom(values, values['lease-namespace']);
  const options: ControllerOptions = {
    ...DEFAULT_CONTROLLER_OPTIONS,
    listen: values.listen,
    leaseNamespace: values['lease-namespace'],
    identity: values.identity ?? defaultIdentity(),
    stablePeriodMs: intFlag('stable-period', values['stable-period'], 60, 1, 86_400) * 1000,
    probeIntervalMs: intFlag('probe-interval-ms', values['probe-interval-ms'], 1000, 100, 600_000),
    probeTimeoutMs: intFlag('probe-timeout-ms', values['probe-timeout-ms'], 2000, 100, 60_000),
    syncTimeoutMs: intFlag('sync-timeout', values['sync-timeout'], 300, 1, 3_600) * 1000,
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.store ? { store: values.store } : {}),
    ...(values['agent-token-file'] ? { agentTokenFile: values['agent-token-file'] } : {}),
    ...(values['admin-token-file'] ? { adminTokenFile: values['admin-token-file'] } : {}),
    apiAuth,
    ...(values['read-token-file'] ? { readTokenFile: values['read-token-file'] } : {}),
    ...(values['admin-subjects'] ? { adminSubjects: values['admin-subjects'] } : {}),
    ...(values['web-root'] ? { webRoot: values['web-root'] } : {}),
    ...(mode !== undefined ? { remediationMode: mode as RemediationMode } : {}),
    ...(values['remediation-policy'] ? { remediationPolicy: values['remediation-policy'] } : {}),
    cloud: {
      ...(cloudKind === undefined ? {} : { kind: cloudKind }),
      ...(values['lab-dir'] ? { labDir: values['lab-dir'] } : {}),
      labBootDelayMs: intFlag('lab-boot-delay', values['lab-boot-delay'], 5, 0, 3_600) * 1000,
      ...(values['cloud-config'] ? { configFile: values['cloud-config'] } : {}),
      ...(values['os-cloud'] ? { cloudName: values['os-cloud'] } : {}),
    },
    diagnose: !values['no-diagnose'],
    cloudPollIntervalMs:
      intFlag('cloud-poll-interval', values['cloud-poll-interval'], 60, 1, 3_600) * 1000,
    zone: values.zone,
    ...(values.prometheus ? { prometheusUrl: values.prometheus } : {}),
    ...(gateway === null ? {} : { gateway }),
    ...(ovnGateway === null ? {} : { ovnGateway }),
    ...(values['report-dir'] ? { reportDir: values['report-dir'] } : {}),
    ...(values['label-leader-pod'] ? { labelLeaderPod: ownPod(env) } : {}),
    ...(stabilitySchedule === null ? {} : { stabilitySchedule }),
    notify: {
      slackUrlFiles: values['notify-slack-url-file'] ?? [],
      alertmanagerUrls: checkUrls(
        'notify-alertmanager-url',
        values['notify-alertmanager-url'] ?? [],
      ),
      publicUrl:
        checkUrls(
          'public-url',
          values['public-url'] === undefined ? [] : [values['public-url']],
        )[0] ?? null,
    },
  };
  return { options, level: level as (typeof LEVELS)[number] };
}

/** The `--stability-*` flags; null without --stability-schedule (then no other may be given). */
function stabilityScheduleFrom(
  values: Readonly<Record<string, string | boolean | string[] | undefined>>,
  controllerNamespace: string,
): StabilityScheduleOptions | null {
  const schedule = values['stability-schedule'];
  if (typeof schedule !== 'string') {
    const stray = ['selector', ...STABILITY_SETTING_FLAGS].find(
      (f) => values[`stability-${f}`] !== undefined,
    );
    if (stray !== undefined)
      throw badInput(
        `--stability-${stray} is for scheduled stability tests`,
        'add --stability-schedule "<cron>", e.g. --stability-schedule "30 3 * * 1-5"',
      );
    return null;
  }
  const selector = values['stability-selector'];
  const settings = stabilitySettingsFromFlags(values, 'stability-');
  return {
    schedule: parseCron(schedule),
    selector: typeof selector === 'string' ? parseNodeSelector(selector) : null,
    settings: {
      ...settings,
      namespace:
        typeof values['stability-namespace'] === 'string'
          ? settings.namespace
          : controllerNamespace,
    },
  };
}

export const command: Command = {
  name: 'controller',
  summary: 'watch the cluster, detect dead nodes, keep incidents (long-running)',
  help,
  async run(argv, io) {
    const { options, level } = parseControllerArgs(argv);
    const log = jsonLogger((line) => io.err(line), level, { component: 'controller' });
    return serveUntilSignal(() => startController(options, log), log);
  },
};
