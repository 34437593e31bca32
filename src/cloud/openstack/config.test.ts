import { describe, expect, it } from 'vitest';
import { NodeWardenError } from '../../core/errors.ts';
import {
  describeOpenStackConfig,
  openStackConfigFromClouds,
  openStackConfigFromCloudsYaml,
  openStackConfigFromEnv,
} from './config.ts';

const PASSWORD_ENV = {
  OS_AUTH_URL: 'https://keystone.tkai.example:5000/v3',
  OS_USERNAME: 'nodewarden',
  OS_PASSWORD: 'N0deWarden-pa55w0rd!',
  OS_PROJECT_NAME: 'tkai-oks',
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_DOMAIN_NAME: 'Default',
};

function badInput(fn: () => unknown): NodeWardenError {
  try {
    fn();
  } catch (error) {
    if (error instanceof NodeWardenError && error.code === 'BAD_INPUT') {
      expect(error.hint).toBeTruthy();
      return error;
    }
    throw error;
  }
  throw new Error('expected BAD_INPUT, and it succeeded');
}

describe('openStackConfigFromEnv', () => {
  it('reads an openrc password environment, defaults the interface to public', () => {
    expect(
      openStackConfigFromEnv({
        ...PASSWORD_ENV,
        OS_REGION_NAME: 'RegionOne',
        OS_CACERT: '/etc/ssl/tkai-ca.pem',
      }),
    ).toEqual({
      authUrl: 'https://keystone.tkai.example:5000/v3',
      auth: {
        type: 'password',
        username: 'nodewarden',
        password: 'N0deWarden-pa55w0rd!',
        userDomain: { name: 'Default' },
        projectName: 'tkai-oks',
        projectDomain: { name: 'Default' },
      },
      region: 'RegionOne',
      interface: 'public',
      caFile: '/etc/ssl/tkai-ca.pem',
    });
  });

  it('takes domain ids when names are absent, and legacy interface names', () => {
    const rest: Record<string, string | undefined> = { ...PASSWORD_ENV };
    delete rest['OS_USER_DOMAIN_NAME'];
    delete rest['OS_PROJECT_DOMAIN_NAME'];
    const config = openStackConfigFromEnv({
      ...rest,
      OS_USER_DOMAIN_ID: 'default',
      OS_PROJECT_DOMAIN_ID: 'default',
      OS_INTERFACE: 'internalURL',
    });
    expect(config.auth).toMatchObject({
      userDomain: { id: 'default' },
      projectDomain: { id: 'default' },
    });
    expect(config.interface).toBe('internal');
  });

  it('names every missing variable at once', () => {
    const error = badInput(() =>
      openStackConfigFromEnv({
        OS_AUTH_URL: 'https://k/v3',
        OS_USERNAME: 'nodewarden',
        OS_PASSWORD: '',
      }),
    );
    expect(error.message).toBe(
      'the OpenStack environment is missing OS_PASSWORD, OS_USER_DOMAIN_NAME (or OS_USER_DOMAIN_ID), OS_PROJECT_NAME, OS_PROJECT_DOMAIN_NAME (or OS_PROJECT_DOMAIN_ID)',
    );
    expect(badInput(() => openStackConfigFromEnv({})).message).toContain('OS_AUTH_URL');
  });

  it('reads an application credential, chosen by OS_AUTH_TYPE or by its variables', () => {
    const env = {
      OS_AUTH_URL: 'https://keystone.tkai.example:5000',
      OS_APPLICATION_CREDENTIAL_ID: '9e2d7f4c1b3a4e6f8d0c2b4a6e8f0d1c',
      OS_APPLICATION_CREDENTIAL_SECRET: 'Ap9-s3cret',
    };
    expect(openStackConfigFromEnv(env).auth).toEqual({
      type: 'application_credential',
      id: '9e2d7f4c1b3a4e6f8d0c2b4a6e8f0d1c',
      secret: 'Ap9-s3cret',
    });
    expect(
      openStackConfigFromEnv({ ...env, ...PASSWORD_ENV, OS_AUTH_TYPE: 'v3applicationcredential' })
        .auth.type,
    ).toBe('application_credential');
    expect(
      openStackConfigFromEnv({ ...env, ...PASSWORD_ENV, OS_AUTH_TYPE: 'password' }).auth.type,
    ).toBe('password');
  });

  it('an application credential without its secret names OS_APPLICATION_CREDENTIAL_SECRET', () => {
    const error = badInput(() =>
      openStackConfigFromEnv({ OS_AUTH_URL: 'https://k/v3', OS_APPLICATION_CREDENTIAL_ID: 'abc' }),
    );
    expect(error.message).toBe(
      'the OpenStack environment is missing OS_APPLICATION_CREDENTIAL_SECRET',
    );
  });

  it('refuses a bad URL, interface or auth type, naming the variable', () => {
    expect(
      badInput(() => openStackConfigFromEnv({ ...PASSWORD_ENV, OS_AUTH_URL: 'keystone:5000' }))
        .message,
    ).toContain('OS_AUTH_URL');
    expect(
      badInput(() => openStackConfigFromEnv({ ...PASSWORD_ENV, OS_AUTH_URL: 'ftp://k/v3' }))
        .message,
    ).toContain('not http(s)');
    expect(
      badInput(() => openStackConfigFromEnv({ ...PASSWORD_ENV, OS_INTERFACE: 'private' })).message,
    ).toBe('OS_INTERFACE "private" is not public, internal or admin');
    expect(
      badInput(() => openStackConfigFromEnv({ ...PASSWORD_ENV, OS_AUTH_TYPE: 'v3totp' })).message,
    ).toContain('v3totp');
  });
});

const CLOUDS_YAML = `
clouds:
  tkai:
    auth:
      auth_url: https://keystone.tkai.example:5000/v3
      username: nodewarden
      password: "N0deWarden-pa55w0rd!"
      project_name: tkai-oks
      user_domain_name: Default
      project_domain_id: default
    region_name: RegionOne
    interface: internal
    cacert: /etc/ssl/tkai-ca.pem
    identity_api_version: 3
  tkai-appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.tkai.example:5000
      application_credential_id: 9e2d7f4c1b3a4e6f8d0c2b4a6e8f0d1c
      application_credential_secret: Ap9-s3cret
`;

describe('openStackConfigFromClouds', () => {
  it('reads a password cloud and an application-credential cloud from clouds.yaml', () => {
    expect(openStackConfigFromCloudsYaml(CLOUDS_YAML, 'tkai')).toEqual({
      authUrl: 'https://keystone.tkai.example:5000/v3',
      auth: {
        type: 'password',
        username: 'nodewarden',
        password: 'N0deWarden-pa55w0rd!',
        userDomain: { name: 'Default' },
        projectName: 'tkai-oks',
        projectDomain: { id: 'default' },
      },
      region: 'RegionOne',
      interface: 'internal',
      caFile: '/etc/ssl/tkai-ca.pem',
    });
    expect(openStackConfigFromCloudsYaml(CLOUDS_YAML, 'tkai-appcred')).toEqual({
      authUrl: 'https://keystone.tkai.example:5000',
      auth: {
        type: 'application_credential',
        id: '9e2d7f4c1b3a4e6f8d0c2b4a6e8f0d1c',
        secret: 'Ap9-s3cret',
      },
      interface: 'public',
    });
  });

  it('an unknown cloud lists the clouds there are', () => {
    expect(badInput(() => openStackConfigFromCloudsYaml(CLOUDS_YAML, 'prod')).message).toBe(
      'clouds.yaml has no cloud "prod" (it has: tkai, tkai-appcred)',
    );
    expect(badInput(() => openStackConfigFromClouds(null, 'prod')).message).toBe(
      'clouds.yaml has no cloud "prod"',
    );
  });

  it('names missing keys by their path', () => {
    const error = badInput(() =>
      openStackConfigFromClouds(
        { clouds: { tkai: { auth: { auth_url: 'https://k/v3', username: 'nodewarden' } } } },
        'tkai',
      ),
    );
    expect(error.message).toBe(
      'clouds.yaml is missing clouds.tkai.auth.password, clouds.tkai.auth.user_domain_name (or user_domain_id), clouds.tkai.auth.project_name, clouds.tkai.auth.project_domain_name (or project_domain_id)',
    );
    expect(
      badInput(() =>
        openStackConfigFromClouds(
          { clouds: { tkai: { interface: 'backstage', auth: {} } } },
          'tkai',
        ),
      ).message,
    ).toContain('clouds.tkai.auth.auth_url');
  });

  it('text that is not YAML is BAD_INPUT', () => {
    expect(
      badInput(() => openStackConfigFromCloudsYaml('clouds: [unclosed', 'tkai')).message,
    ).toContain('not YAML');
  });
});

describe('describeOpenStackConfig', () => {
  it('keeps the password and the secret out', () => {
    const password = describeOpenStackConfig(openStackConfigFromCloudsYaml(CLOUDS_YAML, 'tkai'));
    const appCred = describeOpenStackConfig(
      openStackConfigFromCloudsYaml(CLOUDS_YAML, 'tkai-appcred'),
    );
    expect(password).toEqual({
      authUrl: 'https://keystone.tkai.example:5000/v3',
      authType: 'password',
      username: 'nodewarden',
      project: 'tkai-oks',
      interface: 'internal',
      region: 'RegionOne',
      caFile: '/etc/ssl/tkai-ca.pem',
    });
    expect(JSON.stringify([password, appCred])).not.toMatch(/N0deWarden-pa55w0rd|Ap9-s3cret/);
    expect(appCred['applicationCredentialId']).toBe('9e2d7f4c1b3a4e6f8d0c2b4a6e8f0d1c');
  });
});
