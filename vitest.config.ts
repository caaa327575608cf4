import { defineConfig } from 'vitest/config';

// Run through `npm test` (test/harness/run-in-netns.mjs): every test file shares one private
// network namespace, hence no file parallelism.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/harness/setup.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
