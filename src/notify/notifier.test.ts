import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import type { Incident } from '../core/incident.ts';
import type { Logger, LogLevel } from '../core/logger.ts';
import { alertmanagerAlert, reportUrlFor, slackMessage } from './messages.ts';
import { openNotifier } from './open.ts';
import { backoffMs, Notifier, redactUrl, retryAfterMs, type NotifierOptions } from './notifier.ts';
import { until } from '../../test/support/until.ts';

/** A receiver started by the test: records each POST, answers from a script. */
interface Receiver {
  readonly url: string;
  readonly requests: { path: string; body: unknown }[];
  /** What to answer next; the last entry repeats. `hang` never answers. */
  script: ({ status: number; headers?: Record<string, string> } | 'hang')[];
}

const servers: Server[] = [];
const notifiers: Notifier[] = [];
afterEach(async () => {
  for (const n of notifiers.splice(0)) n.stop();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((r) => {
          s.closeAllConnections();
          s.close(() => r());
        }),
    ),
  );
});

async function receiver(path = '/hook'): Promise<Receiver> {
  const r: Receiver = { url: '', requests: [], script: [{ status: 200 }] };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.setEncoding('utf8').on('data', (c: string) => (text += c));
    req.on('end', () => {
      r.requests.push({ path: req.url ?? '', body: JSON.parse(text) as unknown });
      const next = r.script.length > 1 ? r.script.shift()! : r.script[0]!;
      if (next === 'hang') return;
      res
        .writeHead(next.status, next.headers ?? {})
        .end(next.status >= 400 ? 'receiver says no' : 'ok');
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(r, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
  });
}

const SECRET = 'T000/B000/XXXXsecretXXXX';
const lines: { level: LogLevel; msg: string; fields: unknown }[] = [];
const log: Logger = {
  log: (level, msg, fields) => void lines.push({ level, msg, fields }),
  child: () => log,
};

const incident = (patch: Partial<Incident> = {}): Incident => ({
  id: 'inc-20250825-035809-tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq-1',
  kind: 'node',
  status: 'open',
  nodes: ['tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq'],
  openedAt: '2025-08-25T03:58:09.000Z',
  resolvedAt: null,
  lastHeartbeatAt: '2025-08-25T03:58:02.000Z',
  rootCause: null,
  summary: 'the host answers no one: 3 of 4 observers fail it at L2',
  timeline: [],
  affectedPods: [],
  ...patch,
});

function notifier(options: Partial<NotifierOptions>): Notifier {
  const n = new Notifier({
    slackUrls: [],
    alertmanagerUrls: [],
    publicUrl: 'https://nodewarden.example.com/',
    log,
    retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
    timeoutMs: 5_000,
    random: () => 0.5,
    ...options,
  });
  notifiers.push(n);
  return n;
}

describe('Notifier against HTTP receivers', () => {
  it('opened at once, the verdict as an update, resolved with endsAt: to Slack and to Alertmanager API v2', async () => {
    const slack = await receiver(`/services/${SECRET}`);
    const am = await receiver('');
    const n = notifier({ slackUrls: [slack.url], alertmanagerUrls: [am.url] });
    n.notify('opened', incident());
    await n.idle();
    n.notify('verdict', incident({ rootCause: 'NODE_HALTED' }), 0.85);
    await n.idle();
    n.notify(
      'resolved',
      incident({
        status: 'resolved',
        rootCause: 'NODE_HALTED',
        resolvedAt: '2025-08-25T04:05:09.000Z',
      }),
    );
    await n.idle();

    const texts = slack.requests.map((r) => (r.body as { text: string }).text);
    expect(texts).toHaveLength(3);
    expect(texts[0]).toMatch(/incident opened: tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq/);
    expect(texts[0]).toContain(
      'Report: https://nodewarden.example.com/api/v1/incidents/inc-20250825-035809-tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq-1/report',
    );
    expect(texts[1]).toMatch(/verdict .*: NODE_HALTED/);
    expect(texts[1]).toContain('Verdict: NODE_HALTED (confidence 0.85)');
    expect(texts[2]).toMatch(
      /resolved.*\n[\s\S]*Resolved 2025-08-25T04:05:09.000Z \(7 min 0 s after it opened\)/,
    );

    expect(am.requests.map((r) => r.path)).toEqual([
      '/api/v2/alerts',
      '/api/v2/alerts',
      '/api/v2/alerts',
    ]);
    const alerts = am.requests.map((r) => (r.body as ReturnType<typeof alertmanagerAlert>[])[0]!);
    expect(alerts[0]).toMatchObject({
      labels: {
        alertname: 'NodeWardenIncident',
        node: 'tkai-oks-md-1-193cfbbbb78b-zfz7s-bkqzq',
        kind: 'node',
      },
      startsAt: '2025-08-25T03:58:09.000Z',
    });
    expect(alerts[0]!.endsAt).toBeUndefined();
    expect(alerts[1]!.annotations['root_cause']).toBe('NODE_HALTED');
    expect(alerts[2]!.endsAt).toBe('2025-08-25T04:05:09.000Z');
    // The same labels each time: Alertmanager updates one alert, and silences on them apply.
    expect(new Set(alerts.map((a) => JSON.stringify(a.labels))).size).toBe(1);
    expect(n.stats).toMatchObject({ sent: 6, failed: 0, retries: 0 });
  });

  it('retries 500 and 429 (Retry-After) and delivers; a 400 is final at once', async () => {
    const flaky = await receiver();
    flaky.script = [
      { status: 500 },
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 200 },
    ];
    const n = notifier({ slackUrls: [flaky.url] });
    n.notify('opened', incident());
    await n.idle();
    expect(flaky.requests).toHaveLength(3);
    expect(n.stats).toMatchObject({ sent: 1, retries: 2, failed: 0 });
    expect(
      lines.some(
        (l) =>
          l.msg === 'notification attempt failed; retrying' &&
          JSON.stringify(l.fields).includes('HTTP 500'),
      ),
    ).toBe(true);

    const refusing = await receiver();
    refusing.script = [{ status: 400 }];
    const m = notifier({ alertmanagerUrls: [refusing.url], alertmanagerResendMs: 0 });
    m.notify('opened', incident());
    await m.idle();
    expect(refusing.requests).toHaveLength(1);
    expect(m.stats).toMatchObject({ sent: 0, failed: 1, retries: 0 });
  });

  it('a slow receiver is a failed attempt (timeout), retried up to the bound, and the next message still goes', async () => {
    const slow = await receiver();
    slow.script = ['hang', 'hang', 'hang', 'hang', { status: 200 }];
    const n = notifier({ slackUrls: [slow.url], timeoutMs: 100 });
    n.notify('opened', incident());
    await n.idle();
    expect(slow.requests).toHaveLength(4);
    expect(n.stats).toMatchObject({ sent: 0, failed: 1, retries: 3 });
    const gaveUp = lines.findLast((l) => l.msg === 'notification failed');
    expect(JSON.stringify(gaveUp?.fields)).toMatch(
      /no answer within 100 ms.*gave up after 4 attempts/,
    );
    n.notify('resolved', incident({ status: 'resolved', resolvedAt: '2025-08-25T04:05:09.000Z' }));
    await n.idle();
    expect(n.stats.sent).toBe(1);
  });

  it('a receiver that is down entirely: connection refused, retried, given up, counted', async () => {
    const gone = await receiver();
    const url = gone.url;
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    const n = notifier({ slackUrls: [url] });
    n.notify('opened', incident());
    await n.idle();
    expect(n.stats).toMatchObject({ sent: 0, failed: 1, retries: 3 });
  });

  it('rate-limits per target (token bucket), keeps order, and queues the rest', async () => {
    const clock = new ManualClock('2025-08-25T03:58:09.000Z');
    const slack = await receiver();
    const n = notifier({ slackUrls: [slack.url], clock, rateLimit: { burst: 2, refillMs: 3_000 } });
    for (let i = 1; i <= 4; i++) n.notify('opened', incident({ id: `inc-${i}` }));
    await until('two sent', 4_000, () => slack.requests.length === 2, 10);
    await new Promise((r) => setTimeout(r, 100));
    expect(slack.requests).toHaveLength(2);
    await clock.advanceAsync(3_000);
    await until('third sent', 4_000, () => slack.requests.length === 3, 10);
    await clock.advanceAsync(3_000);
    await until('fourth sent', 4_000, () => slack.requests.length === 4, 10);
    expect(
      slack.requests.map((r) => /Incident (inc-\d)/.exec((r.body as { text: string }).text)?.[1]),
    ).toEqual(['inc-1', 'inc-2', 'inc-3', 'inc-4']);
  });

  it('re-posts an open incident to Alertmanager before resolve_timeout forgets it, and stops once resolved', async () => {
    const clock = new ManualClock('2025-08-25T03:58:09.000Z');
    const am = await receiver('');
    const n = notifier({ alertmanagerUrls: [am.url], clock, alertmanagerResendMs: 60_000 });
    n.notify('opened', incident());
    await until('first post', 4_000, () => am.requests.length === 1, 10);
    await clock.advanceAsync(60_000);
    await until('re-post', 4_000, () => am.requests.length === 2, 10);
    n.notify('resolved', incident({ status: 'resolved', resolvedAt: '2025-08-25T04:00:00.000Z' }));
    await until('resolution', 4_000, () => am.requests.length === 3, 10);
    await clock.advanceAsync(180_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(am.requests).toHaveLength(3);
    expect((am.requests[2]!.body as { endsAt?: string }[])[0]!.endsAt).toBe(
      '2025-08-25T04:00:00.000Z',
    );
  });

  it('never logs a webhook URL: targets are scheme and host only', async () => {
    lines.length = 0;
    const slack = await receiver(`/services/${SECRET}`);
    slack.script = [{ status: 500 }, { status: 404 }];
    const n = notifier({
      slackUrls: [slack.url],
      alertmanagerUrls: [`http://admin:XXXXpasswordXXXX@127.0.0.1:9/`],
    });
    expect(n.targets().join(' ')).not.toContain(SECRET);
    n.notify('opened', incident());
    await n.idle();
    expect(lines.length).toBeGreaterThan(2);
    expect(JSON.stringify(lines)).not.toContain(SECRET);
    expect(JSON.stringify(lines)).not.toContain('services');
    expect(JSON.stringify(lines)).not.toContain('XXXXpasswordXXXX');
    // A URL that does not parse is refused without being quoted.
    expect(() => notifier({ slackUrls: [`hooks.slack.com/services/${SECRET}`] })).toThrow(
      /Slack webhook URL #1 is not a URL/,
    );
    expect(() => notifier({ alertmanagerUrls: ['ftp://am:9093'] })).toThrow(/not http\(s\)/);
    try {
      notifier({ slackUrls: [`hooks/${SECRET}`] });
    } catch (error) {
      expect(String(error)).not.toContain(SECRET);
    }
  });
});

describe('notification pieces', () => {
  it('backoff doubles with jitter, is capped, and yields to a longer Retry-After', () => {
    const policy = { attempts: 5, baseDelayMs: 1_000, maxDelayMs: 30_000 };
    expect(backoffMs(policy, 1, 0, null)).toBe(500);
    expect(backoffMs(policy, 1, 0.999, null)).toBeCloseTo(1_000, -1);
    expect(backoffMs(policy, 3, 0, null)).toBe(2_000);
    expect(backoffMs(policy, 10, 1, null)).toBe(30_000);
    expect(backoffMs(policy, 1, 0, 7_000)).toBe(7_000);
    expect(backoffMs(policy, 1, 0, 90_000)).toBe(30_000);
    expect(retryAfterMs('3', 0)).toBe(3_000);
    expect(retryAfterMs('Thu, 01 Jan 1970 00:00:10 GMT', 4_000)).toBe(6_000);
    expect(retryAfterMs('soon', 0)).toBeNull();
    expect(retryAfterMs(null, 0)).toBeNull();
  });

  it('redacts URLs, builds report links, escapes Slack markup', () => {
    expect(redactUrl(`https://hooks.slack.com/services/${SECRET}`)).toBe(
      'https://hooks.slack.com/…',
    );
    expect(redactUrl('not a url')).toBe('(unparseable URL)');
    expect(reportUrlFor(null, 'inc-1')).toBeNull();
    expect(reportUrlFor('https://nw.example.com//', 'inc 1')).toBe(
      'https://nw.example.com/api/v1/incidents/inc%201/report',
    );
    const msg = slackMessage({
      kind: 'opened',
      incident: incident({ summary: '<script> & co' }),
      reportUrl: null,
    });
    expect(JSON.stringify(msg.blocks)).toContain('&lt;script&gt; &amp; co');
    expect(msg.text).toContain('Report: nodewarden report inc-20250825');
    const partition = alertmanagerAlert({
      kind: 'opened',
      incident: incident({ kind: 'partition', nodes: ['a', 'b', 'c'] }),
      reportUrl: null,
    });
    expect(partition.labels['node']).toBeUndefined();
    expect(partition.annotations['summary']).toBe(
      'NodeWarden incident opened: partition of 3 nodes',
    );
  });
});

describe('openNotifier (the controller flags)', () => {
  it('reads webhook files (comments, blank lines), refuses bad ones naming the file not the URL, and is off without targets', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodewarden-notify-'));
    try {
      const good = join(dir, 'slack');
      await writeFile(good, `# team channel\n\nhttps://hooks.example.com/services/${SECRET}\n`, {
        mode: 0o600,
      });
      const n = await openNotifier(
        { slackUrlFiles: [good], alertmanagerUrls: ['http://am:9093'], publicUrl: null },
        log,
      );
      expect(n?.targets()).toEqual([
        'slack https://hooks.example.com/…',
        'alertmanager http://am:9093/…',
      ]);
      n?.stop();
      expect(
        await openNotifier({ slackUrlFiles: [], alertmanagerUrls: [], publicUrl: null }, log),
      ).toBeNull();
      expect(await openNotifier(undefined, log)).toBeNull();

      const empty = join(dir, 'empty');
      await writeFile(empty, '# nothing yet\n');
      await expect(
        openNotifier({ slackUrlFiles: [empty], alertmanagerUrls: [], publicUrl: null }, log),
      ).rejects.toThrow(/empty holds no URL/);
      const bad = join(dir, 'bad');
      await writeFile(bad, `hooks.example.com/services/${SECRET}\n`);
      const refused = openNotifier(
        { slackUrlFiles: [bad], alertmanagerUrls: [], publicUrl: null },
        log,
      );
      await expect(refused).rejects.toThrow(/bad: URL #1 is not an http\(s\) URL/);
      await expect(refused).rejects.not.toThrow(SECRET);
      await expect(
        openNotifier(
          { slackUrlFiles: [join(dir, 'missing')], alertmanagerUrls: [], publicUrl: null },
          log,
        ),
      ).rejects.toThrow(/missing: ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
