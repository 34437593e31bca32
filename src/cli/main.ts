import { readFile } from 'node:fs/promises';
import { EXIT_OK, EXIT_USAGE, processIo, reportError, type Command, type Io } from './command.ts';

/** Commands register here; each file exports one `Command`. */
async function loadCommands(): Promise<readonly Command[]> {
  const modules = await Promise.all([
    import('./probe.ts'),
    import('./controller.ts'),
    import('./demo.ts'),
    import('./lab.ts'),
    import('./audit.ts'),
    import('./policy.ts'),
    import('./diagnose.ts'),
    import('./report.ts'),
    import('./agent.ts'),
    import('./remediation.ts'),
    import('./stability-test.ts'),
  ]);
  return modules.map((m) => m.command);
}

const banner = `nodewarden — finds, explains and repairs dead GPU nodes in Kubernetes

Usage: nodewarden <command> [options]   (nodewarden <command> --help for details)
`;

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const commands = await loadCommands();
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
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
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`nodewarden: unknown command "${name}"\n  → run nodewarden --help to list commands\n`);
    return EXIT_USAGE;
  }
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
