import { describe, expect, it } from 'vitest';
import { probeFixture } from '../../test/fixtures/probe/fixture.ts';
import { parseArping } from './arping-parse.ts';

describe('parseArping (real iputils output)', () => {
  it('reads the MAC (lower case, as ip neigh prints it) and RTT of a reply', () => {
    expect(parseArping(probeFixture('arping-reply.txt'))).toEqual({
      kind: 'reply',
      mac: '36:05:28:d6:20:c7',
      rttMs: 0.537,
    });
  });

  it('reads a dead peer as no reply', () => {
    expect(parseArping(probeFixture('arping-no-reply.txt'))).toEqual({ kind: 'no-reply' });
  });

  it('recognises arping without CAP_NET_RAW', () => {
    expect(parseArping(probeFixture('arping-no-cap-net-raw.txt'))).toEqual({
      kind: 'needs-cap-net-raw',
      message: 'socket: Operation not permitted',
    });
  });

  it('passes a broken check on as an error, not as a dead peer', () => {
    expect(parseArping(probeFixture('arping-no-device.txt'))).toEqual({
      kind: 'error',
      message: 'arping: Device nwfx-zz not available.',
    });
  });
});
