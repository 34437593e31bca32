import type { Io } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';

/** Runs `nodewarden <argv>` in-process through the CLI dispatcher, capturing what it prints. */
export async function runCli(
  ...argv: string[]
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => (out += t), err: (t) => (err += t) };
  const code = await main(argv, io);
  return { code, out, err };
}
