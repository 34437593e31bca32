import { writeFile } from 'node:fs/promises';
import { badInput, NodeWardenError } from '../core/errors.ts';
import { DEFAULT_POLICY_OPTIONS, migLimitsPolicy, type PolicyMode } from '../audit/policy.ts';
import { EXIT_OK, parseFlags, type Command } from './command.ts';

const help = `nodewarden policy — admission policies that keep GPU nodes from being overcommitted.

Usage:
  nodewarden policy mig-limits [--mode warn|deny] [--require-guaranteed] [--out <file>]
                               [--exclude-namespaces ns,…] [--pods-only] [--name NAME]

mig-limits writes a ValidatingAdmissionPolicy and its binding (CEL, evaluated
inside the API server; admissionregistration.k8s.io/v1, Kubernetes >= 1.30)
that catches any pod asking for nvidia.com/gpu or an nvidia.com/mig-* slice
while one of its containers (init containers too) has no CPU or memory limit.
Such a pod is what overcommitted the survivors in the 2025-08-25 outage: its
requests were small, its limits large or absent. The message names each
container and what to add, e.g.

  Deployment mig-inference requests nvidia.com/gpu or an nvidia.com/mig-* slice,
  so every container must set CPU and memory limits: container app needs
  resources.limits.cpu

Besides Pods (checked on CREATE) it checks the pod templates of Deployments,
ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs (CREATE and UPDATE),
so the person who applies a manifest sees the message at once.

Options:
  --mode M                 warn (default): admit, and kubectl prints a warning;
                           deny: reject. Start with warn, run nodewarden audit mig,
                           fix what it lists, then switch to deny.
  --require-guaranteed     also require Guaranteed QoS: requests equal to limits
                           for cpu and memory in every container
  --exclude-namespaces L   namespaces left alone (default ${DEFAULT_POLICY_OPTIONS.excludeNamespaces.join(',')}:
                           the GPU operator's validator pods request GPUs); "" for none
  --pods-only              check Pods only, not workload templates
  --name NAME              object name (default ${DEFAULT_POLICY_OPTIONS.name})
  --out FILE               write to FILE instead of standard output

Examples:
  nodewarden policy mig-limits | kubectl apply -f -
  nodewarden policy mig-limits --mode deny --require-guaranteed --out mig-limits.yaml
`;

const FLAGS = {
  mode: { type: 'string' },
  'require-guaranteed': { type: 'boolean' },
  'exclude-namespaces': { type: 'string' },
  'pods-only': { type: 'boolean' },
  name: { type: 'string' },
  out: { type: 'string' },
} as const;

export const command: Command = {
  name: 'policy',
  summary: 'admission policy for MIG/GPU pods without CPU and memory limits (mig-limits)',
  help,
  async run(argv, io) {
    const { values, positionals } = parseFlags('policy', argv, FLAGS);
    const [which, extra] = positionals;
    if (which === undefined) {
      throw badInput('missing the policy to write', 'e.g. nodewarden policy mig-limits');
    }
    if (which !== 'mig-limits') {
      throw badInput(`unknown policy "${which}"`, 'the policy NodeWarden writes is mig-limits');
    }
    if (extra !== undefined) {
      throw badInput(
        `unexpected argument "${extra}"`,
        'nodewarden policy mig-limits takes only options',
      );
    }
    const mode = values.mode ?? 'warn';
    if (mode !== 'warn' && mode !== 'deny') {
      throw badInput(
        `--mode "${mode}" is neither warn nor deny`,
        'pass --mode warn (admit, show a warning) or --mode deny (reject)',
      );
    }
    const policy = migLimitsPolicy({
      mode: mode satisfies PolicyMode,
      requireGuaranteed: values['require-guaranteed'] ?? false,
      workloads: !(values['pods-only'] ?? false),
      ...(values.name !== undefined ? { name: values.name } : {}),
      ...(values['exclude-namespaces'] !== undefined
        ? {
            excludeNamespaces: values['exclude-namespaces']
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== ''),
          }
        : {}),
    });
    if (values.out === undefined) {
      io.out(policy.yaml);
      return EXIT_OK;
    }
    try {
      await writeFile(values.out, policy.yaml);
    } catch (error) {
      throw new NodeWardenError(
        'BAD_INPUT',
        `cannot write ${values.out}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        {
          hint: 'pass --out a path in a writable directory, or leave --out off to print',
          cause: error,
        },
      );
    }
    const objects = policy.policies.length + policy.bindings.length;
    io.err(
      `wrote ${objects} objects (${policy.policies.length} policies, ${policy.bindings.length} bindings) to ${values.out}; apply with: kubectl apply -f ${values.out}\n`,
    );
    return EXIT_OK;
  },
};
