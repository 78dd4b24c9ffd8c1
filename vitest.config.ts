import { defineConfig } from 'vitest/config';

const inCi = process.env['CI'] === 'true';

export default defineConfig({
  test: {
    // A test left with .only must not silently shrink the CI run.
    allowOnly: !inCi,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            '{core,frontend,solver,cache,worker,runtime,registry-client,builder,remote,cli,daemon}/**/*.test.ts',
          ],
          pool: 'threads',
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
