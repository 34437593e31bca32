import { badInput } from '../core/errors.ts';
import type { LayerResult, ProbeResult, Prober } from '../core/probe.ts';
import { LinuxProber } from '../probe/linux-prober.ts';
import {
  DEFAULT_KUBELET_PORT,
  DEFAULT_TIMEOUT_MS,
  MAX_TIMEOUT_MS,
  MIN_TIMEOUT_MS,
  validateTarget,
} from '../probe/target.ts';
import {
  EXIT_OK,
  EXIT_UNHEALTHY,
  intFlag,
  parseFlags,
  reportError,
  type Command,
  type Io,
} from './command.ts';

const help = `nodewarden probe — is this node alive, and at which network layer does it stop answering?

Usage:
  nodewarden probe <ip> [--port ${DEFAULT_KUBELET_PORT}] [--timeout-ms ${DEFAULT_TIMEOUT_MS}] [--json]

Probes one node from this host at four layers at once, each with its own
timeout, and prints for each layer the command you would type to check it by
hand, what it returned, and how long it took:

  L2  arping -c 1 -w 3 -I <dev> <ip>   Does anything answer ARP for the address on
      our link? The kernel's neighbour entry (ip neigh) is shown beside it, but
      the active ARP reply is the truth: for ~30 s after a node dies its entry
      still reads REACHABLE/STALE/DELAY before it turns INCOMPLETE/FAILED.
      Skipped when the node is behind a gateway (ARP would test the gateway) or
      is this host itself. Without CAP_NET_RAW (run as root) arping cannot run;
      a FAILED/INCOMPLETE kernel entry then counts as the L2 failure.
  L3  ping -c 1 -W 3 <ip>              ICMP echo. "Destination Host Unreachable"
      from this host means ARP for the node failed; a timeout means no reply.
  L4  nc -vz -w 3 <ip> 10250           TCP connect to kubelet. ECONNREFUSED means
      the host is up and answered, but kubelet is not listening.
  L7  curl -sk https://<ip>:10250/healthz   HTTPS to kubelet. Any HTTP status,
      401 and 403 included, proves kubelet alive. A TLS handshake timeout
      while L4 connects means kubelet is hung (its kernel still accepts TCP).

The verdict is the lowest layer that failed. A skipped layer is not evidence
either way.

Options:
  --port N         kubelet port for L4 and L7 (1-65535, default ${DEFAULT_KUBELET_PORT})
  --timeout-ms N   per-layer timeout in milliseconds (${MIN_TIMEOUT_MS}-${MAX_TIMEOUT_MS}, default ${DEFAULT_TIMEOUT_MS})
  --json           print the whole result as JSON instead of the table

Exit status: 0 healthy (no layer failed), 1 unhealthy (a layer failed, or
none could be tested), 2 bad usage.

Examples:
  nodewarden probe 10.62.0.30                  the MIG node of the 2025-08-25 outage
  nodewarden probe 10.62.0.30 --timeout-ms 1000 --json
  nodewarden probe fd00:10::30 --port 10250
  sudo nodewarden lab exec 85zt7 -- nodewarden probe 10.62.0.30
`;

const FLAGS = {
  port: { type: 'string' },
  'timeout-ms': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/**
 * `--timeout-ms -5` would otherwise be read as a flag named `-5`; joining it to
 * its flag lets the range check name the real problem.
 */
function joinNumericValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if ((arg === '--port' || arg === '--timeout-ms') && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i += 1;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Runs the probe command with any Prober; the CLI uses the Linux one. */
export async function runProbe(argv: readonly string[], io: Io, prober: Prober): Promise<number> {
  try {
    const { values, positionals } = parseFlags('probe', joinNumericValues(argv), FLAGS);
    const [ip, ...extra] = positionals;
    if (ip === undefined) {
      throw badInput('missing the node IP to probe', 'e.g. nodewarden probe 10.62.0.30');
    }
    if (extra.length > 0) {
      throw badInput(
        `unexpected argument "${extra.join(' ')}": probe takes exactly one IP`,
        'probe one node at a time, e.g. nodewarden probe 10.62.0.30 --port 10250',
      );
    }
    const port = intFlag('port', values.port, DEFAULT_KUBELET_PORT, 1, 65_535);
    const timeoutMs = intFlag(
      'timeout-ms',
      values['timeout-ms'],
      DEFAULT_TIMEOUT_MS,
      MIN_TIMEOUT_MS,
      MAX_TIMEOUT_MS,
    );
    // Checked here too, so that bad input is a usage error whatever the prober.
    const target = validateTarget({ ip, port, timeoutMs });
    const result = await prober.probe(target);
    io.out(values.json ? JSON.stringify(result, null, 2) + '\n' : renderProbe(result, timeoutMs));
    return result.verdict.healthy ? EXIT_OK : EXIT_UNHEALTHY;
  } catch (error) {
    return reportError('probe', error, io);
  }
}

export const command: Command = {
  name: 'probe',
  summary: 'probe one node at L2/L3/L4/L7 and say where it stops answering',
  help,
  run: (argv, io) => runProbe(argv, io, new LinuxProber()),
};

/** The table of "Commands and what they returned", then the verdict and what it means. */
export function renderProbe(result: ProbeResult, timeoutMs: number): string {
  const header = ['LAYER', 'EQUIVALENT COMMAND', 'RESULT', 'LATENCY', 'WHAT IT RETURNED'];
  const rows = result.layers.map((l) => [
    l.layer,
    l.command,
    l.status === 'failed' ? 'FAILED' : l.status,
    l.latencyMs === null ? '-' : formatMs(l.latencyMs),
    l.detail,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd() + '\n';
  const verdict = result.verdict.healthy ? 'HEALTHY' : 'UNHEALTHY';
  return (
    `probe ${result.target}: kubelet port ${result.port}, ${timeoutMs} ms per layer\n\n` +
    line(header) +
    rows.map(line).join('') +
    `\nverdict: ${verdict} — ${result.verdict.summary} (took ${formatMs(result.durationMs)})\n` +
    `meaning: ${meaning(result)}\n`
  );
}

/** Three significant digits below 100 ms (ping's own precision), whole ms above. */
function formatMs(ms: number): string {
  return ms < 100 ? `${Number(ms.toPrecision(3))} ms` : `${Math.round(ms)} ms`;
}

/** One sentence an on-call SRE can act on, from the lowest failed layer. */
function meaning(result: ProbeResult): string {
  const at = (layer: LayerResult['layer']) => result.layers.find((l) => l.layer === layer);
  const port = result.port;
  switch (result.verdict.failedLayer) {
    case null:
      return result.verdict.healthy
        ? `the node answers at every layer that could be tested; kubelet serves HTTPS on ${port}`
        : 'no layer could be tested from here: run as root, and check that ip, ping and arping are installed';
    case 'L2':
      return 'nothing answers ARP for this address on our link: the node is halted or its NIC/network stack is dead (the 2025-08-25 signature)';
    case 'L3':
      return 'no ICMP echo reply: the node or the path to it is down (if L2 was skipped, check the gateway too)';
    case 'L4':
      return at('L4')?.detail === 'ECONNREFUSED'
        ? `the host answered with a reset: it is up, but nothing listens on ${port} (kubelet down)`
        : `the TCP connect to ${port} failed: the node is down or the port is filtered`;
    case 'L7':
      return at('L4')?.status === 'ok'
        ? 'TCP connects but kubelet does not answer HTTPS: kubelet is hung or overloaded'
        : 'kubelet does not answer HTTPS';
  }
}
