import { mkdir, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { badInput } from '../core/errors.ts';
import type { Layer } from '../core/probe.ts';
import {
  DEFAULT_STABILITY_THRESHOLDS,
  STABILITY_PROFILES,
  type StabilityProfile,
} from '../core/stability.ts';
import { DcgmExporterSampler } from '../gpu/gpu-sampler.ts';
import { jsonLogger } from '../host/json-logger.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { kubeRequest } from '../kube/http.ts';
import { toNode } from '../kube/map.ts';
import { LinuxProber } from '../probe/linux-prober.ts';
import { DEFAULT_IMAGE } from '../stability/job.ts';
import { kubeLoadJobs } from '../stability/kube-jobs.ts';
import {
  DEFAULT_STABILITY_SETTINGS,
  prepareStabilityTest,
  stabilityAuditRecord,
  type StabilityTestSettings,
} from '../stability/prepare.ts';
import { runStabilityTest } from '../stability/run.ts';
import { openStore } from '../store/open.ts';
import type { JsonValue } from '../store/port.ts';
import { EXIT_OK, EXIT_UNHEALTHY, intFlag, parseFlags, type Command } from './command.ts';

/** The default p99 limits as the help and the hints name them: `L2 200, L3 200, …`. */
const DEFAULT_P99_TEXT = Object.entries(DEFAULT_STABILITY_THRESHOLDS.maxP99Ms)
  .map(([layer, ms]) => `${layer} ${ms}`)
  .join(', ');

const help = `nodewarden stability-test — does GPU load break this node's network?

Usage:
  nodewarden stability-test --node <name> [--profile ramp|steps|spike] [--to 45.5%] [--duration 10m]
                            [--baseline 30s] [--steps 5] [--reference <node>] [--rate 5]
                            [--max-loss 1] [--namespace default] [--image I] [--command JSON]
                            [--dcgm-url URL|none] [--kubeconfig K] [--store URL] [--out DIR]

Runs a Kubernetes Job on the node that raises GPU memory use (baseline at 0%,
then the profile: ramp = a steady rise to --to, steps = --steps flat levels,
spike = straight to --to), while this process probes the node at every
layer (L2 ARP, L3 ICMP, L4 TCP and L7 HTTPS to the kubelet port) --rate times
a second, and a reference node the same way (so trouble of this host's own
network is not blamed on the node), and reads the node's GPU memory from its
DCGM exporter each second. The load stops at once when a layer of the node
fails 5 times in a row. The Job is deleted in every case: at the end, on an
error, and on Ctrl-C.

The result: PASS, FAIL (the step and the GPU level where trouble began) or
INCONCLUSIVE (the network already failed before the load, or nothing could
be probed), per step: GPU memory, loss and p99 latency per layer.

Run it where the nodes' addresses are reachable (in the lab: sudo ip netns
exec nw-hub nodewarden stability-test …). The Job requests the node's
smallest MIG slice, or one nvidia.com/gpu, and 1 CPU / 4Gi (Guaranteed).

Options:
  --node N          the GPU node to test (required)
  --profile P       ramp (default), steps or spike
  --to P%           target GPU memory, percent of the slice/GPU the Job gets (default 45.5%)
  --duration D      length of the load after the baseline: 90s, 10m, 1h (default 10m)
  --baseline D      unloaded window first (default 30s)
  --steps N         load steps for ramp/steps (default 5)
  --reference N     the reference node (default: the first other Ready node by name)
  --rate N          probes per second per target (default 5)
  --max-loss P      loss above P% in a step fails it (default ${DEFAULT_STABILITY_THRESHOLDS.maxLossPct})
  --max-p99 L=MS,…  p99 latency limits per layer, e.g. L4=500,L7=2000 (default
                    ${DEFAULT_P99_TEXT} ms; a probe times out at 1000 ms)
  --namespace NS    where the Job runs (default default)
  --image I         load image (default ${DEFAULT_IMAGE}: PyTorch with CUDA)
  --command JSON    load command as a JSON array (default: python3 -c <a program that
                    allocates and touches memory following NW_PLAN, every 0.5 s>)
  --dcgm-url URL    the node's DCGM exporter, {ip} for its address (default
                    http://{ip}:9400/metrics; none: do not sample)
  --kubeconfig K    as kubectl (default $KUBECONFIG, in-cluster, ~/.kube/config)
  --store URL       keep the report with the incidents (sqlite:<path> or postgres://…):
                    as an audit record, action stability-test (as the controller's
                    scheduled runs are: controller --stability-schedule)
  --out DIR         also write stability.md, stability.json and stability.svg there

Exit: 0 PASS, 1 FAIL or INCONCLUSIVE or the test could not run, 2 bad usage.

Examples:
  nodewarden stability-test --node tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq --to 45.5% --duration 10m
  nodewarden stability-test --node gpu-7 --profile spike --to 80% --duration 2m --out /tmp/st
`;

/** `90s`, `10m`, `1h`, `1500ms` → milliseconds. */
export function durationFlag(name: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
  if (!m) throw badInput(`--${name} "${value}" is not a duration`, `write it like 90s, 10m or 1h`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

/** The test's settings as flags: `stability-test --profile …`, `controller --stability-profile …`. */
export const STABILITY_SETTING_FLAGS = [
  'profile',
  'to',
  'duration',
  'baseline',
  'steps',
  'rate',
  'max-loss',
  'max-p99',
  'namespace',
  'image',
  'command',
  'dcgm-url',
] as const;

/** parseArgs options for the settings flags, each named `prefix + name`. */
export function stabilitySettingOptions(prefix: string): Record<string, { type: 'string' }> {
  return Object.fromEntries(STABILITY_SETTING_FLAGS.map((f) => [prefix + f, { type: 'string' }]));
}

/**
 * Reads the settings flags (named `prefix + name`) into settings; BAD_INPUT
 * names the flag. Defaults: DEFAULT_STABILITY_SETTINGS.
 */
export function stabilitySettingsFromFlags(
  values: Readonly<Record<string, string | boolean | string[] | undefined>>,
  prefix = '',
): StabilityTestSettings {
  const get = (f: (typeof STABILITY_SETTING_FLAGS)[number]): string | undefined => {
    const v = values[prefix + f];
    return typeof v === 'string' ? v : undefined;
  };
  const d = DEFAULT_STABILITY_SETTINGS;
  const profile = (get('profile') ?? d.profile) as StabilityProfile;
  if (!STABILITY_PROFILES.includes(profile)) {
    throw badInput(
      `--${prefix}profile "${get('profile')}" is not one of ${STABILITY_PROFILES.join(', ')}`,
      `pass --${prefix}profile ramp, steps or spike`,
    );
  }
  const dcgmUrl = get('dcgm-url');
  const maxP99 = get('max-p99');
  return {
    profile,
    toPercent: percentFlag(`${prefix}to`, get('to'), d.toPercent),
    durationMs: durationFlag(`${prefix}duration`, get('duration'), d.durationMs),
    baselineMs: durationFlag(`${prefix}baseline`, get('baseline'), d.baselineMs),
    steps: intFlag(`${prefix}steps`, get('steps'), d.steps, 1, 100),
    rateHz: intFlag(`${prefix}rate`, get('rate'), d.rateHz, 1, 20),
    maxLossPct: intFlag(`${prefix}max-loss`, get('max-loss'), d.maxLossPct, 0, 100),
    ...(maxP99 === undefined ? {} : { maxP99Ms: p99Flag(`${prefix}max-p99`, maxP99) }),
    namespace: get('namespace') ?? d.namespace,
    image: get('image') ?? d.image,
    command: commandFlag(`${prefix}command`, get('command')) ?? d.command,
    ...(dcgmUrl === undefined ? {} : { dcgmUrl }),
  };
}

/** `L4=500,L7=2000` → per-layer p99 limits in ms; BAD_INPUT names the part. */
function p99Flag(name: string, value: string): Partial<Record<Layer, number>> {
  const out: Partial<Record<Layer, number>> = {};
  for (const part of value.split(',').map((p) => p.trim())) {
    const m = /^(L2|L3|L4|L7)=(\d+)$/.exec(part);
    const ms = Number(m?.[2]);
    if (!m || ms < 1 || ms > 600_000) {
      throw badInput(
        `--${name} "${part}" is not <layer>=<ms> (layers L2, L3, L4, L7; 1–600000 ms)`,
        `pass e.g. --${name} L4=500,L7=2000 (defaults: ${DEFAULT_P99_TEXT})`,
      );
    }
    out[m[1] as Layer] = ms;
  }
  return out;
}

function percentFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.trim().replace(/%$/, ''));
  if (!Number.isFinite(n) || n <= 0 || n > 100) {
    throw badInput(
      `--${name} "${value}" is not a percentage in (0, 100]`,
      `pass e.g. --${name} 45.5%`,
    );
  }
  return n;
}

function commandFlag(name: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = null;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length === 0 ||
    !parsed.every((x) => typeof x === 'string')
  ) {
    throw badInput(
      `--${name} is not a JSON array of strings: ${value}`,
      `e.g. --${name} '["/load","--follow-plan"]' (the plan is in $NW_PLAN)`,
    );
  }
  return parsed;
}

export const command: Command = {
  name: 'stability-test',
  summary:
    'raise GPU memory on a node with a Job while probing its network at every layer; pass/fail per step',
  help,
  async run(argv, io) {
    const { values, positionals } = parseFlags('stability-test', argv, {
      node: { type: 'string' },
      reference: { type: 'string' },
      kubeconfig: { type: 'string' },
      store: { type: 'string' },
      out: { type: 'string' },
      ...stabilitySettingOptions(''),
    });
    if (positionals.length > 0) {
      throw badInput(
        `unexpected argument "${positionals[0]}"`,
        'name the node with --node; see --help',
      );
    }
    const nodeName = values.node;
    if (nodeName === undefined || nodeName === '') {
      throw badInput(
        '--node is required',
        'e.g. nodewarden stability-test --node tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq',
      );
    }
    const settings = stabilitySettingsFromFlags(values);
    const { kc } = await loadKubeConfig(values.kubeconfig);
    const nodes = (
      await kubeRequest<{ items: unknown[] }>(kc, 'GET', '/api/v1/nodes', 15_000)
    ).items.map(toNode);
    const { input, dcgmUrl } = prepareStabilityTest(
      nodes,
      nodeName,
      { ...settings, ...(values.reference === undefined ? {} : { reference: values.reference }) },
      Date.now(),
    );

    const cancel = new AbortController();
    const onSignal = (signal: string) => {
      io.err(`${signal}: stopping the load and deleting the Job…\n`);
      cancel.abort(new Error(signal));
    };
    const onInt = () => onSignal('SIGINT');
    const onTerm = () => onSignal('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    let run;
    try {
      run = await runStabilityTest(
        input,
        {
          jobs: kubeLoadJobs(kc),
          prober: new LinuxProber(),
          gpu: dcgmUrl === null ? null : new DcgmExporterSampler({ url: dcgmUrl, timeoutMs: 900 }),
          logger: jsonLogger(undefined, 'info', { component: 'stability-test' }),
          progress: (line) => io.out(`${new Date().toISOString().slice(11, 19)}  ${line}\n`),
        },
        cancel.signal,
      );
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
    const record = stabilityAuditRecord(run, `user:${userInfo().username}`);
    const { report, markdown, svg } = record.evidence as {
      report: JsonValue;
      markdown: string;
      svg: string;
    };
    io.out(`\n${markdown}`);
    if (values.out !== undefined) {
      const dir = resolve(values.out);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'stability.json'), JSON.stringify(report, null, 2) + '\n');
      await writeFile(join(dir, 'stability.md'), markdown);
      await writeFile(join(dir, 'stability.svg'), svg);
      io.out(`report: ${join(dir, 'stability.md')} (+ .json, .svg)\n`);
    }
    if (values.store !== undefined) {
      const store = await openStore(values.store);
      try {
        await store.appendAudit(record);
        io.out(`stored as audit record ${record.id}\n`);
      } finally {
        await store.close();
      }
    }
    if (run.cleanup.includes('NOT deleted')) return EXIT_UNHEALTHY;
    return run.result.verdict === 'pass' ? EXIT_OK : EXIT_UNHEALTHY;
  },
};
