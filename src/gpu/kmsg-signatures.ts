/**
 * The kernel-log signature catalogue: the lines a node prints in its last
 * minute that say why it died (design §5). Pure — no I/O — so the agent's
 * reader, the controller (OpenStack console log) and the tests share it.
 *
 * Line forms follow the kernel and NVIDIA driver sources and real logs; see
 * docs/agent-signals.md and test/fixtures/kmsg/README.md for the sources.
 */
import { parseKernelLogLine, type KernelLogLine } from './kmsg-line.ts';

export type SignatureCategory = 'gpu' | 'network' | 'kernel' | 'oom' | 'storage';
export type SignatureSeverity = 'critical' | 'error' | 'warning' | 'info';
export type DetailValue = string | number | boolean | null;

export interface SignatureMatch {
  /** Stable id, e.g. `gpu.xid.79`, `oom.killed-process`. */
  readonly id: string;
  readonly category: SignatureCategory;
  readonly severity: SignatureSeverity;
  readonly title: string;
  /** Fields parsed out of the line; which ones depends on `id` (see the catalogue). */
  readonly detail: Readonly<Record<string, DetailValue>>;
  /**
   * Lines that report one event share a key, so a consumer can count events,
   * not lines: `Xid … 79` and `GPU … has fallen off the bus` for one GPU;
   * `oom-kill:…` and `Killed process …` for one pid.
   */
  readonly key: string;
  /**
   * The process killed or hung is on the node's network or node-agent path
   * (ovs-vswitchd, ovsdb-server, ovn-controller, kubelet, containerd): losing
   * it takes the node off the network or off the API server by itself.
   */
  readonly networkCritical: boolean;
}

/** One catalogue entry, for docs and for consumers that list what is watched. */
export interface SignatureInfo {
  readonly id: string;
  readonly category: SignatureCategory;
  /** The severity it reports; `gpu.xid.154` varies with the recovery action (its highest is shown). */
  readonly severity: SignatureSeverity;
  readonly title: string;
  /** Detail fields this signature fills. */
  readonly fields: readonly string[];
}

/** Processes whose death or hang cuts a Kube-OVN node off by itself. */
export const NETWORK_CRITICAL_PROCESSES: ReadonlySet<string> = new Set([
  'ovs-vswitchd',
  'ovsdb-server',
  'ovn-controller',
  'kubelet',
  'containerd',
]);

const XID_COMMON = ['pci', 'xid', 'pid', 'process', 'gpuInstance', 'computeInstance', 'message'];

export const SIGNATURE_CATALOGUE: readonly SignatureInfo[] = [
  {
    id: 'gpu.xid.79',
    category: 'gpu',
    severity: 'critical',
    title: 'GPU has fallen off the bus',
    fields: XID_COMMON,
  },
  {
    id: 'gpu.fallen-off-bus',
    category: 'gpu',
    severity: 'critical',
    title: 'GPU has fallen off the bus',
    fields: ['pci'],
  },
  {
    id: 'gpu.xid.119',
    category: 'gpu',
    severity: 'critical',
    title: 'GSP RPC timeout',
    fields: [...XID_COMMON, 'timeoutSeconds', 'rpcFunction'],
  },
  {
    id: 'gpu.xid.120',
    category: 'gpu',
    severity: 'critical',
    title: 'GSP error',
    fields: XID_COMMON,
  },
  {
    id: 'gpu.xid.154',
    category: 'gpu',
    severity: 'critical',
    title: 'GPU recovery action changed',
    fields: [...XID_COMMON, 'fromCode', 'fromAction', 'toCode', 'toAction', 'action'],
  },
  {
    id: 'gpu.xid.48',
    category: 'gpu',
    severity: 'critical',
    title: 'Uncorrectable double-bit ECC error (DBE)',
    fields: [...XID_COMMON, 'partition', 'subpartition', 'physAddr'],
  },
  {
    id: 'gpu.xid.94',
    category: 'gpu',
    severity: 'error',
    title: 'Contained ECC error',
    fields: [...XID_COMMON, 'contained', 'unit', 'resetRequired', 'drainAndResetRequired'],
  },
  {
    id: 'gpu.xid.95',
    category: 'gpu',
    severity: 'critical',
    title: 'Uncontained ECC error',
    fields: [...XID_COMMON, 'contained', 'unit', 'resetRequired', 'drainAndResetRequired'],
  },
  {
    id: 'gpu.xid.31',
    category: 'gpu',
    severity: 'warning',
    title: 'GPU memory page fault (MMU fault)',
    fields: [...XID_COMMON, 'channel', 'engine', 'client', 'faultType', 'accessType', 'address'],
  },
  {
    id: 'gpu.xid',
    category: 'gpu',
    severity: 'warning',
    title: 'NVIDIA Xid error',
    fields: XID_COMMON,
  },
  {
    id: 'kernel.soft-lockup',
    category: 'kernel',
    severity: 'error',
    title: 'CPU soft lockup',
    fields: ['cpu', 'seconds', 'task', 'pid'],
  },
  {
    id: 'kernel.hard-lockup',
    category: 'kernel',
    severity: 'critical',
    title: 'CPU hard lockup',
    fields: ['cpu'],
  },
  {
    id: 'kernel.rcu-stall',
    category: 'kernel',
    severity: 'error',
    title: 'RCU stall',
    fields: ['flavour'],
  },
  {
    id: 'kernel.hung-task',
    category: 'kernel',
    severity: 'error',
    title: 'Task blocked (hung task)',
    fields: ['task', 'pid', 'seconds'],
  },
  {
    id: 'kernel.oops',
    category: 'kernel',
    severity: 'error',
    title: 'Kernel oops',
    fields: ['what'],
  },
  {
    id: 'kernel.panic',
    category: 'kernel',
    severity: 'critical',
    title: 'Kernel panic',
    fields: ['reason'],
  },
  {
    id: 'oom.killed-process',
    category: 'oom',
    severity: 'critical',
    title: 'OOM killer killed a process',
    fields: ['process', 'pid', 'scope', 'totalVmKb', 'anonRssKb', 'fileRssKb'],
  },
  {
    id: 'oom.kill-summary',
    category: 'oom',
    severity: 'critical',
    title: 'OOM killer chose a victim',
    fields: ['process', 'pid', 'uid', 'constraint', 'memcg', 'scope'],
  },
  {
    id: 'network.netdev-watchdog',
    category: 'network',
    severity: 'error',
    title: 'NIC transmit queue timed out',
    fields: ['interface', 'driver', 'queue', 'timedOutMs', 'cpu'],
  },
  {
    id: 'network.tx-timeout',
    category: 'network',
    severity: 'error',
    title: 'virtio-net TX timeout',
    fields: ['interface', 'driver', 'queue', 'agoUs'],
  },
  {
    id: 'network.unregister-netdevice',
    category: 'network',
    severity: 'warning',
    title: 'Network device stuck unregistering',
    fields: ['interface', 'usageCount'],
  },
  {
    id: 'storage.io-error',
    category: 'storage',
    severity: 'error',
    title: 'Block I/O error',
    fields: ['device', 'block', 'sector'],
  },
  {
    id: 'storage.fs-error',
    category: 'storage',
    severity: 'error',
    title: 'Filesystem error',
    fields: ['filesystem', 'device', 'message'],
  },
  {
    id: 'storage.read-only',
    category: 'storage',
    severity: 'error',
    title: 'Filesystem remounted read-only',
    fields: ['filesystem', 'device'],
  },
];

const INFO = new Map(SIGNATURE_CATALOGUE.map((s) => [s.id, s]));

function make(
  id: string,
  detail: Record<string, DetailValue>,
  key: string,
  overrides: {
    severity?: SignatureSeverity;
    title?: string;
    networkCritical?: boolean;
  } = {},
): SignatureMatch {
  const info = INFO.get(id)!;
  return {
    id,
    category: info.category,
    severity: overrides.severity ?? info.severity,
    title: overrides.title ?? info.title,
    detail,
    key,
    networkCritical: overrides.networkCritical ?? false,
  };
}

const int = (text: string | undefined): number | null =>
  text === undefined || !/^\d+$/.test(text) ? null : Number(text);

/** `0000:3B:00.0` and `0000:3b:00` name the same GPU: domain:bus:device, lower case. */
function normalisePci(text: string): string {
  return text.toLowerCase().replace(/\.[0-7]$/, '');
}

// ---------------------------------------------------------------- NVIDIA Xid

/**
 * The driver prints (src/nvidia/src/kernel/gpu/rc/kernel_rc.c,
 * open-gpu-kernel-modules):
 *   NVRM: Xid (PCI:%04x:%02x:%02x): %d, pid=%s, name=%s, %s
 *   NVRM: Xid (PCI:%04x:%02x:%02x GPU-I:%02u): %d, …          (MIG, GPU instance)
 *   NVRM: Xid (PCI:%04x:%02x:%02x GPU-I:%02u GPU-CI:%02u): %d, … (and compute instance)
 * pid is `'<unknown>'` and name `<unknown>` when no channel is known; older
 * drivers print the message straight after the code (`79, GPU has fallen …`).
 */
const XID =
  /NVRM: Xid \((?:PCI:)?([0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}(?:\.[0-7])?)(?: GPU-I:(\d+))?(?: GPU-CI:(\d+))?\): (\d+)(?:,\s*(.*))?$/s;

/** NVML's nvmlDeviceGpuRecoveryAction_t, the codes Xid 154 prints. */
const RECOVERY_ACTIONS: Readonly<Record<number, string>> = {
  0: 'none',
  1: 'gpu-reset',
  2: 'node-reboot',
  3: 'drain-p2p',
  4: 'drain-and-reset',
};

function xidMatch(m: RegExpExecArray): SignatureMatch {
  const pci = normalisePci(m[1]!);
  const gpuInstance = int(m[2]);
  const computeInstance = int(m[3]);
  const xid = Number(m[4]);
  let rest = (m[5] ?? '').trim();
  let pid: number | null = null;
  let process: string | null = null;
  const pidPart = /^pid=([^,]*)(?:,\s*|$)/.exec(rest);
  if (pidPart) {
    pid = int(pidPart[1]);
    rest = rest.slice(pidPart[0].length);
    const namePart = /^name=(.*?)(?:,\s+|$)/s.exec(rest);
    if (namePart) {
      process = namePart[1] === '<unknown>' ? null : namePart[1]!;
      rest = rest.slice(namePart[0].length);
    }
  }
  const message = rest.trim();
  const detail: Record<string, DetailValue> = {
    pci,
    xid,
    pid,
    process,
    gpuInstance,
    computeInstance,
    message,
  };
  const key = `xid:${pci}:${gpuInstance ?? '-'}:${xid}`;

  switch (xid) {
    case 79:
      return make('gpu.xid.79', detail, `gpu-lost:${pci}`);
    case 119: {
      const timeout = /Timeout after (\d+)s/.exec(message);
      const fn = /Expected function (\d+ \([A-Z0-9_]+\))/.exec(message);
      detail.timeoutSeconds = timeout ? Number(timeout[1]) : null;
      detail.rpcFunction = fn ? fn[1]! : null;
      return make('gpu.xid.119', detail, key);
    }
    case 120:
      return make('gpu.xid.120', detail, key);
    case 154: {
      const change = /from 0x([0-9a-fA-F]+) \(([^)]*)\) to 0x([0-9a-fA-F]+) \(([^)]*)\)/.exec(
        message,
      );
      const toCode = change ? parseInt(change[3]!, 16) : null;
      detail.fromCode = change ? parseInt(change[1]!, 16) : null;
      detail.fromAction = change ? change[2]! : null;
      detail.toCode = toCode;
      detail.toAction = change ? change[4]! : null;
      const action = toCode === null ? 'unknown' : (RECOVERY_ACTIONS[toCode] ?? 'unknown');
      detail.action = action;
      // None means the driver withdrew a request; drain-p2p alone leaves the GPU usable.
      const severity: SignatureSeverity =
        action === 'none' ? 'info' : action === 'drain-p2p' ? 'warning' : 'critical';
      return make('gpu.xid.154', detail, key, { severity });
    }
    case 48: {
      const where = /partition (\d+), subpartition (\d+)/.exec(message);
      const phys = /physAddr (0x[0-9a-fA-F]+)/.exec(message);
      detail.partition = where ? Number(where[1]) : null;
      detail.subpartition = where ? Number(where[2]) : null;
      detail.physAddr = phys ? phys[1]! : null;
      return make('gpu.xid.48', detail, key);
    }
    case 94:
    case 95: {
      // "Contained: CE User Channel (0x9). RST: No, D-RST: No" (gpu/arch/ampere error containment).
      const ec =
        /^(Contained|Uncontained): (.*?)\.?\s*(?:physAddr: \S+ )?RST: (Yes|No), D-RST: (Yes|No)/.exec(
          message,
        );
      detail.contained = ec ? ec[1] === 'Contained' : xid === 94;
      detail.unit = ec ? ec[2]!.trim() : null;
      detail.resetRequired = ec ? ec[3] === 'Yes' : null;
      detail.drainAndResetRequired = ec ? ec[4] === 'Yes' : null;
      return make(xid === 94 ? 'gpu.xid.94' : 'gpu.xid.95', detail, key);
    }
    case 31: {
      const channel = /(?:Ch|channel) (0x[0-9a-fA-F]+|[0-9a-fA-F]{8})/.exec(message);
      const fault = /MMU Fault: ENGINE (\S+)(?: (GPC\d+))? (\S+) faulted @ (0x[0-9a-fA-F_]+)/.exec(
        message,
      );
      const type = /Fault is of type (\S+) (\S+)/.exec(message);
      detail.channel = channel ? channel[1]! : null;
      detail.engine = fault ? [fault[1], fault[2]].filter(Boolean).join(' ') : null;
      detail.client = fault ? fault[3]! : null;
      detail.address = fault ? fault[4]! : null;
      detail.faultType = type ? type[1]! : null;
      detail.accessType = type ? type[2]! : null;
      return make('gpu.xid.31', detail, key);
    }
    default:
      return make('gpu.xid', detail, key, { title: `NVIDIA Xid ${xid}` });
  }
}

// ------------------------------------------------------------------ matchers

type Rule = (text: string) => SignatureMatch | null;

const FALLEN_OFF =
  /NVRM: GPU ([0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}(?:\.[0-7])?): GPU has fallen off the bus/;
const SOFT_LOCKUP = /BUG: soft lockup - CPU#(\d+) stuck for (\d+)s! \[(.*):(\d+)\]/;
const HARD_LOCKUP = /Watchdog detected hard LOCKUP on cpu (\d+)/;
const RCU_STALL = /INFO: (rcu_\w+) (?:self-)?detected stalls? on CPU/;
const HUNG_TASK = /INFO: task (.+):(\d+) blocked for more than (\d+) seconds\./;
const OOPS = /BUG: (unable to handle (?:kernel )?.*?|kernel NULL pointer dereference)(?:,| at |$)/;
const PANIC = /Kernel panic - not syncing: ?(.*?)(?: \]---)?$/;
const KILLED =
  /(?:(Out of memory|Memory cgroup out of memory): )?Killed process (\d+) \((.*)\) total-vm:(\d+)kB, anon-rss:(\d+)kB, file-rss:(\d+)kB/;
const OOM_KILL = /oom-kill:(\S+)/;
/** Up to 6.8: a WARN with the driver in parentheses; `ms` since 5.x. */
const WATCHDOG_OLD =
  /NETDEV WATCHDOG: (\S+) \(([^)]+)\): transmit queue (\d+) timed out(?: (\d+) ms)?/;
/** From 6.9: netdev_crit prefix `driver bus-id iface:` then the CPU. */
const WATCHDOG_NEW =
  /(?:^|\s)(\S+) \S+ (\S+?): NETDEV WATCHDOG: CPU: (\d+): transmit queue (\d+) timed out (\d+) ms/;
const VIRTIO_TX =
  /(\S+) \S+ (\S+?): TX timeout on queue: (\d+), sq: \S+, vq: \S+, name: \S+, (\d+) usecs ago/;
const UNREGISTER = /unregister_netdevice: waiting for (\S+) to become free\. Usage count = (-?\d+)/;
const BUFFER_IO = /Buffer I\/O error on dev(?:ice)? (\S+?),? logical block (\d+)/;
const BLK_IO = /I\/O error, dev (\S+?),? sector (\d+)/;
const FS_ERROR = /(EXT4-fs|EXT3-fs|EXT2-fs) error \(device ([^)]+)\):? ?(.*)$/;
const READ_ONLY =
  /(EXT4-fs|XFS|BTRFS|EXT3-fs)[^:]*?(?: \(([^)]+)\))?: .*Remounting filesystem read-only/;

/** Rules in order; the first that matches wins. */
const RULES: readonly Rule[] = [
  (text) => {
    const m = XID.exec(text);
    return m ? xidMatch(m) : null;
  },
  (text) => {
    const m = FALLEN_OFF.exec(text);
    if (!m) return null;
    const pci = normalisePci(m[1]!);
    return make('gpu.fallen-off-bus', { pci }, `gpu-lost:${pci}`);
  },
  (text) => {
    const m = SOFT_LOCKUP.exec(text);
    if (!m) return null;
    const detail = { cpu: Number(m[1]), seconds: Number(m[2]), task: m[3]!, pid: Number(m[4]) };
    return make('kernel.soft-lockup', detail, `soft-lockup:${m[1]}`);
  },
  (text) => {
    const m = HARD_LOCKUP.exec(text);
    return m ? make('kernel.hard-lockup', { cpu: Number(m[1]) }, `hard-lockup:${m[1]}`) : null;
  },
  (text) => {
    const m = RCU_STALL.exec(text);
    return m ? make('kernel.rcu-stall', { flavour: m[1]! }, `rcu-stall:${m[1]}`) : null;
  },
  (text) => {
    const m = HUNG_TASK.exec(text);
    if (!m) return null;
    const task = m[1]!;
    const critical = NETWORK_CRITICAL_PROCESSES.has(task);
    return make(
      'kernel.hung-task',
      { task, pid: Number(m[2]), seconds: Number(m[3]) },
      `hung-task:${m[2]}`,
      { networkCritical: critical, severity: critical ? 'critical' : 'error' },
    );
  },
  (text) => {
    const m = OOPS.exec(text);
    return m ? make('kernel.oops', { what: m[1]!.trim() }, 'oops') : null;
  },
  (text) => {
    const m = PANIC.exec(text);
    return m ? make('kernel.panic', { reason: m[1]!.trim() }, 'panic') : null;
  },
  (text) => {
    const m = KILLED.exec(text);
    if (!m) return null;
    const process = m[3]!;
    const critical = NETWORK_CRITICAL_PROCESSES.has(process);
    return make(
      'oom.killed-process',
      {
        process,
        pid: Number(m[2]),
        scope: m[1] === 'Memory cgroup out of memory' ? 'cgroup' : m[1] ? 'global' : null,
        totalVmKb: Number(m[4]),
        anonRssKb: Number(m[5]),
        fileRssKb: Number(m[6]),
      },
      `oom:${m[2]}`,
      { networkCritical: critical, severity: critical ? 'critical' : 'warning' },
    );
  },
  (text) => {
    const m = OOM_KILL.exec(text);
    if (!m) return null;
    // constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/…,task=ovs-vswitchd,pid=1234,uid=0
    const fields = new Map<string, string>();
    let global = false;
    for (const part of m[1]!.split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
      else if (part === 'global_oom') global = true;
    }
    const scope = global ? 'global' : fields.has('oom_memcg') ? 'cgroup' : null;
    const process = fields.get('task');
    const pid = int(fields.get('pid'));
    if (process === undefined || pid === null) return null;
    const critical = NETWORK_CRITICAL_PROCESSES.has(process);
    return make(
      'oom.kill-summary',
      {
        process,
        pid,
        uid: int(fields.get('uid')),
        constraint: fields.get('constraint') ?? null,
        memcg: fields.get('task_memcg') ?? null,
        scope,
      },
      `oom:${pid}`,
      { networkCritical: critical, severity: critical ? 'critical' : 'warning' },
    );
  },
  (text) => {
    const old = WATCHDOG_OLD.exec(text);
    if (old) {
      return make(
        'network.netdev-watchdog',
        {
          interface: old[1]!,
          driver: old[2]!,
          queue: Number(old[3]),
          timedOutMs: int(old[4]),
          cpu: null,
        },
        `netdev-watchdog:${old[1]}`,
      );
    }
    const m = WATCHDOG_NEW.exec(text);
    if (!m) return null;
    return make(
      'network.netdev-watchdog',
      {
        interface: m[2]!,
        driver: m[1]!,
        queue: Number(m[4]),
        timedOutMs: Number(m[5]),
        cpu: Number(m[3]),
      },
      `netdev-watchdog:${m[2]}`,
    );
  },
  (text) => {
    const m = VIRTIO_TX.exec(text);
    if (!m) return null;
    return make(
      'network.tx-timeout',
      { interface: m[2]!, driver: m[1]!, queue: Number(m[3]), agoUs: Number(m[4]) },
      `tx-timeout:${m[2]}`,
    );
  },
  (text) => {
    const m = UNREGISTER.exec(text);
    if (!m) return null;
    return make(
      'network.unregister-netdevice',
      { interface: m[1]!, usageCount: Number(m[2]) },
      `unregister:${m[1]}`,
    );
  },
  (text) => {
    const buffer = BUFFER_IO.exec(text);
    if (buffer) {
      return make(
        'storage.io-error',
        { device: buffer[1]!, block: Number(buffer[2]), sector: null },
        `io-error:${buffer[1]}`,
      );
    }
    const blk = BLK_IO.exec(text);
    if (!blk) return null;
    return make(
      'storage.io-error',
      { device: blk[1]!, block: null, sector: Number(blk[2]) },
      `io-error:${blk[1]}`,
    );
  },
  (text) => {
    const m = FS_ERROR.exec(text);
    if (!m) return null;
    return make(
      'storage.fs-error',
      { filesystem: m[1]!.replace(/-fs$/, ''), device: m[2]!, message: m[3]!.trim() },
      `fs-error:${m[2]}`,
    );
  },
  (text) => {
    const m = READ_ONLY.exec(text);
    if (!m) return null;
    return make(
      'storage.read-only',
      { filesystem: m[1]!.replace(/-fs$/, ''), device: m[2] ?? null },
      `read-only:${m[2] ?? m[1]}`,
    );
  },
];

/** The signature a kernel message matches, or null. `text` is the message without its prefix. */
export function matchSignature(text: string): SignatureMatch | null {
  for (const rule of RULES) {
    const match = rule(text);
    if (match) return match;
  }
  return null;
}

/** A parsed line and what it matched; null for lines that carry no message. */
export interface MatchedLine {
  readonly line: KernelLogLine;
  readonly match: SignatureMatch | null;
}

/** Parses one raw line in any supported form and matches its message. */
export function matchKernelLogLine(raw: string): MatchedLine | null {
  const line = parseKernelLogLine(raw);
  if (line === null) return null;
  return { line, match: matchSignature(line.text) };
}
