/**
 * What the HTTP API (and the dashboard through it) may see of and ask of
 * remediation: the remediations with their steps, the brakes, the mode, and
 * a person's approval or rejection of a step in `approve` mode. The
 * controller's `RemediationExecutor` implements it; the demo's does too.
 *
 * HTTP mapping (src/server/api/router.ts; `nodewarden remediation` and the
 * dashboard use it):
 *   GET  /api/v1/remediations                           → RemediationOverview + enabled
 *   POST /api/v1/remediations/<id>/steps/<n>/approve    → Remediation (approver: the token's subject)
 *   POST /api/v1/remediations/<id>/steps/<n>/reject     → Remediation
 * Errors: NodeWardenError codes NOT_FOUND (no such remediation or step),
 * CONFLICT (the step is not awaiting approval), BAD_INPUT (no approver),
 * UNAVAILABLE (this replica is not the leader).
 */
import type { BrakeState, CapacityReport } from '../core/remediation-brakes.ts';
import type { Remediation } from '../core/remediation.ts';
import type { RemediationMode } from '../core/remediation-policy.ts';

export interface RemediationOverview {
  readonly mode: RemediationMode;
  /** Under way first, then ended, newest first. */
  readonly remediations: readonly Remediation[];
  /** Cluster brakes, and node brakes of nodes with an open incident. */
  readonly brakes: readonly BrakeState[];
  /** The capacity guard's latest findings per node with an open incident. */
  readonly capacity: readonly CapacityReport[];
  /** Where the policy came from: a file path, or `built-in`. */
  readonly policySource: string;
  /** When the brakes were last evaluated (ISO-8601); null before the first evaluation. */
  readonly evaluatedAt: string | null;
}

export interface RemediationControl {
  overview(): RemediationOverview;
  /** NOT_FOUND for an unknown id. */
  get(remediationId: string): Remediation;
  /**
   * Approves step `step` (0-based index) of a remediation in `approve` mode;
   * `approver` is recorded as `user:<approver>` in the audit record. Resolves
   * once the approval is stored; the step then runs at once.
   */
  approve(remediationId: string, step: number, approver: string): Promise<Remediation>;
  /** Rejects the step: the remediation ends as failed, handed to a person. */
  reject(remediationId: string, step: number, approver: string): Promise<Remediation>;
}
