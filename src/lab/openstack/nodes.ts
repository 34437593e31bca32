/**
 * Nova servers for lab nodes (`lab up --openstack`): one per node, in the lab
 * project, as the member user, each booted on a Neutron port made first —
 * Nova deletes a port it made itself when the interface is detached, but
 * leaves one it was given, so a detach/attach through Nova keeps the node's
 * port. `lab down` deletes the servers, then the ports.
 */
import { describeError, NodeWardenError } from '../../core/errors.ts';
import type { NovaServerRecord } from '../state.ts';
import { labPaths, PORTS } from './plan.ts';
import { field, passwordToken, rest } from './rest.ts';
import { openStackStatus, readOpenrc, type LabResources } from './stack.ts';

const NOVA = `http://127.0.0.1:${PORTS.nova}/v2.1`;
const NEUTRON = `http://127.0.0.1:${PORTS.neutron}/v2.0`;

/** Boot to ACTIVE takes 5–10 s per server on a loaded two-core machine; Nova builds them one by one. */
const BOOT_TIMEOUT_MS = 300_000;

async function memberToken(openstackDir: string): Promise<string> {
  const env = await readOpenrc(labPaths(openstackDir).memberOpenrc);
  return passwordToken(
    env['OS_USERNAME'] ?? '',
    env['OS_PASSWORD'] ?? '',
    env['OS_PROJECT_NAME'] ?? '',
  );
}

/** The resources `lab openstack up` made; CONFLICT naming the fix when the lab OpenStack is not up. */
export async function requireLabOpenStack(openstackDir: string): Promise<LabResources> {
  const status = await openStackStatus({ dir: openstackDir, progress: () => undefined });
  const down = status.services.filter((s) => !s.running).map((s) => s.name);
  if (status.phase !== 'up' || status.resources === null || down.length > 0) {
    throw new NodeWardenError(
      'CONFLICT',
      `the lab OpenStack in ${openstackDir} is not up (${status.phase}${down.length > 0 ? `; not running: ${down.join(', ')}` : ''})`,
      {
        hint: 'start it first: sudo nodewarden lab openstack up (NODEWARDEN_OPENSTACK_DIR names another directory)',
      },
    );
  }
  return status.resources;
}

/**
 * Makes a port and a server per node name and waits until every server is
 * ACTIVE. A server that goes to ERROR fails the whole call with Nova's fault
 * message; the servers already made are returned to the caller through
 * `made`, so it can delete them.
 */
export async function createNodeServers(
  openstackDir: string,
  names: readonly string[],
  made: Map<string, NovaServerRecord>,
  progress: (line: string) => void,
): Promise<void> {
  const resources = await requireLabOpenStack(openstackDir);
  const token = await memberToken(openstackDir);
  for (const name of names) {
    const portId = field(
      await rest('POST', `${NEUTRON}/ports`, {
        token,
        body: { port: { network_id: resources.networkId, name: `${name}-eth0` } },
      }),
      'port',
    );
    made.set(name, { serverId: '', portId });
    const serverId = field(
      await rest('POST', `${NOVA}/servers`, {
        token,
        body: {
          server: {
            name,
            flavorRef: resources.flavorId,
            imageRef: resources.imageId,
            networks: [{ port: portId }],
          },
        },
        ok: [202],
      }),
      'server',
    );
    made.set(name, { serverId, portId });
  }
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  for (const [name, { serverId }] of made) {
    for (;;) {
      const server = (await rest('GET', `${NOVA}/servers/${serverId}`, { token })).body[
        'server'
      ] as { status?: string; fault?: { message?: string } } | undefined;
      if (server?.status === 'ACTIVE') break;
      if (server?.status === 'ERROR') {
        throw new NodeWardenError(
          'UNAVAILABLE',
          `Nova server ${serverId} for ${name} went to ERROR: ${server.fault?.message ?? 'no fault message'}`,
          { hint: `see ${openstackDir}/logs/nova-compute.log and nova-conductor.log` },
        );
      }
      if (Date.now() > deadline) {
        throw new NodeWardenError(
          'TIMEOUT',
          `Nova server ${serverId} for ${name} not ACTIVE after ${BOOT_TIMEOUT_MS / 1000} s (status ${server?.status ?? '?'})`,
          { hint: `see ${openstackDir}/logs/nova-compute.log` },
        );
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
    progress(`nova server ${serverId} ACTIVE for ${name} (port ${made.get(name)?.portId ?? '?'})`);
  }
}

/**
 * Deletes the servers, waits (bounded) until Nova has them gone, then deletes
 * their ports. Returns what could not be deleted, in words; an empty list
 * when everything went. Never throws: `lab down` must finish.
 */
export async function deleteNodeServers(
  openstackDir: string,
  records: readonly NovaServerRecord[],
): Promise<string[]> {
  const problems: string[] = [];
  let token: string;
  try {
    token = await memberToken(openstackDir);
  } catch (error) {
    return [
      `the lab OpenStack did not answer (${describeError(error)}): its servers stay until lab openstack down`,
    ];
  }
  for (const { serverId } of records.filter((r) => r.serverId !== '')) {
    await rest('DELETE', `${NOVA}/servers/${serverId}`, { token, ok: [204, 404] }).catch(
      (error: unknown) => problems.push(`server ${serverId}: ${describeError(error)}`),
    );
  }
  const deadline = Date.now() + 60_000;
  for (const { serverId } of records.filter((r) => r.serverId !== '')) {
    while (Date.now() < deadline) {
      const answer = await rest('GET', `${NOVA}/servers/${serverId}`, {
        token,
        ok: [200, 404],
      }).catch(() => null);
      if (answer === null || answer.status === 404) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  for (const { portId } of records) {
    await rest('DELETE', `${NEUTRON}/ports/${portId}`, { token, ok: [204, 404] }).catch(
      (error: unknown) => problems.push(`port ${portId}: ${describeError(error)}`),
    );
  }
  return problems;
}
