import { describe, expect, it } from 'vitest';
import { probeVerdict, type Layer, type LayerResult, type LayerStatus } from './probe.ts';

const layer = (name: Layer, status: LayerStatus, detail = `${name} ${status}`): LayerResult => ({
  layer: name,
  status,
  latencyMs: status === 'ok' ? 1 : null,
  command: `check ${name}`,
  detail,
});

describe('probeVerdict', () => {
  it('is healthy when every layer answered', () => {
    const v = probeVerdict([
      layer('L2', 'ok'),
      layer('L3', 'ok'),
      layer('L4', 'ok'),
      layer('L7', 'ok'),
    ]);
    expect(v).toEqual({ healthy: true, failedLayer: null, summary: 'all tested layers answered' });
  });

  it('names the lowest failed layer with its raw detail (the 2025-08-25 node)', () => {
    const v = probeVerdict([
      layer('L7', 'failed', 'connect timeout after 3000 ms'),
      layer('L4', 'failed', 'timeout after 3000 ms'),
      layer('L3', 'failed', 'Destination Host Unreachable (from 10.62.0.1)'),
      layer('L2', 'failed', 'no ARP reply (kernel neighbour: FAILED)'),
    ]);
    expect(v).toEqual({
      healthy: false,
      failedLayer: 'L2',
      summary: 'L2 failed: no ARP reply (kernel neighbour: FAILED)',
    });
  });

  it('orders by layer, not by the order results arrived in', () => {
    const v = probeVerdict([layer('L7', 'failed'), layer('L4', 'failed'), layer('L3', 'ok')]);
    expect(v.failedLayer).toBe('L4');
  });

  it('reports a hung kubelet at L7 when L2-L4 answer', () => {
    const v = probeVerdict([
      layer('L2', 'ok'),
      layer('L3', 'ok'),
      layer('L4', 'ok'),
      layer('L7', 'failed', 'TLS handshake timeout after 3000 ms'),
    ]);
    expect(v.healthy).toBe(false);
    expect(v.summary).toBe('L7 failed: TLS handshake timeout after 3000 ms');
  });

  it('does not count a skipped layer as a failure', () => {
    const v = probeVerdict([
      layer('L2', 'skipped'),
      layer('L3', 'ok'),
      layer('L4', 'ok'),
      layer('L7', 'ok'),
    ]);
    expect(v.healthy).toBe(true);
  });

  it('lets a failure above a skipped layer decide', () => {
    const v = probeVerdict([
      layer('L2', 'skipped'),
      layer('L3', 'ok'),
      layer('L4', 'failed', 'ECONNREFUSED'),
    ]);
    expect(v).toEqual({ healthy: false, failedLayer: 'L4', summary: 'L4 failed: ECONNREFUSED' });
  });

  it('is not healthy when nothing could be tested', () => {
    expect(probeVerdict([layer('L2', 'skipped'), layer('L3', 'skipped')])).toEqual({
      healthy: false,
      failedLayer: null,
      summary: 'no layer could be tested',
    });
    expect(probeVerdict([]).healthy).toBe(false);
  });

  it("does not reorder the caller's array", () => {
    const layers = [layer('L7', 'ok'), layer('L2', 'ok')];
    probeVerdict(layers);
    expect(layers.map((l) => l.layer)).toEqual(['L7', 'L2']);
  });
});
