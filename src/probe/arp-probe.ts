import { readFile } from 'node:fs/promises';
import { describeError, NodeWardenError } from '../core/errors.ts';
import type { LayerResult } from '../core/probe.ts';
import { runCommand, type CommandResult } from '../host/command.ts';
import { parseArping, type ArpingOutcome } from './arping-parse.ts';
import { CAP_NET_RAW, hasCapability, parseEffectiveCapabilities } from './capabilities-parse.ts';
import { parseNeighbour, parseRouteGet, type NeighbourEntry, type Route } from './ip-parse.ts';
import { sreCommands, wholeSeconds } from './sre-commands.ts';
import type { ValidTarget } from './target.ts';

/** `ip` answers from the kernel's tables at once; anything slower is a stuck host. */
const IP_TIMEOUT_MS = 2000;
/** arping stops itself at -w; the margin lets it print its summary before we kill it. */
const KILL_MARGIN_MS = 500;

type Layer2 = Omit<LayerResult, 'layer'>;

/**
 * L2: is the target alive on the link? Rules:
 * 1. `ip -j route get` decides whether L2 can be tested: a local/loopback
 *    target, one behind a gateway, or one without a route → skipped, saying why.
 * 2. On-link IPv4: active ARP with arping. A reply → ok; no reply → failed.
 *    The active reply is the truth: for ~30 s after a peer dies the kernel
 *    entry still reads REACHABLE/STALE/DELAY.
 * 3. The kernel's entry (`ip -j neigh show`) is read after `othersDone` —
 *    the L3/L4 attempts populate it — and reported beside the ARP result.
 * 4. When arping cannot run (no CAP_NET_RAW, not installed, IPv6, other
 *    error) the kernel entry decides: FAILED/INCOMPLETE → failed, else skipped.
 */
export async function probeArp(
  target: ValidTarget,
  othersDone: Promise<unknown>,
  signal?: AbortSignal,
): Promise<LayerResult> {
  const route = await lookupRoute(target.ip, signal);
  if (route.kind !== 'on-link') return { layer: 'L2', ...notOnLink(target.ip, route) };
  const dev = route.dev;
  if (target.family === 6) {
    await othersDone;
    const kernel = await readNeighbour(target.ip, dev, signal);
    return {
      layer: 'L2',
      ...kernelDecides(sreCommands.neighbour(target.ip, dev), kernel, 'arping is IPv4-only'),
    };
  }
  const command = sreCommands.arping(target.ip, dev, target.timeoutMs);
  const [arping] = await Promise.all([runArping(target, dev, signal), othersDone]);
  const kernel = await readNeighbour(target.ip, dev, signal);
  if (signal?.aborted) return { layer: 'L2', ...skipped(command, 'aborted') };
  switch (arping.kind) {
    case 'reply':
      return {
        layer: 'L2',
        ...withKernel(kernel, {
          command,
          status: 'ok',
          latencyMs: arping.rttMs,
          detail: `ARP reply from ${arping.mac} in ${arping.rttMs} ms (${kernelWords(kernel)})`,
        }),
      };
    case 'no-reply':
      return {
        layer: 'L2',
        ...withKernel(kernel, {
          command,
          status: 'failed',
          latencyMs: null,
          detail: `no ARP reply (${kernelWords(kernel)})`,
        }),
      };
    case 'needs-cap-net-raw':
      return { layer: 'L2', ...kernelDecides(command, kernel, 'needs CAP_NET_RAW') };
    case 'missing':
      return { layer: 'L2', ...kernelDecides(command, kernel, 'arping is not installed') };
    case 'error':
      return {
        layer: 'L2',
        ...kernelDecides(
          command,
          kernel,
          (await lacksCapNetRaw()) ? 'needs CAP_NET_RAW' : `arping failed: ${arping.message}`,
        ),
      };
  }
}

/** A target that is not on a link of ours cannot be tested by ARP; say why. */
function notOnLink(ip: string, route: Exclude<Route, { kind: 'on-link' }>): Layer2 {
  const command = sreCommands.routeGet(ip);
  switch (route.kind) {
    case 'local':
      return skipped(
        command,
        `${ip} is this host's own address (dev ${route.dev}): no link to test`,
      );
    case 'gateway':
      return skipped(
        command,
        `reached via gateway ${route.gateway} on ${route.dev}: ARP would only test the gateway`,
      );
    case 'no-route':
      return skipped(command, `no route to ${ip} (${route.message})`);
  }
}

async function lookupRoute(ip: string, signal?: AbortSignal): Promise<Route> {
  const run = await runIp(['-j', 'route', 'get', ip], signal);
  if (typeof run === 'string') return { kind: 'no-route', message: run };
  return parseRouteGet(run.stdout + run.stderr, run.code);
}

type KernelView = { readonly entry: NeighbourEntry | null } | { readonly unreadable: string };

async function readNeighbour(ip: string, dev: string, signal?: AbortSignal): Promise<KernelView> {
  const run = await runIp(['-j', 'neigh', 'show', ip, 'dev', dev], signal);
  if (typeof run === 'string') return { unreadable: run };
  if (run.code !== 0) return { unreadable: (run.stderr || run.stdout).trim() };
  try {
    return { entry: parseNeighbour(run.stdout) };
  } catch (error) {
    return { unreadable: describeError(error) };
  }
}

/** Runs `ip`; a string is why it could not (not installed, timed out). */
async function runIp(args: string[], signal?: AbortSignal): Promise<CommandResult | string> {
  try {
    const run = await runCommand('ip', args, {
      timeoutMs: IP_TIMEOUT_MS,
      ...(signal ? { signal } : {}),
    });
    return run.timedOut ? `ip ${args.join(' ')} timed out after ${IP_TIMEOUT_MS} ms` : run;
  } catch (error) {
    if (error instanceof NodeWardenError && error.code === 'MISSING_TOOL') {
      return 'ip (iproute2) is not installed';
    }
    throw error;
  }
}

type ArpingRun = ArpingOutcome | { readonly kind: 'missing' };

async function runArping(
  target: ValidTarget,
  dev: string,
  signal?: AbortSignal,
): Promise<ArpingRun> {
  const args = ['-c', '1', '-w', String(wholeSeconds(target.timeoutMs)), '-I', dev, target.ip];
  let run;
  try {
    run = await runCommand('arping', args, {
      timeoutMs: target.timeoutMs + KILL_MARGIN_MS,
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if (error instanceof NodeWardenError && error.code === 'MISSING_TOOL')
      return { kind: 'missing' };
    throw error;
  }
  // Killed at the deadline: it sent its request and nothing answered.
  if (run.timedOut) return { kind: 'no-reply' };
  return parseArping(run.stdout + run.stderr);
}

/** True when this process provably lacks CAP_NET_RAW (false when unknown). */
async function lacksCapNetRaw(): Promise<boolean> {
  try {
    const mask = parseEffectiveCapabilities(await readFile('/proc/self/status', 'utf8'));
    return mask !== null && !hasCapability(mask, CAP_NET_RAW);
  } catch {
    // No /proc (not Linux, or hidden): arping's own message is all we have.
    return false;
  }
}

/**
 * Without an active ARP answer the kernel entry is the only L2 evidence:
 * FAILED/INCOMPLETE (after our L3/L4 attempts asked for it) is a failure;
 * anything else may be stale, so the layer counts as untested.
 */
function kernelDecides(command: string, kernel: KernelView, why: string): Layer2 {
  const state = 'entry' in kernel ? kernel.entry?.state : undefined;
  if (state === 'FAILED' || state === 'INCOMPLETE') {
    return withKernel(kernel, {
      command,
      status: 'failed',
      latencyMs: null,
      detail: `${kernelWords(kernel)} (${why})`,
    });
  }
  return withKernel(kernel, {
    ...skipped(command, why),
    detail: `${why} (${kernelWords(kernel)})`,
  });
}

function kernelWords(kernel: KernelView): string {
  if ('unreadable' in kernel) return `kernel neighbour: unreadable, ${kernel.unreadable}`;
  return `kernel neighbour: ${kernel.entry?.state ?? 'no entry'}`;
}

function withKernel(kernel: KernelView, result: Layer2): Layer2 {
  const state = 'entry' in kernel ? kernel.entry?.state : undefined;
  return state === undefined ? result : { ...result, neighbourState: state };
}

function skipped(command: string, detail: string): Layer2 {
  return { command, status: 'skipped', latencyMs: null, detail };
}
