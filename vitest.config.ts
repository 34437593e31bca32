import { defineConfig } from 'vitest/config';

/**
 * Three projects: `unit` (pure and loopback tests, next to the code), `e2e`
 * (the dashboard in headless Chromium against `nodewarden demo`) and `lab`
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
        // The dashboard in headless Chromium against the real demo (no root needed).
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 150_000,
          hookTimeout: 90_000,
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
