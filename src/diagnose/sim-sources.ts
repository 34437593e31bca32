/**
 * Diagnosis sources over the simulated cluster, for the demo, tests and the
 * benchmark: the simulated mesh's observers (re-probed now, as a probe-now
 * directive would), the controller's own probe, reference points that answer
 * whenever the asking observer's own link is up, and a FakeCloud whose
 * servers mirror the simulated nodes (ACTIVE / Running: a cut link does not
 * change what Nova sees).
 */
import type { Clock } from '../core/clock.ts';
import { parseProviderID } from '../core/cloud.ts';
import { probeVerdict, type LayerResult, type ProbeResult } from '../core/probe.ts';
import { FakeCloud, type FakeCloudOptions, type FakeServerSeed } from '../cloud/fake/fake-cloud.ts';
import type { ObservationSource } from '../controller/detection-loop.ts';
import { sreCommands } from '../probe/sre-commands.ts';
import type { SimCluster } from '../sim/sim-cluster.ts';
import { CONTROLLER_OBSERVER, type NetworkSources, type ReferencePinger } from './collectors.ts';

/** The seed cluster's infrastructure addresses: its subnet's gateway and Kube-OVN's join gateway. */
export const SEED_REFERENCES = {
  gateway: { ip: '10.62.0.1' },
  ovnGateway: { ip: '100.64.0.1' },
} as const;

/** Round trip to a gateway on a quiet virtual network, ms. */
const GATEWAY_RTT_MS = 0.3;

/**
 * A gateway answers ICMP from any observer whose own link is up; from a cut
 * observer, the echo times out.
 */
export function simReferencePinger(sim: SimCluster, clock: Clock): ReferencePinger {
  return async (observer, { ip }, timeoutMs, signal) => {
    const started = clock.now();
    const up = sim.canReport(observer);
    const durationMs = up ? GATEWAY_RTT_MS : timeoutMs;
    await clock.sleep(durationMs, signal);
    const layer: LayerResult = up
      ? {
          layer: 'L3',
          status: 'ok',
          latencyMs: GATEWAY_RTT_MS,
          command: sreCommands.ping(ip, timeoutMs),
          detail: `reply in ${GATEWAY_RTT_MS} ms`,
        }
      : {
          layer: 'L3',
          status: 'failed',
          latencyMs: null,
          command: sreCommands.ping(ip, timeoutMs),
          detail: `timeout after ${timeoutMs} ms (100% packet loss)`,
        };
    const result: ProbeResult = {
      target: ip,
      port: 0,
      startedAt: new Date(started).toISOString(),
      durationMs,
      layers: [layer],
      verdict: probeVerdict([layer]),
    };
    return result;
  };
}

/** Network sources over the simulator: the mesh's observers re-probed now, the controller, reference points. */
export function simNetworkSources(
  sim: SimCluster,
  clock: Clock,
  observations: ObservationSource,
  references: NetworkSources['references'] = SEED_REFERENCES,
): NetworkSources {
  return {
    observations,
    // An agent cut off from the controller cannot be asked.
    probeFrom: (observer) =>
      observer !== CONTROLLER_OBSERVER && sim.canReport(observer) ? sim.prober(observer) : null,
    controller: sim.prober(CONTROLLER_OBSERVER),
    observerIp: (observer) => sim.observerIp(observer),
    references,
    pinger: simReferencePinger(sim, clock),
  };
}

/** A boot console that ends mid-run: no shutdown lines (what a halted guest leaves). */
function bootConsole(name: string): string {
  return [
    '[    0.000000] Linux version 6.8.0-60-generic (buildd@lcy02-amd64-064) #63-Ubuntu SMP PREEMPT_DYNAMIC',
    '[    0.000000] Command line: BOOT_IMAGE=/vmlinuz-6.8.0-60-generic root=LABEL=cloudimg-rootfs ro console=tty1 console=ttyS0',
    '[    2.114201] virtio_net virtio1 ens3: renamed from eth0',
    `[   11.402113] cloud-init[812]: Cloud-init v. 24.4 running 'modules:final'. Up 11.38 seconds.`,
    `[   12.000418] ${name} login: `,
    '[ 3201.551020] nvidia-nvswitch: Probing device 0000:00:05.0',
    '[ 3202.118843] NVRM: loading NVIDIA UNIX x86_64 Kernel Module  570.133.20',
    '',
  ].join('\n');
}

/**
 * A FakeCloud with one ACTIVE / Running server per simulated node that has
 * an `openstack:///<uuid>` providerID, each with its create action (by a
 * person, weeks before), its port and a console that ends without a clean
 * shutdown. The hypervisor is UP.
 */
export function fakeCloudFor(
  sim: SimCluster,
  clock: Clock,
  options: Omit<FakeCloudOptions, 'clock'> = {},
): FakeCloud {
  const servers: FakeServerSeed[] = [];
  const cloud = new FakeCloud({ ...options, clock });
  let n = 0;
  for (const node of sim.truth.nodes()) {
    if (node.providerID === null) continue;
    const { serverId } = parseProviderID(node.providerID);
    n += 1;
    servers.push({
      id: serverId,
      name: node.name,
      vmState: 'active',
      powerState: 'RUNNING',
      hostStatus: 'UP',
      console: bootConsole(node.name),
      diagnostics: {
        driver: 'libvirt',
        uptimeSeconds: 3_600,
        nics: [
          {
            macAddress: null,
            rxOctets: 1_000_000,
            rxPackets: 10_000,
            rxErrors: 0,
            rxDrop: 0,
            txOctets: 900_000,
            txPackets: 9_000,
            txErrors: 0,
            txDrop: 0,
          },
        ],
      },
      actions: [
        {
          action: 'create',
          requestId: `req-5f0c9a2e-1b7d-4c3e-9f86-${n.toString(16).padStart(12, '0')}`,
          userId: '9a1f3c7e2b4d4f6a8c0e1d3b5a7f9e2c',
          startTime: '2025-07-14T02:11:09Z',
        },
      ],
    });
    const ip = node.internalIP;
    if (ip !== null) {
      cloud.addPort({
        id: `3b1f6c2e-8d4a-4e7f-9c1b-${n.toString(16).padStart(12, '0')}`,
        name: `${node.name}-port`,
        deviceId: serverId,
        networkId: '7d2c9e4a-1f3b-4a5c-8e6d-0b9a8c7d6e5f',
        macAddress: `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`,
        status: 'ACTIVE',
        adminStateUp: true,
        bindingHost: null,
        vifType: null,
        fixedIps: [{ ipAddress: ip, subnetId: '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f' }],
        securityGroupIds: [],
        portSecurityEnabled: true,
      });
    }
  }
  for (const s of servers) cloud.addServer(s);
  return cloud;
}
