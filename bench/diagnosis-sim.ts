/**
 * Incident open → root cause and report ready (design §9: ≤ 15 s), per
 * scenario on the simulated seed cluster: the seed's link-down, a stopped
 * kubelet, and a guest powered off (FakeCloud: Nova SHUTOFF by its power
 * sync). Times are simulated (probes wait their real 3 s timeouts on the
 * simulated clock) plus the wall time the process spent.
 *
 *   npx tsx bench/diagnosis-sim.ts   (the lab run: bench/diagnosis.ts)
 */
import { DetectionLoop } from '../src/controller/detection-loop.ts';
import { MemoryGpuHistory } from '../src/diagnose/gpu-history.ts';
import { diagnose } from '../src/diagnose/pipeline.ts';
import { fakeCloudFor, simNetworkSources } from '../src/diagnose/sim-sources.ts';
import { SimMesh } from '../src/sim/mesh.ts';
import { seedScenario, type SeedScenario } from '../src/sim/seed-scenario.ts';
import type { FakeCloud } from '../src/cloud/fake/fake-cloud.ts';

interface Scenario {
  readonly name: string;
  readonly breakIt: (seed: SeedScenario, cloud: FakeCloud) => void;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'seed link-down', breakIt: (s) => s.sim.cutNode(s.mig) },
  { name: 'kubelet-stop', breakIt: (s) => s.sim.stopKubelet(s.mig) },
  {
    name: 'power-off',
    breakIt: (s, cloud) => {
      s.sim.cutNode(s.mig);
      const id = (s.sim.node(s.mig)?.providerID ?? '').replace('openstack:///', '');
      cloud.hypervisorReports(id, 'SHUTDOWN');
    },
  },
];

async function runOne(scenario: Scenario): Promise<string[]> {
  const seed = seedScenario();
  const { sim, clock, mig } = seed;
  const mesh = new SimMesh(sim, clock);
  const loop = new DetectionLoop(sim, clock, mesh);
  const cloud = fakeCloudFor(sim, clock);
  const gpu = new MemoryGpuHistory('dcgm');
  for (let t = clock.now() - 240_000; t <= seed.cutAt; t += 15_000) {
    const used = t >= Date.parse('2025-08-25T03:57:30Z') ? 45.5 : 0;
    gpu.record(mig, { atMs: t, gpu: '0', migInstance: '1', migProfile: '1g.10gb', usedPct: used });
  }
  await loop.start();
  await clock.advanceAsync(seed.cutAt - clock.now());
  scenario.breakIt(seed, cloud);
  for (let i = 0; i < 1200 && loop.incidents.length === 0; i++) await clock.advanceAsync(50);
  const incident = loop.incidents[0];
  if (incident === undefined) return [`${scenario.name}: no incident within 60 s`];
  const wallStart = performance.now();
  let done = false;
  const pending = diagnose(
    incident,
    { cluster: sim, network: simNetworkSources(sim, clock, mesh), cloud, gpu, lastWords: null },
    { clock },
  ).finally(() => {
    done = true;
  });
  for (let i = 0; i < 2000 && !done; i++) await clock.advanceAsync(10);
  const d = await pending;
  const wallMs = performance.now() - wallStart;
  await loop.stop();
  const openToReady = Date.parse(d.verdict.decidedAt) - Date.parse(incident.openedAt);
  const lines = [
    `${scenario.name.padEnd(15)} ${d.verdict.rootCause.padEnd(18)} confidence ${d.verdict.confidence.toFixed(2)}  open → report ${(openToReady / 1000).toFixed(2)} s simulated, ${wallMs.toFixed(0)} ms wall  ${openToReady <= 15_000 ? 'within' : 'OVER'} the 15 s target`,
  ];
  lines.push(
    '    ' +
      d.timings
        .map(
          (t) =>
            `${t.source} ${(t.ms / 1000).toFixed(2)} s${t.status === 'ok' ? '' : ` (${t.status})`}`,
        )
        .join(' · '),
  );
  return lines;
}

const results: string[] = [];
for (const scenario of SCENARIOS) results.push(...(await runOne(scenario)));
console.log(
  'incident open → verdict and report (simulated seed cluster; per-source collection time)',
);
for (const line of results) console.log(line);
