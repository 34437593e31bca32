/**
 * How the dashboard writes times, durations and percentages. Times are shown
 * in the cluster's zone (the seed's cluster ran in Asia/Seoul, and its
 * engineers read KST), not the browser's, so the page and the report agree.
 */

/** `3.2 s`, `4 min 5 s`, `3 h 24 min`; `—` when unknown. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, seconds);
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s).toString()} s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    const rest = Math.round(s - m * 60);
    return rest === 0 ? `${m} min` : `${m} min ${rest} s`;
  }
  const hours = Math.floor(s / 3600);
  const m = Math.round((s - hours * 3600) / 60);
  return m === 0 ? `${hours} h` : `${hours} h ${m} min`;
}

const zoneNames: Readonly<Record<string, string>> = { 'Asia/Seoul': 'KST', UTC: 'UTC' };

/** The short name printed after a time: KST for Asia/Seoul, else the IANA name. */
export function zoneLabel(timeZone: string): string {
  return zoneNames[timeZone] ?? timeZone;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function formatFor(timeZone: string, withDate: boolean): Intl.DateTimeFormat {
  const key = `${timeZone}|${withDate}`;
  let fmt = formats.get(key);
  if (fmt === undefined) {
    fmt = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      ...(withDate ? { year: 'numeric', month: '2-digit', day: '2-digit' } : {}),
    });
    formats.set(key, fmt);
  }
  return fmt;
}

/** `12:58:09` in the zone; `—` for null or an unparsable instant. */
export function clock(iso: string | null | undefined, timeZone: string): string {
  if (iso === null || iso === undefined) return '—';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '—';
  return formatFor(timeZone, false).format(ms);
}

/** `2025-08-25 12:58:09 KST`. */
export function dateTime(iso: string | null | undefined, timeZone: string): string {
  if (iso === null || iso === undefined) return '—';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '—';
  return `${formatFor(timeZone, true).format(ms).replace(',', '')} ${zoneLabel(timeZone)}`;
}

/** `45.5%`, one decimal below 100, none above. */
export function percent(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value >= 100 || Number.isInteger(value) ? `${Math.round(value)}%` : `${value.toFixed(1)}%`;
}

/** The last label of a long node name, the way the seed's engineers said "bkqzq". */
export function shortNode(name: string): string {
  const parts = name.split('-');
  return parts.length > 1 ? (parts[parts.length - 1] ?? name) : name;
}
