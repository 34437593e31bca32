/**
 * Last heartbeat → node Ready again with NodeWarden's remediation (mode
 * auto), next to Kubernetes' own timeline in the same run (NotReady, the
 * unreachable taints, evictions), and the same fault with remediation off.
 * On the simulated seed cluster: Kubernetes 1.32 node lifecycle timing
 * (50 s grace, 300 s eviction), probes at 1 Hz with their real timeouts,
 * FakeCloud reboots that finish after the stated boot delay. Times are
 * simulated seconds after the MIG node's last heartbeat.
 *
 *   npx tsx bench/recovery.ts [--boot-delay S ...]   (default: 40 and 120)
 */
import type { RemediationMode } from '../src/core/remediation-policy.ts';
import { closeWorlds, remediationWorld } from '../src/remediate/sim-world.ts';

interface Run {
  readonly label: string;
  readonly rows: [number, string][];
}

async function run(mode: RemediationMode, bootDelayMs: number): Promise<Run> {
  const w = await remediationWorld(mode, { bootDelayMs });
  const { clock, sim, mig, cutAt, db, executor, loop } = w;
  const rows: [number, string][] = [];
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
  const hb = Date.parse(incident?.lastHeartbeatAt ?? new Date(cutAt).toISOString());
  const at = (iso: string): number => (Date.parse(iso) - hb) / 1000;
  const short = (text: string): string => {
    const line = text.replaceAll(mig, mig.slice(-5));
    return line.length > 100 ? `${line.slice(0, 99)}…` : line;
  };
  rows.push([0, 'last heartbeat (Lease renewal)']);
  if (incident !== undefined) {
    rows.push([at(incident.openedAt), `NodeWarden: incident opened`]);
    const evicted = incident.timeline.filter((e) => e.kind === 'pod-evicted');
    for (const e of incident.timeline) {
      if (e.kind === 'k8s-not-ready' || e.kind === 'k8s-taint')
        rows.push([at(e.at), short(e.message)]);
      if (
        e.kind === 'note' &&
        e.message.startsWith('remediation') &&
        /started|succeeded|timed-out|failed/.test(e.message)
      )
        rows.push([at(e.at), short(e.message)]);
    }
    if (evicted[0] !== undefined)
      rows.push([at(evicted[0].at), `Kubernetes: ${evicted.length} pods evicted`]);
    if (incident.resolvedAt !== null)
      rows.push([
        at(incident.resolvedAt),
        `NodeWarden: incident resolved (MTTR ${at(incident.resolvedAt).toFixed(1)} s)`,
      ]);
  }
  if (readyAgainAt !== null)
    rows.push([(readyAgainAt - hb) / 1000, `${mig.slice(-5)} Ready again (kubelet renewing)`]);
  else
    rows.push([(clock.now() - hb) / 1000, `${mig.slice(-5)} still not Ready when the run ended`]);
  if (!sawNotReady)
    rows.push([
      (readyAgainAt ?? clock.now()) / 1000 - hb / 1000,
      'Kubernetes never marked it NotReady',
    ]);
  rows.sort((a, b) => a[0] - b[0]);
  await executor.stop();
  await loop.stop();
  await closeWorlds();
  return { label: `mode ${mode}, boot delay ${bootDelayMs / 1000} s`, rows };
}

const args = process.argv.slice(2);
const delays: number[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--boot-delay') {
    const v = Number(args[++i]);
    if (!Number.isFinite(v) || v <= 0)
      throw new Error(`--boot-delay ${args[i] ?? ''}: seconds > 0`);
    delays.push(v * 1000);
  } else
    throw new Error(
      `unknown argument ${args[i] ?? ''}; usage: bench/recovery.ts [--boot-delay S ...]`,
    );
}
const started = Date.now();
for (const delay of delays.length > 0 ? delays : [40_000, 120_000]) {
  for (const mode of ['auto', 'off'] as const) {
    const r = await run(mode, delay);
    console.log(`\n${r.label}`);
    for (const [t, what] of r.rows) console.log(`  +${t.toFixed(1).padStart(6)} s  ${what}`);
  }
}
console.log(`\n(wall ${((Date.now() - started) / 1000).toFixed(1)} s)`);
