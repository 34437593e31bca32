import { access, mkdir, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { NodeWardenError } from '../core/errors.ts';
import { startDaemon } from './daemon.ts';
import { fetchIn } from './netns.ts';
import { GPU_SIM_PORT } from './lab-gpu.ts';
import { processArgv, processState, terminate, type ProcessState } from './standin-process.ts';
import { labPaths, readState, type LabState } from './state.ts';

/**
 * The lab's Prometheus: Debian's `/usr/bin/prometheus` inside the hub
 * namespace on <hub>:9090, scraping every GPU simulator (:9400) and every
 * agent (:9465) with a `node` label, as a cluster's Prometheus scrapes the
 * DCGM exporter and the agents' DaemonSet. The controller's GPU collector
 * queries it over the HTTP API (range queries on DCGM_FI_DEV_FB_USED/FREE and
 * XID_ERRORS). Storage lives in `<lab dir>/prometheus/data`, thrown away
 * with the lab.
 */

export const PROMETHEUS_PORT = 9090;
/** The agent's /metrics port (its default `--listen :9465`). */
export const AGENT_METRICS_PORT = 9465;
/** GPU series every second, so a ramp of a few seconds shows; agents every two. */
export const GPU_SCRAPE_INTERVAL_S = 1;
export const AGENT_SCRAPE_INTERVAL_S = 2;
const DEFAULT_BINARY = '/usr/bin/prometheus';

/** What `lab up` records about the lab's Prometheus. */
export interface PrometheusRecord {
  /** Base URL of the HTTP API, reachable from the hub (and the nodes): `http://10.62.0.1:9090`. */
  readonly url: string;
  readonly pid: number;
  readonly pidFile: string;
  readonly logFile: string;
  readonly configFile: string;
  readonly dataDir: string;
}

/** The Prometheus binary: `NODEWARDEN_PROMETHEUS` when set, else Debian's. */
export function prometheusBinary(env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env['NODEWARDEN_PROMETHEUS'];
  return fromEnv === undefined || fromEnv === '' ? DEFAULT_BINARY : fromEnv;
}

export function prometheusDir(dir: string): string {
  return join(dir, 'prometheus');
}

/** Quotes a YAML scalar (JSON strings are valid YAML flow scalars). */
const q = (s: string): string => JSON.stringify(s);

/**
 * The scrape configuration for the lab's nodes (pure): one static target per
 * GPU simulator in job `dcgm` and, with a control plane (agents run only
 * then), one per agent in job `nodewarden-agent`, each labelled
 * `node: <node name>`. The simulators also carry dcgm-exporter's own
 * `Hostname` label, which the GPU collector selects on by default.
 */
export function prometheusConfig(state: Pick<LabState, 'nodes' | 'controlPlane'>): string {
  const target = (ip: string, port: number, node: string): string =>
    `      - targets: [${q(`${ip}:${port}`)}]\n        labels: { node: ${q(node)} }\n`;
  const gpuNodes = state.nodes.filter((n) => n.gpu !== undefined);
  const lines = [
    '# Written by nodewarden lab up; rewritten on every lab up.',
    'global:',
    `  scrape_interval: ${AGENT_SCRAPE_INTERVAL_S}s`,
    `  scrape_timeout: ${AGENT_SCRAPE_INTERVAL_S}s`,
    '  evaluation_interval: 15s',
    'scrape_configs:',
  ];
  let text = lines.join('\n') + '\n';
  if (gpuNodes.length > 0) {
    text +=
      '  - job_name: dcgm\n' +
      `    scrape_interval: ${GPU_SCRAPE_INTERVAL_S}s\n` +
      `    scrape_timeout: ${GPU_SCRAPE_INTERVAL_S}s\n` +
      '    static_configs:\n' +
      gpuNodes.map((n) => target(n.ip, n.gpu?.port ?? GPU_SIM_PORT, n.name)).join('');
  }
  if (state.controlPlane !== undefined && state.nodes.length > 0) {
    text +=
      '  - job_name: nodewarden-agent\n' +
      '    static_configs:\n' +
      state.nodes.map((n) => target(n.ip, AGENT_METRICS_PORT, n.name)).join('');
  }
  return text;
}

/**
 * Starts Prometheus in the hub and waits until `/-/ready` answers. A missing
 * binary is NOT_FOUND with the package to install (or `--no-prometheus`).
 */
export async function startPrometheus(
  state: LabState,
  env: Readonly<Record<string, string | undefined>> = process.env,
  waitMs = 60_000,
): Promise<PrometheusRecord> {
  const binary = prometheusBinary(env);
  try {
    await access(binary, constants.X_OK);
  } catch (error) {
    throw new NodeWardenError('NOT_FOUND', `no Prometheus at ${binary}`, {
      hint: 'install Debian’s package (apt-get install prometheus), set NODEWARDEN_PROMETHEUS to a prometheus binary, or run lab up --no-prometheus',
      cause: error,
    });
  }
  const paths = labPaths(state.dir);
  const home = prometheusDir(state.dir);
  const dataDir = join(home, 'data');
  const configFile = join(home, 'prometheus.yml');
  await mkdir(dataDir, { recursive: true });
  await writeFile(configFile, prometheusConfig(state));
  const listen = `${state.hub.ip}:${PROMETHEUS_PORT}`;
  const record: PrometheusRecord = {
    url: `http://${listen}`,
    pid: 0,
    pidFile: join(paths.run, 'prometheus.pid'),
    logFile: join(paths.logs, 'prometheus.log'),
    configFile,
    dataDir,
  };
  // Flags and values as separate words, so the lab directory starts an argument
  // (lab down recognises its processes by that).
  const pid = startDaemon({
    argv: [
      binary,
      '--config.file',
      configFile,
      '--storage.tsdb.path',
      dataDir,
      '--storage.tsdb.retention.time',
      '1d',
      '--web.listen-address',
      listen,
      '--log.level',
      'warn',
    ],
    logFile: record.logFile,
    namespace: state.hub.namespace,
  });
  await writeFile(record.pidFile, `${pid}\n`);
  const deadline = Date.now() + waitMs;
  let last = 'no answer yet';
  for (;;) {
    const st = await processState(pid);
    if (st === 'gone' || st === 'zombie') {
      throw new NodeWardenError('COMMAND_FAILED', `Prometheus exited at start`, {
        hint: `see ${record.logFile}`,
      });
    }
    const ready = await fetchIn(state.hub.namespace, `${record.url}/-/ready`, 2_000);
    if (ready.ok) return { ...record, pid };
    last = ready.error;
    if (Date.now() > deadline) {
      await terminate([pid], 2_000);
      throw new NodeWardenError(
        'TIMEOUT',
        `Prometheus in ${state.hub.namespace} was not ready within ${waitMs / 1000} s (${last})`,
        { hint: `see ${record.logFile}; the machine may be overloaded` },
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface PrometheusStatus {
  readonly url: string;
  readonly pid: number;
  readonly process: ProcessState;
  /** Scrape targets by health, from `/api/v1/targets`; null when Prometheus did not answer. */
  readonly targets: { readonly up: number; readonly total: number; readonly down: string[] } | null;
  readonly error: string | null;
}

/** Whether `pid` is still the lab's Prometheus (its argv names the config file). */
async function isLabPrometheus(record: PrometheusRecord): Promise<boolean> {
  const argv = await processArgv(record.pid);
  return argv !== null && argv.includes(record.configFile);
}

/** The process and its scrape targets as Prometheus reports them. */
export async function prometheusStatus(
  hub: string,
  record: PrometheusRecord,
): Promise<PrometheusStatus> {
  const alive = await isLabPrometheus(record);
  const process: ProcessState = alive ? await processState(record.pid) : 'gone';
  if (process !== 'running') {
    return {
      url: record.url,
      pid: record.pid,
      process,
      targets: null,
      error: `Prometheus ${process}`,
    };
  }
  const got = await fetchIn(hub, `${record.url}/api/v1/targets?state=active`, 3_000);
  if (!got.ok)
    return { url: record.url, pid: record.pid, process, targets: null, error: got.error };
  try {
    const parsed = JSON.parse(got.body) as {
      data?: { activeTargets?: { health?: string; labels?: Record<string, string> }[] };
    };
    const active = parsed.data?.activeTargets ?? [];
    const down = active
      .filter((t) => t.health !== 'up')
      .map(
        (t) => `${t.labels?.['job'] ?? '?'}/${t.labels?.['node'] ?? t.labels?.['instance'] ?? '?'}`,
      );
    return {
      url: record.url,
      pid: record.pid,
      process,
      targets: { up: active.length - down.length, total: active.length, down },
      error: null,
    };
  } catch {
    return {
      url: record.url,
      pid: record.pid,
      process,
      targets: null,
      error: `${record.url}/api/v1/targets answered no JSON`,
    };
  }
}

/** The URL of the Prometheus `lab up` started in the lab in `dir`; null without a lab or with --no-prometheus. */
export async function labPrometheusUrl(dir: string): Promise<string | null> {
  return (await readState(dir))?.prometheus?.url ?? null;
}
