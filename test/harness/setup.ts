/**
 * Vitest setup file (vitest.config.ts `setupFiles`): runs in every test file's worker before the
 * file is imported. It refuses to go on outside the run-in-netns sandbox, so that no test file
 * can send a packet on the host's network, and destroys any topology a file left behind.
 */
import { afterAll } from 'vitest';
import { assertSandboxed } from './sandbox.js';
import { destroyAllTopologies } from './netns.js';

assertSandboxed();

afterAll(async () => {
  await destroyAllTopologies();
});
