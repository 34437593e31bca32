/**
 * One kernel-log line in whatever form it reached us, split into its prefix
 * (time, level, sequence) and the message the kernel printed. Pure.
 *
 * Forms read:
 * - `/dev/kmsg` records: `6,1234,5678901,-;text` (priority, sequence,
 *   microseconds since boot, flags[,caller]; then the message). The record's
 *   dictionary continuation lines (` SUBSYSTEM=pci`) carry no message: null.
 * - `dmesg`: `[ 1234.567890] text`, with `<3>` before it under `dmesg -r`,
 *   and a caller id (`[ T1946]`, `[    C3]`) after it on newer kernels.
 * - `dmesg -T`: `[Sun Jun 29 15:57:11 2025] text` (local time, as printed).
 * - syslog / journal: `Nov 24 01:48:27 host kernel: text`, the ISO form of
 *   `journalctl -o short-iso`, and a bare `kernel: text`.
 * - anything else (a cloud console log, a pasted line) is the message itself.
 */

export type KernelLogFormat = 'kmsg' | 'dmesg' | 'dmesg-ctime' | 'syslog' | 'journal-iso' | 'plain';

export interface KernelLogLine {
  readonly format: KernelLogFormat;
  /** The message with every prefix removed. */
  readonly text: string;
  /** Microseconds since boot (kmsg's third field, dmesg's `[s.µs]`); null when the form has none. */
  readonly monotonicUs: number | null;
  /** Syslog level 0 (emerg) … 7 (debug); null when the form does not carry it. */
  readonly level: number | null;
  /** Syslog facility (0 = kernel); null when absent. */
  readonly facility: number | null;
  /** kmsg sequence number: a jump means records were overwritten before we read them. */
  readonly seq: number | null;
  /** The wall-clock time as the line printed it (`dmesg -T`, syslog), verbatim; null otherwise. */
  readonly printedTime: string | null;
  /** Epoch milliseconds when the line carries an absolute time with a zone (ISO journal form). */
  readonly wallMs: number | null;
  readonly host: string | null;
}

const KMSG = /^(\d{1,3}),(\d+),(\d+),[^;]*;(.*)$/s;
const CONTINUATION = /^ [A-Z][A-Z0-9_]*=/;
const LEVEL_PREFIX = /^<(\d{1,3})>/;
const SYSLOG = /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) kernel: ?(.*)$/s;
const JOURNAL_ISO =
  /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)) (\S+) kernel: ?(.*)$/s;
const BARE_KERNEL = /^kernel: (.*)$/s;
const DMESG = /^\[\s*(\d+)\.(\d{1,9})\] ?(.*)$/s;
const CALLER = /^\[\s*[TC]\d+\] ?(.*)$/s;
const DMESG_CTIME =
  /^\[((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d \d{4})\] ?(.*)$/s;

/** `[ 1234.5678]` → microseconds; the fraction is scaled, not read as µs. */
function secondsToUs(whole: string, fraction: string): number {
  const frac = (fraction + '000000').slice(0, 6);
  return Number(whole) * 1_000_000 + Number(frac);
}

/**
 * Splits one line into prefix and message. Returns null for empty lines and
 * kmsg dictionary continuations; every other line is a message, even one in
 * no known form (`plain`).
 */
export function parseKernelLogLine(raw: string): KernelLogLine | null {
  let rest = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (rest.trim() === '' || CONTINUATION.test(rest)) return null;

  const kmsg = KMSG.exec(rest);
  if (kmsg) {
    const pri = Number(kmsg[1]);
    return {
      format: 'kmsg',
      text: kmsg[4]!,
      monotonicUs: Number(kmsg[3]),
      level: pri & 7,
      facility: pri >> 3,
      seq: Number(kmsg[2]),
      printedTime: null,
      wallMs: null,
      host: null,
    };
  }

  let format: KernelLogFormat = 'plain';
  let level: number | null = null;
  let facility: number | null = null;
  let printedTime: string | null = null;
  let wallMs: number | null = null;
  let host: string | null = null;
  let monotonicUs: number | null = null;

  const pri = LEVEL_PREFIX.exec(rest);
  if (pri) {
    level = Number(pri[1]) & 7;
    facility = Number(pri[1]) >> 3;
    rest = rest.slice(pri[0].length);
  }
  const syslog = SYSLOG.exec(rest);
  const iso = syslog ? null : JOURNAL_ISO.exec(rest);
  if (syslog) {
    format = 'syslog';
    printedTime = syslog[1]!;
    host = syslog[2]!;
    rest = syslog[3]!;
  } else if (iso) {
    format = 'journal-iso';
    printedTime = iso[1]!;
    const parsed = Date.parse(iso[1]!.replace(',', '.'));
    wallMs = Number.isNaN(parsed) ? null : parsed;
    host = iso[2]!;
    rest = iso[3]!;
  } else {
    const bare = BARE_KERNEL.exec(rest);
    if (bare) rest = bare[1]!;
  }

  const dmesg = DMESG.exec(rest);
  if (dmesg) {
    if (format === 'plain') format = 'dmesg';
    monotonicUs = secondsToUs(dmesg[1]!, dmesg[2]!);
    rest = dmesg[3]!;
  } else {
    const ctime = DMESG_CTIME.exec(rest);
    if (ctime) {
      if (format === 'plain') format = 'dmesg-ctime';
      printedTime ??= ctime[1]!;
      rest = ctime[2]!;
    }
  }
  const caller = CALLER.exec(rest);
  if (caller) rest = caller[1]!;

  return { format, text: rest, monotonicUs, level, facility, seq: null, printedTime, wallMs, host };
}
