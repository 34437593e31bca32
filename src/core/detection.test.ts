import { describe, expect, it } from 'vitest';
import type { ConditionStatus } from './cluster.ts';
import {
  countChanges,
  DEFAULT_DETECTION_CONFIG,
  detectionConfig,
  evaluateNode,
  initialNodeState,
  leaseEvidence,
  observationFromProbe,
  observerSides,
  transitionFields,
  readyStatus,
  type NodeDetectionState,
  type NodeInput,
  type ProbeObservation,
} from './detection.ts';
import type { NodeWardenError } from './errors.ts';
import type { Layer } from './probe.ts';

const NODE = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';
const T0 = Date.parse('2025-08-25T03:58:00Z');

/** An observation that arrived at `at`; failing probes took the 3 s timeout, passing ones 3 ms. */
function obs(observer: string, at: number, failedLayer: Layer | null | 'ok'): ProbeObservation {
  const healthy = failedLayer === 'ok';
  return {
    observer,
    at,
    startedAt: healthy ? at - 3 : at - 3000,
    healthy,
    failedLayer: healthy ? null : failedLayer,
    detail: healthy ? 'all tested layers answered' : `${failedLayer ?? 'no layer'} failed: timeout`,
  };
}

function input(
  renewTime: number | null,
  observations: readonly ProbeObservation[] = [],
  ready: ConditionStatus | null = 'True',
): NodeInput {
  return { node: NODE, lease: { renewTime, durationSeconds: 40 }, ready, observations };
}

function state(
  health: NodeDetectionState['health'],
  at: number,
  extra: Partial<NodeDetectionState> = {},
): NodeDetectionState {
  return {
    ...initialNodeState(NODE, at),
    health,
    since: at,
    failingSince: health === 'Healthy' ? null : at,
    suspectAt: health === 'Healthy' ? null : at,
    downAt: health === 'Down' || health === 'Recovering' ? at : null,
    ...extra,
  };
}

describe('evaluateNode: Suspect', () => {
  it('S1: two observers failing at L2/L3/L4 make a node Suspect; one does not', () => {
    const now = T0 + 5000;
    const one = evaluateNode(
      undefined,
      input(now - 2000, [obs('a', now, 'L3'), obs('b', now, 'ok')]),
      now,
    );
    expect(one.state.health).toBe('Healthy');
    expect(one.transition).toBeNull();

    const two = evaluateNode(
      undefined,
      input(now - 2000, [obs('a', now, 'L4'), obs('b', now, 'L4'), obs('c', now, 'ok')]),
      now,
    );
    expect(two.state.health).toBe('Suspect');
    expect(two.transition?.reason).toMatch(/^2 of 3 observers fail it at L4/);
    expect(two.evidence.failing.map((f) => f.observer)).toEqual(['a', 'b']);
    expect(two.evidence.passing.map((f) => f.observer)).toEqual(['c']);
  });

  it('S1 with a single observer: m is every observer heard from', () => {
    const now = T0 + 5000;
    const r = evaluateNode(undefined, input(now - 2000, [obs('controller', now, 'L3')]), now);
    expect(r.evidence.quorum).toBe(1);
    expect(r.state.health).toBe('Suspect');
  });

  it('an L7-only failure (kubelet hung) or an untestable probe is not a mesh failure', () => {
    const now = T0 + 5000;
    const r = evaluateNode(
      undefined,
      input(now - 2000, [obs('a', now, 'L7'), obs('b', now, 'L7'), obs('c', now, null)]),
      now,
    );
    expect(r.state.health).toBe('Healthy');
    expect(r.evidence.failing).toHaveLength(0);
  });

  it('only the latest observation per observer within the window counts', () => {
    const now = T0 + 10_000;
    const old = [obs('a', now - 6000, 'L3'), obs('b', now - 6000, 'L3')];
    expect(evaluateNode(undefined, input(now - 2000, old), now).state.health).toBe('Healthy');
    const recovered = [
      obs('a', now - 2000, 'L3'),
      obs('a', now - 1000, 'ok'),
      obs('b', now - 500, 'L3'),
    ];
    expect(evaluateNode(undefined, input(now - 2000, recovered), now).state.health).toBe('Healthy');
  });

  it('S2: a Lease older than two renew periods (20 s) makes it Suspect', () => {
    const now = T0 + 20_001;
    const r = evaluateNode(undefined, input(T0), now);
    expect(r.state.health).toBe('Suspect');
    expect(r.transition?.reason).toBe('Lease not renewed for 20 s (two renew periods: 20 s)');
    expect(evaluateNode(undefined, input(T0), T0 + 20_000).state.health).toBe('Healthy');
  });
});

describe('evaluateNode: Down', () => {
  it('D1: a Lease older than its duration (40 s) is Down even without probes', () => {
    const suspect = evaluateNode(undefined, input(T0), T0 + 25_000);
    expect(suspect.state.health).toBe('Suspect');
    const down = evaluateNode(suspect.state, input(T0), T0 + 40_001);
    expect(down.state.health).toBe('Down');
    expect(down.transition?.reason).toMatch(/^Lease not renewed for 40 s \(grace period 40 s\)/);
    expect(down.state.suspectAt).toBe(T0 + 25_000);
    expect(down.state.downAt).toBe(T0 + 40_001);
    expect(down.state.lastHeartbeatAt).toBe(T0);
  });

  it('D1 uses the Lease duration unless the config overrides it', () => {
    const shortLease: NodeInput = { ...input(T0), lease: { renewTime: T0, durationSeconds: 30 } };
    expect(evaluateNode(undefined, shortLease, T0 + 30_001).state.health).toBe('Down');
    const config = detectionConfig({ gracePeriodMs: 60_000 });
    expect(evaluateNode(undefined, shortLease, T0 + 30_001, config).state.health).toBe('Suspect');
  });

  it('D2: failing observers and a Lease past one renew period agree', () => {
    const now = T0 + 10_001;
    const r = evaluateNode(undefined, input(T0, [obs('a', now, 'L4'), obs('b', now, 'L4')]), now);
    expect(r.state.health).toBe('Down');
    expect(r.transition?.reason).toMatch(
      /fail it at L4 .* and its Lease is 10 s old \(renew period 10 s\)/,
    );
    // The same failures with a fresh Lease: L4 only, so not conclusive — Suspect.
    const fresh = evaluateNode(
      undefined,
      input(now - 1000, [obs('a', now, 'L4'), obs('b', now, 'L4')]),
      now,
    );
    expect(fresh.state.health).toBe('Suspect');
  });

  it('D3: Ready=Unknown with a stale Lease', () => {
    const now = T0 + 12_000;
    expect(evaluateNode(undefined, input(T0, [], 'Unknown'), now).state.health).toBe('Down');
    expect(evaluateNode(undefined, input(now - 1000, [], 'Unknown'), now).state.health).toBe(
      'Healthy',
    );
  });

  it('D4: two observers that cannot reach the host at L2/L3 are enough, with a fresh Lease', () => {
    const now = T0 + 4000;
    const fails = [obs('a', now, 'L2'), obs('b', now, 'L3')];
    // c's success was probed before the failing probes started: it does not contradict them.
    const stale = obs('c', now - 3100, 'ok');
    const r = evaluateNode(undefined, input(T0 + 2000, [...fails, stale]), now);
    expect(r.state.health).toBe('Down');
    expect(r.state.suspectAt).toBe(now);
    expect(r.transition?.reason).toMatch(
      /^the host answers no one: 2 of 3 observers fail it at L2\/L3/,
    );
  });

  it('D2 is off in a partial partition: observers still reaching it keep a just-late Lease from making it Down', () => {
    const now = T0 + 30_000;
    const cut = [obs('85zt7', now, 'L2'), obs('9f79t', now, 'L2')];
    const reaching = [obs('pkmt5', now - 100, 'ok'), obs('wn4gb', now - 50, 'ok')];
    // The kubelet's renewal is a moment past its 10 s period, as real renewals are.
    const partial = evaluateNode(undefined, input(now - 10_200, [...cut, ...reaching]), now);
    expect(partial.state.health).toBe('Suspect');
    expect(partial.state.suspectReason).toMatch(/^2 of 4 observers fail it at L2/);
    // Nobody reaching it since the failures began: the mesh and the heartbeat agree (D2).
    const stale = [obs('pkmt5', now - 3_100, 'ok')];
    const agreed = evaluateNode(
      undefined,
      input(now - 10_200, [...cut, obs('wn4gb', now, 'L4'), ...stale]),
      now,
    );
    expect(agreed.state.health).toBe('Down');
    expect(agreed.transition?.reason).toMatch(
      /observers fail it at .* and its Lease is 10.2 s old/,
    );
    // A Lease past its grace period is Down whatever the mesh says (D1).
    const dead = evaluateNode(undefined, input(now - 41_000, [...cut, ...reaching]), now);
    expect(dead.state.health).toBe('Down');
  });

  it('D4 is off when a success started after the failures, with one observer, or when disabled', () => {
    const now = T0 + 4000;
    const fails = [obs('a', now, 'L2'), obs('b', now, 'L2')];
    const later = obs('c', now - 100, 'ok'); // started 103 ms ago, after the failing probes began
    expect(evaluateNode(undefined, input(T0 + 2000, [...fails, later]), now).state.health).toBe(
      'Suspect',
    );
    expect(evaluateNode(undefined, input(T0 + 2000, [obs('a', now, 'L2')]), now).state.health).toBe(
      'Suspect',
    );
    const off = detectionConfig({ meshDown: false });
    expect(evaluateNode(undefined, input(T0 + 2000, fails), now, off).state.health).toBe('Suspect');
  });

  it('an untrusted Lease (controller cut off from the API) is not evidence: no Down from Lease age or Ready', () => {
    const untrusted = { leaseTrusted: false };
    const now = T0 + 120_000;
    const r = evaluateNode(
      state('Suspect', T0 + 25_000),
      input(T0, [], 'Unknown'),
      now,
      DEFAULT_DETECTION_CONFIG,
      untrusted,
    );
    expect(r.state.health).toBe('Healthy');
    expect(r.evidence.leaseTrusted).toBe(false);
    // The mesh still counts: agents report to the controller directly.
    const mesh = [obs('a', now, 'L2'), obs('b', now, 'L2')];
    expect(
      evaluateNode(undefined, input(T0, mesh), now, DEFAULT_DETECTION_CONFIG, untrusted).state
        .health,
    ).toBe('Down');
  });
});

describe('evaluateNode: recovery', () => {
  const downAt = T0 + 40_001;

  it('Down → Recovering when the Lease is fresh and probes pass; → Healthy after the stable period', () => {
    const down = state('Down', downAt);
    const back = T0 + 300_000;
    const recovering = evaluateNode(down, input(back - 500, [obs('a', back, 'ok')]), back);
    expect(recovering.state.health).toBe('Recovering');
    expect(recovering.transition?.reason).toMatch(
      /^seen alive again: Lease renewed 0.5 s ago, 1 of 1 observers reach it/,
    );
    expect(recovering.state.healthySince).toBe(back);
    expect(recovering.nextCheckAt).toBeLessThanOrEqual(back + 60_000);

    const early = evaluateNode(
      recovering.state,
      input(back + 59_000, [obs('a', back + 59_000, 'ok')]),
      back + 59_999,
    );
    expect(early.state.health).toBe('Recovering');
    const healthy = evaluateNode(
      early.state,
      input(back + 59_000, [obs('a', back + 59_500, 'ok')]),
      back + 60_000,
    );
    expect(healthy.state.health).toBe('Healthy');
    expect(healthy.transition?.reason).toBe('healthy for 60 s (stable period 60 s)');
    expect(healthy.state.failingSince).toBeNull();
  });

  it('the stable period starts only when Ready is True again', () => {
    const back = T0 + 300_000;
    const r1 = evaluateNode(state('Down', downAt), input(back, [], 'Unknown'), back);
    expect(r1.state.health).toBe('Recovering');
    expect(r1.state.healthySince).toBeNull();
    const r2 = evaluateNode(r1.state, input(back + 10_000, [], 'True'), back + 10_000);
    expect(r2.state.healthySince).toBe(back + 10_000);
    const r3 = evaluateNode(r2.state, input(back + 60_000, [], 'True'), back + 65_000);
    expect(r3.state.health).toBe('Recovering');
    const r4 = evaluateNode(r3.state, input(back + 70_000, [], 'True'), back + 70_000);
    expect(r4.state.health).toBe('Healthy');
  });

  it('a relapse while Recovering goes straight back to Down', () => {
    const back = T0 + 300_000;
    const recovering = evaluateNode(
      state('Down', downAt),
      input(back, [obs('a', back, 'ok')]),
      back,
    );
    const now = back + 5000;
    const relapse = evaluateNode(
      recovering.state,
      input(back, [obs('a', now, 'L2'), obs('b', now, 'L2')]),
      now,
    );
    expect(relapse.state.health).toBe('Down');
    expect(relapse.transition?.from).toBe('Recovering');
    expect(relapse.transition?.reason).toMatch(/^relapse: /);
    expect(relapse.state.downAt).toBe(now);
    expect(relapse.state.suspectAt).toBe(downAt); // same episode
  });

  it('a Down node stays Down while its Lease cannot be trusted', () => {
    const back = T0 + 300_000;
    const r = evaluateNode(
      state('Down', downAt),
      input(back, [obs('a', back, 'ok')]),
      back,
      DEFAULT_DETECTION_CONFIG,
      {
        leaseTrusted: false,
      },
    );
    expect(r.state.health).toBe('Down');
  });

  it('Suspect → Healthy as soon as suspicion clears', () => {
    const now = T0 + 30_000;
    const r = evaluateNode(
      state('Suspect', T0 + 25_000),
      input(now - 1000, [obs('a', now, 'ok')]),
      now,
    );
    expect(r.state.health).toBe('Healthy');
    expect(r.transition?.reason).toMatch(/^suspicion cleared/);
  });
});

describe('evaluateNode: nextCheckAt', () => {
  it('is the next Lease threshold when nothing else is due', () => {
    // Renewed 3 s ago: stale at +10 s, which comes first.
    expect(evaluateNode(undefined, input(T0), T0 + 3000).nextCheckAt).toBe(T0 + 10_001);
    expect(evaluateNode(undefined, input(T0), T0 + 15_000).nextCheckAt).toBe(T0 + 20_001);
    const suspect = evaluateNode(undefined, input(T0), T0 + 25_000);
    expect(suspect.nextCheckAt).toBe(T0 + 35_000); // the 10 s ceiling before the 40 s grace
  });

  it('includes the moment an observation leaves the window', () => {
    const now = T0 + 2000;
    const r = evaluateNode(undefined, input(now, [obs('a', now - 1000, 'L3')]), now);
    expect(r.nextCheckAt).toBe(now - 1000 + 5000 + 1);
  });
});

describe('evaluateNode: nextCheckAt after the view became trustworthy', () => {
  it('counts Lease thresholds from when the view became trustworthy, not from an older renewal', () => {
    // Renewed long before the controller could see it: age counts from trustedSince (T0 + 30 s),
    // so the node turns stale at +40 s and suspect at +50 s — due then, not already past.
    const trusted = { leaseTrusted: true, trustedSince: T0 + 30_000 };
    const r = evaluateNode(undefined, input(T0), T0 + 35_000, DEFAULT_DETECTION_CONFIG, trusted);
    expect(r.state.health).toBe('Healthy');
    expect(r.nextCheckAt).toBe(T0 + 40_001);
    const later = evaluateNode(r.state, input(T0), T0 + 45_000, DEFAULT_DETECTION_CONFIG, trusted);
    expect(later.nextCheckAt).toBe(T0 + 50_001);
  });
});

describe('countChanges', () => {
  it('counts transitions by from→to', () => {
    const at = (from: 'Healthy' | 'Suspect', to: 'Healthy' | 'Suspect' | 'Down', node: string) => {
      const e = evaluateNode(undefined, input(T0), T0);
      return { node, from, to, at: T0, reason: 'r', evidence: e.evidence };
    };
    expect(
      countChanges([
        at('Healthy', 'Suspect', 'a'),
        at('Healthy', 'Suspect', 'b'),
        at('Suspect', 'Down', 'a'),
      ]),
    ).toEqual({ 'Healthy→Suspect': 2, 'Suspect→Down': 1 });
    expect(countChanges([])).toEqual({});
  });
});

describe('property: random evidence never breaks the rules', () => {
  // A tiny deterministic PRNG (mulberry32) so failures reproduce.
  function rng(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const layers: (Layer | 'ok' | null)[] = ['ok', 'ok', 'ok', 'L2', 'L3', 'L4', 'L7', null];

  it('holds for 300 random walks of 200 evaluations', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = rng(seed);
      let prev: NodeDetectionState | undefined;
      let now = T0;
      let renew = T0;
      const trusted = random() > 0.2;
      for (let step = 0; step < 200; step++) {
        now += Math.floor(random() * 4000);
        if (random() > 0.6) renew = now - Math.floor(random() * 3000);
        const observations = ['a', 'b', 'c'].flatMap((o) =>
          random() > 0.3
            ? [
                obs(
                  o,
                  now - Math.floor(random() * 4000),
                  layers[Math.floor(random() * layers.length)] ?? 'ok',
                ),
              ]
            : [],
        );
        const ready: ConditionStatus = random() > 0.9 ? 'Unknown' : 'True';
        const r = evaluateNode(
          prev,
          input(renew, observations, ready),
          now,
          DEFAULT_DETECTION_CONFIG,
          { leaseTrusted: trusted },
        );
        const from = prev?.health ?? 'Healthy';
        // Only the documented edges exist.
        const allowed: Record<string, string[]> = {
          Healthy: ['Healthy', 'Suspect', 'Down'],
          Suspect: ['Suspect', 'Down', 'Healthy'],
          Down: ['Down', 'Recovering'],
          Recovering: ['Recovering', 'Down', 'Healthy'],
        };
        expect(allowed[from]).toContain(r.state.health);
        expect(r.transition === null).toBe(r.state.health === from);
        expect(r.nextCheckAt).toBeGreaterThan(now);
        expect(r.nextCheckAt).toBeLessThanOrEqual(
          now + DEFAULT_DETECTION_CONFIG.maxCheckIntervalMs,
        );
        if (r.state.health === 'Down' && from !== 'Down') {
          // Down always names its evidence: the Lease (when trusted) or ≥ 2 failing observers.
          const byLease =
            trusted && (r.evidence.leaseAgeMs ?? 0) > DEFAULT_DETECTION_CONFIG.renewIntervalMs;
          const relapse =
            from === 'Recovering' &&
            r.evidence.quorum > 0 &&
            r.evidence.failing.length >= r.evidence.quorum;
          if (!(byLease || relapse || r.evidence.failing.length >= 2)) {
            throw new Error(
              `seed ${seed} step ${step}: Down from ${from} on ${JSON.stringify(r.evidence)}`,
            );
          }
        }
        if (r.state.health === 'Healthy' && from === 'Recovering') {
          expect(now - (r.state.healthySince ?? now)).toBeGreaterThanOrEqual(
            DEFAULT_DETECTION_CONFIG.stablePeriodMs,
          );
        }
        prev = r.state;
      }
    }
  }, 120_000); // 60,000 evaluations: ~3 s alone, far longer on a busy 2-core machine
});

describe('adapters and config', () => {
  it('reads Lease and Ready from snapshots and probe results as observations', () => {
    expect(leaseEvidence(undefined)).toBeNull();
    expect(
      leaseEvidence({
        node: NODE,
        holderIdentity: NODE,
        renewTime: '2025-08-25T03:58:02.500Z',
        leaseDurationSeconds: 40,
      }),
    ).toEqual({ renewTime: T0 + 2500, durationSeconds: 40 });
    expect(
      leaseEvidence({ node: NODE, holderIdentity: null, renewTime: null, leaseDurationSeconds: 40 })
        ?.renewTime,
    ).toBeNull();
    expect(readyStatus(undefined)).toBeNull();
    const o = observationFromProbe('controller', {
      target: '10.62.0.30',
      port: 10250,
      startedAt: '2025-08-25T03:58:05.000Z',
      durationMs: 3000,
      layers: [],
      verdict: {
        healthy: false,
        failedLayer: 'L2',
        summary: 'L2 failed: no ARP reply (kernel neighbour: FAILED)',
      },
    });
    expect(o).toEqual({
      observer: 'controller',
      startedAt: T0 + 5000,
      at: T0 + 8000,
      healthy: false,
      failedLayer: 'L2',
      detail: 'L2 failed: no ARP reply (kernel neighbour: FAILED)',
    });
  });

  it('refuses settings that make the rules meaningless, naming them', () => {
    const bad = (overrides: Parameters<typeof detectionConfig>[0]): string => {
      try {
        detectionConfig(overrides);
      } catch (error) {
        expect((error as NodeWardenError).code).toBe('BAD_INPUT');
        expect((error as NodeWardenError).hint).toBeTruthy();
        return (error as Error).message;
      }
      throw new Error('expected BAD_INPUT');
    };
    expect(bad({ minFailingObservers: 0 })).toMatch(/minFailingObservers=0/);
    expect(bad({ minFailingObservers: 1.5 })).toMatch(/whole number/);
    expect(bad({ gracePeriodMs: 10_000 })).toMatch(
      /gracePeriodMs=10000 must exceed suspectLeaseAgeMs=20000/,
    );
    expect(bad({ suspectLeaseAgeMs: 5000 })).toMatch(/below renewIntervalMs/);
    expect(bad({ stablePeriodMs: -1 })).toMatch(/stablePeriodMs/);
    expect(detectionConfig({ stablePeriodMs: 0 }).stablePeriodMs).toBe(0);
  });
});

describe('evaluateNode: recovery with a real kubelet', () => {
  it('Recovering → Healthy although renewals arrive a little after every renew period', () => {
    const config = detectionConfig({ stablePeriodMs: 30_000 });
    let prev: NodeDetectionState = state('Recovering', T0);
    let health = prev.health;
    // Renewals seen 10.4 s apart (watch latency), probes passing every second.
    for (let t = 1000; t <= 40_000; t += 1000) {
      const now = T0 + t;
      const renew = T0 + Math.floor(t / 10_400) * 10_400;
      const r = evaluateNode(prev, input(renew, [obs('agent-a', now - 10, 'ok')]), now, config);
      prev = r.state;
      health = r.state.health;
      if (health === 'Healthy') break;
    }
    expect(health).toBe('Healthy');
  });
});

describe('observerSides and transitionFields', () => {
  it('name who cannot reach the node (with the layer) and who can', () => {
    const verdict = (observer: string, failedLayer: 'L2' | null, detail: string) => ({
      observer,
      at: 2_000,
      startedAt: 1_000,
      failedLayer,
      detail,
    });
    const evidence = {
      leaseAgeMs: 3_000,
      leaseTrusted: true,
      gracePeriodMs: 40_000,
      ready: 'True' as const,
      observers: 5,
      quorum: 2,
      failing: [verdict('85zt7', 'L2', 'no ARP reply'), verdict('9f79t', 'L2', 'no ARP reply')],
      passing: [
        verdict('pkmt5', null, 'ok'),
        verdict('wn4gb', null, 'ok'),
        verdict('controller', null, 'ok'),
      ],
    };
    expect(observerSides(evidence)).toEqual({
      cannotReach: ['85zt7 (L2: no ARP reply)', '9f79t (L2: no ARP reply)'],
      reach: ['pkmt5', 'wn4gb', 'controller'],
    });
    expect(
      transitionFields({
        node: 'bkqzq',
        from: 'Healthy',
        to: 'Suspect',
        at: 2_000,
        reason: '2 of 5 observers fail it at L2',
        evidence,
      }),
    ).toMatchObject({
      node: 'bkqzq',
      from: 'Healthy',
      to: 'Suspect',
      observers: 5,
      reach: ['pkmt5', 'wn4gb', 'controller'],
    });
  });
});
