/**
 * Keystone v3: a project-scoped token by password or application credential,
 * kept until shortly before it expires, and the service catalogue it came
 * with.
 */
import type { Clock } from '../../core/clock.ts';
import { badInput, NodeWardenError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { DomainRef, EndpointInterface, OpenStackConfig } from './config.ts';
import { errorFromResponse, headerValue, OpenStackHttpError, type Transport } from './http.ts';

export interface CatalogEndpoint {
  readonly interface: string;
  readonly region: string | null;
  readonly url: string;
}

export interface CatalogService {
  readonly type: string;
  readonly name: string;
  readonly endpoints: readonly CatalogEndpoint[];
}

export interface KeystoneToken {
  readonly value: string;
  /** Epoch ms. */
  readonly expiresAt: number;
  readonly issuedAt: number;
  readonly userId: string | null;
  readonly catalog: readonly CatalogService[];
}

/** Renew this long before expiry (or at half-life for tokens that live less than twice this). */
export const RENEW_BEFORE_MS = 5 * 60_000;

export function renewAt(token: KeystoneToken): number {
  const margin = Math.min(RENEW_BEFORE_MS, (token.expiresAt - token.issuedAt) / 2);
  return token.expiresAt - margin;
}

/** Keystone prints microseconds and may omit the zone; the zone is always UTC. */
export function parseKeystoneTime(text: string): number {
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/.test(text) ? text : `${text}Z`;
  return Date.parse(zoned.replace(/(\.\d{3})\d+/, '$1'));
}

function domainJson(domain: DomainRef): Record<string, string> {
  return 'id' in domain ? { id: domain.id } : { name: domain.name };
}

function domainText(domain: DomainRef): string {
  return 'id' in domain ? `domain id ${domain.id}` : `domain ${domain.name}`;
}

/** The auth request body (POST /v3/auth/tokens) for the configured method. */
export function authRequestBody(config: OpenStackConfig): unknown {
  const auth = config.auth;
  if (auth.type === 'application_credential') {
    return {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: auth.id, secret: auth.secret },
        },
      },
    };
  }
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: {
          user: {
            name: auth.username,
            domain: domainJson(auth.userDomain),
            password: auth.password,
          },
        },
      },
      scope: { project: { name: auth.projectName, domain: domainJson(auth.projectDomain) } },
    },
  };
}

export function tokensUrl(authUrl: string): URL {
  const base = authUrl.replace(/\/+$/, '');
  return new URL(/\/v3$/.test(base) ? `${base}/auth/tokens` : `${base}/v3/auth/tokens`);
}

function who(config: OpenStackConfig): string {
  const auth = config.auth;
  return auth.type === 'application_credential'
    ? `application credential ${auth.id}`
    : `user ${auth.username} (${domainText(auth.userDomain)}) in project ${auth.projectName} (${domainText(auth.projectDomain)})`;
}

function rec(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function parseCatalog(value: unknown): CatalogService[] {
  if (!Array.isArray(value)) return [];
  return value.map((entry) => {
    const s = rec(entry);
    const endpoints = Array.isArray(s['endpoints']) ? s['endpoints'] : [];
    return {
      type: typeof s['type'] === 'string' ? s['type'] : '',
      name: typeof s['name'] === 'string' ? s['name'] : '',
      endpoints: endpoints.map((raw) => {
        const e = rec(raw);
        const region = e['region_id'] ?? e['region'];
        return {
          interface: typeof e['interface'] === 'string' ? e['interface'] : '',
          region: typeof region === 'string' ? region : null,
          url: typeof e['url'] === 'string' ? e['url'] : '',
        };
      }),
    };
  });
}

/**
 * The URL of a service in the catalogue. Rules: the first service of the
 * type; its endpoints of the configured interface; of those, the configured
 * region's, or — with no region configured — the only region's. Every miss
 * is BAD_INPUT naming what the catalogue does have.
 */
export function findEndpoint(
  catalog: readonly CatalogService[],
  type: string,
  iface: EndpointInterface,
  region: string | undefined,
): string {
  const service = catalog.find((s) => s.type === type && s.endpoints.length > 0);
  if (service === undefined) {
    const types = [...new Set(catalog.map((s) => s.type))].join(', ') || 'nothing';
    throw badInput(
      `the Keystone catalogue has no ${type} service (it has: ${types})`,
      `the project cannot reach the ${type} API: check the project scope, or ask the cloud operator`,
    );
  }
  const available = service.endpoints
    .map((e) => `${e.interface}@${e.region ?? '(no region)'}`)
    .join(', ');
  const matching = service.endpoints.filter(
    (e) => e.interface === iface && (region === undefined || e.region === region),
  );
  if (matching.length === 0) {
    throw badInput(
      `the Keystone catalogue has no ${type} endpoint with interface ${iface}${region === undefined ? '' : ` in region ${region}`} (it has: ${available})`,
      'set the interface (OS_INTERFACE / interface) and region (OS_REGION_NAME / region_name) to one it has',
    );
  }
  const regions = [...new Set(matching.map((e) => e.region ?? '(no region)'))];
  if (regions.length > 1) {
    throw badInput(
      `the Keystone catalogue has ${type} endpoints in several regions (${regions.join(', ')})`,
      'set the region (OS_REGION_NAME / region_name)',
    );
  }
  const url = matching[0]?.url ?? '';
  if (!/^https?:\/\/[^/]/.test(url) || !URL.canParse(url)) {
    throw new NodeWardenError(
      'UNAVAILABLE',
      `the Keystone catalogue ${type} URL ${JSON.stringify(url)} is not an http(s) URL`,
      { hint: 'ask the cloud operator to fix the endpoint' },
    );
  }
  return url;
}

export class KeystoneSession {
  private current: KeystoneToken | null = null;
  private pending: Promise<KeystoneToken> | null = null;
  private readonly issued: string[] = [];

  constructor(
    private readonly config: OpenStackConfig,
    private readonly transport: Transport,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Everything secret this session holds, for the redacting logger. */
  secrets(): readonly string[] {
    const auth = this.config.auth;
    return [auth.type === 'password' ? auth.password : auth.secret, ...this.issued];
  }

  /** A valid token: the kept one, or a new one when it is due for renewal. Concurrent callers share one request. */
  token(): Promise<KeystoneToken> {
    const current = this.current;
    if (current !== null && this.clock.now() < renewAt(current)) return Promise.resolve(current);
    if (this.pending === null) {
      this.pending = this.authenticate().finally(() => {
        this.pending = null;
      });
    }
    return this.pending;
  }

  /** The API refused `value` (revoked, or expired early): the next call authenticates again. */
  invalidate(value: string): void {
    if (this.current?.value === value) this.current = null;
  }

  endpoint(token: KeystoneToken, type: 'compute' | 'network'): string {
    return findEndpoint(token.catalog, type, this.config.interface, this.config.region);
  }

  private async authenticate(): Promise<KeystoneToken> {
    const what = `authenticate ${who(this.config)}`;
    const res = await this.transport.send({
      service: 'identity',
      method: 'POST',
      url: tokensUrl(this.config.authUrl),
      body: authRequestBody(this.config),
      idempotent: true,
      what,
    });
    if (res.status !== 201 && res.status !== 200) {
      const error = errorFromResponse(res, what, 'identity', this.secrets());
      if (res.status === 401) {
        throw new OpenStackHttpError(
          'BAD_INPUT',
          `Keystone refused to ${what}: ${error.apiMessage}`,
          {
            hint:
              this.config.auth.type === 'password'
                ? 'check OS_USERNAME, OS_PASSWORD, OS_USER_DOMAIN_NAME, OS_PROJECT_NAME, OS_PROJECT_DOMAIN_NAME (or the clouds.yaml auth keys)'
                : 'check OS_APPLICATION_CREDENTIAL_ID and _SECRET; the credential may have expired or been deleted',
            status: 401,
            fault: error.fault,
            apiMessage: error.apiMessage,
            requestId: error.requestId,
          },
        );
      }
      throw error;
    }
    const value = headerValue(res, 'x-subject-token');
    let body: Record<string, unknown> = {};
    try {
      body = rec(rec(JSON.parse(res.text))['token']);
    } catch {
      // Reported below as a token without an expiry.
    }
    const expiresAt =
      typeof body['expires_at'] === 'string' ? parseKeystoneTime(body['expires_at']) : NaN;
    if (value === null || value === '' || Number.isNaN(expiresAt)) {
      throw new NodeWardenError(
        'UNAVAILABLE',
        `${what}: Keystone answered HTTP ${res.status} without ${value === null || value === '' ? 'an X-Subject-Token header' : 'a token expires_at'}`,
        { hint: 'the auth URL may point at something other than Keystone v3' },
      );
    }
    this.issued.push(value);
    const issuedText = body['issued_at'];
    const issuedAt =
      typeof issuedText === 'string' ? parseKeystoneTime(issuedText) : this.clock.now();
    const user = rec(body['user']);
    const token: KeystoneToken = {
      value,
      expiresAt,
      issuedAt: Number.isNaN(issuedAt) ? this.clock.now() : issuedAt,
      userId: typeof user['id'] === 'string' ? user['id'] : null,
      catalog: parseCatalog(body['catalog']),
    };
    this.current = token;
    this.logger.log('info', 'keystone token issued', {
      method: this.config.auth.type,
      expiresAt: new Date(expiresAt).toISOString(),
      renewAt: new Date(renewAt(token)).toISOString(),
    });
    return token;
  }
}
