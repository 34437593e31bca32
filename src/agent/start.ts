/**
 * The agent's composition root: the real probers, the HTTP client, the
 * saved plan, last words, and /healthz /readyz /metrics on the ops server.
 */
import { systemClock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import { DcgmExporterSampler, NvidiaSmiSampler, type GpuSampler } from '../gpu/gpu-sampler.ts';
import type { KernelLogSource } from '../gpu/kmsg-reader.ts';
import { LinuxProber } from '../probe/linux-prober.ts';
import { startOpsServer } from '../server/ops-server.ts';
import { Agent, type AgentSettings } from './agent.ts';
import { AgentMetrics } from './agent-metrics.ts';
import { ConnectProber } from './connect-prober.ts';
import { ControllerClient, TokenFile } from './controller-client.ts';
import { LastWords } from './last-words.ts';
import { PlanFile } from './plan-file.ts';
import { AGENT_FEATURES } from './protocol.ts';
import { probeReference } from '../probe/reference-probe.ts';

export interface AgentProcessOptions extends AgentSettings {
  readonly controller: string;
  readonly tokenFile: string;
  readonly listen: string;
  readonly stateDir: string;
  /** `/dev/kmsg` or a file; null: no kernel log. */
  readonly kmsg: string | null;
  /** DCGM exporter metrics URL; null: not used. */
  readonly dcgm: string | null;
  /** Use nvidia-smi (when no DCGM URL) and ask it for the GSP firmware version. */
  readonly nvidiaSmi: boolean;
  readonly uplink: string | null;
  readonly lastWordsIntervalMs: number;
  readonly requestTimeoutMs: number;
}

export interface RunningAgent {
  readonly port: number;
  readonly agent: Agent;
  readonly lastWords: LastWords;
  stop(): Promise<void>;
}

export async function startAgent(opts: AgentProcessOptions, log: Logger): Promise<RunningAgent> {
  const clock = systemClock;
  const tokens = new TokenFile(opts.tokenFile, clock);
  await tokens.token(); // fail at start on a missing or empty token file
  const controller = new ControllerClient({
    baseUrl: opts.controller,
    node: opts.node,
    token: () => tokens.token(),
    timeoutMs: opts.requestTimeoutMs,
    features: AGENT_FEATURES,
  });
  let agent: Agent | null = null;
  let lastWords: LastWords | null = null;
  const metrics = new AgentMetrics(
    {
      backlogSize: () => agent?.backlog.size ?? 0,
      backlogCapacity: () => agent?.backlog.capacity ?? 0,
      controllerReachable: () => agent?.controllerReachable === true,
      planTargets: () => agent?.plan?.targets.length ?? 0,
      planFromFile: () => agent?.planSource === 'file',
      lastWordsPending: () => lastWords?.pending() ?? 0,
    },
    { processMetrics: true },
  );
  agent = new Agent(opts, {
    quick: new ConnectProber(),
    full: new LinuxProber(),
    controller,
    clock,
    log,
    metrics,
    planFile: new PlanFile(opts.stateDir, log),
    references: probeReference,
  });
  const gpu: GpuSampler | undefined =
    opts.dcgm !== null
      ? new DcgmExporterSampler({ url: opts.dcgm })
      : opts.nvidiaSmi
        ? new NvidiaSmiSampler()
        : undefined;
  const kernelLog: KernelLogSource | undefined =
    opts.kmsg === null
      ? undefined
      : opts.kmsg === '/dev/kmsg'
        ? { kind: 'kmsg' }
        : { kind: 'file', path: opts.kmsg };
  lastWords = new LastWords({
    node: opts.node,
    controller,
    clock,
    log,
    metrics,
    uplink: opts.uplink,
    nvidiaSmi: opts.nvidiaSmi ? 'nvidia-smi' : null,
    intervalMs: opts.lastWordsIntervalMs,
    ...(gpu ? { gpu } : {}),
    ...(kernelLog ? { kernelLog } : {}),
  });
  const a = agent;
  const ops = await startOpsServer({
    listen: opts.listen,
    registry: metrics.registry,
    healthy: () => a.health(),
    ready: () =>
      a.plan === null
        ? { ok: false, reason: 'no probe plan yet (controller not reached, none saved)' }
        : { ok: true, reason: '' },
  });
  await a.start();
  lastWords.start();
  log.log('info', 'agent started', {
    controller: opts.controller,
    listen: opts.listen,
    port: ops.port,
    stateDir: opts.stateDir,
    kmsg: opts.kmsg,
    gpu: gpu?.source ?? null,
  });
  const lw = lastWords;
  return {
    port: ops.port,
    agent: a,
    lastWords: lw,
    async stop() {
      await lw.stop();
      await a.stop();
      await ops.close();
    },
  };
}
