// Runs inside one lab node's namespace: probes the given targets with the
// real LinuxProber, all at once and then one after another, and prints the
// wall times as JSON. Started by bench/probe.ts through `lab exec`.
import { LinuxProber } from '../src/probe/linux-prober.ts';

const [timeoutArg, ...ips] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg);
const prober = new LinuxProber();
const target = (ip: string) => ({ ip, port: 10250, timeoutMs });

const t0 = performance.now();
const concurrent = await Promise.all(ips.map((ip) => prober.probe(target(ip))));
const concurrentMs = performance.now() - t0;

const t1 = performance.now();
const sequential = [];
for (const ip of ips) sequential.push(await prober.probe(target(ip)));
const sequentialMs = performance.now() - t1;

process.stdout.write(
  JSON.stringify({
    concurrentMs,
    sequentialMs,
    healthy: concurrent.filter((r) => r.verdict.healthy).length,
    failedLayers: concurrent.map((r) => r.verdict.failedLayer),
    sequentialHealthy: sequential.filter((r) => r.verdict.healthy).length,
  }) + '\n',
);
