import { DEFAULT_DEMO, runDemo } from '../demo/demo.ts';
import { SCENARIOS, type ScenarioName } from '../demo/scenarios.ts';
import { badInput } from '../core/errors.ts';
import { EXIT_OK, EXIT_UNHEALTHY, intFlag, parseFlags, type Command } from './command.ts';

const names = Object.keys(SCENARIOS) as ScenarioName[];

const help = `nodewarden demo — the 2025-08-25 outage, replayed on a simulated cluster

Usage:
  nodewarden demo [--scenario ${names.join('|')}] [--speed ${DEFAULT_DEMO.speed}]

Runs NodeWarden's detection in one process on a simulated cluster, network and
clock: the seed's five nodes (the MIG node tkai-oks-md-1-…-bkqzq at
10.62.0.30 and the four md-0 survivors), every node's agent and the controller
probing each other at L2/L3/L4/L7 once a second, kubelets renewing Leases, and
Kubernetes' own node lifecycle timing (NotReady after 50 s, eviction after
300 s). It prints each decision as it happens, in KST, and a summary with MTTD
and MTTR when the incident resolves. No root, no cluster, no network.

Scenarios:
${names.map((n) => `  ${n.padEnd(8)} ${SCENARIOS[n].title}`).join('\n')}

Options:
  --scenario NAME   default seed
  --speed N         simulated seconds per wall-clock second, 1–600 (default ${DEFAULT_DEMO.speed})

Exit: 0 when every incident resolved, 1 otherwise.
`;

export const command: Command = {
  name: 'demo',
  summary: 'replay the 2025-08-25 outage on a simulated cluster (no root, no cluster)',
  help,
  async run(argv, io) {
    const { values, positionals } = parseFlags('demo', argv, {
      scenario: { type: 'string', default: DEFAULT_DEMO.scenario },
      speed: { type: 'string' },
    });
    if (positionals.length > 0)
      throw badInput(
        `demo takes no argument "${positionals.join(' ')}"`,
        'see: nodewarden demo --help',
      );
    if (!(names as string[]).includes(values.scenario)) {
      throw badInput(
        `--scenario "${values.scenario}" is not one of ${names.join(', ')}`,
        'e.g. --scenario seed',
      );
    }
    const speed = intFlag('speed', values.speed, DEFAULT_DEMO.speed, 1, 600);
    const abort = new AbortController();
    const onSigint = (): void => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      const result = await runDemo(
        { ...DEFAULT_DEMO, scenario: values.scenario as ScenarioName, speed },
        (line) => io.out(line + '\n'),
        abort.signal,
      );
      io.out(`demo finished in ${result.wallSeconds.toFixed(1)} s of wall time\n`);
      return result.incidents.length > 0 && result.incidents.every((i) => i.status === 'resolved')
        ? EXIT_OK
        : EXIT_UNHEALTHY;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
