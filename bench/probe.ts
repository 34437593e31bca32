// bench/probe — a full layered probe (L2 ARP + neighbour, L3 ping, L4 TCP,
// L7 HTTPS) of 8 healthy lab targets and of 8 dead ones (link-down), run
// concurrently vs one after another from a ninth node. Prints the times and
// the speed-up. Needs root (it brings up its own network-only lab).
//
//   sudo npx tsx bench/probe.ts [--timeout-ms 3000]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../src/host/command.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const timeoutMs = Number(process.argv[process.argv.indexOf('--timeout-ms') + 1] ?? 3000) || 3000;
if (process.getuid?.() !== 0) {
  console.error(
    'bench/probe needs root: it creates network namespaces (sudo npx tsx bench/probe.ts)',
  );
  process.exit(2);
}
const dir = await mkdtemp(join(tmpdir(), 'nodewarden-bench-probe-'));
const cli = (args: string[], ms = 120_000) =>
  runCommand(process.execPath, [join(root, 'bin/nodewarden.js'), ...args], {
    timeoutMs: ms,
    env: { NODEWARDEN_LAB_DIR: dir },
  });

interface WorkerResult {
  concurrentMs: number;
  sequentialMs: number;
  healthy: number;
  failedLayers: (string | null)[];
}

async function round(observer: string, ips: string[]): Promise<WorkerResult> {
  const run = await cli(
    [
      'lab',
      'exec',
      observer,
      '--',
      process.execPath,
      '--import',
      'tsx',
      join(root, 'bench/probe-worker.ts'),
      String(timeoutMs),
      ...ips,
    ],
    600_000,
  );
  if (run.code !== 0) throw new Error(`worker failed: ${run.stderr}${run.stdout}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as WorkerResult;
}

try {
  const up = await cli(['lab', 'up', '--nodes', '9', '--no-control-plane']);
  if (up.code !== 0) throw new Error(`lab up failed: ${up.stderr}`);
  const status = JSON.parse((await cli(['lab', 'status', '--json'])).stdout) as {
    nodes: { name: string; ip: string }[];
  };
  const [observer, ...targets] = status.nodes;
  if (!observer) throw new Error('no nodes');
  const ips = targets.map((t) => t.ip);

  const healthy = await round(observer.name, ips);
  for (const t of targets) await cli(['lab', 'fault', t.name, 'link-down']);
  // Probe at once: the kernel's neighbour entries are still REACHABLE/STALE, the case the active ARP probe exists for.
  const dead = await round(observer.name, ips);

  const row = (name: string, r: WorkerResult) =>
    `${name.padEnd(18)} ${(r.concurrentMs / 1000).toFixed(2).padStart(9)} s ${(r.sequentialMs / 1000).toFixed(2).padStart(11)} s ${(r.sequentialMs / r.concurrentMs).toFixed(1).padStart(7)}×   healthy ${r.healthy}/8`;
  console.log(`bench/probe: 8 targets, per-layer timeout ${timeoutMs} ms, from ${observer.name}`);
  console.log(
    `${'targets'.padEnd(18)} ${'concurrent'.padStart(11)} ${'one-by-one'.padStart(13)} ${'speed-up'.padStart(8)}`,
  );
  console.log(row('8 healthy', healthy));
  console.log(row('8 dead (link-down)', dead));
  console.log(`dead verdicts: ${dead.failedLayers.join(', ')}`);
} finally {
  await cli(['lab', 'down']);
  await rm(dir, { recursive: true, force: true });
}
