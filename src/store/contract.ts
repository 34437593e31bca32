/**
 * The contract every IncidentStore keeps, as one vitest suite that each
 * adapter's test file runs against its own database (drizzle's shared
 * `tests()` per dialect). An adapter that cannot keep a rule names it in
 * `knownGaps` with the reason: the test still runs, must fail (`it.fails`),
 * and turns red the day the gap closes, so the list cannot go stale.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeWardenError, type ErrorCode } from '../core/errors.ts';
import { mttdSeconds, mttrSeconds, type Incident, type TimelineEntry } from '../core/incident.ts';
import {
  SCHEMA_VERSION_KEY,
  type AuditQuery,
  type AuditRecord,
  type IncidentStore,
  type JsonValue,
  type StoreOptions,
} from './port.ts';

export interface StoreHandle {
  readonly store: IncidentStore;
  /** Opens the same database again (after `store.close()`); rejects where that is impossible. */
  reopen(): Promise<IncidentStore>;
}

/** A fresh, empty store per call. */
export type MakeStore = (options: StoreOptions) => Promise<StoreHandle>;

export const CONTRACT_TESTS = [
  'round-trips every field of an incident',
  'round-trips the 2025-08-25 incident and keeps its MTTD and MTTR',
  'stores instants as UTC milliseconds whatever zone they came in',
  'refuses malformed incidents with BAD_INPUT and stores nothing',
  'refuses strings PostgreSQL cannot store',
  'creating a duplicate id is CONFLICT and keeps the first',
  'getting an unknown id is NOT_FOUND naming it',
  'lists newest first and filters by status, node and before',
  'refuses a list limit out of range',
  'reads the timeline in time order, equal times in insertion order',
  'the timeline is append-only',
  'an append with one bad entry writes none',
  'appending to an unknown incident is NOT_FOUND',
  'finds the open node incident of a node',
  'finds an open partition incident containing the node',
  'finds nothing once resolved, and the newest of several',
  'updates every patchable field',
  'refuses an update that breaks open ⇔ resolvedAt null, and keeps the old state',
  'updating an unknown incident is NOT_FOUND',
  'audit records round-trip, oldest first, per incident',
  'audit: duplicate id is CONFLICT, unknown incident NOT_FOUND',
  'audit evidence must be plain JSON',
  'finds audit records of one action, newest first, by node, id and limit',
  'last words round-trip and filter by node and time',
  'last words keep only the newest N per node and kind',
  'latest last words: the newest blob of one kind per node, by node name',
  'meta stores JSON values and records the schema version',
  'parallel appends, audits, last words and creates lose nothing',
  'parallel patches of different fields all survive',
  'keeps everything across close and reopen',
  'a closed store answers UNAVAILABLE',
] as const;

export type ContractTest = (typeof CONTRACT_TESTS)[number];

export interface ContractOptions {
  /** Contract rules this adapter does not keep, each with the reason. */
  readonly knownGaps?: Partial<Record<ContractTest, string>>;
}

const FIXTURES = new URL('../../test/fixtures/store/', import.meta.url);

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as T;
}

async function failure(promise: Promise<unknown>): Promise<NodeWardenError> {
  const outcome = await promise.then(
    () => new Error('expected the call to fail, and it succeeded'),
    (error: unknown) => error,
  );
  if (!(outcome instanceof NodeWardenError)) throw outcome;
  return outcome;
}

/** Asserts a NodeWardenError with `code`, a hint, and a message mentioning `mentions`. */
async function expectFailure(
  promise: Promise<unknown>,
  code: ErrorCode,
  mentions?: string,
): Promise<NodeWardenError> {
  const error = await failure(promise);
  expect({ code: error.code, message: error.message }).toEqual({
    code,
    message: expect.stringContaining(mentions ?? '') as string,
  });
  expect(error.hint).toBeTruthy();
  return error;
}

function at(minute: number, second = 0, ms = 0): string {
  return new Date(Date.UTC(2025, 7, 25, 4, minute, second, ms)).toISOString();
}

function nodeIncident(id: string, node: string, openedAt: string, over: Partial<Incident> = {}) {
  const incident: Incident = {
    id,
    kind: 'node',
    status: 'open',
    nodes: [node],
    openedAt,
    resolvedAt: null,
    lastHeartbeatAt: null,
    rootCause: null,
    summary: '',
    timeline: [],
    affectedPods: [],
    ...over,
  };
  return incident;
}

function partition(id: string, nodes: readonly string[], openedAt: string): Incident {
  return { ...nodeIncident(id, 'unused', openedAt), kind: 'partition', nodes };
}

/** Every field set, both optional members of nested records present and absent. */
const FULL: Incident = {
  id: 'inc-20250825-040200-gpu-7-1',
  kind: 'node',
  status: 'resolved',
  nodes: ['gpu-7'],
  openedAt: at(2),
  resolvedAt: at(46, 30, 125),
  lastHeartbeatAt: at(-4),
  rootCause: 'HOST_NETWORK_DOWN',
  summary: 'gpu-7 dark at L2–L4; 한국어 요약 ✓; "quotes" and \\backslashes\\',
  timeline: [
    { at: at(-4), kind: 'last-heartbeat', message: 'Lease renewed', node: 'gpu-7' },
    { at: at(2), kind: 'incident-opened', message: 'opened' },
    { at: at(46, 30, 125), kind: 'resolved', message: 'Ready again', node: 'gpu-7' },
  ],
  affectedPods: [
    { namespace: 'ml', name: 'trainer-0', owner: 'StatefulSet/trainer' },
    { namespace: 'kube-system', name: 'kube-ovn-cni-x8q2p' },
  ],
};

function audit(
  id: string,
  incidentId: string | null,
  atIso: string,
  over: Partial<AuditRecord> = {},
) {
  const record: AuditRecord = {
    id,
    incidentId,
    at: atIso,
    actor: 'controller/nodewarden-0',
    action: 'cordon',
    reason: 'node down at L2/L3/L4 from 8 observers',
    evidence: { observers: 8, failedLayer: 'L2', detail: ['FAILED', null, true, 1.5] },
    result: 'succeeded',
    durationMs: 12.75,
    ...over,
  };
  return record;
}

/** Registers the contract suite for one adapter. */
export function storeContract(name: string, makeStore: MakeStore, options: ContractOptions = {}) {
  const gaps: Partial<Record<ContractTest, string>> = options.knownGaps ?? {};
  let handle: StoreHandle | undefined;
  const opened: IncidentStore[] = [];
  const store = (): IncidentStore => {
    if (handle === undefined) throw new Error('the contract store was not opened');
    return handle.store;
  };
  /** An extra store for one test; closed after it. */
  const another = async (storeOptions: StoreOptions): Promise<IncidentStore> => {
    const h = await makeStore(storeOptions);
    opened.push(h.store);
    return h.store;
  };

  function test(title: ContractTest, body: () => Promise<void>): void {
    const gap = gaps[title];
    if (gap === undefined) it(title, body);
    else it.fails(`${title} [known gap: ${gap}]`, body);
  }

  describe(`IncidentStore contract: ${name}`, () => {
    beforeEach(async () => {
      handle = await makeStore({});
      opened.push(handle.store);
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
      handle = undefined;
    });

    test('round-trips every field of an incident', async () => {
      const open = nodeIncident('inc-open', 'gpu-8', at(3), { summary: 'still down' });
      expect(await store().createIncident(FULL)).toEqual(FULL);
      expect(await store().createIncident(open)).toEqual(open);
      expect(await store().getIncident(FULL.id)).toEqual(FULL);
      expect(await store().getIncident(open.id)).toEqual(open);
      // An absent optional member stays absent rather than coming back as null.
      const second = (await store().getIncident(FULL.id)).timeline[1];
      expect(second === undefined ? 'missing' : Object.keys(second).sort()).toEqual([
        'at',
        'kind',
        'message',
      ]);
    });

    test('round-trips the 2025-08-25 incident and keeps its MTTD and MTTR', async () => {
      const seed = fixture<Incident>('incident-2025-08-25.json');
      await store().createIncident(seed);
      const got = await store().getIncident(seed.id);
      expect(got.openedAt).toBe('2025-08-25T04:02:00.000Z');
      expect(got.timeline.map((e) => [e.at, e.kind])).toEqual([
        ['2025-08-25T03:58:00.000Z', 'last-heartbeat'],
        ['2025-08-25T04:02:00.000Z', 'down'],
        ['2025-08-25T04:02:00.000Z', 'incident-opened'],
        ['2025-08-25T04:08:00.000Z', 'k8s-not-ready'],
        ['2025-08-25T07:32:00.000Z', 'note'],
        ['2025-08-25T10:46:00.000Z', 'resolved'],
      ]);
      // The report: 4 minutes to detect; 6 h 48 min from last heartbeat to recovery.
      expect(mttdSeconds(got)).toBe(4 * 60);
      expect(mttrSeconds(got)).toBe(6 * 3600 + 48 * 60);
      expect(got.summary).toBe(seed.summary);
    });

    test('stores instants as UTC milliseconds whatever zone they came in', async () => {
      const got = await store().createIncident(
        nodeIncident('inc-kst', 'gpu-1', '2025-08-25T13:02:00+09:00', {
          lastHeartbeatAt: '2025-08-25T03:58:00.1234567Z',
          timeline: [{ at: '2025-08-25T12:58:00+09:00', kind: 'last-heartbeat', message: 'x' }],
        }),
      );
      expect([got.openedAt, got.lastHeartbeatAt, got.timeline[0]?.at]).toEqual([
        '2025-08-25T04:02:00.000Z',
        '2025-08-25T03:58:00.123Z',
        '2025-08-25T03:58:00.000Z',
      ]);
      await store().appendTimeline('inc-kst', [
        { at: '2025-08-25T04:00:00-00:30', kind: 'note', message: 'offset zone' },
      ]);
      expect((await store().getIncident('inc-kst')).timeline.map((e) => e.at)).toEqual([
        '2025-08-25T03:58:00.000Z',
        '2025-08-25T04:30:00.000Z',
      ]);
    });

    test('refuses malformed incidents with BAD_INPUT and stores nothing', async () => {
      const bad: [string, Incident][] = [
        ['nodes', { ...nodeIncident('bad-1', 'a', at(1)), nodes: ['a', 'b'] }],
        ['nodes', { ...partition('bad-2', ['a', 'a'], at(1)) }],
        ['openedAt', nodeIncident('bad-3', 'a', '2025-02-30T00:00:00Z')],
        ['openedAt', nodeIncident('bad-4', 'a', '25 Aug 2025 04:02')],
        ['rootCause', { ...nodeIncident('bad-5', 'a', at(1)), rootCause: 'SOLAR_FLARE' as never }],
        ['resolvedAt', { ...nodeIncident('bad-6', 'a', at(1)), status: 'resolved' }],
        [
          'resolvedAt',
          nodeIncident('bad-7', 'a', at(5), { status: 'resolved', resolvedAt: at(4) }),
        ],
        ['kind', { ...nodeIncident('bad-8', 'a', at(1)), kind: 'zone' as never }],
        ['id', nodeIncident('', 'a', at(1))],
      ];
      for (const [field, incident] of bad) {
        await expectFailure(store().createIncident(incident), 'BAD_INPUT', field);
      }
      expect(await store().listIncidents()).toEqual([]);
    });

    test('refuses strings PostgreSQL cannot store', async () => {
      await expectFailure(
        store().createIncident(nodeIncident('nul', 'a', at(1), { summary: 'x\u0000y' })),
        'BAD_INPUT',
        'U+0000',
      );
      await store().createIncident(nodeIncident('ok', 'a', at(1)));
      await expectFailure(
        store().appendTimeline('ok', [{ at: at(2), kind: 'note', message: 'half \ud83d' }]),
        'BAD_INPUT',
        'surrogate',
      );
      await expectFailure(
        store().putLastWords('a', at(1), 'kernel-log', { line: 'NVRM: Xid 79\u0000' }),
        'BAD_INPUT',
        'U+0000',
      );
      expect((await store().getIncident('ok')).timeline).toEqual([]);
    });

    test('creating a duplicate id is CONFLICT and keeps the first', async () => {
      const first = nodeIncident('inc-dup', 'gpu-1', at(1), { summary: 'first' });
      await store().createIncident(first);
      await expectFailure(
        store().createIncident({ ...first, summary: 'second', nodes: ['gpu-2'] }),
        'CONFLICT',
        'inc-dup',
      );
      expect(await store().getIncident('inc-dup')).toEqual(first);
    });

    test('getting an unknown id is NOT_FOUND naming it', async () => {
      await expectFailure(store().getIncident('inc-nope'), 'NOT_FOUND', 'inc-nope');
    });

    test('lists newest first and filters by status, node and before', async () => {
      const s = store();
      await s.createIncident(nodeIncident('a', 'gpu-1', at(1)));
      await s.createIncident(
        nodeIncident('b', 'gpu-2', at(2), { status: 'resolved', resolvedAt: at(9) }),
      );
      await s.createIncident(partition('c', ['gpu-1', 'gpu-3'], at(3)));
      // Same opening instant as c: ties are broken by id, descending.
      await s.createIncident(nodeIncident('d', 'gpu-4', at(3)));
      await s.createIncident(
        nodeIncident('e', 'gpu-1', at(5), { status: 'resolved', resolvedAt: at(6) }),
      );
      const ids = async (q?: Parameters<IncidentStore['listIncidents']>[0]) =>
        (await s.listIncidents(q)).map((i) => i.id);
      expect(await ids()).toEqual(['e', 'd', 'c', 'b', 'a']);
      expect(await ids({ status: 'open' })).toEqual(['d', 'c', 'a']);
      expect(await ids({ status: 'resolved' })).toEqual(['e', 'b']);
      expect(await ids({ node: 'gpu-1' })).toEqual(['e', 'c', 'a']);
      expect(await ids({ node: 'gpu-1', status: 'open' })).toEqual(['c', 'a']);
      expect(await ids({ node: 'gpu-9' })).toEqual([]);
      expect(await ids({ limit: 2 })).toEqual(['e', 'd']);
      expect(await ids({ before: at(3) })).toEqual(['b', 'a']);
      expect(await ids({ before: '2025-08-25T13:04:00+09:00', limit: 1 })).toEqual(['d']);
      const listed = await s.listIncidents({ node: 'gpu-3' });
      expect(listed).toEqual([await s.getIncident('c')]);
    });

    test('refuses a list limit out of range', async () => {
      await expectFailure(store().listIncidents({ limit: 0 }), 'BAD_INPUT', 'limit');
      await expectFailure(store().listIncidents({ limit: 1001 }), 'BAD_INPUT', 'limit');
      await expectFailure(store().listIncidents({ limit: 2.5 }), 'BAD_INPUT', 'limit');
      await expectFailure(store().listIncidents({ before: 'yesterday' }), 'BAD_INPUT', 'before');
    });

    test('reads the timeline in time order, equal times in insertion order', async () => {
      await store().createIncident(
        nodeIncident('t', 'gpu-1', at(2), {
          timeline: [
            { at: at(2), kind: 'incident-opened', message: 'opened' },
            { at: at(-4), kind: 'last-heartbeat', message: 'heartbeat' },
          ],
        }),
      );
      await store().appendTimeline('t', [
        { at: at(8), kind: 'k8s-not-ready', message: 'NotReady' },
        { at: at(2), kind: 'note', message: 'same time as opened, appended later' },
      ]);
      await store().appendTimeline('t', [
        { at: at(2), kind: 'note', message: 'same time again, later still' },
        { at: at(0), kind: 'suspect', message: 'learned late: suspect at 04:00' },
      ]);
      await store().appendTimeline('t', []);
      expect((await store().getIncident('t')).timeline.map((e) => e.message)).toEqual([
        'heartbeat',
        'learned late: suspect at 04:00',
        'opened',
        'same time as opened, appended later',
        'same time again, later still',
        'NotReady',
      ]);
    });

    test('the timeline is append-only', async () => {
      const first: TimelineEntry = { at: at(2), kind: 'down', message: 'down', node: 'gpu-1' };
      await store().createIncident(nodeIncident('t', 'gpu-1', at(2), { timeline: [first] }));
      await expectFailure(
        store().updateIncident('t', { timeline: [] } as never),
        'BAD_INPUT',
        'timeline',
      );
      await expectFailure(store().updateIncident('t', { id: 'u' } as never), 'BAD_INPUT', 'id');
      await store().updateIncident('t', { summary: 'changed', nodes: ['gpu-1'] });
      await store().appendTimeline('t', [{ ...first, message: 'down (second report)' }]);
      expect((await store().getIncident('t')).timeline).toEqual([
        first,
        { ...first, message: 'down (second report)' },
      ]);
    });

    test('an append with one bad entry writes none', async () => {
      await store().createIncident(nodeIncident('t', 'gpu-1', at(2)));
      await expectFailure(
        store().appendTimeline('t', [
          { at: at(3), kind: 'note', message: 'fine' },
          { at: at(4), kind: 'exploded' as never, message: 'bad kind' },
        ]),
        'BAD_INPUT',
        'entries[1].kind',
      );
      expect((await store().getIncident('t')).timeline).toEqual([]);
    });

    test('appending to an unknown incident is NOT_FOUND', async () => {
      await expectFailure(
        store().appendTimeline('inc-ghost', [{ at: at(1), kind: 'note', message: 'x' }]),
        'NOT_FOUND',
        'inc-ghost',
      );
      await expectFailure(store().appendTimeline('inc-ghost', []), 'NOT_FOUND', 'inc-ghost');
    });

    test('finds the open node incident of a node', async () => {
      await store().createIncident(nodeIncident('n1', 'gpu-1', at(1)));
      await store().createIncident(nodeIncident('n2', 'gpu-2', at(1)));
      expect((await store().findOpenIncident('gpu-1'))?.id).toBe('n1');
      expect((await store().findOpenIncident('gpu-2'))?.id).toBe('n2');
      expect(await store().findOpenIncident('gpu-3')).toBeNull();
    });

    test('finds an open partition incident containing the node', async () => {
      await store().createIncident(partition('p1', ['gpu-1', 'gpu-2', 'gpu-3'], at(1)));
      for (const node of ['gpu-1', 'gpu-2', 'gpu-3']) {
        expect((await store().findOpenIncident(node))?.id).toBe('p1');
      }
      expect(await store().findOpenIncident('gpu-4')).toBeNull();
      // A node added to the partition later is found through it too.
      await store().updateIncident('p1', { nodes: ['gpu-1', 'gpu-2', 'gpu-3', 'gpu-4'] });
      expect((await store().findOpenIncident('gpu-4'))?.nodes).toEqual([
        'gpu-1',
        'gpu-2',
        'gpu-3',
        'gpu-4',
      ]);
    });

    test('finds nothing once resolved, and the newest of several', async () => {
      await store().createIncident(nodeIncident('n1', 'gpu-1', at(1)));
      await store().updateIncident('n1', { status: 'resolved', resolvedAt: at(4) });
      expect(await store().findOpenIncident('gpu-1')).toBeNull();
      await store().createIncident(nodeIncident('n2', 'gpu-1', at(5)));
      await store().createIncident(partition('p1', ['gpu-1', 'gpu-2'], at(6)));
      expect((await store().findOpenIncident('gpu-1'))?.id).toBe('p1');
      await store().updateIncident('p1', { status: 'resolved', resolvedAt: at(7) });
      expect((await store().findOpenIncident('gpu-1'))?.id).toBe('n2');
    });

    test('updates every patchable field', async () => {
      await store().createIncident(partition('p', ['gpu-1', 'gpu-2'], at(1)));
      const patched = await store().updateIncident('p', {
        status: 'resolved',
        resolvedAt: '2025-08-25T13:10:00+09:00',
        rootCause: 'PARTIAL_PARTITION',
        summary: 'two nodes cut off behind one switch',
        affectedPods: [{ namespace: 'ml', name: 'trainer-1', owner: 'Job/train' }],
        nodes: ['gpu-2', 'gpu-1', 'gpu-5'],
        lastHeartbeatAt: at(0),
      });
      const expected: Incident = {
        ...partition('p', ['gpu-2', 'gpu-1', 'gpu-5'], at(1)),
        status: 'resolved',
        resolvedAt: at(10),
        rootCause: 'PARTIAL_PARTITION',
        summary: 'two nodes cut off behind one switch',
        affectedPods: [{ namespace: 'ml', name: 'trainer-1', owner: 'Job/train' }],
        lastHeartbeatAt: at(0),
      };
      expect(patched).toEqual(expected);
      expect(await store().getIncident('p')).toEqual(expected);
      expect((await store().listIncidents({ node: 'gpu-5' })).map((i) => i.id)).toEqual(['p']);
      // Reopening (a flap) clears resolvedAt; null clears a root cause.
      const reopened = await store().updateIncident('p', {
        status: 'open',
        resolvedAt: null,
        rootCause: null,
      });
      expect(reopened).toEqual({ ...expected, status: 'open', resolvedAt: null, rootCause: null });
      // An empty patch changes nothing.
      expect(await store().updateIncident('p', {})).toEqual(reopened);
    });

    test('refuses an update that breaks open ⇔ resolvedAt null, and keeps the old state', async () => {
      const open = nodeIncident('n', 'gpu-1', at(1));
      await store().createIncident(open);
      await expectFailure(
        store().updateIncident('n', { status: 'resolved' }),
        'BAD_INPUT',
        'resolvedAt',
      );
      await expectFailure(
        store().updateIncident('n', { resolvedAt: at(3) }),
        'BAD_INPUT',
        'resolvedAt',
      );
      await expectFailure(
        store().updateIncident('n', { status: 'resolved', resolvedAt: at(0) }),
        'BAD_INPUT',
        'before it opened',
      );
      await expectFailure(
        store().updateIncident('n', { nodes: ['gpu-1', 'gpu-2'] }),
        'BAD_INPUT',
        'nodes',
      );
      expect(await store().getIncident('n')).toEqual(open);
    });

    test('updating an unknown incident is NOT_FOUND', async () => {
      await expectFailure(
        store().updateIncident('inc-ghost', { summary: 'x' }),
        'NOT_FOUND',
        'inc-ghost',
      );
    });

    test('audit records round-trip, oldest first, per incident', async () => {
      await store().createIncident(nodeIncident('inc', 'gpu-1', at(1)));
      const late = audit('a-2', 'inc', at(5), { action: 'cloud-soft-reboot', result: 'failed' });
      const early = audit('a-1', 'inc', at(3));
      const sameTimeLater = audit('a-3', 'inc', at(5), { evidence: null, durationMs: 0 });
      const global = audit('a-g', null, at(4), {
        actor: 'user:oncall',
        action: 'approve-mode',
        evidence: { nested: { deep: [{ x: -1.25e-7 }] }, text: '한국어', big: 2 ** 52 },
      });
      for (const r of [late, early, global, sameTimeLater]) await store().appendAudit(r);
      expect(await store().listAudit('inc')).toEqual([early, late, sameTimeLater]);
      expect(await store().listAudit(null)).toEqual([global]);
      await expectFailure(store().listAudit('inc-ghost'), 'NOT_FOUND', 'inc-ghost');
    });

    test('audit: duplicate id is CONFLICT, unknown incident NOT_FOUND', async () => {
      await store().createIncident(nodeIncident('inc', 'gpu-1', at(1)));
      await store().appendAudit(audit('a-1', 'inc', at(2)));
      await expectFailure(store().appendAudit(audit('a-1', 'inc', at(3))), 'CONFLICT', 'a-1');
      await expectFailure(
        store().appendAudit(audit('a-2', 'inc-ghost', at(3))),
        'NOT_FOUND',
        'inc-ghost',
      );
      expect((await store().listAudit('inc')).map((r) => r.at)).toEqual([at(2)]);
    });

    test('audit evidence must be plain JSON', async () => {
      const bad: [string, unknown][] = [
        ['NaN', { ratio: Number.NaN }],
        ['Infinity', [Number.POSITIVE_INFINITY]],
        ['undefined', { missing: undefined }],
        ['class instance', { when: new Date(0) }],
      ];
      for (const [what, evidence] of bad) {
        await expectFailure(
          store().appendAudit(audit(`a-${what}`, null, at(1), { evidence: evidence as JsonValue })),
          'BAD_INPUT',
          what,
        );
      }
      await expectFailure(
        store().appendAudit(audit('a-neg', null, at(1), { durationMs: -1 })),
        'BAD_INPUT',
        'durationMs',
      );
      expect(await store().listAudit(null)).toEqual([]);
    });

    test('finds audit records of one action, newest first, by node, id and limit', async () => {
      await store().createIncident(nodeIncident('inc', 'gpu-1', at(1)));
      const step = (id: string, incidentId: string | null, when: string, node: JsonValue) =>
        audit(id, incidentId, when, { action: 'remediation-cordon', evidence: { node, step: 0 } });
      const stabilityTest = (id: string, when: string, node: string) =>
        audit(id, null, when, {
          action: 'stability-test',
          evidence: { report: { node, startedAt: at(0) }, markdown: '# report' },
        });
      const records = [
        step('r-1', 'inc', at(2), 'gpu-1'),
        stabilityTest('t-1', at(3), 'gpu-1'),
        step('r-2', null, at(4), 'gpu-2'),
        stabilityTest('t-2', at(5), 'gpu-2'),
        stabilityTest('t-3', at(5), 'gpu-1'),
        step('r-3', 'inc', at(6), 7),
        audit('other', null, at(7), { evidence: { node: 'gpu-1' } }),
        audit('t-odd', null, at(8), { action: 'stability-test', evidence: ['gpu-1'] }),
      ];
      for (const r of records) await store().appendAudit(r);
      const ids = async (q: AuditQuery) => (await store().findAudit(q)).map((r) => r.id);
      // Every incident and none; equal times newest-inserted first.
      expect(await ids({ action: 'stability-test' })).toEqual(['t-odd', 't-3', 't-2', 't-1']);
      expect(await ids({ action: 'remediation-cordon' })).toEqual(['r-3', 'r-2', 'r-1']);
      // node: a string evidence.node, else a string evidence.report.node.
      expect(await ids({ action: 'stability-test', node: 'gpu-1' })).toEqual(['t-3', 't-1']);
      expect(await ids({ action: 'remediation-cordon', node: 'gpu-1' })).toEqual(['r-1']);
      expect(await ids({ action: 'remediation-cordon', node: '7' })).toEqual([]);
      expect(await ids({ action: 'stability-test', limit: 2 })).toEqual(['t-odd', 't-3']);
      expect(await ids({ action: 'stability-test', node: 'gpu-2', limit: 1 })).toEqual(['t-2']);
      expect(await store().findAudit({ action: 'stability-test', id: 't-2' })).toEqual([
        records[3],
      ]);
      expect(await ids({ action: 'stability-test', id: 'r-1' })).toEqual([]);
      expect(await ids({ action: 'nothing' })).toEqual([]);
      for (const limit of [0, 1001, 1.5]) {
        await expectFailure(
          store().findAudit({ action: 'stability-test', limit }),
          'BAD_INPUT',
          'limit',
        );
      }
      await expectFailure(store().findAudit({ action: '' }), 'BAD_INPUT', 'action');
    });

    test('last words round-trip and filter by node and time', async () => {
      const seed = fixture<{
        node: string;
        blobs: { at: string; kind: string; data: JsonValue }[];
      }>('last-words-gpu-memory.json');
      for (const b of seed.blobs) await store().putLastWords(seed.node, b.at, b.kind, b.data);
      await store().putLastWords('gpu-other', '2025-08-25T03:57:00Z', 'gpu-samples', {
        fbUsedPercent: 3,
      });
      const all = await store().lastWords(seed.node, '2025-08-25T00:00:00Z');
      expect(all).toEqual(seed.blobs.map((b) => ({ node: seed.node, ...b })));
      const lastMinute = await store().lastWords(seed.node, '2025-08-25T12:57:00+09:00');
      expect(lastMinute.map((b) => b.data)).toEqual(seed.blobs.slice(1).map((b) => b.data));
      expect(await store().lastWords(seed.node, '2025-08-25T03:58:00.001Z')).toEqual([]);
      expect(await store().lastWords('gpu-nobody', '2025-08-25T00:00:00Z')).toEqual([]);
      await expectFailure(store().lastWords(seed.node, 'an hour ago'), 'BAD_INPUT', 'since');
    });

    test('latest last words: the newest blob of one kind per node, by node name', async () => {
      expect(await store().latestLastWords('inventory')).toEqual([]);
      await store().putLastWords('gpu-b', at(1), 'inventory', { driver: '525.85.12' });
      await store().putLastWords('gpu-b', at(3), 'inventory', { driver: '535.216.03' });
      // A late blob with an older time does not replace the newest one.
      await store().putLastWords('gpu-b', at(2), 'inventory', { driver: 'late' });
      await store().putLastWords('Gpu-a', at(1), 'inventory', { driver: '550.54.15' });
      await store().putLastWords('gpu-a', at(5), 'gpu-samples', { fbUsedPercent: 45.5 });
      const latest = await store().latestLastWords('inventory');
      expect(latest).toEqual([
        { node: 'Gpu-a', at: at(1), kind: 'inventory', data: { driver: '550.54.15' } },
        { node: 'gpu-b', at: at(3), kind: 'inventory', data: { driver: '535.216.03' } },
      ]);
      expect((await store().latestLastWords('gpu-samples')).map((b) => b.node)).toEqual(['gpu-a']);
      await expectFailure(store().latestLastWords(''), 'BAD_INPUT', 'kind');
    });

    test('last words keep only the newest N per node and kind', async () => {
      const s = await another({ lastWordsRetention: 3 });
      for (let i = 0; i < 8; i += 1) {
        for (const node of ['gpu-1', 'gpu-2']) {
          await s.putLastWords(node, at(i), 'kernel-log', { line: `${node} kernel ${i}` });
          await s.putLastWords(node, at(i), 'gpu-samples', { sample: i });
        }
      }
      // A straggler older than everything kept is dropped at once.
      await s.putLastWords('gpu-1', at(-10), 'kernel-log', { line: 'late and old' });
      const since = at(-60);
      const kept = await s.lastWords('gpu-1', since);
      expect(kept.filter((b) => b.kind === 'kernel-log').map((b) => b.data)).toEqual([
        { line: 'gpu-1 kernel 5' },
        { line: 'gpu-1 kernel 6' },
        { line: 'gpu-1 kernel 7' },
      ]);
      expect(kept.filter((b) => b.kind === 'gpu-samples').map((b) => b.at)).toEqual([
        at(5),
        at(6),
        at(7),
      ]);
      expect(await s.lastWords('gpu-2', since)).toHaveLength(6);
      // The default keeps 120.
      for (let i = 0; i < 125; i += 1) {
        await store().putLastWords('gpu-1', at(0, 0, i), 'gpu-samples', i);
      }
      const defaultKept = await store().lastWords('gpu-1', since);
      expect(defaultKept.map((b) => b.data)).toEqual(Array.from({ length: 120 }, (_, i) => i + 5));
    });

    test('meta stores JSON values and records the schema version', async () => {
      const version = await store().getMeta(SCHEMA_VERSION_KEY);
      expect(typeof version === 'number' && Number.isInteger(version) && version >= 1).toBe(true);
      expect(await store().getMeta('remediation.resume')).toBeUndefined();
      const resume: JsonValue = { incident: 'inc-1', step: 3, ladder: ['cordon', 'soft-reboot'] };
      await store().setMeta('remediation.resume', resume);
      expect(await store().getMeta('remediation.resume')).toEqual(resume);
      await store().setMeta('remediation.resume', null);
      expect(await store().getMeta('remediation.resume')).toBeNull();
      await store().setMeta('counter', 7);
      await store().setMeta('flag', false);
      await store().setMeta('name', 'x');
      expect([
        await store().getMeta('counter'),
        await store().getMeta('flag'),
        await store().getMeta('name'),
      ]).toEqual([7, false, 'x']);
      await expectFailure(store().setMeta('', 1), 'BAD_INPUT', 'meta key');
    });

    test('parallel appends, audits, last words and creates lose nothing', async () => {
      const s = store();
      await s.createIncident(nodeIncident('hot', 'gpu-1', at(1)));
      const appends = Array.from({ length: 200 }, (_, i) =>
        s.appendTimeline('hot', [
          { at: at(2, i % 7), kind: 'note', message: `append ${i} a` },
          { at: at(2, i % 7), kind: 'note', message: `append ${i} b` },
        ]),
      );
      const audits = Array.from({ length: 100 }, (_, i) =>
        s.appendAudit(audit(`audit-${i}`, 'hot', at(3, i % 11))),
      );
      const words = Array.from({ length: 100 }, (_, i) =>
        s.putLastWords(`node-${i % 4}`, at(4, i), 'kernel-log', { i }),
      );
      const creates = Array.from({ length: 30 }, (_, i) =>
        s.createIncident(nodeIncident(`par-${i}`, `gpu-${100 + i}`, at(5, i))),
      );
      await Promise.all([...appends, ...audits, ...words, ...creates]);
      const timeline = (await s.getIncident('hot')).timeline;
      expect(timeline).toHaveLength(400);
      expect(new Set(timeline.map((e) => e.message)).size).toBe(400);
      // Entries of one append stay in their order: a before b.
      for (let i = 0; i < 200; i += 1) {
        const a = timeline.findIndex((e) => e.message === `append ${i} a`);
        const b = timeline.findIndex((e) => e.message === `append ${i} b`);
        expect(a).toBeLessThan(b);
      }
      expect([...timeline.map((e) => e.at)]).toEqual([...timeline.map((e) => e.at)].sort());
      expect(await s.listAudit('hot')).toHaveLength(100);
      const words0 = await s.lastWords('node-0', at(0));
      expect(words0.map((w) => (w.data as { i: number }).i)).toEqual(
        Array.from({ length: 25 }, (_, k) => k * 4),
      );
      expect(await s.listIncidents({ limit: 1000 })).toHaveLength(31);
    });

    test('parallel patches of different fields all survive', async () => {
      const s = store();
      await s.createIncident(partition('p', ['gpu-1'], at(1)));
      await Promise.all([
        s.updateIncident('p', { summary: 'summary from the diagnoser' }),
        s.updateIncident('p', { rootCause: 'PARTIAL_PARTITION' }),
        s.updateIncident('p', { affectedPods: [{ namespace: 'ml', name: 'a' }] }),
        s.updateIncident('p', { lastHeartbeatAt: at(0) }),
        s.updateIncident('p', { nodes: ['gpu-1', 'gpu-2'] }),
        ...Array.from({ length: 20 }, (_, i) =>
          s.appendTimeline('p', [{ at: at(2), kind: 'note', message: `during patches ${i}` }]),
        ),
      ]);
      const got = await s.getIncident('p');
      expect({ ...got, timeline: got.timeline.length }).toEqual({
        ...partition('p', ['gpu-1', 'gpu-2'], at(1)),
        summary: 'summary from the diagnoser',
        rootCause: 'PARTIAL_PARTITION',
        affectedPods: [{ namespace: 'ml', name: 'a' }],
        lastHeartbeatAt: at(0),
        timeline: 20,
      });
    });

    test('keeps everything across close and reopen', async () => {
      const h = handle;
      if (h === undefined) throw new Error('no store');
      await h.store.createIncident(FULL);
      await h.store.appendAudit(audit('a-1', FULL.id, at(3)));
      await h.store.putLastWords('gpu-7', at(1), 'kernel-log', { line: 'NVRM: Xid 79' });
      await h.store.setMeta('remediation.resume', { step: 2 });
      await h.store.close();
      const again = await h.reopen();
      opened.push(again);
      expect(await again.getIncident(FULL.id)).toEqual(FULL);
      expect(await again.listAudit(FULL.id)).toEqual([audit('a-1', FULL.id, at(3))]);
      expect(await again.lastWords('gpu-7', at(0))).toHaveLength(1);
      expect(await again.getMeta('remediation.resume')).toEqual({ step: 2 });
    });

    test('a closed store answers UNAVAILABLE', async () => {
      await store().close();
      await store().close();
      const error = await expectFailure(store().getIncident('x'), 'UNAVAILABLE', 'closed');
      expect(error.hint).toContain('open');
      await expectFailure(store().listIncidents(), 'UNAVAILABLE');
      await expectFailure(store().setMeta('k', 1), 'UNAVAILABLE');
    });
  });
}
