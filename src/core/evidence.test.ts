import { describe, expect, it } from 'vitest';
// A static JSON import, not I/O: src/core stays free of node:*.
import seedEvidence from '../../test/fixtures/report/seed/evidence.json' with { type: 'json' };
import { NodeWardenError } from './errors.ts';
import { parseEvidence, parseEvidenceList } from './evidence-parse.ts';
import {
  dataOf,
  formatReferenceAddress,
  missingEvidence,
  parseReferenceAddress,
  novaPowerState,
  powerStateLabel,
  vantageProbes,
  type Evidence,
} from './evidence.ts';

const seed = (): unknown[] => structuredClone<unknown[]>(seedEvidence);

function badInputMessage(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(NodeWardenError);
    expect((error as NodeWardenError).code).toBe('BAD_INPUT');
    expect((error as NodeWardenError).hint).toMatch(/src\/core\/evidence\.ts/);
    return (error as NodeWardenError).message;
  }
  throw new Error('expected BAD_INPUT');
}

describe('parseEvidence', () => {
  it('accepts the seed fixture and keeps it as written', () => {
    const raw = seed();
    const parsed = parseEvidenceList(raw);
    expect(parsed.map((e) => e.source)).toEqual([
      'kernel',
      'kubernetes',
      'cni',
      'gpu',
      'cloud',
      'network',
      'impact',
    ]);
    expect(parsed).toEqual(raw);
  });

  it('keeps where the reference points were probed from, and reads evidence stored before it was recorded', () => {
    const raw = seed() as Record<string, unknown>[];
    const network = structuredClone(raw[5]) as { data: Record<string, unknown> };
    expect(network.data['referenceSource']).toBeUndefined();
    expect(parseEvidence(network)).toEqual(network);
    network.data['referenceSource'] = { from: 'observers', asked: ['w1', 'w2'], fallback: null };
    expect(parseEvidence(network)).toEqual(network);
    network.data['referenceSource'] = { from: 'nowhere', asked: [], fallback: null };
    expect(badInputMessage(() => parseEvidence(network))).toMatch(
      /^evidence\.data\.referenceSource\.from: "nowhere" is not one of observers, controller/,
    );
  });

  it('names the first bad field, however deep', () => {
    const raw = seed() as Record<string, unknown>[];
    const network = structuredClone(raw[5]) as {
      data: { observers: { result: { layers: { status: string }[] } }[] };
    };
    const layer = network.data.observers[2]?.result.layers[1];
    if (layer === undefined) throw new Error('fixture has layers');
    layer.status = 'dead';
    expect(badInputMessage(() => parseEvidence(network))).toBe(
      'evidence.data.observers[2].result.layers[1].status: "dead" is not one of ok, failed, skipped',
    );
  });

  it('refuses data on a failed source and invented sources', () => {
    expect(
      badInputMessage(() =>
        parseEvidence({
          source: 'cloud',
          observedAt: '2025-08-25T04:02:02Z',
          durationMs: 5000,
          status: 'timeout',
          summary: 'Nova did not answer',
          data: { guessed: true },
        }),
      ),
    ).toBe('evidence.data: must be null when status is timeout');
    expect(
      badInputMessage(() =>
        parseEvidence({
          source: 'vibes',
          observedAt: '2025-08-25T04:02:02Z',
          durationMs: 0,
          status: 'ok',
          summary: '',
          data: {},
        }),
      ),
    ).toMatch(/^evidence\.source: "vibes" is not one of kubernetes, network/);
  });

  it('refuses times that are not times and GPU percentages out of range', () => {
    const raw = seed() as Record<string, unknown>[];
    const gpu = structuredClone(raw[3]) as {
      observedAt: string;
      data: { series: { points: { usedPct: number }[] }[] };
    };
    const point = gpu.data.series[0]?.points[0];
    if (point === undefined) throw new Error('fixture has points');
    point.usedPct = 145.5;
    expect(badInputMessage(() => parseEvidence(gpu))).toBe(
      'evidence.data.series[0].points[0].usedPct: 145.5 is not in 0..100',
    );
    gpu.observedAt = 'yesterday';
    expect(badInputMessage(() => parseEvidence(gpu))).toBe(
      'evidence.observedAt: "yesterday" is not an ISO-8601 time',
    );
  });
});

describe('evidence helpers', () => {
  const list = (): Evidence[] => parseEvidenceList(seed());

  it('dataOf takes the latest ok item; a later failure does not erase it', () => {
    const later: Evidence = {
      source: 'cloud',
      observedAt: '2025-08-25T04:05:00Z',
      durationMs: 5000,
      status: 'timeout',
      summary: 'Nova did not answer',
      data: null,
    };
    expect(dataOf([...list(), later], 'cloud')?.status).toBe('ACTIVE');
    expect(missingEvidence([...list(), later]).map((m) => m.source)).toEqual(['kernel']);
  });

  it('missingEvidence cites the last failure, or says never collected', () => {
    const withoutCni = list().filter((e) => e.source !== 'cni');
    expect(missingEvidence(withoutCni)).toEqual([
      {
        source: 'kernel',
        status: 'missing',
        summary: 'no agent last words for this node; console log not saved before recovery',
      },
      { source: 'cni', status: 'missing', summary: 'not collected' },
    ]);
  });

  it('vantage points are the observers and then the controller', () => {
    const network = dataOf(list(), 'network');
    if (network === null) throw new Error('seed has network evidence');
    expect(vantageProbes(network).map((v) => v.observer.slice(-5))).toEqual([
      '85zt7',
      '9f79t',
      'pkmt5',
      'wn4gb',
      'oller',
    ]);
  });

  it('Nova power states by number, printed as Horizon prints them', () => {
    expect(novaPowerState(1)).toBe('RUNNING');
    expect(novaPowerState(4)).toBe('SHUTDOWN');
    expect(novaPowerState(6)).toBe('CRASHED');
    expect(novaPowerState(2)).toBeNull();
    expect(powerStateLabel('RUNNING')).toBe('Running');
  });
});

describe('parseReferenceAddress (--gateway, --ovn-gateway)', () => {
  it('takes IP and IP:PORT, IPv6 bare or bracketed with a port', () => {
    expect(parseReferenceAddress('10.62.0.1')).toEqual({ ip: '10.62.0.1' });
    expect(parseReferenceAddress('10.62.0.1:6443')).toEqual({ ip: '10.62.0.1', port: 6443 });
    expect(parseReferenceAddress('fd00::1')).toEqual({ ip: 'fd00::1' });
    expect(parseReferenceAddress('[fd00::1]:6443')).toEqual({ ip: 'fd00::1', port: 6443 });
    expect(formatReferenceAddress({ ip: 'fd00::1', port: 6443 })).toBe('[fd00::1]:6443');
    expect(formatReferenceAddress({ ip: '10.62.0.1' })).toBe('10.62.0.1');
  });

  it('refuses names, octets over 255 and ports out of range', () => {
    for (const bad of [
      'gw.example',
      '10.62.0.256',
      '10.62.0.1:0',
      '10.62.0.1:70000',
      '10.62.0',
      '',
    ]) {
      expect(parseReferenceAddress(bad), bad).toBeNull();
    }
  });
});
