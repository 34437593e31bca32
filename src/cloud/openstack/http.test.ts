import { describe, expect, it } from 'vitest';
import { fixtureText } from '../../../test/fixtures/openstack/world.ts';
import { backoffDelay, errorFromResponse, readApiError, type HttpResponse } from './http.ts';

const answer = (
  status: number,
  file: string,
  headers: HttpResponse['headers'] = {},
): HttpResponse => ({
  status,
  headers,
  text: fixtureText(file),
});

describe('readApiError', () => {
  it('reads Nova, Neutron and Keystone error bodies, and a proxy page', () => {
    expect(readApiError(fixtureText('nova-409-reboot-task-state.json'))).toEqual({
      fault: 'conflictingRequest',
      message:
        "Cannot 'reboot' instance 6e0d3a1c-0000-4000-8000-00000a3e000b while it is in task_state reboot_started_hard",
    });
    expect(readApiError(fixtureText('neutron-404-port-not-found.json'))).toEqual({
      fault: 'PortNotFound',
      message: 'Port c1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7ff could not be found.',
    });
    expect(readApiError(fixtureText('error-401-unauthorized.json'))).toEqual({
      fault: 'Unauthorized',
      message: 'The request you have made requires authentication.',
    });
    expect(readApiError(fixtureText('haproxy-503.txt'))).toEqual({
      fault: null,
      message: '503 Service Unavailable No server is available to handle this request.',
    });
    expect(readApiError('')).toEqual({ fault: null, message: '' });
    expect(readApiError('x'.repeat(500)).message).toHaveLength(200);
  });
});

describe('errorFromResponse', () => {
  it('maps statuses to codes and keeps what the API said and its request id', () => {
    const cases: [number, string, string][] = [
      [400, 'nova-400-bad-reboot-type.json', 'BAD_INPUT'],
      [401, 'error-401-unauthorized.json', 'BAD_INPUT'],
      [403, 'nova-403-diagnostics-policy.json', 'BAD_INPUT'],
      [404, 'nova-404-server-not-found.json', 'NOT_FOUND'],
      [406, 'nova-406-microversion.json', 'UNSUPPORTED'],
      [409, 'nova-409-reboot-vm-state.json', 'CONFLICT'],
      [429, 'haproxy-503.txt', 'UNAVAILABLE'],
      [500, 'haproxy-503.txt', 'UNAVAILABLE'],
      [503, 'haproxy-503.txt', 'UNAVAILABLE'],
    ];
    for (const [status, file, code] of cases) {
      const error = errorFromResponse(answer(status, file), 'do it', 'compute');
      expect([status, error.code, error.status, Boolean(error.hint)]).toEqual([
        status,
        code,
        status,
        true,
      ]);
    }
    const withId = errorFromResponse(
      answer(404, 'nova-404-server-not-found.json', { 'x-compute-request-id': 'req-1' }),
      'show server x',
      'compute',
    );
    expect(withId.message).toBe(
      'show server x: Instance 6e0d3a1c-0000-4000-8000-00000a3e00fe could not be found. (HTTP 404, request req-1)',
    );
    expect(withId).toMatchObject({ fault: 'itemNotFound', requestId: 'req-1' });
  });

  it('removes secrets before cutting the message, so no piece of one survives', () => {
    const secret = 'S'.repeat(150);
    const res: HttpResponse = { status: 502, headers: {}, text: `${'x'.repeat(100)} ${secret}` };
    const error = errorFromResponse(res, 'do it', 'network', [secret]);
    expect(error.message).not.toContain('SSSS');
    expect(error.message).toContain('[redacted]');
  });
});

describe('backoffDelay', () => {
  it('doubles from the base up to the cap, half fixed and half jitter', () => {
    const at = (attempt: number, r: number): number => backoffDelay(attempt, 250, 5_000, () => r);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => at(n, 0))).toEqual([
      125, 250, 500, 1000, 2000, 2500, 2500,
    ]);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => at(n, 1))).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000,
    ]);
    expect(at(3, 0.5)).toBe(750);
  });
});
