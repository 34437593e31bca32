import { readFile } from 'node:fs/promises';
import { parse, YAMLParseError } from 'yaml';
import { badInput, NodeWardenError } from '../core/errors.ts';
import {
  DEFAULT_POLICY,
  PolicyProblem,
  policyError,
  validatePolicy,
  type RemediationPolicy,
} from '../core/remediation-policy.ts';

/** Where a policy came from (shown by the API and the CLI): a path, or `built-in`. */
export interface LoadedPolicy {
  readonly policy: RemediationPolicy;
  readonly source: string;
}

/**
 * Reads and validates a remediation policy file (YAML; JSON is YAML too).
 * Without a file, the built-in policy. A missing file, a YAML syntax error
 * or a policy problem is BAD_INPUT naming the file, the key path (or line)
 * and the reason, so the controller refuses to start with it.
 */
export async function loadPolicyFile(file: string | undefined): Promise<LoadedPolicy> {
  if (file === undefined) return { policy: DEFAULT_POLICY, source: 'built-in' };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new NodeWardenError('BAD_INPUT', `remediation policy ${file}: cannot read it`, {
      hint: 'pass the path of a readable YAML file (see deploy/examples/remediation-policy.yaml)',
      cause: error,
    });
  }
  return { policy: parsePolicyText(text, file), source: file };
}

/** Parses and validates policy text; `file` names it in errors. */
export function parsePolicyText(text: string, file: string): RemediationPolicy {
  let doc: unknown;
  try {
    doc = parse(text, { uniqueKeys: true });
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const where = error.linePos?.[0];
      throw badInput(
        `remediation policy ${file}${where ? `:${where.line}:${where.col}` : ''}: not valid YAML: ${error.message.split('\n')[0] ?? ''}`,
        'fix the YAML syntax (indentation, a missing colon, a duplicate key)',
      );
    }
    throw error;
  }
  try {
    return validatePolicy(doc);
  } catch (error) {
    if (error instanceof PolicyProblem) throw policyError(file, error);
    throw error;
  }
}
