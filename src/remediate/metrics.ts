import { Counter, Gauge, type Registry } from 'prom-client';
import { REMEDIATION_MODES } from '../core/remediation-policy.ts';
import type { RemediationExecutor } from './executor.ts';

/**
 * Remediation on the controller's /metrics:
 * - `nodewarden_remediation_mode{mode}`: 1 for the mode in force;
 * - `nodewarden_remediation_brake_engaged{brake,scope,node}`: every brake, 1 when engaged;
 * - `nodewarden_remediations{status}`: remediations kept, by status;
 * - `nodewarden_remediation_step_events_total{step,result}`: step events since start
 *   (`step` is a ladder step, `remediation` or `capacity-guard`).
 */
export function registerRemediationMetrics(
  registry: Registry,
  executor: RemediationExecutor,
): void {
  new Gauge({
    name: 'nodewarden_remediation_mode',
    help: 'Remediation mode in force (1 for the current one)',
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      const mode = executor.overview().mode;
      for (const m of REMEDIATION_MODES) this.set({ mode: m }, m === mode ? 1 : 0);
    },
  });
  new Gauge({
    name: 'nodewarden_remediation_brake_engaged',
    help: 'Remediation brakes: 1 when engaged (node brakes for nodes with an open incident)',
    labelNames: ['brake', 'scope', 'node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const b of executor.overview().brakes)
        this.set({ brake: b.name, scope: b.scope, node: b.node ?? '' }, b.engaged ? 1 : 0);
    },
  });
  new Gauge({
    name: 'nodewarden_remediations',
    help: 'Remediations kept (under way and ended within the attempt window), by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of executor.overview().remediations) this.inc({ status: r.status });
    },
  });
  const seen = new Map<string, number>();
  new Counter({
    name: 'nodewarden_remediation_step_events_total',
    help: 'Remediation step events by step and result',
    labelNames: ['step', 'result'],
    registers: [registry],
    collect() {
      for (const [key, count] of executor.stepCounts) {
        const [step = '', result = ''] = key.split('/');
        const delta = count - (seen.get(key) ?? 0);
        if (delta > 0) this.inc({ step, result }, delta);
        seen.set(key, count);
      }
    },
  });
}
