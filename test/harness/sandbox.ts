/**
 * Proof that this process runs inside the private network namespace made by run-in-netns.mjs:
 * see sandbox-check.mjs, the one implementation (shared with bench/), re-exported here for the
 * TypeScript tests.
 */
export * from './sandbox-check.mjs';
