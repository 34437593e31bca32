/**
 * Last heartbeat → node Ready again with NodeWarden's remediation (mode
 * auto), next to Kubernetes' own timeline in the same run (NotReady, the
 * unreachable taints, evictions), and the same fault with remediation off.
 *
 * Simulated (default): the seed cluster with Kubernetes 1.32 node lifecycle
 * timing (50 s grace, 300 s eviction), probes at 1 Hz with their real
 * timeouts, FakeCloud reboots that finish after the stated boot delay. Times
 * are simulated seconds after the MIG node's last heartbeat.
 *
 *   npx tsx bench/recovery.ts [--boot-delay S ...]   (default: 40 and 120)
 *
 * Lab (--lab; root, the built dist/, the lab's control-plane binaries): its
 * own 5-node lab with a real kube-apiserver, kube-controller-manager and the
 * stated grace period and toleration; a controller in the hub with the
 * agents and the lab cloud (a reboot restarts the node namespace's link and
 * processes after the boot delay); the MIG node's kernel panicked; mode auto,
 * then mode off. Wall-clock seconds after its last Lease renewal.
 *
 *   npm run build && sudo flock -w 3000 /run/lock/nodewarden-lab.lock \
 *     npx tsx bench/recovery.ts --lab [--boot-delay 30] [--grace-period 20] [--toleration 10]
 */
import type { RemediationMode } from '../src/core/remediation-policy.ts';
import { closeWorlds, remediationWorld } from '../src/remediate/sim-world.ts';
import { runLab } from './recovery-lab.ts';
import { timelineRows, type Run } from './recovery-timeline.ts';

async function run(mode: RemediationMode, bootDelayMs: number): Promise<Run> {
  const w = await remediationWorld(mode, { bootDelayMs });
  const { clock, sim, mig, cutAt, db, executor, loop } = w;
  await clock.advanceAsync(cutAt - clock.now());
  sim.cutNode(mig);
  let readyAgainAt: number | null = null;
  let sawNotReady = false;
  // Bounded: 15 simulated minutes in 1 s steps.
  for (let i = 0; i < 900; i++) {
    await clock.advanceAsync(1000);
    const node = sim.node(mig);
    const ready = node?.conditions.find((c) => c.type === 'Ready')?.status;
    if (ready !== 'True') sawNotReady = true;
    const renew = Date.parse(sim.lease(mig)?.renewTime ?? '');
    if (readyAgainAt === null && ready === 'True' && renew > cutAt) {
      readyAgainAt = clock.now();
      if (mode === 'off') break;
    }
    const incident = (await db.listIncidents({ limit: 1 }))[0];
    if (incident?.status === 'resolved') break;
  }
  const incident = (await db.listIncidents({ limit: 1 }))[0];
  const rows = timelineRows(incident, mig, cutAt, readyAgainAt, sawNotReady, clock.now());
  await executor.stop();
  await loop.stop();
  await closeWorlds();
  return { label: `mode ${mode}, boot delay ${bootDelayMs / 1000} s`, rows };
}

function seconds(flag: string, value: string | undefined): number {
  const v = Number(value);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} ${value ?? ''}: seconds > 0`);
  return v;
}

const USAGE =
  'usage: bench/recovery.ts [--boot-delay S ...] | --lab [--boot-delay S] [--grace-period S] [--toleration S]';
const args = process.argv.slice(2);
const delays: number[] = [];
let lab = false;
let grace = 20;
let toleration = 10;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--boot-delay') delays.push(seconds(a, args[++i]) * 1000);
  else if (a === '--lab') lab = true;
  else if (a === '--grace-period') grace = seconds(a, args[++i]);
  else if (a === '--toleration') toleration = seconds(a, args[++i]);
  else throw new Error(`unknown argument ${a ?? ''}; ${USAGE}`);
}
const started = Date.now();
const print = (r: Run): void => {
  console.log(`\n${r.label}`);
  for (const [t, what] of r.rows) console.log(`  +${t.toFixed(1).padStart(6)} s  ${what}`);
};
if (lab) {
  if (delays.length > 1) throw new Error(`--lab takes one --boot-delay; ${USAGE}`);
  for (const r of await runLab({
    bootDelayS: (delays[0] ?? 30_000) / 1000,
    gracePeriodS: grace,
    tolerationS: toleration,
    log: (line) => console.error(line),
  }))
    print(r);
} else {
  for (const delay of delays.length > 0 ? delays : [40_000, 120_000]) {
    for (const mode of ['auto', 'off'] as const) print(await run(mode, delay));
  }
}
console.log(`\n(wall ${((Date.now() - started) / 1000).toFixed(1)} s)`);
