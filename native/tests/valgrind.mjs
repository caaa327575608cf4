#!/usr/bin/env node
// `npm run valgrind`: memcheck over the native code, uninstrumented (-O2 -g, DWARF 4), built by
// CMake from binding.gyp's sources into build-valgrind/:
//   1. the native unit tests (recvmmsg/sendmmsg batches, cmsg decoding, memberships), with leak
//      checking;
//   2. node running native/tests/paths.cjs (the receive and send paths end to end, close in a
//      callback, GC of unclosed sockets) on that addon (MCAST_PREBUILD).
// Both inside the private network namespace of test/harness/run-in-netns.mjs. Fails on any
// invalid access, use of uninitialised memory or definite leak (V8's conservative stack scan is
// suppressed: native/tests/valgrind.supp).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cmakeConfigure } from './cmake-configure.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD = join(ROOT, 'build-valgrind');
const NETNS = join(ROOT, 'test', 'harness', 'run-in-netns.mjs');
const CXX = process.env.CXX ?? 'clang++';

function run(cmd, args, env = process.env) {
  process.stdout.write(`$ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}
function must(cmd, args) {
  const status = run(cmd, args);
  if (status !== 0) process.exit(status);
}

const configure = cmakeConfigure(BUILD, CXX, ['MCAST_SANITIZE=OFF', 'MCAST_FUZZ=OFF']);
must(configure.file, configure.args);
must('cmake', ['--build', BUILD, '-j2', '--target', 'mcast_addon', 'mcast_native_tests']);
if (!existsSync(join(ROOT, 'dist', 'index.js'))) must('npx', ['tsc', '-p', 'tsconfig.json']);

const memcheck = [
  '--error-exitcode=99',
  '--leak-check=full',
  '--show-leak-kinds=definite',
  '--errors-for-leak-kinds=definite',
  `--suppressions=${join(ROOT, 'native', 'tests', 'valgrind.supp')}`,
];
let status = run(process.execPath, [NETNS, 'valgrind', ...memcheck, join(BUILD, 'mcast_native_tests')]);
if (status === 0) {
  status = run(
    process.execPath,
    [NETNS, 'valgrind', ...memcheck, '--smc-check=all-non-file', process.execPath, '--expose-gc', join(ROOT, 'native', 'tests', 'paths.cjs')],
    { ...process.env, MCAST_PREBUILD: join(BUILD, 'addon') },
  );
}
console.log(status === 0 ? 'valgrind: no errors' : `valgrind: failed (${status})`);
process.exit(status);
