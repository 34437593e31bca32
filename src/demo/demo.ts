import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectionLoop } from '../controller/detection-loop.ts';
import type { RootCause, Incident } from '../core/incident.ts';
import { MemoryGpuHistory } from '../diagnose/gpu-history.ts';
import { diagnose, type Diagnosis } from '../diagnose/pipeline.ts';
import { fakeCloudFor, simNetworkSources } from '../diagnose/sim-sources.ts';
import { mttdSeconds, mttrSeconds } from '../core/incident.ts';
import { SimMesh } from '../sim/mesh.ts';
import { seedScenario } from '../sim/seed-scenario.ts';
import { SCENARIOS, type ScenarioName } from './scenarios.ts';
import { silentLogger, type Logger } from '../core/logger.ts';
import type { NodeHealth } from '../core/incident.ts';
import { DEFAULT_POLICY } from '../core/remediation-policy.ts';
import type { BrakeState } from '../core/remediation-brakes.ts';
import type { Remediation } from '../core/remediation.ts';
import { remediationIncidents, RemediationExecutor } from '../remediate/executor.ts';
import { healSimNodeOnBoot } from '../remediate/sim-boot.ts';
import { storeSink } from '../controller/store-sink.ts';
import { recordDiagnosis } from '../diagnose/stored.ts';
import { openStore } from '../store/open.ts';
import { NoAuth, type ApiAuthenticator } from '../server/api/auth.ts';
import { EventHub, observedStore } from '../server/api/events.ts';
import { LiveReadModel } from '../server/api/read-model.ts';
import { serveApi, type Serving } from '../server/api/serve.ts';

/**
 * The whole detection pipeline in one process on the simulated cluster,
 * network and clock: the 2025-08-25 cluster at 12:57 KST, every node's agent
 * and the controller probing at 1 Hz, Kubernetes' own node lifecycle timing,
 * and the controller's detection loop. The simulated clock runs `speed`
 * times faster than the wall clock; every decision is printed as it happens.
 */
export interface DemoOptions {
  readonly scenario: ScenarioName;
  /** Simulated seconds per wall-clock second. */
  readonly speed: number;
  /** Stop this long (simulated) after the scenario's break if nothing resolves. */
  readonly maxSimMs: number;
  /** IANA zone for printed times; the seed's cluster ran in Asia/Seoul. */
  readonly timeZone: string;
  /** Where the incident reports are written; default a new directory under the system temp dir. */
  readonly reportDir?: string;
  /**
   * Serve the HTTP API and the dashboard here while the demo runs, without
   * authentication (so: loopback only); null serves nothing.
   */
  readonly serve: { readonly host: string; readonly port: number } | null;
  /** After the summary, keep the simulated cluster running and serving until the signal aborts. */
  readonly keepServing: boolean;
  /** The built dashboard; default dist/web of this package. */
  readonly webRoot?: string;
  /** Called with the dashboard URL once the server listens. */
  readonly onListening?: (url: string) => void;
  readonly version?: string;
  /** The API server's log (requests, failures); default silent. */
  readonly log?: Logger;
  /** Who may call the API; default nobody is asked (NoAuth), which is why it listens on loopback. */
  readonly auth?: ApiAuthenticator;
}

export const DEFAULT_DEMO: DemoOptions = {
  scenario: 'seed',
  speed: 20,
  maxSimMs: 20 * 60_000,
  timeZone: 'Asia/Seoul',
  serve: null,
  keepServing: false,
};

/** How long the simulated VM takes to boot after a reboot through FakeCloud. */
export const DEMO_BOOT_DELAY_MS = 60_000;

/** The demo's default port (`--port`). */
export const DEFAULT_DEMO_PORT = 8080;

export interface DemoReport {
  readonly incidentId: string;
  readonly rootCause: RootCause;
  readonly confidence: number;
  /** Incident open → verdict and report written, simulated ms. */
  readonly totalMs: number;
  readonly en: string;
  readonly ko: string;
  readonly json: string;
}

export interface DemoResult {
  readonly incidents: readonly Incident[];
  readonly wallSeconds: number;
  /** One per incident opened, diagnosed at open. */
  readonly reports: readonly DemoReport[];
  /** What the remediation ladder did, as its control reports it. */
  readonly remediations: readonly Remediation[];
}

/**
 * DCGM's view of the MIG node: MIG instance 1's memory at 0% until 12:57:30
 * KST, then 45.5% (the seed's Grafana); instance 2 idle. Prometheus already
 * holds the minutes before the demo starts; afterwards a scrape every 15 s
 * lands only while the node's link is up.
 */
function feedSeedGpu(
  gpu: MemoryGpuHistory,
  node: string,
  clock: { now(): number; setTimer(ms: number, fn: () => void): { cancel(): void } },
  linkUp: () => boolean,
): { cancel(): void } {
  const riseAt = Date.parse('2025-08-25T03:57:30Z');
  const scrape = (t: number): void => {
    const used = t >= riseAt ? 45.5 : 0;
    gpu.record(node, { atMs: t, gpu: '0', migInstance: '1', migProfile: '1g.10gb', usedPct: used });
    gpu.record(node, { atMs: t, gpu: '0', migInstance: '2', migProfile: '1g.10gb', usedPct: 0 });
  };
  for (let t = clock.now() - 4 * 60_000; t < clock.now(); t += 15_000) scrape(t);
  let timer = { cancel: () => undefined as void };
  const tick = (): void => {
    if (linkUp()) scrape(clock.now());
    timer = clock.setTimer(15_000, tick);
  };
  tick();
  return { cancel: () => timer.cancel() };
}

function clockFormat(timeZone: string): (ms: number) => string {
  const fmt = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  });
  const zone = timeZone === 'Asia/Seoul' ? 'KST' : timeZone;
  return (ms) => `${fmt.format(new Date(ms))} ${zone}`;
}

const duration = (s: number | null): string =>
  s === null
    ? 'n/a'
    : s < 120
      ? `${s.toFixed(1)} s`
      : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;

/** Why nothing was remediated: the cause has no ladder (by design), or the brakes held. */
function noRemediation(rootCause: RootCause | null, brakes: readonly BrakeState[]): string {
  if (rootCause !== null && DEFAULT_POLICY.ladders[rootCause] === undefined)
    return `${rootCause} has no ladder (a reboot does not fix it)`;
  const engaged = [...new Set(brakes.filter((b) => b.engaged).map((b) => b.name))];
  return engaged.length > 0 ? `held by the brakes (${engaged.join(', ')})` : 'no verdict to act on';
}

export async function runDemo(
  options: DemoOptions,
  print: (line: string) => void,
  signal?: AbortSignal,
): Promise<DemoResult> {
  const scenario = SCENARIOS[options.scenario];
  const seed = seedScenario();
  const { clock, sim, mig, survivors } = seed;
  const at = clockFormat(options.timeZone);
  const mesh = new SimMesh(sim, clock);
  // A reboot through the cloud finishes after a VM's boot time and brings the simulated node back.
  const cloud = fakeCloudFor(sim, clock, { bootDelayMs: DEMO_BOOT_DELAY_MS });
  healSimNodeOnBoot(cloud, sim);
  const gpu = new MemoryGpuHistory('dcgm');
  const scrapes = feedSeedGpu(gpu, mig, clock, () => sim.canReport(mig));
  const network = simNetworkSources(sim, clock, mesh);
  const reportDir = options.reportDir ?? (await mkdtemp(join(tmpdir(), 'nodewarden-demo-')));
  // The same store the controller writes (in memory): the API reads incidents, diagnoses and audits from it.
  const hub = new EventHub();
  const log = options.log ?? silentLogger;
  const store = observedStore(await openStore('sqlite::memory:'), hub, (error) =>
    log.log('warn', 'could not publish a store change', {
      error: error instanceof Error ? error.message : String(error),
    }),
  );
  await mkdir(reportDir, { recursive: true });
  const reports: DemoReport[] = [];
  // Diagnosis lines are printed after the decisions of the same tick, in time order.
  const queued: { at: number; line: string }[] = [];
  const later = (when: number, line: string): void => {
    queued.push({ at: when, line });
  };
  const diagnoses: Promise<void>[] = [];
  let running = 0;
  const diagnoseAtOpen = (incident: Incident): void => {
    running += 1;
    const job = diagnose(
      incident,
      { cluster: sim, network, cloud, gpu, lastWords: null },
      {
        clock,
        zone: options.timeZone,
        onStep: (source, status, ms, summary) => {
          if (status === 'started') return;
          later(
            clock.now(),
            `${at(clock.now())}  diagnose  ${source.padEnd(10)} ${status.padEnd(7)} ${(ms / 1000).toFixed(1).padStart(5)} s  ${summary}`,
          );
        },
      },
    )
      .then(async (d: Diagnosis) => {
        const base = join(reportDir, incident.id);
        const files = { en: `${base}.en.md`, ko: `${base}.ko.md`, json: `${base}.json` };
        // Verdict and report exist when the pipeline returns; storing and writing take wall time only.
        const decidedAt = Date.parse(d.verdict.decidedAt);
        const readyMs = decidedAt - Date.parse(incident.openedAt);
        later(
          decidedAt,
          `${at(decidedAt)}  VERDICT   ${d.verdict.rootCause} (confidence ${d.verdict.confidence}, rule ${d.verdict.rule}) ${(readyMs / 1000).toFixed(1)} s after the incident opened; report: ${files.en}`,
        );
        await Promise.all([
          writeFile(files.en, d.report.en),
          writeFile(files.ko, d.report.ko),
          writeFile(files.json, d.report.json),
        ]);
        // Kept with the incident as the controller keeps it, once the incident itself is stored.
        await loop.flushed();
        await recordDiagnosis(store, incident, d, 'controller/demo');
        // The verdict on the incident is what the remediation ladder chooses its ladder by.
        await store.updateIncident(incident.id, { rootCause: d.verdict.rootCause });
        reports.push({
          incidentId: incident.id,
          rootCause: d.verdict.rootCause,
          confidence: d.verdict.confidence,
          totalMs: readyMs,
          ...files,
        });
      })
      .catch((error: unknown) => {
        print(
          `${at(clock.now())}  diagnose  failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      })
      .finally(() => {
        running -= 1;
      });
    diagnoses.push(job);
  };
  // The sink sees each decision at its simulated instant: the diagnosis starts the moment the incident opens.
  // The demo prints every decision itself; the sink's own log lines would repeat them.
  const toStore = storeSink(store, silentLogger, () => undefined);
  const loop = new DetectionLoop(sim, clock, mesh, {
    sink: (commands, incidents) => {
      for (const command of commands) if (command.kind === 'open') diagnoseAtOpen(command.incident);
      return toStore(commands, incidents);
    },
    onSinkError: (error) =>
      print(
        `could not record an incident change: ${error instanceof Error ? error.message : String(error)}`,
      ),
    onTransitions: (transitions) => {
      for (const t of transitions)
        hub.publish({
          type: 'node',
          node: t.node,
          from: t.from,
          to: t.to,
          at: new Date(t.at).toISOString(),
          reason: t.reason,
        });
    },
  });
  await loop.start();

  const executor = new RemediationExecutor({
    view: sim,
    writer: sim,
    cloud,
    store,
    clock,
    log,
    policy: DEFAULT_POLICY,
    policySource: 'built-in (demo)',
    mode: scenario.remediation,
    actor: 'controller/demo',
    isLeader: () => true,
    assertLeader: () => undefined,
    health: () => {
      const out = new Map<string, NodeHealth>();
      for (const [n, st] of loop.state?.nodes ?? []) out.set(n, st.health);
      return out;
    },
    incidents: (underWay) => remediationIncidents(store, underWay),
    onEvent: (e) =>
      later(
        Date.parse(e.at),
        `${at(Date.parse(e.at))}  remediate ${e.action.padEnd(15)} ${e.result.padEnd(17)} ${e.reason}${e.approvedBy === null ? '' : ` (approved by ${e.approvedBy})`}`,
      ),
  });
  executor.start();

  let serving: Serving | null = null;
  try {
    if (options.serve !== null) {
      const model = new LiveReadModel({
        mode: 'demo',
        version: options.version ?? 'dev',
        speed: options.speed,
        zone: options.timeZone,
        scenario: scenario.name,
        clock,
        view: sim,
        loop,
        observations: mesh,
        store,
        hub,
        gpu,
        remediation: executor,
        synced: () => true,
      });
      serving = await serveApi({
        ...options.serve,
        portFlag: '--port',
        model,
        auth: options.auth ?? new NoAuth(),
        log,
        ...(options.webRoot === undefined ? {} : { webRoot: options.webRoot }),
        ready: () => ({ ok: true, reason: '' }),
      });
      print(
        options.auth === undefined
          ? `dashboard: ${serving.url}  (HTTP API at ${serving.url}api/v1/ — no authentication, so it listens on ${options.serve.host} only)`
          : `dashboard: ${serving.url}  (HTTP API at ${serving.url}api/v1/, ${options.auth.mode} authentication)`,
      );
      options.onListening?.(serving.url);
    }

    print(`scenario ${scenario.name}: ${scenario.title}`);
    print(
      `cluster: ${sim.nodes().length} nodes (${mig} at 10.62.0.30, node-role=mig), ${sim.pods().length} pods; clock ×${options.speed}; remediation ${scenario.remediation} (FakeCloud reboots take ${DEMO_BOOT_DELAY_MS / 1000} s)`,
    );
    let printedCommands = 0;
    let printedTransitions = 0;
    const flush = (): void => {
      for (const t of loop.transitions.slice(printedTransitions))
        print(`${at(t.at)}  detect    ${t.node.slice(-5)} ${t.from} → ${t.to}: ${t.reason}`);
      printedTransitions = loop.transitions.length;
      for (const { at: when, command } of loop.commands.slice(printedCommands)) {
        if (command.kind === 'open') {
          print(
            `${at(when)}  INCIDENT  opened ${command.incident.id} (${command.incident.kind}): ${command.incident.summary}`,
          );
        } else if (command.kind === 'append')
          for (const e of command.entries)
            print(`${at(Date.parse(e.at))}  timeline  ${e.kind}: ${e.message}`);
        else if (command.kind === 'resolve') print(`${at(when)}  INCIDENT  resolved ${command.id}`);
      }
      printedCommands = loop.commands.length;
      queued.sort((a, b) => a.at - b.at);
      for (const q of queued.splice(0)) print(q.line);
    };

    const started = performance.now();
    const breakAt = seed.cutAt;
    const recoverAt =
      scenario.recoverAfterMs === null ? Infinity : breakAt + scenario.recoverAfterMs;
    let broken = false;
    let recovered = false;
    const tickMs = 50;
    while (!signal?.aborted) {
      const target = clock.now() + tickMs * options.speed;
      if (!broken && target >= breakAt) {
        await clock.advanceAsync(breakAt - clock.now());
        flush();
        print(`${at(clock.now())}  FAULT     ${scenario.breakIt(sim, mig, survivors)}`);
        broken = true;
      } else if (broken && !recovered && target >= recoverAt) {
        await clock.advanceAsync(recoverAt - clock.now());
        flush();
        print(`${at(clock.now())}  RECOVER   ${scenario.recoverIt(sim, mig, survivors)}`);
        recovered = true;
      } else {
        await clock.advanceAsync(target - clock.now());
      }
      flush();
      const all = loop.incidents;
      const recoveredAny = recovered || scenario.recoverAfterMs === null;
      if (
        recoveredAny &&
        running === 0 &&
        all.length > 0 &&
        all.every((i) => i.status === 'resolved')
      )
        break;
      if (clock.now() - breakAt > options.maxSimMs) {
        print(`stopping: nothing resolved ${duration(options.maxSimMs / 1000)} after the fault`);
        break;
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
    const wallSeconds = (performance.now() - started) / 1000;
    // Diagnoses still waiting on the simulated clock when the demo was stopped never finish.
    if (running === 0) await Promise.all(diagnoses);

    print('');
    const remediations = executor.overview().remediations;
    // The store's copy: its timeline also holds what remediation and diagnosis added.
    const stored = new Map((await store.listIncidents({ limit: 50 })).map((i) => [i.id, i]));
    for (const detected of loop.incidents) {
      const incident = stored.get(detected.id) ?? detected;
      const r = reports.find((x) => x.incidentId === incident.id);
      const rem = remediations.find((x) => x.incidentId === incident.id);
      const did = rem?.steps
        .filter((st) => st.status === 'succeeded')
        .map((st) => st.step)
        .join(', ');
      print(
        `summary: ${incident.kind} incident ${incident.id} on ${incident.nodes.join(', ')}. ` +
          `Detected ${duration(mttdSeconds(incident))} after the last heartbeat (MTTD; the seed's was noticed after 3 h 24 min). ` +
          (r === undefined
            ? 'No verdict. '
            : `Verdict ${r.rootCause} (confidence ${r.confidence}) ${(r.totalMs / 1000).toFixed(1)} s after opening; report: ${r.en} (Korean: ${r.ko}, JSON: ${r.json}). `) +
          (rem === undefined
            ? `Remediation (${scenario.remediation}): none — ${noRemediation(r?.rootCause ?? null, executor.overview().brakes)}. `
            : `Remediation (${rem.mode}): ${rem.status}${did ? ` — ${did}` : ''}. `) +
          `${incident.status === 'resolved' ? `Resolved, MTTR ${duration(mttrSeconds(incident))}` : 'Still open'} (the seed: 6 h 48 min); ${incident.timeline.length} timeline entries.`,
      );
    }
    const result = { incidents: loop.incidents, wallSeconds, reports, remediations };
    if (serving !== null && options.keepServing && !signal?.aborted) {
      print(`still serving ${serving.url} with the simulated cluster running on — Ctrl-C stops`);
      while (!signal?.aborted) {
        await clock.advanceAsync(tickMs * options.speed);
        flush();
        await new Promise((r) => setTimeout(r, tickMs));
      }
    }
    return result;
  } finally {
    await executor.stop();
    await loop.stop();
    scrapes.cancel();
    await loop.flushed();
    await serving?.close();
    await store.close();
  }
}
