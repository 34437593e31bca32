/**
 * Who may call the HTTP API, and as what role (`read` or `admin`). Three
 * authenticators behind one small port:
 * - `TokenFileAuth`: bearer tokens from `--read-token-file` and
 *   `--admin-token-file` (one token per line, `#` comments; re-read when the
 *   file changes, compared in constant time) — the controller's default;
 * - `TokenReviewAuth`: any token the Kubernetes API server accepts
 *   (service-account tokens), checked with a TokenReview; admin when the user
 *   or one of its groups is listed in `--admin-subjects`, read otherwise;
 *   answers are cached briefly so a dashboard's polling costs few reviews;
 * - `NoAuth`: everyone is admin — only for the demo on 127.0.0.1.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { badInput, describeError, NodeWardenError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { KubeHttpError, kubeRequest } from '../../kube/http.ts';
import { checkToken, digest, WatchedFile, type TokenEntry } from '../agent-api-auth.ts';
import { UnauthenticatedError } from '../http-errors.ts';
import type { AuthMode, Role } from './types.ts';

export interface ApiPrincipal {
  readonly subject: string;
  readonly role: Role;
}

export interface ApiAuthenticator {
  readonly mode: AuthMode;
  /** The caller of a bearer token (null: none sent); UnauthenticatedError when it is not valid. */
  authenticate(token: string | null): Promise<ApiPrincipal>;
}

/** The token of `Authorization: Bearer …`, or of `?access_token=` where a route allows it (SSE). */
export function requestToken(req: IncomingMessage, url: URL, allowQuery: boolean): string | null {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match?.[1] === undefined) {
      throw new UnauthenticatedError(
        'the Authorization header is not "Bearer <token>"',
        'send Authorization: Bearer <token>',
      );
    }
    return match[1];
  }
  return allowQuery ? url.searchParams.get('access_token') : null;
}

const noToken = (how: string): UnauthenticatedError =>
  new UnauthenticatedError('no bearer token: send Authorization: Bearer <token>', how);

export class NoAuth implements ApiAuthenticator {
  readonly mode = 'none';
  authenticate(): Promise<ApiPrincipal> {
    return Promise.resolve({
      subject: 'anonymous (no authentication: demo on loopback)',
      role: 'admin',
    });
  }
}

function parseRoleTokens(role: Role) {
  return (text: string, file: string): readonly TokenEntry<ApiPrincipal>[] => {
    const lines = text.split('\n').map((l) => l.replace(/#.*$/, '').trim());
    const entries = lines.flatMap((token, i) =>
      token === ''
        ? []
        : [
            {
              digest: digest(checkToken(token, `${file}:${i + 1}`)),
              principal: { subject: `${role} token ${file}:${i + 1}`, role },
            },
          ],
    );
    if (entries.length === 0) {
      throw badInput(`${role} token file ${file} holds no token`, 'put one token per line in it');
    }
    return entries;
  };
}

export interface TokenFileAuthOptions {
  readonly readTokenFile?: string;
  readonly adminTokenFile?: string;
  /** How often the files' metadata is checked. Default 5 s. */
  readonly recheckMs?: number;
}

export class TokenFileAuth implements ApiAuthenticator {
  readonly mode = 'tokens';
  readonly #files: WatchedFile<ApiPrincipal>[] = [];

  constructor(options: TokenFileAuthOptions) {
    const recheck = options.recheckMs ?? 5_000;
    if (options.readTokenFile !== undefined)
      this.#files.push(new WatchedFile(options.readTokenFile, parseRoleTokens('read'), recheck));
    if (options.adminTokenFile !== undefined)
      this.#files.push(new WatchedFile(options.adminTokenFile, parseRoleTokens('admin'), recheck));
  }

  authenticate(token: string | null): Promise<ApiPrincipal> {
    if (this.#files.length === 0) {
      return Promise.reject(
        new UnauthenticatedError(
          'this controller accepts no API token',
          'start it with --read-token-file and/or --admin-token-file, or --auth tokenreview',
        ),
      );
    }
    if (token === null)
      return Promise.reject(noToken('use a token from the read or admin token file'));
    const presented = digest(token);
    let found: ApiPrincipal | null = null;
    const now = Date.now();
    for (const file of this.#files)
      for (const entry of file.entries(now))
        // No early exit: every entry is compared whatever matched. An admin entry wins over read.
        if (
          timingSafeEqual(presented, entry.digest) &&
          (found === null || entry.principal.role === 'admin')
        )
          found = entry.principal;
    if (found === null) {
      return Promise.reject(
        new UnauthenticatedError(
          'the bearer token is not valid',
          'use a token from the read or admin token file',
        ),
      );
    }
    return Promise.resolve(found);
  }
}

/** `user:<name>`, `group:<name>`, or a bare user name. */
export function parseAdminSubjects(text: string): { users: Set<string>; groups: Set<string> } {
  const users = new Set<string>();
  const groups = new Set<string>();
  for (const raw of text.split(',').map((s) => s.trim())) {
    if (raw === '') continue;
    if (raw.startsWith('group:') && raw.length > 6) groups.add(raw.slice(6));
    else if (raw.startsWith('user:') && raw.length > 5) users.add(raw.slice(5));
    else if (raw.includes(':') && !raw.startsWith('system:'))
      throw badInput(
        `--admin-subjects entry "${raw}" is not user:<name> or group:<name>`,
        'e.g. --admin-subjects user:system:serviceaccount:nodewarden:admin,group:sre',
      );
    else users.add(raw);
  }
  return { users, groups };
}

interface TokenReviewStatus {
  readonly status?: {
    readonly authenticated?: boolean;
    readonly user?: { readonly username?: string; readonly groups?: readonly string[] };
    readonly error?: string;
  };
}

export interface TokenReviewOptions {
  readonly adminSubjects: string;
  /** How long an answer is reused. Default 10 s (a refused token: 2 s). */
  readonly cacheMs?: number;
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

export class TokenReviewAuth implements ApiAuthenticator {
  readonly mode = 'tokenreview';
  readonly #admins: { users: Set<string>; groups: Set<string> };
  readonly #cache = new Map<string, { until: number; principal: ApiPrincipal | null }>();
  readonly #cacheMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(
    private readonly kc: KubeConfig,
    private readonly log: Logger,
    options: TokenReviewOptions,
  ) {
    this.#admins = parseAdminSubjects(options.adminSubjects);
    this.#cacheMs = options.cacheMs ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#now = options.now ?? Date.now;
  }

  async authenticate(token: string | null): Promise<ApiPrincipal> {
    if (token === null)
      throw noToken('send a Kubernetes service-account token (kubectl create token …)');
    const key = digest(token).toString('hex');
    const now = this.#now();
    const cached = this.#cache.get(key);
    let principal: ApiPrincipal | null;
    if (cached !== undefined && cached.until > now) principal = cached.principal;
    else {
      principal = await this.#review(token);
      if (this.#cache.size > 1_000) this.#cache.clear();
      this.#cache.set(key, {
        until: now + (principal === null ? 2_000 : this.#cacheMs),
        principal,
      });
    }
    if (principal === null) {
      throw new UnauthenticatedError(
        'the API server did not accept the bearer token (TokenReview)',
        'send a valid service-account token (kubectl create token <serviceaccount>)',
      );
    }
    return principal;
  }

  async #review(token: string): Promise<ApiPrincipal | null> {
    let answer: TokenReviewStatus;
    try {
      answer = await kubeRequest<TokenReviewStatus>(
        this.kc,
        'POST',
        '/apis/authentication.k8s.io/v1/tokenreviews',
        this.#timeoutMs,
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      );
    } catch (error) {
      this.log.log('warn', 'TokenReview failed', { error: describeError(error) });
      // Not the caller's fault: the API server could not be asked, or refused us the review.
      throw new NodeWardenError(
        'UNAVAILABLE',
        `cannot check the bearer token: TokenReview failed: ${describeError(error)}`,
        {
          hint:
            error instanceof KubeHttpError && error.status === 403
              ? "the controller's ServiceAccount needs create on tokenreviews.authentication.k8s.io (ClusterRole system:auth-delegator)"
              : 'the API server is unreachable from the controller; retry',
          cause: error,
        },
      );
    }
    const status = answer.status;
    if (status?.authenticated !== true || status.user?.username === undefined) return null;
    const user = status.user.username;
    const groups = status.user.groups ?? [];
    const admin = this.#admins.users.has(user) || groups.some((g) => this.#admins.groups.has(g));
    return { subject: user, role: admin ? 'admin' : 'read' };
  }
}
