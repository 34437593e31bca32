import { readFile } from 'node:fs/promises';
import { DEFAULT_DEMO, DEFAULT_DEMO_PORT, runDemo } from '../demo/demo.ts';
import { jsonLogger } from '../host/json-logger.ts';
import { SCENARIOS, type ScenarioName } from '../demo/scenarios.ts';
import { badInput } from '../core/errors.ts';
import { EXIT_OK, EXIT_UNHEALTHY, intFlag, parseFlags, type Command } from './command.ts';

const names = Object.keys(SCENARIOS) as ScenarioName[];

const help = `nodewarden demo — the 2025-08-25 outage, replayed on a simulated cluster

Usage:
  nodewarden demo [--scenario ${names.join('|')}] [--speed ${DEFAULT_DEMO.speed}]
                  [--port ${DEFAULT_DEMO_PORT}] [--once]

Runs NodeWarden's detection in one process on a simulated cluster, network and
clock: the seed's five nodes (the MIG node tkai-oks-md-1-…-bkqzq at
10.62.0.30 and the four md-0 survivors), every node's agent and the controller
probing each other at L2/L3/L4/L7 once a second, kubelets renewing Leases, and
Kubernetes' own node lifecycle timing (NotReady after 50 s, eviction after
300 s). It prints each decision as it happens, in KST, and a summary with MTTD
and MTTR when the incident resolves. No root, no cluster, no network.

While it runs it serves the dashboard and the HTTP API (docs/api.md) at
http://127.0.0.1:PORT/ — WITHOUT authentication, which is why it listens on
127.0.0.1 only. After the summary it keeps the simulated cluster running and
serving until Ctrl-C (--once: exit after the summary instead).

Scenarios:
${names.map((n) => `  ${n.padEnd(8)} ${SCENARIOS[n].title}`).join('\n')}

Options:
  --scenario NAME   default seed
  --speed N         simulated seconds per wall-clock second, 1–600 (default ${DEFAULT_DEMO.speed})
  --port N          port of the dashboard and API on 127.0.0.1 (default ${DEFAULT_DEMO_PORT}; 0: any free port)
  --once            exit after the summary instead of serving until Ctrl-C
  --log-level L     the API server's log on stderr: debug, info, warn, error (default warn)

Exit: 0 when every incident resolved, 1 otherwise.

Examples:
  npm start                                  # build, then this with the defaults
  nodewarden demo --scenario storm --port 8081
  curl -s localhost:8080/api/v1/incidents    # while it runs
`;
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export const command: Command = {
  name: 'demo',
  summary: 'replay the 2025-08-25 outage on a simulated cluster (no root, no cluster)',
  help,
  async run(argv, io) {
    const { values, positionals } = parseFlags('demo', argv, {
      scenario: { type: 'string', default: DEFAULT_DEMO.scenario },
      speed: { type: 'string' },
      port: { type: 'string' },
      once: { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'warn' },
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
    const port = intFlag('port', values.port, DEFAULT_DEMO_PORT, 0, 65535);
    const level = values['log-level'];
    if (!(LOG_LEVELS as readonly string[]).includes(level))
      throw badInput(
        `--log-level "${level}" is not one of ${LOG_LEVELS.join(', ')}`,
        'e.g. --log-level info',
      );
    const pkg = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string;
    };
    const abort = new AbortController();
    const onSigint = (): void => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      const result = await runDemo(
        {
          ...DEFAULT_DEMO,
          scenario: values.scenario as ScenarioName,
          speed,
          serve: { host: '127.0.0.1', port },
          keepServing: !values.once,
          version: pkg.version,
          log: jsonLogger((line) => io.err(line), level as (typeof LOG_LEVELS)[number], {
            component: 'demo-api',
          }),
        },
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
