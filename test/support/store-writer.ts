/**
 * A separate process that writes to a store through the port and prints one
 * line per acknowledged write — only after the store's promise resolved —
 * so a test can kill it at any moment and then demand every printed write.
 * Run with tsx (no build needed): `node --import tsx test/support/store-writer.ts …`.
 *
 *   store-writer.ts <store-url> incidents <prefix> <max-count> <max-ms>
 *     per i: create incident <prefix>-<i> (1 timeline entry)  → "incident <id>"
 *            append 2 timeline entries in one call            → "timeline <id>"
 *            append audit record <id>-audit                   → "audit <id>"
 *   store-writer.ts <store-url> timeline <incident-id> <max-count> <max-ms>
 *     per i: append one entry "<pid>-<i>"                       → "entry <pid>-<i>"
 *
 * First line: "ready <pid>"; last line, if it gets there: "done <count>".
 * Both loops stop at <max-count> iterations or <max-ms>, whichever comes first.
 */
import { describeError, NodeWardenError } from '../../src/core/errors.ts';
import { openStore } from '../../src/store/open.ts';

const say = (line: string): void => {
  // Writes to a pipe are synchronous on Linux: the line has left the process when this returns.
  process.stdout.write(`${line}\n`);
};

async function main(argv: readonly string[]): Promise<void> {
  const [url, mode, name, countText, msText] = argv;
  const maxCount = Number(countText);
  const maxMs = Number(msText);
  if (
    url === undefined ||
    name === undefined ||
    (mode !== 'incidents' && mode !== 'timeline') ||
    !Number.isInteger(maxCount) ||
    !Number.isInteger(maxMs)
  ) {
    throw new NodeWardenError(
      'BAD_INPUT',
      `usage: store-writer <url> incidents|timeline <name> <max-count> <max-ms>`,
      {
        hint: 'see the comment at the top of test/support/store-writer.ts',
      },
    );
  }
  const store = await openStore(url, { busyTimeoutMs: 10_000 });
  const deadline = performance.now() + maxMs;
  say(`ready ${process.pid}`);
  let done = 0;
  for (let i = 0; i < maxCount && performance.now() < deadline; i += 1) {
    const at = new Date(Date.UTC(2025, 7, 25, 4, 2, 0, i)).toISOString();
    if (mode === 'incidents') {
      const id = `${name}-${i}`;
      await store.createIncident({
        id,
        kind: 'node',
        status: 'open',
        nodes: [`gpu-${i}`],
        openedAt: at,
        resolvedAt: null,
        lastHeartbeatAt: null,
        rootCause: null,
        summary: `written by ${process.pid}`,
        timeline: [{ at, kind: 'incident-opened', message: 'opened' }],
        affectedPods: [],
      });
      say(`incident ${id}`);
      await store.appendTimeline(id, [
        { at, kind: 'down', message: 'first of two' },
        { at, kind: 'note', message: 'second of two' },
      ]);
      say(`timeline ${id}`);
      await store.appendAudit({
        id: `${id}-audit`,
        incidentId: id,
        at,
        actor: `writer/${process.pid}`,
        action: 'cordon',
        reason: 'crash test',
        evidence: { i },
        result: 'succeeded',
        durationMs: 1,
      });
      say(`audit ${id}`);
    } else {
      const message = `${process.pid}-${i}`;
      await store.appendTimeline(name, [{ at, kind: 'note', message }]);
      say(`entry ${message}`);
    }
    done += 1;
  }
  await store.close();
  say(`done ${done}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const code = error instanceof NodeWardenError ? error.code : 'ERROR';
  process.stderr.write(`store-writer: ${code}: ${describeError(error)}\n`);
  process.exitCode = 1;
});
