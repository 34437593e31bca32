// bench/detection — in the lab, with Kubernetes' own default timing: time
// from `link-down` on the MIG node to NodeWarden's incident, next to the time
// the real node lifecycle controller takes to set Ready=Unknown, in the same
// run. Repeats `--rounds` times (default 3). Needs root; brings up its own lab.
//
//   sudo npx tsx bench/detection.ts [--rounds 3]
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../src/host/command.ts';
import { loadKubeConfig } from '../src/kube/config.ts';
import { kubeRequest } from '../src/kube/http.ts';
import { toLease, toNode } from '../src/kube/map.ts';
import { until } from '../test/support/until.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const rounds = arg('rounds', 3);
const MIG = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';
/** How often the bench polls the controller's log and the API server: the resolution of its figures. */
const POLL_MS = 200;
if (process.getuid?.() !== 0) {
  console.error('bench/detection needs root (sudo npx tsx bench/detection.ts)');
  process.exit(2);
}
const dir = await mkdtemp(join(tmpdir(), 'nodewarden-bench-detection-'));
const cli = (args: string[], ms = 600_000) =>
  runCommand(process.execPath, [join(root, 'bin/nodewarden.js'), ...args], {
    timeoutMs: ms,
    env: { NODEWARDEN_LAB_DIR: dir },
  });

let controller: ReturnType<typeof spawn> | null = null;
try {
  const up = await cli(['lab', 'up']);
  if (up.code !== 0) throw new Error(`lab up failed: ${up.stderr}`);
  const status = JSON.parse((await cli(['lab', 'status', '--json'])).stdout) as {
    controlPlane: { adminKubeconfig: string; labAdminKubeconfig: string };
  };
  const { kc } = await loadKubeConfig(status.controlPlane.adminKubeconfig);
  let log = '';
  controller = spawn(
    'ip',
    [
      'netns',
      'exec',
      'nw-hub',
      process.execPath,
      join(root, 'bin/nodewarden.js'),
      'controller',
      '--kubeconfig',
      status.controlPlane.labAdminKubeconfig,
      '--store',
      `sqlite:${join(dir, 'bench.db')}`,
      '--listen',
      ':9464',
      '--agent-token-file',
      join(dir, 'token'),
      '--stable-period',
      '10',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  controller.stderr?.setEncoding('utf8').on('data', (c: string) => (log += c));
  await until('controller leads', 60_000, () => log.includes('became leader'), POLL_MS);
  const ready = async (): Promise<string> =>
    toNode(await kubeRequest(kc, 'GET', `/api/v1/nodes/${MIG}`, 5_000)).conditions.find(
      (c) => c.type === 'Ready',
    )?.status ?? '?';

  const rows: string[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    await until('MIG node Ready', 120_000, async () => (await ready()) === 'True', POLL_MS);
    // The first cut opens an incident; later cuts within the reopen window reopen it (a flap).
    const opened = (): number => log.split(/"msg":"incident (?:opened|reopened)"/).length;
    const resolved = (): number => log.split('"msg":"incident resolved"').length;
    const opens = opened();
    const resolves = resolved();
    // A random phase against the 10 s renew period, like a real failure.
    await new Promise((r) => setTimeout(r, 5_000 + Math.random() * 10_000));
    const lastRenew = Date.parse(
      toLease(
        await kubeRequest(
          kc,
          'GET',
          `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${MIG}`,
          5_000,
        ),
      ).renewTime ?? '',
    );
    const cutAt = Date.now();
    await cli(['lab', 'fault', MIG, 'link-down']);
    const incidentAt = await until(
      'incident opened',
      120_000,
      () => (opened() > opens ? Date.now() : null),
      POLL_MS,
    );
    const notReadyAt = await until(
      'Ready=Unknown',
      180_000,
      async () => ((await ready()) === 'Unknown' ? Date.now() : null),
      POLL_MS,
    );
    await cli(['lab', 'heal', MIG]);
    await until('incident resolved', 180_000, () => resolved() > resolves, POLL_MS);
    const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
    rows.push(
      `${String(round).padStart(5)}  ${s(incidentAt - cutAt).padStart(16)}  ${s(incidentAt - lastRenew).padStart(22)}  ${s(notReadyAt - cutAt).padStart(17)}  ${((notReadyAt - cutAt) / (incidentAt - cutAt)).toFixed(1).padStart(5)}×`,
    );
  }
  console.log(
    'bench/detection: lab, MIG node link-down, Kubernetes default timing (grace period 50 s)',
  );
  console.log("observers: the controller itself and every node's agent (k = min(8, N−1)), 1 Hz");
  console.log(`round  cut → incident  last heartbeat → incident  cut → NotReady (k8s)  ratio`);
  for (const r of rows) console.log(r);
} finally {
  controller?.kill('SIGTERM');
  await cli(['lab', 'down']);
  await rm(dir, { recursive: true, force: true });
}
