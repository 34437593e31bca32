/**
 * Schema migrations: numbered SQL in code, one list per dialect with the same
 * numbers and names (a unit test holds the two lists together). Each adapter
 * applies the missing ones in a transaction and records them in
 * `schema_migrations`, and refuses a database that is newer than it knows.
 */
import { NodeWardenError } from '../core/errors.ts';

export interface Migration {
  /** 1, 2, 3, … with no gaps; never renumber or edit one that has shipped. */
  readonly version: number;
  /** kebab-case, the same in both dialects. */
  readonly name: string;
  readonly sql: string;
}

/** The highest version in a list; throws if the list has gaps or repeats (a programming error). */
export function latestVersion(migrations: readonly Migration[]): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new NodeWardenError(
        'INTERNAL',
        `migration ${m.name} has version ${m.version}, expected ${i + 1}`,
        { hint: 'migrations are numbered 1, 2, 3, … in order; fix the list in src/store' },
      );
    }
  });
  return migrations.length;
}
