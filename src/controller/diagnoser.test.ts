import { afterEach, describe, expect, it } from 'vitest';
import { NodeWardenError } from '../core/errors.ts';
import type { Incident } from '../core/incident.ts';
import { silentLogger } from '../core/logger.ts';
import { loadDiagnosis } from '../diagnose/stored.ts';
import { seedScenario } from '../sim/seed-scenario.ts';
import { openStore } from '../store/open.ts';
import type { IncidentStore } from '../store/port.ts';
import { DEFAULT_DIAGNOSER_OPTIONS, IncidentDiagnoser, type VerdictEvent } from './diagnoser.ts';

const stores: IncidentStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

async function world(leader = { value: true }) {
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
  const diagnoser = new IncidentDiagnoser(
    { view: seed.sim, mesh: null, observations: null, prober: null, cloud: null, gpu: null, store },
    { ...DEFAULT_DIAGNOSER_OPTIONS, actor: 'controller/test', zone: 'UTC' },
    silentLogger,
    (action) => {
      if (!leader.value) throw new NodeWardenError('CONFLICT', `not the leader: may not ${action}`);
    },
  );
  return { seed, store, incident, diagnoser };
}

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
});
