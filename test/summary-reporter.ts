import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints one plain closing line, `tests: N passed, N failed, N skipped`, that
 * CI reads to tell a green run from one that ran nothing. It also writes the
 * counts to test-output/summary.json for `.ci/run`.
 */
export default class SummaryReporter implements Reporter {
  async onTestRunEnd(testModules: ReadonlyArray<TestModule>): Promise<void> {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const skippedByProject: Record<string, number> = {};
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed += 1;
        else if (state === 'failed') counts.failed += 1;
        else {
          counts.skipped += 1;
          const project = mod.project.name;
          skippedByProject[project] = (skippedByProject[project] ?? 0) + 1;
        }
      }
      if (mod.state() === 'failed' && mod.children.size === 0) counts.failed += 1;
    }
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir('test-output', { recursive: true });
    await writeFile(
      'test-output/summary.json',
      JSON.stringify({ ...counts, skippedByProject }, null, 2) + '\n',
    );
    process.stdout.write(
      `\ntests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
    );
  }
}
