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
});
