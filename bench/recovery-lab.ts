/**
 * The lab half of bench/recovery.ts: its own 5-node lab (real kube-apiserver
 * and kube-controller-manager with the stated grace period and toleration),
 * a controller in the hub with the agents and the lab cloud, the MIG node's
 * kernel panicked — once with remediation `auto`, once `off` — and each run's
 * timeline: NodeWarden's (incident, diagnosis, steps, resolved) and
 * Kubernetes' own (NotReady, taints, evictions), and when the node was Ready
 * again (its Lease renewed after the fault and Ready=True).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { RemediationMode } from '../src/core/remediation-policy.ts';
import { loadKubeConfig } from '../src/kube/config.ts';
import { kubeRequest } from '../src/kube/http.ts';
import { toNode } from '../src/kube/map.ts';
import type { LabStatus } from '../src/lab/lab.ts';
import { openStore } from '../src/store/open.ts';
import {
  labControllerArgs,
  startController,
  stopController,
  untilWatching,
} from '../test/lab/controller-process.ts';
import { labNamespaces, labStatus, NODE, nodewarden, nodewardenOk } from '../test/lab/lab-cli.ts';
import { timelineRows, type Run } from './recovery-timeline.ts';
import { until } from '../test/support/until.ts';

export interface LabBenchOptions {
  readonly bootDelayS: number;
  readonly gracePeriodS: number;
  readonly tolerationS: number;
  /** Progress lines (stderr). */
  readonly log: (line: string) => void;
}

/** Ready status of the MIG node and its Lease's last renewal (ms), from the API server. */
async function readMig(kc: KubeConfig): Promise<{ ready: string; renewedAt: number }> {
  const node = toNode(await kubeRequest<unknown>(kc, 'GET', `/api/v1/nodes/${NODE.mig}`, 5_000));
  const lease = await kubeRequest<{ spec?: { renewTime?: string } }>(
    kc,
    'GET',
    `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE.mig}`,
    5_000,
  );
  return {
    ready: node.conditions.find((c) => c.type === 'Ready')?.status ?? 'missing',
    renewedAt: Date.parse(lease.spec?.renewTime ?? ''),
  };
}

async function runMode(
  mode: RemediationMode,
  dir: string,
  status: LabStatus,
  kc: KubeConfig,
  o: LabBenchOptions,
): Promise<Run> {
  const cp = status.controlPlane;
  if (!cp) throw new Error('the lab has no control plane');
  const db = `sqlite:${join(dir, `bench-${mode}.db`)}`;
  const c = startController({
    hub: status.hub.namespace,
    kubeconfig: cp.labAdminKubeconfig,
    identity: `bench-${mode}`,
    store: db,
    extra: labControllerArgs({
      labDir: dir,
      mode,
      cloud: 'lab',
      bootDelayS: o.bootDelayS,
      gateway: status.hub.ip,
      reportDir: join(dir, 'reports'),
    }),
  });
  const store = await openStore(db);
  try {
    await untilWatching(c);
    const faultAt = Date.now();
    await nodewardenOk(dir, ['lab', 'fault', 'bkqzq', 'kernel-panic']);
    o.log(`mode ${mode}: kernel-panic on ${NODE.mig}`);
    let readyAgainAt: number | null = null;
    let sawNotReady = false;
    // Bounded: grace + toleration + boot delay + 3 minutes.
    const limit = faultAt + (o.gracePeriodS + o.tolerationS + o.bootDelayS + 180) * 1000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      const now = Date.now();
      const mig = await readMig(kc).catch(() => null);
      if (mig !== null && mig.ready !== 'True') sawNotReady = true;
      if (readyAgainAt === null && mig?.ready === 'True' && mig.renewedAt > faultAt)
        readyAgainAt = now;
      const incident = (await store.listIncidents({ node: NODE.mig, limit: 1 }))[0];
      const evicted = incident?.timeline.some((e) => e.kind === 'pod-evicted') ?? false;
      if (mode !== 'off' && incident?.status === 'resolved') break;
      if (mode === 'off' && evicted && now > faultAt + (o.gracePeriodS + o.tolerationS + 10) * 1000)
        break;
      if (now > limit) break;
    }
    const incident = (await store.listIncidents({ node: NODE.mig, limit: 1 }))[0];
    return {
      label: `lab, mode ${mode}, boot delay ${o.bootDelayS} s (Kubernetes: grace ${o.gracePeriodS} s, toleration ${o.tolerationS} s)`,
      rows: timelineRows(incident, NODE.mig, faultAt, readyAgainAt, sawNotReady, Date.now()),
    };
  } finally {
    await store.close();
    await stopController(c);
    await nodewardenOk(dir, ['lab', 'heal', 'bkqzq']);
    await until('the MIG node Ready, untainted, uncordoned again', 120_000, async () => {
      const n = toNode(await kubeRequest<unknown>(kc, 'GET', `/api/v1/nodes/${NODE.mig}`, 5_000));
      const ready = n.conditions.find((x) => x.type === 'Ready')?.status;
      return ready === 'True' && n.taints.length === 0 && !n.unschedulable;
    });
  }
}

/** Brings its own lab up, runs mode auto then off, takes the lab down. */
export async function runLab(o: LabBenchOptions): Promise<Run[]> {
  if (process.getuid?.() !== 0)
    throw new Error('bench/recovery.ts --lab needs root (network namespaces)');
  const taken = await labNamespaces();
  if (taken.length > 0)
    throw new Error(
      `lab namespaces exist (${taken.slice(0, 3).join(', ')}): another lab is up; run inside the lab lock with none up`,
    );
  const dir = await mkdtemp(join(tmpdir(), 'nodewarden-bench-recovery-'));
  const runs: Run[] = [];
  try {
    const up = await nodewardenOk(
      dir,
      [
        'lab',
        'up',
        '--nodes',
        '5',
        '--grace-period',
        String(o.gracePeriodS),
        '--toleration',
        String(o.tolerationS),
      ],
      900_000,
    );
    o.log(`lab up: ${(up.durationMs / 1000).toFixed(1)} s`);
    const status = await labStatus(dir);
    if (!status.controlPlane) throw new Error('lab up started no control plane');
    const { kc } = await loadKubeConfig(status.controlPlane.adminKubeconfig);
    for (const mode of ['auto', 'off'] as const) runs.push(await runMode(mode, dir, status, kc, o));
  } finally {
    const down = await nodewarden(dir, ['lab', 'down'], 120_000);
    o.log(`lab down: exit ${down.code}`);
    await rm(dir, { recursive: true, force: true });
  }
  return runs;
}
