/**
 * `nodewarden remediation` against the remediation HTTP API on loopback,
 * backed by a real executor on the simulated cluster in approve mode.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.ts';
import { registerRemediationMetrics } from '../../src/remediate/metrics.ts';
import { bearerToken } from '../../src/server/agent-api-auth.ts';
import { startOpsServer } from '../../src/server/ops-server.ts';
import { remediationApiRoutes } from '../../src/server/remediation-api.ts';
import { runCli } from '../support/cli.ts';
import { closeWorlds, remediationWorld } from '../../src/remediate/sim-world.ts';

const TOKEN = 'admin-token-0123456789abcdef';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  await closeWorlds();
});

async function serve() {
  const w = await remediationWorld('approve');
  const registry = new Registry();
  registerRemediationMetrics(registry, w.executor);
  const ops = await startOpsServer({
    listen: '127.0.0.1:0',
    registry,
    healthy: () => ({ ok: true, reason: '' }),
    ready: () => ({ ok: true, reason: '' }),
    routes: remediationApiRoutes({
      control: w.executor,
      isAdmin: (req: IncomingMessage) => bearerToken(req) === TOKEN,
      log: silentLogger,
    }),
  });
  closers.push(async () => {
    await w.executor.stop();
    await w.loop.stop();
    await ops.close();
  });
  const dir = mkdtempSync(join(tmpdir(), 'nw-rem-cli-'));
  writeFileSync(join(dir, 'admin'), `# admin\n${TOKEN}\n`);
  writeFileSync(join(dir, 'wrong'), 'not-the-admin-token-at-all\n');
  return { ...w, url: `http://127.0.0.1:${ops.port}`, dir };
}

describe('nodewarden remediation', () => {
  it('list shows the waiting step; approve without id or step approves it; /metrics shows brakes', async () => {
    const { clock, sim, mig, cutAt, url, dir } = await serve();
    await clock.advanceAsync(cutAt - clock.now());
    sim.cutNode(mig);
    await clock.advanceAsync(60_000);

    const list = await runCli('remediation', 'list', '--controller', url);
    expect(list.code).toBe(0);
    expect(list.out).toContain('mode: approve');
    expect(list.out).toMatch(/▶ 1 cordon\s+awaiting-approval/);
    expect(list.out).toContain(`${mig}  NODE_HALTED  in-progress`);

    const noToken = await runCli('remediation', 'approve', '--controller', url);
    expect(noToken.code).toBe(2);
    expect(noToken.err).toContain('approving needs an admin token');
    const wrong = await runCli(
      'remediation',
      'approve',
      '--controller',
      url,
      '--token-file',
      join(dir, 'wrong'),
    );
    expect(wrong.err).toContain('needs an admin token (Authorization: Bearer <token>)');
    expect(sim.node(mig)?.unschedulable).toBe(false);

    const ok = await runCli(
      'remediation',
      'approve',
      '--controller',
      url,
      '--token-file',
      join(dir, 'admin'),
      '--as',
      'alice',
    );
    expect(ok.err).toBe('');
    expect(ok.out).toContain('approved step 1 (cordon) of rem-');
    expect(ok.out).toContain('approved by user:alice');
    expect(sim.node(mig)?.unschedulable).toBe(true);

    const again = await runCli(
      'remediation',
      'approve',
      'rem-nope',
      '--controller',
      url,
      '--token-file',
      join(dir, 'admin'),
    );
    expect(again.code).not.toBe(0);
    expect(again.err).toContain('no remediation rem-nope');

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('nodewarden_remediation_mode{mode="approve"} 1');
    expect(metrics).toContain(
      'nodewarden_remediation_brake_engaged{brake="max-unhealthy",scope="cluster",node=""} 0',
    );
    expect(metrics).toMatch(
      /nodewarden_remediation_step_events_total\{step="cordon",result="approved"\} 1/,
    );
    expect(metrics).toContain('nodewarden_remediations{status="in-progress"} 1');
  });

  it('reject ends the remediation; an unreachable controller is named', async () => {
    const { clock, sim, mig, cutAt, url, dir } = await serve();
    await clock.advanceAsync(cutAt - clock.now());
    sim.cutNode(mig);
    await clock.advanceAsync(60_000);
    const rejected = await runCli(
      'remediation',
      'reject',
      '--controller',
      url,
      '--token-file',
      join(dir, 'admin'),
      '--as',
      'bob',
    );
    expect(rejected.out).toContain('rejected step 1 (cordon)');
    const show = await runCli('remediation', 'show', '--controller', url, '--json');
    expect(JSON.parse(show.out)).toMatchObject({
      status: 'failed',
      summary: 'cordon rejected by user:bob: handed to a person',
    });

    // A port nothing listens on: bind one, then close it.
    const gone = createServer();
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
    const port = (gone.address() as AddressInfo).port;
    await new Promise((resolve) => gone.close(resolve));
    const down = await runCli('remediation', 'list', '--controller', `http://127.0.0.1:${port}`);
    expect(down.code).not.toBe(0);
    expect(down.err).toContain(
      `cannot reach the controller at http://127.0.0.1:${port}: ECONNREFUSED`,
    );
  });
});

describe('nodewarden controller --remediation-policy', () => {
  it('a bad policy is refused at start with the file, the key path and the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-rem-policy-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'mode: auto\nbrakes:\n  maxConcurrent: 0\n');
    const r = await runCli(
      'controller',
      '--remediation-policy',
      file,
      '--kubeconfig',
      join(dir, 'no-such-kubeconfig'),
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      `remediation policy ${file}: brakes.maxConcurrent: 0 is not an integer from 1 to 1000`,
    );
    const mode = await runCli('controller', '--remediation-mode', 'yolo');
    expect(mode.err).toContain(
      '--remediation-mode "yolo" is not one of off, dry-run, approve, auto',
    );
  });
});
