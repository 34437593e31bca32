import { readFile } from 'node:fs/promises';
import { describeError, NodeWardenError, badInput, type ErrorCode } from '../core/errors.ts';
import type { Remediation } from '../core/remediation.ts';
import type { RemediationOverview } from '../remediate/control.ts';
import type { RemediationsView } from '../server/api/types.ts';
import { EXIT_OK, parseFlags, type Command, type Io } from './command.ts';

const DEFAULT_CONTROLLER = 'http://127.0.0.1:9464';

const help = `nodewarden remediation — see and approve what the controller does to dead nodes

Usage:
  nodewarden remediation list    [--controller URL] [--token-file F] [--json]
  nodewarden remediation show    [ID] [--controller URL] [--token-file F] [--json]
  nodewarden remediation approve [ID] [--step N] [--token-file F] [--controller URL]
  nodewarden remediation reject  [ID] [--step N] [--token-file F] [--controller URL]

Talks to the controller's HTTP API (/api/v1/remediations, on the port of its
/metrics). "list" shows the mode, every remediation with its steps, and every
brake that holds. "approve" and "reject" act on the step waiting for approval
(mode approve): with no ID, the one remediation that waits; with no --step,
its waiting step. The approver in the audit trail is the token's owner (a
token file line: "admin token FILE:LINE"; with --auth tokenreview, the
Kubernetes user), so give each person their own token.

Options:
  --controller URL   default $NODEWARDEN_CONTROLLER or ${DEFAULT_CONTROLLER}
  --token-file F     a token of the controller (--read-token-file for list and
                     show, --admin-token-file for approve and reject; an admin
                     token does both); default $NODEWARDEN_TOKEN_FILE
  --step N           the step's index as list shows it (0-based)
  --json             print the API's JSON

Example (the lab; the controller started with --admin-token-file admin-token):
  openssl rand -hex 24 > admin-token
  sudo ip netns exec nw-hub nodewarden remediation list --token-file admin-token
  sudo ip netns exec nw-hub nodewarden remediation approve --token-file admin-token
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

async function call<T>(base: string, method: string, path: string, token?: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, base), {
      method,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
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
  const hint = old
    ? 'this controller has no /api/v1 remediation API: upgrade it'
    : res.status === 401 && token === undefined
      ? 'pass --token-file F with a token of the controller (--read-token-file or --admin-token-file)'
      : (parsed.hint ?? '');
  throw new NodeWardenError(code, `controller ${base}: ${parsed.message ?? `HTTP ${res.status}`}`, {
    hint,
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

/** The first token in the file (`#` comments and blank lines skipped). */
async function readToken(file: string): Promise<string> {
  try {
    const token = (await readFile(file, 'utf8'))
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').trim())
      .find((l) => l !== '');
    if (token === undefined)
      throw badInput(`token file ${file} holds no token`, 'put one token on a line');
    return token;
  } catch (error) {
    if (error instanceof NodeWardenError) throw error;
    throw new NodeWardenError('BAD_INPUT', `cannot read token file ${file}`, {
      hint: 'check the path and permissions',
      cause: error,
    });
  }
}

const OVERVIEW = '/api/v1/remediations';

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
    if (values.as !== undefined)
      throw badInput(
        '--as is gone: the approver recorded is the owner of the token (/api/v1 takes no approver name)',
        'drop --as, and give each person their own line in the controller --admin-token-file',
      );
    const tokenFile = values['token-file'] ?? process.env['NODEWARDEN_TOKEN_FILE'];
    const token = tokenFile === undefined ? undefined : await readToken(tokenFile);
    const overview = async (): Promise<RemediationsView> => {
      const o = await call<RemediationsView>(base, 'GET', OVERVIEW, token);
      if (!o.enabled)
        throw new NodeWardenError('UNAVAILABLE', `controller ${base}: ${o.policySource}`, {
          hint: 'start the controller with --remediation-mode (dry-run, approve or auto)',
        });
      return o;
    };
    switch (verb) {
      case 'list':
      case undefined: {
        const o = await overview();
        if (values.json) io.out(JSON.stringify(o, null, 2) + '\n');
        else printOverview(o, io);
        return EXIT_OK;
      }
      case 'show': {
        const o = await overview();
        const r = id === undefined ? o.remediations[0] : o.remediations.find((x) => x.id === id);
        if (r === undefined)
          throw new NodeWardenError(
            'NOT_FOUND',
            id === undefined ? 'no remediation recorded' : `no remediation ${id}`,
            { hint: 'see nodewarden remediation list' },
          );
        if (values.json) io.out(JSON.stringify(r, null, 2) + '\n');
        else printRemediation(r, io);
        return EXIT_OK;
      }
      case 'approve':
      case 'reject': {
        if (token === undefined)
          throw badInput(
            `${verb === 'approve' ? 'approving' : 'rejecting'} needs an admin token`,
            'pass --token-file F (a token from the controller --admin-token-file) or set NODEWARDEN_TOKEN_FILE',
          );
        const t = target(await overview(), id, values.step);
        const r = await call<Remediation>(
          base,
          'POST',
          `${OVERVIEW}/${encodeURIComponent(t.id)}/steps/${t.step}/${verb}`,
          token,
        );
        const by = r.steps[t.step]?.approvedBy ?? '?';
        io.out(
          `${verb === 'approve' ? 'approved' : 'rejected'} step ${t.step} (${r.steps[t.step]?.step ?? '?'}) of ${t.id} as ${by}\n`,
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
