/**
 * Times in the cluster's own zone, the way the seed report writes them
 * ("2025-08-25 12:58 KST"), and durations in words. Intl does the zone
 * arithmetic (no node:* and no zone database of our own).
 */
import { badInput, NodeWardenError } from '../core/errors.ts';

export type Lang = 'en' | 'ko';
export const LANGS: readonly Lang[] = ['en', 'ko'];

/**
 * Abbreviations people write for zones Intl only names by offset
 * ("GMT+9"). Others fall back to Intl's short name when it is a real
 * abbreviation (EST, PDT), else to the offset as UTC±h.
 */
const ZONE_LABELS: Readonly<Record<string, string>> = {
  'Asia/Seoul': 'KST',
  'Asia/Tokyo': 'JST',
  'Asia/Shanghai': 'CST',
  'Asia/Taipei': 'CST',
  'Asia/Singapore': 'SGT',
  'Asia/Kolkata': 'IST',
  UTC: 'UTC',
  'Etc/UTC': 'UTC',
};

export interface ZoneClock {
  readonly zone: string;
  /** `2025-08-25` */
  date(iso: string): string;
  /** `12:58`, or `12:57:30` when the seconds are not zero. */
  time(iso: string): string;
  /** `2025-08-25 12:58 KST` */
  dateTime(iso: string): string;
  /** `12:58 KST` */
  clock(iso: string): string;
  /** `13:02:00 KST`: seconds always, for steps that take seconds. */
  clockSeconds(iso: string): string;
  /** The zone's label at that instant (KST, EDT, UTC+5:30). */
  label(iso: string): string;
}

/** A clock for an IANA zone; BAD_INPUT for a zone Intl does not know. */
export function zoneClock(zone: string): ZoneClock {
  let parts: Intl.DateTimeFormat;
  let naming: Intl.DateTimeFormat;
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    naming = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'short' });
  } catch (error) {
    throw new NodeWardenError(
      'BAD_INPUT',
      `time zone "${zone}" is not an IANA zone this runtime knows`,
      { hint: 'use a name like Asia/Seoul or UTC', cause: error },
    );
  }
  const fields = (iso: string): Record<string, string> => {
    const t = Date.parse(iso);
    if (!Number.isFinite(t)) {
      throw badInput(
        `"${iso}" is not an ISO-8601 time`,
        'times in incidents and evidence are ISO-8601 UTC',
      );
    }
    const out: Record<string, string> = {};
    for (const p of parts.formatToParts(new Date(t))) out[p.type] = p.value;
    return out;
  };
  const label = (iso: string): string => {
    const fixed = ZONE_LABELS[zone];
    if (fixed !== undefined) return fixed;
    const name =
      naming.formatToParts(new Date(Date.parse(iso))).find((p) => p.type === 'timeZoneName')
        ?.value ?? '';
    if (name === 'GMT' || name === 'UTC') return 'UTC';
    return name.startsWith('GMT') ? `UTC${name.slice(3)}` : name;
  };
  const date = (iso: string): string => {
    const f = fields(iso);
    return `${f.year}-${f.month}-${f.day}`;
  };
  const time = (iso: string): string => {
    const f = fields(iso);
    return f.second === '00' ? `${f.hour}:${f.minute}` : `${f.hour}:${f.minute}:${f.second}`;
  };
  return {
    zone,
    date,
    time,
    label,
    dateTime: (iso) => `${date(iso)} ${time(iso)} ${label(iso)}`,
    clock: (iso) => `${time(iso)} ${label(iso)}`,
    clockSeconds: (iso) => {
      const f = fields(iso);
      return `${f.hour}:${f.minute}:${f.second} ${label(iso)}`;
    },
  };
}

/** Whole seconds in words: `4 min`, `6 h 48 min`, `12 s` / `4분`, `6시간 48분`, `12초`. */
export function formatDuration(seconds: number, lang: Lang): string {
  const total = Math.max(0, Math.round(seconds));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3_600);
  const m = Math.floor((total % 3_600) / 60);
  const s = total % 60;
  const unit =
    lang === 'en'
      ? { d: ' d', h: ' h', m: ' min', s: ' s' }
      : { d: '일', h: '시간', m: '분', s: '초' };
  const parts: string[] = [];
  if (d > 0) parts.push(`${d}${unit.d}`);
  if (h > 0) parts.push(`${h}${unit.h}`);
  // Seconds only matter below an hour; minutes only below a day.
  if (m > 0 && d === 0) parts.push(`${m}${unit.m}`);
  if (s > 0 && d === 0 && h === 0) parts.push(`${s}${unit.s}`);
  return parts.length === 0 ? `0${unit.s}` : parts.join(' ');
}

/** Collector and probe durations: `0.8 s`, `3.1 s`, `12 s` (ko: `0.8초`). */
export function formatMs(ms: number, lang: Lang): string {
  const s = ms / 1000;
  const text = s < 10 ? (Math.round(s * 10) / 10).toFixed(1) : String(Math.round(s));
  return lang === 'en' ? `${text} s` : `${text}초`;
}

/** A span between two instants: tenths of a second under a minute (`0.9 s`), words above (`6 min 31 s`). */
export function formatSpan(ms: number, lang: Lang): string {
  const abs = Math.abs(ms);
  return abs < 60_000 ? formatMs(abs, lang) : formatDuration(abs / 1000, lang);
}

/** A percentage as the seed prints it: one decimal, none when whole (`14%`, `88.9%`). */
export function formatPct(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  return `${Number.isInteger(rounded) ? rounded.toFixed(0) : rounded.toFixed(1)}%`;
}
