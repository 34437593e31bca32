/**
 * The admission policy that keeps the seed's MIG pods from coming back
 * without limits: a ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1,
 * Kubernetes ≥ 1.30) whose CEL rejects — or warns about — any pod that asks
 * for nvidia.com/gpu or an nvidia.com/mig-* slice while one of its
 * containers lacks a CPU or memory limit, and optionally one that is not
 * Guaranteed QoS. The message names each container and what to add.
 *
 * Three policies share the same rules and differ only in where the pod spec
 * sits, so that the API server can type-check every expression against the
 * kind it reads: Pods (`object.spec`); Deployments, ReplicaSets,
 * StatefulSets, DaemonSets and Jobs (`object.spec.template.spec`), so that a
 * person applying a manifest sees the message at once instead of finding a
 * ReplicaSet that cannot create pods; CronJobs
 * (`object.spec.jobTemplate.spec.template.spec`). Pods are checked on CREATE
 * only: their resources barely change afterwards, and checking UPDATE would
 * block label or finalizer edits of pods that already run.
 */
import { stringify } from 'yaml';
import { badInput } from '../core/errors.ts';

export type PolicyMode = 'warn' | 'deny';

export interface MigLimitsPolicyOptions {
  /** `warn`: admit and show a warning to the client (kubectl prints it); `deny`: reject. */
  readonly mode: PolicyMode;
  /** Also require Guaranteed QoS: requests equal to limits for cpu and memory. */
  readonly requireGuaranteed: boolean;
  /** Name of the pod policy; the others add -workloads and -cronjobs. */
  readonly name: string;
  /** Namespaces the bindings leave alone (the GPU operator's validator pods request GPUs). */
  readonly excludeNamespaces: readonly string[];
  /** Also check the pod templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs. */
  readonly workloads: boolean;
}

export const DEFAULT_POLICY_OPTIONS: MigLimitsPolicyOptions = {
  mode: 'warn',
  requireGuaranteed: false,
  name: 'nodewarden-mig-limits',
  excludeNamespaces: ['kube-system', 'gpu-operator'],
  workloads: true,
};

type Manifest = Record<string, unknown> & {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly labels: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
};

export interface MigLimitsPolicy {
  readonly options: MigLimitsPolicyOptions;
  /** ValidatingAdmissionPolicy objects, pods first. */
  readonly policies: readonly Manifest[];
  /** One ValidatingAdmissionPolicyBinding per policy, same order and name. */
  readonly bindings: readonly Manifest[];
  /** Every object as one multi-document YAML stream (policies before bindings), ready for kubectl apply -f. */
  readonly yaml: string;
}

const API_VERSION = 'admissionregistration.k8s.io/v1';
const LABELS = {
  'app.kubernetes.io/managed-by': 'nodewarden',
  'app.kubernetes.io/part-of': 'nodewarden',
};

interface Target {
  readonly suffix: string;
  /** CEL path of the pod spec inside `object`. */
  readonly spec: string;
  readonly what: string;
  readonly rules: readonly Record<string, unknown>[];
}

const TARGETS: readonly Target[] = [
  {
    suffix: '',
    spec: 'object.spec',
    what: 'pods',
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
  },
  {
    suffix: '-workloads',
    spec: 'object.spec.template.spec',
    what: 'pod templates of Deployments, ReplicaSets, StatefulSets, DaemonSets and Jobs',
    rules: [
      {
        apiGroups: ['apps'],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'],
      },
      {
        apiGroups: ['batch'],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['jobs'],
      },
    ],
  },
  {
    suffix: '-cronjobs',
    spec: 'object.spec.jobTemplate.spec.template.spec',
    what: 'pod templates of CronJobs',
    rules: [
      {
        apiGroups: ['batch'],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['cronjobs'],
      },
    ],
  },
];

/** `c` has resources.limits (guards every read of it). */
const HAS_LIMITS = 'has(c.resources) && has(c.resources.limits)';
const GPU_KEY = "k == 'nvidia.com/gpu' || k.startsWith('nvidia.com/mig-')";
/** "Pod mig-inference-7c9f8-x2x5q", or "Deployment mig-inference"; generateName when no name yet. */
const WHO =
  "request.kind.kind + ' ' + (has(object.metadata.name) ? object.metadata.name : object.metadata.generateName + '*')";

export interface CelRules {
  readonly variables: { readonly name: string; readonly expression: string }[];
  readonly validations: {
    readonly expression: string;
    readonly messageExpression: string;
    readonly message: string;
    readonly reason: 'Invalid';
  }[];
}

/**
 * The CEL variables and validations for a pod spec at `spec`. Every
 * container counts, init containers included, as Kubernetes' QoS does. A
 * request left out defaults to the limit, so the Guaranteed check only
 * compares requests that are written down, as quantities ("1" = "1000m").
 */
export function celRules(spec: string, requireGuaranteed: boolean): CelRules {
  const variables = [
    {
      name: 'containers',
      expression: [
        `${spec}.containers +`,
        `  (has(${spec}.initContainers) ? ${spec}.initContainers : [])`,
      ].join('\n'),
    },
    {
      name: 'requestsGpu',
      expression: [
        'variables.containers.exists(c, has(c.resources) && (',
        `  (has(c.resources.limits) && c.resources.limits.exists(k, ${GPU_KEY})) ||`,
        `  (has(c.resources.requests) && c.resources.requests.exists(k, ${GPU_KEY}))))`,
      ].join('\n'),
    },
    {
      name: 'missingLimits',
      expression: [
        'variables.containers',
        `  .filter(c, !(${HAS_LIMITS}) ||`,
        "    !('cpu' in c.resources.limits) || !('memory' in c.resources.limits))",
        "  .map(c, 'container ' + c.name + ' needs ' + (",
        `    !(${HAS_LIMITS}) ||`,
        "    (!('cpu' in c.resources.limits) && !('memory' in c.resources.limits))",
        "      ? 'resources.limits.cpu and resources.limits.memory'",
        "      : !('cpu' in c.resources.limits) ? 'resources.limits.cpu' : 'resources.limits.memory'))",
      ].join('\n'),
    },
  ];
  const validations: CelRules['validations'] = [
    {
      expression: '!variables.requestsGpu || size(variables.missingLimits) == 0',
      messageExpression: [
        WHO,
        "  + ' requests nvidia.com/gpu or an nvidia.com/mig-* slice, so every container must set CPU and memory limits: '",
        "  + variables.missingLimits.join('; ')",
      ].join('\n'),
      message:
        'GPU/MIG workloads must set resources.limits.cpu and resources.limits.memory in every container',
      reason: 'Invalid',
    },
  ];
  if (requireGuaranteed) {
    variables.push({
      name: 'notGuaranteed',
      expression: [
        'variables.containers',
        `  .filter(c, ${HAS_LIMITS} && has(c.resources.requests) &&`,
        "    ['cpu', 'memory'].exists(r, r in c.resources.limits && r in c.resources.requests &&",
        '      quantity(string(c.resources.requests[r])).compareTo(quantity(string(c.resources.limits[r]))) != 0))',
        "  .map(c, 'container ' + c.name + ' needs resources.requests equal to resources.limits for cpu and memory')",
      ].join('\n'),
    });
    validations.push({
      expression: '!variables.requestsGpu || size(variables.notGuaranteed) == 0',
      messageExpression: [
        WHO,
        "  + ' requests nvidia.com/gpu or an nvidia.com/mig-* slice and must be Guaranteed QoS: '",
        "  + variables.notGuaranteed.join('; ')",
      ].join('\n'),
      message:
        'GPU/MIG workloads must be Guaranteed QoS: resources.requests equal to resources.limits for cpu and memory in every container',
      reason: 'Invalid',
    });
  }
  return { variables, validations };
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function check(o: MigLimitsPolicyOptions): void {
  if (o.mode !== 'warn' && o.mode !== 'deny') {
    throw badInput(
      `mode "${String(o.mode)}" is neither warn nor deny`,
      'pass --mode warn (admit, show a warning) or --mode deny (reject)',
    );
  }
  if (!DNS_SUBDOMAIN.test(o.name) || o.name.length > 253 - '-workloads'.length) {
    throw badInput(
      `policy name "${o.name}" is not a valid Kubernetes object name`,
      'use lowercase letters, digits, "-" and ".", e.g. nodewarden-mig-limits',
    );
  }
  for (const ns of o.excludeNamespaces) {
    if (!DNS_LABEL.test(ns) || ns.length > 63) {
      throw badInput(
        `"${ns}" is not a namespace name`,
        'list namespaces separated by commas, e.g. --exclude-namespaces kube-system,gpu-operator',
      );
    }
  }
}

/**
 * The policies and their bindings for `options` (defaults: warn mode,
 * limits only, kube-system and gpu-operator excluded, workloads checked),
 * as objects (for a client that applies them) and as YAML.
 */
export function migLimitsPolicy(options: Partial<MigLimitsPolicyOptions> = {}): MigLimitsPolicy {
  const o: MigLimitsPolicyOptions = { ...DEFAULT_POLICY_OPTIONS, ...options };
  check(o);
  const targets = o.workloads ? TARGETS : TARGETS.slice(0, 1);
  const excluded = [...new Set(o.excludeNamespaces)].sort();
  const policies = targets.map((t): Manifest => {
    const { variables, validations } = celRules(t.spec, o.requireGuaranteed);
    return {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata: {
        name: o.name + t.suffix,
        labels: { ...LABELS },
        annotations: {
          'nodewarden.io/checks': `CPU and memory limits${o.requireGuaranteed ? ' and Guaranteed QoS' : ''} on GPU/MIG ${t.what}`,
        },
      },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: t.rules },
        variables,
        validations,
      },
    };
  });
  const bindings = policies.map((p): Manifest => ({
    apiVersion: API_VERSION,
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: p.metadata.name, labels: { ...LABELS } },
    spec: {
      policyName: p.metadata.name,
      validationActions: [o.mode === 'deny' ? 'Deny' : 'Warn'],
      ...(excluded.length > 0
        ? {
            matchResources: {
              namespaceSelector: {
                matchExpressions: [
                  { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded },
                ],
              },
            },
          }
        : {}),
    },
  }));
  const header =
    `# nodewarden policy mig-limits: mode ${o.mode}, ${o.requireGuaranteed ? 'limits and Guaranteed QoS' : 'CPU and memory limits'} ` +
    `on GPU/MIG ${o.workloads ? 'pods and workload pod templates' : 'pods'}` +
    `${excluded.length > 0 ? `, except in ${excluded.join(', ')}` : ''}.\n` +
    '# Needs Kubernetes >= 1.30 (admissionregistration.k8s.io/v1). Apply: kubectl apply -f <this file>\n';
  const yaml =
    header +
    [...policies, ...bindings]
      .map((doc) => stringify(doc, { lineWidth: 0, singleQuote: true }))
      .join('---\n');
  return { options: o, policies, bindings, yaml };
}
