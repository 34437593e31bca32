import type { GpuWorkload } from './gpu-workload.ts';
import { PLAN_ANNOTATION } from '../stability/job.ts';
import type { Logger } from '../core/logger.ts';
import { describeError } from '../core/errors.ts';
import { KubeRestError, type KubeRest } from './kube-rest.ts';

/**
 * The Kubernetes half of a lab kubelet stand-in: registers its Node, renews
 * its Lease in kube-node-lease every 10 s, keeps Ready=True, and "runs" the
 * pods bound to it the way kwok does (marks them Running and Ready with a pod
 * IP, and confirms their deletion). It talks to the API server through its
 * own namespace's network, so when the lab cuts a node's link its heartbeats
 * stop for the same reason as the seed node's did.
 */
export interface KubeletNodeSpec {
  readonly name: string;
  readonly ip: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly capacity: Readonly<Record<string, string>>;
  readonly providerID: string;
  /** Pod IPs are handed out from this /24 prefix, e.g. "10.244.3". */
  readonly podIpPrefix: string;
  /** GPU nodes: plays the GPU load of stability-test pods on the simulator (src/lab/gpu-workload.ts). */
  readonly workload?: Pick<GpuWorkload, 'podStarted' | 'podGone'>;
}

export interface KubeletTiming {
  /** Lease renew interval; kubelet's is 10 s. */
  readonly renewIntervalMs: number;
  /** Lease duration; kubelet's is 40 s. */
  readonly leaseDurationSeconds: number;
  /** How often bound pods are reconciled. */
  readonly podSyncIntervalMs: number;
}

export const KUBELET_TIMING: KubeletTiming = {
  renewIntervalMs: 10_000,
  leaseDurationSeconds: 40,
  podSyncIntervalMs: 2_000,
};

type Condition = {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
};
interface NodeObject {
  metadata: { name: string; resourceVersion?: string };
  status?: { conditions?: Condition[] };
}
interface PodObject {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    deletionTimestamp?: string;
    annotations?: Record<string, string>;
  };
  spec: { containers: { name: string; image: string }[] };
  status?: { phase?: string; podIP?: string };
}

const micro = (d: Date): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

function readyConditions(now: string): Condition[] {
  const cond = (type: string, status: string, reason: string, message: string): Condition => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  });
  return [
    cond(
      'MemoryPressure',
      'False',
      'KubeletHasSufficientMemory',
      'kubelet has sufficient memory available',
    ),
    cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    cond(
      'Ready',
      'True',
      'KubeletReady',
      'kubelet is posting ready status (nodewarden lab stand-in)',
    ),
  ];
}

export interface KubeletNode {
  stop(): void;
}

/** Starts the registration, heartbeat and pod loops; they retry forever until `stop`. */
export function startKubeletNode(
  api: KubeRest,
  spec: KubeletNodeSpec,
  log: Logger,
  timing: KubeletTiming = KUBELET_TIMING,
): KubeletNode {
  let stopped = false;
  const timers = new Map<string, NodeJS.Timeout>();
  const nodePath = `/api/v1/nodes/${spec.name}`;
  const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${spec.name}`;
  const usedIps = new Map<string, string>();
  /** Pods whose GPU load the workload plays. */
  const started = new Set<string>();
  let failing = false;

  const nodeStatus = (): object => {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    return {
      capacity: spec.capacity,
      allocatable: spec.capacity,
      conditions: readyConditions(now),
      addresses: [
        { type: 'InternalIP', address: spec.ip },
        { type: 'Hostname', address: spec.name },
      ],
      nodeInfo: {
        kubeletVersion: 'v1.32.13',
        kubeProxyVersion: '',
        osImage: 'Ubuntu 24.04 LTS (nodewarden lab)',
        kernelVersion: '',
        containerRuntimeVersion: 'nodewarden-lab://1',
        operatingSystem: 'linux',
        architecture: 'amd64',
        machineID: '',
        systemUUID: spec.providerID.replace('openstack:///', ''),
        bootID: '',
      },
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    };
  };

  async function register(): Promise<void> {
    try {
      await api.call('POST', '/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: spec.name,
          labels: {
            'kubernetes.io/hostname': spec.name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            ...spec.labels,
          },
        },
        spec: { providerID: spec.providerID },
        status: nodeStatus(),
      });
      log.log('info', 'node registered', { node: spec.name });
    } catch (error) {
      if (!(error instanceof KubeRestError && error.status === 409)) throw error;
    }
    await ensureReady(true);
  }

  /** Posts Ready=True when the node lifecycle controller has set it otherwise (after a cut). */
  async function ensureReady(force: boolean): Promise<void> {
    const node = await api.call<NodeObject>('GET', nodePath);
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    if (force || ready?.status !== 'True') {
      await api.call(
        'PATCH',
        `${nodePath}/status`,
        { status: nodeStatus() },
        'application/strategic-merge-patch+json',
      );
      if (ready && ready.status !== 'True')
        log.log('info', 'node status posted Ready again', { node: spec.name, was: ready.status });
    }
  }

  async function renewLease(): Promise<void> {
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: spec.name, namespace: 'kube-node-lease' },
      spec: {
        holderIdentity: spec.name,
        leaseDurationSeconds: timing.leaseDurationSeconds,
        renewTime: micro(new Date()),
      },
    };
    try {
      await api.call('PATCH', leasePath, { spec: lease.spec }, 'application/merge-patch+json');
    } catch (error) {
      if (!(error instanceof KubeRestError && error.status === 404)) throw error;
      await api.call(
        'POST',
        '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases',
        lease,
      );
    }
  }

  function podIp(uid: string): string {
    const have = usedIps.get(uid);
    if (have) return have;
    const taken = new Set(usedIps.values());
    for (let i = 2; i < 255; i += 1) {
      const ip = `${spec.podIpPrefix}.${i}`;
      if (!taken.has(ip)) {
        usedIps.set(uid, ip);
        return ip;
      }
    }
    return `${spec.podIpPrefix}.254`;
  }

  async function syncPods(): Promise<void> {
    const list = await api.call<{ items: PodObject[] }>(
      'GET',
      `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${spec.name}`)}`,
    );
    const live = new Set(list.items.map((p) => p.metadata.uid));
    for (const uid of usedIps.keys()) if (!live.has(uid)) usedIps.delete(uid);
    for (const uid of started) {
      if (!live.has(uid)) {
        started.delete(uid);
        spec.workload?.podGone(uid);
      }
    }
    for (const pod of list.items) {
      const path = `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`;
      if (pod.metadata.deletionTimestamp) {
        if (started.delete(pod.metadata.uid)) spec.workload?.podGone(pod.metadata.uid);
        // A kubelet confirms a graceful deletion once its containers are gone.
        await api
          .call('DELETE', path, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 })
          .catch((error: unknown) => {
            if (!(error instanceof KubeRestError && error.status === 404)) throw error;
          });
        continue;
      }
      if (pod.status?.phase === 'Running') continue;
      const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      const cond = (type: string) => ({ type, status: 'True', lastTransitionTime: now });
      await api.call(
        'PATCH',
        `${path}/status`,
        {
          status: {
            phase: 'Running',
            hostIP: spec.ip,
            hostIPs: [{ ip: spec.ip }],
            podIP: podIp(pod.metadata.uid),
            podIPs: [{ ip: podIp(pod.metadata.uid) }],
            startTime: now,
            conditions: [
              cond('PodReadyToStartContainers'),
              cond('Initialized'),
              cond('Ready'),
              cond('ContainersReady'),
              cond('PodScheduled'),
            ],
            containerStatuses: pod.spec.containers.map((c) => ({
              name: c.name,
              image: c.image,
              imageID: '',
              ready: true,
              started: true,
              restartCount: 0,
              state: { running: { startedAt: now } },
            })),
          },
        },
        'application/strategic-merge-patch+json',
      );
      const plan = pod.metadata.annotations?.[PLAN_ANNOTATION];
      if (plan !== undefined && spec.workload) {
        started.add(pod.metadata.uid);
        spec.workload.podStarted(pod.metadata.uid, plan);
      }
    }
  }

  /**
   * Runs `fn` now and then every `everyMs`, logging failures once per outage.
   * After a failure it retries sooner, the way the kubelet's lease controller
   * does (0.2 s doubling to 7 s), so that renewals resume within seconds of
   * the API server's return.
   */
  function loop(name: string, everyMs: number, fn: () => Promise<void>): void {
    let failures = 0;
    const tick = async (): Promise<void> => {
      if (stopped) return;
      try {
        await fn();
        if (failing) log.log('info', 'API server reachable again', { node: spec.name, loop: name });
        failing = false;
        failures = 0;
      } catch (error) {
        failures += 1;
        if (!failing)
          log.log('warn', 'API call failed; retrying', {
            node: spec.name,
            loop: name,
            error: describeError(error),
          });
        failing = true;
      }
      const wait = failures === 0 ? everyMs : Math.min(everyMs, 7_000, 200 * 2 ** (failures - 1));
      if (!stopped)
        timers.set(
          name,
          setTimeout(() => void tick(), wait),
        );
    };
    void tick();
  }

  let registered = false;
  loop('heartbeat', timing.renewIntervalMs, async () => {
    if (!registered) {
      await register();
      registered = true;
    } else {
      await ensureReady(false);
    }
    await renewLease();
  });
  loop('pods', timing.podSyncIntervalMs, async () => {
    if (registered) await syncPods();
  });

  return {
    stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
    },
  };
}
