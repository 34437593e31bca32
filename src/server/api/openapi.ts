/**
 * The OpenAPI 3.1 document served at `/api/v1/openapi.json`. Written by
 * hand, next to the route table, and checked against it by
 * src/server/api/openapi.test.ts: a route missing here (or a path here with
 * no route) fails that test. Shapes follow src/server/api/types.ts.
 */

type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string): Json => ({
  description,
  content: { 'application/json': { schema } },
});
const str = { type: 'string' } as const;
const strOrNull = { type: ['string', 'null'] } as const;
const numOrNull = { type: ['number', 'null'] } as const;
const time = { type: 'string', format: 'date-time' } as const;
const timeOrNull = { type: ['string', 'null'], format: 'date-time' } as const;
const health = { type: 'string', enum: ['Healthy', 'Suspect', 'Down', 'Recovering'] } as const;
const layer = { type: 'string', enum: ['L2', 'L3', 'L4', 'L7'] } as const;
const layerStatus = { type: 'string', enum: ['ok', 'failed', 'skipped'] } as const;
const obj = (properties: Record<string, Json>, extra: Record<string, Json> = {}): Json => ({
  type: 'object',
  required: Object.keys(properties).filter((k) => !k.endsWith('?')),
  properties: Object.fromEntries(
    Object.entries(properties).map(([k, v]) => [k.replace(/\?$/, ''), v]),
  ),
  ...extra,
});
const arrayOf = (items: Json): Json => ({ type: 'array', items });

const errors = (...codes: number[]): Record<string, Json> => {
  const words: Record<number, string> = {
    400: 'a parameter is wrong: `param` names it, `message` says what is wrong, `hint` what to send',
    401: 'no bearer token, or not a valid one',
    403: 'the token is valid but its role may not do this (approve needs admin)',
    404: 'no such incident, remediation, step or stability test',
    405: 'the path exists with another method (see the Allow header)',
    409: 'the step is not waiting for approval (any more)',
    415: 'the body is not application/json',
    503: 'no remediation ladder runs in this process',
  };
  return Object.fromEntries(codes.map((c) => [String(c), json(ref('Error'), words[c] ?? 'error')]));
};

const readErrors = (): Record<string, Json> => errors(401, 403, 405);

const idParam = (name: string, description: string): Json => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: str,
});

const stepAction = (verb: 'approve' | 'reject'): Json => ({
  post: {
    operationId: `${verb}Step`,
    summary:
      verb === 'approve'
        ? 'Approve a step that waits for approval (remediation mode approve); admin role'
        : 'Reject a step that waits for approval: the ladder does not take it; admin role',
    security: [{ bearer: [] }],
    parameters: [
      idParam('id', 'remediation id, from GET /api/v1/remediations or the incident'),
      idParam('step', 'the step: its 0-based index in `steps`, or its kind, e.g. soft-reboot'),
    ],
    requestBody: {
      required: false,
      description: "none (an empty JSON object is accepted); the approver is the token's subject",
      content: { 'application/json': { schema: { type: 'object', maxProperties: 0 } } },
    },
    responses: {
      '200': json(ref('Remediation'), 'the remediation after the decision'),
      ...errors(400, 401, 403, 404, 405, 409, 415, 503),
    },
  },
});

/** The document; `paths` keys are the route table's templates. */
export const OPENAPI_DOCUMENT: Json = {
  openapi: '3.1.0',
  info: {
    title: 'NodeWarden HTTP API',
    version: '1',
    description:
      'Nodes, the probe mesh, incidents with their evidence, verdict, report and remediation, and live events. ' +
      'Served by `nodewarden controller` (bearer tokens or TokenReview) and `nodewarden demo` (no auth on 127.0.0.1). ' +
      "Every time is ISO-8601 UTC on the serving process's clock (simulated in the demo). See docs/api.md.",
  },
  servers: [{ url: '/' }],
  security: [{ bearer: [] }],
  paths: {
    '/api/v1/status': {
      get: {
        operationId: 'getStatus',
        summary: 'What is serving, its clock and the cluster at a glance',
        responses: { '200': json(ref('Status'), 'status'), ...readErrors() },
      },
    },
    '/api/v1/me': {
      get: {
        operationId: 'getMe',
        summary: 'The caller: subject, role (read or admin) and the auth mode',
        responses: {
          '200': json(
            obj({
              subject: str,
              role: { type: 'string', enum: ['read', 'admin'] },
              auth: ref('AuthMode'),
            }),
            'the caller',
          ),
          ...readErrors(),
        },
      },
    },
    '/api/v1/nodes': {
      get: {
        operationId: 'listNodes',
        summary:
          'Every node: detection state, Ready, Lease age, role, GPU/MIG memory, open incident',
        responses: {
          '200': json(obj({ now: time, nodes: arrayOf(ref('Node')) }), 'the nodes, by name'),
          ...readErrors(),
        },
      },
    },
    '/api/v1/mesh': {
      get: {
        operationId: 'getMesh',
        summary: "The probe mesh: each observer's latest probe of each target, per layer",
        parameters: [
          {
            name: 'layer',
            in: 'query',
            required: false,
            description: "adds `status`, that layer's result, to every cell",
            schema: layer,
          },
        ],
        responses: {
          '200': json(
            obj({
              now: time,
              layer: { type: ['string', 'null'], enum: ['L2', 'L3', 'L4', 'L7', null] },
              observers: arrayOf(str),
              targets: arrayOf(str),
              cells: arrayOf(ref('MeshCell')),
            }),
            'the mesh',
          ),
          ...errors(400, 401, 403, 405),
        },
      },
    },
    '/api/v1/incidents': {
      get: {
        operationId: 'listIncidents',
        summary: 'Incidents, newest first',
        parameters: [
          {
            name: 'status',
            in: 'query',
            required: false,
            schema: { type: 'string', enum: ['open', 'resolved'] },
          },
          {
            name: 'node',
            in: 'query',
            required: false,
            description: 'only incidents involving this node',
            schema: str,
          },
          {
            name: 'limit',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
          {
            name: 'before',
            in: 'query',
            required: false,
            description: 'only incidents opened before this instant (paging)',
            schema: time,
          },
        ],
        responses: {
          '200': json(obj({ incidents: arrayOf(ref('IncidentSummary')) }), 'incidents'),
          ...errors(400, 401, 403, 405),
        },
      },
    },
    '/api/v1/incidents/{id}': {
      get: {
        operationId: 'getIncident',
        summary:
          'One incident: timeline, evidence, verdict and confidence, remediation steps, brake states, audit trail',
        parameters: [idParam('id', 'incident id')],
        responses: {
          '200': json(ref('IncidentDetail'), 'the incident'),
          ...errors(400, 401, 403, 404, 405),
        },
      },
    },
    '/api/v1/incidents/{id}/report': {
      get: {
        operationId: 'getReport',
        summary:
          "The incident report (the seed report's sections), Markdown in English or Korean, or JSON",
        parameters: [
          idParam('id', 'incident id'),
          {
            name: 'format',
            in: 'query',
            required: false,
            schema: { type: 'string', enum: ['md', 'json'], default: 'md' },
          },
          {
            name: 'lang',
            in: 'query',
            required: false,
            description: 'Markdown only',
            schema: { type: 'string', enum: ['en', 'ko'], default: 'en' },
          },
          {
            name: 'download',
            in: 'query',
            required: false,
            description: '1: Content-Disposition attachment',
            schema: { type: 'string', enum: ['0', '1'] },
          },
        ],
        responses: {
          '200': {
            description: 'the report',
            content: {
              'text/markdown': { schema: str },
              'application/json': { schema: { type: 'object' } },
            },
          },
          ...errors(400, 401, 403, 404, 405),
        },
      },
    },
    '/api/v1/stability-tests': {
      get: {
        operationId: 'listStabilityTests',
        summary:
          "Stored network-stability tests under GPU load (nodewarden stability-test --store, and the controller's --stability-schedule), newest first",
        parameters: [
          { name: 'node', in: 'query', required: false, schema: str },
          {
            name: 'limit',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 1, maximum: 1000 },
          },
        ],
        responses: {
          '200': json(ref('StabilityTests'), 'stability tests'),
          ...errors(400, 401, 403, 405),
        },
      },
    },
    '/api/v1/stability-tests/{id}/report': {
      get: {
        operationId: 'getStabilityReport',
        summary: "One stability test's report: JSON (steps, series), Markdown, or the SVG chart",
        parameters: [
          idParam('id', 'stability test id (from the list)'),
          {
            name: 'format',
            in: 'query',
            required: false,
            schema: { type: 'string', enum: ['json', 'md', 'svg'], default: 'json' },
          },
        ],
        responses: {
          '200': {
            description: 'the report',
            content: {
              'application/json': { schema: { type: 'object' } },
              'text/markdown': { schema: str },
              'image/svg+xml': { schema: str },
            },
          },
          ...errors(400, 401, 403, 404, 405),
        },
      },
    },
    '/api/v1/remediations': {
      get: {
        operationId: 'listRemediations',
        summary: 'Remediation mode, brake states, and every remediation with its steps',
        responses: { '200': json(ref('Remediations'), 'remediations'), ...readErrors() },
      },
    },
    '/api/v1/remediations/{id}/steps/{step}/approve': stepAction('approve'),
    '/api/v1/remediations/{id}/steps/{step}/reject': stepAction('reject'),
    '/api/v1/events': {
      get: {
        operationId: 'events',
        summary:
          'Server-Sent Events: hello, node, incident, verdict, remediation, tick (every 2 s). ' +
          "Browsers' EventSource cannot send headers: pass the token as ?access_token= on this route only.",
        parameters: [
          { name: 'access_token', in: 'query', required: false, schema: str },
          {
            name: 'Last-Event-ID',
            in: 'header',
            required: false,
            description: 'replay events after this id (up to 256)',
            schema: str,
          },
        ],
        responses: {
          '200': {
            description: 'an endless text/event-stream; each `data:` is an ApiEvent',
            content: { 'text/event-stream': { schema: ref('Event') } },
          },
          ...readErrors(),
        },
      },
    },
    '/api/v1/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: 'This document (no token needed)',
        security: [],
        responses: { '200': json({ type: 'object' }, 'OpenAPI 3.1') },
      },
    },
  },
  components: {
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description:
          'Tokens from --read-token-file / --admin-token-file, or a Kubernetes service-account token with --auth tokenreview',
      },
    },
    schemas: {
      Error: obj({ error: str, message: str, hint: str, 'param?': str }),
      StabilityTests: obj({
        tests: arrayOf(
          obj({
            id: str,
            node: str,
            startedAt: time,
            endedAt: time,
            actor: str,
            verdict: { type: 'string', enum: ['pass', 'fail', 'inconclusive'] },
            summary: str,
            troubleStep: { type: ['integer', 'null'] },
            troubleGpuPercent: numOrNull,
            durationMs: { type: 'number' },
          }),
        ),
      }),
      AuthMode: { type: 'string', enum: ['none', 'tokens', 'tokenreview'] },
      Status: obj({
        mode: { type: 'string', enum: ['controller', 'demo'] },
        version: str,
        now: time,
        speed: { type: 'number' },
        zone: str,
        scenario: strOrNull,
        situation: { type: 'string', enum: ['normal', 'partition', 'control-plane-side'] },
        synced: { type: 'boolean' },
        apiServerConnected: { type: 'boolean' },
        nodes: obj({
          total: { type: 'integer' },
          byHealth: { type: 'object', additionalProperties: { type: 'integer' } },
        }),
        openIncidents: { type: 'integer' },
        auth: ref('AuthMode'),
      }),
      GpuSummary: obj({
        origin: str,
        mig: { type: 'boolean' },
        maxUsedPct: { type: 'number' },
        readings: arrayOf(
          obj({
            gpu: str,
            migInstance: strOrNull,
            migProfile: strOrNull,
            usedPct: { type: 'number' },
            at: time,
          }),
        ),
      }),
      Node: obj({
        name: str,
        internalIP: strOrNull,
        role: str,
        health,
        healthSince: timeOrNull,
        reason: strOrNull,
        ready: { type: ['string', 'null'], enum: ['True', 'False', 'Unknown', null] },
        leaseAgeMs: numOrNull,
        leaseRenewTime: timeOrNull,
        unschedulable: { type: 'boolean' },
        taints: arrayOf(str),
        gpu: { oneOf: [ref('GpuSummary'), { type: 'null' }] },
        openIncident: strOrNull,
      }),
      MeshCell: obj({
        observer: str,
        target: str,
        at: time,
        ageMs: { type: 'number' },
        healthy: { type: 'boolean' },
        failedLayer: { type: ['string', 'null'], enum: ['L2', 'L3', 'L4', 'L7', null] },
        layers: obj({ L2: layerStatus, L3: layerStatus, L4: layerStatus, L7: layerStatus }),
        'status?': layerStatus,
        detail: str,
      }),
      IncidentSummary: obj({
        id: str,
        kind: { type: 'string', enum: ['node', 'partition'] },
        status: { type: 'string', enum: ['open', 'resolved'] },
        nodes: arrayOf(str),
        openedAt: time,
        resolvedAt: timeOrNull,
        lastHeartbeatAt: timeOrNull,
        summary: str,
        mttdSeconds: numOrNull,
        mttrSeconds: numOrNull,
        rootCause: strOrNull,
        confidence: numOrNull,
      }),
      Incident: {
        type: 'object',
        description:
          'The stored incident (src/core/incident.ts): id, kind, status, nodes, times, summary, timeline[], affectedPods[]',
        required: ['id', 'kind', 'status', 'nodes', 'openedAt', 'timeline', 'affectedPods'],
        properties: {
          timeline: arrayOf(obj({ at: time, kind: str, message: str, 'node?': str })),
          affectedPods: arrayOf(obj({ namespace: str, name: str, 'owner?': str })),
        },
      },
      IncidentDetail: obj({
        incident: ref('Incident'),
        mttdSeconds: numOrNull,
        mttrSeconds: numOrNull,
        diagnosis: {
          oneOf: [
            obj({
              verdict: {
                type: 'object',
                description:
                  'src/core/classify.ts Verdict: rootCause, confidence (0–1), rule, decidedAt, findings, correlations, missing, candidates, reliedOn',
              },
              evidence: arrayOf({
                type: 'object',
                description:
                  'src/core/evidence.ts Evidence: source, observedAt, durationMs, status, summary, data',
              }),
              zone: str,
              decidedAt: time,
            }),
            { type: 'null' },
          ],
        },
        remediation: ref('Remediations'),
        audit: arrayOf(
          obj({
            id: str,
            at: time,
            actor: str,
            action: str,
            reason: str,
            result: str,
            durationMs: { type: 'number' },
          }),
        ),
        reports: { oneOf: [obj({ en: str, ko: str, json: str }), { type: 'null' }] },
      }),
      Step: {
        type: 'object',
        description: 'src/core/remediation.ts StepState',
        required: [
          'step',
          'timeoutMs',
          'status',
          'startedAt',
          'deadlineAt',
          'endedAt',
          'detail',
          'approvedBy',
        ],
        properties: {
          step: str,
          timeoutMs: { type: 'number' },
          status: {
            type: 'string',
            enum: [
              'pending',
              'awaiting-approval',
              'running',
              'waiting',
              'succeeded',
              'failed',
              'timed-out',
              'skipped',
              'rejected',
              'dry-run',
            ],
          },
          startedAt: timeOrNull,
          deadlineAt: timeOrNull,
          endedAt: timeOrNull,
          detail: str,
          approvedBy: strOrNull,
        },
      },
      Remediation: {
        type: 'object',
        description: 'src/core/remediation.ts Remediation',
        required: [
          'id',
          'incidentId',
          'node',
          'rootCause',
          'mode',
          'status',
          'steps',
          'current',
          'heldBy',
          'summary',
        ],
        properties: {
          id: str,
          incidentId: str,
          node: str,
          rootCause: str,
          mode: { type: 'string', enum: ['off', 'dry-run', 'approve', 'auto'] },
          status: {
            type: 'string',
            enum: ['in-progress', 'succeeded', 'escalated', 'failed', 'cancelled', 'dry-run'],
          },
          createdAt: time,
          endedAt: timeOrNull,
          steps: arrayOf(ref('Step')),
          current: { type: 'integer' },
          heldBy: arrayOf(str),
          summary: str,
        },
      },
      Brake: obj({
        name: str,
        scope: { type: 'string', enum: ['cluster', 'node'] },
        node: strOrNull,
        engaged: { type: 'boolean' },
        holdsAll: { type: 'boolean' },
        detail: str,
        until: timeOrNull,
      }),
      Remediations: obj({
        enabled: {
          type: 'boolean',
          description: 'false where no remediation ladder runs in this process',
        },
        mode: { type: 'string', enum: ['off', 'dry-run', 'approve', 'auto'] },
        remediations: arrayOf(ref('Remediation')),
        brakes: arrayOf(ref('Brake')),
        capacity: arrayOf({
          type: 'object',
          description: 'src/core/remediation-brakes.ts CapacityReport',
        }),
        policySource: str,
        evaluatedAt: timeOrNull,
      }),
      Event: {
        type: 'object',
        description: 'src/server/api/types.ts ApiEvent, discriminated by `type`',
        required: ['type'],
        properties: {
          type: {
            type: 'string',
            enum: ['hello', 'node', 'incident', 'verdict', 'remediation', 'tick'],
          },
        },
      },
    },
  },
};
