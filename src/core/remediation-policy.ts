/**
 * The remediation policy: the mode, one ladder of steps per root cause, each
 * step with its timeout, and the brakes' limits. Pure: `validatePolicy` takes
 * what a YAML (or JSON) parser returned and either returns a complete policy
 * or throws BAD_INPUT naming the key path and what is wrong with it. Reading
 * the file is src/remediate/policy-file.ts.
 */
import { badInput } from './errors.ts';
import type { RootCause } from './incident.ts';

/**
 * - `off`: nothing is remediated; a remediation already under way is closed as cancelled.
 * - `dry-run`: every step is recorded (audit and timeline) as what would be done; nothing is done.
 * - `approve`: every step that changes something waits for a person's approval (API or CLI).
 * - `auto`: steps run as soon as the brakes allow.
 */
export type RemediationMode = 'off' | 'dry-run' | 'approve' | 'auto';
export const REMEDIATION_MODES: readonly RemediationMode[] = ['off', 'dry-run', 'approve', 'auto'];

/**
 * What a ladder step does:
 * - `capture-console`: save the VM's serial console (a hard reboot wipes it);
 * - `cordon`: mark the node unschedulable and taint it `nodewarden.io/remediating:NoSchedule`;
 * - `port-reset`: set the node's Neutron ports `admin_state_up` false, then true, and wait for Ready;
 * - `soft-reboot` / `hard-reboot`: ask the cloud to reboot, then wait for Ready (soft) or for
 *   the cloud to confirm the VM is rebooting or off (hard);
 * - `out-of-service`: taint `node.kubernetes.io/out-of-service=nodeshutdown:NoExecute` — only
 *   once the cloud confirmed the VM rebooting or off — so StatefulSet pods and volumes move;
 * - `wait-ready`: wait for the node to be Ready and answering probes again;
 * - `remove-taints`: remove the taints it added and uncordon what it cordoned;
 * - `escalate`: annotate the node's Cluster API Machine `cluster.x-k8s.io/remediate-machine`
 *   when it has one, otherwise hand the node to a person.
 */
export type StepKind =
  | 'capture-console'
  | 'cordon'
  | 'port-reset'
  | 'soft-reboot'
  | 'hard-reboot'
  | 'out-of-service'
  | 'wait-ready'
  | 'remove-taints'
  | 'escalate';

export const STEP_KINDS: readonly StepKind[] = [
  'capture-console',
  'cordon',
  'port-reset',
  'soft-reboot',
  'hard-reboot',
  'out-of-service',
  'wait-ready',
  'remove-taints',
  'escalate',
];

/** Steps that only read: they need no approval and change nothing in dry-run either way. */
export const READ_ONLY_STEPS: readonly StepKind[] = ['capture-console', 'wait-ready'];

export interface LadderStep {
  readonly step: StepKind;
  /** How long the step may take (its action and what it waits for) before it times out. */
  readonly timeoutMs: number;
}

/** What the capacity guard does when the survivors would end up over a threshold. */
export type CapacityGuardAction = 'report' | 'block';

export interface BrakePolicy {
  /** No remediation while more than this many nodes are unhealthy… */
  readonly maxUnhealthyCount: number;
  /** …or more than this share of all nodes (0–100). */
  readonly maxUnhealthyPercent: number;
  /** After too many unhealthy nodes, wait this long after it cleared before starting again. */
  readonly stormCooldownMs: number;
  /** Remediations under way at once. */
  readonly maxConcurrent: number;
  /** Remediations of one node within `attemptWindowMs`. */
  readonly maxAttemptsPerNode: number;
  readonly attemptWindowMs: number;
  /** After a node's remediation ends, wait `backoffBaseMs · 2^(n−1)` (n: attempts in the window). */
  readonly backoffBaseMs: number;
  readonly capacityGuard: CapacityGuardAction;
  /** How long a step waits for a person in `approve` mode before the remediation is closed. */
  readonly approvalTimeoutMs: number;
}

export interface RemediationPolicy {
  readonly mode: RemediationMode;
  readonly ladders: Readonly<Partial<Record<RootCause, readonly LadderStep[]>>>;
  readonly brakes: BrakePolicy;
}

const MIN = 60_000;

export const DEFAULT_BRAKES: BrakePolicy = {
  maxUnhealthyCount: 2,
  maxUnhealthyPercent: 40,
  stormCooldownMs: 10 * MIN,
  maxConcurrent: 1,
  maxAttemptsPerNode: 3,
  attemptWindowMs: 24 * 60 * MIN,
  backoffBaseMs: 10 * MIN,
  capacityGuard: 'report',
  approvalTimeoutMs: 60 * MIN,
};

const NODE_HALTED_LADDER: readonly LadderStep[] = [
  { step: 'capture-console', timeoutMs: 30_000 },
  { step: 'cordon', timeoutMs: 30_000 },
  { step: 'soft-reboot', timeoutMs: 3 * MIN },
  { step: 'hard-reboot', timeoutMs: 2 * MIN },
  { step: 'out-of-service', timeoutMs: 2 * MIN },
  { step: 'wait-ready', timeoutMs: 10 * MIN },
  { step: 'remove-taints', timeoutMs: 30_000 },
  { step: 'escalate', timeoutMs: 30_000 },
];

/** A node's network is down: reset its port from outside before anything as heavy as a reboot. */
const HOST_NETWORK_DOWN_LADDER: readonly LadderStep[] = [
  { step: 'capture-console', timeoutMs: 30_000 },
  { step: 'cordon', timeoutMs: 30_000 },
  { step: 'port-reset', timeoutMs: 2 * MIN },
  ...NODE_HALTED_LADDER.slice(2),
];

/**
 * The built-in policy: `auto` is not the default — a new installation
 * records what it would do (`dry-run`) until someone chooses otherwise.
 * Ladders exist for the root causes a reboot can fix; every other cause
 * (CONTROL_PLANE_SIDE, PARTIAL_PARTITION, PLANNED_MAINTENANCE, GPU_FAULT, …)
 * gets no remediation.
 */
export const DEFAULT_POLICY: RemediationPolicy = {
  mode: 'dry-run',
  ladders: {
    NODE_HALTED: NODE_HALTED_LADDER,
    HOST_NETWORK_DOWN: HOST_NETWORK_DOWN_LADDER,
    KUBELET_HUNG: NODE_HALTED_LADDER,
    OOM_KILLED_NETWORK: NODE_HALTED_LADDER,
  },
  brakes: DEFAULT_BRAKES,
};

/** Root causes a policy may name (the classifier's categories). */
const ROOT_CAUSES: readonly RootCause[] = [
  'NODE_HALTED',
  'NODE_POWERED_OFF',
  'NODE_DELETED',
  'HOST_NETWORK_DOWN',
  'KUBELET_DOWN',
  'KUBELET_HUNG',
  'PARTIAL_PARTITION',
  'OVERLAY_DATAPATH',
  'GPU_FAULT',
  'OOM_KILLED_NETWORK',
  'PLANNED_MAINTENANCE',
  'CONTROL_PLANE_SIDE',
  'UNKNOWN',
];

/** Causes no ladder may be written for: acting on them is what causes reboot storms. */
const NEVER_REMEDIATED: readonly RootCause[] = [
  'CONTROL_PLANE_SIDE',
  'PARTIAL_PARTITION',
  'PLANNED_MAINTENANCE',
];

/** A policy problem: the key path (`brakes.maxConcurrent`, `ladders.NODE_HALTED[2].timeout`) and why. */
export class PolicyProblem extends Error {
  constructor(
    readonly keyPath: string,
    readonly reason: string,
  ) {
    super(`${keyPath}: ${reason}`);
  }
}

/** `30s`, `5m`, `1h`, `250ms` or a number of seconds; returns milliseconds. */
export function parseDuration(value: unknown, keyPath: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value * 1000;
  if (typeof value === 'string') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) {
      const unit = { ms: 1, s: 1000, m: MIN, h: 60 * MIN }[m[2] as 'ms' | 's' | 'm' | 'h'];
      return Math.round(Number(m[1]) * unit);
    }
  }
  throw new PolicyProblem(
    keyPath,
    `${JSON.stringify(value)} is not a duration (write e.g. 30s, 5m, 1h or a number of seconds)`,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      const where = path === '' ? key : `${path}.${key}`;
      throw new PolicyProblem(where, `unknown key (allowed here: ${allowed.join(', ')})`);
    }
  }
}

function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new PolicyProblem(
      path,
      `${JSON.stringify(value)} is not an integer from ${min} to ${max}`,
    );
  }
  return value;
}

function duration(value: unknown, path: string, minMs: number, maxMs: number): number {
  const ms = parseDuration(value, path);
  if (ms < minMs || ms > maxMs) {
    throw new PolicyProblem(
      path,
      `${JSON.stringify(value)} is outside ${minMs / 1000} s … ${maxMs / 1000} s`,
    );
  }
  return ms;
}

function ladder(value: unknown, path: string): LadderStep[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new PolicyProblem(path, 'must be a non-empty list of steps');
  }
  const steps = value.map((raw: unknown, i): LadderStep => {
    const at = `${path}[${i}]`;
    if (!isRecord(raw)) throw new PolicyProblem(at, 'must be a map with step and timeout');
    checkKeys(raw, ['step', 'timeout'], at);
    if (typeof raw['step'] !== 'string' || !STEP_KINDS.includes(raw['step'] as StepKind)) {
      throw new PolicyProblem(
        `${at}.step`,
        `${JSON.stringify(raw['step'])} is not a step (one of: ${STEP_KINDS.join(', ')})`,
      );
    }
    if (raw['timeout'] === undefined) throw new PolicyProblem(`${at}.timeout`, 'is required');
    return {
      step: raw['step'] as StepKind,
      timeoutMs: duration(raw['timeout'], `${at}.timeout`, 1000, 24 * 60 * MIN),
    };
  });
  const kinds = steps.map((s) => s.step);
  const dup = kinds.find((k, i) => kinds.indexOf(k) !== i);
  if (dup !== undefined) throw new PolicyProblem(path, `step ${dup} appears twice`);
  const at = (k: StepKind): number => kinds.indexOf(k);
  const rebootOrReset = ['port-reset', 'soft-reboot', 'hard-reboot']
    .map((k) => at(k as StepKind))
    .filter((i) => i >= 0);
  if (
    at('out-of-service') >= 0 &&
    (at('hard-reboot') < 0 || at('out-of-service') < at('hard-reboot'))
  ) {
    throw new PolicyProblem(
      path,
      'out-of-service must come after hard-reboot: the taint frees volumes, so the VM must first be confirmed rebooting or off',
    );
  }
  if (rebootOrReset.length > 0 && (at('cordon') < 0 || at('cordon') > Math.min(...rebootOrReset))) {
    throw new PolicyProblem(path, 'cordon must come before any port-reset or reboot');
  }
  if (at('remove-taints') >= 0 && at('cordon') < 0) {
    throw new PolicyProblem(path, 'remove-taints without cordon has nothing to remove');
  }
  if (at('escalate') >= 0 && at('escalate') !== kinds.length - 1) {
    throw new PolicyProblem(path, 'escalate must be the last step');
  }
  return steps;
}

/**
 * Checks a parsed policy document and fills in defaults. Rules:
 * - top-level keys: `mode`, `ladders`, `brakes` — anything else is refused
 *   (a typo must not silently fall back to a default);
 * - `ladders` replaces the built-in ladders as a whole when given; its keys
 *   are root causes, never CONTROL_PLANE_SIDE, PARTIAL_PARTITION or
 *   PLANNED_MAINTENANCE;
 * - a ladder's order is checked: cordon before any reboot, out-of-service
 *   after hard-reboot, escalate last, no step twice;
 * - durations are `30s`, `5m`, `1h`, `250ms` or seconds; counts are integers.
 */
export function validatePolicy(doc: unknown): RemediationPolicy {
  if (doc === null || doc === undefined) return DEFAULT_POLICY;
  if (!isRecord(doc))
    throw new PolicyProblem('(top)', 'the policy must be a map (mode, ladders, brakes)');
  checkKeys(doc, ['mode', 'ladders', 'brakes'], '');
  let mode = DEFAULT_POLICY.mode;
  if (doc['mode'] !== undefined) {
    if (!REMEDIATION_MODES.includes(doc['mode'] as RemediationMode)) {
      throw new PolicyProblem(
        'mode',
        `${JSON.stringify(doc['mode'])} is not one of ${REMEDIATION_MODES.join(', ')}`,
      );
    }
    mode = doc['mode'] as RemediationMode;
  }
  let ladders = DEFAULT_POLICY.ladders;
  if (doc['ladders'] !== undefined) {
    const raw = doc['ladders'];
    if (!isRecord(raw))
      throw new PolicyProblem('ladders', 'must be a map from root cause to steps');
    const out: Partial<Record<RootCause, readonly LadderStep[]>> = {};
    for (const [cause, steps] of Object.entries(raw)) {
      const path = `ladders.${cause}`;
      if (!ROOT_CAUSES.includes(cause as RootCause)) {
        throw new PolicyProblem(
          path,
          `${cause} is not a root cause (one of: ${ROOT_CAUSES.join(', ')})`,
        );
      }
      if (NEVER_REMEDIATED.includes(cause as RootCause)) {
        throw new PolicyProblem(
          path,
          `${cause} is never remediated: the node is not what is broken (rebooting it is how reboot storms start)`,
        );
      }
      out[cause as RootCause] = ladder(steps, path);
    }
    ladders = out;
  }
  let brakes = DEFAULT_BRAKES;
  if (doc['brakes'] !== undefined) {
    const raw = doc['brakes'];
    if (!isRecord(raw)) throw new PolicyProblem('brakes', 'must be a map');
    checkKeys(
      raw,
      [
        'maxUnhealthy',
        'maxUnhealthyPercent',
        'stormCooldown',
        'maxConcurrent',
        'maxAttemptsPerNode',
        'attemptWindow',
        'backoff',
        'capacityGuard',
        'approvalTimeout',
      ],
      'brakes',
    );
    const d = DEFAULT_BRAKES;
    const pick = <T>(key: string, fallback: T, parse: (v: unknown, p: string) => T): T =>
      raw[key] === undefined ? fallback : parse(raw[key], `brakes.${key}`);
    const guard = pick('capacityGuard', d.capacityGuard, (v, p) => {
      if (v !== 'report' && v !== 'block')
        throw new PolicyProblem(p, `${JSON.stringify(v)} is not report or block`);
      return v;
    });
    brakes = {
      maxUnhealthyCount: pick('maxUnhealthy', d.maxUnhealthyCount, (v, p) =>
        integer(v, p, 0, 100_000),
      ),
      maxUnhealthyPercent: pick('maxUnhealthyPercent', d.maxUnhealthyPercent, (v, p) =>
        integer(v, p, 0, 100),
      ),
      stormCooldownMs: pick('stormCooldown', d.stormCooldownMs, (v, p) =>
        duration(v, p, 0, 7 * 24 * 60 * MIN),
      ),
      maxConcurrent: pick('maxConcurrent', d.maxConcurrent, (v, p) => integer(v, p, 1, 1000)),
      maxAttemptsPerNode: pick('maxAttemptsPerNode', d.maxAttemptsPerNode, (v, p) =>
        integer(v, p, 1, 100),
      ),
      attemptWindowMs: pick('attemptWindow', d.attemptWindowMs, (v, p) =>
        duration(v, p, MIN, 30 * 24 * 60 * MIN),
      ),
      backoffBaseMs: pick('backoff', d.backoffBaseMs, (v, p) => duration(v, p, 0, 24 * 60 * MIN)),
      capacityGuard: guard,
      approvalTimeoutMs: pick('approvalTimeout', d.approvalTimeoutMs, (v, p) =>
        duration(v, p, 1000, 7 * 24 * 60 * MIN),
      ),
    };
  }
  return { mode, ladders, brakes };
}

/** BAD_INPUT for a problem in the policy file at `file`. */
export function policyError(file: string, problem: PolicyProblem): Error {
  return badInput(
    `remediation policy ${file}: ${problem.keyPath}: ${problem.reason}`,
    'fix the policy file (see docs/recovery.md: the policy file) or start without --remediation-policy for the built-in one',
  );
}
