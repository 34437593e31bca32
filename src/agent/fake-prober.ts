/**
 * A working Prober over a table of peer states, for tests and demos of the
 * agent: answers the way the Linux probes answer each fault (design §3) and
 * records every call. `mode: 'l4'` answers like ConnectProber (one layer),
 * `'full'` like LinuxProber (four).
 */
import { badInput } from '../core/errors.ts';
import {
  probeVerdict,
  type LayerResult,
  type Prober,
  type ProbeResult,
  type ProbeTarget,
} from '../core/probe.ts';
import { sreCommands } from '../probe/sre-commands.ts';

/** `kubelet-down`: host up, nothing on the port (ECONNREFUSED); `host-down`: nothing answers. */
export type FakePeerState = 'up' | 'kubelet-down' | 'host-down';

export class FakeProber implements Prober {
  /** The addresses probed, in order. */
  readonly calls: string[] = [];

  constructor(
    readonly mode: 'l4' | 'full',
    /** State by IP; an address not in the table is `up`. */
    readonly states: Map<string, FakePeerState> = new Map(),
    private readonly now: () => number = Date.now,
  ) {}

  probe(target: ProbeTarget, signal?: AbortSignal): Promise<ProbeResult> {
    signal?.throwIfAborted();
    if (!/^[0-9a-fA-F.:]+$/.test(target.ip)) {
      return Promise.reject(badInput(`"${target.ip}" is not an IP address`, 'pass an InternalIP'));
    }
    this.calls.push(target.ip);
    const state = this.states.get(target.ip) ?? 'up';
    const { ip, port, timeoutMs } = target;
    const l4: LayerResult =
      state === 'up'
        ? {
            layer: 'L4',
            status: 'ok',
            latencyMs: 0.6,
            command: sreCommands.nc(ip, port, timeoutMs),
            detail: `connected to port ${port}`,
          }
        : {
            layer: 'L4',
            status: 'failed',
            latencyMs: null,
            command: sreCommands.nc(ip, port, timeoutMs),
            detail: state === 'kubelet-down' ? 'ECONNREFUSED' : `timeout after ${timeoutMs} ms`,
          };
    const layers: LayerResult[] =
      this.mode === 'l4'
        ? [l4]
        : [
            state === 'host-down'
              ? {
                  layer: 'L2',
                  status: 'failed',
                  latencyMs: null,
                  command: sreCommands.arping(ip, 'eth0', timeoutMs),
                  detail: 'no ARP reply (kernel neighbour: FAILED)',
                  neighbourState: 'FAILED',
                }
              : {
                  layer: 'L2',
                  status: 'ok',
                  latencyMs: 0.3,
                  command: sreCommands.arping(ip, 'eth0', timeoutMs),
                  detail: 'ARP reply',
                  neighbourState: 'REACHABLE',
                },
            state === 'host-down'
              ? {
                  layer: 'L3',
                  status: 'failed',
                  latencyMs: null,
                  command: sreCommands.ping(ip, timeoutMs),
                  detail: 'Destination Host Unreachable',
                }
              : {
                  layer: 'L3',
                  status: 'ok',
                  latencyMs: 0.4,
                  command: sreCommands.ping(ip, timeoutMs),
                  detail: 'reply',
                },
            l4,
            state === 'up'
              ? {
                  layer: 'L7',
                  status: 'ok',
                  latencyMs: 2.5,
                  command: sreCommands.curl(ip, port),
                  detail: 'HTTP 401',
                }
              : {
                  layer: 'L7',
                  status: 'failed',
                  latencyMs: null,
                  command: sreCommands.curl(ip, port),
                  detail: state === 'kubelet-down' ? 'ECONNREFUSED' : 'connect timeout',
                },
          ];
    return Promise.resolve({
      target: ip,
      port,
      startedAt: new Date(this.now()).toISOString(),
      durationMs: state === 'up' ? 3 : 10,
      layers,
      verdict: probeVerdict(layers),
    });
  }
}
