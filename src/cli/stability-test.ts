import { mkdir, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { badInput, NodeWardenError } from '../core/errors.ts';
import type { NodeSnapshot } from '../core/cluster.ts';
import {
  DEFAULT_STABILITY_THRESHOLDS,
  loadPlan,
  STABILITY_PROFILES,
  type StabilityProfile,
} from '../core/stability.ts';
import { DcgmExporterSampler } from '../gpu/gpu-sampler.ts';
import { jsonLogger } from '../host/json-logger.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { kubeRequest } from '../kube/http.ts';
import { toNode } from '../kube/map.ts';
import { LinuxProber } from '../probe/linux-prober.ts';
import { DEFAULT_IMAGE, gpuRequestFor, LOAD_PROGRAM, stabilityJob } from '../stability/job.ts';
import { kubeLoadJobs } from '../stability/kube-jobs.ts';
import { stabilityMarkdown, stabilityReportJson, stabilitySvg } from '../stability/report.ts';
import { runStabilityTest } from '../stability/run.ts';
import { openStore } from '../store/open.ts';
import type { JsonValue } from '../store/port.ts';
import { EXIT_OK, EXIT_UNHEALTHY, intFlag, parseFlags, type Command } from './command.ts';

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
  --namespace NS    where the Job runs (default default)
  --image I         load image (default ${DEFAULT_IMAGE}: PyTorch with CUDA)
  --command JSON    load command as a JSON array (default: python3 -c <a program that
                    allocates and touches memory following NW_PLAN, every 0.5 s>)
  --dcgm-url URL    the node's DCGM exporter (default http://<node IP>:9400/metrics; none: do not sample)
  --kubeconfig K    as kubectl (default $KUBECONFIG, in-cluster, ~/.kube/config)
  --store URL       keep the report with the incidents (sqlite:<path> or postgres://…):
                    an audit record, action stability-test, the dashboard lists it
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

function percentFlag(value: string | undefined): number {
  if (value === undefined) return 45.5;
  const n = Number(value.trim().replace(/%$/, ''));
  if (!Number.isFinite(n) || n <= 0 || n > 100) {
    throw badInput(`--to "${value}" is not a percentage in (0, 100]`, 'pass e.g. --to 45.5%');
  }
  return n;
}

function commandFlag(value: string | undefined): string[] {
  if (value === undefined) return ['python3', '-c', LOAD_PROGRAM];
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
      `--command is not a JSON array of strings: ${value}`,
      `e.g. --command '["/load","--follow-plan"]' (the plan is in $NW_PLAN)`,
    );
  }
  return parsed;
}

const ready = (n: NodeSnapshot) =>
  n.conditions.some((c) => c.type === 'Ready' && c.status === 'True');

export const command: Command = {
  name: 'stability-test',
  summary:
    'raise GPU memory on a node with a Job while probing its network at every layer; pass/fail per step',
  help,
  async run(argv, io) {
    const { values, positionals } = parseFlags('stability-test', argv, {
      node: { type: 'string' },
      profile: { type: 'string' },
      to: { type: 'string' },
      duration: { type: 'string' },
      baseline: { type: 'string' },
      steps: { type: 'string' },
      reference: { type: 'string' },
      rate: { type: 'string' },
      'max-loss': { type: 'string' },
      namespace: { type: 'string' },
      image: { type: 'string' },
      command: { type: 'string' },
      'dcgm-url': { type: 'string' },
      kubeconfig: { type: 'string' },
      store: { type: 'string' },
      out: { type: 'string' },
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
    const profile = (values.profile ?? 'ramp') as StabilityProfile;
    if (!STABILITY_PROFILES.includes(profile)) {
      throw badInput(
        `--profile "${values.profile}" is not one of ${STABILITY_PROFILES.join(', ')}`,
        'pass --profile ramp, steps or spike',
      );
    }
    const toPercent = percentFlag(values.to);
    const durationMs = durationFlag('duration', values.duration, 600_000);
    const baselineMs = durationFlag('baseline', values.baseline, 30_000);
    const steps = intFlag('steps', values.steps, 5, 1, 100);
    const rateHz = intFlag('rate', values.rate, 5, 1, 20);
    const maxLoss = intFlag(
      'max-loss',
      values['max-loss'],
      DEFAULT_STABILITY_THRESHOLDS.maxLossPct,
      0,
      100,
    );
    const plan = loadPlan({ profile, toPercent, durationMs, baselineMs, steps });
    const loadCommand = commandFlag(values.command);
    const namespace = values.namespace ?? 'default';

    const { kc } = await loadKubeConfig(values.kubeconfig);
    const nodes = (
      await kubeRequest<{ items: unknown[] }>(kc, 'GET', '/api/v1/nodes', 15_000)
    ).items.map(toNode);
    const node = nodes.find((n) => n.name === nodeName);
    if (node === undefined) {
      throw new NodeWardenError('NOT_FOUND', `no node ${nodeName} in the cluster`, {
        hint: `nodes: ${nodes
          .map((n) => n.name)
          .slice(0, 8)
          .join(', ')}`,
      });
    }
    if (node.internalIP === null)
      throw badInput(
        `node ${nodeName} has no InternalIP to probe`,
        'check kubectl get node -o wide',
      );
    const gpu = gpuRequestFor(node);
    const referenceNode =
      values.reference === undefined
        ? (nodes
            .filter((n) => n.name !== nodeName && ready(n) && n.internalIP !== null)
            .sort((a, b) => (a.name < b.name ? -1 : 1))[0] ?? null)
        : (nodes.find((n) => n.name === values.reference) ?? null);
    if (values.reference !== undefined && referenceNode === null) {
      throw badInput(
        `--reference ${values.reference} is not a node of the cluster`,
        'name another Ready node, or leave --reference out',
      );
    }
    const dcgmUrl = values['dcgm-url'] ?? `http://${node.internalIP}:9400/metrics`;
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase();
    const jobName = `nw-stability-${stamp}`.slice(0, 52);
    const job = stabilityJob({
      name: jobName,
      namespace,
      node: nodeName,
      gpu,
      image: values.image ?? DEFAULT_IMAGE,
      command: loadCommand,
      plan: { profile, toPercent, steps: plan },
      activeDeadlineSeconds: Math.ceil(((plan[plan.length - 1]?.endMs ?? 0) + 120_000) / 1000),
    }) as Record<string, unknown> & { metadata: { name: string; namespace: string } };

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
        {
          node: { name: nodeName, ip: node.internalIP },
          reference: referenceNode?.internalIP
            ? { name: referenceNode.name, ip: referenceNode.internalIP }
            : null,
          plan,
          job,
          thresholds: { ...DEFAULT_STABILITY_THRESHOLDS, maxLossPct: maxLoss },
          rateHz,
          probeTimeoutMs: 1_000,
          port: 10250,
          gpuEveryMs: 1_000,
        },
        {
          jobs: kubeLoadJobs(kc),
          prober: new LinuxProber(),
          gpu:
            dcgmUrl === 'none' ? null : new DcgmExporterSampler({ url: dcgmUrl, timeoutMs: 900 }),
          logger: jsonLogger(undefined, 'info', { component: 'stability-test' }),
          progress: (line) => io.out(`${new Date().toISOString().slice(11, 19)}  ${line}\n`),
        },
        cancel.signal,
      );
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
    const report = stabilityReportJson(run);
    const markdown = stabilityMarkdown(run);
    const svg = stabilitySvg(run);
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
        const id = `stability-${nodeName}-${run.startedAt}`.slice(0, 256);
        await store.appendAudit({
          id,
          incidentId: null,
          at: run.endedAt,
          actor: `user:${userInfo().username}`,
          action: 'stability-test',
          reason: run.result.summary,
          evidence: { report, markdown, svg } as unknown as JsonValue,
          result: run.result.verdict,
          durationMs: Date.parse(run.endedAt) - Date.parse(run.startedAt),
        });
        io.out(`stored as audit record ${id}\n`);
      } finally {
        await store.close();
      }
    }
    if (run.cleanup.includes('NOT deleted')) return EXIT_UNHEALTHY;
    return run.result.verdict === 'pass' ? EXIT_OK : EXIT_UNHEALTHY;
  },
};
