import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CloudInstance, CloudRequest, InstanceAction } from '../core/cloud.ts';
import { NodeWardenError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { hypervisorTick, type HypervisorCloud } from './hypervisor.ts';
import { readState, STATE_VERSION, vmOf, writeState, type LabState } from './state.ts';
import { poweredOff } from './vm.ts';

const SERVER = '3f2a9c4e-1b7d-4e8a-9c01-5d6e7f809a1b';
const NODE = 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq';

/** Nova as the hypervisor sees it: one server, its actions, and the stops and starts it was sent. */
class NovaStub implements HypervisorCloud {
  status = 'ACTIVE';
  actions: InstanceAction[] = [];
  readonly calls: string[] = [];
  failWith: Error | null = null;

  instance(providerID: string): Promise<CloudInstance | null> {
    if (this.failWith) return Promise.reject(this.failWith);
    return Promise.resolve(
      providerID === `openstack:///${SERVER}`
        ? {
            id: SERVER,
            name: NODE,
            status: this.status,
            powerState: this.status === 'ACTIVE' ? 'RUNNING' : 'SHUTDOWN',
            taskState: null,
            vmState: this.status === 'ACTIVE' ? 'active' : 'stopped',
            hostStatus: 'UP',
            updatedAt: null,
          }
        : null,
    );
  }
  instanceActions(): Promise<readonly InstanceAction[]> {
    return Promise.resolve([...this.actions].reverse());
  }
  powerAction(serverId: string, action: 'stop' | 'start'): Promise<CloudRequest> {
    this.calls.push(`${action} ${serverId}`);
    return Promise.resolve({ requestId: `req-mirror-${this.calls.length}` });
  }
  add(action: string, requestId: string, startTime: string): void {
    this.actions.push({
      action,
      requestId,
      userId: 'u-admin',
      startTime,
      message: null,
      initiatedBy: 'user',
    });
  }
}

const lines: { level: string; msg: string }[] = [];
const log: Logger = {
  log: (level, msg) => lines.push({ level, msg }),
  child: () => log,
};

let dir = '';

/** A lab state with one node backed by SERVER (no namespaces: these ticks touch no node I/O). */
function labState(): LabState {
  const at = '2026-12-04T12:00:00.000Z';
  return {
    version: STATE_VERSION,
    phase: 'up',
    createdAt: at,
    updatedAt: at,
    dir,
    subnet: '10.62.0.0/24',
    prefixLength: 24,
    gateway: '10.62.0.1',
    hub: { namespace: 'nw-hub', bridge: 'nwbr0', ip: '10.62.0.1' },
    caCert: join(dir, 'ca.pem'),
    tokenFile: join(dir, 'token'),
    nodes: [
      {
        name: NODE,
        role: 'mig',
        namespace: `nw-${NODE}`,
        ip: '10.62.0.30',
        hubVeth: 'nwh-bkqzq',
        kubelet: {
          port: 10250,
          pid: null,
          pidFile: join(dir, 'run/k.pid'),
          logFile: join(dir, 'logs/k.log'),
          certFile: '',
          keyFile: '',
        },
        faults: [],
        novaServer: { serverId: SERVER, portId: '7d1e2f30-4a5b-4c6d-8e9f-0a1b2c3d4e5f' },
      },
    ],
    openstack: {
      dir: '/nonexistent',
      hypervisorPidFile: join(dir, 'run/hypervisor.pid'),
      hypervisorLogFile: join(dir, 'logs/hypervisor.log'),
      bootDelayMs: 3_000,
    },
  };
}

/** The node powered off in the lab (a `power-off` fault: Nova's power sync, no user). */
async function writePoweredOff(): Promise<void> {
  const state = labState();
  const node = state.nodes[0];
  if (node === undefined) throw new Error('no node');
  await writeState({
    ...state,
    nodes: [{ ...node, vm: poweredOff(vmOf(state, node), '2026-12-04T12:01:00.000Z') }],
  });
}

async function vm() {
  const state = await readState(dir);
  if (state === null) throw new Error('no state');
  const node = state.nodes[0];
  if (node === undefined) throw new Error('no node');
  return vmOf(state, node);
}

describe('the lab hypervisor, one tick at a time', () => {
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nw-hypervisor-'));
    await writeState(labState());
    lines.length = 0;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("records Nova's actions with Nova's request ids, once", async () => {
    const nova = new NovaStub();
    nova.add('create', 'req-create', '2026-12-04T12:00:01.000Z');
    nova.add('detach_interface', 'req-detach', '2026-12-04T12:00:02.000Z');
    const options = { dir, cloud: nova, bootDelayMs: 3_000, log };
    expect(await hypervisorTick(options)).toEqual({
      applied: 2,
      booted: 0,
      mirrored: 0,
      failed: 0,
    });
    // After the lab's own create (the namespace), Nova's, by Nova's ids.
    expect((await vm()).actions.map((a) => `${a.action} ${a.userId} ${a.requestId}`)).toEqual([
      expect.stringMatching(/^create lab req-1ab0c10d-/),
      'create u-admin req-create',
      'detach_interface u-admin req-detach',
    ]);
    expect(await hypervisorTick(options)).toMatchObject({ applied: 0 });
  });

  it('sends a power-off made in the lab to Nova as a stop, and never applies that stop again', async () => {
    await writePoweredOff();
    const nova = new NovaStub();
    const options = { dir, cloud: nova, bootDelayMs: 3_000, log };
    expect(await hypervisorTick(options)).toMatchObject({ mirrored: 1 });
    expect(nova.calls).toEqual([`stop ${SERVER}`]);
    // Recorded at once under Nova's request id: when Nova lists that stop, it is not applied again.
    expect((await vm()).actions.at(-1)).toMatchObject({
      action: 'stop',
      userId: 'lab-hypervisor',
      requestId: 'req-mirror-1',
    });
    nova.status = 'SHUTOFF';
    nova.add('stop', 'req-mirror-1', '2026-12-04T12:01:01.000Z');
    expect(await hypervisorTick(options)).toMatchObject({ applied: 0, mirrored: 0 });
    expect(nova.calls).toHaveLength(1);
    expect((await vm()).power).toBe('shutoff');
  });

  it('a start through Nova of a node that is off sets it booting after the delay', async () => {
    await writePoweredOff();
    const nova = new NovaStub();
    nova.add('start', 'req-start', '2026-12-04T12:02:00.000Z');
    const before = Date.now();
    await hypervisorTick({ dir, cloud: nova, bootDelayMs: 3_000, log });
    const after = await vm();
    expect(after).toMatchObject({ power: 'shutoff', task: 'powering-on' });
    expect(Date.parse(after.bootAt ?? '')).toBeGreaterThanOrEqual(before + 3_000);
    expect(nova.calls).toEqual([]);
  });

  it('a server Nova cannot answer for is logged and left for the next tick', async () => {
    const nova = new NovaStub();
    nova.failWith = new NodeWardenError('UNAVAILABLE', 'nova-api answered 503');
    expect(await hypervisorTick({ dir, cloud: nova, bootDelayMs: 3_000, log })).toMatchObject({
      failed: 1,
    });
    expect(lines.map((l) => l.msg)).toContain('hypervisor: server skipped this tick');
  });
});
