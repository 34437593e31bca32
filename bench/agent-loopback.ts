// bench/agent-loopback — one `nodewarden agent` with k peers on loopback
// (127.0.0.2 … each a TCP listener on one port) and a stub controller that
// serves its plan and takes its pushes, CPU and VmRSS/VmHWM read from /proc
// over the window. No root and no lab: for comparing builds quickly (pass
// --cli to measure another checkout's bin/nodewarden.js, --node-flag to try a
// V8 flag). The lab figures (real controller, real peers) are bench/agent.ts.
//
//   npx tsx bench/agent-loopback.ts [--peers 8] [--window 60] [--cli PATH] [--node-flag F]…
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuPercent, readProcessUsage } from '../src/host/proc-usage.ts';

const argv = process.argv.slice(2);
const value = (name: string): string | undefined => {
  const at = argv.indexOf(`--${name}`);
  return at < 0 ? undefined : argv[at + 1];
};
const peers = Number(value('peers') ?? 8);
const windowS = Number(value('window') ?? 60);
const cli = value('cli') ?? fileURLToPath(new URL('../bin/nodewarden.js', import.meta.url));
const nodeFlags = argv.flatMap((a, i) => (a === '--node-flag' ? [argv[i + 1] ?? ''] : []));
if (!Number.isInteger(peers) || peers < 1 || peers > 250 || !(windowS >= 10)) {
  console.error('bench/agent-loopback: --peers 1…250, --window ≥ 10 (seconds)');
  process.exit(2);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = await mkdtemp(join(tmpdir(), 'nodewarden-bench-agent-loopback-'));
const kubelet = createTcpServer((s) => s.end());
await new Promise<void>((r) => kubelet.listen(0, '0.0.0.0', r));
const kubeletPort = (kubelet.address() as AddressInfo).port;
const plan = {
  version: 'bench-1',
  generatedAt: new Date().toISOString(),
  observer: 'bench-agent',
  member: true,
  targets: Array.from({ length: peers }, (_, i) => ({
    target: `peer-${i}`,
    ip: `127.0.${Math.floor((i + 2) / 256)}.${(i + 2) % 256}`,
    intervalMs: 1000,
    priority: false,
  })),
};
let pushes = 0;
const controller = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    if (req.url?.endsWith('/plan')) {
      if (req.headers['if-none-match'] === `"${plan.version}"`) return res.writeHead(304).end();
      res.setHeader('etag', `"${plan.version}"`);
      return res.end(JSON.stringify({ plan, directives: [] }));
    }
    pushes += 1;
    if (req.url?.endsWith('/results'))
      return res.end(
        JSON.stringify({ accepted: 1, ignored: 0, planVersion: plan.version, directives: [] }),
      );
    return res.end(JSON.stringify({ stored: 1 }));
  });
});
await new Promise<void>((r) => controller.listen(0, '127.0.0.1', r));
const token = join(dir, 'token');
await writeFile(token, 'bench-token-0123456789abcdef\n');
const agent = spawn(
  process.execPath,
  [
    ...nodeFlags,
    cli,
    'agent',
    '--node',
    'bench-agent',
    '--controller',
    `http://127.0.0.1:${(controller.address() as AddressInfo).port}`,
    '--token-file',
    token,
    '--state-dir',
    join(dir, 'state'),
    '--listen',
    '127.0.0.1:0',
    '--port',
    String(kubeletPort),
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
agent.stderr.resume();
try {
  await sleep(10_000);
  const pid = agent.pid ?? 0;
  const first = await readProcessUsage(pid);
  const started = performance.now();
  let rssMax = 0;
  while (performance.now() - started < windowS * 1000) {
    await sleep(1000);
    rssMax = Math.max(rssMax, (await readProcessUsage(pid))?.rssKiB ?? 0);
  }
  const last = await readProcessUsage(pid);
  if (first === null || last === null)
    throw new Error('the agent exited; run it by hand to see why');
  const seconds = (performance.now() - started) / 1000;
  const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
  console.log(
    `bench/agent-loopback: ${peers} peers on loopback, stub controller (${pushes} pushes), ` +
      `window ${seconds.toFixed(1)} s after 10 s; ${cli}${nodeFlags.length ? ` ${nodeFlags.join(' ')}` : ''}`,
  );
  console.log(
    `cpu ${cpuPercent(last.cpuTicks - first.cpuTicks, seconds).toFixed(2)} % of a core ` +
      `(+children ${cpuPercent(last.cpuTicks - first.cpuTicks + last.childTicks - first.childTicks, seconds).toFixed(2)} %), ` +
      `RSS ${mib(last.rssKiB)} (max ${mib(rssMax)}), VmHWM ${mib(last.hwmKiB)}`,
  );
} finally {
  agent.kill('SIGTERM');
  await sleep(500);
  controller.close();
  kubelet.close();
  await rm(dir, { recursive: true, force: true });
}
