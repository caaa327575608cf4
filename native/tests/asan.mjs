#!/usr/bin/env node
// `npm run test:asan [-- vitest args]`: builds the ASan+UBSan flavour of the addon with CMake
// (CMakeLists.txt configured through cmake-js, sources read from binding.gyp), runs the native unit tests and then the test
// suite on that addon, inside the private network namespace of test/harness/run-in-netns.mjs.
//
// How the instrumented addon is used: node-gyp-build loads $MCAST_PREBUILD/build/Release/*.node
// first, so MCAST_PREBUILD=build-asan/addon selects it without touching build/; node itself is
// not instrumented, so the ASan runtime (clang's shared libclang_rt.asan, which carries UBSan too)
// is made a dependency of a copy of node (see below), never LD_PRELOADed. Leak detection is off
// for node (V8 keeps memory until exit by design); the native unit tests run with it on. Every report goes to a log directory, so that a finding in a
// child process (workers, the lifecycle scripts, the soak receivers) fails the run as well.
//
// Arguments go to vitest (default: every test file but test/package.test.ts, which checks that an
// installed package loads its own prebuilt binary).
// Env: MCAST_ASAN_BUILD_DIR (default build-asan), CXX (default clang++).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cmakeConfigure } from './cmake-configure.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD = resolve(ROOT, process.env.MCAST_ASAN_BUILD_DIR ?? 'build-asan');
const CXX = process.env.CXX ?? 'clang++';
const NETNS = join(ROOT, 'test', 'harness', 'run-in-netns.mjs');

function run(cmd, args, opts = {}) {
  process.stdout.write(`$ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function must(cmd, args, opts) {
  const status = run(cmd, args, opts);
  if (status !== 0) {
    process.stderr.write(`test:asan: ${cmd} exited with ${status}\n`);
    process.exit(status);
  }
}

// 1. Build.
const configure = cmakeConfigure(BUILD, CXX, ['MCAST_SANITIZE=ON']);
must(configure.file, configure.args);
must('cmake', ['--build', BUILD, '-j2']);
if (!existsSync(join(ROOT, 'dist', 'index.js'))) must('npx', ['tsc', '-p', 'tsconfig.json']);

const runtime = execFileSync(CXX.replace(/\+\+$/, ''), ['-print-file-name=libclang_rt.asan-x86_64.so'], {
  encoding: 'utf8',
}).trim();
if (!existsSync(runtime)) {
  process.stderr.write(`test:asan: the ASan runtime ${runtime} is missing (Debian: libclang-rt-14-dev)\n`);
  process.exit(1);
}

const logDir = mkdtempSync(join(tmpdir(), 'mcast-asan-'));
mkdirSync(logDir, { recursive: true });

// The ASan runtime belongs in node only (the addon), never in the other programs the tests start
// (capinfos hangs with it, ip's print_route trips its strncpy overlap check, and new tests start
// new tools). So it is not LD_PRELOADed, which every exec'd program would inherit: it is a
// dependency of node itself. A copy of the running node gets the runtime as its first DT_NEEDED
// entry (patchelf --add-needed puts it before libc, where ASan must be to intercept malloc), and
// that copy is `node` first on PATH. Every node then carries it, whichever way it is started:
// by name through PATH, as process.execPath (vitest's workers, the tests' own children: the copy's
// path), through nsenter, unshare, setpriv or a shell; every other program, however started,
// does not. A node binary named by another absolute path would load the instrumented addon
// without the runtime and fail at once (undefined symbol __asan_*), not quietly.
// node-gyp (test/install.test.ts compiles the addon) takes Node's headers from the running
// node's <execPath>/../../include/node: the copy's tree has the real Node's include, lib and share.
const realRoot = dirname(dirname(realpathSync(process.execPath)));
const nodeRoot = join(logDir, 'node');
const shimDir = join(nodeRoot, 'bin');
mkdirSync(shimDir, { recursive: true });
for (const dir of ['include', 'lib', 'share']) {
  if (existsSync(join(realRoot, dir))) symlinkSync(join(realRoot, dir), join(nodeRoot, dir));
}
const node = join(shimDir, 'node');
copyFileSync(process.execPath, node);
chmodSync(node, 0o755);
must('patchelf', ['--add-needed', runtime, node]);

const sanitizerEnv = {
  ...process.env,
  PATH: `${shimDir}:${process.env.PATH ?? ''}`,
  MCAST_PREBUILD: join(BUILD, 'addon'),
  ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:allow_user_segv_handler=1:log_path=${logDir}/asan`,
  UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:log_path=${logDir}/ubsan`,
  MCAST_ASAN: '1',
};
delete sanitizerEnv.LD_PRELOAD;

// 2. The addon node loads is really the instrumented one, node's children that are node carry
// the runtime and the other programs do not (read from each process's own memory map).
const probe = `
const { execFileSync } = require('node:child_process');
const MAPS = "process.stdout.write(require('node:fs').readFileSync('/proc/self/maps', 'utf8'))";
const maps = (argv) => execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' }).includes('libclang_rt.asan');
console.log(JSON.stringify({
  addon: require('node-gyp-build').path('.'),
  self: require('node:fs').readFileSync('/proc/self/maps', 'utf8').includes('libclang_rt.asan'),
  execPath: maps([process.execPath, '-e', MAPS]),
  byName: maps(['sh', '-c', 'node -e "$0"', MAPS]),
  tool: maps(['cat', '/proc/self/maps']),
  shell: maps(['sh', '-c', 'cat /proc/self/maps']),
}));`;
const seen = JSON.parse(execFileSync(node, ['-e', probe], { cwd: ROOT, env: sanitizerEnv, encoding: 'utf8' }));
const expected = { addon: join(BUILD, 'addon', 'build', 'Release', 'mcast.node'), self: true, execPath: true, byName: true, tool: false, shell: false };
if (JSON.stringify(seen) !== JSON.stringify(expected)) {
  process.stderr.write(`test:asan: the runtime is not where it belongs: ${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}\n`);
  process.exit(1);
}
process.stdout.write(`test:asan: addon ${seen.addon}\ntest:asan: runtime ${runtime}, in node only (${node})\n`);

// 3. Native unit tests (leak detection on) and the fuzz corpora as regression inputs.
const nativeEnv = { ...process.env, ASAN_OPTIONS: `detect_leaks=1:halt_on_error=1:log_path=${logDir}/native` };
let status = run(process.execPath, [NETNS, join(BUILD, 'mcast_native_tests')], { env: nativeEnv });
for (const name of ['cmsg', 'address']) {
  const target = join(BUILD, `fuzz_${name}`);
  if (existsSync(target) && status === 0) {
    status = run(target, ['-runs=0', join(ROOT, 'native', 'fuzz', 'corpus', name)], { env: nativeEnv });
  }
}

// 4. The test suite on the instrumented addon.
if (status === 0) {
  // test/package.test.ts checks that an installed package loads ITS prebuilt binary, which
  // MCAST_PREBUILD overrides on purpose here: that file runs in the plain `npm test` only.
  const args = process.argv.slice(2);
  const files = args.length > 0 ? args : ['--exclude', 'test/package.test.ts'];
  status = run(node, [NETNS, 'vitest', 'run', ...files], { env: sanitizerEnv });
}

// 5. Any report, from any process, fails the run.
const reports = readdirSync(logDir)
  .filter((f) => /^(asan|ubsan|native)\./.test(f))
  .map((f) => ({ file: join(logDir, f), text: readFileSync(join(logDir, f), 'utf8') }))
  .filter((r) => /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.test(r.text));
for (const r of reports) process.stderr.write(`\n==== ${r.file}\n${r.text}\n`);
process.stdout.write(`test:asan: ${reports.length} sanitizer report(s) in ${logDir}\n`);
process.exit(status !== 0 ? status : reports.length > 0 ? 1 : 0);
