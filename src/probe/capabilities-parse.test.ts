import { describe, expect, it } from 'vitest';
import { probeFixture } from '../../test/fixtures/probe/fixture.ts';
import { CAP_NET_RAW, hasCapability, parseEffectiveCapabilities } from './capabilities-parse.ts';

describe('effective capabilities from /proc/self/status', () => {
  it('root has CAP_NET_RAW', () => {
    const mask = parseEffectiveCapabilities(probeFixture('proc-status-root.txt'));
    expect(mask).toBe(0x1fffeffffffn);
    expect(hasCapability(mask ?? 0n, CAP_NET_RAW)).toBe(true);
  });

  it('nobody has none', () => {
    const mask = parseEffectiveCapabilities(probeFixture('proc-status-nobody.txt'));
    expect(mask).toBe(0n);
    expect(hasCapability(mask ?? 1n, CAP_NET_RAW)).toBe(false);
  });

  it('checks exactly bit 13', () => {
    expect(hasCapability(1n << 13n, CAP_NET_RAW)).toBe(true);
    expect(hasCapability(~(1n << 13n) & 0xffffffffn, CAP_NET_RAW)).toBe(false);
  });

  it('is null for text without CapEff', () => {
    expect(parseEffectiveCapabilities('Name:\tnode\n')).toBeNull();
  });
});
