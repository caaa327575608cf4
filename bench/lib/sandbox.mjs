// The network safety rule of the benchmark: every packet is sent inside a private network
// namespace made for this run, never on the host's interfaces.
//
// The check is test/harness/sandbox-check.mjs, the same code the tests use. It refuses unless:
// MCAST_NETNS_SANDBOX (set by test/harness/run-in-netns.mjs) is well formed and names another
// namespace than this one; this is not PID 1's namespace; every interface is `lo` or `mc*`
// (made by the harness or by this benchmark); there is no IPv4 or IPv6 default route.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { checkSandbox, readSandboxInputs, SANDBOX_ENV } from '../../test/harness/sandbox-check.mjs';

export { checkSandbox };

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RUN_IN_NETNS = join(ROOT, 'test', 'harness', 'run-in-netns.mjs');

/** Throws unless this process runs in the sandbox (call it again before each case: cheap). */
export function assertSandboxed(inputs = readSandboxInputs()) {
  const problems = checkSandbox(inputs);
  if (problems.length > 0) {
    const error = new Error(
      'refusing to run: not inside a private network namespace made by test/harness/run-in-netns.mjs, ' +
        'and the benchmark sends nothing anywhere else.\n- ' +
        problems.join('\n- '),
    );
    error.code = 'ERR_BENCH_NOT_SANDBOXED';
    throw error;
  }
}

/**
 * Outside the sandbox (no MCAST_NETNS_SANDBOX): runs `node SCRIPT ARGS` again through
 * run-in-netns.mjs, which makes a fresh private namespace (or refuses), and resolves with its
 * exit code. Inside (the variable is set): resolves null, and the caller must still pass
 * assertSandboxed() (a stale or forged variable is refused there, not re-executed).
 */
export function reexecInSandbox(script, args) {
  if (process.env[SANDBOX_ENV] !== undefined) return Promise.resolve(null);
  if (!existsSync(RUN_IN_NETNS)) {
    return Promise.reject(new Error(`refusing to run: ${RUN_IN_NETNS} is missing, and the benchmark runs only in a private network namespace`));
  }
  return new Promise((done) => {
    const child = spawn(process.execPath, [RUN_IN_NETNS, process.execPath, script, ...args], { stdio: 'inherit' });
    const forward = (signal) => () => child.kill(signal);
    const handlers = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => [s, forward(s)]);
    for (const [s, h] of handlers) process.on(s, h);
    child.on('exit', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      done(code ?? (signal ? 128 + 15 : 1));
    });
  });
}
