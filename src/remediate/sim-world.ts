/**
 * Remediation on the simulated 2025-08-25 cluster (tests, bench/recovery.ts,
 * the demo): the simulated cluster
 * (SimCluster also as the ClusterWriter), the detection loop writing
 * incidents to a real SQLite store, and a FakeCloud whose reboots finish
 * after BOOT_DELAY_MS and bring the simulated node back. Node incidents get
 * NODE_HALTED as the diagnosis would give them (tested in src/diagnose).
 */
import { DetectionLoop } from '../controller/detection-loop.ts';
import { storeSink } from '../controller/store-sink.ts';
import { parseProviderID } from '../core/cloud.ts';
import type { Incident, NodeHealth } from '../core/incident.ts';
import { silentLogger } from '../core/logger.ts';
import {
  DEFAULT_POLICY,
  type RemediationMode,
  type RemediationPolicy,
} from '../core/remediation-policy.ts';
import { FakeCloud } from '../cloud/fake/fake-cloud.ts';
import { fakeCloudFor } from '../diagnose/sim-sources.ts';
import { remediationIncidents, RemediationExecutor } from './executor.ts';
import { healSimNodeOnBoot } from './sim-boot.ts';
import { SimMesh } from '../sim/mesh.ts';
import { seedScenario } from '../sim/seed-scenario.ts';
import { openStore } from '../store/open.ts';
import type { IncidentStore } from '../store/port.ts';

/** The simulated VM's boot: reboot accepted → kubelet starts again. */
export const BOOT_DELAY_MS = 40_000;
const stores: IncidentStore[] = [];

/** Closes the stores the worlds opened. */
export async function closeWorlds(): Promise<void> {
  for (const s of stores.splice(0)) await s.close();
}

export interface SimWorldOptions {
  readonly store?: IncidentStore;
  readonly bootDelayMs?: number;
  readonly policy?: RemediationPolicy;
}

/**
 * The seed scenario with remediation running: detection, a SQLite store
 * (in memory unless given), FakeCloud mirroring the sim's nodes, and an
 * executor in `mode` — started, on the scenario's ManualClock.
 */
export async function remediationWorld(mode: RemediationMode, options: SimWorldOptions = {}) {
  const store = options.store;
  const scenario = seedScenario();
  const { clock, sim, mig } = scenario;
  const db = store ?? (await openStore('sqlite::memory:'));
  if (store === undefined) stores.push(db);
  const base = fakeCloudFor(sim, clock);
  // The same servers, with reboots that finish after the boot delay.
  const cloud = new FakeCloud({ clock, bootDelayMs: options.bootDelayMs ?? BOOT_DELAY_MS });
  for (const node of sim.truth.nodes()) {
    if (node.providerID === null) continue;
    const { serverId } = parseProviderID(node.providerID);
    const inst = await base.instance(node.providerID);
    cloud.addServer({
      id: serverId,
      name: inst?.name ?? node.name,
      vmState: 'active',
      powerState: 'RUNNING',
      hostStatus: 'UP',
      console: `[    0.000000] Linux version 6.8.0-79-generic\n[ 5012.4] ${node.name} login:\n`,
    });
  }
  healSimNodeOnBoot(cloud, sim);
  const mesh = new SimMesh(sim, clock);
  const loop = new DetectionLoop(sim, clock, mesh, {
    sink: storeSink(db, silentLogger, () => undefined),
    incidents: { reopenWindowMs: 600_000, stormSettleMs: 1000, stablePeriodMs: 60_000 },
  });
  await loop.start();
  // Diagnosis would classify the halted node; here the incident gets its verdict directly.
  const incidents = async (underWay: readonly string[]): Promise<readonly Incident[]> => {
    const all = await remediationIncidents(db, underWay);
    return all.map((i) =>
      i.kind === 'node' && i.rootCause === null ? { ...i, rootCause: 'NODE_HALTED' } : i,
    );
  };
  const executor = new RemediationExecutor({
    view: sim,
    writer: sim,
    cloud,
    store: db,
    clock,
    log: silentLogger,
    policy: options.policy ?? DEFAULT_POLICY,
    policySource: 'built-in',
    mode,
    actor: 'controller/test',
    isLeader: () => true,
    assertLeader: () => undefined,
    health: () => {
      const out = new Map<string, NodeHealth>();
      for (const [n, st] of loop.state?.nodes ?? []) out.set(n, st.health);
      return out;
    },
    incidents,
  });
  executor.start();
  return { ...scenario, db, cloud, mesh, loop, executor, mig };
}
