/**
 * `nodewarden probe`: bad input never reaches a probe and exits 2 with one line
 * naming the input plus a hint; real probes of 127.0.0.1 exit 1 or 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, renderProbe, runProbe } from '../../src/cli/probe.ts';
import type { Io } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';
import {
  probeVerdict,
  type LayerResult,
  type ProbeResult,
  type Prober,
} from '../../src/core/probe.ts';
import { closedPort, httpsServer, selfSignedCert, type Running } from './probe-servers.ts';

function capture(): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (t) => (out += t),
    err: (t) => (err += t),
    stdout: () => out,
    stderr: () => err,
  };
}

/** A prober that must never be reached: bad input has to stop before it. */
const unreachableProber: Prober = {
  probe: () => Promise.reject(new Error('the probe ran although the input was bad')),
};

describe('nodewarden probe: bad input exits 2 and names the input', () => {
  it.each([
    [[], 'missing the node IP to probe', 'e.g. nodewarden probe 10.62.0.30'],
    [['10.62.0.300'], '"10.62.0.300" is not an IPv4 or IPv6 address', "the node's InternalIP"],
    [['node-1'], '"node-1" is not an IPv4 or IPv6 address', 'e.g. 10.62.0.30'],
    [
      ['10.62.0.30', '10.62.0.31'],
      'unexpected argument "10.62.0.31": probe takes exactly one IP',
      'probe one node at a time',
    ],
    [
      ['10.62.0.30', '--port', '70000'],
      '--port "70000" is not a whole number from 1 to 65535',
      '--port 10250',
    ],
    [
      ['10.62.0.30', '--port', '0'],
      '--port "0" is not a whole number from 1 to 65535',
      '--port 10250',
    ],
    [
      ['10.62.0.30', '--timeout-ms', '-5'],
      '--timeout-ms "-5" is not a whole number from 100 to 60000',
      '--timeout-ms 3000',
    ],
    [
      ['10.62.0.30', '--timeout-ms', 'abc'],
      '--timeout-ms "abc" is not a whole number from 100 to 60000',
      '--timeout-ms 3000',
    ],
    [
      ['10.62.0.30', '--timeout-ms=1.5'],
      '--timeout-ms "1.5" is not a whole number from 100 to 60000',
      '--timeout-ms 3000',
    ],
    [['10.62.0.30', '--verbose'], "Unknown option '--verbose'", 'nodewarden probe --help'],
    [
      ['10.62.0.30', '--port'],
      "Option '--port <value>' argument missing",
      'nodewarden probe --help',
    ],
  ])('%j', async (argv, message, hint) => {
    const io = capture();
    expect(await runProbe(argv, io, unreachableProber)).toBe(2);
    expect(io.stdout()).toBe('');
    const [first, second, ...rest] = io.stderr().split('\n');
    expect(first).toBe(`nodewarden probe: ${message}`);
    expect(second).toMatch(/^ {2}→ /);
    expect(second).toContain(hint);
    expect(rest).toEqual(['']);
  });
});

describe('nodewarden probe --help', () => {
  it('teaches the layers, the exit codes and the seed example', async () => {
    const io = capture();
    expect(await main(['probe', '--help'], io)).toBe(0);
    const help = io.stdout();
    expect(help).toBe(command.help);
    for (const words of [
      'arping -c 1 -w 3',
      'ping -c 1 -W 3',
      'nc -vz -w 3',
      'curl -sk https://<ip>:10250/healthz',
      '401 and 403 included',
      'ECONNREFUSED',
      'Exit status: 0 healthy',
      '2 bad usage',
      'nodewarden probe 10.62.0.30',
    ]) {
      expect(help).toContain(words);
    }
  });
});

describe('nodewarden probe 127.0.0.1 (real probes)', () => {
  let kubelet: Running;
  beforeAll(async () => {
    kubelet = await httpsServer(await selfSignedCert(), 401);
  });
  afterAll(() => kubelet.close());

  it('a closed port: table, L4 ECONNREFUSED, exit 1', async () => {
    const port = await closedPort();
    const io = capture();
    expect(await command.run(['127.0.0.1', '--port', String(port)], io)).toBe(1);
    const lines = io.stdout().split('\n');
    expect(lines[0]).toBe(`probe 127.0.0.1: kubelet port ${port}, 3000 ms per layer`);
    expect(lines[2]).toMatch(/^LAYER +EQUIVALENT COMMAND +RESULT +LATENCY +WHAT IT RETURNED$/);
    expect(lines[3]).toMatch(
      /^L2 +ip route get 127\.0\.0\.1 +skipped +- +127\.0\.0\.1 is this host's own address/,
    );
    expect(lines[4]).toMatch(
      /^L3 +ping -c 1 -W 3 127\.0\.0\.1 +ok +[\d.]+ ms +reply in [\d.]+ ms$/,
    );
    expect(lines[5]).toMatch(
      new RegExp(`^L4 +nc -vz -w 3 127\\.0\\.0\\.1 ${port} +FAILED +- +ECONNREFUSED$`),
    );
    expect(lines[6]).toMatch(
      /^L7 +curl -sk https:\/\/127\.0\.0\.1:\d+\/healthz +FAILED +- +ECONNREFUSED$/,
    );
    expect(lines[8]).toMatch(/^verdict: UNHEALTHY — L4 failed: ECONNREFUSED \(took [\d.]+ ms\)$/);
    expect(lines[9]).toBe(
      `meaning: the host answered with a reset: it is up, but nothing listens on ${port} (kubelet down)`,
    );
    expect(io.stderr()).toBe('');
  });

  it('--json prints the whole result', async () => {
    const io = capture();
    const port = await closedPort();
    expect(
      await command.run(['127.0.0.1', '--port', String(port), '--json', '--timeout-ms', '500'], io),
    ).toBe(1);
    const result = JSON.parse(io.stdout()) as ProbeResult;
    expect(result.port).toBe(port);
    expect(result.verdict).toEqual({
      healthy: false,
      failedLayer: 'L4',
      summary: 'L4 failed: ECONNREFUSED',
    });
    expect(result.layers.find((l) => l.layer === 'L4')?.command).toBe(
      `nc -vz -w 1 127.0.0.1 ${port}`,
    );
  });

  it('a kubelet answering 401: healthy, exit 0', async () => {
    const io = capture();
    expect(await command.run(['127.0.0.1', '--port', String(kubelet.port)], io)).toBe(0);
    expect(io.stdout()).toMatch(
      /^L7 +curl -sk https:\/\/127\.0\.0\.1:\d+\/healthz +ok +[\d.]+ ms +HTTP 401$/m,
    );
    expect(io.stdout()).toMatch(/^verdict: HEALTHY — all tested layers answered/m);
  });
});

describe('renderProbe', () => {
  it('renders the 2025-08-25 node as the seed report listed it', () => {
    const layers: LayerResult[] = [
      {
        layer: 'L2',
        status: 'failed',
        latencyMs: null,
        command: 'arping -c 1 -w 3 -I eth0 10.62.0.30',
        detail: 'no ARP reply (kernel neighbour: FAILED)',
        neighbourState: 'FAILED',
      },
      {
        layer: 'L3',
        status: 'failed',
        latencyMs: null,
        command: 'ping -c 1 -W 3 10.62.0.30',
        detail: 'Destination Host Unreachable (from 10.62.0.1)',
      },
      {
        layer: 'L4',
        status: 'failed',
        latencyMs: null,
        command: 'nc -vz -w 3 10.62.0.30 10250',
        detail: 'timeout after 3000 ms',
      },
      {
        layer: 'L7',
        status: 'failed',
        latencyMs: null,
        command: 'curl -sk https://10.62.0.30:10250/healthz',
        detail: 'connect timeout after 3000 ms',
      },
    ];
    const text = renderProbe(
      {
        target: '10.62.0.30',
        port: 10250,
        startedAt: '2025-08-25T04:02:00.000Z',
        durationMs: 3012.4,
        layers,
        verdict: probeVerdict(layers),
      },
      3000,
    );
    expect(text).toBe(
      [
        'probe 10.62.0.30: kubelet port 10250, 3000 ms per layer',
        '',
        'LAYER  EQUIVALENT COMMAND                         RESULT  LATENCY  WHAT IT RETURNED',
        'L2     arping -c 1 -w 3 -I eth0 10.62.0.30        FAILED  -        no ARP reply (kernel neighbour: FAILED)',
        'L3     ping -c 1 -W 3 10.62.0.30                  FAILED  -        Destination Host Unreachable (from 10.62.0.1)',
        'L4     nc -vz -w 3 10.62.0.30 10250               FAILED  -        timeout after 3000 ms',
        'L7     curl -sk https://10.62.0.30:10250/healthz  FAILED  -        connect timeout after 3000 ms',
        '',
        'verdict: UNHEALTHY — L2 failed: no ARP reply (kernel neighbour: FAILED) (took 3012 ms)',
        'meaning: nothing answers ARP for this address on our link: the node is halted or its NIC/network stack is dead (the 2025-08-25 signature)',
        '',
      ].join('\n'),
    );
  });
});
