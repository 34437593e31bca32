/**
 * Last words end to end on loopback: a kernel-log file with a real Xid line,
 * a /sys and /proc fixture tree in a temp dir, a DCGM exporter that is not
 * there, pushed through the real agent API into a real SQLite store.
 */
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerClient } from '../../src/agent/controller-client.ts';
import { LastWords } from '../../src/agent/last-words.ts';
import { defaultRoute, readInterfaces } from '../../src/agent/host-facts.ts';
import type { NodeSnapshot } from '../../src/core/cluster.ts';
import { systemClock } from '../../src/core/clock.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { AgentMesh } from '../../src/controller/mesh.ts';
import { DcgmExporterSampler } from '../../src/gpu/gpu-sampler.ts';
import { AgentAuth } from '../../src/server/agent-api-auth.ts';
import { agentApiRoutes } from '../../src/server/agent-api.ts';
import { startOpsServer } from '../../src/server/ops-server.ts';
import { MEMORY, openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const TOKEN = 'lab-token-for-last-words-0123456789';
const XID = 'NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python, GPU has fallen off the bus.';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function fixtureHost(dir: string): { sys: string; proc: string } {
  const sys = join(dir, 'sys');
  const proc = join(dir, 'proc');
  const ens3 = join(sys, 'class/net/ens3');
  mkdirSync(join(ens3, 'statistics'), { recursive: true });
  writeFileSync(join(ens3, 'operstate'), 'up\n');
  writeFileSync(join(ens3, 'carrier'), '1\n');
  writeFileSync(join(ens3, 'mtu'), '1450\n');
  writeFileSync(join(ens3, 'statistics/rx_bytes'), '123456\n');
  writeFileSync(join(ens3, 'statistics/tx_dropped'), '7\n');
  mkdirSync(join(sys, 'module/nvidia'), { recursive: true });
  writeFileSync(join(sys, 'module/nvidia/version'), '550.54.15\n');
  mkdirSync(join(proc, 'net'), { recursive: true });
  writeFileSync(
    join(proc, 'net/route'),
    'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n' +
      'ens3\t00000000\t01003E0A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n' +
      'ens3\t00003E0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n',
  );
  writeFileSync(
    join(proc, 'modules'),
    'nvidia 1234 0 - Live 0x0\ngeneve 40960 1 - Live 0x0\next4 1 0 - Live 0\n',
  );
  return { sys, proc };
}

describe('last words', () => {
  it('reads the uplink from the default route and its counters from sysfs', async () => {
    const paths = fixtureHost(mkdtempSync(join(tmpdir(), 'nw-lw-')));
    expect((await defaultRoute(paths))?.iface).toBe('ens3');
    const nics = await readInterfaces(null, paths);
    expect(nics.uplink).toBe('ens3');
    // 01003E0A in /proc/net/route is 10.62.0.1 (little-endian).
    expect(nics.gateway).toBe('10.62.0.1');
    expect(nics.interfaces).toEqual([
      {
        name: 'ens3',
        operstate: 'up',
        carrier: true,
        mtu: 1450,
        counters: { rx_bytes: 123456, tx_dropped: 7 },
      },
    ]);
    const missing = await readInterfaces('eth9', paths);
    expect(missing.errors[0]).toMatch(/interface eth9 does not exist/);
  });

  it('pushes kernel-log matches, a GPU sample, counters and the inventory once into the store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-lw-'));
    const paths = fixtureHost(dir);
    writeFileSync(join(dir, 'agents'), `node-a ${TOKEN}\n`);
    const kmsg = join(dir, 'kmsg.log');
    writeFileSync(kmsg, '');
    const store = await openSqliteStore(MEMORY);
    cleanups.push(() => store.close());
    const nodes: NodeSnapshot[] = [];
    const mesh = new AgentMesh(() => nodes, systemClock, silentLogger);
    const server = await startOpsServer({
      listen: '127.0.0.1:0',
      registry: new Registry(),
      healthy: () => ({ ok: true, reason: '' }),
      ready: () => ({ ok: true, reason: '' }),
      routes: agentApiRoutes({
        mesh,
        store,
        log: silentLogger,
        auth: new AgentAuth({ agentTokenFile: join(dir, 'agents') }),
      }),
    });
    cleanups.push(() => server.close());
    // Nothing listens on the closed server's port: the GPU sample records `unreachable`.
    const gone = await startOpsServer({
      listen: '127.0.0.1:0',
      registry: new Registry(),
      healthy: () => ({ ok: true, reason: '' }),
      ready: () => ({ ok: true, reason: '' }),
    });
    await gone.close();

    const lw = new LastWords({
      node: 'node-a',
      controller: new ControllerClient({
        baseUrl: `http://127.0.0.1:${server.port}`,
        node: 'node-a',
        token: () => Promise.resolve(TOKEN),
      }),
      clock: systemClock,
      log: silentLogger,
      paths,
      kernelLog: { kind: 'file', path: kmsg },
      gpu: new DcgmExporterSampler({
        url: `http://127.0.0.1:${gone.port}/metrics`,
        timeoutMs: 500,
      }),
      intervalMs: 60_000,
    });
    lw.start();
    cleanups.push(() => lw.stop());
    await new Promise((r) => setTimeout(r, 300));
    appendFileSync(kmsg, `[ 5123.456789] ${XID}\n[ 5123.5] eth0: link up\n`);
    const until = Date.now() + 5_000;
    while (lw.pending() === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(lw.pending()).toBe(1);
    await lw.push();
    expect(lw.pending()).toBe(0);
    await lw.push();

    const kept = await store.lastWords('node-a', new Date(Date.now() - 60_000).toISOString());
    const kinds = kept.map((k) => k.kind);
    // Inventory once; interfaces and GPU each push; kernel-log only when there was news.
    expect(kinds.filter((k) => k === 'inventory')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'interfaces').length).toBeGreaterThanOrEqual(2);
    expect(kinds.filter((k) => k === 'gpu-samples').length).toBeGreaterThanOrEqual(2);
    const log = kept.find((k) => k.kind === 'kernel-log')!.data as {
      events: { id: string; text: string }[];
    };
    expect(log.events.map((e) => e.id)).toEqual(['gpu.xid.79']);
    const gpu = kept.find((k) => k.kind === 'gpu-samples')!.data as {
      ok: boolean;
      failure: string;
    };
    expect(gpu).toMatchObject({ ok: false, failure: 'unreachable' });
    const inventory = kept.find((k) => k.kind === 'inventory')!.data as {
      nvidia: { driverVersion: string };
      modules: string[];
      nicDrivers: Record<string, { driver: string }>;
    };
    expect(inventory.nvidia.driverVersion).toBe('550.54.15');
    expect(inventory.modules).toEqual(['geneve', 'nvidia']);
    expect(inventory.nicDrivers.ens3?.driver).toBe('virtual');
    // One push at start, two here.
    expect(lw.stats).toEqual({ pushes: 3, failures: 0 });
  });
});
