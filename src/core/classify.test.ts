import { describe, expect, it } from 'vitest';
import { classify, type Finding, type Verdict } from './classify.ts';
import type {
  CloudData,
  Evidence,
  EvidenceDataBySource,
  EvidenceSource,
  KernelSignature,
  KubernetesData,
  NetworkData,
  VantageProbe,
} from './evidence.ts';
import type { Incident } from './incident.ts';
import { probeVerdict, type Layer, type LayerResult, type LayerStatus } from './probe.ts';

// The seed's shape: 10.62.0.30 went silent at 03:58:00Z (12:58 KST), four
// observers on its link and the controller routed from another subnet.
const HB = '2025-08-25T03:58:00Z';
const OPENED = '2025-08-25T04:02:00Z';
const NOW = '2025-08-25T04:02:05Z';
const NODE = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';
const IP = '10.62.0.30';

const incident = (over: Partial<Incident> = {}): Incident => ({
  id: 'inc-20250825-040200-bkqzq-1',
  kind: 'node',
  status: 'open',
  nodes: [NODE],
  openedAt: OPENED,
  resolvedAt: null,
  lastHeartbeatAt: HB,
  rootCause: null,
  summary: '',
  timeline: [],
  affectedPods: [],
  ...over,
});

/** `ok`, `failed`, `skipped`, or `failed:<detail>`. */
type Outcome = LayerStatus | `failed:${string}`;
const DEFAULT_DETAIL: Record<Layer, Record<LayerStatus, string>> = {
  L2: { ok: 'ARP reply', failed: 'no ARP reply (kernel neighbour: FAILED)', skipped: 'routed' },
  L3: { ok: 'reply in 0.4 ms', failed: 'Destination Host Unreachable', skipped: 'no ping' },
  L4: { ok: 'connected to port 10250', failed: 'timeout after 3000 ms', skipped: 'aborted' },
  L7: { ok: 'HTTP 401', failed: 'connect timeout after 3000 ms', skipped: 'aborted' },
};

/** A probe result from per-layer outcomes; `failed:DETAIL` sets a failure's words. */
function probe(l2: Outcome, l3: Outcome, l4: Outcome, l7: Outcome, target = IP) {
  const layers: LayerResult[] = (
    [
      ['L2', l2],
      ['L3', l3],
      ['L4', l4],
      ['L7', l7],
    ] as const
  ).map(([layer, outcome]) => {
    const [status, custom] = outcome.split(/:(.*)/s) as [LayerStatus, string | undefined];
    return {
      layer,
      status,
      latencyMs: status === 'ok' ? 1 : null,
      command: `check ${layer} ${target}`,
      detail: custom ?? DEFAULT_DETAIL[layer][status],
    };
  });
  return {
    target,
    port: 10250,
    startedAt: '2025-08-25T04:02:01Z',
    durationMs: 3000,
    layers,
    verdict: probeVerdict(layers),
  };
}

const vp = (observer: string, result: ReturnType<typeof probe> | null): VantageProbe => ({
  observer,
  observerIP: null,
  result,
  error: result === null ? 'agent did not answer' : null,
});

const DEAD = probe('failed', 'failed', 'failed', 'failed');
const ROUTED_DEAD = probe('skipped', 'failed', 'failed', 'failed');
const ALIVE = probe('ok', 'ok', 'ok', 'ok');

function network(observers: VantageProbe[], over: Partial<NetworkData> = {}): NetworkData {
  return {
    target: IP,
    observers,
    controller: vp('controller', ROUTED_DEAD),
    references: [
      {
        kind: 'ovn-gateway',
        target: '100.64.0.1',
        observer: 'w1',
        result: probe('skipped', 'ok', 'skipped', 'skipped', '100.64.0.1'),
        error: null,
      },
    ],
    overlay: [],
    ...over,
  };
}

const allDeadNetwork = (): NetworkData => network(['w1', 'w2', 'w3', 'w4'].map((o) => vp(o, DEAD)));

const kube = (over: Partial<KubernetesData> = {}): KubernetesData => ({
  node: NODE,
  nodeFound: true,
  internalIP: IP,
  providerID: 'openstack:///6e0d3a1c',
  labels: { 'node-role': 'mig' },
  annotations: {},
  unschedulable: false,
  conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: HB }],
  taints: [],
  allocatable: { cpu: '32' },
  nodeInfo: null,
  leaseRenewTime: HB,
  leaseAgeSeconds: 245,
  events: [],
  podsOnNode: [],
  api: { connected: true, lastContactAt: NOW },
  cluster: { nodes: 5, notReady: 1 },
  ...over,
});

const cloudData = (over: Partial<CloudData> = {}): CloudData => ({
  provider: 'openstack',
  instanceId: '6e0d3a1c',
  found: true,
  name: NODE,
  flavor: 'g1.mig',
  status: 'ACTIVE',
  powerState: 'RUNNING',
  taskState: null,
  vmState: 'active',
  hostStatus: 'UP',
  actions: [
    {
      action: 'create',
      requestId: 'req-1',
      userId: 'capo',
      startTime: '2025-06-01T00:00:00Z',
      message: null,
    },
  ],
  consoleLogTail: null,
  ports: [{ id: 'port-1', status: 'ACTIVE', adminStateUp: true, fixedIPs: [IP] }],
  diagnostics: [],
  ...over,
});

function ok<S extends EvidenceSource>(source: S, data: EvidenceDataBySource[S]): Evidence {
  return {
    source,
    observedAt: '2025-08-25T04:02:03Z',
    durationMs: 800,
    status: 'ok',
    summary: `${source} ok`,
    data,
  } as Evidence;
}

function failed(source: EvidenceSource, status: 'missing' | 'error' | 'timeout'): Evidence {
  return {
    source,
    observedAt: '2025-08-25T04:02:03Z',
    durationMs: 0,
    status,
    summary: `${source} ${status}`,
    data: null,
  };
}

const sig = (over: Partial<KernelSignature>): KernelSignature => ({
  id: 'x',
  category: 'panic',
  title: 't',
  at: '2025-08-25T03:57:50Z',
  line: 'line',
  xid: null,
  process: null,
  ...over,
});

const kernel = (signatures: KernelSignature[], origin: 'agent' | 'console' = 'agent') =>
  ok('kernel', { origin, signatures });

/** The seed's evidence: every layer dead from everyone, Nova ACTIVE/Running, no stop. */
function seed(): Evidence[] {
  return [
    ok('kubernetes', kube()),
    ok('network', allDeadNetwork()),
    ok('cloud', cloudData()),
    ok('gpu', {
      origin: 'dcgm',
      series: [
        {
          gpu: '0',
          uuid: null,
          migInstance: '1',
          migProfile: '1g.10gb',
          points: [
            { at: '2025-08-25T03:52:00Z', usedPct: 0 },
            { at: '2025-08-25T03:54:00Z', usedPct: 0 },
            { at: '2025-08-25T03:57:00Z', usedPct: 0 },
            { at: '2025-08-25T03:57:30Z', usedPct: 45.5 },
            { at: '2025-08-25T03:58:00Z', usedPct: 45.5 },
          ],
        },
        {
          gpu: '0',
          uuid: null,
          migInstance: '2',
          migProfile: '1g.10gb',
          points: [
            { at: '2025-08-25T03:55:00Z', usedPct: 3 },
            { at: '2025-08-25T03:57:30Z', usedPct: 4 },
          ],
        },
      ],
      xids: [],
    }),
    failed('kernel', 'missing'),
  ];
}

const run = (evidence: Evidence[], over: Partial<Incident> = {}): Verdict =>
  classify({ incident: incident(over), evidence, now: NOW });

const replace = (evidence: Evidence[], item: Evidence): Evidence[] => [
  ...evidence.filter((e) => e.source !== item.source),
  item,
];

const kinds = (v: Verdict): Finding['kind'][] => v.findings.map((x) => x.kind);

describe('classify: the 2025-08-25 seed', () => {
  it('is NODE_HALTED: dead at L2 from every vantage point, Nova says ACTIVE/Running, no stop', () => {
    const v = run(seed());
    expect(v.rootCause).toBe('NODE_HALTED');
    expect(v.rule).toBe('dead-cloud-running');
    // base 0.7, +0.1 OVN gateway answered, +0.05 hypervisor UP
    expect(v.confidence).toBe(0.85);
    expect(kinds(v)).toEqual([
      'all-dead',
      'cloud-state',
      'no-stop-action',
      'hypervisor',
      'references-ok',
      'lease-stale',
    ]);
    expect(v.findings[0]).toMatchObject({
      kind: 'all-dead',
      vantagePoints: 5,
      l2Failed: 4,
      l2Untested: 1,
    });
    expect(v.reliedOn.map((r) => r.source)).toEqual(['network', 'cloud', 'kubernetes']);
    expect(v.missing).toEqual([
      { source: 'kernel', status: 'missing', summary: 'kernel missing' },
      { source: 'cni', status: 'missing', summary: 'not collected' },
    ]);
  });

  it('states the GPU memory rise as a correlation on the MIG instance that rose, not a cause', () => {
    const v = run(seed());
    expect(v.correlations).toEqual([
      {
        kind: 'gpu-memory-rise',
        gpu: '0',
        migInstance: '1',
        migProfile: '1g.10gb',
        fromPct: 0,
        toPct: 45.5,
        fromAt: '2025-08-25T03:57:00Z',
        toAt: '2025-08-25T03:57:30Z',
        windowMinutes: 5,
        heartbeatAt: '2025-08-25T03:58:00.000Z',
      },
    ]);
    expect(v.rootCause).not.toBe('GPU_FAULT');
  });

  it('ignores GPU samples outside the 5 minutes before the heartbeat', () => {
    const evidence = replace(
      seed(),
      ok('gpu', {
        origin: 'agent',
        series: [
          {
            gpu: '0',
            uuid: null,
            migInstance: null,
            migProfile: null,
            points: [
              { at: '2025-08-25T03:50:00Z', usedPct: 0 },
              { at: '2025-08-25T03:52:00Z', usedPct: 45.5 },
              { at: '2025-08-25T03:58:30Z', usedPct: 90 },
            ],
          },
        ],
        xids: [],
      }),
    );
    expect(run(evidence).correlations).toEqual([]);
  });
});

describe('classify: NODE_HALTED only with every vantage point dead at L2 and the cloud saying running', () => {
  it('without cloud evidence: UNKNOWN with lower confidence, the candidates named', () => {
    for (const status of ['missing', 'error', 'timeout'] as const) {
      const v = run(replace(seed(), failed('cloud', status)));
      expect(v.rootCause).toBe('UNKNOWN');
      expect(v.confidence).toBeLessThan(run(seed()).confidence);
      expect(v.candidates).toEqual(['NODE_HALTED', 'NODE_POWERED_OFF', 'HOST_NETWORK_DOWN']);
      expect(v.missing).toContainEqual({ source: 'cloud', status, summary: `cloud ${status}` });
    }
  });

  it('an observer still getting ARP replies while IP is dead everywhere: HOST_NETWORK_DOWN, not halted', () => {
    const net = network([
      vp('w1', probe('ok', 'failed', 'failed', 'failed')),
      vp('w2', DEAD),
      vp('w3', DEAD),
    ]);
    const v = run(replace(seed(), ok('network', net)));
    expect(v.rootCause).toBe('HOST_NETWORK_DOWN');
    expect(v.rule).toBe('arp-only');
  });

  it('no vantage point could test L2 (all routed): UNKNOWN, never NODE_HALTED', () => {
    const net = network([vp('w1', ROUTED_DEAD), vp('w2', ROUTED_DEAD)]);
    const v = run(replace(seed(), ok('network', net)));
    expect(v.rootCause).toBe('UNKNOWN');
    expect(v.rule).toBe('dead-l2-untested');
  });

  it('cloud says ERROR or rebooting by NodeWarden itself: UNKNOWN', () => {
    const v = run(replace(seed(), ok('cloud', cloudData({ status: 'ERROR' }))));
    expect(v.rootCause).toBe('UNKNOWN');
    expect(v.rule).toBe('dead-cloud-not-running');
    const own = classify(
      {
        incident: incident(),
        evidence: replace(
          seed(),
          ok(
            'cloud',
            cloudData({
              status: 'REBOOT',
              taskState: 'rebooting',
              actions: [
                {
                  action: 'reboot',
                  requestId: 'r',
                  userId: 'nodewarden',
                  startTime: '2025-08-25T04:02:04Z',
                  message: null,
                },
              ],
            }),
          ),
        ),
        now: NOW,
      },
      { ownCloudUserIds: ['nodewarden'] },
    );
    expect(own.rootCause).toBe('UNKNOWN');
    expect(own.rule).toBe('dead-cloud-not-running');
  });

  it('hypervisor DOWN: Nova’s Running may be stale, so UNKNOWN', () => {
    const v = run(replace(seed(), ok('cloud', cloudData({ hostStatus: 'DOWN' }))));
    expect(v.rootCause).toBe('UNKNOWN');
    expect(v.rule).toBe('dead-hypervisor-down');
    expect(v.findings[0]).toMatchObject({ kind: 'hypervisor', hostStatus: 'DOWN' });
  });

  it('cites a kernel panic and is more confident', () => {
    const panic = sig({
      id: 'kernel-panic',
      category: 'panic',
      line: 'Kernel panic - not syncing',
    });
    const v = run(replace(seed(), kernel([panic], 'console')));
    expect(v.rootCause).toBe('NODE_HALTED');
    expect(v.confidence).toBe(0.95);
    expect(v.findings).toContainEqual({
      kind: 'signature',
      signature: panic,
      beforeCut: true,
      source: 'kernel',
    });
  });

  it('says when the kernel log was read and held nothing', () => {
    const v = run(replace(seed(), kernel([], 'console')));
    expect(v.rootCause).toBe('NODE_HALTED');
    expect(v.findings).toContainEqual({
      kind: 'no-signature',
      origins: ['console'],
      source: 'kernel',
    });
  });

  const gatewayFrom = (observer: string, l3: Outcome) => ({
    kind: 'gateway' as const,
    target: '10.62.0.1',
    observer,
    result: probe('skipped', l3, 'skipped', 'skipped', '10.62.0.1'),
    error: null,
  });
  /** The seed's dead node, with these reference probes from `from` (the asked observers). */
  const withReferences = (
    references: ReturnType<typeof gatewayFrom>[],
    from: 'observers' | 'controller',
    asked: string[],
    fallback: string | null = null,
  ): Evidence[] =>
    replace(
      seed(),
      ok('network', {
        ...allDeadNetwork(),
        references,
        referenceSource: { from, asked, fallback },
      }),
    );

  it('one observer of three losing the gateway lowers the confidence (its own path may be at fault)', () => {
    const v = run(
      withReferences(
        [gatewayFrom('w1', 'failed'), gatewayFrom('w2', 'ok'), gatewayFrom('w3', 'ok')],
        'observers',
        ['w1', 'w2', 'w3'],
      ),
    );
    expect(v.rootCause).toBe('NODE_HALTED');
    expect(v.rule).toBe('dead-cloud-running');
    expect(v.confidence).toBe(0.53); // (0.7 + 0.05) × 0.7
    expect(v.findings).toContainEqual(
      expect.objectContaining({
        kind: 'references-failed',
        from: 'observers',
        observers: ['w1'],
        of: 3,
      }),
    );
  });

  it('the reference points failing from most observers too: the network around the node, not the node (PARTIAL_PARTITION)', () => {
    const v = run(
      withReferences(
        [gatewayFrom('w1', 'failed'), gatewayFrom('w2', 'failed'), gatewayFrom('w3', 'ok')],
        'observers',
        ['w1', 'w2', 'w3'],
      ),
    );
    expect(v.rootCause).toBe('PARTIAL_PARTITION');
    expect(v.rule).toBe('dead-references-failed');
    expect(v.confidence).toBe(0.6);
    expect(v.candidates).toEqual(['PARTIAL_PARTITION', 'HOST_NETWORK_DOWN', 'NODE_HALTED']);
    expect(v.findings[0]).toMatchObject({
      kind: 'references-failed',
      observers: ['w1', 'w2'],
      of: 3,
      failed: 2,
      total: 3,
    });
    // The cloud's word is still cited: the VM runs, which a node fault would not change.
    expect(kinds(v)).toContain('cloud-state');
  });

  it('node-local evidence before the cut still wins over lost reference points (OOM of ovs-vswitchd)', () => {
    const v = run(
      replace(
        withReferences([gatewayFrom('w1', 'failed'), gatewayFrom('w2', 'failed')], 'observers', [
          'w1',
          'w2',
        ]),
        kernel([
          sig({
            id: 'oom-kill',
            category: 'oom',
            process: 'ovs-vswitchd',
            line: 'Out of memory: Killed process 1432 (ovs-vswitchd)',
          }),
        ]),
      ),
    );
    expect(v.rootCause).toBe('OOM_KILLED_NETWORK');
  });

  it('the controller losing the gateway (fallback) is not the observers losing it: the node verdict stands, weaker', () => {
    const v = run(
      withReferences(
        [gatewayFrom('controller', 'failed')],
        'controller',
        ['w1', 'w2'],
        'none answered',
      ),
    );
    expect(v.rootCause).toBe('NODE_HALTED');
    expect(v.findings).toContainEqual(
      expect.objectContaining({ kind: 'references-failed', from: 'controller', observers: [] }),
    );
  });

  it('reference points answering from the observers are the "network fine, node not" evidence: more than from the controller', () => {
    const fromObservers = run(
      withReferences([gatewayFrom('w1', 'ok'), gatewayFrom('w2', 'ok')], 'observers', [
        'w1',
        'w2',
        'w3',
      ]),
    );
    const fromController = run(
      withReferences([gatewayFrom('controller', 'ok')], 'controller', [], 'no observer'),
    );
    expect(fromObservers.rootCause).toBe('NODE_HALTED');
    expect(fromController.rootCause).toBe('NODE_HALTED');
    expect(fromObservers.confidence).toBe(0.85); // 0.7 + 0.1 (observers) + 0.05 (hypervisor UP)
    expect(fromController.confidence).toBe(0.8); // 0.7 + 0.05 (controller) + 0.05
    expect(fromObservers.findings).toContainEqual(
      expect.objectContaining({
        kind: 'references-ok',
        from: 'observers',
        observers: ['w1', 'w2'],
      }),
    );
    expect(fromController.findings).toContainEqual(
      expect.objectContaining({ kind: 'references-ok', from: 'controller', observers: [] }),
    );
  });

  it('a single vantage point is weaker evidence', () => {
    const net = network([vp('w1', DEAD)], { controller: null, references: [] });
    const v = run(replace(seed(), ok('network', net)));
    expect(v.rootCause).toBe('NODE_HALTED');
    expect(v.confidence).toBe(0.6); // (0.7 + 0.05) × 0.8
    expect(kinds(v)).toContain('few-vantage-points');
  });

  it('without Kubernetes evidence the confidence drops by a tenth', () => {
    const v = run(replace(seed(), failed('kubernetes', 'timeout')));
    expect(v.rootCause).toBe('NODE_HALTED');
    expect(v.confidence).toBe(0.77);
  });
});

describe('classify: refinements of a node dead at every layer', () => {
  it('OOM kill of ovs-vswitchd before the cut: OOM_KILLED_NETWORK', () => {
    const oom = sig({
      id: 'oom-kill',
      category: 'oom',
      process: 'ovs-vswitchd',
      line: 'Out of memory: Killed process 1432 (ovs-vswitchd)',
    });
    const v = run(replace(seed(), kernel([oom])));
    expect(v.rootCause).toBe('OOM_KILLED_NETWORK');
    expect(v.confidence).toBe(0.85);
    expect(v.findings[0]).toMatchObject({ kind: 'signature', beforeCut: true });
  });

  it('OOM kill of an unrelated process is cited, not the cause', () => {
    const oom = sig({ id: 'oom-kill', category: 'oom', process: 'python3' });
    const v = run(replace(seed(), kernel([oom])));
    expect(v.rootCause).toBe('NODE_HALTED');
    expect(kinds(v)).toContain('signature');
  });

  it('Xid 79 before the cut: GPU_FAULT; after the cut or unstamped: cited only', () => {
    const xid = (at: string | null) =>
      sig({
        id: 'nvrm-xid-79',
        category: 'gpu',
        xid: 79,
        at,
        line: 'NVRM: Xid (PCI:0000:17:00): 79',
      });
    expect(run(replace(seed(), kernel([xid('2025-08-25T03:57:40Z')]))).rootCause).toBe('GPU_FAULT');
    // 03:58:10 is the cut (heartbeat + one renew period): still before it.
    expect(run(replace(seed(), kernel([xid('2025-08-25T03:58:10Z')]))).rootCause).toBe('GPU_FAULT');
    const late = run(replace(seed(), kernel([xid('2025-08-25T04:00:00Z')])));
    expect(late.rootCause).toBe('NODE_HALTED');
    expect(late.findings).toContainEqual(
      expect.objectContaining({ kind: 'signature', beforeCut: false }),
    );
    const unstamped = run(replace(seed(), kernel([xid(null)], 'console')));
    expect(unstamped.rootCause).toBe('NODE_HALTED');
    expect(unstamped.findings).toContainEqual(
      expect.objectContaining({ kind: 'signature', beforeCut: null }),
    );
  });

  it('a non-fatal Xid (31, page fault) is not a GPU fault', () => {
    const v = run(replace(seed(), kernel([sig({ category: 'gpu', xid: 31, id: 'nvrm-xid-31' })])));
    expect(v.rootCause).toBe('NODE_HALTED');
  });

  it('DCGM counting Xid 119 before the heartbeat is a GPU_FAULT too, and a correlation', () => {
    const gpu = seed().find((e) => e.source === 'gpu');
    if (gpu?.source !== 'gpu' || gpu.data === null) throw new Error('seed has gpu');
    const evidence = replace(
      seed(),
      ok('gpu', {
        ...gpu.data,
        xids: [{ gpu: '0', xid: 119, count: 2, lastAt: '2025-08-25T03:57:45Z' }],
      }),
    );
    const v = run(evidence);
    expect(v.rootCause).toBe('GPU_FAULT');
    expect(v.findings[0]).toMatchObject({ kind: 'xid-counted', xid: 119, source: 'gpu' });
    expect(v.correlations.map((c) => c.kind)).toEqual(['gpu-memory-rise', 'xid-before-heartbeat']);
  });

  it('GPU fault from the agent’s last words without cloud evidence: still GPU_FAULT, less sure', () => {
    const xid = sig({ category: 'gpu', xid: 79, id: 'nvrm-xid-79' });
    const v = run(replace(replace(seed(), kernel([xid])), failed('cloud', 'error')));
    expect(v.rootCause).toBe('GPU_FAULT');
    expect(v.confidence).toBe(0.55);
  });

  it('guest NIC still transmitting after the cut: HOST_NETWORK_DOWN', () => {
    const v = run(
      replace(
        seed(),
        ok(
          'cloud',
          cloudData({
            diagnostics: [
              { at: '2025-08-25T04:02:02Z', cpuTimeNs: 1e12, txPackets: 1000, rxPackets: 50 },
              { at: '2025-08-25T04:02:12Z', cpuTimeNs: 1.01e12, txPackets: 1040, rxPackets: 52 },
            ],
          }),
        ),
      ),
    );
    expect(v.rootCause).toBe('HOST_NETWORK_DOWN');
    expect(v.findings[0]).toEqual({
      kind: 'guest-sending',
      fromPackets: 1000,
      toPackets: 1040,
      seconds: 10,
      source: 'cloud',
    });
  });

  it('guest NIC frozen after the cut is no sign of life', () => {
    const v = run(
      replace(
        seed(),
        ok(
          'cloud',
          cloudData({
            diagnostics: [
              { at: '2025-08-25T04:02:02Z', cpuTimeNs: 1e12, txPackets: 1000, rxPackets: 50 },
              { at: '2025-08-25T04:02:12Z', cpuTimeNs: 1.01e12, txPackets: 1000, rxPackets: 60 },
            ],
          }),
        ),
      ),
    );
    expect(v.rootCause).toBe('NODE_HALTED');
  });

  it('Neutron port DOWN, or NETDEV WATCHDOG before the cut: HOST_NETWORK_DOWN', () => {
    const port = run(
      replace(
        seed(),
        ok(
          'cloud',
          cloudData({ ports: [{ id: 'p', status: 'DOWN', adminStateUp: true, fixedIPs: [IP] }] }),
        ),
      ),
    );
    expect(port.rootCause).toBe('HOST_NETWORK_DOWN');
    expect(port.findings[0]).toMatchObject({ kind: 'port-down', id: 'p' });
    const watchdog = run(
      replace(
        seed(),
        kernel([
          sig({ category: 'network', id: 'netdev-watchdog', line: 'NETDEV WATCHDOG: ens3' }),
        ]),
      ),
    );
    expect(watchdog.rootCause).toBe('HOST_NETWORK_DOWN');
  });
});

describe('classify: what the cloud says first', () => {
  it('instance gone: NODE_DELETED', () => {
    for (const c of [cloudData({ found: false, status: null }), cloudData({ status: 'DELETED' })]) {
      const v = run(replace(seed(), ok('cloud', c)));
      expect(v.rootCause).toBe('NODE_DELETED');
      expect(v.confidence).toBe(0.95);
    }
  });

  it('SHUTOFF with a stop by nobody: NODE_POWERED_OFF, Nova’s power sync cited', () => {
    const v = run(
      replace(
        seed(),
        ok(
          'cloud',
          cloudData({
            status: 'SHUTOFF',
            powerState: 'SHUTDOWN',
            vmState: 'stopped',
            actions: [
              {
                action: 'create',
                requestId: 'a',
                userId: 'capo',
                startTime: '2025-06-01T00:00:00Z',
                message: null,
              },
              {
                action: 'stop',
                requestId: 'b',
                userId: null,
                startTime: '2025-08-25T03:58:30Z',
                message: null,
              },
            ],
          }),
        ),
      ),
    );
    expect(v.rootCause).toBe('NODE_POWERED_OFF');
    expect(v.findings[1]).toEqual({
      kind: 'stop-action',
      action: 'stop',
      userId: null,
      at: '2025-08-25T03:58:30Z',
      source: 'cloud',
    });
    expect(v.confidence).toBe(0.9);
  });

  it('powered off with no stop action recorded: still NODE_POWERED_OFF, less sure', () => {
    const v = run(replace(seed(), ok('cloud', cloudData({ powerState: 'CRASHED' }))));
    expect(v.rootCause).toBe('NODE_POWERED_OFF');
    expect(v.confidence).toBe(0.81);
    expect(kinds(v)).toContain('no-stop-action');
  });
});

describe('classify: our side, and planned work', () => {
  it('partition incident: CONTROL_PLANE_SIDE even if one node’s cloud says deleted', () => {
    const v = run(replace(seed(), ok('cloud', cloudData({ found: false }))), {
      kind: 'partition',
      nodes: ['a', 'b', 'c'],
    });
    expect(v.rootCause).toBe('CONTROL_PLANE_SIDE');
    expect(v.findings).toEqual([{ kind: 'partition-incident', nodes: 3, source: 'incident' }]);
  });

  it('controller lost the API server: CONTROL_PLANE_SIDE', () => {
    const v = run(
      replace(
        seed(),
        ok(
          'kubernetes',
          kube({ api: { connected: false, lastContactAt: '2025-08-25T04:01:00Z' } }),
        ),
      ),
    );
    expect(v.rootCause).toBe('CONTROL_PLANE_SIDE');
    expect(v.rule).toBe('api-lost');
  });

  it('many nodes NotReady: CONTROL_PLANE_SIDE; two of five is not many', () => {
    const many = run(
      replace(seed(), ok('kubernetes', kube({ cluster: { nodes: 10, notReady: 3 } }))),
    );
    expect(many.rootCause).toBe('CONTROL_PLANE_SIDE');
    expect(many.rule).toBe('many-nodes-not-ready');
    const two = run(
      replace(seed(), ok('kubernetes', kube({ cluster: { nodes: 5, notReady: 2 } }))),
    );
    expect(two.rootCause).toBe('NODE_HALTED');
    const fewShare = run(
      replace(seed(), ok('kubernetes', kube({ cluster: { nodes: 100, notReady: 3 } }))),
    );
    expect(fewShare.rootCause).toBe('NODE_HALTED');
  });

  it('cordoned before the last heartbeat, or a maintenance marker: PLANNED_MAINTENANCE', () => {
    const cordoned = kube({
      unschedulable: true,
      taints: [
        {
          key: 'node.kubernetes.io/unschedulable',
          effect: 'NoSchedule',
          timeAdded: '2025-08-25T03:40:00Z',
        },
      ],
    });
    const v = run(replace(seed(), ok('kubernetes', cordoned)));
    expect(v.rootCause).toBe('PLANNED_MAINTENANCE');
    expect(v.findings).toEqual([
      { kind: 'cordoned', since: '2025-08-25T03:40:00Z', source: 'kubernetes' },
    ]);
    const marked = run(
      replace(
        seed(),
        ok('kubernetes', kube({ annotations: { 'weave.works/kured-reboot-in-progress': 'x' } })),
      ),
    );
    expect(marked.rootCause).toBe('PLANNED_MAINTENANCE');
  });

  it('cordoned after the node went silent (our own remediation) is not maintenance', () => {
    const reaction = kube({
      unschedulable: true,
      taints: [
        {
          key: 'node.kubernetes.io/unschedulable',
          effect: 'NoSchedule',
          timeAdded: '2025-08-25T04:02:04Z',
        },
      ],
    });
    expect(run(replace(seed(), ok('kubernetes', reaction))).rootCause).toBe('NODE_HALTED');
  });

  it('a reboot in progress started by a person: PLANNED_MAINTENANCE', () => {
    const v = run(
      replace(
        seed(),
        ok(
          'cloud',
          cloudData({
            status: 'REBOOT',
            taskState: 'rebooting',
            actions: [
              {
                action: 'reboot',
                requestId: 'r',
                userId: 'alice',
                startTime: '2025-08-25T03:57:55Z',
                message: null,
              },
            ],
          }),
        ),
      ),
    );
    expect(v.rootCause).toBe('PLANNED_MAINTENANCE');
    expect(v.findings[0]).toMatchObject({
      kind: 'user-reboot',
      userId: 'alice',
      taskState: 'rebooting',
    });
  });

  it('Node object gone and no cloud to ask: NODE_DELETED, low confidence', () => {
    const v = run(
      replace(
        replace(seed(), ok('kubernetes', kube({ nodeFound: false }))),
        failed('cloud', 'missing'),
      ),
    );
    expect(v.rootCause).toBe('NODE_DELETED');
    expect(v.confidence).toBe(0.6);
  });
});

describe('classify: the node still answers somewhere', () => {
  it('some observers reach it, others do not: PARTIAL_PARTITION naming both sides', () => {
    const net = network([vp('w1', ALIVE), vp('w2', ALIVE), vp('w3', DEAD)], {
      controller: vp('controller', probe('skipped', 'ok', 'ok', 'ok')),
    });
    const v = run(replace(seed(), ok('network', net)));
    expect(v.rootCause).toBe('PARTIAL_PARTITION');
    expect(v.findings[0]).toEqual({
      kind: 'split',
      reached: ['w1', 'w2', 'controller'],
      unreached: ['w3'],
      source: 'network',
    });
  });

  it('L3 answers, L4 ECONNREFUSED: KUBELET_DOWN', () => {
    const refused = probe('ok', 'ok', 'failed:ECONNREFUSED', 'failed:ECONNREFUSED');
    const net = network([vp('w1', refused), vp('w2', refused)], {
      controller: vp(
        'controller',
        probe('skipped', 'ok', 'failed:ECONNREFUSED', 'failed:ECONNREFUSED'),
      ),
    });
    const v = run(replace(seed(), ok('network', net)));
    expect(v.rootCause).toBe('KUBELET_DOWN');
    expect(v.confidence).toBe(0.9);
    expect(v.findings[0]).toMatchObject({ kind: 'l4-refused', refused: 3, tested: 3 });
  });

  it('L4 connects, L7 times out: KUBELET_HUNG', () => {
    const hung = probe('ok', 'ok', 'ok', 'failed:TLS handshake timeout after 3000 ms');
    const net = network([vp('w1', hung), vp('w2', hung)], { controller: null });
    const v = run(replace(seed(), ok('network', net)));
    expect(v.rootCause).toBe('KUBELET_HUNG');
    expect(v.confidence).toBe(0.85);
    expect(v.findings[0]).toMatchObject({ kind: 'l7-failed', timeout: true, failed: 2, tested: 2 });
    const reset = probe('ok', 'ok', 'ok', 'failed:ECONNRESET');
    const v2 = run(
      replace(
        seed(),
        ok('network', network([vp('w1', reset), vp('w2', reset)], { controller: null })),
      ),
    );
    expect(v2.rootCause).toBe('KUBELET_HUNG');
    expect(v2.confidence).toBe(0.68);
  });

  it('underlay fine, overlay failing and Kube-OVN restarting: OVERLAY_DATAPATH', () => {
    const net = network([vp('w1', ALIVE), vp('w2', ALIVE)], {
      controller: null,
      overlay: [
        {
          observer: 'w1',
          target: '10.16.0.5',
          kind: 'pod',
          ok: false,
          detail: '100% packet loss',
          at: NOW,
        },
        {
          observer: 'w2',
          target: '10.16.0.5',
          kind: 'pod',
          ok: false,
          detail: '100% packet loss',
          at: NOW,
        },
        { observer: 'w2', target: '100.64.0.3', kind: 'join', ok: true, detail: 'reply', at: NOW },
      ],
    });
    const withoutRestarts = run(replace(seed(), ok('network', net)));
    expect(withoutRestarts.rootCause).toBe('OVERLAY_DATAPATH');
    expect(withoutRestarts.confidence).toBe(0.6);
    const cni = ok('cni', {
      plugin: 'kube-ovn',
      tunnel: 'geneve',
      components: [
        {
          namespace: 'kube-system',
          pod: 'ovs-ovn-abcde',
          component: 'ovs-ovn',
          node: NODE,
          restarts: 4,
          restartsInWindow: 3,
          lastRestartAt: '2025-08-25T03:57:00Z',
          lastTerminationReason: 'OOMKilled',
        },
      ],
    });
    const v = run([...replace(seed(), ok('network', net)), cni]);
    expect(v.rootCause).toBe('OVERLAY_DATAPATH');
    expect(v.confidence).toBe(0.75);
    expect(v.findings).toContainEqual({
      kind: 'cni-restarts',
      component: 'ovs-ovn',
      pod: 'kube-system/ovs-ovn-abcde',
      node: NODE,
      restarts: 3,
      source: 'cni',
    });
  });

  it('everything answers and nothing explains the stale Lease: UNKNOWN', () => {
    const net = network([vp('w1', ALIVE), vp('w2', ALIVE)], { controller: null });
    const v = run(replace(seed(), ok('network', net)));
    expect(v.rootCause).toBe('UNKNOWN');
    expect(v.rule).toBe('reachable-unexplained');
    expect(kinds(v)).toEqual(['reached-l3', 'all-layers-answer', 'references-ok', 'lease-stale']);
  });
});

describe('classify: missing evidence degrades, never invents', () => {
  it('no network evidence at all: UNKNOWN, network named as missing', () => {
    const v = run(replace(seed(), failed('network', 'timeout')));
    expect(v.rootCause).toBe('UNKNOWN');
    expect(v.rule).toBe('no-probe-result');
    expect(v.missing.map((m) => m.source)).toContain('network');
  });

  it('every observer failed to answer: UNKNOWN', () => {
    const net = network([vp('w1', null), vp('w2', null)], { controller: null });
    const v = run(replace(seed(), ok('network', net)));
    expect(v.rootCause).toBe('UNKNOWN');
    expect(v.findings[0]).toEqual({ kind: 'no-vantage-result', asked: 2, source: 'network' });
  });

  it('nothing at all: UNKNOWN with every source missing', () => {
    const v = run([]);
    expect(v.rootCause).toBe('UNKNOWN');
    expect(v.missing.map((m) => m.source)).toEqual([
      'kubernetes',
      'network',
      'cloud',
      'gpu',
      'kernel',
      'cni',
    ]);
    expect(v.correlations).toEqual([]);
  });

  it('a later failed attempt does not erase an earlier good one', () => {
    const later = { ...failed('cloud', 'timeout'), observedAt: '2025-08-25T04:02:30Z' } as Evidence;
    expect(run([...seed(), later]).rootCause).toBe('NODE_HALTED');
  });

  it('evidence observed after the decision time is not used', () => {
    const late = seed().map((e) =>
      e.source === 'cloud' ? { ...e, observedAt: '2025-08-25T04:02:06Z' } : e,
    );
    const v = run(late);
    expect(v.rootCause).toBe('UNKNOWN');
    expect(v.missing).toContainEqual({
      source: 'cloud',
      status: 'missing',
      summary: 'not collected',
    });
  });

  it('no heartbeat known: no correlation claimed', () => {
    expect(run(seed(), { lastHeartbeatAt: null }).correlations).toEqual([]);
  });

  it('rejects a bad `now` and bad options', () => {
    expect(() => classify({ incident: incident(), evidence: [], now: 'soon' })).toThrow(
      /not an ISO-8601/,
    );
    expect(() =>
      classify({ incident: incident(), evidence: [], now: NOW }, { manyNodesFraction: 2 }),
    ).toThrow(/manyNodesFraction/);
  });
});
