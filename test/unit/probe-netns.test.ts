/**
 * The prober on real network namespaces (root only): an observer and a peer on
 * a bridge, each in its own namespace named nwfx-t<pid>-…, created here and
 * deleted afterwards. Proves what design.md §3 measured: when the peer's link
 * drops, arping gets no reply at once while the kernel entry still looks alive,
 * and ping/TCP time out.
 */
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeResult } from '../../src/core/probe.ts';
import { runChecked, runCommand } from '../../src/host/command.ts';

const isRoot = process.getuid?.() === 0;
const id = `nwfx-t${(process.pid % 0xffff).toString(16)}`;
const sw = `${id}-sw`;
const observer = `${id}-a`;
const peer = `${id}-b`;
const obsDev = `${id}a0`;
const peerDev = `${id}b0`;
const OBSERVER_IP = '10.99.0.1';
const PEER_IP = '10.99.0.2';
const BEHIND_PEER = '10.99.1.5';

async function ip(...args: string[]): Promise<string> {
  return (await runChecked('ip', args, { timeoutMs: 10_000 })).stdout;
}

async function teardown(): Promise<void> {
  for (const ns of [observer, peer, sw]) {
    await runCommand('ip', ['netns', 'del', ns], { timeoutMs: 10_000 });
  }
}

async function observerSysctl(key: string, value: string): Promise<void> {
  await runChecked(
    'ip',
    ['netns', 'exec', observer, 'sysctl', '-qw', `net.ipv4.neigh.${obsDev}.${key}=${value}`],
    { timeoutMs: 10_000 },
  );
}

/**
 * Waits until the kernel entry for the peer reads `state`, sending one ping
 * whenever there is no entry or it is STALE (only traffic starts resolution or
 * moves STALE on to DELAY; from there the kernel probes on its own).
 */
async function waitForNeighbour(state: string, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const entry = await ip('-n', observer, '-j', 'neigh', 'show', PEER_IP, 'dev', obsDev);
    if (entry.includes(`"${state}"`)) return;
    if (entry.trim() === '[]' || entry.includes('"STALE"')) {
      await runCommand(
        'ip',
        ['netns', 'exec', observer, 'ping', '-n', '-c', '1', '-W', '0.2', PEER_IP],
        {
          timeoutMs: 5000,
        },
      );
    } else {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`the kernel entry for ${PEER_IP} did not reach ${state} within ${withinMs} ms`);
}

/** Runs `nodewarden probe <ip> --json` inside the observer namespace. */
async function probeFromObserver(
  target: string,
  options: { timeoutMs?: number; asNobodyWithPath?: string } = {},
): Promise<{ exit: number | null; result: ProbeResult }> {
  const node = [
    process.execPath,
    '--import',
    'tsx',
    join(import.meta.dirname, 'probe-run.ts'),
    target,
    '--json',
    '--timeout-ms',
    String(options.timeoutMs ?? 1000),
  ];
  const as = options.asNobodyWithPath
    ? [
        'setpriv',
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        'env',
        `PATH=${options.asNobodyWithPath}`,
      ]
    : [];
  const run = await runCommand('ip', ['netns', 'exec', observer, ...as, ...node], {
    timeoutMs: 30_000,
  });
  if (run.stdout.trim() === '') throw new Error(`probe printed nothing: ${run.stderr}`);
  return { exit: run.code, result: JSON.parse(run.stdout) as ProbeResult };
}

const layer = (r: ProbeResult, name: string) => r.layers.find((l) => l.layer === name);

describe.skipIf(!isRoot)(
  'probe on real namespaces (root only: it creates network namespaces; skipped otherwise)',
  () => {
    let peerMac = '';
    beforeAll(async () => {
      await teardown();
      await ip('netns', 'add', sw);
      await ip('netns', 'add', observer);
      await ip('netns', 'add', peer);
      await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
      await ip('-n', sw, 'link', 'set', 'br0', 'up');
      for (const [ns, dev, side] of [
        [observer, obsDev, `${id}a1`],
        [peer, peerDev, `${id}b1`],
      ] as const) {
        await ip(
          'link',
          'add',
          dev,
          'netns',
          ns,
          'type',
          'veth',
          'peer',
          'name',
          side,
          'netns',
          sw,
        );
        await ip('-n', sw, 'link', 'set', side, 'master', 'br0', 'up');
        await ip('-n', ns, 'link', 'set', 'lo', 'up');
        await ip('-n', ns, 'link', 'set', dev, 'up');
      }
      await ip('-n', observer, 'addr', 'add', `${OBSERVER_IP}/24`, 'dev', obsDev);
      await ip('-n', peer, 'addr', 'add', `${PEER_IP}/24`, 'dev', peerDev);
      await ip('-n', observer, 'route', 'add', '10.99.1.0/24', 'via', PEER_IP);
      // Fast neighbour probing, so a dead peer's entry reaches FAILED in seconds.
      await observerSysctl('delay_first_probe_time', '1');
      await observerSysctl('retrans_time_ms', '200');
      const link = JSON.parse(await ip('-n', peer, '-j', 'link', 'show', peerDev)) as [
        { address: string },
      ];
      peerMac = link[0].address;
    }, 60_000);
    afterAll(teardown, 60_000);

    it('a live peer without kubelet: ARP reply from its MAC, ping ok, L4 ECONNREFUSED', async () => {
      const { exit, result } = await probeFromObserver(PEER_IP);
      expect(exit).toBe(1);
      expect(layer(result, 'L2')).toMatchObject({
        status: 'ok',
        command: `arping -c 1 -w 1 -I ${obsDev} ${PEER_IP}`,
        neighbourState: 'REACHABLE',
      });
      expect(layer(result, 'L2')?.detail).toMatch(
        new RegExp(`^ARP reply from ${peerMac} in [\\d.]+ ms \\(kernel neighbour: REACHABLE\\)$`),
      );
      expect(layer(result, 'L3')?.status).toBe('ok');
      expect(layer(result, 'L4')).toMatchObject({ status: 'failed', detail: 'ECONNREFUSED' });
      expect(result.verdict.failedLayer).toBe('L4');
    });

    it('a target behind a gateway: L2 skipped, saying why', async () => {
      const { result } = await probeFromObserver(BEHIND_PEER, { timeoutMs: 300 });
      expect(layer(result, 'L2')).toMatchObject({
        status: 'skipped',
        command: `ip route get ${BEHIND_PEER}`,
        detail: `reached via gateway ${PEER_IP} on ${obsDev}: ARP would only test the gateway`,
      });
    });

    it('the peer link drops: no ARP reply while the kernel still looks alive; L3/L4 dead', async () => {
      await probeFromObserver(PEER_IP); // a fresh REACHABLE entry
      await ip('-n', peer, 'link', 'set', peerDev, 'down');
      try {
        const { exit, result } = await probeFromObserver(PEER_IP);
        expect(exit).toBe(1);
        const l2 = layer(result, 'L2');
        expect(l2?.status).toBe('failed');
        // The kernel has not given up yet: its entry still claims the peer.
        expect(['REACHABLE', 'STALE', 'DELAY', 'PROBE']).toContain(l2?.neighbourState);
        expect(l2?.detail).toBe(`no ARP reply (kernel neighbour: ${l2?.neighbourState})`);
        expect(layer(result, 'L3')?.status).toBe('failed');
        expect(layer(result, 'L3')?.detail).toMatch(
          /^(timeout after 1000 ms \(100% packet loss\)|Destination Host Unreachable \(from 10\.99\.0\.1\))$/,
        );
        expect(layer(result, 'L4')).toMatchObject({
          status: 'failed',
          detail: 'timeout after 1000 ms',
        });
        expect(layer(result, 'L7')).toMatchObject({
          status: 'failed',
          detail: 'connect timeout after 1000 ms',
        });
        expect(result.verdict).toEqual({
          healthy: false,
          failedLayer: 'L2',
          summary: `L2 failed: ${l2?.detail}`,
        });
        expect(result.durationMs).toBeLessThan(3000);
      } finally {
        await ip('-n', peer, 'link', 'set', peerDev, 'up');
      }
    });

    it('without CAP_NET_RAW a FAILED kernel entry is the L2 failure', async () => {
      // A copy of arping without its file capability, run as nobody: arping cannot open its socket.
      const bin = await mkdtemp(join(tmpdir(), 'nwfx-nocap-'));
      await chmod(bin, 0o755);
      await copyFile('/usr/bin/arping', join(bin, 'arping'));
      await chmod(join(bin, 'arping'), 0o755);
      const path = `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`;
      try {
        const up = await probeFromObserver(PEER_IP, { asNobodyWithPath: path });
        expect(layer(up.result, 'L2')).toMatchObject({
          status: 'skipped',
          detail: 'needs CAP_NET_RAW (kernel neighbour: REACHABLE)',
        });

        await ip('-n', peer, 'link', 'set', peerDev, 'down');
        // Forget the entry: the next packet makes the kernel resolve the peer
        // afresh, and 3 unanswered probes 200 ms apart leave it FAILED.
        await ip('-n', observer, 'neigh', 'flush', 'dev', obsDev);
        await waitForNeighbour('FAILED', 15_000);
        const down = await probeFromObserver(PEER_IP, { asNobodyWithPath: path });
        const l2 = layer(down.result, 'L2');
        expect(l2?.status).toBe('failed');
        expect(['FAILED', 'INCOMPLETE']).toContain(l2?.neighbourState);
        expect(l2?.detail).toBe(`kernel neighbour: ${l2?.neighbourState} (needs CAP_NET_RAW)`);
        expect(down.result.verdict.failedLayer).toBe('L2');
      } finally {
        await ip('-n', peer, 'link', 'set', peerDev, 'up');
        await rm(bin, { recursive: true, force: true });
      }
    });
  },
);
