import { describe, expect, it } from 'vitest';
import {
  actionInitiator,
  parseProviderID,
  rebootConflictHint,
  requireConsoleLines,
  requireGeneveServers,
  requireRegion,
  requireSince,
  requireUuid,
} from './cloud.ts';
import { NodeWardenError } from './errors.ts';

const ID = '6e0d3a1c-0000-4000-8000-00000a3e001e';

function badInput(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof NodeWardenError && error.code === 'BAD_INPUT' && error.hint)
      return error.message;
    throw error;
  }
  throw new Error('expected BAD_INPUT');
}

describe('parseProviderID', () => {
  it('reads openstack:///<uuid> and the regional form, lower-casing the id', () => {
    expect(parseProviderID(`openstack:///${ID}`)).toEqual({ serverId: ID, region: null });
    expect(parseProviderID(`openstack://RegionOne/${ID.toUpperCase()}`)).toEqual({
      serverId: ID,
      region: 'RegionOne',
    });
  });

  it('refuses anything else, quoting it', () => {
    for (const bad of [
      '',
      ID,
      `aws:///${ID}`,
      `openstack://${ID}`,
      `openstack:///${ID}/`,
      'openstack:///bkqzq',
      `openstack:////${ID}`,
      `openstack://Region One/${ID}`,
      `OPENSTACK:///${ID}`,
    ]) {
      expect(badInput(() => parseProviderID(bad))).toBe(
        `providerID ${JSON.stringify(bad)} is not openstack:///<server uuid>`,
      );
    }
  });

  it('a providerID of another region than the adapter’s is refused; no region on either side passes', () => {
    expect(
      badInput(() => requireRegion({ serverId: ID, region: 'RegionTwo' }, 'RegionOne')),
    ).toContain('region RegionTwo');
    expect(() => requireRegion({ serverId: ID, region: null }, 'RegionOne')).not.toThrow();
    expect(() => requireRegion({ serverId: ID, region: 'RegionTwo' }, null)).not.toThrow();
  });
});

describe('actionInitiator', () => {
  it('a stop without a user is Nova’s power sync; with one, a user; anything else without one, unknown', () => {
    expect(actionInitiator('stop', null)).toBe('nova-power-sync');
    expect(actionInitiator('stop', '')).toBe('nova-power-sync');
    expect(actionInitiator('stop', 'a7c3e9f1')).toBe('user');
    expect(actionInitiator('reboot', 'a7c3e9f1')).toBe('user');
    expect(actionInitiator('delete', null)).toBe('unknown');
    expect(actionInitiator('start', null)).toBe('unknown');
  });
});

describe('input checks', () => {
  it('uuids', () => {
    expect(requireUuid('server', ID.toUpperCase())).toBe(ID);
    expect(badInput(() => requireUuid('port', '../x'))).toBe('port id "../x" is not a UUID');
  });

  it('console lines', () => {
    expect(requireConsoleLines(undefined)).toBeUndefined();
    expect(requireConsoleLines(1)).toBe(1);
    expect(requireConsoleLines(100_000)).toBe(100_000);
    for (const bad of [0, -1, 1.5, 100_001, Number.NaN]) badInput(() => requireConsoleLines(bad));
  });

  it('since: ISO-8601 with a zone, returned in UTC', () => {
    expect(requireSince('2025-08-25T13:00:00+09:00')).toBe('2025-08-25T04:00:00.000Z');
    expect(requireSince(undefined)).toBeUndefined();
    for (const bad of ['yesterday', '2025-08-25', '', '2025-13-45T99:00:00Z'])
      badInput(() => requireSince(bad));
  });

  it('geneve servers: at least two distinct', () => {
    expect(requireGeneveServers([ID, ID.toUpperCase(), ID.replace('1e', '0a')])).toEqual([
      ID,
      ID.replace('1e', '0a'),
    ]);
    expect(badInput(() => requireGeneveServers([ID, ID]))).toContain(
      'at least two distinct servers, got 1',
    );
  });
});

describe('rebootConflictHint', () => {
  it('reads Nova’s 409 message', () => {
    expect(
      rebootConflictHint(`Cannot 'reboot' instance ${ID} while it is in task_state rebooting`),
    ).toContain('HARD reboot');
    expect(
      rebootConflictHint(`Cannot 'reboot' instance ${ID} while it is in vm_state stopped`),
    ).toContain('stopped');
    expect(rebootConflictHint(`Instance ${ID} is locked`)).toContain('unlock');
    expect(rebootConflictHint('something else')).toContain('retry later');
  });
});
