/**
 * `nodewarden demo` as a user runs it: the built CLI in a child process on a
 * free port. Its output is kept (the test prints it when something fails);
 * `stop()` sends Ctrl-C (SIGINT) and waits, SIGKILL after 10 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/nodewarden.js', import.meta.url));

export interface DemoProcess {
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

export async function startDemo(args: readonly string[], timeoutMs = 30_000): Promise<DemoProcess> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'demo', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the demo printed no dashboard URL in ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (${code}) before serving:\n${output}`));
    });
  });
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
