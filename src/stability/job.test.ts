import { describe, expect, it } from 'vitest';
import type { NodeSnapshot } from '../core/cluster.ts';
import { loadPlan } from '../core/stability.ts';
import { gpuRequestFor, PLAN_ANNOTATION, stabilityJob } from './job.ts';

const node = (allocatable: Record<string, string>): NodeSnapshot =>
  ({ name: 'gpu-1', allocatable }) as unknown as NodeSnapshot;

describe('gpuRequestFor', () => {
  it('asks for the smallest MIG slice the node offers, else one whole GPU', () => {
    expect(
      gpuRequestFor(node({ 'nvidia.com/mig-3g.40gb': '1', 'nvidia.com/mig-1g.10gb': '7' })),
    ).toEqual({ resource: 'nvidia.com/mig-1g.10gb', count: 1 });
    expect(gpuRequestFor(node({ 'nvidia.com/mig-1g.10gb': '0', 'nvidia.com/gpu': '8' }))).toEqual({
      resource: 'nvidia.com/gpu',
      count: 1,
    });
    expect(() => gpuRequestFor(node({ cpu: '16' }))).toThrow(
      'node gpu-1 offers no nvidia.com/gpu or nvidia.com/mig-* to a pod',
    );
  });
});

describe('stabilityJob', () => {
  it('pins a never-retried, Guaranteed pod to the node and carries the plan as env and annotation', () => {
    const steps = loadPlan({
      profile: 'ramp',
      toPercent: 45.5,
      durationMs: 60_000,
      baselineMs: 10_000,
    });
    const job = stabilityJob({
      name: 'nw-stability-x',
      namespace: 'default',
      node: 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq',
      gpu: { resource: 'nvidia.com/mig-1g.10gb', count: 1 },
      image: 'load:1',
      command: ['load'],
      plan: { profile: 'ramp', toPercent: 45.5, steps },
      activeDeadlineSeconds: 190,
    }) as {
      spec: {
        backoffLimit: number;
        template: {
          metadata: { annotations: Record<string, string> };
          spec: {
            restartPolicy: string;
            nodeSelector: Record<string, string>;
            containers: {
              env: { value: string }[];
              resources: { requests: unknown; limits: unknown };
            }[];
          };
        };
      };
    };
    expect(job.spec.backoffLimit).toBe(0);
    const pod = job.spec.template;
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(pod.spec.nodeSelector).toEqual({
      'kubernetes.io/hostname': 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq',
    });
    const c = pod.spec.containers[0];
    expect(c?.resources.requests).toEqual({
      cpu: '1',
      memory: '4Gi',
      'nvidia.com/mig-1g.10gb': '1',
    });
    expect(c?.resources.limits).toEqual(c?.resources.requests);
    const annotation = JSON.parse(pod.metadata.annotations[PLAN_ANNOTATION] ?? '{}') as {
      steps: unknown[];
      toPercent: number;
    };
    expect(annotation.toPercent).toBe(45.5);
    expect(annotation.steps).toHaveLength(6);
    expect(c?.env[0]?.value).toBe(pod.metadata.annotations[PLAN_ANNOTATION]);
  });
});
