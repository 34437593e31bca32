/**
 * The remediation ladder of one incident: mode, brakes (each with its state
 * and why), the capacity guard's prediction, and every step with its state;
 * a step awaiting approval gets Approve and Reject buttons (admin only on
 * the controller; the demo answers as admin).
 */
import type { Remediation, StepState } from '../../../src/core/remediation.ts';
import type { IncidentDetail } from '../../../src/server/api/types.ts';
import { api } from '../api.ts';
import { h } from '../dom.ts';
import { clock, shortNode } from '../format.ts';
import { errorPanel, nodeName, stateBadge } from '../ui.ts';
import type { Context } from '../view.ts';

async function decide(
  remediation: Remediation,
  index: number,
  approve: boolean,
  ctx: Context,
  button: HTMLButtonElement,
): Promise<void> {
  const step = remediation.steps[index];
  button.disabled = true;
  try {
    await (approve ? api.approve : api.reject)(remediation.id, index);
    ctx.announce(`${approve ? 'approved' : 'rejected'} ${step?.step ?? `step ${index}`}`);
  } catch (error) {
    ctx.announce(`${approve ? 'approving' : 'rejecting'} failed`);
    button.parentElement?.replaceWith(errorPanel(error));
    return;
  }
  ctx.refresh();
}

function decisionButton(
  r: Remediation,
  step: StepState,
  index: number,
  approve: boolean,
  ctx: Context,
): HTMLButtonElement {
  const verb = approve ? 'Approve' : 'Reject';
  return h(
    'button',
    {
      type: 'button',
      class: approve ? 'primary' : null,
      [approve ? 'data-approve' : 'data-reject']: step.step,
      'aria-label': `${verb} ${step.step} on ${r.node}`,
      on: {
        click: (e) => void decide(r, index, approve, ctx, e.currentTarget as HTMLButtonElement),
      },
    },
    verb,
  );
}

function stepItem(r: Remediation, step: StepState, index: number, ctx: Context): HTMLElement {
  const waiting = step.status === 'awaiting-approval';
  const times = [
    step.startedAt === null ? null : `started ${clock(step.startedAt, ctx.zone)}`,
    step.endedAt === null ? null : `ended ${clock(step.endedAt, ctx.zone)}`,
    step.deadlineAt === null || step.endedAt !== null
      ? null
      : `times out ${clock(step.deadlineAt, ctx.zone)}`,
    step.approvedBy === null ? null : `approved by ${step.approvedBy}`,
  ].filter((t) => t !== null);
  return h(
    'li',
    {
      class: `step ${step.status}`,
      'data-step': step.step,
      'aria-current': index === r.current && r.status === 'in-progress' ? 'step' : false,
    },
    h('div', { class: 'step-head' }, h('strong', null, step.step), ' ', stateBadge(step.status)),
    times.length === 0 ? null : h('div', { class: 'sub' }, times.join(' · ')),
    step.detail === '' ? null : h('div', null, step.detail),
    waiting
      ? h(
          'div',
          { class: 'actions' },
          decisionButton(r, step, index, true, ctx),
          decisionButton(r, step, index, false, ctx),
        )
      : null,
  );
}

export function remediationPanel(d: IncidentDetail, ctx: Context): HTMLElement {
  const rem = d.remediation;
  const mine = rem.remediations.filter((r) => r.incidentId === d.incident.id);
  const engaged = rem.brakes.filter((b) => b.engaged);
  return h(
    'section',
    { id: 'remediation', 'aria-labelledby': 'remediation-h', class: 'panel' },
    h('h2', { id: 'remediation-h' }, 'Remediation'),
    !rem.enabled
      ? h('p', null, 'No remediation ladder runs in this process.')
      : h(
          'p',
          null,
          'Mode ',
          h('strong', { 'data-mode': rem.mode }, rem.mode),
          rem.mode === 'approve' ? ' — every step waits for a person’s approval' : null,
          h('span', { class: 'sub' }, ` · policy ${rem.policySource}`),
        ),
    mine.length === 0
      ? h('p', { class: 'sub' }, 'No remediation for this incident.')
      : mine.map((r) =>
          h(
            'div',
            { class: 'ladder', 'data-remediation': r.id },
            h(
              'h3',
              null,
              'Ladder for ',
              nodeName(r.node),
              ' ',
              stateBadge(r.status),
              h('span', { class: 'sub' }, ` ${r.rootCause}, mode ${r.mode}`),
            ),
            h('p', null, r.summary),
            r.heldBy.length === 0
              ? null
              : h('p', { class: 'error' }, `Held by: ${r.heldBy.join(', ')}`),
            h(
              'ol',
              { class: 'steps' },
              r.steps.map((s, i) => stepItem(r, s, i, ctx)),
            ),
          ),
        ),
    rem.capacity.length === 0
      ? null
      : h(
          'div',
          null,
          h('h3', null, 'Capacity guard'),
          h(
            'ul',
            null,
            rem.capacity.map((c) =>
              h('li', null, h('strong', null, shortNode(c.node)), ` ${c.summary}`),
            ),
          ),
        ),
    rem.brakes.length === 0
      ? null
      : h(
          'details',
          { id: 'brakes', open: engaged.length > 0 },
          h(
            'summary',
            null,
            h('h3', { class: 'inline' }, 'Brakes'),
            ` ${engaged.length} of ${rem.brakes.length} holding`,
          ),
          h(
            'ul',
            { class: 'brakes' },
            rem.brakes.map((b) =>
              h(
                'li',
                { 'data-brake': b.name },
                h(
                  'span',
                  { class: `badge ${b.engaged ? 'bad' : 'good'}` },
                  b.engaged ? 'holding' : 'released',
                ),
                ` ${b.name}`,
                b.node === null ? null : ` (${shortNode(b.node)})`,
                h('span', { class: 'sub' }, ` ${b.detail}`),
                b.until === null
                  ? null
                  : h('span', { class: 'sub' }, ` until ${clock(b.until, ctx.zone)}`),
              ),
            ),
          ),
        ),
  );
}
