/**
 * Follows the kernel log — `/dev/kmsg` on a node, or a file that something
 * appends to (the lab, a saved console log) — and yields the lines that
 * match a signature, with wall-clock times. Memory stays bounded whatever
 * the kernel prints: one read buffer, one partial line of at most
 * `maxLineBytes`, nothing kept between lines.
 *
 * `/dev/kmsg` is opened non-blocking and polled: a blocking read would pin a
 * libuv thread-pool thread for as long as the kernel is quiet. Each read
 * returns one record; EPIPE means the ring buffer overwrote records before we
 * read them, and sequence-number jumps say how many — both are reported as
 * `gap` events, never hidden.
 */
import { constants } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { systemClock, type Clock } from '../core/clock.ts';
import { describeError, NodeWardenError } from '../core/errors.ts';
import { parseKernelLogLine, type KernelLogLine } from './kmsg-line.ts';
import { matchSignature, type SignatureMatch } from './kmsg-signatures.ts';

export type KernelLogSource =
  | { readonly kind: 'kmsg'; readonly path?: string }
  | { readonly kind: 'file'; readonly path: string };

export type KernelLogEvent =
  | {
      readonly kind: 'line';
      readonly line: KernelLogLine;
      readonly match: SignatureMatch | null;
      /** When the kernel logged it, ISO-8601; null when the line's form carries no usable time. */
      readonly at: string | null;
    }
  | {
      readonly kind: 'gap';
      /** Records lost, when the sequence numbers tell; null when unknown. */
      readonly missed: number | null;
      readonly reason: string;
    };

export interface FollowOptions {
  /** Also yield what was logged before we started (kmsg: the whole ring buffer; file: its content). Default false. */
  readonly fromStart?: boolean;
  /** How long to wait when nothing new has arrived. Default 250 ms. */
  readonly pollMs?: number;
  /** Yield only lines that match a signature (gaps always). Default true. */
  readonly onlyMatches?: boolean;
  /** Longer lines are cut to this many characters. Default 16,384. */
  readonly maxLineBytes?: number;
  /** Epoch ms of boot, to turn monotonic timestamps into wall time. Default: now − /proc/uptime. */
  readonly bootTimeMs?: number;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
}

/**
 * Epoch milliseconds of boot: now minus /proc/uptime. kmsg stamps records
 * with the kernel's local clock, which stops during suspend while uptime
 * does not; on servers and VMs that never suspend the two agree.
 */
export async function readBootTimeMs(clock: Clock = systemClock): Promise<number> {
  const text = await readFile('/proc/uptime', 'utf8');
  const uptime = Number(text.split(' ')[0]);
  if (!Number.isFinite(uptime)) {
    throw new NodeWardenError('UNSUPPORTED', `/proc/uptime reads "${text.trim()}", not a number`, {
      hint: 'run on Linux with /proc mounted',
    });
  }
  return clock.now() - uptime * 1_000;
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function openError(path: string, error: unknown): NodeWardenError {
  const code = errnoOf(error);
  if (code === 'ENOENT') {
    return new NodeWardenError('NOT_FOUND', `kernel log ${path} does not exist`, {
      hint: 'pass the path of /dev/kmsg or of a log file that exists',
      cause: error,
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new NodeWardenError('NEEDS_ROOT', `cannot read kernel log ${path}: ${code}`, {
      hint: 'run the agent as root or with CAP_SYSLOG (kernel.dmesg_restrict=1 hides /dev/kmsg)',
      cause: error,
    });
  }
  return new NodeWardenError(
    'UNAVAILABLE',
    `cannot read kernel log ${path}: ${describeError(error)}`,
    {
      cause: error,
    },
  );
}

/** Sleeps, and says whether to go on (false once aborted). */
async function pause(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await clock.sleep(ms, signal);
    return true;
  } catch (error) {
    if (signal?.aborted) return false;
    throw error;
  }
}

interface Resolved {
  readonly pollMs: number;
  readonly onlyMatches: boolean;
  readonly maxLineBytes: number;
  readonly bootTimeMs: number | null;
  readonly clock: Clock;
  readonly signal: AbortSignal | undefined;
}

function lineEvent(line: KernelLogLine, o: Resolved): KernelLogEvent | null {
  const match = matchSignature(line.text);
  if (o.onlyMatches && match === null) return null;
  let at: string | null = null;
  if (line.wallMs !== null) at = new Date(line.wallMs).toISOString();
  else if (line.monotonicUs !== null && o.bootTimeMs !== null) {
    at = new Date(o.bootTimeMs + line.monotonicUs / 1_000).toISOString();
  }
  return { kind: 'line', line, match, at };
}

/** Yields matches (and gaps) from a kernel log until `signal` aborts. */
export async function* followKernelLog(
  source: KernelLogSource,
  options: FollowOptions = {},
): AsyncGenerator<KernelLogEvent, void, undefined> {
  const clock = options.clock ?? systemClock;
  const resolved: Resolved = {
    pollMs: options.pollMs ?? 250,
    onlyMatches: options.onlyMatches ?? true,
    maxLineBytes: options.maxLineBytes ?? 16_384,
    bootTimeMs: options.bootTimeMs ?? (await readBootTimeMs(clock).catch(() => null)),
    clock,
    signal: options.signal,
  };
  if (source.kind === 'kmsg') {
    yield* followKmsg(source.path ?? '/dev/kmsg', options.fromStart ?? false, resolved);
  } else {
    yield* followFile(source.path, options.fromStart ?? false, resolved);
  }
}

/** A kmsg record is at most 8 KiB of text plus its dictionary; 16 KiB never gets EINVAL. */
const KMSG_RECORD_BYTES = 16_384;

async function* followKmsg(
  path: string,
  fromStart: boolean,
  o: Resolved,
): AsyncGenerator<KernelLogEvent, void, undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw openError(path, error);
  }
  // Records logged before this instant are the backlog: skipped unless fromStart.
  const startUs = fromStart || o.bootTimeMs === null ? -1 : (o.clock.now() - o.bootTimeMs) * 1_000;
  const buffer = Buffer.alloc(KMSG_RECORD_BYTES);
  let lastSeq: number | null = null;
  try {
    while (!o.signal?.aborted) {
      let bytes: number;
      try {
        ({ bytesRead: bytes } = await handle.read(buffer, 0, buffer.length, null));
      } catch (error) {
        const code = errnoOf(error);
        if (code === 'EAGAIN') {
          if (!(await pause(o.clock, o.pollMs, o.signal))) return;
          continue;
        }
        if (code === 'EPIPE') {
          lastSeq = null;
          yield {
            kind: 'gap',
            missed: null,
            reason: 'the kernel overwrote records before they were read',
          };
          continue;
        }
        throw openError(path, error);
      }
      if (bytes === 0) {
        if (!(await pause(o.clock, o.pollMs, o.signal))) return;
        continue;
      }
      const record = buffer.toString('utf8', 0, Math.min(bytes, o.maxLineBytes));
      const newline = record.indexOf('\n');
      const line = parseKernelLogLine(newline < 0 ? record : record.slice(0, newline));
      if (line === null) continue;
      if (line.seq !== null) {
        if (lastSeq !== null && line.seq > lastSeq + 1) {
          yield {
            kind: 'gap',
            missed: line.seq - lastSeq - 1,
            reason: 'kmsg sequence numbers skipped: records were overwritten',
          };
        }
        lastSeq = line.seq;
      }
      if (line.monotonicUs !== null && line.monotonicUs < startUs) continue;
      const event = lineEvent(line, o);
      if (event) yield event;
    }
  } finally {
    await handle.close();
  }
}

/** Bytes read from a followed file per read call. */
const FILE_CHUNK_BYTES = 65_536;

async function* followFile(
  path: string,
  fromStart: boolean,
  o: Resolved,
): AsyncGenerator<KernelLogEvent, void, undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw openError(path, error);
  }
  const buffer = Buffer.alloc(FILE_CHUNK_BYTES);
  let decoder = new StringDecoder('utf8');
  let partial = '';
  /** Inside an over-long line whose head was already yielded. */
  let skipping = false;
  let inode = 0;
  let offset = 0;
  try {
    const first = await handle.stat();
    inode = first.ino;
    offset = fromStart ? 0 : first.size;
    while (!o.signal?.aborted) {
      const st = await handle.stat();
      if (st.size < offset) {
        offset = 0;
        partial = '';
        skipping = false;
        decoder = new StringDecoder('utf8');
        yield {
          kind: 'gap',
          missed: null,
          reason: `${path} was truncated; reading it again from the start`,
        };
      }
      if (st.size > offset) {
        const { bytesRead } = await handle.read(
          buffer,
          0,
          Math.min(buffer.length, st.size - offset),
          offset,
        );
        offset += bytesRead;
        let text = decoder.write(buffer.subarray(0, bytesRead));
        if (skipping) {
          const newline = text.indexOf('\n');
          if (newline < 0) continue;
          text = text.slice(newline + 1);
          skipping = false;
        }
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        if (partial.length > o.maxLineBytes) {
          // A line this long is not a kernel message; keep its head, drop the rest up to its end.
          lines.push(partial.slice(0, o.maxLineBytes));
          partial = '';
          skipping = true;
        }
        for (const raw of lines) {
          const line = parseKernelLogLine(
            raw.length > o.maxLineBytes ? raw.slice(0, o.maxLineBytes) : raw,
          );
          if (line === null) continue;
          const event = lineEvent(line, o);
          if (event) yield event;
        }
        continue;
      }
      // Caught up. A log rotated away (same path, new file) is followed from its start.
      const current = await stat(path).catch(() => null);
      if (current !== null && current.ino !== inode) {
        await handle.close();
        handle = await open(path, 'r');
        inode = (await handle.stat()).ino;
        offset = 0;
        partial = '';
        skipping = false;
        decoder = new StringDecoder('utf8');
        yield { kind: 'gap', missed: null, reason: `${path} was replaced; following the new file` };
        continue;
      }
      if (!(await pause(o.clock, o.pollMs, o.signal))) return;
    }
  } finally {
    await handle.close();
  }
}
