import { homedir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_DB_FILE = 'nodewarden.db';

export interface DataDirContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly isRoot: boolean;
  readonly home: string;
}

export function processDataDirContext(): DataDirContext {
  return { env: process.env, isRoot: process.getuid?.() === 0, home: homedir() };
}

/**
 * Where NodeWarden keeps its data:
 * - NODEWARDEN_DATA_DIR when set;
 * - /var/lib/nodewarden for root (the controller's and agent's home on a host);
 * - otherwise $XDG_DATA_HOME/nodewarden, else ~/.local/share/nodewarden.
 */
export function dataDir(ctx: DataDirContext = processDataDirContext()): string {
  const explicit = ctx.env.NODEWARDEN_DATA_DIR;
  if (explicit !== undefined && explicit !== '') return explicit;
  if (ctx.isRoot) return '/var/lib/nodewarden';
  const xdg = ctx.env.XDG_DATA_HOME;
  return join(
    xdg !== undefined && xdg.startsWith('/') ? xdg : join(ctx.home, '.local/share'),
    'nodewarden',
  );
}

/** `<data dir>/nodewarden.db`. */
export function defaultSqlitePath(ctx: DataDirContext = processDataDirContext()): string {
  return join(dataDir(ctx), DEFAULT_DB_FILE);
}
