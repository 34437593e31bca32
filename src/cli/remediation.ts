import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { describeError, NodeWardenError, badInput, type ErrorCode } from '../core/errors.ts';
import type { Remediation } from '../core/remediation.ts';
import type { RemediationOverview } from '../remediate/control.ts';
import { EXIT_OK, parseFlags, type Command, type Io } from './command.ts';

const DEFAULT_CONTROLLER = 'http://127.0.0.1:9464';

const help = `nodewarden remediation — see and approve what the controller does to dead nodes

Usage:
  nodewarden remediation list    [--controller URL] [--json]
  nodewarden remediation show    [ID] [--controller URL] [--json]
  nodewarden remediation approve [ID] [--step N] [--as NAME] [--token-file F] [--controller URL]
  nodewarden remediation reject  [ID] [--step N] [--as NAME] [--token-file F] [--controller URL]

Talks to the controller's HTTP API (the port of its /metrics). "list" shows
the mode, every remediation with its steps, and every brake that holds.
"approve" and "reject" act on the step waiting for approval (mode approve):
with no ID, the one remediation that waits; with no --step, its waiting step.

Options:
  --controller URL   default $NODEWARDEN_CONTROLLER or ${DEFAULT_CONTROLLER}
  --token-file F     an admin token (the controller's --admin-token-file);
                     default $NODEWARDEN_ADMIN_TOKEN_FILE
  --as NAME          who approves, recorded in the audit trail (default $USER)
  --step N           the step's index as list shows it (0-based)
  --json             print the API's JSON

Example (the lab):
  sudo ip netns exec nw-hub nodewarden remediation list
  sudo ip netns exec nw-hub nodewarden remediation approve --token-file /var/lib/nodewarden/lab/admin-token
`;

interface ApiErrorBody {
  readonly error?: string;
  readonly message?: string;
  readonly hint?: string;
}

const CODES: readonly ErrorCode[] = [
  'BAD_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'UNAVAILABLE',
  'TIMEOUT',
];

async function call<T>(
  base: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, base), {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new NodeWardenError(
      'UNAVAILABLE',
      `cannot reach the controller at ${base}: ${cause ?? describeError(error)}`,
      {
        hint: 'pass --controller http://HOST:PORT (the controller --listen address), or run this where the controller runs',
        cause: error,
      },
    );
  }
  const text = await res.text();
  if (res.ok) return JSON.parse(text) as T;
  let parsed: ApiErrorBody = {};
  try {
    parsed = JSON.parse(text) as ApiErrorBody;
  } catch {
    parsed = { message: text.slice(0, 200) };
  }
  const code =
    CODES.find((c) => c === parsed.error) ?? (res.status === 404 ? 'NOT_FOUND' : 'BAD_INPUT');
  const old = res.status === 404 && parsed.error === undefined;
  throw new NodeWardenError(code, `controller ${base}: ${parsed.message ?? `HTTP ${res.status}`}`, {
    hint: old ? 'this controller has no remediation API: upgrade it' : (parsed.hint ?? ''),
  });
}

const time = (iso: string | null): string => (iso === null ? '-' : iso.slice(11, 19));

function printRemediation(r: Remediation, io: Io): void {
  io.out(
    `${r.id}  ${r.node}  ${r.rootCause}  ${r.status}  (mode ${r.mode}, started ${r.createdAt})\n`,
  );
  io.out(`  ${r.summary}\n`);
  if (r.heldBy.length > 0) io.out(`  held by: ${r.heldBy.join(', ')}\n`);
  r.steps.forEach((s, i) => {
    const mark = i === r.current && r.status === 'in-progress' ? '▶' : ' ';
    const who = s.approvedBy === null ? '' : `  approved by ${s.approvedBy}`;
    io.out(
      `  ${mark}${String(i).padStart(2)} ${s.step.padEnd(16)} ${s.status.padEnd(17)} ${time(s.startedAt)}→${time(s.endedAt)}  ${s.detail}${who}\n`,
    );
  });
}

function printOverview(o: RemediationOverview, io: Io): void {
  io.out(
    `mode: ${o.mode}   policy: ${o.policySource}   brakes evaluated: ${o.evaluatedAt ?? 'not yet'}\n`,
  );
  const engaged = o.brakes.filter((b) => b.engaged);
  io.out(engaged.length === 0 ? 'brakes: none engaged\n' : 'brakes engaged:\n');
  for (const b of engaged)
    io.out(
      `  ${b.name}${b.node === null ? '' : ` (${b.node})`}: ${b.detail}${b.until === null ? '' : ` — until ${b.until}`}\n`,
    );
  for (const c of o.capacity) io.out(`capacity guard: ${c.summary}\n`);
  if (o.remediations.length === 0) io.out('no remediation recorded\n');
  for (const r of o.remediations) {
    io.out('\n');
    printRemediation(r, io);
  }
}

/** The remediation and step a verdict is for: given, or the only one waiting. */
function target(
  o: RemediationOverview,
  id: string | undefined,
  step: string | undefined,
): { id: string; step: number } {
  const waiting = o.remediations.filter((r) =>
    r.steps.some((s) => s.status === 'awaiting-approval'),
  );
  const r = id === undefined ? waiting[0] : o.remediations.find((x) => x.id === id);
  if (id === undefined && waiting.length !== 1) {
    throw badInput(
      waiting.length === 0
        ? 'no remediation is waiting for approval'
        : `${waiting.length} remediations wait for approval: name one`,
      waiting.length === 0
        ? 'see nodewarden remediation list'
        : `e.g. nodewarden remediation approve ${waiting[0]?.id ?? ''}`,
    );
  }
  if (r === undefined)
    throw new NodeWardenError('NOT_FOUND', `no remediation ${id ?? ''}`, {
      hint: 'see nodewarden remediation list',
    });
  if (step !== undefined) {
    const n = Number(step);
    if (!Number.isInteger(n) || n < 0)
      throw badInput(
        `--step "${step}" is not a step index`,
        'pass the index list shows, e.g. --step 1',
      );
    return { id: r.id, step: n };
  }
  const i = r.steps.findIndex((s) => s.status === 'awaiting-approval');
  if (i < 0)
    throw new NodeWardenError(
      'CONFLICT',
      `${r.id} has no step waiting for approval (it is ${r.status})`,
      { hint: 'see nodewarden remediation show' },
    );
  return { id: r.id, step: i };
}

async function adminToken(file: string | undefined): Promise<string> {
  if (file === undefined) {
    throw badInput(
      'approving needs an admin token',
      'pass --token-file F (a token from the controller --admin-token-file) or set NODEWARDEN_ADMIN_TOKEN_FILE',
    );
  }
  try {
    const token = (await readFile(file, 'utf8'))
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').trim())
      .find((l) => l !== '');
    if (token === undefined)
      throw badInput(`token file ${file} holds no token`, 'put one admin token on a line');
    return token;
  } catch (error) {
    if (error instanceof NodeWardenError) throw error;
    throw new NodeWardenError('BAD_INPUT', `cannot read token file ${file}`, {
      hint: 'check the path and permissions',
      cause: error,
    });
  }
}

export const command: Command = {
  name: 'remediation',
  summary: 'list remediations and brakes; approve or reject a step (talks to the controller)',
  help,
  async run(argv, io) {
    const { values, positionals } = parseFlags('remediation', argv, {
      controller: { type: 'string' },
      'token-file': { type: 'string' },
      as: { type: 'string' },
      step: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    const [verb, id, ...extra] = positionals;
    const base = values.controller ?? process.env['NODEWARDEN_CONTROLLER'] ?? DEFAULT_CONTROLLER;
    if (!/^https?:\/\//.test(base))
      throw badInput(
        `--controller "${base}" is not an http(s) URL`,
        `pass e.g. --controller ${DEFAULT_CONTROLLER}`,
      );
    if (extra.length > 0)
      throw badInput(`unexpected "${extra.join(' ')}"`, 'see nodewarden remediation --help');
    switch (verb) {
      case 'list':
      case undefined: {
        const o = await call<RemediationOverview>(base, 'GET', '/v1/remediations');
        if (values.json) io.out(JSON.stringify(o, null, 2) + '\n');
        else printOverview(o, io);
        return EXIT_OK;
      }
      case 'show': {
        const o = await call<RemediationOverview>(base, 'GET', '/v1/remediations');
        const r =
          id === undefined
            ? o.remediations[0]
            : await call<Remediation>(base, 'GET', `/v1/remediations/${encodeURIComponent(id)}`);
        if (r === undefined)
          throw new NodeWardenError('NOT_FOUND', 'no remediation recorded', {
            hint: 'see nodewarden remediation list',
          });
        if (values.json) io.out(JSON.stringify(r, null, 2) + '\n');
        else printRemediation(r, io);
        return EXIT_OK;
      }
      case 'approve':
      case 'reject': {
        const token = await adminToken(
          values['token-file'] ?? process.env['NODEWARDEN_ADMIN_TOKEN_FILE'],
        );
        const o = await call<RemediationOverview>(base, 'GET', '/v1/remediations');
        const t = target(o, id, values.step);
        const approver = values.as ?? process.env['USER'] ?? userInfo().username;
        const r = await call<Remediation>(
          base,
          'POST',
          `/v1/remediations/${encodeURIComponent(t.id)}/steps/${t.step}/${verb}`,
          token,
          { approver },
        );
        io.out(
          `${verb === 'approve' ? 'approved' : 'rejected'} step ${t.step} (${r.steps[t.step]?.step ?? '?'}) of ${t.id} as ${approver}\n`,
        );
        if (!values.json) printRemediation(r, io);
        return EXIT_OK;
      }
      default:
        throw badInput(
          `"${verb}" is not list, show, approve or reject`,
          'see nodewarden remediation --help',
        );
    }
  },
};
