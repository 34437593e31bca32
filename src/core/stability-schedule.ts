/**
 * When the controller runs a scheduled stability test, and on which node:
 * a five-field cron expression (UTC) and a pure decision that keeps the
 * tests from ever making an outage worse.
 */
import { badInput } from './errors.ts';
import { LABEL_KEY, LABEL_VALUE } from './plan.ts';

/** A parsed `minute hour day-of-month month day-of-week` expression (UTC). */
export interface CronSchedule {
  readonly text: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
  /** Day-of-month and day-of-week both restricted: either may match (cron's rule). */
  readonly eitherDay: boolean;
}

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

const ALIASES: Readonly<Record<string, string>> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
};

function field(text: string, f: (typeof FIELDS)[number], whole: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    const bad = () =>
      badInput(
        `schedule "${whole}": ${f.name} "${part}" is not *, N, N-M, */S or N-M/S within ${f.min}–${f.max}`,
        'write five fields, e.g. "30 3 * * 1-5" (03:30 UTC on weekdays) or @daily',
      );
    if (!m) throw bad();
    const from = m[1] === '*' ? f.min : Number(m[2]);
    const to =
      m[1] === '*'
        ? f.max
        : m[3] === undefined
          ? m[4] === undefined
            ? from
            : f.max
          : Number(m[3]);
    const step = m[4] === undefined ? 1 : Number(m[4]);
    if (from < f.min || to > f.max || from > to || step < 1) throw bad();
    for (let v = from; v <= to; v += step) out.add(f.name === 'day of week' && v === 7 ? 0 : v);
  }
  return out;
}

/** Parses `m h dom mon dow` (UTC) or @hourly/@daily/@weekly/@monthly; BAD_INPUT names the field. */
export function parseCron(text: string): CronSchedule {
  const expanded = ALIASES[text.trim()] ?? text.trim();
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) {
    throw badInput(
      `schedule "${text}" has ${parts.length} fields, not 5`,
      'write "minute hour day-of-month month day-of-week" in UTC, e.g. "0 3 * * *", or @daily',
    );
  }
  const [mi, h, d, mo, w] = parts.map((p, i) => field(p, FIELDS[i] ?? FIELDS[0], text));
  return {
    text,
    minutes: mi ?? new Set(),
    hours: h ?? new Set(),
    days: d ?? new Set(),
    months: mo ?? new Set(),
    weekdays: w ?? new Set(),
    eitherDay: parts[2] !== '*' && parts[4] !== '*',
  };
}

function matches(s: CronSchedule, t: Date): boolean {
  const dayOk = s.days.has(t.getUTCDate());
  const weekdayOk = s.weekdays.has(t.getUTCDay());
  return (
    s.minutes.has(t.getUTCMinutes()) &&
    s.hours.has(t.getUTCHours()) &&
    s.months.has(t.getUTCMonth() + 1) &&
    (s.eitherDay ? dayOk || weekdayOk : dayOk && weekdayOk)
  );
}

/** The first minute strictly after `afterMs` that the schedule names; null if none within 366 days. */
export function nextCronTime(s: CronSchedule, afterMs: number): number | null {
  let t = Math.floor(afterMs / 60_000) * 60_000 + 60_000;
  const limit = afterMs + 366 * 86_400_000;
  while (t <= limit) {
    const d = new Date(t);
    if (!s.months.has(d.getUTCMonth() + 1)) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    } else if (
      !matches(
        { ...s, minutes: new Set([d.getUTCMinutes()]), hours: new Set([d.getUTCHours()]) },
        d,
      )
    ) {
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
    } else if (matches(s, d)) {
      return t;
    } else {
      t += 60_000;
    }
  }
  return null;
}

export interface ScheduleState {
  readonly now: number;
  /** When the schedule last fired (the slot that was handled), null before the first. */
  readonly lastSlotMs: number | null;
  /** GPU nodes selected for testing (`--stability-selector`), in name order. */
  readonly candidates: readonly string[];
  /** Nodes that are Ready now. */
  readonly ready: ReadonlySet<string>;
  /** Open incidents, any node. */
  readonly openIncidents: number;
  /** The node a stability test is running on now, null when none. */
  readonly running: string | null;
  /** When each node was last tested (epoch ms). */
  readonly lastTested: Readonly<Record<string, number>>;
}

export type ScheduleDecision =
  | { readonly run: string; readonly slotMs: number; readonly reason: string }
  | {
      readonly run: null;
      readonly reason: string;
      readonly nextCheckMs: number | null;
      /** Set when the due slot is given up (rule 5): record it as handled. */
      readonly skippedSlotMs?: number;
    };

/**
 * Whether to start a scheduled stability test now, and where. Rules, in order:
 * 1. No slot due (the next slot after the last handled one is still ahead):
 *    wait for it.
 * 2. A test is running: never two at once — wait for it to end.
 * 3. An incident is open: never test while something is broken — the slot
 *    stays due and is retried every minute until the incident closes.
 * 4. Among the candidates that are Ready, the one tested longest ago (never
 *    tested first; ties in the order given) runs; a candidate that is not
 *    Ready is skipped (it is not a stability test's job to push a sick node).
 * 5. No candidate Ready: skip this slot (reported), wait for the next.
 */
export function decideStabilityRun(s: CronSchedule, state: ScheduleState): ScheduleDecision {
  const due = nextCronTime(s, state.lastSlotMs ?? state.now - 60_000);
  if (due === null || due > state.now) {
    return { run: null, reason: 'no slot due', nextCheckMs: due };
  }
  if (state.running !== null) {
    return {
      run: null,
      reason: `a test is running on ${state.running}`,
      nextCheckMs: state.now + 60_000,
    };
  }
  if (state.openIncidents > 0) {
    return {
      run: null,
      reason: `${state.openIncidents} incident(s) open: no stability test until they close`,
      nextCheckMs: state.now + 60_000,
    };
  }
  const ready = state.candidates.filter((n) => state.ready.has(n));
  if (ready.length === 0) {
    return {
      run: null,
      reason: `slot ${new Date(due).toISOString()} skipped: none of ${state.candidates.join(', ') || 'the selected nodes'} is Ready`,
      nextCheckMs: nextCronTime(s, state.now),
      skippedSlotMs: due,
    };
  }
  const oldest = ready.reduce((best, n) =>
    (state.lastTested[n] ?? -Infinity) < (state.lastTested[best] ?? -Infinity) ? n : best,
  );
  const last = state.lastTested[oldest];
  return {
    run: oldest,
    slotMs: due,
    reason:
      last === undefined
        ? `${oldest} was never tested`
        : `${oldest} was tested longest ago (${new Date(last).toISOString()})`,
  };
}

/** One requirement of a node label selector. */
export type LabelRequirement =
  | { readonly op: 'exists' | 'absent'; readonly key: string }
  | { readonly op: 'equals' | 'differs'; readonly key: string; readonly value: string };

/**
 * Parses a Kubernetes equality-based label selector, every part required:
 * `key`, `!key`, `key=value` (or `==`), `key!=value`, comma-separated — e.g.
 * `nvidia.com/gpu.present=true,!nodewarden.io/no-stability-test`. BAD_INPUT
 * names the part. Set-based forms (`in`, `notin`) are not supported.
 */
export function parseNodeSelector(text: string): readonly LabelRequirement[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const hint =
    'write key, !key, key=value or key!=value, comma-separated (all must hold), e.g. node-role=mig';
  if (parts.length === 0) throw badInput(`node selector "${text}" is empty`, hint);
  return parts.map((part): LabelRequirement => {
    const m = /^(!?)([^=!]+)(?:(==|=|!=)(.*))?$/.exec(part);
    const key = m?.[2]?.trim() ?? '';
    const value = m?.[4]?.trim();
    if (
      !m ||
      !LABEL_KEY.test(key) ||
      (value !== undefined && (!LABEL_VALUE.test(value) || m[1] === '!'))
    ) {
      throw badInput(`node selector "${text}": "${part}" is not a label requirement`, hint);
    }
    if (value === undefined) return { op: m[1] === '!' ? 'absent' : 'exists', key };
    return { op: m[3] === '!=' ? 'differs' : 'equals', key, value };
  });
}

/** Whether `labels` satisfy every requirement (Kubernetes' rule: `!=` holds for an absent key). */
export function matchesNodeSelector(
  labels: Readonly<Record<string, string>>,
  selector: readonly LabelRequirement[],
): boolean {
  return selector.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'absent':
        return !has;
      case 'equals':
        return has && labels[r.key] === r.value;
      case 'differs':
        return !has || labels[r.key] !== r.value;
    }
  });
}
