import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { CloudPort } from '../core/cloud.ts';
import { ManualClock } from '../core/clock.ts';
import { NodeWardenError } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { FakeCloud } from './fake/fake-cloud.ts';
import { CloudMonitor, type MonitoredNode } from './monitor.ts';

const A = '6e0d3a1c-0000-4000-8000-00000a3e001e';
const B = '6e0d3a1c-0000-4000-8000-00000a3e000a';
const PORT_A = 'c1a2b3c4-d5e6-4f70-8192-a3b4c5d6e71e';

function port(id: string, deviceId: string): CloudPort {
  return {
    id,
    name: '',
    deviceId,
    networkId: '1d6f0e4a-5b2c-4c8d-9e7f-3a1b5c7d9e0f',
    macAddress: 'fa:16:3e:00:00:01',
    status: 'ACTIVE',
    adminStateUp: true,
    bindingHost: 'compute-01',
    vifType: 'ovs',
    fixedIps: [],
    securityGroupIds: [],
    portSecurityEnabled: true,
  };
}

function world() {
  const clock = new ManualClock('2025-08-25T03:50:00Z');
  const server = (id: string, name: string) => ({
    id,
    name,
    vmState: 'active',
    powerState: 'RUNNING' as const,
    hostStatus: 'UP' as const,
    hypervisorHost: 'compute-01',
  });
  const cloud = new FakeCloud({
    clock,
    servers: [server(A, 'node-a'), server(B, 'node-b')],
    ports: [port(PORT_A, A)],
  });
  const nodes: MonitoredNode[] = [
    { name: 'node-a', providerID: `openstack:///${A}` },
    { name: 'node-b', providerID: `openstack:///${B}` },
    { name: 'kind-node', providerID: 'kind://docker/kind/kind-worker' },
    { name: 'bare', providerID: null },
  ];
  const registry = new Registry();
  const monitor = new CloudMonitor(cloud, () => nodes, clock, silentLogger, {
    intervalMs: 30_000,
    concurrency: 2,
  });
  monitor.register(registry);
  return { cloud, clock, monitor, registry, nodes };
}

const kinds = (changes: readonly { node: string; kind: string }[]): string[] =>
  changes.map((c) => `${c.node} ${c.kind}`);

describe('CloudMonitor', () => {
  it('says nothing about healthy machines, and only polls nodes of this cloud', async () => {
    const { monitor, cloud } = world();
    expect(await monitor.pollOnce()).toEqual([]);
    expect(monitor.latest('node-a')?.ports).toEqual([
      { id: PORT_A, status: 'ACTIVE', adminStateUp: true },
    ]);
    expect(monitor.latest('kind-node')).toBeUndefined();
    expect(cloud.calls.filter((c) => c.method === 'instance')).toHaveLength(2);
  });

  it('warns when an instance leaves ACTIVE, a hypervisor goes dark or a port goes DOWN — once each', async () => {
    const { monitor, cloud, clock } = world();
    await monitor.pollOnce();
    clock.advance(30_000);
    cloud.hypervisorReports(B, 'SHUTDOWN');
    cloud.setHostStatus(A, 'UNKNOWN');
    cloud.setPortStatus(PORT_A, 'DOWN');
    const changes = await monitor.pollOnce();
    expect(kinds(changes).sort()).toEqual([
      'node-a hypervisor-down',
      'node-a port-down',
      'node-b instance-not-active',
    ]);
    expect(changes.every((c) => c.severity === 'warn')).toBe(true);
    expect(changes.find((c) => c.kind === 'instance-not-active')?.message).toMatch(
      /is SHUTOFF \(power SHUTDOWN\), was ACTIVE/,
    );
    expect(await monitor.pollOnce()).toEqual([]);
  });

  it('tells when things come back, and when a server is deleted', async () => {
    const { monitor, cloud } = world();
    cloud.setPortStatus(PORT_A, 'DOWN');
    // First poll: a port already DOWN is warned about once.
    expect(kinds(await monitor.pollOnce())).toEqual(['node-a port-down']);
    cloud.setPortStatus(PORT_A, 'ACTIVE');
    cloud.deleteServer(B);
    const changes = await monitor.pollOnce();
    expect(kinds(changes).sort()).toEqual(['node-a port-up', 'node-b instance-gone']);
    expect(changes.find((c) => c.kind === 'port-up')?.severity).toBe('info');
  });

  it('a failed poll keeps the last snapshot, reports no change, and shows in the metrics', async () => {
    const { monitor, cloud, registry } = world();
    await monitor.pollOnce();
    cloud.failNext('instance', new NodeWardenError('UNAVAILABLE', 'Nova 503'));
    expect(await monitor.pollOnce()).toEqual([]);
    const text = await registry.metrics();
    expect(text).toMatch(/nodewarden_cloud_poll_failing\{node="node-(a|b)"\} 1/);
    expect(text).toContain('nodewarden_cloud_poll_errors_total 1');
    expect(text).toContain('nodewarden_cloud_polls_total 2');
  });

  it('exports instance, hypervisor and port state from the cache', async () => {
    const { monitor, cloud, registry } = world();
    cloud.hypervisorReports(B, 'SHUTDOWN');
    cloud.setPortStatus(PORT_A, 'DOWN');
    await monitor.pollOnce();
    const calls = cloud.calls.length;
    const text = await registry.metrics();
    expect(cloud.calls.length).toBe(calls);
    expect(text).toContain('nodewarden_cloud_instance_active{node="node-a",status="ACTIVE"} 1');
    expect(text).toContain('nodewarden_cloud_instance_active{node="node-b",status="SHUTOFF"} 0');
    expect(text).toContain('nodewarden_cloud_instance_power_running{node="node-b"} 0');
    expect(text).toContain(
      'nodewarden_cloud_hypervisor_up{node="node-a",host="compute-01",host_status="UP"} 1',
    );
    expect(text).toContain(
      `nodewarden_cloud_port_up{node="node-a",port="${PORT_A}",status="DOWN"} 0`,
    );
    expect(text).toContain('nodewarden_cloud_monitored_nodes 2');
  });

  it('polls on its interval until stopped', async () => {
    const { monitor, cloud, clock } = world();
    const changes: string[] = [];
    monitor.onChange((c) => changes.push(`${c.node} ${c.kind}`));
    monitor.start();
    await clock.advanceAsync(0);
    expect(monitor.polls).toBe(1);
    cloud.hypervisorReports(A, 'SHUTDOWN');
    await clock.advanceAsync(30_000);
    expect(monitor.polls).toBe(2);
    expect(changes).toEqual(['node-a instance-not-active']);
    await monitor.stop();
    await clock.advanceAsync(120_000);
    expect(monitor.polls).toBe(2);
  });
});
