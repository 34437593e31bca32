/**
 * Small pieces every view uses: state badges (colour AND a word, never
 * colour alone), the GPU memory badge, the confidence meter, error panels.
 */
import type { NodeHealth, RootCause } from '../../src/core/incident.ts';
import { MEANING } from '../../src/report/words-en.ts';
import type { GpuSummary } from '../../src/server/api/types.ts';
import { ApiError } from './api.ts';
import { h } from './dom.ts';
import { percent, shortNode } from './format.ts';

const HEALTH_TONE: Readonly<Record<NodeHealth, string>> = {
  Healthy: 'good',
  Suspect: 'warn',
  Down: 'bad',
  Recovering: 'info',
};

/** How the overview words a node's state: Down is what a person calls dead. */
const HEALTH_WORD: Readonly<Record<NodeHealth, string>> = {
  Healthy: 'Healthy',
  Suspect: 'Suspect',
  Down: 'Down (dead)',
  Recovering: 'Recovering',
};

export function healthBadge(health: NodeHealth): HTMLElement {
  return h(
    'span',
    { class: `badge ${HEALTH_TONE[health]}`, 'data-state': health },
    HEALTH_WORD[health],
  );
}

const STATE_TONE: Readonly<Record<string, string>> = {
  succeeded: 'good',
  resolved: 'good',
  ok: 'good',
  failed: 'bad',
  'timed-out': 'bad',
  rejected: 'bad',
  escalated: 'bad',
  error: 'bad',
  'awaiting-approval': 'warn',
  open: 'warn',
  timeout: 'warn',
  missing: 'warn',
  running: 'info',
  waiting: 'info',
  'in-progress': 'info',
};

/** A state word (remediation step and ladder, incident, evidence) toned by what it means. */
export function stateBadge(state: string): HTMLElement {
  return h('span', { class: `badge ${STATE_TONE[state] ?? 'muted'}`, 'data-state': state }, state);
}

/** `45.5% · MIG ×2`, toned by how full the fullest GPU or MIG instance is. */
export function gpuBadge(gpu: GpuSummary | null): HTMLElement {
  if (gpu === null || gpu.readings.length === 0)
    return h(
      'span',
      { class: 'muted', title: 'no GPU memory reading in the last 5 minutes' },
      'no GPU reading',
    );
  const tone = gpu.maxUsedPct >= 90 ? 'bad' : gpu.maxUsedPct >= 40 ? 'warn' : 'good';
  const detail = gpu.readings
    .map(
      (r) =>
        `GPU ${r.gpu}${r.migInstance === null ? '' : ` MIG ${r.migInstance} (${r.migProfile ?? '?'})`}: ${percent(r.usedPct)}`,
    )
    .join('; ');
  return h(
    'span',
    { class: `badge ${tone}`, title: `${detail} (${gpu.origin})` },
    `GPU mem ${percent(gpu.maxUsedPct)}`,
    gpu.mig ? ` · MIG ×${gpu.readings.length}` : null,
  );
}

export function rootCauseMeaning(cause: RootCause): string {
  return MEANING[cause];
}

/** Confidence 0–1 as a meter with its number beside it. */
export function confidenceMeter(confidence: number): HTMLElement {
  return h(
    'span',
    { class: 'confidence' },
    h('meter', {
      min: 0,
      max: 1,
      low: 0.5,
      high: 0.75,
      optimum: 1,
      value: confidence,
      'aria-label': 'confidence',
    }),
    ` ${confidence.toFixed(2)}`,
  );
}

/** A node's name with its short suffix emphasised (the seed's engineers said "bkqzq"). */
export function nodeName(name: string): HTMLElement {
  const short = shortNode(name);
  return h(
    'span',
    { class: 'node-name', title: name },
    name.slice(0, name.length - short.length),
    h('strong', null, short),
  );
}

/** What went wrong reading the API, and what to do about it. */
export function errorPanel(error: unknown): HTMLElement {
  const e =
    error instanceof ApiError
      ? error
      : new ApiError(0, 'CLIENT', error instanceof Error ? error.message : String(error), '');
  const advice =
    e.status === 401
      ? 'This server wants a bearer token: use the Token button at the top right.'
      : e.status === 403
        ? 'Your token may read but not do this (approving needs an admin token).'
        : e.hint;
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('strong', null, `${e.code}: `),
    e.message,
    advice === '' ? null : h('p', null, advice),
  );
}
