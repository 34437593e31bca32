/**
 * `nodewarden probe` as a child process, run from TypeScript sources with tsx,
 * so that probe-netns.test.ts can start it inside a network namespace (the
 * prober's sockets and children then live in that namespace's network stack).
 */
import { processIo } from '../../src/cli/command.ts';
import { command } from '../../src/cli/probe.ts';

process.exitCode = await command.run(process.argv.slice(2), processIo);
