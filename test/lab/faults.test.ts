import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LayerResult, ProbeResult } from '../../src/core/probe.ts';
import {
  BYSTANDER,
  MIG,
  MIG_IP,
  OBSERVER,
  labStatus,
  expectLayers,
  layers,
  nodewarden,
  nodewardenOk,
  probeFrom,
} from './lab-harness.ts';

/**
 * Every fault, probed from another lab node through its own namespace with
 * the real prober (`lab exec <observer> -- nodewarden probe … --json`), must
 * look the way the design's layer table says, and `heal` must bring every
 * layer back.
 */
const lab = inject('lab');

function layer(result: ProbeResult, name: LayerResult['layer']): LayerResult {
  const found = result.layers.find((l) => l.layer === name);
  if (!found) throw new Error(`probe result has no ${name}: ${JSON.stringify(result)}`);
  return found;
}

async function expectHealthy(observer: string): Promise<void> {
  const { exitCode, result } = await probeFrom(lab.dir, observer, MIG_IP);
  expectLayers(result, {
    L2: /^ok/,
    L3: /^ok/,
    L4: /^ok/,
    L7: /^ok: HTTP 401/,
  });
  expect(result.verdict.healthy).toBe(true);
  expect(exitCode).toBe(0);
}

async function faultsOnMig(): Promise<readonly string[]> {
  const status = await labStatus(lab.dir);
  return status.nodes.find((n) => n.ip === MIG_IP)?.faults ?? [];
}

describe.skipIf(lab.skip !== null)('faults seen from another node', () => {
  beforeAll(async () => {
    await expectHealthy(OBSERVER);
  });

  afterEach(async () => {
    // Whatever a test left behind, the next one starts from a healthy node.
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
  });

  it('link-down: the seed at every layer — no ARP reply, unreachable, L4 timeout, L7 failure', async () => {
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'link-down']);
    expect(await faultsOnMig()).toEqual(['link-down']);
    const { exitCode, result } = await probeFrom(lab.dir, OBSERVER, MIG_IP);
    expectLayers(result, {
      L2: /^failed: no ARP reply/,
      L3: /^failed: (Destination Host Unreachable|timeout)/,
      L4: /^failed: timeout/,
      L7: /^failed/,
    });
    expect(result.verdict.failedLayer).toBe('L2');
    expect(exitCode).toBe(1);
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG, 'link-down']);
    expect(await faultsOnMig()).toEqual([]);
    // eth0 down took the default route with it; heal must put it back, not just the link.
    const route = await nodewardenOk(lab.dir, [
      'lab',
      'exec',
      MIG,
      '--',
      'ip',
      '-j',
      'route',
      'show',
      'default',
    ]);
    expect(route.stdout).toContain('"gateway":"10.62.0.1"');
    await expectHealthy(OBSERVER);
  });

  it('kubelet-stop: the host answers, the port refuses (ECONNREFUSED)', async () => {
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'kubelet-stop']);
    const { result } = await probeFrom(lab.dir, OBSERVER, MIG_IP);
    expect(layer(result, 'L2').status).toBe('ok');
    expect(layer(result, 'L3').status).toBe('ok');
    expect(layers(result)['L4']).toMatch(/^failed: ECONNREFUSED/);
    expect(result.verdict.failedLayer).toBe('L4');
    const status = await labStatus(lab.dir);
    expect(status.nodes.find((n) => n.ip === MIG_IP)?.kubelet).toEqual({
      pid: null,
      state: 'not running',
    });
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG, 'kubelet-stop']);
    await expectHealthy(OBSERVER);
  });

  it('kubelet-hang: TCP still connects, TLS/HTTP times out', async () => {
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'kubelet-hang']);
    const status = await labStatus(lab.dir);
    expect(status.nodes.find((n) => n.ip === MIG_IP)?.kubelet.state).toBe('stopped');
    const { result } = await probeFrom(lab.dir, OBSERVER, MIG_IP);
    expect(layer(result, 'L4').status).toBe('ok');
    expect(layers(result)['L7']).toMatch(/^failed: .*(timeout|timed out)/i);
    expect(result.verdict.failedLayer).toBe('L7');
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG, 'kubelet-hang']);
    await expectHealthy(OBSERVER);
  });

  it('block-kubelet-port: L3 answers, L4 times out', async () => {
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'block-kubelet-port']);
    const { result } = await probeFrom(lab.dir, OBSERVER, MIG_IP);
    expect(layer(result, 'L3').status).toBe('ok');
    expect(layers(result)['L4']).toMatch(/^failed: timeout/);
    expect(result.verdict.failedLayer).toBe('L4');
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG, 'block-kubelet-port']);
    await expectHealthy(OBSERVER);
  });

  it('loss 100: nothing the node receives gets through, ARP included', async () => {
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'loss', '100']);
    expect(await faultsOnMig()).toEqual(['loss 100%']);
    const { result } = await probeFrom(lab.dir, OBSERVER, MIG_IP);
    expectLayers(result, {
      L2: /^failed: no ARP reply/,
      L3: /^failed/,
      L4: /^failed: timeout/,
      L7: /^failed/,
    });
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG, 'loss']);
    await expectHealthy(OBSERVER);
  });

  it('partition: the named observer loses the node, another observer still reaches it', async () => {
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'partition', OBSERVER]);
    const cut = await probeFrom(lab.dir, OBSERVER, MIG_IP);
    expect(cut.result.verdict.healthy).toBe(false);
    expectLayers(cut.result, {
      L2: /^failed: no ARP reply/,
      L3: /^failed/,
      L4: /^failed: timeout/,
    });
    await expectHealthy(BYSTANDER);
    await nodewardenOk(lab.dir, ['lab', 'heal', MIG, 'partition']);
    await expectHealthy(OBSERVER);
  });

  it('delay: netem when the kernel has it, otherwise a refusal that suggests loss', async () => {
    const run = await nodewarden(lab.dir, ['lab', 'fault', MIG, 'delay', '300']);
    if (run.code === 0) {
      const { result } = await probeFrom(lab.dir, OBSERVER, MIG_IP);
      expect(layer(result, 'L3').latencyMs).toBeGreaterThanOrEqual(250);
    } else {
      expect(run.stderr).toMatch(/the kernel lacks the netem qdisc/);
      expect(run.stderr).toMatch(
        /→ inject packet loss instead: nodewarden lab fault bkqzq loss 30/,
      );
      expect(run.code).toBe(2);
      expect(await faultsOnMig()).toEqual([]);
    }
  });

  it('heal with no fault named restores every layer after several faults at once', async () => {
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'block-kubelet-port']);
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'kubelet-hang']);
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'partition', `${OBSERVER},${BYSTANDER}`]);
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'link-down']);
    expect(await faultsOnMig()).toHaveLength(4);
    expect((await probeFrom(lab.dir, BYSTANDER, MIG_IP)).result.verdict.failedLayer).toBe('L2');
    const heal = await nodewardenOk(lab.dir, ['lab', 'heal', MIG]);
    expect(heal.stdout).toMatch(/repaired: eth0 up.*nftables rules removed.*SIGCONT/);
    expect(await faultsOnMig()).toEqual([]);
    await expectHealthy(OBSERVER);
    await expectHealthy(BYSTANDER);
  });

  it('refuses a fault that is already active, and healing one that is not', async () => {
    await nodewardenOk(lab.dir, ['lab', 'fault', MIG, 'kubelet-stop']);
    const again = await nodewarden(lab.dir, ['lab', 'fault', MIG, 'kubelet-hang']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already has kubelet-stop/);
    const notActive = await nodewarden(lab.dir, ['lab', 'heal', MIG, 'loss']);
    expect(notActive.code).toBe(1);
    expect(notActive.stderr).toMatch(/has no active loss fault \(active: kubelet-stop\)/);
  });
});
