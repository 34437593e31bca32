/**
 * `nodewarden remediation` against the controller's HTTP API
 * (`/api/v1/remediations`) on loopback: the same router, read model and
 * token-file authentication the controller serves, backed by a real
 * executor on the simulated cluster in approve mode; and the ladder's
 * /metrics.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.ts';
import { registerRemediationMetrics } from '../../src/remediate/metrics.ts';
import { closeWorlds, remediationWorld } from '../../src/remediate/sim-world.ts';
import { TokenFileAuth } from '../../src/server/api/auth.ts';
import { EventHub } from '../../src/server/api/events.ts';
import { LiveReadModel } from '../../src/server/api/read-model.ts';
import { serveApi } from '../../src/server/api/serve.ts';
import { runCli } from '../support/cli.ts';

const ADMIN = 'admin-token-0123456789abcdef';
const READ = 'read-token-0123456789abcdef';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  await closeWorlds();
});

async function serve() {
  const w = await remediationWorld('approve');
  const dir = mkdtempSync(join(tmpdir(), 'nw-rem-cli-'));
  writeFileSync(join(dir, 'admin'), `# admin\n${ADMIN}\n`);
  writeFileSync(join(dir, 'read'), `${READ}\n`);
  writeFileSync(join(dir, 'wrong'), 'not-the-admin-token-at-all\n');
  const serving = await serveApi({
    host: '127.0.0.1',
    port: 0,
    portFlag: '--listen',
    model: new LiveReadModel({
      mode: 'controller',
      version: 'test',
      speed: 1,
      zone: 'UTC',
      scenario: null,
      clock: w.clock,
      view: w.sim,
      loop: w.loop,
      observations: w.mesh,
      store: w.db,
      hub: new EventHub(),
      gpu: null,
      remediation: w.executor,
      synced: () => true,
    }),
    auth: new TokenFileAuth({
      readTokenFile: join(dir, 'read'),
      adminTokenFile: join(dir, 'admin'),
    }),
    log: silentLogger,
    ready: () => ({ ok: true, reason: '' }),
  });
  closers.push(async () => {
    await w.executor.stop();
    await w.loop.stop();
    await serving.close();
  });
  const url = serving.url.replace(/\/$/, '');
  const cli = (...args: string[]) => runCli('remediation', ...args, '--controller', url);
  return { ...w, url, dir, cli };
}

describe('nodewarden remediation (over /api/v1)', () => {
  it('list shows the waiting step; approve without id or step approves it as the token owner', async () => {
    const { clock, sim, mig, cutAt, dir, cli } = await serve();
    await clock.advanceAsync(cutAt - clock.now());
    sim.cutNode(mig);
    await clock.advanceAsync(60_000);

    const noRead = await cli('list');
    expect(noRead.code).not.toBe(0);
    expect(noRead.err).toContain('pass --token-file F');

    const list = await cli('list', '--token-file', join(dir, 'read'));
    expect(list.err).toBe('');
    expect(list.out).toContain('mode: approve');
    expect(list.out).toMatch(/▶ 1 cordon\s+awaiting-approval/);
    expect(list.out).toContain(`${mig}  NODE_HALTED  in-progress`);

    const noToken = await cli('approve');
    expect(noToken.code).toBe(2);
    expect(noToken.err).toContain('approving needs an admin token');
    const wrong = await cli('approve', '--token-file', join(dir, 'wrong'));
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).toContain('not valid');
    const readOnly = await cli('approve', '--token-file', join(dir, 'read'));
    expect(readOnly.code).not.toBe(0);
    expect(readOnly.err).toMatch(/admin/);
    const named = await cli('approve', '--token-file', join(dir, 'admin'), '--as', 'alice');
    expect(named.code).toBe(2);
    expect(named.err).toContain('--as is gone');
    expect(sim.node(mig)?.unschedulable).toBe(false);

    const ok = await cli('approve', '--token-file', join(dir, 'admin'));
    expect(ok.err).toBe('');
    const owner = `user:admin token ${join(dir, 'admin')}:2`;
    expect(ok.out).toContain(`approved step 1 (cordon) of rem-`);
    expect(ok.out).toContain(`as ${owner}`);
    expect(ok.out).toContain(`approved by ${owner}`);
    expect(sim.node(mig)?.unschedulable).toBe(true);

    const show = await cli('show', '--token-file', join(dir, 'read'), '--json');
    expect(JSON.parse(show.out)).toMatchObject({ node: mig, status: 'in-progress' });

    const again = await cli('approve', 'rem-nope', '--token-file', join(dir, 'admin'));
    expect(again.code).not.toBe(0);
    expect(again.err).toContain('no remediation rem-nope');
  });

  it('reject ends the remediation; an unreachable controller is named', async () => {
    const { clock, sim, mig, cutAt, dir, cli } = await serve();
    await clock.advanceAsync(cutAt - clock.now());
    sim.cutNode(mig);
    await clock.advanceAsync(60_000);
    const rejected = await cli('reject', '--token-file', join(dir, 'admin'));
    expect(rejected.err).toBe('');
    expect(rejected.out).toContain('rejected step 1 (cordon)');
    const show = await cli('show', '--token-file', join(dir, 'admin'), '--json');
    expect(JSON.parse(show.out)).toMatchObject({
      status: 'failed',
      summary: `cordon rejected by user:admin token ${join(dir, 'admin')}:2: handed to a person`,
    });
    expect(sim.node(mig)?.unschedulable).toBe(false);

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

  it('the old /v1/remediations routes are gone from the API', async () => {
    const { url } = await serve();
    const res = await fetch(`${url}/v1/remediations`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(res.status).toBe(404);
  });
});

describe('remediation /metrics', () => {
  it('mode, brakes, remediations and step events', async () => {
    const w = await remediationWorld('approve');
    closers.push(async () => {
      await w.executor.stop();
      await w.loop.stop();
    });
    const registry = new Registry();
    registerRemediationMetrics(registry, w.executor);
    await w.clock.advanceAsync(w.cutAt - w.clock.now());
    w.sim.cutNode(w.mig);
    await w.clock.advanceAsync(60_000);
    const r = w.executor.overview().remediations[0];
    await w.executor.approve(r?.id ?? '', 1, 'alice');
    const metrics = await registry.metrics();
    expect(metrics).toContain('nodewarden_remediation_mode{mode="approve"} 1');
    expect(metrics).toContain(
      'nodewarden_remediation_brake_engaged{brake="max-unhealthy",scope="cluster",node=""} 0',
    );
    expect(metrics).toMatch(
      /nodewarden_remediation_step_events_total\{step="cordon",result="approved"\} 1/,
    );
    expect(metrics).toContain('nodewarden_remediations{status="in-progress"} 1');
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
