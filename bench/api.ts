/**
 * The HTTP API's response times, served by the demo (the seed scenario,
 * after the incident resolved: one incident with its diagnosis and a
 * finished remediation, five nodes), measured from a client on loopback:
 * `REQUESTS` sequential requests per route, p50/p99/max and the body size;
 * then how long an event takes from the store write to an SSE client
 * (an approval in the approve scenario).
 *
 *   npx tsx bench/api.ts [requests per route, default 200]
 */
import { DEFAULT_DEMO, runDemo, type DemoOptions } from '../src/demo/demo.ts';

const REQUESTS = Math.min(Math.max(Number(process.argv[2] ?? 200) || 200, 10), 5_000);

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function serve(
  options: Partial<DemoOptions>,
): Promise<{ url: string; abort: AbortController; done: Promise<unknown> }> {
  const abort = new AbortController();
  let done: Promise<unknown> = Promise.resolve();
  const url = await new Promise<string>((resolve, reject) => {
    done = runDemo(
      {
        ...DEFAULT_DEMO,
        speed: 200,
        serve: { host: '127.0.0.1', port: 0 },
        keepServing: true,
        webRoot: '/nonexistent',
        onListening: resolve,
        ...options,
      },
      () => undefined,
      abort.signal,
    );
    done.catch(reject);
  });
  return { url, abort, done };
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const json = async <T>(url: string): Promise<T> => (await (await fetch(url)).json()) as T;

async function main(): Promise<void> {
  const seed = await serve({ scenario: 'seed' });
  const api = new URL('api/v1/', seed.url).href;
  await waitFor('the seed incident to resolve', async () => {
    const { incidents } = await json<{ incidents: { status: string }[] }>(`${api}incidents`);
    return incidents[0]?.status === 'resolved';
  });
  const { incidents } = await json<{ incidents: { id: string }[] }>(`${api}incidents`);
  const id = encodeURIComponent(incidents[0]?.id ?? '');
  const routes = [
    'status',
    'nodes',
    'mesh?layer=L2',
    'incidents',
    `incidents/${id}`,
    `incidents/${id}/report?lang=ko`,
    `incidents/${id}/report?format=json`,
    'remediations',
    'openapi.json',
  ];
  console.log(
    `GET latency on loopback, ${REQUESTS} sequential requests per route (demo, seed, resolved)`,
  );
  console.log('route'.padEnd(46) + 'p50 ms  p99 ms  max ms   bytes');
  for (const route of routes) {
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      const res = await fetch(new URL(route, api));
      bytes = (await res.arrayBuffer()).byteLength;
      times.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`${route}: HTTP ${res.status}`);
    }
    times.sort((a, b) => a - b);
    console.log(
      `${route.replace(id, '{id}').padEnd(46)}${pct(times, 50).toFixed(2).padStart(6)}  ${pct(times, 99).toFixed(2).padStart(6)}  ${(times.at(-1) ?? 0).toFixed(2).padStart(6)}  ${String(bytes).padStart(6)}`,
    );
  }
  seed.abort.abort();
  await seed.done;

  // Event delivery: approve a step, time until the SSE client sees the remediation event.
  const approve = await serve({ scenario: 'approve', speed: 20 });
  const base = new URL('api/v1/', approve.url).href;
  let pending: { id: string; index: number } | null = null;
  await waitFor('a step awaiting approval', async () => {
    const view = await json<{ remediations: { id: string; steps: { status: string }[] }[] }>(
      `${base}remediations`,
    );
    const r = view.remediations[0];
    const index = r?.steps.findIndex((s) => s.status === 'awaiting-approval') ?? -1;
    pending = r !== undefined && index >= 0 ? { id: r.id, index } : null;
    return pending !== null;
  });
  const stream = await fetch(new URL('events', base));
  const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  await reader.read(); // retry + hello
  const target = pending as unknown as { id: string; index: number };
  const t = performance.now();
  const answered = fetch(new URL(`remediations/${target.id}/steps/${target.index}/approve`, base), {
    method: 'POST',
  });
  let text = '';
  while (!text.includes('event: remediation')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  const eventMs = performance.now() - t;
  const response = await answered;
  const approveMs = performance.now() - t;
  await reader.cancel();
  console.log(
    `approve → remediation event on an open SSE stream: ${eventMs.toFixed(1)} ms (approve answered ${response.status} after ${approveMs.toFixed(1)} ms)`,
  );
  approve.abort.abort();
  await approve.done;
}

await main();
