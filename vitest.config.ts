import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure and loopback tests, next to the code) and `lab`
 * (root-only tests in network namespaces; they share one lab, so they run one
 * file at a time). The summary reporter prints the plain closing line that CI
 * reads: `tests: N passed, N failed, N skipped`.
 */
export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts', 'web/src/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'lab',
          include: ['test/lab/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 600_000,
          globalSetup: ['./test/lab/global-setup.ts'],
        },
      },
    ],
  },
});
