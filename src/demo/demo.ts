import { DetectionLoop } from '../controller/detection-loop.ts';
import type { Incident } from '../core/incident.ts';
import { mttdSeconds, mttrSeconds } from '../core/incident.ts';
import { SimMesh } from '../sim/mesh.ts';
import { seedScenario } from '../sim/seed-scenario.ts';
import { SCENARIOS, type ScenarioName } from './scenarios.ts';

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
}

export const DEFAULT_DEMO: DemoOptions = {
  scenario: 'seed',
  speed: 20,
  maxSimMs: 20 * 60_000,
  timeZone: 'Asia/Seoul',
};

export interface DemoResult {
  readonly incidents: readonly Incident[];
  readonly wallSeconds: number;
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
  const loop = new DetectionLoop(sim, clock, mesh);
  await loop.start();

  print(`scenario ${scenario.name}: ${scenario.title}`);
  print(
    `cluster: ${sim.nodes().length} nodes (${mig} at 10.62.0.30, node-role=mig), ${sim.pods().length} pods; clock ×${options.speed}`,
  );
  let printedCommands = 0;
  let printedTransitions = 0;
  const flush = (): void => {
    for (const t of loop.transitions.slice(printedTransitions))
      print(`${at(t.at)}  detect    ${t.node.slice(-5)} ${t.from} → ${t.to}: ${t.reason}`);
    printedTransitions = loop.transitions.length;
    for (const { at: when, command } of loop.commands.slice(printedCommands)) {
      if (command.kind === 'open')
        print(
          `${at(when)}  INCIDENT  opened ${command.incident.id} (${command.incident.kind}): ${command.incident.summary}`,
        );
      else if (command.kind === 'append')
        for (const e of command.entries)
          print(`${at(Date.parse(e.at))}  timeline  ${e.kind}: ${e.message}`);
      else if (command.kind === 'resolve') print(`${at(when)}  INCIDENT  resolved ${command.id}`);
    }
    printedCommands = loop.commands.length;
  };

  const started = performance.now();
  const breakAt = seed.cutAt;
  const recoverAt = breakAt + scenario.recoverAfterMs;
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
    if (recovered && all.length > 0 && all.every((i) => i.status === 'resolved')) break;
    if (clock.now() - breakAt > options.maxSimMs) {
      print(`stopping: nothing resolved ${duration(options.maxSimMs / 1000)} after the fault`);
      break;
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  await loop.stop();

  print('');
  for (const incident of loop.incidents) {
    print(
      `summary: ${incident.id} — ${incident.kind} incident on ${incident.nodes.join(', ')}; ` +
        `MTTD ${duration(mttdSeconds(incident))} (the seed: 4 min, noticed after 3 h 24 min); ` +
        `MTTR ${duration(mttrSeconds(incident))} (the seed: 6 h 48 min); ${incident.timeline.length} timeline entries.`,
    );
  }
  return { incidents: loop.incidents, wallSeconds: (performance.now() - started) / 1000 };
}
