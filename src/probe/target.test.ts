import { describe, expect, it } from 'vitest';
import { sreCommands, fractionalSeconds, wholeSeconds } from './sre-commands.ts';
import { validateTarget } from './target.ts';

describe('validateTarget', () => {
  it('accepts IPv4 and IPv6 literals and tells their family', () => {
    expect(validateTarget({ ip: '10.62.0.30', port: 10250, timeoutMs: 3000 })).toEqual({
      ip: '10.62.0.30',
      port: 10250,
      timeoutMs: 3000,
      family: 4,
    });
    expect(validateTarget({ ip: 'fd00::30', port: 1, timeoutMs: 100 }).family).toBe(6);
  });

  it.each(['10.62.0.300', 'node-1', '-c', '10.62.0.30; reboot', '', '10.62.0.30/32'])(
    'refuses %j before any command sees it',
    (ip) => {
      expect(() => validateTarget({ ip, port: 10250, timeoutMs: 3000 })).toThrow(
        expect.objectContaining({
          code: 'BAD_INPUT',
          message: `"${ip}" is not an IPv4 or IPv6 address`,
        }),
      );
    },
  );

  it.each([0, 65536, -1, 1.5, Number.NaN])('refuses port %d', (port) => {
    expect(() => validateTarget({ ip: '10.62.0.30', port, timeoutMs: 3000 })).toThrow(
      /is not a TCP port/,
    );
  });

  it.each([0, 99, 60_001, -3000, 2.5])('refuses timeout %d ms', (timeoutMs) => {
    expect(() => validateTarget({ ip: '10.62.0.30', port: 10250, timeoutMs })).toThrow(/timeout/);
  });
});

describe('the commands an SRE would type', () => {
  it('match the 2025-08-25 report for the seed node', () => {
    expect(sreCommands.arping('10.62.0.30', 'eth0', 3000)).toBe(
      'arping -c 1 -w 3 -I eth0 10.62.0.30',
    );
    expect(sreCommands.ping('10.62.0.30', 3000)).toBe('ping -c 1 -W 3 10.62.0.30');
    expect(sreCommands.nc('10.62.0.30', 10250, 3000)).toBe('nc -vz -w 3 10.62.0.30 10250');
    expect(sreCommands.curl('10.62.0.30', 10250)).toBe('curl -sk https://10.62.0.30:10250/healthz');
  });

  it('use ping -6 and a bracketed URL for IPv6', () => {
    expect(sreCommands.ping('fd00::30', 3000)).toBe('ping -6 -c 1 -W 3 fd00::30');
    expect(sreCommands.curl('fd00::30', 10250)).toBe('curl -sk https://[fd00::30]:10250/healthz');
  });

  it('round seconds up for tools that take whole seconds, keep fractions for ping', () => {
    expect(wholeSeconds(1500)).toBe(2);
    expect(wholeSeconds(100)).toBe(1);
    expect(fractionalSeconds(1500)).toBe('1.5');
    expect(fractionalSeconds(250)).toBe('0.25');
  });
});
