import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GpuSimulator, SEED_MIG_NODE_GPUS } from '../gpu/gpu-sim.ts';
import { runCommand } from '../host/command.ts';
import { HttpPrometheusClient } from '../metrics/prometheus-client.ts';
import { PrometheusGpuHistory } from '../diagnose/gpu-history.ts';
import { freeLoopbackPort } from './control-plane.ts';
import { gpuSimRecord } from './lab-gpu.ts';
import { prometheusBinary, prometheusConfig } from './lab-prometheus.ts';
import { planLab } from './topology.ts';
import type { LabNodeState } from './state.ts';

/** The seed lab's nodes as `lab up` records them (no pids: only what the config reads). */
function labNodes(dir: string): LabNodeState[] {
  return planLab(5, '10.62.0.0/24').nodes.map((n) => {
    const gpu = gpuSimRecord(dir, n);
    return {
      ...n,
      kubelet: {
        port: 10250,
        pid: null,
        pidFile: '',
        logFile: '',
        certFile: '',
        keyFile: '',
      },
      faults: [],
      ...(gpu === null ? {} : { gpu }),
    };
  });
}

const controlPlane = {
  pids: {},
  adminKubeconfig: '',
  labAdminKubeconfig: '',
  hostPort: 16443,
  timing: {
    nodeMonitorGracePeriodSeconds: 50,
    nodeMonitorPeriodSeconds: 5,
    unreachableTolerationSeconds: 300,
    notReadyTolerationSeconds: 300,
  },
};

describe('the lab Prometheus configuration', () => {
  it('scrapes the GPU simulator each second and every agent every 2 s, each target labelled with its node', () => {
    const text = prometheusConfig({ nodes: labNodes('/lab'), controlPlane });
    expect(text).toContain('scrape_interval: 2s');
    const dcgm = text.slice(
      text.indexOf('job_name: dcgm'),
      text.indexOf('job_name: nodewarden-agent'),
    );
    expect(dcgm).toContain('scrape_interval: 1s');
    // Only the MIG node has a GPU simulator.
    expect(dcgm.match(/targets:/g)).toHaveLength(1);
    expect(dcgm).toContain(
      '- targets: ["10.62.0.30:9400"]\n        labels: { node: "tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq" }',
    );
    const agents = text.slice(text.indexOf('job_name: nodewarden-agent'));
    expect(agents.match(/targets:/g)).toHaveLength(5);
    expect(agents).toContain(
      '- targets: ["10.62.0.10:9465"]\n        labels: { node: "tkai-oks-md-0-193cfbbbb78b-5gblf-85zt7" }',
    );
  });

  it('has no agent job without a control plane (no agents run then)', () => {
    const text = prometheusConfig({ nodes: labNodes('/lab') });
    expect(text).toContain('job_name: dcgm');
    expect(text).not.toContain('nodewarden-agent');
  });

  it('names the binary: NODEWARDEN_PROMETHEUS, else Debian’s', () => {
    expect(prometheusBinary({})).toBe('/usr/bin/prometheus');
    expect(prometheusBinary({ NODEWARDEN_PROMETHEUS: '/opt/p' })).toBe('/opt/p');
  });
});

const binary = prometheusBinary(process.env);
const haveBinary = await access(binary).then(
  () => true,
  () => false,
);
// CI installs Debian's prometheus (.ci/run); elsewhere say why these are skipped.
if (!haveBinary && process.env['CI'] === 'true')
  throw new Error(`${binary} is missing; .ci/run installs the prometheus package`);
if (!haveBinary) process.stderr.write(`real-Prometheus tests skipped: no ${binary}\n`);

describe.skipIf(!haveBinary)('the generated configuration in a real Prometheus', () => {
  let dir = '';
  let prometheus: ChildProcess | null = null;
  let sim: GpuSimulator | null = null;

  afterAll(async () => {
    prometheus?.kill('SIGKILL');
    await sim?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('promtool accepts it, and the GPU collector reads a MIG ramp back through Prometheus', async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodewarden-prom-'));
    sim = new GpuSimulator({
      gpus: SEED_MIG_NODE_GPUS,
      hostname: 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq',
      port: 0,
    });
    const { port: simPort } = await sim.start();
    const nodes = labNodes(dir).map((n) =>
      n.gpu ? { ...n, ip: '127.0.0.1', gpu: { ...n.gpu, port: simPort } } : n,
    );
    const config = join(dir, 'prometheus.yml');
    await writeFile(config, prometheusConfig({ nodes }));
    const promtool = join(binary, '..', 'promtool');
    if (
      await access(promtool).then(
        () => true,
        () => false,
      )
    ) {
      const check = await runCommand(promtool, ['check', 'config', config], { timeoutMs: 30_000 });
      expect(check.code, check.stdout + check.stderr).toBe(0);
    }
    const port = await freeLoopbackPort(0);
    prometheus = spawn(
      binary,
      [
        '--config.file',
        config,
        '--storage.tsdb.path',
        join(dir, 'data'),
        '--web.listen-address',
        `127.0.0.1:${port}`,
        '--log.level',
        'warn',
      ],
      { stdio: 'ignore' },
    );
    const started = Date.now();
    const node = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';
    const history = new PrometheusGpuHistory(new HttpPrometheusClient(`http://127.0.0.1:${port}`), {
      stepSeconds: 1,
    });
    const gi7Max = async (): Promise<number | null> => {
      const got = await history.series(node, started - 60_000, Date.now()).catch(() => null);
      const gi7 = got?.series.find((s) => s.migInstance === '7');
      return gi7 === undefined ? null : Math.max(...gi7.points.map((p) => p.usedPct));
    };
    // The idle GPU scraped first (Prometheus takes a moment to start), then the ramp.
    for (let i = 0; i < 80 && (await gi7Max()) === null; i++)
      await new Promise((r) => setTimeout(r, 250));
    sim.device(0, 7).ramp(0, 45.5, 4_000);
    // Scraped each second: within 20 s Prometheus holds the ramp's end.
    for (let i = 0; i < 80 && ((await gi7Max()) ?? 0) < 45; i++)
      await new Promise((r) => setTimeout(r, 250));
    const data = await history.series(node, started - 60_000, Date.now());
    expect(data?.origin).toBe('dcgm');
    expect(data?.series.map((s) => s.migInstance)).toEqual(['7', '8', '9', '10', '11', '12', '13']);
    const gi7 = data?.series.find((s) => s.migInstance === '7');
    expect(gi7?.migProfile).toBe('1g.10gb');
    const values = gi7?.points.map((p) => p.usedPct) ?? [];
    expect(values[0]).toBeLessThan(20);
    expect(Math.max(...values)).toBeCloseTo(45.5, 0);
    expect(data?.xids).toEqual([]);
  }, 60_000);
});
