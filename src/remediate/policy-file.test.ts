import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeWardenError } from '../core/errors.ts';
import { DEFAULT_POLICY } from '../core/remediation-policy.ts';
import { loadPolicyFile, parsePolicyText } from './policy-file.ts';

const EXAMPLE = new URL('../../deploy/examples/remediation-policy.yaml', import.meta.url).pathname;

function refusal(text: string): string {
  try {
    parsePolicyText(text, '/etc/nw/policy.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(NodeWardenError);
    expect((error as NodeWardenError).code).toBe('BAD_INPUT');
    return (error as Error).message;
  }
  throw new Error('policy was accepted');
}

describe('remediation policy file', () => {
  it('the example file is valid and says what the docs say', async () => {
    const { policy, source } = await loadPolicyFile(EXAMPLE);
    expect(source).toBe(EXAMPLE);
    expect(policy.mode).toBe('approve');
    expect(policy.ladders.NODE_HALTED?.map((s) => s.step)).toEqual(
      DEFAULT_POLICY.ladders.NODE_HALTED?.map((s) => s.step),
    );
    expect(policy.ladders.HOST_NETWORK_DOWN?.[2]).toEqual({
      step: 'port-reset',
      timeoutMs: 120_000,
    });
    expect(policy.brakes).toEqual(DEFAULT_POLICY.brakes);
  });

  it('no file: the built-in policy; an empty file: the built-in policy', async () => {
    expect(await loadPolicyFile(undefined)).toEqual({ policy: DEFAULT_POLICY, source: 'built-in' });
    expect(parsePolicyText('', 'x.yaml')).toEqual(DEFAULT_POLICY);
  });

  it('refuses with the file, the key path and the reason', () => {
    expect(refusal('mode: yolo\n')).toBe(
      'remediation policy /etc/nw/policy.yaml: mode: "yolo" is not one of off, dry-run, approve, auto',
    );
    expect(refusal('brakes:\n  maxConcurent: 2\n')).toContain(
      'brakes.maxConcurent: unknown key (allowed here: maxUnhealthy,',
    );
    expect(refusal('brakes:\n  maxConcurrent: 0\n')).toContain(
      'brakes.maxConcurrent: 0 is not an integer from 1 to 1000',
    );
    expect(refusal('brakes:\n  stormCooldown: ten minutes\n')).toContain(
      'brakes.stormCooldown: "ten minutes" is not a duration',
    );
    expect(
      refusal(
        'ladders:\n  NODE_HALTED:\n    - { step: cordon, timeout: 30s }\n    - { step: reboot, timeout: 1m }\n',
      ),
    ).toContain('ladders.NODE_HALTED[1].step: "reboot" is not a step');
    expect(refusal('ladders:\n  NODE_HALTED:\n    - { step: cordon }\n')).toContain(
      'ladders.NODE_HALTED[0].timeout: is required',
    );
    expect(
      refusal('ladders:\n  CONTROL_PLANE_SIDE:\n    - { step: cordon, timeout: 1m }\n'),
    ).toContain('ladders.CONTROL_PLANE_SIDE: CONTROL_PLANE_SIDE is never remediated');
    expect(refusal('ladders:\n  NODE_HALTD: []\n')).toContain(
      'ladders.NODE_HALTD: NODE_HALTD is not a root cause',
    );
    expect(
      refusal(
        'ladders:\n  NODE_HALTED:\n    - { step: soft-reboot, timeout: 1m }\n    - { step: cordon, timeout: 1m }\n',
      ),
    ).toContain('cordon must come before any port-reset or reboot');
    expect(
      refusal(
        'ladders:\n  NODE_HALTED:\n    - { step: cordon, timeout: 1m }\n    - { step: out-of-service, timeout: 1m }\n    - { step: hard-reboot, timeout: 1m }\n',
      ),
    ).toContain('out-of-service must come after hard-reboot');
    expect(
      refusal(
        'ladders:\n  NODE_HALTED:\n    - { step: escalate, timeout: 1m }\n    - { step: capture-console, timeout: 1m }\n',
      ),
    ).toContain('escalate must be the last step');
    expect(refusal('mode: auto\nmode: off\n')).toMatch(
      /^remediation policy \/etc\/nw\/policy.yaml:2:1: not valid YAML: Map keys must be unique/,
    );
    expect(refusal('- a\n- b\n')).toContain('(top): the policy must be a map');
  });

  it('an unreadable file is refused with its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-policy-'));
    await expect(loadPolicyFile(join(dir, 'missing.yaml'))).rejects.toThrow(
      `remediation policy ${join(dir, 'missing.yaml')}: cannot read it`,
    );
    writeFileSync(join(dir, 'p.yaml'), 'brakes: { backoff: 90 }\n');
    const { policy } = await loadPolicyFile(join(dir, 'p.yaml'));
    expect(policy.brakes.backoffBaseMs).toBe(90_000);
  });
});
