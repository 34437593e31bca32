import { afterEach, describe, expect, it } from 'vitest';
import { NodeWardenError } from '../core/errors.ts';
import type { Incident } from '../core/incident.ts';
import { systemClock } from '../core/clock.ts';
import { silentLogger } from '../core/logger.ts';
import { loadDiagnosis } from '../diagnose/stored.ts';
import { seedScenario } from '../sim/seed-scenario.ts';
import { openStore } from '../store/open.ts';
import type { IncidentStore } from '../store/port.ts';
import { AGENT_FEATURES } from '../agent/protocol.ts';
import type { NetworkData } from '../core/evidence.ts';
import {
  DEFAULT_DIAGNOSER_OPTIONS,
  IncidentDiagnoser,
  type DiagnoserOptions,
  type VerdictEvent,
} from './diagnoser.ts';
import { AgentMesh } from './mesh.ts';

const stores: IncidentStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

async function world(
  leader = { value: true },
  extra: {
    mesh?: (seed: ReturnType<typeof seedScenario>) => AgentMesh;
    options?: Partial<DiagnoserOptions>;
  } = {},
) {
  const seed = seedScenario();
  const store = await openStore('sqlite::memory:');
  stores.push(store);
  const incident: Incident = {
    id: 'inc-20250825-035809-bkqzq-1',
    kind: 'node',
    status: 'open',
    nodes: [seed.mig],
    openedAt: new Date().toISOString(),
    resolvedAt: null,
    lastHeartbeatAt: new Date(Date.now() - 8_000).toISOString(),
    rootCause: null,
    summary: 'the MIG node answers no one',
    timeline: [],
    affectedPods: [],
  };
  await store.createIncident(incident);
  const mesh = extra.mesh?.(seed) ?? null;
  const diagnoser = new IncidentDiagnoser(
    { view: seed.sim, mesh, observations: null, prober: null, cloud: null, gpu: null, store },
    { ...DEFAULT_DIAGNOSER_OPTIONS, actor: 'controller/test', zone: 'UTC', ...extra.options },
    silentLogger,
    (action) => {
      if (!leader.value) throw new NodeWardenError('CONFLICT', `not the leader: may not ${action}`);
    },
  );
  return { seed, store, incident, diagnoser, mesh };
}

/** The network evidence of a verdict event. */
function networkOf(event: VerdictEvent): NetworkData {
  const item = event.diagnosis.evidence.find((e) => e.source === 'network');
  if (item?.source !== 'network' || item.data === null) throw new Error('no network evidence');
  return item.data;
}

/**
 * Agents for the mesh's observers that answer probe-references directives
 * the way an agent does (every point answers, or none does), until stopped.
 */
function answeringAgents(mesh: AgentMesh, observers: readonly string[], answer: boolean) {
  for (const o of observers) mesh.planFor(o, AGENT_FEATURES);
  const timer = setInterval(() => {
    for (const o of observers) {
      const pending = mesh.planFor(o, AGENT_FEATURES).directives;
      if (!answer) continue;
      for (const d of pending) {
        if (d.kind === 'probe-now') {
          // The node is dead at every layer from here (the seed).
          const layers = (['L2', 'L3', 'L4', 'L7'] as const).map((layer) => ({
            layer,
            status: 'failed' as const,
            latencyMs: null,
            command: `check ${layer}`,
            detail: 'timeout after 500 ms',
          }));
          mesh.ingest(o, {
            node: o,
            sentAt: Date.now(),
            planVersion: null,
            dropped: 0,
            results: [
              {
                target: d.target,
                ip: d.ip,
                startedAt: Date.now() - 500,
                durationMs: 500,
                mode: 'full',
                healthy: false,
                failedLayer: 'L2',
                summary: 'L2 failed: timeout after 500 ms',
                layers,
                directive: d.id,
              },
            ],
          });
          continue;
        }
        mesh.recordReferences(o, {
          node: o,
          sentAt: Date.now(),
          directive: d.id,
          results: d.points.map((p) => ({
            ...p,
            startedAt: Date.now(),
            durationMs: 1,
            healthy: true,
            layers: [
              {
                layer: 'L3',
                status: 'ok',
                latencyMs: 0.09,
                command: `ping -c 1 -W 1 ${p.ip}`,
                detail: 'reply in 0.09 ms',
              },
            ],
          })),
        });
      }
    }
  }, 20);
  return () => clearInterval(timer);
}

/** A world with an agent mesh whose observers of the MIG node answer (or not); `stop` ends them. */
function withAgents(answer: boolean) {
  let stop = (): void => undefined;
  return {
    mesh: (seed: ReturnType<typeof seedScenario>) => {
      const mesh = new AgentMesh(() => seed.sim.nodes(), systemClock, silentLogger);
      stop = answeringAgents(mesh, mesh.plans.observersOf(seed.mig), answer);
      return mesh;
    },
    options: REFERENCE_OPTIONS,
    stop: () => stop(),
  };
}

const REFERENCE_OPTIONS: Partial<DiagnoserOptions> = {
  // Loopback only: the fallback really pings from this host.
  references: { gateway: { ip: '127.0.0.1' }, ovnGateway: null },
  probeNowWaitMs: 1_000,
  probeTimeoutMs: 500,
};

describe('IncidentDiagnoser', () => {
  it('diagnoses an opened incident and keeps evidence, root cause and a timeline entry with it; listeners hear the verdict', async () => {
    const { store, incident, diagnoser } = await world();
    const heard: VerdictEvent[] = [];
    diagnoser.onVerdict((e) => heard.push(e));
    diagnoser.opened(incident);
    await diagnoser.idle();
    expect(heard).toHaveLength(1);
    const event = heard[0]!;
    expect(event.trigger).toBe('open');
    const stored = await store.getIncident(incident.id);
    expect(stored.rootCause).toBe(event.diagnosis.verdict.rootCause);
    const entry = stored.timeline.find((e) => e.kind === 'diagnosis');
    expect(entry?.message).toContain(`root cause ${event.diagnosis.verdict.rootCause}`);
    // What `nodewarden report` reads: the same verdict from the stored evidence.
    const kept = await loadDiagnosis(store, incident.id);
    expect(kept.verdict.rootCause).toBe(event.diagnosis.verdict.rootCause);
    expect(event.auditId).toBe(`${incident.id}-diagnose-1`);
    // Sources the controller lacks here are recorded as missing, never invented.
    expect(event.diagnosis.verdict.missing.map((m) => m.source)).toEqual(
      expect.arrayContaining(['cloud', 'gpu']),
    );
  });

  it('diagnoses again when asked, as a second record', async () => {
    const { store, incident, diagnoser } = await world();
    const first = await diagnoser.again(incident.id);
    const second = await diagnoser.again(incident.id);
    expect(first.auditId).toBe(`${incident.id}-diagnose-1`);
    expect(second.auditId).toBe(`${incident.id}-diagnose-2`);
    expect(
      (await store.getIncident(incident.id)).timeline.filter((e) => e.kind === 'diagnosis'),
    ).toHaveLength(2);
    await expect(diagnoser.again('inc-nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a node without an open incident is diagnosed ad hoc and nothing is stored', async () => {
    const { seed, store, diagnoser } = await world();
    const worker = seed.survivors[0]!;
    const event = await diagnoser.node(worker);
    expect(event.auditId).toBeNull();
    expect(event.incident.id).toMatch(/^diag-/);
    expect(await store.listIncidents()).toHaveLength(1);
    await expect(diagnoser.node('no-such-node')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a replica that lost the lease writes nothing, and records nothing about failing', async () => {
    const leader = { value: false };
    const { store, incident, diagnoser } = await world(leader);
    await expect(diagnoser.again(incident.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await store.getIncident(incident.id)).rootCause).toBeNull();
    expect(await store.listAudit(incident.id)).toEqual([]);
  });

  it('asks up to 3 observers to probe the reference points at incident open; their answers are the evidence, named', async () => {
    const agents = withAgents(true);
    const { seed, incident, diagnoser } = await world(undefined, agents);
    try {
      const heard: VerdictEvent[] = [];
      diagnoser.onVerdict((e) => heard.push(e));
      diagnoser.opened(incident);
      await diagnoser.idle();
      const net = networkOf(heard[0]!);
      expect(net.referenceSource?.from).toBe('observers');
      expect(net.referenceSource?.asked).toHaveLength(3);
      const probedBy = net.references.map((r) => r.observer);
      expect(probedBy).toHaveLength(3);
      expect(probedBy).not.toContain('controller');
      for (const o of probedBy) expect(seed.survivors).toContain(o);
      expect(net.references.every((r) => r.result?.verdict.healthy === true)).toBe(true);
      expect(net.references[0]?.result?.layers[0]?.latencyMs).toBe(0.09);
      // Dead from every observer, no cloud to ask: UNKNOWN, but the measurement is cited.
      const verdict = heard[0]!.diagnosis.verdict;
      expect(verdict.rule).toBe('dead-no-cloud');
      const finding = verdict.findings.find((f) => f.kind === 'references-ok');
      expect(finding).toMatchObject({ from: 'observers', observers: [...probedBy].sort() });
    } finally {
      agents.stop();
    }
  });

  it('probes the node’s own default gateway, as its agent reported it in its last words', async () => {
    const agents = withAgents(true);
    const { seed, store, incident, diagnoser } = await world(undefined, agents);
    try {
      await store.putLastWords(seed.mig, new Date().toISOString(), 'interfaces', {
        uplink: 'eth0',
        gateway: '127.0.0.2',
        interfaces: [],
        errors: [],
      });
      const net = networkOf(await diagnoser.again(incident.id));
      expect(net.referenceSource?.from).toBe('observers');
      expect([...new Set(net.references.map((r) => r.target))]).toEqual(['127.0.0.2']);
    } finally {
      agents.stop();
    }
  });

  it('falls back to the controller’s own probe when no observer answers, and says so', async () => {
    const agents = withAgents(false);
    const { incident, diagnoser } = await world(undefined, agents);
    try {
      const event = await diagnoser.again(incident.id);
      const net = networkOf(event);
      expect(net.referenceSource?.from).toBe('controller');
      expect(net.referenceSource?.fallback).toMatch(/none answered within 1\.0 s/);
      expect(net.references.map((r) => r.observer)).toEqual(['controller']);
    } finally {
      agents.stop();
    }
  });

  it('without agents the controller probes the reference points itself', async () => {
    const { incident, diagnoser } = await world(undefined, { options: REFERENCE_OPTIONS });
    const net = networkOf(await diagnoser.again(incident.id));
    expect(net.referenceSource).toMatchObject({ from: 'controller', asked: [] });
    expect(net.referenceSource?.fallback).toMatch(/no agents/);
  });
});
