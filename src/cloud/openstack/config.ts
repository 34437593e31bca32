/**
 * Where the OpenStack adapter gets its credentials: the OS_* environment an
 * openrc file sets, or one cloud of a clouds.yaml. Either way a missing
 * setting is a BAD_INPUT error naming every variable or key that is missing.
 */
import { parse as parseYaml } from 'yaml';
import { badInput, describeError, NodeWardenError } from '../../core/errors.ts';

export type EndpointInterface = 'public' | 'internal' | 'admin';

/** A Keystone domain, by name or by id. */
export type DomainRef = { readonly name: string } | { readonly id: string };

export type OpenStackAuth =
  | {
      readonly type: 'password';
      readonly username: string;
      readonly password: string;
      readonly userDomain: DomainRef;
      readonly projectName: string;
      readonly projectDomain: DomainRef;
    }
  | {
      /** Scoped to the project it was created in; no project settings needed. */
      readonly type: 'application_credential';
      readonly id: string;
      readonly secret: string;
    };

export interface OpenStackConfig {
  /** Keystone, e.g. `https://keystone.example:5000/v3` (with or without `/v3`). */
  readonly authUrl: string;
  readonly auth: OpenStackAuth;
  /** Catalogue region; required when the catalogue has endpoints in several. */
  readonly region?: string;
  /** Catalogue interface; default `public`. */
  readonly interface: EndpointInterface;
  /** PEM bundle of the CAs that sign the cloud's certificates. */
  readonly caFile?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const INTERFACES: Readonly<Record<string, EndpointInterface>> = {
  public: 'public',
  publicURL: 'public',
  internal: 'internal',
  internalURL: 'internal',
  admin: 'admin',
  adminURL: 'admin',
};

function validUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (error) {
    throw new NodeWardenError('BAD_INPUT', `${name} ${JSON.stringify(value)} is not a URL`, {
      hint: 'set it to the Keystone URL, e.g. https://keystone.example:5000/v3',
      cause: error,
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw badInput(`${name} ${value} is not http(s)`, 'use the https:// Keystone URL');
  }
  return value;
}

function endpointInterface(value: string | undefined, name: string): EndpointInterface {
  if (value === undefined || value === '') return 'public';
  const found = INTERFACES[value];
  if (found === undefined) {
    throw badInput(
      `${name} ${JSON.stringify(value)} is not public, internal or admin`,
      `set ${name} to public, internal or admin`,
    );
  }
  return found;
}

function missingError(source: string, missing: readonly string[]): NodeWardenError {
  return badInput(
    `${source} is missing ${missing.join(', ')}`,
    `set ${missing.length === 1 ? 'it' : 'them'} (an openrc file or clouds.yaml from the cloud dashboard has the values)`,
  );
}

function isApplicationCredential(authType: string | undefined, hasAppCred: boolean): boolean {
  if (authType === undefined || authType === '') return hasAppCred;
  if (authType === 'v3applicationcredential' || authType === 'application_credential') return true;
  if (authType === 'password' || authType === 'v3password') return false;
  throw badInput(
    `auth type ${JSON.stringify(authType)} is not supported`,
    'use password (v3password) or v3applicationcredential',
  );
}

/**
 * Reads the OS_* variables of an openrc file: OS_AUTH_URL; either OS_USERNAME,
 * OS_PASSWORD, OS_PROJECT_NAME, OS_USER_DOMAIN_NAME (or _ID) and
 * OS_PROJECT_DOMAIN_NAME (or _ID), or OS_APPLICATION_CREDENTIAL_ID and
 * _SECRET (chosen by OS_AUTH_TYPE, else by the presence of either); and the
 * optional OS_REGION_NAME, OS_INTERFACE and OS_CACERT.
 */
export function openStackConfigFromEnv(env: Env): OpenStackConfig {
  const get = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const missing: string[] = [];
  const need = (name: string): string => {
    const value = get(name);
    if (value === undefined) missing.push(name);
    return value ?? '';
  };
  const domain = (kind: 'USER' | 'PROJECT'): DomainRef => {
    const name = get(`OS_${kind}_DOMAIN_NAME`);
    const id = get(`OS_${kind}_DOMAIN_ID`);
    if (name !== undefined) return { name };
    if (id !== undefined) return { id };
    missing.push(`OS_${kind}_DOMAIN_NAME (or OS_${kind}_DOMAIN_ID)`);
    return { name: '' };
  };
  const authUrl = need('OS_AUTH_URL');
  const appCred = isApplicationCredential(
    get('OS_AUTH_TYPE'),
    get('OS_APPLICATION_CREDENTIAL_ID') !== undefined ||
      get('OS_APPLICATION_CREDENTIAL_SECRET') !== undefined,
  );
  const auth: OpenStackAuth = appCred
    ? {
        type: 'application_credential',
        id: need('OS_APPLICATION_CREDENTIAL_ID'),
        secret: need('OS_APPLICATION_CREDENTIAL_SECRET'),
      }
    : {
        type: 'password',
        username: need('OS_USERNAME'),
        password: need('OS_PASSWORD'),
        userDomain: domain('USER'),
        projectName: need('OS_PROJECT_NAME'),
        projectDomain: domain('PROJECT'),
      };
  if (missing.length > 0) throw missingError('the OpenStack environment', missing);
  const region = get('OS_REGION_NAME');
  const caFile = get('OS_CACERT');
  return {
    authUrl: validUrl(authUrl, 'OS_AUTH_URL'),
    auth,
    interface: endpointInterface(get('OS_INTERFACE'), 'OS_INTERFACE'),
    ...(region === undefined ? {} : { region }),
    ...(caFile === undefined ? {} : { caFile }),
  };
}

function record(value: unknown): Readonly<Record<string, unknown>> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * Reads one cloud of a parsed clouds.yaml (`{clouds: {<name>: {auth: {…},
 * auth_type, region_name, interface, cacert}}}`), with the same rules as the
 * environment; keys are named by their path in the error.
 */
export function openStackConfigFromClouds(doc: unknown, cloud: string): OpenStackConfig {
  const clouds = record(record(doc)?.['clouds']);
  const entry = record(clouds?.[cloud]);
  if (entry === undefined) {
    const names = Object.keys(clouds ?? {});
    throw badInput(
      `clouds.yaml has no cloud ${JSON.stringify(cloud)}${names.length > 0 ? ` (it has: ${names.join(', ')})` : ''}`,
      'pass the name of a cloud under `clouds:` (OS_CLOUD)',
    );
  }
  const auth = record(entry['auth']) ?? {};
  const prefix = `clouds.${cloud}`;
  const missing: string[] = [];
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' && value !== '' ? value : undefined;
  const need = (key: string): string => {
    const value = text(auth[key]);
    if (value === undefined) missing.push(`${prefix}.auth.${key}`);
    return value ?? '';
  };
  const domain = (kind: 'user' | 'project'): DomainRef => {
    const name = text(auth[`${kind}_domain_name`]);
    const id = text(auth[`${kind}_domain_id`]);
    if (name !== undefined) return { name };
    if (id !== undefined) return { id };
    missing.push(`${prefix}.auth.${kind}_domain_name (or ${kind}_domain_id)`);
    return { name: '' };
  };
  const authUrl = need('auth_url');
  const appCred = isApplicationCredential(
    text(entry['auth_type']),
    text(auth['application_credential_id']) !== undefined,
  );
  const parsedAuth: OpenStackAuth = appCred
    ? {
        type: 'application_credential',
        id: need('application_credential_id'),
        secret: need('application_credential_secret'),
      }
    : {
        type: 'password',
        username: need('username'),
        password: need('password'),
        userDomain: domain('user'),
        projectName: need('project_name'),
        projectDomain: domain('project'),
      };
  if (missing.length > 0) throw missingError('clouds.yaml', missing);
  const region = text(entry['region_name']);
  const caFile = text(entry['cacert']);
  return {
    authUrl: validUrl(authUrl, `${prefix}.auth.auth_url`),
    auth: parsedAuth,
    interface: endpointInterface(text(entry['interface']), `${prefix}.interface`),
    ...(region === undefined ? {} : { region }),
    ...(caFile === undefined ? {} : { caFile }),
  };
}

/** Parses clouds.yaml text and reads one cloud of it. */
export function openStackConfigFromCloudsYaml(text: string, cloud: string): OpenStackConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new NodeWardenError('BAD_INPUT', `clouds.yaml is not YAML: ${describeError(error)}`, {
      hint: 'fix the file, or use the OS_* environment instead',
      cause: error,
    });
  }
  return openStackConfigFromClouds(doc, cloud);
}

/** The configuration without its secrets, for logs and `status` output. */
export function describeOpenStackConfig(config: OpenStackConfig): Record<string, string> {
  const who =
    config.auth.type === 'password'
      ? {
          authType: 'password',
          username: config.auth.username,
          project: config.auth.projectName,
        }
      : { authType: 'application_credential', applicationCredentialId: config.auth.id };
  return {
    authUrl: config.authUrl,
    ...who,
    interface: config.interface,
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.caFile === undefined ? {} : { caFile: config.caFile }),
  };
}
