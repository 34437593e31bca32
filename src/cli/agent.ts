import { startAgent, type AgentProcessOptions } from '../agent/start.ts';
import { badInput } from '../core/errors.ts';
import { jsonLogger } from '../host/json-logger.ts';
import { parseListen } from '../server/ops-server.ts';
import { intFlag, parseFlags, serveUntilSignal, type Command } from './command.ts';

const help = `nodewarden agent — probe this node's assigned peers every second, keep pushing last words

Usage:
  nodewarden agent --node NAME --controller URL --token-file FILE
                   [--listen :9465] [--state-dir /var/lib/nodewarden/agent]
                   [--kmsg /dev/kmsg|FILE] [--dcgm URL] [--nvidia-smi] [--uplink DEV]
                   [--port 10250] [--l4-timeout-ms 1000] [--full-timeout-ms 2000]
                   [--log-level info]

Runs on every node (a DaemonSet with hostNetwork). The controller computes
which peers each node probes (k = 8 observers per node, 12 for GPU/MIG nodes,
never all-pairs) and serves this node its slice; the agent polls it every
10 s and saves it under --state-dir, so after a restart it probes its peers
even while the controller is unreachable.

Each peer, every 1 s (0.5 s for GPU/MIG peers) with jitter:
  L4    a TCP connect to kubelet (nc -vz -w 1 <ip> 10250) — cheap, no process;
  full  when the connect fails (and every 30 s anyway, and when the controller
        asks "probe this node now"): arping, ping, connect and HTTPS /healthz
        at once, as \`nodewarden probe\` does. The full result is what is sent.
Results go to the controller in batches every second, failures at once. While
the controller is unreachable they wait in a bounded backlog (10,000 results;
the oldest are dropped and counted) and the log says so.

Last words, every 5 s while the node can still talk: kernel-log signature
matches (Xid, soft lockup, hung task, OOM kill of ovs-vswitchd/kubelet,
NETDEV WATCHDOG, panic) from --kmsg; a GPU sample from --dcgm or nvidia-smi
(a hang is reported as a timeout, which is evidence); the uplink's interface
counters; and an inventory (kernel, NVIDIA driver and GSP firmware, NIC
drivers, OVS/OVN versions), sent once and again when it changes.

Options:
  --node NAME           this node's name as Kubernetes knows it (in a Pod: spec.nodeName)
  --controller URL      the controller's HTTP address, e.g. http://nodewarden-controller:9464
  --token-file FILE     bearer token: the service-account token in a cluster,
                        the lab token in the lab; re-read when it changes
  --listen HOST:PORT    /healthz /readyz /metrics (default :9465)
  --state-dir DIR       where the last plan is saved (default /var/lib/nodewarden/agent)
  --kmsg PATH           /dev/kmsg (needs root or CAP_SYSLOG) or a file to follow; default none
  --dcgm URL            DCGM exporter metrics URL, e.g. http://127.0.0.1:9400/metrics
  --nvidia-smi          sample GPUs with nvidia-smi (when no --dcgm) and read the GSP firmware version
  --uplink DEV          interface whose counters are sent (default: the default route's)
  --port N              kubelet port on the peers (default 10250)
  --l4-timeout-ms N     the per-tick connect's timeout (default 1000)
  --full-timeout-ms N   per-layer timeout of a full probe (default 2000)
  --log-level LEVEL     debug, info, warn, error (default info)

Metrics (O(k) series: per-peer ones only for this agent's peers):
  nodewarden_agent_peer_up{peer}, _peer_layer_up{peer,layer}, _peer_latency_seconds{peer,layer},
  _probes_total{mode,result}, _escalations_total, _backlog_results, _backlog_dropped_total,
  _controller_reachable, _plan_targets, _plan_from_file, _last_words_pushes_total{result}

Logs are JSON lines on stderr. Exit: 0 after SIGTERM/SIGINT, 1 when it cannot
start, 2 for bad flags.

Examples:
  nodewarden agent --node gpu-1 --controller http://10.62.0.1:9464 \\
      --token-file /var/run/secrets/kubernetes.io/serviceaccount/token \\
      --kmsg /dev/kmsg --dcgm http://127.0.0.1:9400/metrics
  sudo nodewarden lab exec node-1 -- nodewarden agent --node node-1 \\
      --controller http://10.62.0.1:9464 --token-file /var/lib/nodewarden/lab/agent-token \\
      --state-dir /tmp/nw-agent-node-1 --kmsg /tmp/node-1.kmsg
`;

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * Reads the agent's flags (and $NODE_NAME) into its options without starting
 * anything, so the Helm chart's rendered arguments can be checked against
 * the real parser (test/unit/helm-chart.test.ts). Throws BAD_INPUT naming
 * the flag.
 */
export function parseAgentArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): { readonly options: AgentProcessOptions; readonly level: (typeof LEVELS)[number] } {
  const { values } = parseFlags(
    'agent',
    argv,
    {
      node: { type: 'string' },
      controller: { type: 'string' },
      'token-file': { type: 'string' },
      listen: { type: 'string', default: ':9465' },
      'state-dir': { type: 'string', default: '/var/lib/nodewarden/agent' },
      kmsg: { type: 'string' },
      dcgm: { type: 'string' },
      'nvidia-smi': { type: 'boolean', default: false },
      uplink: { type: 'string' },
      port: { type: 'string' },
      'l4-timeout-ms': { type: 'string' },
      'full-timeout-ms': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
    },
    false,
  );
  const node = values.node ?? env['NODE_NAME'];
  if (node === undefined || node === '') {
    throw badInput(
      'missing --node',
      'pass this node’s name, e.g. --node gpu-1 (in a Pod: the downward API spec.nodeName)',
    );
  }
  const { controller } = values;
  const tokenFile = values['token-file'];
  if (controller === undefined) {
    throw badInput(
      'missing --controller',
      'pass the controller’s URL, e.g. --controller http://nodewarden-controller:9464',
    );
  }
  if (tokenFile === undefined) {
    throw badInput(
      'missing --token-file',
      'pass the file holding the bearer token (the service-account token, or the lab token)',
    );
  }
  const level = values['log-level'];
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw badInput(
      `--log-level "${level}" is not one of ${LEVELS.join(', ')}`,
      'pass --log-level info',
    );
  }
  parseListen(values.listen);
  const options: AgentProcessOptions = {
    node,
    controller,
    tokenFile,
    listen: values.listen,
    stateDir: values['state-dir'],
    kmsg: values.kmsg ?? null,
    dcgm: values.dcgm ?? null,
    nvidiaSmi: values['nvidia-smi'],
    uplink: values.uplink ?? null,
    port: intFlag('port', values.port, 10_250, 1, 65_535),
    l4TimeoutMs: intFlag('l4-timeout-ms', values['l4-timeout-ms'], 1_000, 100, 60_000),
    fullTimeoutMs: intFlag('full-timeout-ms', values['full-timeout-ms'], 2_000, 100, 60_000),
    lastWordsIntervalMs: 5_000,
    requestTimeoutMs: 3_000,
  };
  return { options, level: level as (typeof LEVELS)[number] };
}

export const command: Command = {
  name: 'agent',
  summary: "probe this node's assigned peers, push results and last words (long-running)",
  help,
  async run(argv, io) {
    const { options, level } = parseAgentArgs(argv);
    const log = jsonLogger((line) => io.err(line), level, {
      component: 'agent',
      node: options.node,
    });
    return serveUntilSignal(() => startAgent(options, log), log);
  },
};
