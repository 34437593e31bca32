import { describe, expect, it } from 'vitest';
import { NodeWardenError } from '../core/errors.ts';
import { probeFixture } from '../../test/fixtures/probe/fixture.ts';
import { parseNeighbour, parseRouteGet } from './ip-parse.ts';

const MAC = '36:05:28:d6:20:c7';

describe('parseNeighbour (real ip -j neigh output)', () => {
  it.each([
    ['neigh-reachable.json', { state: 'REACHABLE', lladdr: MAC }],
    ['neigh-reachable-after-link-down.json', { state: 'REACHABLE', lladdr: MAC }],
    ['neigh-stale.json', { state: 'STALE', lladdr: MAC }],
    ['neigh-delay.json', { state: 'DELAY', lladdr: MAC }],
    ['neigh-probe.json', { state: 'PROBE', lladdr: MAC }],
    ['neigh-incomplete.json', { state: 'INCOMPLETE' }],
    ['neigh-failed.json', { state: 'FAILED' }],
  ])('%s', (file, expected) => {
    expect(parseNeighbour(probeFixture(file))).toEqual(expected);
  });

  it('reads no entry as null', () => {
    expect(parseNeighbour(probeFixture('neigh-empty.json'))).toBeNull();
    expect(parseNeighbour('')).toBeNull();
  });

  it('takes the first known state when the kernel lists flags beside it', () => {
    expect(
      parseNeighbour('[{"dst":"10.0.0.1","lladdr":"aa:bb:cc:dd:ee:ff","state":["PERMANENT"]}]'),
    ).toEqual({
      state: 'PERMANENT',
      lladdr: 'aa:bb:cc:dd:ee:ff',
    });
  });

  it('refuses output it cannot read, naming the command', () => {
    expect(() => parseNeighbour('10.99.0.2 dev eth0 FAILED')).toThrow(
      expect.objectContaining({
        code: 'COMMAND_FAILED',
        message: 'ip -j neigh show printed something that is not JSON',
      }),
    );
    expect(() => parseNeighbour('[{"dst":"10.0.0.1","state":["WEIRD"]}]')).toThrow(NodeWardenError);
    expect(() => parseNeighbour('{}')).toThrow(/not a list/);
  });
});

describe('parseRouteGet (real ip -j route get output)', () => {
  it('an on-link target: ARP can test it on its device', () => {
    expect(parseRouteGet(probeFixture('route-get-on-link.json'), 0)).toEqual({
      kind: 'on-link',
      dev: 'nwfx-a0',
    });
  });

  it('a target behind a gateway', () => {
    expect(parseRouteGet(probeFixture('route-get-gateway.json'), 0)).toEqual({
      kind: 'gateway',
      dev: 'nwfx-a0',
      gateway: '10.99.0.2',
    });
  });

  it('our own address and loopback are local', () => {
    expect(parseRouteGet(probeFixture('route-get-local.json'), 0)).toEqual({
      kind: 'local',
      dev: 'lo',
    });
    expect(parseRouteGet(probeFixture('route-get-loopback.json'), 0)).toEqual({
      kind: 'local',
      dev: 'lo',
    });
  });

  it("no route: keeps iproute2's message", () => {
    expect(parseRouteGet(probeFixture('route-get-no-route.txt'), 2)).toEqual({
      kind: 'no-route',
      message: 'RTNETLINK answers: Network is unreachable',
    });
  });

  it('a blackhole or unreachable route is no route', () => {
    expect(parseRouteGet('[{"type":"blackhole","dst":"10.1.2.3","flags":[]}]', 0)).toEqual({
      kind: 'no-route',
      message: 'route type blackhole, no device',
    });
    expect(parseRouteGet('[{"type":"unreachable","dst":"10.1.2.3","dev":"lo"}]', 0)).toEqual({
      kind: 'no-route',
      message: 'route type unreachable',
    });
    expect(parseRouteGet('[{"type":"prohibit","dst":"10.1.2.3","dev":"eth0"}]', 0)).toEqual({
      kind: 'no-route',
      message: 'route type prohibit',
    });
  });
});
