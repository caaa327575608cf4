import { defineConfig } from 'vitest/config';

// `npm run fanout` (test/fanout/run.mjs): the fan-out run alone, outside `npm test`.
export default defineConfig({
  test: {
    include: ['test/fanout/*.fanout.ts'],
    setupFiles: ['test/harness/setup.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
});
