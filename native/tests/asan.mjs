#!/usr/bin/env node
// `npm run test:asan [-- vitest args]`: builds the ASan+UBSan flavour of the addon with CMake
// (CMakeLists.txt configured through cmake-js, sources read from binding.gyp), runs the native unit tests and then the test
// suite on that addon, inside the private network namespace of test/harness/run-in-netns.mjs.
//
// How the instrumented addon is used: node-gyp-build loads $MCAST_PREBUILD/build/Release/*.node
// first, so MCAST_PREBUILD=build-asan/addon selects it without touching build/; node itself is
// not instrumented, so the ASan runtime is LD_PRELOADed (clang's shared libclang_rt.asan, which
// carries UBSan too). Leak detection is off for node (V8 keeps memory until exit by design); the
// native unit tests run with it on. Every report goes to a log directory, so that a finding in a
// child process (workers, the lifecycle scripts, the soak receivers) fails the run as well.
//
// Arguments go to vitest (default: every test file but test/package.test.ts, which checks that an
// installed package loads its own prebuilt binary).
// Env: MCAST_ASAN_BUILD_DIR (default build-asan), CXX (default clang++).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

// LD_PRELOAD reaches every program the tests start; the ASan runtime belongs in node only. The
// other tools (ip's print_route, for one, trips ASan's strncpy overlap check) run through
// wrappers, first on PATH, that drop it.
const shimDir = join(logDir, 'bin');
mkdirSync(shimDir);
// (Not nsenter, unshare or setpriv: the node processes they start need the runtime.) capinfos
// hangs for good with the ASan runtime preloaded.
const TOOLS = ['ip', 'tc', 'bridge', 'ethtool', 'tcpdump', 'tshark', 'capinfos', 'editcap', 'socat', 'iperf', 'mcfirst', 'python3', 'vtysh', 'objdump'];
for (const tool of TOOLS) {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  const real = r.stdout.trim();
  if (r.status !== 0 || !real.startsWith('/')) continue;
  writeFileSync(join(shimDir, tool), `#!/bin/sh\nunset LD_PRELOAD\nexec ${real} "$@"\n`, { mode: 0o755 });
}

const sanitizerEnv = {
  ...process.env,
  PATH: `${shimDir}:${process.env.PATH ?? ''}`,
  MCAST_PREBUILD: join(BUILD, 'addon'),
  LD_PRELOAD: runtime,
  ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:allow_user_segv_handler=1:log_path=${logDir}/asan`,
  UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:log_path=${logDir}/ubsan`,
  MCAST_ASAN: '1',
};

// 2. The addon node loads is really the instrumented one.
const loaded = execFileSync(process.execPath, ['-p', "require('node-gyp-build').path('.')"], {
  cwd: ROOT,
  env: sanitizerEnv,
  encoding: 'utf8',
}).trim();
if (loaded !== join(BUILD, 'addon', 'build', 'Release', 'mcast.node')) {
  process.stderr.write(`test:asan: node-gyp-build picked ${loaded}, not the ASan build\n`);
  process.exit(1);
}
process.stdout.write(`test:asan: addon ${loaded}\ntest:asan: runtime ${runtime}\n`);

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
  status = run(process.execPath, [NETNS, 'vitest', 'run', ...files], { env: sanitizerEnv });
}

// 5. Any report, from any process, fails the run.
const reports = readdirSync(logDir)
  .filter((f) => /^(asan|ubsan|native)\./.test(f))
  .map((f) => ({ file: join(logDir, f), text: readFileSync(join(logDir, f), 'utf8') }))
  .filter((r) => /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.test(r.text));
for (const r of reports) process.stderr.write(`\n==== ${r.file}\n${r.text}\n`);
process.stdout.write(`test:asan: ${reports.length} sanitizer report(s) in ${logDir}\n`);
process.exit(status !== 0 ? status : reports.length > 0 ? 1 : 0);
