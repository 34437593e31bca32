/**
 * Probes of the simulated cluster from one vantage point. Each fault gives
 * the answers the real layers give (design §3, measured in the lab), in the
 * words the Linux prober uses, after the time the real probe would take:
 *
 * | fault | L2 | L3 | L4 | L7 |
 * |---|---|---|---|---|
 * | link-down, first 30 s | no ARP reply (kernel neighbour: STALE) | timeout (100% packet loss) | timeout | connect timeout |
 * | link-down, after | no ARP reply (kernel neighbour: FAILED) | Destination Host Unreachable | timeout | connect timeout |
 * | kubelet-stop | reply | reply | ECONNREFUSED | ECONNREFUSED |
 * | kubelet-hang | reply | reply | connected | TLS handshake timeout |
 * | block-kubelet-port | reply | reply | timeout | connect timeout |
 * | partition (from this observer) | as link-down | | | |
 *
 * An address no node holds answers like a dead host.
 */
import type { Clock } from '../core/clock.ts';
import { badInput } from '../core/errors.ts';
import {
  probeVerdict,
  type LayerResult,
  type NeighbourState,
  type Prober,
  type ProbeResult,
  type ProbeTarget,
} from '../core/probe.ts';
import { sreCommands } from '../probe/sre-commands.ts';
import type { PathState } from './sim-cluster.ts';

/** The interface the simulated nodes use (the lab's too). */
const DEV = 'eth0';
/** Round-trip times on a quiet virtual network, ms. */
const RTT_MS = 0.4;
const CONNECT_MS = 0.6;
const HTTPS_MS = 2.5;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** What SimProber needs from the cluster. */
export interface SimPaths {
  readonly neighbourFailAfterMs: number;
  pathState(observer: string, ip: string): PathState;
  observerIp(observer: string): string | null;
}

export class SimProber implements Prober {
  constructor(
    private readonly paths: SimPaths,
    private readonly clock: Clock,
    private readonly observer: string,
  ) {}

  /** Resolves after the simulated probe time; rejects with the signal's reason when aborted. */
  async probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult> {
    if (!IPV4.test(target.ip)) {
      throw badInput(
        `"${target.ip}" is not an IPv4 address of the simulated cluster`,
        'pass a node InternalIP, e.g. 10.62.0.30',
      );
    }
    signal?.throwIfAborted();
    const started = this.clock.now();
    const { layers, durationMs } = this.answer(target, started);
    await this.clock.sleep(durationMs, signal);
    return {
      target: target.ip,
      port: target.port,
      startedAt: new Date(started).toISOString(),
      durationMs,
      layers,
      verdict: probeVerdict(layers),
    };
  }

  private answer(target: ProbeTarget, now: number): { layers: LayerResult[]; durationMs: number } {
    const { ip, port, timeoutMs } = target;
    const state = this.paths.pathState(this.observer, ip);
    const commands = {
      L2: sreCommands.arping(ip, DEV, timeoutMs),
      L3: sreCommands.ping(ip, timeoutMs),
      L4: sreCommands.nc(ip, port, timeoutMs),
      L7: sreCommands.curl(ip, port),
    };
    const ok = (
      layer: LayerResult['layer'],
      latencyMs: number,
      detail: string,
      neighbour?: NeighbourState,
    ): LayerResult => ({
      layer,
      status: 'ok',
      latencyMs,
      command: commands[layer],
      detail,
      ...(neighbour === undefined ? {} : { neighbourState: neighbour }),
    });
    const failed = (
      layer: LayerResult['layer'],
      detail: string,
      neighbour?: NeighbourState,
    ): LayerResult => ({
      layer,
      status: 'failed',
      latencyMs: null,
      command: commands[layer],
      detail,
      ...(neighbour === undefined ? {} : { neighbourState: neighbour }),
    });
    const arpOk = ok(
      'L2',
      RTT_MS,
      `ARP reply from ${macOf(ip)} in ${RTT_MS} ms (kernel neighbour: REACHABLE)`,
      'REACHABLE',
    );
    const pingOk = ok('L3', RTT_MS, `reply in ${RTT_MS} ms`);
    const timeout = `timeout after ${timeoutMs} ms`;
    switch (state.kind) {
      case 'no-host':
      case 'link-down': {
        // The kernel keeps the old entry (STALE/DELAY) for a while; ping only
        // says "Destination Host Unreachable" once the entry has failed.
        const decayed =
          state.kind === 'no-host' || now - state.since >= this.paths.neighbourFailAfterMs;
        const neighbour: NeighbourState = decayed ? 'FAILED' : 'STALE';
        const from = this.paths.observerIp(this.observer) ?? '0.0.0.0';
        return {
          durationMs: timeoutMs,
          layers: [
            failed('L2', `no ARP reply (kernel neighbour: ${neighbour})`, neighbour),
            failed(
              'L3',
              decayed
                ? `Destination Host Unreachable (from ${from})`
                : `${timeout} (100% packet loss)`,
            ),
            failed('L4', timeout),
            failed('L7', `connect timeout after ${timeoutMs} ms`),
          ],
        };
      }
      case 'kubelet-stopped':
        return {
          durationMs: CONNECT_MS,
          layers: [arpOk, pingOk, failed('L4', 'ECONNREFUSED'), failed('L7', 'ECONNREFUSED')],
        };
      case 'kubelet-hung':
        return {
          durationMs: timeoutMs,
          layers: [
            arpOk,
            pingOk,
            ok('L4', CONNECT_MS, `connected to port ${port}`),
            failed('L7', `TLS handshake timeout after ${timeoutMs} ms`),
          ],
        };
      case 'port-blocked':
        return {
          durationMs: timeoutMs,
          layers: [
            arpOk,
            pingOk,
            failed('L4', timeout),
            failed('L7', `connect timeout after ${timeoutMs} ms`),
          ],
        };
      case 'ok':
        return {
          durationMs: HTTPS_MS,
          layers: [
            arpOk,
            pingOk,
            ok('L4', CONNECT_MS, `connected to port ${port}`),
            // Kubelet answers an anonymous /healthz with 401: alive.
            ok('L7', HTTPS_MS, 'HTTP 401'),
          ],
        };
    }
  }
}

/** OpenStack's fa:16:3e prefix and the address's last three octets: stable per node. */
function macOf(ip: string): string {
  const octets = ip
    .split('.')
    .slice(1)
    .map((o) => Number(o).toString(16).padStart(2, '0'));
  return ['fa', '16', '3e', ...octets].join(':');
}
