/**
 * `mcast bench ...`: a stub that runs the benchmark script of the source tree,
 * `node bench/run.mjs` with the remaining arguments (the benchmark itself is another piece of work).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { resolve } from 'node:path';

import { EXIT } from './args';
import type { Io } from './io';
import { println } from './io';

/** bench/run.mjs of the package root (dist/cli/ is two levels below it). */
export const BENCH_SCRIPT = resolve(__dirname, '..', '..', 'bench', 'run.mjs');

/** Runs bench/run.mjs with `argv` (all of them: --help goes to the benchmark too). */
export function runBench(argv: readonly string[], io: Io): Promise<number> {
  if (!existsSync(BENCH_SCRIPT)) {
    println(io.stderr, `mcast bench: ${BENCH_SCRIPT} not found (the benchmark comes with the source repository, not the npm package)`);
    return Promise.resolve(EXIT.FAILURE);
  }
  return new Promise((done) => {
    const child = spawn(process.execPath, [BENCH_SCRIPT, ...argv], { stdio: 'inherit' });
    // SIGTERM is passed on; Ctrl-C reaches the benchmark from the terminal, so wait for it to end.
    const onTerm = (): void => void child.kill('SIGTERM');
    const onInt = (): void => {};
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    const finish = (code: number): void => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      done(code);
    };
    child.on('error', (error) => {
      println(io.stderr, `mcast bench: cannot run ${BENCH_SCRIPT}: ${error.message}`);
      finish(EXIT.FAILURE);
    });
    child.on('exit', (code, signal) => finish(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0))));
  });
}
