import { describe, expect, it } from 'vitest';
import { toPod } from './map.ts';

describe('toPod', () => {
  it('keeps the deletion deadline and the grace period it includes', () => {
    const pod = toPod({
      metadata: {
        namespace: 'ml-serving',
        name: 'preprocess-5b8f7d-h2ws9',
        uid: 'u-1',
        creationTimestamp: '2025-08-25T01:00:00Z',
        deletionTimestamp: '2025-08-25T04:04:25Z',
        deletionGracePeriodSeconds: 30,
      },
      spec: { nodeName: 'n1', containers: [] },
      status: { phase: 'Running' },
    });
    expect(pod.deletionTimestamp).toBe('2025-08-25T04:04:25.000Z');
    expect(pod.deletionGracePeriodSeconds).toBe(30);
    expect(toPod({ metadata: { name: 'p' } }).deletionGracePeriodSeconds).toBeNull();
  });

  it('shares equal pieces between pods (one copy per workload), never different ones', () => {
    const raw = (name: string, cpu: string) => ({
      metadata: { namespace: 'ml', name, uid: name, labels: { app: 'train' } },
      spec: {
        nodeName: 'gpu-1',
        containers: [{ name: 'main', resources: { requests: { cpu }, limits: { cpu: '4' } } }],
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      },
      status: { phase: 'Running', containerStatuses: [{ restartCount: 0 }] },
    });
    const a = toPod(raw('a', '2'));
    const b = toPod(raw('b', '2'));
    const c = toPod(raw('c', '3'));
    expect(b.containers).toBe(a.containers);
    expect(b.tolerations).toBe(a.tolerations);
    expect(b.labels).toBe(a.labels);
    expect(b.restarts).toBe(a.restarts);
    expect(c.containers).not.toBe(a.containers);
    expect(c.containers[0]?.requests).toEqual({ cpu: '3' });
    expect(a.containers[0]?.requests).toEqual({ cpu: '2' });
    expect(c.tolerations).toBe(a.tolerations);
  });
});
