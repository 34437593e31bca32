/**
 * The CloudProvider for OpenStack: Keystone v3 for the token and catalogue,
 * Nova (compute microversion 2.79) for servers, actions, console, diagnostics
 * and reboots, Neutron for ports and security groups.
 */
import { readFile } from 'node:fs/promises';
import {
  parseProviderID,
  rebootConflictHint,
  requireConsoleLines,
  requireGeneveServers,
  requireRegion,
  requireSince,
  requireUuid,
  type CloudInstance,
  type CloudPort,
  type CloudProvider,
  type CloudRequest,
  type GeneveReport,
  type InstanceAction,
  type InstanceDiagnostics,
  type RebootType,
  type SecurityGroup,
} from '../../core/cloud.ts';
import { systemClock, type Clock } from '../../core/clock.ts';
import { describeError, NodeWardenError } from '../../core/errors.ts';
import { silentLogger, type Logger } from '../../core/logger.ts';
import { judgeGeneve } from '../geneve.ts';
import { describeOpenStackConfig, type OpenStackConfig } from './config.ts';
import {
  errorFromResponse,
  headerValue,
  OpenStackHttpError,
  Transport,
  type HttpResponse,
} from './http.ts';
import { KeystoneSession } from './keystone.ts';
import {
  list,
  mapAction,
  mapDiagnostics,
  mapPort,
  mapSecurityGroup,
  mapServer,
  member,
  parseJson,
} from './map.ts';
import { redactingLogger } from './redact.ts';

/**
 * 2.16 shows host_status, 2.48 standardises diagnostics, 2.58 pages and
 * filters instance actions by time, 2.69 answers for servers in a Nova cell
 * that is down (status UNKNOWN) instead of failing: what an outage tool
 * needs. 2.79 is Train (2019); any cloud since accepts it.
 */
export const NOVA_MICROVERSION = '2.79';

export interface OpenStackCloudOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** For the backoff jitter; tests pin it. */
  readonly random?: () => number;
  /** Per attempt; default 10 s. */
  readonly timeoutMs?: number;
  /** Further attempts after the first; default 3. */
  readonly retries?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
}

/**
 * The marker of a `rel: next` link (Nova pages instance actions by request
 * id): the marker, null when the link has none, false when there is no link.
 */
function nextMarker(links: unknown): string | null | false {
  if (!Array.isArray(links)) return false;
  for (const link of links) {
    if (typeof link !== 'object' || link === null) continue;
    const l = link as Record<string, unknown>;
    if (l['rel'] !== 'next' || typeof l['href'] !== 'string') continue;
    try {
      return new URL(l['href']).searchParams.get('marker');
    } catch {
      return null;
    }
  }
  return false;
}

/** Page size for instance actions, and how many pages at most (a VM with 5,000 actions is not a node). */
const ACTIONS_PAGE = 100;
const ACTIONS_MAX_PAGES = 50;
/** Neutron filters per request, to keep URLs well under proxies' limits. */
const FILTER_CHUNK = 40;

/** Opens the adapter, reading the CA bundle first so that a bad path fails here, by name. */
export async function openOpenStackCloud(
  config: OpenStackConfig,
  options: OpenStackCloudOptions = {},
): Promise<OpenStackCloud> {
  let ca: string | undefined;
  if (config.caFile !== undefined) {
    try {
      ca = await readFile(config.caFile, 'utf8');
    } catch (error) {
      throw new NodeWardenError(
        'BAD_INPUT',
        `cannot read the CA bundle ${config.caFile}: ${describeError(error)}`,
        {
          hint: 'point caFile (OS_CACERT / clouds.yaml cacert) at a readable PEM file',
          cause: error,
        },
      );
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      throw new NodeWardenError(
        'BAD_INPUT',
        `the CA bundle ${config.caFile} holds no PEM certificate`,
        {
          hint: 'caFile must be PEM (-----BEGIN CERTIFICATE-----), not DER',
        },
      );
    }
  }
  return new OpenStackCloud(config, options, ca);
}

interface CallOptions {
  readonly service: 'compute' | 'network';
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path under the service's catalogue URL, with its query. */
  readonly path: string;
  readonly body?: unknown;
  readonly idempotent: boolean;
  readonly what: string;
}

/** The request id Nova answered with: the `request_id` of the instance action the request started. */
function requestIdOf(res: HttpResponse): string | null {
  return headerValue(res, 'x-openstack-request-id') ?? headerValue(res, 'x-compute-request-id');
}

export class OpenStackCloud implements CloudProvider {
  private readonly logger: Logger;
  private readonly transport: Transport;
  private readonly session: KeystoneSession;

  constructor(
    private readonly config: OpenStackConfig,
    options: OpenStackCloudOptions = {},
    ca?: string,
  ) {
    const clock = options.clock ?? systemClock;
    // The session is created below; the logger reads its secrets lazily, at every line.
    this.logger = redactingLogger(
      (options.logger ?? silentLogger).child({ cloud: 'openstack' }),
      () => this.session.secrets(),
    );
    this.transport = new Transport({
      timeoutMs: options.timeoutMs ?? 10_000,
      retries: options.retries ?? 3,
      backoffBaseMs: options.backoffBaseMs ?? 250,
      backoffMaxMs: options.backoffMaxMs ?? 5_000,
      ...(ca === undefined ? {} : { ca }),
      clock,
      random: options.random ?? Math.random,
      logger: this.logger,
    });
    this.session = new KeystoneSession(config, this.transport, clock, this.logger);
    this.logger.log('info', 'openstack cloud configured', describeOpenStackConfig(config));
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.transport.close();
  }

  async instance(providerID: string): Promise<CloudInstance | null> {
    const parsed = parseProviderID(providerID);
    requireRegion(parsed, this.config.region ?? null);
    const what = `show server ${parsed.serverId}`;
    const res = await this.call({
      service: 'compute',
      method: 'GET',
      path: `/servers/${parsed.serverId}`,
      idempotent: true,
      what,
    });
    // Only Nova's own "not found" means gone; a 404 from anything else (a wrong endpoint) is an error.
    if (
      res.status === 404 &&
      errorFromResponse(res, what, 'compute', this.session.secrets()).fault === 'itemNotFound'
    ) {
      return null;
    }
    this.expect(res, [200], what, 'compute');
    return mapServer(member(parseJson(res.text, what), 'server', what), what);
  }

  async instanceActions(serverId: string, since?: string): Promise<readonly InstanceAction[]> {
    const id = requireUuid('server', serverId);
    const from = requireSince(since);
    const what = `list actions of server ${id}`;
    const actions: InstanceAction[] = [];
    let marker: string | null = null;
    for (let page = 1; page <= ACTIONS_MAX_PAGES; page += 1) {
      const query = new URLSearchParams({ limit: String(ACTIONS_PAGE) });
      if (from !== undefined) query.set('changes-since', from);
      if (marker !== null) query.set('marker', marker);
      const res = await this.call({
        service: 'compute',
        method: 'GET',
        path: `/servers/${id}/os-instance-actions?${query.toString()}`,
        idempotent: true,
        what,
      });
      this.expect(res, [200], what, 'compute');
      const body = parseJson(res.text, what);
      const entries = list(body, 'instanceActions', what).map((a) => mapAction(a, what));
      actions.push(...entries);
      // Nova adds a "next" link when the page is full (its api.max_limit may cap our limit).
      const next = nextMarker(body['links']);
      const last = entries.at(-1);
      if (next === false || last === undefined) return actions;
      marker = next ?? last.requestId;
    }
    this.logger.log('warn', 'instance actions truncated', { serverId: id, kept: actions.length });
    return actions;
  }

  async consoleLog(serverId: string, lines?: number): Promise<string> {
    const id = requireUuid('server', serverId);
    const length = requireConsoleLines(lines);
    const what = `console of server ${id}`;
    const res = await this.call({
      service: 'compute',
      method: 'POST',
      path: `/servers/${id}/action`,
      body: { 'os-getConsoleOutput': length === undefined ? {} : { length } },
      // Reading the console changes nothing: safe to repeat.
      idempotent: true,
      what,
    });
    this.expect(res, [200], what, 'compute');
    const output = parseJson(res.text, what)['output'];
    if (typeof output !== 'string') {
      throw new NodeWardenError('UNAVAILABLE', `${what}: the answer has no output`, {
        hint: 'the endpoint in the catalogue may not be Nova',
      });
    }
    return output;
  }

  async diagnostics(serverId: string): Promise<InstanceDiagnostics> {
    const id = requireUuid('server', serverId);
    const what = `diagnostics of server ${id}`;
    const res = await this.call({
      service: 'compute',
      method: 'GET',
      path: `/servers/${id}/diagnostics`,
      idempotent: true,
      what,
    });
    this.expect(res, [200], what, 'compute');
    return mapDiagnostics(parseJson(res.text, what));
  }

  async reboot(serverId: string, type: RebootType): Promise<CloudRequest> {
    const id = requireUuid('server', serverId);
    if (type !== 'SOFT' && type !== 'HARD') {
      throw new NodeWardenError('BAD_INPUT', `reboot type ${String(type)} is not SOFT or HARD`, {
        hint: 'use SOFT (ACPI, the guest shuts down cleanly) or HARD (power cycle)',
      });
    }
    const what = `reboot server ${id}`;
    const res = await this.call({
      service: 'compute',
      method: 'POST',
      path: `/servers/${id}/action`,
      body: { reboot: { type } },
      idempotent: false,
      what,
    });
    this.expectAction(res, [202], what, rebootConflictHint);
    const requestId = requestIdOf(res);
    this.logger.log('info', 'reboot requested', { serverId: id, type, requestId });
    return { requestId };
  }

  /**
   * Powers a server off (`os-stop`) or on (`os-start`). Accepted, not
   * finished: watch `instance()`. Not idempotent in Nova's eyes (a second
   * stop of a stopped server is CONFLICT), so never repeated after a timeout.
   * Nova records the action with the caller's user id — what tells a person's
   * stop from the power sync's.
   */
  async powerAction(serverId: string, action: 'stop' | 'start'): Promise<CloudRequest> {
    const id = requireUuid('server', serverId);
    const what = `${action} server ${id}`;
    const res = await this.call({
      service: 'compute',
      method: 'POST',
      path: `/servers/${id}/action`,
      body: { [`os-${action}`]: null },
      idempotent: false,
      what,
    });
    this.expectAction(
      res,
      [202],
      what,
      'the server is already ' +
        (action === 'stop' ? 'stopped' : 'running') +
        ' or has a task in flight: read instance()',
    );
    const requestId = requestIdOf(res);
    this.logger.log('info', `${action} requested`, { serverId: id, requestId });
    return { requestId };
  }

  /** The ids of the ports Nova has attached to the server (`os-interface`). */
  async interfaces(serverId: string): Promise<readonly string[]> {
    const id = requireUuid('server', serverId);
    const what = `list interfaces of server ${id}`;
    const res = await this.call({
      service: 'compute',
      method: 'GET',
      path: `/servers/${id}/os-interface`,
      idempotent: true,
      what,
    });
    this.expect(res, [200], what, 'compute');
    return list(parseJson(res.text, what), 'interfaceAttachments', what)
      .map((a) => a['port_id'])
      .filter((p): p is string => typeof p === 'string')
      .sort();
  }

  /**
   * Unplugs a port from the server (the port stays in Neutron, unbound) —
   * the other lighter step before a reboot for a NIC that stopped passing
   * traffic. Accepted, not finished: watch `interfaces()`.
   */
  async detachInterface(serverId: string, portId: string): Promise<void> {
    const id = requireUuid('server', serverId);
    const port = requireUuid('port', portId);
    const what = `detach port ${port} from server ${id}`;
    const res = await this.call({
      service: 'compute',
      method: 'DELETE',
      path: `/servers/${id}/os-interface/${port}`,
      idempotent: false,
      what,
    });
    this.expectAction(
      res,
      [202],
      what,
      'a task is in flight on the server, or it is in a state that refuses interface changes: read instance()',
    );
    this.logger.log('info', 'interface detach requested', { serverId: id, portId: port });
  }

  /** Plugs an existing port into the server; Nova binds it to the server's host. */
  async attachInterface(serverId: string, portId: string): Promise<void> {
    const id = requireUuid('server', serverId);
    const port = requireUuid('port', portId);
    const what = `attach port ${port} to server ${id}`;
    const res = await this.call({
      service: 'compute',
      method: 'POST',
      path: `/servers/${id}/os-interface`,
      body: { interfaceAttachment: { port_id: port } },
      idempotent: false,
      what,
    });
    this.expectAction(
      res,
      [200, 202],
      what,
      'the port may be in use by another server, or a task is in flight: read ports() and instance()',
    );
    this.logger.log('info', 'interface attach requested', { serverId: id, portId: port });
  }

  async ports(serverId: string): Promise<readonly CloudPort[]> {
    const id = requireUuid('server', serverId);
    return (await this.portsOf([id])).sort((a, b) => a.id.localeCompare(b.id));
  }

  async setPortAdminState(portId: string, up: boolean): Promise<CloudPort> {
    const id = requireUuid('port', portId);
    const what = `update port ${id}`;
    const res = await this.call({
      service: 'network',
      method: 'PUT',
      path: `/ports/${id}`,
      body: { port: { admin_state_up: up } },
      // Setting a value is the same the second time.
      idempotent: true,
      what,
    });
    this.expect(res, [200], what, 'network');
    const port = mapPort(member(parseJson(res.text, what), 'port', what), what);
    this.logger.log('info', 'port admin state set', { portId: id, adminStateUp: up });
    return port;
  }

  async geneveAllowed(serverIds: readonly string[]): Promise<GeneveReport> {
    const ids = requireGeneveServers(serverIds);
    const ports = await this.portsOf(ids);
    const groupIds = [...new Set(ports.flatMap((p) => p.securityGroupIds))];
    const groups: SecurityGroup[] = [];
    const what = 'list security groups';
    for (let i = 0; i < groupIds.length; i += FILTER_CHUNK) {
      const query = new URLSearchParams(
        groupIds.slice(i, i + FILTER_CHUNK).map((g): [string, string] => ['id', g]),
      );
      const res = await this.call({
        service: 'network',
        method: 'GET',
        path: `/security-groups?${query.toString()}`,
        idempotent: true,
        what,
      });
      this.expect(res, [200], what, 'network');
      groups.push(
        ...list(parseJson(res.text, what), 'security_groups', what).map((g) =>
          mapSecurityGroup(g, what),
        ),
      );
    }
    return judgeGeneve(
      ids.map((id) => ({ id, ports: ports.filter((p) => p.deviceId === id) })),
      groups,
    );
  }

  private async portsOf(serverIds: readonly string[]): Promise<CloudPort[]> {
    const what = `list ports of server${serverIds.length > 1 ? 's' : ''} ${serverIds.join(', ')}`;
    const ports: CloudPort[] = [];
    for (let i = 0; i < serverIds.length; i += FILTER_CHUNK) {
      const query = new URLSearchParams(
        serverIds.slice(i, i + FILTER_CHUNK).map((s): [string, string] => ['device_id', s]),
      );
      const res = await this.call({
        service: 'network',
        method: 'GET',
        path: `/ports?${query.toString()}`,
        idempotent: true,
        what,
      });
      this.expect(res, [200], what, 'network');
      ports.push(...list(parseJson(res.text, what), 'ports', what).map((p) => mapPort(p, what)));
    }
    return ports;
  }

  /** A request with a token; one fresh token and one more try when the API says 401 (revoked or expired early). */
  private async call(options: CallOptions): Promise<HttpResponse> {
    for (let attempt = 1; ; attempt += 1) {
      const token = await this.session.token();
      const res = await this.transport.send({
        service: options.service,
        method: options.method,
        url: this.url(this.session.endpoint(token, options.service), options),
        headers: {
          'x-auth-token': token.value,
          ...(options.service === 'compute'
            ? { 'openstack-api-version': `compute ${NOVA_MICROVERSION}` }
            : {}),
        },
        ...(options.body === undefined ? {} : { body: options.body }),
        idempotent: options.idempotent,
        what: options.what,
      });
      if (res.status !== 401 || attempt > 1) return res;
      this.logger.log('info', 'token refused; authenticating again', { what: options.what });
      this.session.invalidate(token.value);
    }
  }

  private url(base: string, options: CallOptions): URL {
    let root = base.replace(/\/+$/, '');
    // Neutron's catalogue URL is usually unversioned (http://neutron:9696/).
    if (options.service === 'network' && !/\/v2\.0$/.test(root)) root += '/v2.0';
    return new URL(root + options.path);
  }

  /** Like expect(), with Nova's 409 as CONFLICT and a hint of what to do. */
  private expectAction(
    res: HttpResponse,
    ok: readonly number[],
    what: string,
    hint: string | ((novaMessage: string) => string),
  ): void {
    if (res.status === 409) {
      const error = errorFromResponse(res, what, 'compute', this.session.secrets());
      throw new OpenStackHttpError('CONFLICT', error.message, {
        hint: typeof hint === 'string' ? hint : hint(error.apiMessage),
        status: error.status,
        fault: error.fault,
        apiMessage: error.apiMessage,
        requestId: error.requestId,
      });
    }
    this.expect(res, ok, what, 'compute');
  }

  private expect(
    res: HttpResponse,
    ok: readonly number[],
    what: string,
    service: 'compute' | 'network',
  ): void {
    if (ok.includes(res.status)) return;
    throw errorFromResponse(res, what, service, this.session.secrets());
  }
}
