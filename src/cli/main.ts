import { readFile } from 'node:fs/promises';
import { EXIT_OK, EXIT_USAGE, processIo, reportError, type Command, type Io } from './command.ts';

/**
 * Commands register here, each file exporting one `Command`. A command's
 * module is imported only when that command runs (or for the list in
 * `--help`): the agent runs on every node under a tight memory budget, and
 * importing every command would load the controller, the stores, the
 * Kubernetes client and the dashboard server into it (docs/agent.md,
 * "Measured"). The names here must match each module's `command.name`
 * (src/cli/main.test.ts).
 */
export const COMMAND_MODULES: CommandModules = {
  probe: () => import('./probe.ts'),
  controller: () => import('./controller.ts'),
  demo: () => import('./demo.ts'),
  lab: () => import('./lab.ts'),
  audit: () => import('./audit.ts'),
  policy: () => import('./policy.ts'),
  diagnose: () => import('./diagnose.ts'),
  report: () => import('./report.ts'),
  agent: () => import('./agent.ts'),
  remediation: () => import('./remediation.ts'),
  'stability-test': () => import('./stability-test.ts'),
};

export type CommandModules = Readonly<Record<string, () => Promise<{ command: Command }>>>;

/** Every command, for the list in `--help`. */
async function loadCommands(modules: CommandModules): Promise<readonly Command[]> {
  const loaded = await Promise.all(Object.values(modules).map((load) => load()));
  return loaded.map((m) => m.command);
}

const banner = `nodewarden — finds, explains and repairs dead GPU nodes in Kubernetes

Usage: nodewarden <command> [options]   (nodewarden <command> --help for details)
`;

/** Runs `nodewarden <argv>`; `modules` is the command table (tests pass their own). */
export async function main(
  argv: readonly string[],
  io: Io = processIo,
  modules: CommandModules = COMMAND_MODULES,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const commands = await loadCommands(modules);
    const width = Math.max(...commands.map((c) => c.name.length));
    io.out(banner + '\nCommands:\n');
    for (const c of commands) io.out(`  ${c.name.padEnd(width)}  ${c.summary}\n`);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    const pkg = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    io.out(`nodewarden ${pkg.version}\n`);
    return EXIT_OK;
  }
  const load = Object.hasOwn(modules, name) ? modules[name] : undefined;
  if (load === undefined) {
    io.err(`nodewarden: unknown command "${name}"\n  → run nodewarden --help to list commands\n`);
    return EXIT_USAGE;
  }
  const { command } = await load();
  // `--help` after a `--` belongs to the command being wrapped (lab exec … -- cmd --help).
  const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (own.includes('--help') || own.includes('-h')) {
    io.out(command.help.endsWith('\n') ? command.help : command.help + '\n');
    return EXIT_OK;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    return reportError(command.name, error, io);
  }
}
