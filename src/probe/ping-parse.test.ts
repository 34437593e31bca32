import { describe, expect, it } from 'vitest';
import { probeFixture } from '../../test/fixtures/probe/fixture.ts';
import { parsePing } from './ping-parse.ts';

describe('parsePing (real iputils output)', () => {
  it('reads the RTT of a reply', () => {
    expect(parsePing(probeFixture('ping-reply.txt'))).toEqual({ kind: 'reply', rttMs: 0.14 });
  });

  it('reads an IPv6 reply', () => {
    expect(parsePing(probeFixture('ping6-reply.txt'))).toEqual({ kind: 'reply', rttMs: 0.081 });
  });

  it("keeps the kernel's Destination Host Unreachable and who said it", () => {
    expect(parsePing(probeFixture('ping-unreachable.txt'))).toEqual({
      kind: 'icmp-error',
      message: 'Destination Host Unreachable',
      from: '10.99.0.1',
    });
  });

  it('reads 100% packet loss as no reply, whether ICMP is dropped or the peer is dead', () => {
    expect(parsePing(probeFixture('ping-loss.txt'))).toEqual({ kind: 'no-reply' });
    expect(parsePing(probeFixture('ping-timeout-dead-peer.txt'))).toEqual({ kind: 'no-reply' });
  });

  it('tells a missing route from a lost packet', () => {
    expect(parsePing(probeFixture('ping-network-unreachable.txt'))).toEqual({
      kind: 'network-unreachable',
      message: 'connect: Network is unreachable',
    });
  });

  it('recognises a ping without CAP_NET_RAW', () => {
    expect(parsePing(probeFixture('ping-no-cap-net-raw.txt'))).toEqual({
      kind: 'needs-cap-net-raw',
      message: 'socket: Operation not permitted',
    });
  });

  it("reads an IPv6 ICMP error and a router's error the same way", () => {
    const v6 = 'From fd99::1 icmp_seq=1 Destination unreachable: Address unreachable\n';
    expect(parsePing(v6)).toEqual({
      kind: 'icmp-error',
      from: 'fd99::1',
      message: 'Destination unreachable: Address unreachable',
    });
    expect(parsePing('From 10.0.0.1 icmp_seq=1 Time to live exceeded\n')).toMatchObject({
      kind: 'icmp-error',
      message: 'Time to live exceeded',
    });
  });

  it("passes anything else on as an error with ping's last line", () => {
    expect(parsePing('ping: unknown iface: nwfx-zz\n')).toEqual({
      kind: 'error',
      message: 'ping: unknown iface: nwfx-zz',
    });
    expect(parsePing('')).toEqual({ kind: 'error', message: 'ping printed nothing' });
  });
});
