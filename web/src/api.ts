/**
 * The one file that knows the API's routes (docs/api.md). Same origin,
 * relative URLs; a bearer token when the user gave one (the demo needs none,
 * the controller does). Errors carry the API's own code, message and hint
 * so the page can say what to do.
 */
import type {
  ApiErrorBody,
  IncidentDetail,
  IncidentsView,
  MeshView,
  NodesView,
  RemediationsView,
  StatusView,
} from '../../src/server/api/types.ts';
import type { Layer } from '../../src/core/probe.ts';
import type { Remediation } from '../../src/core/remediation.ts';

const TOKEN_KEY = 'nodewarden.token';

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token === null || token.trim() === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function failure(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as Partial<ApiErrorBody>;
    if (typeof body.error === 'string' && typeof body.message === 'string')
      return new ApiError(response.status, body.error, body.message, body.hint ?? '');
  } catch {
    // Not the API's JSON error body (a proxy's page, a crash): report the status below.
  }
  return new ApiError(
    response.status,
    `HTTP_${response.status}`,
    `${response.status} ${response.statusText}`,
    text.slice(0, 200),
  );
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`api/v1/${path}`, {
      ...init,
      headers: { accept: 'application/json', ...authHeaders(), ...init.headers },
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(
      0,
      'UNREACHABLE',
      `the server did not answer (${error instanceof Error ? error.message : String(error)})`,
      'is nodewarden still running? the page retries on its own',
    );
  }
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}

export type ReportLang = 'en' | 'ko';

export const api = {
  status: () => request<StatusView>('status'),
  nodes: () => request<NodesView>('nodes'),
  mesh: (layer: Layer | null) => request<MeshView>(layer === null ? 'mesh' : `mesh?layer=${layer}`),
  incidents: () => request<IncidentsView>('incidents?limit=200'),
  incident: (id: string) => request<IncidentDetail>(`incidents/${encodeURIComponent(id)}`),
  remediations: () => request<RemediationsView>('remediations'),
  /** Approve or reject step `step` (0-based) of a remediation: no body, the approver is the token's subject. */
  approve: (remediation: string, step: number) =>
    request<Remediation>(`remediations/${encodeURIComponent(remediation)}/steps/${step}/approve`, {
      method: 'POST',
    }),
  reject: (remediation: string, step: number) =>
    request<Remediation>(`remediations/${encodeURIComponent(remediation)}/steps/${step}/reject`, {
      method: 'POST',
    }),
  eventsUrl: 'api/v1/events',
  /** The report's Markdown, for the page to show. */
  async reportText(id: string, lang: ReportLang): Promise<string> {
    const path = `api/v1/incidents/${encodeURIComponent(id)}/report?format=md&lang=${lang}`;
    const response = await fetch(path, { headers: authHeaders(), cache: 'no-store' });
    if (!response.ok) throw await failure(response);
    return response.text();
  },
  /** The report as a file: fetched with the token, handed to the browser as a download. */
  async downloadReport(id: string, lang: ReportLang): Promise<{ blob: Blob; filename: string }> {
    const path = `api/v1/incidents/${encodeURIComponent(id)}/report?format=md&lang=${lang}`;
    const response = await fetch(path, { headers: authHeaders(), cache: 'no-store' });
    if (!response.ok) throw await failure(response);
    return { blob: await response.blob(), filename: `${id}.${lang}.md` };
  },
};
