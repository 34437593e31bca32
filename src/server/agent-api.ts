/**
 * The controller's HTTP routes for agents and for "probe this node now",
 * as `Route`s for startOpsServer (docs/agent.md has the protocol):
 *
 * | route | who | does |
 * |---|---|---|
 * | `GET  /v1/agents/{node}/plan` | agent | its targets; 304 when `If-None-Match` is the current version and nothing is queued |
 * | `POST /v1/agents/{node}/results` | agent | a batch of probe results → mesh evidence; answers with queued directives |
 * | `POST /v1/agents/{node}/last-words` | agent | kernel-log signatures, GPU samples, interface counters, inventory → store |
 * | `POST /v1/agents/{node}/references` | agent | its answer to a `probe-references` directive (reference points probed now) |
 * | `POST /v1/nodes/{node}/probe-now` | admin | queues a full probe by each of the node's observers; 202 with what is known |
 * | `GET  /v1/nodes/{node}/probe-now/{id}` | admin | that request's answers so far |
 * | `GET  /v1/nodes/{node}/probes` | admin | the latest full result from each observer |
 * | `POST /v1/nodes/{node}/diagnose` | admin | diagnoses the node now (kept with its open incident); 200 with the verdict |
 * | `POST /v1/incidents/{id}/diagnose` | admin | diagnoses a stored incident again and keeps it; 200 with the verdict |
 *
 * Checks, in order, so that nothing is read from a stranger: method (405),
 * bearer token (401), the token may act for this node (403), media type
 * (415), size (413, before and while reading), JSON (400), shape (400 with
 * the path of the bad field), the body's node matches the path (403). A
 * handler never throws past here: every failure is an HTTP answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeError } from '../core/errors.ts';
import { ApiError, httpStatusFor, toApiError } from './http-errors.ts';
import type { Logger } from '../core/logger.ts';
import type { AgentMesh } from '../controller/mesh.ts';
import type { ReferenceAnswerOutcome } from '../controller/references.ts';
import type { VerdictEvent } from '../controller/diagnoser.ts';
import type { IncidentStore, JsonValue } from '../store/port.ts';
import {
  AGENT_FEATURES_HEADER,
  LIMITS,
  nodeName,
  parseAgentFeatures,
  parseLastWordsBatch,
  parseReferencesAnswer,
  parseResultBatch,
  ProtocolError,
  type PlanResponse,
  type PushResponse,
} from '../agent/protocol.ts';
import { bearerToken, type AgentAuth, type Principal } from './agent-api-auth.ts';
import type { Route } from './ops-server.ts';

export { ApiError, httpStatusFor, type ApiErrorCode } from './http-errors.ts';

export interface AgentApiOptions {
  readonly mesh: AgentMesh;
  readonly auth: AgentAuth;
  /** Where last words go; without one, the last-words route answers 503. */
  readonly store?: IncidentStore;
  readonly log: Logger;
  /** Default LIMITS.maxBodyBytes (1 MiB). */
  readonly maxBodyBytes?: number;
  /** Counts requests by route and status, if given (a fixed, small label set). */
  readonly onRequest?: (route: string, status: number) => void;
  /** Diagnosis on request; without it, the diagnose routes answer 503. */
  readonly diagnoser?: {
    node(node: string): Promise<VerdictEvent>;
    again(incidentId: string): Promise<VerdictEvent>;
  };
}

/** What a diagnose route answers: the verdict and where it was kept, not the whole evidence. */
export function verdictBody(event: VerdictEvent): Record<string, unknown> {
  const { diagnosis, incident } = event;
  const v = diagnosis.verdict;
  return {
    incidentId: incident.id,
    stored: event.auditId !== null,
    auditId: event.auditId,
    node: incident.nodes[0] ?? null,
    rootCause: v.rootCause,
    confidence: v.confidence,
    rule: v.rule,
    decidedAt: v.decidedAt,
    totalMs: diagnosis.totalMs,
    timings: diagnosis.timings,
    missing: v.missing,
    findings: v.findings,
    report: event.files,
  };
}

const AGENT_ROUTE = /^\/v1\/agents\/([^/]+)\/(plan|results|last-words|references)$/;
const NODE_ROUTE = /^\/v1\/nodes\/([^/]+)\/(probe-now|probes|diagnose)(?:\/([^/]+))?$/;
const INCIDENT_ROUTE = /^\/v1\/incidents\/([A-Za-z0-9._-]{1,256})\/diagnose$/;

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body) + '\n');
}

function pathNode(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new ApiError(
      'BAD_INPUT',
      `node "${raw}" in the path is not valid URL encoding`,
      'use the node name as kubectl get nodes prints it',
    );
  }
  try {
    return nodeName(decoded, 'path node');
  } catch (error) {
    throw new ApiError(
      'BAD_INPUT',
      describeError(error),
      'use the node name as kubectl get nodes prints it',
      'path',
    );
  }
}

function authenticate(req: IncomingMessage, auth: AgentAuth): Principal {
  const token = bearerToken(req);
  if (token === null) {
    throw new ApiError(
      'UNAUTHENTICATED',
      'no bearer token: send Authorization: Bearer <token>',
      'agents read their token from --token-file',
    );
  }
  const principal = auth.identify(token);
  if (principal === null) {
    throw new ApiError(
      'UNAUTHENTICATED',
      'the bearer token is not valid',
      'check that the agent and controller use the same token Secret',
    );
  }
  return principal;
}

function mayActFor(principal: Principal, node: string): void {
  if (principal.kind !== 'agent') {
    throw new ApiError(
      'FORBIDDEN',
      'an admin token may not act as an agent',
      'agents use the agent token',
    );
  }
  if (principal.node !== '*' && principal.node !== node) {
    throw new ApiError(
      'FORBIDDEN',
      `this token belongs to node ${principal.node}; it may not report for node ${node}`,
      'each agent reports only for its own node (--node must match the token binding)',
    );
  }
}

function mustBeAdmin(principal: Principal): void {
  if (principal.kind !== 'admin') {
    throw new ApiError(
      'FORBIDDEN',
      'this route needs an admin token',
      'use a token from the admin token file',
    );
  }
}

/** Reads a JSON body of at most `max` bytes. */
async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      `content-type "${type}" is not application/json`,
      'send the body as JSON with Content-Type: application/json',
    );
  }
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  const tooLarge = (): ApiError =>
    new ApiError(
      'TOO_LARGE',
      `request body is larger than ${max} bytes`,
      'send fewer results per batch (agents split their backlog into batches)',
    );
  if (Number.isFinite(declared) && declared > max) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.byteLength;
    if (size > max) throw tooLarge();
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(
      'BAD_INPUT',
      `body is not JSON: ${describeError(error)}`,
      'send the body as one JSON object',
      '',
    );
  }
}

function validated<T>(parse: (v: unknown) => T, value: unknown): T {
  try {
    return parse(value);
  } catch (error) {
    if (error instanceof ProtocolError)
      throw new ApiError('BAD_INPUT', error.message, error.hint ?? '', error.path);
    throw error;
  }
}

function sameNode(bodyNode: string, node: string): void {
  if (bodyNode !== node) {
    throw new ApiError(
      'FORBIDDEN',
      `body reports for node ${bodyNode} on the route of node ${node}`,
      'an agent reports only for its own node',
      'node',
    );
  }
}

function methodIs(req: IncomingMessage, method: string): void {
  if (req.method !== method) {
    throw new ApiError(
      'METHOD_NOT_ALLOWED',
      `${req.method ?? '?'} is not allowed here; use ${method}`,
      'see docs/agent.md for the routes',
    );
  }
}

function diagnoserOf(options: AgentApiOptions): NonNullable<AgentApiOptions['diagnoser']> {
  if (options.diagnoser === undefined) {
    throw new ApiError(
      'UNAVAILABLE',
      'this controller does not diagnose (no store or diagnosis turned off)',
      'start the controller with a store and without --no-diagnose',
    );
  }
  return options.diagnoser;
}

/** Why an observer's reference-point answer was not taken, as an HTTP error (404/409/400). */
function referenceRefusal(
  outcome: Exclude<ReferenceAnswerOutcome, 'recorded'>,
  id: string,
  node: string,
): ApiError {
  switch (outcome) {
    case 'unknown':
      return new ApiError(
        'NOT_FOUND',
        `no probe-references directive ${id} (never sent, or forgotten)`,
        'answer only directives the controller handed out, before they expire',
        'directive',
      );
    case 'not-asked':
      return new ApiError(
        'FORBIDDEN',
        `directive ${id} was not sent to node ${node}`,
        'each observer answers only its own directives',
        'directive',
      );
    case 'expired':
      return new ApiError(
        'CONFLICT',
        `directive ${id} expired before its answer arrived`,
        'the diagnosis went on without this observer; nothing to do',
        'directive',
      );
    case 'mismatch':
      return new ApiError(
        'BAD_INPUT',
        `the answer to ${id} names points the directive did not ask for`,
        'answer with exactly the directive’s points (kind, ip, port)',
        'results',
      );
  }
}

/** The agent API as routes for startOpsServer. */
export function agentApiRoutes(options: AgentApiOptions): readonly Route[] {
  const { mesh, auth, store, log } = options;
  const max = options.maxBodyBytes ?? LIMITS.maxBodyBytes;

  const handle = async (
    name: string,
    req: IncomingMessage,
    res: ServerResponse,
    work: () => Promise<void>,
  ): Promise<boolean> => {
    try {
      await work();
    } catch (error) {
      const apiError = toApiError(error, 'controller');
      const status = httpStatusFor(apiError.code);
      if (status >= 500)
        log.log('error', 'agent API failed', { route: name, error: describeError(error) });
      else
        log.log('debug', 'agent API refused a request', {
          route: name,
          status,
          error: apiError.message,
        });
      // A refused body may still be arriving: close the connection rather than read it.
      const close = apiError.code === 'TOO_LARGE' || apiError.code === 'UNAUTHENTICATED';
      send(
        res,
        status,
        {
          error: apiError.code,
          message: apiError.message,
          hint: apiError.hint,
          ...(apiError.path === undefined ? {} : { path: apiError.path }),
        },
        close ? { connection: 'close' } : {},
      );
      if (close) req.resume();
    }
    options.onRequest?.(name, res.statusCode);
    return true;
  };

  const agents: Route = (req, res, url) => {
    const match = AGENT_ROUTE.exec(url.pathname);
    if (match === null) return false;
    const what = match[2] as 'plan' | 'results' | 'last-words' | 'references';
    return handle(what, req, res, async () => {
      methodIs(req, what === 'plan' ? 'GET' : 'POST');
      const node = pathNode(match[1] ?? '');
      mayActFor(authenticate(req, auth), node);
      const features = parseAgentFeatures(req.headers[AGENT_FEATURES_HEADER]);
      switch (what) {
        case 'plan': {
          const answer: PlanResponse = mesh.planFor(node, features);
          const etag = `"${answer.plan.version}"`;
          if (req.headers['if-none-match'] === etag && answer.directives.length === 0) {
            res.writeHead(304, { etag }).end();
            return;
          }
          send(res, 200, answer, { etag });
          return;
        }
        case 'results': {
          const batch = validated(parseResultBatch, await readJson(req, max));
          sameNode(batch.node, node);
          const outcome = mesh.ingest(node, batch, features);
          const body: PushResponse = {
            accepted: outcome.accepted,
            ignored: outcome.ignored,
            planVersion: mesh.plans.version,
            directives: outcome.directives,
          };
          send(res, 200, body);
          return;
        }
        case 'last-words': {
          if (store === undefined) {
            throw new ApiError(
              'UNAVAILABLE',
              'this controller keeps no last words (no store)',
              'start the controller with a store',
            );
          }
          const batch = validated(parseLastWordsBatch, await readJson(req, max));
          sameNode(batch.node, node);
          for (const item of batch.items) {
            await store.putLastWords(node, item.at, item.kind, item.data as JsonValue);
          }
          send(res, 200, { stored: batch.items.length });
          return;
        }
        case 'references': {
          const answer = validated(parseReferencesAnswer, await readJson(req, max));
          sameNode(answer.node, node);
          const outcome = mesh.recordReferences(node, answer);
          if (outcome !== 'recorded') throw referenceRefusal(outcome, answer.directive, node);
          send(res, 200, { recorded: answer.results.length });
          return;
        }
      }
    });
  };

  const nodes: Route = (req, res, url) => {
    const match = NODE_ROUTE.exec(url.pathname);
    if (match === null) return false;
    const what = match[2] as 'probe-now' | 'probes' | 'diagnose';
    const id = match[3];
    const name =
      what === 'probe-now' ? (id === undefined ? 'probe-now' : 'probe-now-status') : what;
    return handle(name, req, res, async () => {
      if (what !== 'probe-now' && id !== undefined)
        throw new ApiError('NOT_FOUND', `no route ${url.pathname}`, 'see docs/agent.md');
      methodIs(req, name === 'probe-now' || name === 'diagnose' ? 'POST' : 'GET');
      const node = pathNode(match[1] ?? '');
      mustBeAdmin(authenticate(req, auth));
      if (name === 'diagnose') {
        send(res, 200, verdictBody(await diagnoserOf(options).node(node)));
      } else if (name === 'probe-now') {
        const status = mesh.requestProbeNow(node);
        send(res, 202, {
          ...status,
          latest: mesh.evidence.fullResults(node),
          observations: mesh.observations(node),
        });
      } else if (name === 'probe-now-status') {
        const status = mesh.probeNow.status(id ?? '');
        if (status === undefined || status.node !== node) {
          throw new ApiError(
            'NOT_FOUND',
            `no probe-now request ${id ?? ''} for node ${node}`,
            'requests are forgotten after a while; ask again',
          );
        }
        send(res, 200, status);
      } else {
        send(res, 200, {
          node,
          observers: mesh.plans.observersOf(node),
          latest: mesh.evidence.fullResults(node),
          observations: mesh.observations(node),
        });
      }
    });
  };

  const incidents: Route = (req, res, url) => {
    const match = INCIDENT_ROUTE.exec(url.pathname);
    if (match === null) return false;
    return handle('incident-diagnose', req, res, async () => {
      methodIs(req, 'POST');
      mustBeAdmin(authenticate(req, auth));
      send(res, 200, verdictBody(await diagnoserOf(options).again(match[1] ?? '')));
    });
  };

  return [agents, nodes, incidents];
}
