import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CloudInstance } from '../../src/core/cloud.ts';
import { NodeWardenError } from '../../src/core/errors.ts';
import type { LogLevel, Logger } from '../../src/core/logger.ts';
import { runCommand } from '../../src/host/command.ts';
import { openStackConfigFromEnv, type OpenStackConfig } from '../../src/cloud/openstack/config.ts';
import {
  openOpenStackCloud,
  type OpenStackCloud,
} from '../../src/cloud/openstack/openstack-cloud.ts';
import { COMPUTE_HOST, keystoneUrl, PORTS } from '../../src/lab/openstack/plan.ts';
import { field, passwordToken, rest } from '../../src/lab/openstack/rest.ts';
import { readOpenrc, type OpenStackLabState } from '../../src/lab/openstack/stack.ts';
import { BYSTANDER, MIG, nodewardenOk, repoRoot, SHARED_LAB_UP } from './lab-harness.ts';
import { readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { kubeRequest } from '../../src/kube/http.ts';
import { readState, vmOf, type LabNodeState } from '../../src/lab/state.ts';
import type { LabStatus } from '../../src/lab/lab.ts';
import { openStore } from '../../src/store/open.ts';
import {
  type Controller,
  labControllerArgs,
  logTail,
  startController,
  stopController,
  untilWatching,
} from './controller-process.ts';
import { until } from '../support/until.ts';

/**
 * The OpenStack adapter against real Keystone, Nova and Neutron: the lab
 * OpenStack (`nodewarden lab openstack up`, Debian's Zed packages, Nova's
 * fake virt driver) brought up for this file in its own directory. The
 * databases come from the cache a previous start left (.ci/run fills it
 * before the tests); without it this file's setup takes minutes longer.
 * NODEWARDEN_OPENSTACK_TEST_DIR=<dir of a running lab OpenStack> reuses that
 * one instead (neither up nor down), for working on these tests.
 */
const lab = inject('lab');
const NOVA = `http://127.0.0.1:${PORTS.nova}/v2.1`;
const NEUTRON = `http://127.0.0.1:${PORTS.neutron}/v2.0`;
const bin = join(repoRoot, 'bin', 'nodewarden.js');

let dir = '';
let up = false;
let memberEnv: Record<string, string> = {};
let adminEnv: Record<string, string> = {};
let resources: NonNullable<OpenStackLabState['resources']>;
let memberToken = '';
let memberUserId = '';
/** Two servers in the project's default group (Geneve passes between them) and one in a group that opens 6081 as TCP only. */
const servers = { a: '', b: '', c: '' };
const clouds: OpenStackCloud[] = [];

function osctl(args: readonly string[], timeoutMs: number) {
  return runCommand(process.execPath, [bin, 'lab', 'openstack', ...args], {
    timeoutMs,
    env: { NODEWARDEN_OPENSTACK_DIR: dir },
  });
}

interface Line {
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

function recordingLogger(lines: Line[], bound: Record<string, unknown> = {}): Logger {
  return {
    log: (level, msg, fields = {}) => lines.push({ level, msg, fields: { ...bound, ...fields } }),
    child: (more) => recordingLogger(lines, { ...bound, ...more }),
  };
}

async function cloudFor(config: OpenStackConfig, lines: Line[] = []): Promise<OpenStackCloud> {
  const cloud = await openOpenStackCloud(config, {
    logger: recordingLogger(lines),
    retries: 1,
    timeoutMs: 60_000,
  });
  clouds.push(cloud);
  return cloud;
}

const member = (lines?: Line[]) => cloudFor(openStackConfigFromEnv(memberEnv), lines);
const admin = (lines?: Line[]) => cloudFor(openStackConfigFromEnv(adminEnv), lines);

/** OpenStack's state changes take seconds: poll every 500 ms, for 60 s unless told. */
const untilCloud = <T>(
  what: string,
  check: () => Promise<T | null>,
  timeoutMs = 60_000,
): Promise<T> => until(what, timeoutMs, check, 500);

async function settled(cloud: OpenStackCloud, id: string, status: string): Promise<CloudInstance> {
  return untilCloud(`server ${id} ${status} with no task`, async () => {
    const server = await cloud.instance(`openstack:///${id}`);
    return server?.status === status && server.taskState === null ? server : null;
  });
}

async function createServer(name: string, groups: readonly string[]): Promise<string> {
  const answer = await rest('POST', `${NOVA}/servers`, {
    token: memberToken,
    body: {
      server: {
        name,
        flavorRef: resources.flavorId,
        imageRef: resources.imageId,
        networks: [{ uuid: resources.networkId }],
        security_groups: groups.map((g) => ({ name: g })),
      },
    },
    ok: [202],
  });
  return field(answer, 'server');
}

async function rejection(promise: Promise<unknown>): Promise<NodeWardenError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NodeWardenError);
  return error as NodeWardenError;
}

describe.skipIf(lab.skip !== null)('the OpenStack adapter against the lab OpenStack', () => {
  beforeAll(async () => {
    const reuse = process.env['NODEWARDEN_OPENSTACK_TEST_DIR'];
    if (reuse !== undefined && reuse !== '') {
      dir = reuse;
    } else {
      dir = await mkdtemp(join(tmpdir(), 'nodewarden-openstack-test-'));
      const started = await osctl(['up'], 900_000);
      if (started.code !== 0) {
        await osctl(['down'], 120_000);
        throw new Error(`lab openstack up failed:\n${started.stdout}${started.stderr}`);
      }
      up = true;
      process.stderr.write(
        started.stdout
          .split('\n')
          .filter((l) => l.includes('OpenStack is up'))
          .join('\n') + '\n',
      );
    }
    memberEnv = await readOpenrc(join(dir, 'member-openrc'));
    adminEnv = await readOpenrc(join(dir, 'admin-openrc'));
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as OpenStackLabState;
    if (state.resources === undefined) throw new Error('lab openstack up recorded no resources');
    resources = state.resources;
    memberToken = await passwordToken(
      memberEnv['OS_USERNAME'] ?? '',
      memberEnv['OS_PASSWORD'] ?? '',
      memberEnv['OS_PROJECT_NAME'] ?? '',
    );
    const self = await rest('GET', `${keystoneUrl}/auth/tokens`, {
      token: memberToken,
      headers: { 'x-subject-token': memberToken },
    });
    memberUserId = String((self.body['token'] as { user: { id: string } }).user.id);
    // A group that opens the Geneve port as TCP, the seed's near miss.
    const group = field(
      await rest('POST', `${NEUTRON}/security-groups`, {
        token: memberToken,
        body: { security_group: { name: 'nw-tcp-6081', description: 'Geneve as TCP: wrong' } },
      }),
      'security_group',
    );
    await rest('POST', `${NEUTRON}/security-group-rules`, {
      token: memberToken,
      body: {
        security_group_rule: {
          security_group_id: group,
          direction: 'ingress',
          ethertype: 'IPv4',
          protocol: 'tcp',
          port_range_min: 6081,
          port_range_max: 6081,
          remote_ip_prefix: '10.99.0.0/24',
        },
      },
    });
    servers.a = await createServer('nw-node-a', ['default']);
    servers.b = await createServer('nw-node-b', ['default']);
    // By id: Nova takes a group id where it takes a name, and ids are unique.
    servers.c = await createServer('nw-node-c', [group]);
    const cloud = await member();
    for (const id of Object.values(servers)) await settled(cloud, id, 'ACTIVE');
  }, 900_000);

  afterAll(async () => {
    for (const cloud of clouds) cloud.close();
    if (!up) return;
    {
      const down = await osctl(['down'], 120_000);
      expect(down.code).toBe(0);
      const status = await osctl(['status', '--json'], 30_000);
      expect(JSON.parse(status.stdout)).toMatchObject({ phase: 'down', services: [] });
    }
    await rm(dir, { recursive: true, force: true });
  }, 180_000);

  it('status lists every service running and answering', async () => {
    const status = await osctl(['status', '--json'], 30_000);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as {
      phase: string;
      services: { name: string; running: boolean; answers: boolean | null }[];
    };
    expect(parsed.phase).toBe('up');
    expect(parsed.services.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        'mariadb',
        'rabbitmq',
        'keystone',
        'placement',
        'glance-api',
        'neutron-server',
        'nova-api',
        'nova-conductor',
        'nova-scheduler',
        'nova-compute',
      ]),
    );
    for (const s of parsed.services) {
      expect(s.running, s.name).toBe(true);
      if (s.answers !== null) expect(s.answers, s.name).toBe(true);
    }
  });

  it('reads a server by providerID with a member password: states, no host_status, no hypervisor', async () => {
    const server = await (await member()).instance(`openstack:///${servers.a}`);
    expect(server).toMatchObject({
      id: servers.a,
      name: 'nw-node-a',
      status: 'ACTIVE',
      powerState: 'RUNNING',
      taskState: null,
      vmState: 'active',
      hostStatus: null,
    });
    expect(server?.hypervisorHost).toBeUndefined();
    expect(server?.updatedAt).toMatch(/Z$/);
  });

  it('sees host_status and the hypervisor with an admin credential; the regional providerID form too', async () => {
    const server = await (await admin()).instance(`openstack://RegionOne/${servers.a}`);
    expect(server).toMatchObject({
      status: 'ACTIVE',
      hostStatus: 'UP',
      hypervisorHost: COMPUTE_HOST,
    });
  });

  it('authenticates with an application credential', async () => {
    const created = await rest(
      'POST',
      `${keystoneUrl}/users/${memberUserId}/application_credentials`,
      {
        token: memberToken,
        body: { application_credential: { name: `nw-test-${Date.now()}` } },
        ok: [201],
      },
    );
    const cloud = await cloudFor(
      openStackConfigFromEnv({
        OS_AUTH_URL: keystoneUrl,
        OS_AUTH_TYPE: 'v3applicationcredential',
        OS_APPLICATION_CREDENTIAL_ID: field(created, 'application_credential'),
        OS_APPLICATION_CREDENTIAL_SECRET: field(created, 'application_credential', 'secret'),
      }),
    );
    expect((await cloud.instance(`openstack:///${servers.b}`))?.status).toBe('ACTIVE');
  });

  it('gets a new token once when Keystone revoked its token (the user disabled and enabled again)', async () => {
    const lines: Line[] = [];
    const cloud = await member(lines);
    await cloud.instance(`openstack:///${servers.a}`);
    const adminToken = await passwordToken(
      adminEnv['OS_USERNAME'] ?? '',
      adminEnv['OS_PASSWORD'] ?? '',
      adminEnv['OS_PROJECT_NAME'] ?? '',
    );
    await rest('PATCH', `${keystoneUrl}/users/${memberUserId}`, {
      token: adminToken,
      body: { user: { enabled: false } },
    });
    await rest('PATCH', `${keystoneUrl}/users/${memberUserId}`, {
      token: adminToken,
      body: { user: { enabled: true } },
    });
    // Nova trusts a validated token for 5 s in the lab (keystonemiddleware's
    // token_cache_time); and Keystone revokes tokens issued up to the
    // revocation's second, so a new token from that same second would be refused too.
    await new Promise((r) => setTimeout(r, 6_000));
    expect((await cloud.instance(`openstack:///${servers.a}`))?.status).toBe('ACTIVE');
    expect(lines.filter((l) => l.msg === 'token refused; authenticating again')).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'keystone token issued')).toHaveLength(2);
    memberToken = await passwordToken(
      memberEnv['OS_USERNAME'] ?? '',
      memberEnv['OS_PASSWORD'] ?? '',
      memberEnv['OS_PROJECT_NAME'] ?? '',
    );
  });

  it('looks endpoints up in the catalogue by interface and region, and names what it has on a miss', async () => {
    const internal = await cloudFor(
      openStackConfigFromEnv({ ...memberEnv, OS_INTERFACE: 'internal' }),
    );
    expect((await internal.instance(`openstack:///${servers.a}`))?.status).toBe('ACTIVE');
    const elsewhere = await cloudFor(
      openStackConfigFromEnv({ ...memberEnv, OS_REGION_NAME: 'RegionTwo' }),
    );
    const error = await rejection(elsewhere.ports(servers.a));
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toMatch(
      /no network endpoint with interface public in region RegionTwo \(it has: .*public@RegionOne/,
    );
  });

  it('refuses a wrong password with 401 as BAD_INPUT naming the user', async () => {
    const cloud = await cloudFor(
      openStackConfigFromEnv({ ...memberEnv, OS_PASSWORD: 'not-the-password' }),
    );
    const error = await rejection(cloud.instance(`openstack:///${servers.a}`));
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toContain('Keystone refused to authenticate user nodewarden');
    expect(error.message).not.toContain('not-the-password');
  });

  it('answers 404 for a server that does not exist: instance null, ports empty, a port update NOT_FOUND', async () => {
    const cloud = await member();
    const missing = '00000000-0000-4000-8000-000000000000';
    expect(await cloud.instance(`openstack:///${missing}`)).toBeNull();
    expect(await cloud.ports(missing)).toEqual([]);
    const error = await rejection(cloud.setPortAdminState(missing, false));
    expect(error.code).toBe('NOT_FOUND');
  });

  it('reads the console (whole and the last line) and refuses diagnostics to a member with 403', async () => {
    const cloud = await member();
    expect(await cloud.consoleLog(servers.a)).toBe('FAKE CONSOLE OUTPUT\nANOTHER\nLAST LINE');
    expect(await cloud.consoleLog(servers.a, 1)).toBe('LAST LINE');
    const error = await rejection(cloud.diagnostics(servers.a));
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toMatch(/os-server-diagnostics|Policy/);
  });

  it('reads diagnostics with an admin credential', async () => {
    const diagnostics = await (await admin()).diagnostics(servers.a);
    expect(diagnostics.state).toBe('running');
    expect(diagnostics.driver).not.toBeNull();
    expect(diagnostics.nics.length).toBeGreaterThan(0);
  });

  it('stops and starts a server; the stop is recorded with the member as its user', async () => {
    const cloud = await member();
    await cloud.powerAction(servers.b, 'stop');
    const stopped = await settled(cloud, servers.b, 'SHUTOFF');
    expect(stopped).toMatchObject({ powerState: 'SHUTDOWN', vmState: 'stopped' });
    const again = await rejection(cloud.powerAction(servers.b, 'stop'));
    expect(again.code).toBe('CONFLICT');
    // A stopped server takes no SOFT reboot: Nova's 409, with the hint to use HARD.
    const soft = await rejection(cloud.reboot(servers.b, 'SOFT'));
    expect(soft.code).toBe('CONFLICT');
    expect(soft.hint).toMatch(/HARD/);
    const actions = await cloud.instanceActions(servers.b);
    expect(actions[0]).toMatchObject({
      action: 'stop',
      userId: memberUserId,
      initiatedBy: 'user',
      message: null,
    });
    expect(actions.map((a) => a.action)).toContain('create');
    await cloud.powerAction(servers.b, 'start');
    await settled(cloud, servers.b, 'ACTIVE');
    const since = await cloud.instanceActions(servers.b, actions[0]?.startTime);
    expect(since.map((a) => a.action)).toEqual(['start', 'stop']);
  });

  it('soft and hard reboots are accepted and recorded', async () => {
    const cloud = await member();
    await cloud.reboot(servers.a, 'SOFT');
    await settled(cloud, servers.a, 'ACTIVE');
    await cloud.reboot(servers.a, 'HARD');
    const after = await settled(cloud, servers.a, 'ACTIVE');
    expect(after.powerState).toBe('RUNNING');
    const actions = await cloud.instanceActions(servers.a);
    expect(actions.filter((a) => a.action === 'reboot')).toHaveLength(2);
  });

  it('lists ports: bound to the fake hypervisor for admin, binding hidden from a member', async () => {
    const memberPorts = await (await member()).ports(servers.a);
    expect(memberPorts).toHaveLength(1);
    expect(memberPorts[0]).toMatchObject({
      deviceId: servers.a,
      networkId: resources.networkId,
      status: 'ACTIVE',
      adminStateUp: true,
      bindingHost: null,
      portSecurityEnabled: true,
    });
    expect(memberPorts[0]?.fixedIps[0]?.ipAddress).toMatch(/^10\.99\.0\./);
    const adminPorts = await (await admin()).ports(servers.a);
    expect(adminPorts[0]).toMatchObject({ bindingHost: COMPUTE_HOST, vifType: 'ovs' });
  });

  it('sets a port administratively down and up (status is not asserted: the lab has no agent)', async () => {
    const cloud = await member();
    const [port] = await cloud.ports(servers.c);
    if (port === undefined) throw new Error('server c has no port');
    expect((await cloud.setPortAdminState(port.id, false)).adminStateUp).toBe(false);
    expect((await cloud.setPortAdminState(port.id, true)).adminStateUp).toBe(true);
  });

  it('detaches an interface (Nova deletes a port it made itself) and attaches a new one', async () => {
    const cloud = await member();
    const [port] = await cloud.interfaces(servers.c);
    if (port === undefined) throw new Error('server c has no interface');
    const before = await cloud.ports(servers.c);
    await cloud.detachInterface(servers.c, port);
    await untilCloud(
      'interface detached',
      async () => (await cloud.interfaces(servers.c)).length === 0,
    );
    // Found against the real services: a port Nova created at boot (networks: [{uuid}])
    // is deleted on detach, not kept unbound — it cannot be attached again.
    await untilCloud('port deleted', async () => (await cloud.ports(servers.c)).length === 0);
    const gone = await rest('GET', `${NEUTRON}/ports/${port}`, { token: memberToken, ok: [404] });
    expect(gone.status).toBe(404);
    const fresh = field(
      await rest('POST', `${NEUTRON}/ports`, {
        token: memberToken,
        body: {
          port: {
            network_id: resources.networkId,
            name: 'nw-node-c-replacement',
            security_groups: before[0]?.securityGroupIds ?? [],
          },
        },
      }),
      'port',
    );
    await cloud.attachInterface(servers.c, fresh);
    await untilCloud('interface attached', async () =>
      (await cloud.interfaces(servers.c)).includes(fresh),
    );
    const ports = await (await admin()).ports(servers.c);
    expect(ports.map((p) => p.id)).toEqual([fresh]);
    expect(ports[0]).toMatchObject({ bindingHost: COMPUTE_HOST, status: 'ACTIVE' });
    const actions = await cloud.instanceActions(servers.c);
    expect(actions.map((a) => a.action)).toEqual(
      expect.arrayContaining(['detach_interface', 'attach_interface']),
    );
    // A port that does not exist: Nova's 404, by name.
    const missing = await rejection(cloud.attachInterface(servers.c, port));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.message).toContain(port);
  });

  it('judges Geneve (UDP 6081) from the real security groups: the default group passes, TCP-only 6081 blocks', async () => {
    const cloud = await member();
    const allowed = await cloud.geneveAllowed([servers.a, servers.b]);
    expect(allowed.verdict).toBe('allowed');
    expect(allowed.pairs).toHaveLength(2);
    const blocked = await cloud.geneveAllowed([servers.a, servers.c]);
    expect(blocked.verdict).toBe('blocked');
    const intoC = blocked.pairs.find((p) => p.from === servers.a && p.to === servers.c);
    expect(intoC?.verdict).toBe('blocked');
    expect(intoC?.reason).toMatch(/no ingress rule in nw-tcp-6081 allows UDP 6081/);
    expect(
      intoC?.offending[0]?.rules.some((r) => r.protocol === 'tcp' && r.portRangeMin === 6081),
    ).toBe(true);
  });

  /**
   * Issue #12 part 3: the shared k8s lab brought up again with --openstack
   * (one Nova server per node, on a port made first; the Nodes' providerID
   * names it; the lab hypervisor applies Nova's actions to the nodes), then
   * recovery through the real Keystone and Nova: kernel-panic on the MIG node →
   * `nodewarden controller --cloud openstack --remediation-mode auto` reboots it
   * through Nova → the hypervisor restarts the node → Ready → resolved, the
   * reboot's Nova request id in the audit trail. The shared lab is put back as
   * the other files expect it (plain lab up) at the end.
   */
  describe('lab nodes backed by Nova servers (lab up --openstack)', () => {
    const BOOT_DELAY_S = 3;
    let labDir = '';
    let workDir = '';
    let kc: KubeConfig;
    let controller: Controller | null = null;
    let migNode: LabNodeState;

    const labCli = (args: readonly string[], timeoutMs = 120_000) =>
      runCommand(process.execPath, [bin, 'lab', ...args], {
        timeoutMs,
        env: { NODEWARDEN_LAB_DIR: labDir, NODEWARDEN_OPENSTACK_DIR: dir },
      });
    const labOk = async (args: readonly string[], timeoutMs?: number) => {
      const run = await labCli(args, timeoutMs);
      if (run.code !== 0)
        throw new Error(`lab ${args.join(' ')} exited ${run.code}:\n${run.stdout}${run.stderr}`);
      return run;
    };
    /** A lab node by its full name or its suffix (bkqzq, 9f79t). */
    const labNode = async (name: string): Promise<LabNodeState> => {
      const node = (await readState(labDir))?.nodes.find((n) => n.name.endsWith(name));
      if (node === undefined) throw new Error(`no lab node ${name}`);
      return node;
    };
    const vmNow = async (name: string) => {
      const state = await readState(labDir);
      const node = state?.nodes.find((n) => n.name === name);
      if (state === null || node === undefined) throw new Error(`no lab node ${name}`);
      return vmOf(state, node);
    };
    const ready = async (name: string): Promise<string> => {
      const node = await kubeRequest<{
        status?: { conditions?: { type: string; status: string }[] };
      }>(kc, 'GET', `/api/v1/nodes/${name}`, 10_000);
      return node.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'missing';
    };

    beforeAll(async () => {
      labDir = lab.dir;
      workDir = await mkdtemp(join(tmpdir(), 'nodewarden-openstack-e2e-'));
      await nodewardenOk(labDir, ['lab', 'down'], 120_000);
      const started = Date.now();
      const up = await labCli(
        [...SHARED_LAB_UP.slice(1), '--openstack', '--boot-delay', String(BOOT_DELAY_S)],
        600_000,
      );
      if (up.code !== 0) {
        await labCli(['down']);
        throw new Error(`lab up --openstack failed:\n${up.stdout}${up.stderr}`);
      }
      process.stderr.write(
        `lab up --openstack: ${((Date.now() - started) / 1000).toFixed(1)} s\n` +
          up.stdout
            .split('\n')
            .filter((l) => /nova servers|hypervisor|lab up:/.test(l))
            .join('\n') +
          '\n',
      );
      const state = await readState(labDir);
      if (!state?.controlPlane) throw new Error('lab up --openstack made no control plane');
      kc = (await loadKubeConfig(state.controlPlane.adminKubeconfig)).kc;
      migNode = await labNode(MIG);
    }, 900_000);

    afterAll(async () => {
      if (controller !== null) await stopController(controller);
      const state = await readState(labDir);
      const ids = (state?.nodes ?? []).flatMap((n) => (n.novaServer ? [n.novaServer] : []));
      const down = await labCli(['down'], 180_000);
      // The shared lab as every other file expects it, put back before anything here is
      // asserted: a failed check must not leave the later files in the run without a lab.
      try {
        if (down.code !== 0) await labCli(['down'], 180_000);
        await nodewardenOk(labDir, SHARED_LAB_UP, 600_000);
      } finally {
        await rm(workDir, { recursive: true, force: true });
      }
      expect(down.code, `${down.stdout}${down.stderr}`).toBe(0);
      expect(down.stdout).toMatch(/nova servers: \d+ deleted with their ports/);
      // Nothing of them is left in Nova or Neutron.
      for (const { serverId, portId } of ids) {
        expect(
          (await rest('GET', `${NOVA}/servers/${serverId}`, { token: memberToken, ok: [404] }))
            .status,
        ).toBe(404);
        expect(
          (await rest('GET', `${NEUTRON}/ports/${portId}`, { token: memberToken, ok: [404] }))
            .status,
        ).toBe(404);
      }
    }, 900_000);

    it('backs every node with an ACTIVE Nova server on a port made first; each Node names it in providerID', async () => {
      const state = await readState(labDir);
      const status = JSON.parse((await labOk(['status', '--json'])).stdout) as LabStatus;
      expect(status.openstack?.hypervisor.state).toBe('running');
      expect(Object.keys(status.openstack?.servers ?? {})).toHaveLength(state?.nodes.length ?? -1);
      const cloud = await member();
      for (const node of state?.nodes ?? []) {
        const server = node.novaServer;
        expect(server, node.name).toBeDefined();
        const instance = await cloud.instance(`openstack:///${server?.serverId ?? ''}`);
        expect(instance).toMatchObject({ name: node.name, status: 'ACTIVE' });
        expect((await cloud.ports(server?.serverId ?? '')).map((p) => p.id)).toEqual([
          server?.portId,
        ]);
        const k8s = await kubeRequest<{ spec?: { providerID?: string } }>(
          kc,
          'GET',
          `/api/v1/nodes/${node.name}`,
          10_000,
        );
        expect(k8s.spec?.providerID).toBe(`openstack:///${server?.serverId ?? ''}`);
      }
    });

    it('stop and start through Nova power the lab node off and boot it; a lab power-off reaches Nova as a stop', async () => {
      const cloud = await member();
      const node = await labNode(BYSTANDER);
      const id = node.novaServer?.serverId ?? '';
      await cloud.powerAction(id, 'stop');
      await untilCloud(
        'the lab node powered off by the hypervisor',
        async () => (await vmNow(node.name)).power === 'shutoff',
      );
      expect((await labNode(node.name)).kubelet.pid).toBeNull();
      await settled(cloud, id, 'SHUTOFF');
      await cloud.powerAction(id, 'start');
      await untilCloud('the lab node booted', async () => {
        const vm = await vmNow(node.name);
        return vm.power === 'running' && vm.task === null;
      });
      const actions = (await vmNow(node.name)).actions.map((a) => a.action);
      expect(actions.slice(-2)).toEqual(['stop', 'start']);
      // The reverse: a power-off in the lab is stopped in Nova, by the hypervisor (admin), and heal starts it again.
      await labOk(['fault', node.name, 'power-off']);
      await settled(cloud, id, 'SHUTOFF');
      await labOk(['heal', node.name]);
      await settled(cloud, id, 'ACTIVE');
    });

    it('detaches the port a server was booted on and attaches it again: a port made first survives', async () => {
      const cloud = await member();
      const server = (await labNode('pkmt5')).novaServer;
      if (server === undefined) throw new Error('pkmt5 has no Nova server');
      await cloud.detachInterface(server.serverId, server.portId);
      await untilCloud(
        'interface detached',
        async () => (await cloud.interfaces(server.serverId)).length === 0,
      );
      const kept = await rest('GET', `${NEUTRON}/ports/${server.portId}`, { token: memberToken });
      expect((kept.body['port'] as { device_id?: string }).device_id).toBe('');
      await cloud.attachInterface(server.serverId, server.portId);
      await untilCloud('the same port attached again', async () =>
        (await cloud.interfaces(server.serverId)).includes(server.portId),
      );
      const actions = await cloud.instanceActions(server.serverId);
      expect(actions.map((a) => a.action)).toEqual(
        expect.arrayContaining(['detach_interface', 'attach_interface']),
      );
    });

    it('recovers the MIG node through Nova: kernel-panic → controller reboots it → hypervisor restarts it → Ready → resolved, the Nova request in the audit', async () => {
      const status = await readState(labDir);
      if (!status?.controlPlane) throw new Error('no control plane');
      const tokenFile = join(workDir, 'admin-token');
      await writeFile(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
      const db = `sqlite:${join(workDir, 'recovery.db')}`;
      const c = startController({
        hub: status.hub.namespace,
        kubeconfig: status.controlPlane.labAdminKubeconfig,
        identity: 'openstack-e2e',
        store: db,
        env: memberEnv,
        extra: labControllerArgs({
          labDir,
          adminTokenFile: tokenFile,
          mode: 'auto',
          cloud: 'openstack',
          gateway: status.hub.ip,
          reportDir: join(workDir, 'reports'),
        }),
      });
      controller = c;
      await untilWatching(c);
      const mig = migNode.name;
      const serverId = migNode.novaServer?.serverId ?? '';
      const cut = Date.now();
      await labOk(['fault', mig, 'kernel-panic']);
      const store = await openStore(db);
      try {
        const incident = await until(
          'the incident resolved and the remediation succeeded',
          300_000,
          async () => {
            if (c.child.exitCode !== null) throw new Error(`the controller exited:\n${logTail(c)}`);
            const found = (await store.listIncidents({ node: mig, limit: 5 }))[0];
            if (found?.status !== 'resolved') return null;
            const done = (await store.listAudit(found.id)).some(
              (a) => a.action === 'remediation' && a.result === 'succeeded',
            );
            return done ? found : null;
          },
        ).catch((error: unknown) => {
          throw new Error(`${String(error)}\ncontroller log:\n${logTail(c, 6000)}`);
        });
        const seconds = (Date.now() - cut) / 1000;
        expect(await ready(mig)).toBe('True');
        const vm = await vmNow(mig);
        expect(vm).toMatchObject({ power: 'running', task: null, panicked: false });
        const audit = await store.listAudit(incident.id);
        const reboot = audit.find(
          (a) => /^remediation-(soft|hard)-reboot$/.test(a.action) && a.result === 'started',
        );
        const cloudAction = (
          reboot?.evidence as
            { result?: { cloudAction?: { action: string; requestId: string | null } } } | undefined
        )?.result?.cloudAction;
        expect(cloudAction?.action).toBe('reboot');
        expect(cloudAction?.requestId).toMatch(/^req-/);
        // Nova's own record of it: a reboot by the controller's user (the member), same request id …
        const novaActions = await (await admin()).instanceActions(serverId);
        expect(novaActions.find((a) => a.requestId === cloudAction?.requestId)).toMatchObject({
          action: 'reboot',
          userId: memberUserId,
        });
        // … and the lab hypervisor applied exactly that one to the node.
        expect(vm.actions.find((a) => a.requestId === cloudAction?.requestId)).toMatchObject({
          action: 'reboot',
        });
        expect(audit.map((a) => `${a.action}:${a.result}`)).toEqual(
          expect.arrayContaining(['remediation:started', 'remediation:succeeded']),
        );
        const steps = audit.map((a) => a.action);
        process.stderr.write(
          `openstack e2e: kernel-panic → resolved in ${seconds.toFixed(1)} s (root cause ${incident.rootCause ?? '?'}; steps ${[...new Set(steps)].join(', ')}; Nova request ${cloudAction?.requestId ?? '?'})\n`,
        );
      } finally {
        await store.close();
      }
    }, 420_000);
  });
});
