/**
 * The few OpenStack API calls the lab makes to set itself up (projects,
 * users, the catalogue, a flavor, an image, a network): JSON over fetch with
 * a token, every answer checked. Not the adapter: the adapter reads a cloud,
 * this builds one.
 */
import { NodeWardenError } from '../../core/errors.ts';
import { keystoneUrl } from './plan.ts';

export interface RestAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

export async function rest(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH',
  url: string,
  options: {
    readonly token?: string;
    readonly body?: unknown;
    readonly raw?: Uint8Array;
    readonly ok?: readonly number[];
    readonly headers?: Readonly<Record<string, string>>;
  } = {},
): Promise<RestAnswer> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.token !== undefined) headers['x-auth-token'] = options.token;
  let body: string | Uint8Array | undefined;
  if (options.raw !== undefined) {
    headers['content-type'] = 'application/octet-stream';
    body = options.raw;
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      // Generous: on a loaded two-core machine Nova takes tens of seconds to accept a server.
      signal: AbortSignal.timeout(180_000),
    });
  } catch (error) {
    throw new NodeWardenError('UNAVAILABLE', `${method} ${url}: ${String(error)}`, {
      hint: 'see the service logs under the lab directory (logs/)',
      cause: error,
    });
  }
  const text = await res.text();
  const ok = options.ok ?? [200, 201, 202, 204];
  if (!ok.includes(res.status)) {
    throw new NodeWardenError(
      'UNAVAILABLE',
      `${method} ${url} answered HTTP ${res.status}: ${text.slice(0, 400)}`,
      { hint: 'see the service logs under the lab directory (logs/)' },
    );
  }
  let parsed: Record<string, unknown> = {};
  if (text !== '') {
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Not JSON (an image upload answers nothing); the status said enough.
    }
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** A project-scoped token by password. */
export async function passwordToken(
  user: string,
  password: string,
  project: string,
): Promise<string> {
  const answer = await rest('POST', `${keystoneUrl}/auth/tokens`, {
    body: {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user, domain: { id: 'default' }, password } },
        },
        scope: { project: { name: project, domain: { id: 'default' } } },
      },
    },
    ok: [201],
  });
  const token = answer.headers.get('x-subject-token');
  if (token === null) {
    throw new NodeWardenError('UNAVAILABLE', 'Keystone issued no X-Subject-Token', {
      hint: 'see logs/keystone.log under the lab directory',
    });
  }
  return token;
}

/** `body[key][field]` as a string, or an error naming what was missing. */
export function field(answer: RestAnswer, key: string, name = 'id'): string {
  const value = (answer.body[key] as Record<string, unknown> | undefined)?.[name];
  if (typeof value !== 'string') {
    throw new NodeWardenError('UNAVAILABLE', `the answer has no ${key}.${name}`, {
      hint: JSON.stringify(answer.body).slice(0, 200),
    });
  }
  return value;
}

/** The id of the first `key` list entry named `name`, or null. */
export async function findByName(
  url: string,
  token: string,
  key: string,
  name: string,
): Promise<string | null> {
  const answer = await rest('GET', url, { token });
  const list = answer.body[key];
  if (!Array.isArray(list)) return null;
  for (const entry of list as Record<string, unknown>[]) {
    if (entry['name'] === name && typeof entry['id'] === 'string') return entry['id'];
  }
  return null;
}
