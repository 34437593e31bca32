/**
 * `nodewarden demo` through the CLI: it serves while it runs (a real port on
 * 127.0.0.1), says so, shows a clear page where the dashboard bundle is
 * missing, and names the port and the flag when the port is taken.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../test/support/cli.ts';
import { DEFAULT_DEMO, runDemo } from '../demo/demo.ts';

describe('nodewarden demo (serving)', () => {
  it('a taken --port is a clear error naming the port and the flag', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const { code, err } = await runCli(
        'demo',
        '--port',
        String(port),
        '--once',
        '--speed',
        '600',
      );
      expect(code).toBe(1);
      expect(err).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(err).toContain('--port');
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  }, 30_000);

  it('bad flags are refused before anything starts', async () => {
    expect((await runCli('demo', '--port', '70000')).err).toContain(
      '--port "70000" is not a whole number from 0 to 65535',
    );
    expect((await runCli('demo', '--scenario', 'flood')).err).toContain(
      'is not one of seed, approve, storm, kubelet',
    );
    expect((await runCli('demo', '--help')).out).toContain('WITHOUT authentication');
  });

  it('serves the API while it runs and a "not built" page where the bundle is missing; --once stops after the summary', async () => {
    const lines: string[] = [];
    let checked: Promise<void> = Promise.resolve();
    const result = await runDemo(
      {
        ...DEFAULT_DEMO,
        speed: 600,
        serve: { host: '127.0.0.1', port: 0 },
        keepServing: false,
        webRoot: '/nonexistent/nodewarden-web',
        onListening: (url) => {
          checked = (async () => {
            const status = await fetch(new URL('api/v1/status', url));
            expect(status.status).toBe(200);
            expect(await status.json()).toMatchObject({ mode: 'demo', auth: 'none' });
            const page = await fetch(url);
            expect(page.status).toBe(503);
            const html = await page.text();
            expect(html).toContain('The dashboard has not been built');
            expect(html).toContain('npm run build');
          })();
        },
      },
      (l) => lines.push(l),
    );
    await checked;
    expect(result.incidents.every((i) => i.status === 'resolved')).toBe(true);
    expect(lines[0]).toMatch(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/ .*no authentication/);
    // Stopped: the port no longer answers.
    const url = /dashboard: (\S+)/.exec(lines[0] ?? '')?.[1] ?? '';
    await expect(fetch(url)).rejects.toThrow();
  }, 60_000);
});
