/**
 * What the lab's kubelet stand-in does for GPU work, since it runs no
 * containers: a pod that carries a stability plan
 * (`nodewarden.io/stability-plan`, written by `nodewarden stability-test`)
 * becomes a scripted ramp of the node's GPU simulator — the same control
 * file `lab gpu <node> ramp` writes — for as long as the pod lives; and the
 * `loss-above-gpu` fault's gate is opened and closed as the simulated GPU
 * memory crosses the fault's threshold.
 *
 * Both live in the stand-in because it is the one long-running process in
 * the node's namespace that sees the node's pods: no extra process for `lab
 * down` to find, and `lab heal` (which restarts the stand-in) restarts this.
 */
import { readFile } from 'node:fs/promises';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { LoadStep } from '../core/stability.ts';
import { runCommand } from '../host/command.ts';
import { readGpuControl, scriptedMaxPercent, scriptGpu } from './lab-gpu.ts';

/** The file the `loss-above-gpu` fault writes beside the node's GPU control file. */
export function lossGateFile(controlFile: string): string {
  return controlFile.replace(/\.json$/, '') + '.loss-above-gpu.json';
}

export interface LossGate {
  /** Packets dropped while open, percent. */
  readonly lossPercent: number;
  /** The gate opens at this simulated GPU memory use, percent (inclusive). */
  readonly gpuPercent: number;
}

/** nftables set the fault's drop rule matches on: empty = closed, {ip, arp} = open. */
export const LOSS_GATE_SET = 'gpu_gate';

export interface GpuWorkloadOptions {
  readonly controlFile: string;
  /** The simulator device the pod's load lands on (`0/7`: GPU 0 GI 7). */
  readonly device: string;
  readonly logger: Logger;
  /** How often the gate is checked. Default 250 ms. */
  readonly gateEveryMs?: number;
}

export interface GpuWorkload {
  /** A pod bound here started; `plan` is its stability-plan annotation (ignored when absent). */
  podStarted(uid: string, plan: string | undefined): void;
  /** The pod is being deleted or is gone: its load stops. */
  podGone(uid: string): void;
  stop(): void;
}

function parsePlan(text: string): LoadStep[] | null {
  try {
    const steps = (JSON.parse(text) as { steps?: unknown }).steps;
    if (!Array.isArray(steps)) return null;
    return steps.filter(
      (s): s is LoadStep =>
        typeof s === 'object' &&
        s !== null &&
        ['startMs', 'endMs', 'fromPercent', 'toPercent'].every(
          (k) => typeof (s as Record<string, unknown>)[k] === 'number',
        ),
    );
  } catch {
    return null;
  }
}

export function startGpuWorkload(o: GpuWorkloadOptions): GpuWorkload {
  const running = new Map<string, NodeJS.Timeout[]>();
  const gpu = { controlFile: o.controlFile };
  const script = (what: string, action: Parameters<typeof scriptGpu>[2]) => {
    scriptGpu(gpu, o.device, action, Date.now()).then(
      () => o.logger.log('info', 'gpu load scripted', { what, device: o.device }),
      (error: unknown) =>
        o.logger.log('warn', 'cannot script the GPU simulator', {
          what,
          error: describeError(error),
        }),
    );
  };

  let gateOpen: boolean | null = null;
  let lastAssert = 0;
  const setGate = async (open: boolean): Promise<void> => {
    const args = open
      ? ['add', 'element', 'netdev', 'nodewarden', LOSS_GATE_SET, '{ ip, arp }']
      : ['flush', 'set', 'netdev', 'nodewarden', LOSS_GATE_SET];
    const r = await runCommand('nft', args, { timeoutMs: 3_000 });
    if (r.code !== 0) throw new Error(`nft ${args.join(' ')}: ${r.stderr.trim()}`);
  };
  const checkGate = async (): Promise<void> => {
    const text = await readFile(lossGateFile(o.controlFile), 'utf8').catch(() => null);
    if (text === null) {
      gateOpen = null;
      return;
    }
    const gate = JSON.parse(text) as LossGate;
    const percent = scriptedMaxPercent(await readGpuControl(gpu), Date.now());
    const open = percent >= gate.gpuPercent;
    const now = Date.now();
    // Re-assert an open gate every 2 s: another fault's `nft -f` rebuilds the table and empties the set.
    if (open !== gateOpen || (open && now - lastAssert > 2_000)) {
      await setGate(open);
      if (open !== gateOpen) {
        o.logger.log('info', open ? 'loss gate open' : 'loss gate closed', {
          gpuPercent: percent,
          threshold: gate.gpuPercent,
          loss: gate.lossPercent,
        });
      }
      gateOpen = open;
      lastAssert = now;
    }
  };
  let gateBusy = false;
  const gateTimer = setInterval(() => {
    if (gateBusy) return;
    gateBusy = true;
    checkGate()
      .catch((error: unknown) =>
        o.logger.log('warn', 'loss gate check failed', { error: describeError(error) }),
      )
      .finally(() => (gateBusy = false));
  }, o.gateEveryMs ?? 250);

  return {
    podStarted(uid, planText) {
      if (planText === undefined || running.has(uid)) return;
      const steps = parsePlan(planText);
      if (steps === null || steps.length === 0) {
        o.logger.log('warn', 'pod has an unreadable stability plan; no GPU load', { uid });
        return;
      }
      // One ramp per step, at the step's start: `lab gpu ramp <from> <to> --over <step length>`.
      const timers = steps.map((s) =>
        setTimeout(
          () =>
            script(`step ${s.startMs} ms`, {
              kind: 'ramp',
              from: s.fromPercent,
              to: s.toPercent,
              overMs: Math.max(0, s.endMs - s.startMs),
            }),
          s.startMs,
        ),
      );
      running.set(uid, timers);
    },
    podGone(uid) {
      const timers = running.get(uid);
      if (timers === undefined) return;
      for (const t of timers) clearTimeout(t);
      running.delete(uid);
      script('pod gone', { kind: 'set', percent: 0 });
    },
    stop() {
      clearInterval(gateTimer);
      for (const timers of running.values()) for (const t of timers) clearTimeout(t);
      running.clear();
    },
  };
}
