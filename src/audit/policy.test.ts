import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { NodeWardenError } from '../core/errors.ts';
import { celRules, migLimitsPolicy } from './policy.ts';

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown> & {
    variables?: { name: string; expression: string }[];
    validations?: {
      expression: string;
      messageExpression: string;
      message: string;
      reason: string;
    }[];
    matchConstraints?: {
      resourceRules: { apiGroups: string[]; operations: string[]; resources: string[] }[];
    };
    policyName?: string;
    validationActions?: string[];
    matchResources?: unknown;
  };
}

const docs = (yaml: string): Doc[] =>
  parseAllDocuments(yaml).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Doc;
  });

describe('nodewarden policy mig-limits', () => {
  it('matches the reviewed YAML (warn, limits only; deny with Guaranteed)', async () => {
    await expect(migLimitsPolicy().yaml).toMatchFileSnapshot(
      '../../test/fixtures/audit/mig-limits-warn.yaml',
    );
    await expect(
      migLimitsPolicy({ mode: 'deny', requireGuaranteed: true }).yaml,
    ).toMatchFileSnapshot('../../test/fixtures/audit/mig-limits-deny-guaranteed.yaml');
  });

  it('parses back into three policies and their bindings, policies first', () => {
    const all = docs(migLimitsPolicy().yaml);
    expect(all.map((d) => `${d.apiVersion} ${d.kind} ${d.metadata.name}`)).toEqual([
      'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy nodewarden-mig-limits',
      'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy nodewarden-mig-limits-workloads',
      'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy nodewarden-mig-limits-cronjobs',
      'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding nodewarden-mig-limits',
      'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding nodewarden-mig-limits-workloads',
      'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding nodewarden-mig-limits-cronjobs',
    ]);
  });

  it('checks pods on CREATE and workload templates on CREATE and UPDATE, each at its pod spec', () => {
    const [pods, workloads, cronjobs] = docs(migLimitsPolicy().yaml);
    expect(pods?.spec.matchConstraints?.resourceRules).toEqual([
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] },
    ]);
    expect(workloads?.spec.matchConstraints?.resourceRules.flatMap((r) => r.resources)).toEqual([
      'deployments',
      'replicasets',
      'statefulsets',
      'daemonsets',
      'jobs',
    ]);
    expect(
      workloads?.spec.matchConstraints?.resourceRules.every(
        (r) => r.operations.join() === 'CREATE,UPDATE',
      ),
    ).toBe(true);
    expect(pods?.spec.variables?.[0]?.expression).toContain('object.spec.containers +');
    expect(workloads?.spec.variables?.[0]?.expression).toContain(
      'object.spec.template.spec.initContainers',
    );
    expect(cronjobs?.spec.variables?.[0]?.expression).toContain(
      'object.spec.jobTemplate.spec.template.spec.containers',
    );
    expect(pods?.spec['failurePolicy']).toBe('Fail');
  });

  it('holds the CEL that finds GPU/MIG pods and names what each container must add', () => {
    const [pods] = docs(migLimitsPolicy().yaml);
    const vars = Object.fromEntries(
      (pods?.spec.variables ?? []).map((v) => [v.name, v.expression]),
    );
    expect(Object.keys(vars)).toEqual(['containers', 'requestsGpu', 'missingLimits']);
    expect(vars['requestsGpu']).toContain(
      "k == 'nvidia.com/gpu' || k.startsWith('nvidia.com/mig-')",
    );
    expect(vars['requestsGpu']).toContain('c.resources.limits.exists(k,');
    expect(vars['requestsGpu']).toContain('c.resources.requests.exists(k,');
    expect(vars['missingLimits']).toContain(
      "!('cpu' in c.resources.limits) || !('memory' in c.resources.limits)",
    );
    expect(vars['missingLimits']).toContain("'resources.limits.cpu and resources.limits.memory'");
    expect(pods?.spec.validations).toEqual([
      {
        expression: '!variables.requestsGpu || size(variables.missingLimits) == 0',
        messageExpression: expect.stringContaining("variables.missingLimits.join('; ')") as unknown,
        message:
          'GPU/MIG workloads must set resources.limits.cpu and resources.limits.memory in every container',
        reason: 'Invalid',
      },
    ]);
    expect(pods?.spec.validations?.[0]?.messageExpression).toContain('request.kind.kind');
  });

  it('adds the Guaranteed check, comparing quantities, only when asked', () => {
    const plain = celRules('object.spec', false);
    const strict = celRules('object.spec', true);
    expect(plain.validations).toHaveLength(1);
    expect(strict.validations).toHaveLength(2);
    const notGuaranteed =
      strict.variables.find((v) => v.name === 'notGuaranteed')?.expression ?? '';
    expect(notGuaranteed).toContain(
      'quantity(string(c.resources.requests[r])).compareTo(quantity(string(c.resources.limits[r]))) != 0',
    );
    expect(notGuaranteed).toContain("['cpu', 'memory'].exists(r,");
    expect(strict.validations[1]?.expression).toBe(
      '!variables.requestsGpu || size(variables.notGuaranteed) == 0',
    );
  });

  it('binds with Warn or Deny and leaves the excluded namespaces alone', () => {
    const warn = docs(migLimitsPolicy().yaml).filter(
      (d) => d.kind === 'ValidatingAdmissionPolicyBinding',
    );
    expect(warn.map((b) => [b.spec.policyName, b.spec.validationActions])).toEqual([
      ['nodewarden-mig-limits', ['Warn']],
      ['nodewarden-mig-limits-workloads', ['Warn']],
      ['nodewarden-mig-limits-cronjobs', ['Warn']],
    ]);
    expect(warn[0]?.spec.matchResources).toEqual({
      namespaceSelector: {
        matchExpressions: [
          {
            key: 'kubernetes.io/metadata.name',
            operator: 'NotIn',
            values: ['gpu-operator', 'kube-system'],
          },
        ],
      },
    });
    const deny = migLimitsPolicy({
      mode: 'deny',
      excludeNamespaces: [],
      workloads: false,
      name: 'gpu-limits',
    });
    expect(deny.policies.map((p) => p.metadata.name)).toEqual(['gpu-limits']);
    expect(deny.bindings).toEqual([
      expect.objectContaining({ spec: { policyName: 'gpu-limits', validationActions: ['Deny'] } }),
    ]);
  });

  it('refuses names and namespaces Kubernetes would refuse', () => {
    expect(() => migLimitsPolicy({ name: 'GPU_Limits' })).toThrowError(NodeWardenError);
    expect(() => migLimitsPolicy({ name: 'GPU_Limits' })).toThrowError(
      'policy name "GPU_Limits" is not a valid Kubernetes object name',
    );
    expect(() => migLimitsPolicy({ excludeNamespaces: ['kube-system', 'Bad Name'] })).toThrowError(
      '"Bad Name" is not a namespace name',
    );
    expect(() => migLimitsPolicy({ mode: 'audit' as 'warn' })).toThrowError(
      'mode "audit" is neither warn nor deny',
    );
  });
});
