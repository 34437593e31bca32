import { request } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeWardenError } from '../core/errors.ts';
import { runChecked } from '../host/command.ts';
import type { BuiltControlPlane } from './k8s-build.ts';
import { nodeScript, startDaemon, stopDaemons } from './daemon.ts';
import type { CertPair, LabPki } from './pki.ts';

/**
 * The lab's Kubernetes control plane: etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler, all inside the hub namespace,
 * plus the bridge that lets root-namespace tools (kubectl, tests, the
 * controller run from a shell) reach the API server over 127.0.0.1.
 */
export interface ControlPlaneOptions {
  readonly labDir: string;
  readonly hubNamespace: string;
  /** The hub's address on the lab bridge; nodes reach the API server here. */
  readonly apiAddress: string;
  readonly binaries: BuiltControlPlane;
  readonly pki: LabPki;
  /** Loopback port in the root namespace that forwards to the API server. */
  readonly hostPort: number;
  readonly timing: ControlPlaneTiming;
}

/**
 * Kubernetes' own defaults; tests may shorten them and must say so.
 * - nodeMonitorGracePeriod: Lease silence before Ready=Unknown (50 s since 1.32).
 * - unreachableTolerationSeconds: how long pods stay on an unreachable node (300 s).
 */
export interface ControlPlaneTiming {
  readonly nodeMonitorGracePeriodSeconds: number;
  readonly nodeMonitorPeriodSeconds: number;
  readonly unreachableTolerationSeconds: number;
  readonly notReadyTolerationSeconds: number;
}

export const KUBERNETES_DEFAULT_TIMING: ControlPlaneTiming = {
  nodeMonitorGracePeriodSeconds: 50,
  nodeMonitorPeriodSeconds: 5,
  unreachableTolerationSeconds: 300,
  notReadyTolerationSeconds: 300,
};

export const API_PORT = 6443;
/** Root-namespace loopback port of the API server bridge, when free. */
export const DEFAULT_API_HOST_PORT = 16443;

/** `preferred` when nothing listens on 127.0.0.1:preferred, else a free port the kernel picks. */
export async function freeLoopbackPort(preferred: number): Promise<number> {
  const tryListen = (port: number): Promise<number | null> =>
    new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(null));
      server.listen(port, '127.0.0.1', () => {
        const got = (server.address() as AddressInfo).port;
        server.close(() => resolve(got));
      });
    });
  return (preferred > 0 ? await tryListen(preferred) : null) ?? (await tryListen(0)) ?? preferred;
}
export const SERVICE_CIDR = '10.96.0.0/16';

export interface ControlPlaneState {
  readonly pids: Readonly<Record<string, number>>;
  /** Admin kubeconfig for the root namespace (via the 127.0.0.1 bridge). */
  readonly adminKubeconfig: string;
  /** Admin kubeconfig for processes inside the lab namespaces. */
  readonly labAdminKubeconfig: string;
  readonly hostPort: number;
  readonly timing: ControlPlaneTiming;
}

export function kubeconfigYaml(
  server: string,
  caFile: string,
  user: CertPair,
  name: string,
): string {
  // Paths, not inlined data: the files live beside the kubeconfig in the lab dir.
  return `apiVersion: v1
kind: Config
clusters:
- name: nodewarden-lab
  cluster:
    server: ${server}
    certificate-authority: ${caFile}
users:
- name: ${name}
  user:
    client-certificate: ${user.cert}
    client-key: ${user.key}
contexts:
- name: ${name}@nodewarden-lab
  context:
    cluster: nodewarden-lab
    user: ${name}
current-context: ${name}@nodewarden-lab
`;
}

async function serviceAccountKeys(dir: string): Promise<{ key: string; pub: string }> {
  const key = join(dir, 'sa.key');
  const pub = join(dir, 'sa.pub');
  const have = await readFile(pub).then(
    () => true,
    () => false,
  );
  if (!have) {
    await runChecked(
      'openssl',
      ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key],
      { timeoutMs: 60_000 },
    );
    await runChecked('openssl', ['pkey', '-in', key, '-pubout', '-out', pub], {
      timeoutMs: 30_000,
    });
  }
  return { key, pub };
}

/** GET a path on the API server with a client certificate; resolves the status and body. */
export async function apiGet(
  hostPort: number,
  path: string,
  ca: string,
  user: CertPair,
  timeoutMs = 3_000,
): Promise<{ status: number; body: string }> {
  const [caPem, cert, key] = await Promise.all([
    readFile(ca),
    readFile(user.cert),
    readFile(user.key),
  ]);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: hostPort, path, ca: caPem, cert, key, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function waitReady(
  hostPort: number,
  ca: string,
  admin: CertPair,
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const res = await apiGet(hostPort, '/readyz', ca, admin);
      if (res.status === 200) return;
      last = `HTTP ${res.status}: ${res.body.slice(0, 200)}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new NodeWardenError(
    'TIMEOUT',
    `kube-apiserver was not ready after ${timeoutMs / 1000} s (${last})`,
    {
      hint: `read ${logFile}`,
    },
  );
}

/**
 * Starts etcd, the API server, the root-namespace bridge, the controller
 * manager and the scheduler, in that order, and waits until the API server
 * answers /readyz. Writes admin kubeconfigs under `<labDir>/kube/`.
 */
export async function startControlPlane(
  options: ControlPlaneOptions,
  progress: (line: string) => void,
): Promise<ControlPlaneState> {
  const { labDir, hubNamespace: ns, apiAddress, pki, timing } = options;
  const bin = options.binaries.paths;
  const kubeDir = join(labDir, 'kube');
  const logs = join(labDir, 'logs');
  await Promise.all([mkdir(kubeDir, { recursive: true }), mkdir(logs, { recursive: true })]);

  progress('control plane: certificates');
  const [apiserver, admin, kcm, scheduler, sa] = await Promise.all([
    pki.issue({
      name: 'kube-apiserver',
      commonName: 'kube-apiserver',
      usage: 'server',
      ips: [apiAddress, '127.0.0.1', '10.96.0.1'],
      dnsNames: [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
    }),
    pki.issue({
      name: 'admin',
      commonName: 'nodewarden-lab-admin',
      organization: 'system:masters',
      usage: 'client',
    }),
    pki.issue({
      name: 'kube-controller-manager',
      commonName: 'system:kube-controller-manager',
      usage: 'client',
    }),
    pki.issue({ name: 'kube-scheduler', commonName: 'system:kube-scheduler', usage: 'client' }),
    serviceAccountKeys(pki.dir),
  ]);

  const inHub = `https://127.0.0.1:${API_PORT}`;
  const files = {
    admin: join(kubeDir, 'admin.kubeconfig'),
    labAdmin: join(kubeDir, 'admin-in-lab.kubeconfig'),
    kcm: join(kubeDir, 'kube-controller-manager.kubeconfig'),
    scheduler: join(kubeDir, 'kube-scheduler.kubeconfig'),
  };
  await Promise.all([
    writeFile(
      files.admin,
      kubeconfigYaml(`https://127.0.0.1:${options.hostPort}`, pki.ca.cert, admin, 'admin'),
    ),
    writeFile(
      files.labAdmin,
      kubeconfigYaml(`https://${apiAddress}:${API_PORT}`, pki.ca.cert, admin, 'admin'),
    ),
    writeFile(files.kcm, kubeconfigYaml(inHub, pki.ca.cert, kcm, 'system:kube-controller-manager')),
    writeFile(
      files.scheduler,
      kubeconfigYaml(inHub, pki.ca.cert, scheduler, 'system:kube-scheduler'),
    ),
  ]);

  const pids: Record<string, number> = {};
  /** `where` is 'hub' for the hub namespace, 'host' for the root namespace. */
  const start = (
    name: string,
    argv: [string, ...string[]],
    where: 'hub' | 'host' = 'hub',
  ): void => {
    const logFile = join(logs, `${name}.log`);
    pids[name] = startDaemon(
      where === 'hub' ? { argv, logFile, namespace: ns } : { argv, logFile },
    );
  };

  progress('control plane: etcd');
  start('etcd', [
    bin.etcd,
    '--name=lab',
    `--data-dir=${join(labDir, 'etcd')}`,
    '--listen-client-urls=http://127.0.0.1:2379',
    '--advertise-client-urls=http://127.0.0.1:2379',
    '--listen-peer-urls=http://127.0.0.1:2380',
    '--initial-advertise-peer-urls=http://127.0.0.1:2380',
    '--initial-cluster=lab=http://127.0.0.1:2380',
    '--listen-metrics-urls=http://127.0.0.1:2381',
    // A lab cluster is thrown away with the lab; fsync only slows tests.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]);

  progress('control plane: kube-apiserver');
  start('kube-apiserver', [
    bin['kube-apiserver'],
    '--etcd-servers=http://127.0.0.1:2379',
    '--bind-address=0.0.0.0',
    `--secure-port=${API_PORT}`,
    `--advertise-address=${apiAddress}`,
    `--tls-cert-file=${apiserver.cert}`,
    `--tls-private-key-file=${apiserver.key}`,
    `--client-ca-file=${pki.ca.cert}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${sa.pub}`,
    `--service-account-signing-key-file=${sa.key}`,
    `--default-not-ready-toleration-seconds=${timing.notReadyTolerationSeconds}`,
    `--default-unreachable-toleration-seconds=${timing.unreachableTolerationSeconds}`,
    '--allow-privileged=true',
    '--profiling=false',
    '--v=1',
  ]);

  progress(`control plane: bridge 127.0.0.1:${options.hostPort} → hub ${inHub}`);
  const socket = join(labDir, 'apiserver.sock');
  start('api-bridge-hub', nodeScript('lab/api-bridge.js', socket, `127.0.0.1:${API_PORT}`));
  start(
    'api-bridge-host',
    nodeScript('lab/api-bridge.js', `127.0.0.1:${options.hostPort}`, socket),
    'host',
  );

  progress('control plane: waiting for kube-apiserver /readyz');
  await waitReady(options.hostPort, pki.ca.cert, admin, join(logs, 'kube-apiserver.log'), 120_000);

  progress('control plane: kube-controller-manager, kube-scheduler');
  start('kube-controller-manager', [
    bin['kube-controller-manager'],
    `--kubeconfig=${files.kcm}`,
    `--authentication-kubeconfig=${files.kcm}`,
    `--authorization-kubeconfig=${files.kcm}`,
    '--bind-address=127.0.0.1',
    '--leader-elect=false',
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${sa.key}`,
    `--root-ca-file=${pki.ca.cert}`,
    `--cluster-signing-cert-file=${pki.ca.cert}`,
    `--cluster-signing-key-file=${pki.ca.key}`,
    `--node-monitor-grace-period=${timing.nodeMonitorGracePeriodSeconds}s`,
    `--node-monitor-period=${timing.nodeMonitorPeriodSeconds}s`,
    '--controllers=*',
    '--v=1',
  ]);
  start('kube-scheduler', [
    bin['kube-scheduler'],
    `--kubeconfig=${files.scheduler}`,
    `--authentication-kubeconfig=${files.scheduler}`,
    `--authorization-kubeconfig=${files.scheduler}`,
    '--bind-address=127.0.0.1',
    '--leader-elect=false',
    '--v=1',
  ]);

  return {
    pids,
    adminKubeconfig: files.admin,
    labAdminKubeconfig: files.labAdmin,
    hostPort: options.hostPort,
    timing,
  };
}

/** Stops every control-plane process, the API server last-but-one and etcd last. */
export async function stopControlPlane(state: Pick<ControlPlaneState, 'pids'>): Promise<void> {
  const order = [
    'kube-scheduler',
    'kube-controller-manager',
    'api-bridge-host',
    'api-bridge-hub',
    'kube-apiserver',
    'etcd',
  ];
  const rest = Object.keys(state.pids).filter((k) => !order.includes(k));
  for (const name of [...rest, ...order]) {
    const pid = state.pids[name];
    if (pid !== undefined) await stopDaemons([pid]);
  }
}
