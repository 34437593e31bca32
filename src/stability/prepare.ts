/**
 * What a stability test needs before it starts, and what is kept after it
 * ends — shared by `nodewarden stability-test` (an operator's run) and the
 * controller's schedule (`src/stability/scheduler.ts`), so both produce the
 * same Job, the same probes and the same stored record.
 */
import type { NodeSnapshot } from '../core/cluster.ts';
import { badInput, NodeWardenError } from '../core/errors.ts';
import type { Layer } from '../core/probe.ts';
import {
  DEFAULT_STABILITY_THRESHOLDS,
  loadPlan,
  type StabilityProfile,
} from '../core/stability.ts';
import type { AuditRecord, JsonValue } from '../store/port.ts';
import { DEFAULT_IMAGE, gpuRequestFor, LOAD_PROGRAM, stabilityJob } from './job.ts';
import { stabilityMarkdown, stabilityReportJson, stabilitySvg } from './report.ts';
import type { StabilityRun, StabilityRunInput } from './run.ts';

/** The audit action every stability test is stored under (incident null). */
export const STABILITY_AUDIT_ACTION = 'stability-test';

/** How to run one test: the CLI's flags, or the controller's `--stability-*` flags. */
export interface StabilityTestSettings {
  readonly profile: StabilityProfile;
  readonly toPercent: number;
  readonly durationMs: number;
  readonly baselineMs: number;
  readonly steps: number;
  readonly rateHz: number;
  readonly maxLossPct: number;
  /** Per-layer p99 limits replacing the defaults' (others keep theirs). */
  readonly maxP99Ms?: Readonly<Partial<Record<Layer, number>>>;
  readonly namespace: string;
  readonly image: string;
  readonly command: readonly string[];
  /**
   * The node's DCGM exporter, `{ip}` standing for the node's address;
   * undefined: `http://{ip}:9400/metrics`; `none`: no sampling.
   */
  readonly dcgmUrl?: string;
  /** The reference node; undefined: the first other Ready node by name. */
  readonly reference?: string;
}

export const DEFAULT_STABILITY_SETTINGS: StabilityTestSettings = {
  profile: 'ramp',
  toPercent: 45.5,
  durationMs: 600_000,
  baselineMs: 30_000,
  steps: 5,
  rateHz: 5,
  maxLossPct: DEFAULT_STABILITY_THRESHOLDS.maxLossPct,
  namespace: 'default',
  image: DEFAULT_IMAGE,
  command: ['python3', '-c', LOAD_PROGRAM],
};

const isReady = (n: NodeSnapshot) =>
  n.conditions.some((c) => c.type === 'Ready' && c.status === 'True');

export interface PreparedStabilityTest {
  readonly input: StabilityRunInput;
  /** null: GPU memory is not sampled. */
  readonly dcgmUrl: string | null;
}

/**
 * The run's input for `nodeName` among `nodes`: the plan, the Job (named
 * after `now`), the reference node and the thresholds. NOT_FOUND for an
 * unknown node, BAD_INPUT for a node without an address or a GPU, or an
 * unknown reference.
 */
export function prepareStabilityTest(
  nodes: readonly NodeSnapshot[],
  nodeName: string,
  s: StabilityTestSettings,
  now: number,
): PreparedStabilityTest {
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
    throw badInput(`node ${nodeName} has no InternalIP to probe`, 'check kubectl get node -o wide');
  const gpu = gpuRequestFor(node);
  const reference =
    s.reference === undefined
      ? (nodes
          .filter((n) => n.name !== nodeName && isReady(n) && n.internalIP !== null)
          .sort((a, b) => (a.name < b.name ? -1 : 1))[0] ?? null)
      : (nodes.find((n) => n.name === s.reference) ?? null);
  if (s.reference !== undefined && reference === null) {
    throw badInput(
      `--reference ${s.reference} is not a node of the cluster`,
      'name another Ready node, or leave --reference out',
    );
  }
  const plan = loadPlan({
    profile: s.profile,
    toPercent: s.toPercent,
    durationMs: s.durationMs,
    baselineMs: s.baselineMs,
    steps: s.steps,
  });
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase();
  const job = stabilityJob({
    name: `nw-stability-${stamp}`.slice(0, 52),
    namespace: s.namespace,
    node: nodeName,
    gpu,
    image: s.image,
    command: s.command,
    plan: { profile: s.profile, toPercent: s.toPercent, steps: plan },
    activeDeadlineSeconds: Math.ceil(((plan[plan.length - 1]?.endMs ?? 0) + 120_000) / 1000),
  }) as StabilityRunInput['job'];
  const dcgmUrl = (s.dcgmUrl ?? 'http://{ip}:9400/metrics').replaceAll('{ip}', node.internalIP);
  return {
    input: {
      node: { name: nodeName, ip: node.internalIP },
      reference:
        reference?.internalIP == null ? null : { name: reference.name, ip: reference.internalIP },
      plan,
      job,
      thresholds: {
        ...DEFAULT_STABILITY_THRESHOLDS,
        maxLossPct: s.maxLossPct,
        maxP99Ms: { ...DEFAULT_STABILITY_THRESHOLDS.maxP99Ms, ...s.maxP99Ms },
      },
      rateHz: s.rateHz,
      probeTimeoutMs: 1_000,
      port: 10250,
      gpuEveryMs: 1_000,
    },
    dcgmUrl: dcgmUrl === 'none' ? null : dcgmUrl,
  };
}

/**
 * A finished run as the audit record it is kept as (incident null, action
 * `stability-test`, result = verdict, evidence = the report in JSON, Markdown
 * and SVG), beside the incidents in the same store.
 */
export function stabilityAuditRecord(run: StabilityRun, actor: string): AuditRecord {
  const report = stabilityReportJson(run);
  return {
    id: `stability-${run.node}-${run.startedAt}`.slice(0, 256),
    incidentId: null,
    at: run.endedAt,
    actor,
    action: STABILITY_AUDIT_ACTION,
    reason: run.result.summary,
    evidence: {
      report,
      markdown: stabilityMarkdown(run),
      svg: stabilitySvg(run),
    } as unknown as JsonValue,
    result: run.result.verdict,
    durationMs: Date.parse(run.endedAt) - Date.parse(run.startedAt),
  };
}
