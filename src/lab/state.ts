import type { ControlPlaneState } from './control-plane.ts';
import { createHash, randomBytes } from 'node:crypto';
import { link, open, mkdir, readFile, rename, rm, rmdir, readdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { NodeWardenError, describeError } from '../core/errors.ts';
import type { ActiveFault } from './faults.ts';
import type { PrometheusRecord } from './lab-prometheus.ts';
import type { LabPlan, PlannedNode } from './topology.ts';
import { initialVm, type LabVm } from './vm.ts';

/**
 * The lab's record of itself: one JSON file in the lab directory, replaced
 * atomically (write a temporary file, then rename) so a crash never leaves
 * half a file. `lab down` does not trust it alone: it also sweeps `nw-`
 * namespaces and pid files, because a crashed `lab up` may not have written
 * everything it made.
 */

export const DEFAULT_LAB_DIR = '/var/lib/nodewarden/lab';
export const STATE_VERSION = 1;

export interface KubeletRecord {
  readonly port: number;
  /** Null while stopped (kubelet-stop) or before it was started. */
  readonly pid: number | null;
  readonly pidFile: string;
  readonly logFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** How the stand-in reaches the lab's API server as `system:node:<name>`; absent without a control plane. */
  readonly kube?: KubeletKubeAccess;
}

export interface KubeletKubeAccess {
  readonly server: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** The node's GPU simulator (DCGM-exporter format on :9400), on GPU/MIG nodes. */
export interface GpuSimRecord {
  /** A `GPU_SIM_PRESETS` name: `seed-mig` for the seed's MIG node. */
  readonly preset: string;
  readonly port: number;
  readonly pid: number | null;
  readonly pidFile: string;
  readonly logFile: string;
  /** What `lab gpu` writes and the simulator follows (`src/gpu/gpu-control.ts`). */
  readonly controlFile: string;
}

export interface LabNodeState extends PlannedNode {
  readonly kubelet: KubeletRecord;
  readonly faults: readonly ActiveFault[];
  /** Absent on nodes without GPUs. */
  readonly gpu?: GpuSimRecord;
  /** The node as a cloud VM (power, reboot, console, actions); absent until first changed. */
  readonly vm?: LabVm;
  /** The lab OpenStack's Nova server behind the node (`lab up --openstack`); its Node's providerID names it. */
  readonly novaServer?: NovaServerRecord;
}

/** A Nova server made for a lab node, booted on a port made first (so an interface detach keeps it). */
export interface NovaServerRecord {
  readonly serverId: string;
  readonly portId: string;
}

/** The lab OpenStack a lab was brought up with (`lab up --openstack`). */
export interface LabOpenStackRecord {
  /** The lab OpenStack's directory (its state, openrc files). */
  readonly dir: string;
  /** `lab hypervisor`, which applies Nova's actions to the nodes. */
  readonly hypervisorPidFile: string;
  readonly hypervisorLogFile: string;
  /** How long a node restarted through Nova stays down before it boots. */
  readonly bootDelayMs: number;
}

/** The node's VM record; a node nobody powered off or rebooted is running since the lab was made. */
export function vmOf(state: Pick<LabState, 'createdAt'>, node: LabNodeState): LabVm {
  return node.vm ?? initialVm(state.createdAt);
}

export interface LabState {
  readonly version: typeof STATE_VERSION;
  /** `building` until every node's stand-in answered; a crash leaves it there. */
  readonly phase: 'building' | 'up';
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly dir: string;
  readonly subnet: LabPlan['subnet'];
  readonly prefixLength: number;
  readonly gateway: string;
  readonly hub: LabPlan['hub'];
  readonly caCert: string;
  /** The bearer token the stand-ins accept (mode 0600). */
  readonly tokenFile: string;
  readonly nodes: readonly LabNodeState[];
  /** The Kubernetes control plane in the hub namespace; absent for a network-only lab. */
  readonly controlPlane?: ControlPlaneState;
  /** Prometheus in the hub scraping the GPU simulators and agents; absent with lab up --no-prometheus. */
  readonly prometheus?: PrometheusRecord;
  /** Present when the nodes are backed by the lab OpenStack's Nova servers. */
  readonly openstack?: LabOpenStackRecord;
}

export interface LabPaths {
  readonly dir: string;
  readonly state: string;
  readonly token: string;
  readonly pki: string;
  readonly logs: string;
  readonly run: string;
  readonly lock: string;
  /** GPU simulator control files, one per GPU node. */
  readonly gpu: string;
}

/** The lab directory: `NODEWARDEN_LAB_DIR` when set (made absolute), else /var/lib/nodewarden/lab. */
export function labDirFrom(env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env['NODEWARDEN_LAB_DIR'];
  if (fromEnv === undefined || fromEnv === '') return DEFAULT_LAB_DIR;
  return isAbsolute(fromEnv) ? fromEnv : resolve(fromEnv);
}

export function labPaths(dir: string): LabPaths {
  return {
    dir,
    state: join(dir, 'state.json'),
    token: join(dir, 'token'),
    pki: join(dir, 'pki'),
    logs: join(dir, 'logs'),
    run: join(dir, 'run'),
    lock: join(dir, 'lock'),
    gpu: join(dir, 'gpu'),
  };
}

function looksLikeState(value: unknown): value is LabState {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Record<keyof LabState, unknown>>;
  return v.version === STATE_VERSION && Array.isArray(v.nodes) && typeof v.subnet === 'string';
}

/** The lab's state, or null when no lab was made in `dir`. */
export async function readState(dir: string): Promise<LabState | null> {
  const path = labPaths(dir).state;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new NodeWardenError('UNAVAILABLE', `cannot read lab state ${path}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new NodeWardenError(
      'CONFLICT',
      `lab state ${path} is not valid JSON: ${describeError(error)}`,
      {
        hint: 'run nodewarden lab down to remove the broken lab, then lab up',
        cause: error,
      },
    );
  }
  if (!looksLikeState(parsed)) {
    throw new NodeWardenError(
      'CONFLICT',
      `lab state ${path} is not a version ${STATE_VERSION} lab state`,
      {
        hint: 'run nodewarden lab down to remove the old lab, then lab up',
      },
    );
  }
  return parsed;
}

/**
 * The lab's state; NOT_FOUND naming the directory and its state file when no
 * lab was made there (every command that needs a running lab, and the
 * hypervisor, ask through this).
 */
export async function requireState(dir: string): Promise<LabState> {
  const state = await readState(dir);
  if (state === null) {
    throw new NodeWardenError('NOT_FOUND', `no lab in ${dir} (no ${labPaths(dir).state})`, {
      hint: 'start one with sudo nodewarden lab up (--openstack for Nova-backed nodes), or set NODEWARDEN_LAB_DIR to the directory of the lab you started',
    });
  }
  return state;
}

/** Replaces the state file atomically: readers see the old file or the new one, never a mix. */
export async function writeState(state: LabState): Promise<void> {
  const paths = labPaths(state.dir);
  await mkdir(paths.dir, { recursive: true, mode: 0o755 });
  const temporary = `${paths.state}.${process.pid}.tmp`;
  const file = await open(temporary, 'w', 0o644);
  try {
    await file.writeFile(JSON.stringify(state, null, 2) + '\n', 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, paths.state);
}

/** A copy of the state with one node replaced and `updatedAt` moved on. */
export function withNode(state: LabState, node: LabNodeState, now: Date): LabState {
  return {
    ...state,
    updatedAt: now.toISOString(),
    nodes: state.nodes.map((n) => (n.name === node.name ? node : n)),
  };
}

function pidIsRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lab lock's contents for this acquisition: the pid, then a token no other acquisition has. */
function lockContent(): string {
  return `${process.pid} ${randomBytes(8).toString('hex')}\n`;
}

/** The holder's pid as a lock file names it (older builds wrote the pid alone); NaN when unreadable. */
function lockHolder(content: string): number {
  return Number(content.trim().split(/\s+/)[0]);
}

const isErrno = (error: unknown, code: string): boolean =>
  (error as NodeJS.ErrnoException | null)?.code === code;

/** Writes `content` to a fresh temporary file beside `path`, synced, and returns its name. */
async function lockCandidate(path: string, content: string): Promise<string> {
  const temporary = `${path}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`;
  const file = await open(temporary, 'wx', 0o644);
  try {
    await file.writeFile(content, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  return temporary;
}

/**
 * Creates the lock at `path` as a hard link of `candidate` (a complete,
 * synced file from lockCandidate) if there is none, so a reader never sees an
 * empty lock and takes it for a dead one. The candidate stays for the next
 * try; the caller removes it.
 */
async function placeLock(path: string, candidate: string): Promise<boolean> {
  try {
    await link(candidate, path);
    return true;
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    throw error;
  }
}

/** The name under which a takeover of the lock that said `stale` is claimed. */
export function takeoverClaim(path: string, stale: string): string {
  return `${path}.takeover-${createHash('sha256').update(stale).digest('hex').slice(0, 16)}`;
}

/**
 * Replaces the lock at `path` with one holding `content`, if and only if it
 * is still the lock that said `stale` (whose holder the caller saw dead).
 * Atomic against other takeovers: exactly one of any number of callers that
 * inspected the same stale lock wins, and none ever replaces a newer lock.
 *
 * How: the stale file is hard-linked to a claim name derived from what it
 * said — link fails for everyone but the first — and the claim is checked to
 * still say `stale` (the lock may have been replaced between the read and the
 * link; the token in every lock makes that check exact). Only the claimant
 * renames its new lock over the stale one, then drops the claim. A claimant
 * that dies between link and rename leaves the claim: the stale lock then
 * stays until someone removes both files (withLabLock's CONFLICT names them).
 */
export async function takeOverStaleLock(
  path: string,
  stale: string,
  content: string,
): Promise<boolean> {
  const claim = takeoverClaim(path, stale);
  try {
    await link(path, claim);
  } catch (error) {
    // EEXIST: another process is taking this lock over; ENOENT: it was released.
    if (isErrno(error, 'EEXIST') || isErrno(error, 'ENOENT')) return false;
    throw error;
  }
  try {
    if ((await readFile(claim, 'utf8')) !== stale) return false;
    const temporary = await lockCandidate(path, content);
    try {
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return true;
  } finally {
    await rm(claim, { force: true });
  }
}

/**
 * Runs `fn` holding the lab lock, so two lab commands never read-modify-write
 * the state at once. A lock left by a process that died is taken over
 * atomically (takeOverStaleLock); a live holder is waited for up to `waitMs`,
 * then CONFLICT names its pid.
 */
export async function withLabLock<T>(
  dir: string,
  fn: () => Promise<T>,
  waitMs = 30_000,
): Promise<T> {
  const path = labPaths(dir).lock;
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const mine = lockContent();
  const deadline = Date.now() + waitMs;
  // One candidate file for every try: waiting polls link it, not rewrite it.
  const candidate = await lockCandidate(path, mine);
  try {
    for (;;) {
      if (await placeLock(path, candidate)) break;
      const seen = await readFile(path, 'utf8').catch((error: unknown) => {
        if (isErrno(error, 'ENOENT')) return null;
        throw error;
      });
      if (seen === null) continue; // released between our link and our read
      const holder = lockHolder(seen);
      const dead = !Number.isInteger(holder) || holder <= 0 || !pidIsRunning(holder);
      if (dead && (await takeOverStaleLock(path, seen, mine))) break;
      if (Date.now() > deadline) {
        throw dead
          ? new NodeWardenError(
              'CONFLICT',
              `the lab lock ${path} was left by pid ${holder}, which is gone, and another command's takeover of it did not finish`,
              {
                hint: `if no lab command is running, remove ${path} and ${takeoverClaim(path, seen)}`,
              },
            )
          : new NodeWardenError('CONFLICT', `another lab command (pid ${holder}) holds ${path}`, {
              hint: 'wait for it to finish; lab commands run one at a time',
            });
      }
      await new Promise((r) => setTimeout(r, dead ? 10 : 100));
    }
  } finally {
    await rm(candidate, { force: true });
  }
  try {
    return await fn();
  } finally {
    // Ours unless lab down removed the directory with it (removeLabFiles).
    const now = await readFile(path, 'utf8').catch(() => null);
    if (now === mine) await rm(path, { force: true });
  }
}

/**
 * Removes what the lab wrote in `dir` (state, token, certificates, logs, pid
 * files) and the directory itself when nothing else is in it. Only these
 * names: the directory may be one the user chose and share with other files.
 */
export async function removeLabFiles(dir: string): Promise<void> {
  const paths = labPaths(dir);
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (entries === null) return;
  for (const temporary of entries.filter((e) => /^state\.json\.\d+\.tmp$/.test(e))) {
    await rm(join(dir, temporary), { force: true });
  }
  for (const path of [
    paths.state,
    paths.token,
    paths.pki,
    paths.logs,
    paths.run,
    paths.gpu,
    join(dir, 'prometheus'),
    // The control plane's data and kubeconfigs: a lab up in the same directory
    // starts from an empty cluster (a kept Node would keep its old providerID,
    // which Kubernetes never lets change).
    join(dir, 'etcd'),
    join(dir, 'kube'),
    join(dir, 'apiserver.sock'),
  ]) {
    await rm(path, { recursive: true, force: true });
  }
  const rest = (await readdir(dir)).filter((e) => e !== 'lock');
  if (rest.length > 0) return;
  // Only our own lock is left: this is the last step of `lab down`, so the
  // lock goes with the directory (withLabLock's release tolerates that).
  await rm(paths.lock, { force: true });
  await rmdir(dir);
}
