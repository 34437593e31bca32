/**
 * The agent's last plan on disk, so that an agent restarted while the
 * controller is unreachable still probes its peers. Written atomically
 * (temporary file, then rename); a file that does not parse, or that belongs
 * to another node, is ignored with a warning, never trusted.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, NodeWardenError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { AgentPlan } from '../core/plan.ts';
import { parseAgentPlan } from './protocol.ts';

export interface SavedPlan {
  readonly savedAt: string;
  readonly plan: AgentPlan;
}

export class PlanFile {
  readonly path: string;

  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {
    this.path = join(dir, 'plan.json');
  }

  async save(plan: AgentPlan, now: number): Promise<void> {
    const body: SavedPlan = { savedAt: new Date(now).toISOString(), plan };
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(tmp, JSON.stringify(body) + '\n', { mode: 0o600 });
      await rename(tmp, this.path);
    } catch (error) {
      throw new NodeWardenError('UNAVAILABLE', `cannot save the probe plan to ${this.path}`, {
        hint: 'give --state-dir a writable directory (a hostPath in the DaemonSet)',
        cause: error,
      });
    }
  }

  /** The saved plan for `observer`, or null when there is none or it cannot be trusted. */
  async load(observer: string): Promise<SavedPlan | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      this.log.log('warn', 'cannot read the saved probe plan', {
        path: this.path,
        error: describeError(error),
      });
      return null;
    }
    try {
      const raw = JSON.parse(text) as { savedAt?: unknown; plan?: unknown };
      const plan = parseAgentPlan(raw.plan);
      if (plan.observer !== observer) {
        this.log.log('warn', 'saved probe plan belongs to another node; ignoring it', {
          path: this.path,
          observer: plan.observer,
          node: observer,
        });
        return null;
      }
      return { savedAt: typeof raw.savedAt === 'string' ? raw.savedAt : 'unknown', plan };
    } catch (error) {
      this.log.log('warn', 'saved probe plan is damaged; ignoring it', {
        path: this.path,
        error: describeError(error),
      });
      return null;
    }
  }
}
