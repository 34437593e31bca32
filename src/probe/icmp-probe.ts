import { NodeWardenError } from '../core/errors.ts';
import type { LayerResult } from '../core/probe.ts';
import { runCommand } from '../host/command.ts';
import { parsePing } from './ping-parse.ts';
import { fractionalSeconds, sreCommands } from './sre-commands.ts';
import type { ValidTarget } from './target.ts';

/** ping stops itself at -W; this margin only catches a ping that hangs anyway. */
const KILL_MARGIN_MS = 500;

/**
 * L3: one ICMP echo with iputils ping, `-W` set to the layer timeout.
 * `Destination Host Unreachable` from our own kernel means ARP for an on-link
 * target failed (it takes ~3 s, so with -W 3 a dead on-link peer usually
 * shows as a timeout instead).
 */
export async function probeIcmp(target: ValidTarget, signal?: AbortSignal): Promise<LayerResult> {
  const command = sreCommands.ping(target.ip, target.timeoutMs);
  const args = [
    ...(target.family === 6 ? ['-6'] : []),
    '-n',
    '-c',
    '1',
    '-W',
    fractionalSeconds(target.timeoutMs),
    target.ip,
  ];
  const layer = (r: Omit<LayerResult, 'layer' | 'command'>): LayerResult => ({
    layer: 'L3',
    command,
    ...r,
  });
  let run;
  try {
    run = await runCommand('ping', args, {
      timeoutMs: target.timeoutMs + KILL_MARGIN_MS,
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if (error instanceof NodeWardenError && error.code === 'MISSING_TOOL') {
      return layer({ status: 'skipped', latencyMs: null, detail: 'ping is not installed' });
    }
    throw error;
  }
  if (signal?.aborted) return layer({ status: 'skipped', latencyMs: null, detail: 'aborted' });
  if (run.timedOut) {
    return layer({
      status: 'failed',
      latencyMs: null,
      detail: `timeout after ${target.timeoutMs} ms`,
    });
  }
  const outcome = parsePing(run.stdout + run.stderr);
  switch (outcome.kind) {
    case 'reply':
      return layer({
        status: 'ok',
        latencyMs: outcome.rttMs,
        detail: `reply in ${outcome.rttMs} ms`,
      });
    case 'icmp-error':
      return layer({
        status: 'failed',
        latencyMs: null,
        detail: `${outcome.message} (from ${outcome.from})`,
      });
    case 'no-reply':
      return layer({
        status: 'failed',
        latencyMs: null,
        detail: `timeout after ${target.timeoutMs} ms (100% packet loss)`,
      });
    case 'network-unreachable':
      return layer({ status: 'failed', latencyMs: null, detail: outcome.message });
    case 'needs-cap-net-raw':
      return layer({
        status: 'skipped',
        latencyMs: null,
        detail: `needs CAP_NET_RAW (ping: ${outcome.message})`,
      });
    case 'error':
      return layer({
        status: 'skipped',
        latencyMs: null,
        detail: `ping failed: ${outcome.message}`,
      });
  }
}
