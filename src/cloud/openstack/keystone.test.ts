import { describe, expect, it } from 'vitest';
import { NodeWardenError } from '../../core/errors.ts';
import {
  findEndpoint,
  parseKeystoneTime,
  renewAt,
  RENEW_BEFORE_MS,
  tokensUrl,
  type CatalogService,
} from './keystone.ts';

const catalog: CatalogService[] = [
  {
    type: 'compute',
    name: 'nova',
    endpoints: [
      { interface: 'public', region: 'RegionOne', url: 'https://nova.example/v2.1' },
      { interface: 'internal', region: 'RegionOne', url: 'http://nova.internal:8774/v2.1' },
    ],
  },
  {
    type: 'image',
    name: 'glance',
    endpoints: [{ interface: 'public', region: 'RegionOne', url: 'https://glance' }],
  },
];

function badInput(fn: () => unknown): NodeWardenError {
  try {
    fn();
  } catch (error) {
    if (error instanceof NodeWardenError && error.code === 'BAD_INPUT') return error;
    throw error;
  }
  throw new Error('expected BAD_INPUT');
}

describe('findEndpoint', () => {
  it('picks the interface, with or without a region when there is one region', () => {
    expect(findEndpoint(catalog, 'compute', 'internal', undefined)).toBe(
      'http://nova.internal:8774/v2.1',
    );
    expect(findEndpoint(catalog, 'compute', 'public', 'RegionOne')).toBe(
      'https://nova.example/v2.1',
    );
  });

  it('a service the catalogue lacks is named with what it has', () => {
    const error = badInput(() => findEndpoint(catalog, 'network', 'public', undefined));
    expect(error.message).toBe(
      'the Keystone catalogue has no network service (it has: compute, image)',
    );
    expect(error.hint).toContain('network');
    expect(badInput(() => findEndpoint([], 'compute', 'public', undefined)).message).toContain(
      '(it has: nothing)',
    );
  });

  it('a region the catalogue lacks is named with what it has', () => {
    expect(badInput(() => findEndpoint(catalog, 'compute', 'public', 'RegionTwo')).message).toBe(
      'the Keystone catalogue has no compute endpoint with interface public in region RegionTwo (it has: public@RegionOne, internal@RegionOne)',
    );
  });

  it('an endpoint URL that is not a URL is UNAVAILABLE, not a crash', () => {
    const broken: CatalogService[] = [
      {
        type: 'compute',
        name: 'nova',
        endpoints: [{ interface: 'public', region: null, url: 'nova:8774' }],
      },
    ];
    expect(() => findEndpoint(broken, 'compute', 'public', undefined)).toThrow(
      /is not an http\(s\) URL/,
    );
  });
});

describe('token times', () => {
  it('reads Keystone times with microseconds, with or without a zone', () => {
    expect(parseKeystoneTime('2015-11-07T02:58:43.578887Z')).toBe(
      Date.parse('2015-11-07T02:58:43.578Z'),
    );
    expect(parseKeystoneTime('2015-11-07T02:58:43.578887')).toBe(
      Date.parse('2015-11-07T02:58:43.578Z'),
    );
    expect(parseKeystoneTime('2015-11-07T11:58:43+09:00')).toBe(Date.parse('2015-11-07T02:58:43Z'));
  });

  it('renews five minutes early, or at half-life for a short token', () => {
    const t = (issuedAt: number, expiresAt: number) => ({
      value: 'x',
      issuedAt,
      expiresAt,
      userId: null,
      catalog: [],
    });
    expect(renewAt(t(0, 3_600_000))).toBe(3_600_000 - RENEW_BEFORE_MS);
    expect(renewAt(t(0, 240_000))).toBe(120_000);
  });

  it('finds the tokens URL from the auth URL with or without /v3', () => {
    expect(tokensUrl('https://k:5000/v3').href).toBe('https://k:5000/v3/auth/tokens');
    expect(tokensUrl('https://k:5000/v3/').href).toBe('https://k:5000/v3/auth/tokens');
    expect(tokensUrl('https://k/identity').href).toBe('https://k/identity/v3/auth/tokens');
  });
});
