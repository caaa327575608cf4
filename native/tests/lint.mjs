#!/usr/bin/env node
// `npm run lint:native`: cppcheck and clang-tidy over native/ (the addon, the unit tests, the fuzz
// targets). clang-tidy reads the compile commands of a CMake configure of CMakeLists.txt (flags and
// sources from binding.gyp) and the checks in .clang-tidy; any warning fails. Needs cmake,
// clang-tidy and cppcheck (Debian: cmake clang-tidy cppcheck).
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cmakeConfigure } from './cmake-configure.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD = join(ROOT, 'build-lint');
const CXX = process.env.CXX ?? 'clang++';
const files = ['native', 'native/tests', 'native/fuzz'].flatMap((dir) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.cc'))
    .map((f) => join(dir, f)),
);

function must(cmd, args) {
  process.stdout.write(`$ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    process.stderr.write(`lint:native: ${cmd} failed\n`);
    process.exit(r.status ?? 1);
  }
}

// 1. cppcheck: our code only (node-addon-api's and the system's headers are not ours to fix).
const napi = resolve(ROOT, spawnSync(process.execPath, ['-p', "require('node-addon-api').include_dir"], { cwd: ROOT, encoding: 'utf8' }).stdout.trim());
must('cppcheck', [
  // Two jobs: the machines have two cores, and cppcheck alone takes about 30 s with one.
  '-j', '2',
  '--enable=warning,style,performance,portability',
  '--std=c++17',
  '--language=c++',
  '--error-exitcode=1',
  '--inline-suppr',
  '--quiet',
  '-I', 'native',
  '-I', napi,
  '-I', '/usr/include/node',
  '-DNAPI_VERSION=8',
  '-DNODE_ADDON_API_DISABLE_CPP_EXCEPTIONS',
  '--suppress=*:*/node_modules/*',
  '--suppress=*:/usr/include/*',
  '--suppress=missingIncludeSystem',
  ...files,
]);

// 2. clang-tidy, on a compile database from a CMake configure (no build needed), two at a time.
const configure = cmakeConfigure(BUILD, CXX, ['MCAST_FUZZ=ON']);
must(configure.file, configure.args);
const tidy = process.env.CLANG_TIDY ?? 'clang-tidy';
const halves = [files.filter((_, i) => i % 2 === 0), files.filter((_, i) => i % 2 === 1)];
const results = await Promise.all(
  halves.map(
    (list) =>
      new Promise((done) => {
        const child = spawn(tidy, ['-p', BUILD, '--quiet', ...list], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('close', (code) => done({ code, out }));
      }),
  ),
);
let failed = false;
for (const r of results) {
  const findings = r.out.split('\n').filter((l) => /(warning|error):/.test(l));
  if (r.code !== 0 || findings.length > 0) {
    failed = true;
    process.stdout.write(r.out);
  }
}
console.log(failed ? 'lint:native: clang-tidy found problems' : `lint:native: cppcheck and clang-tidy clean (${files.length} files)`);
process.exit(failed ? 1 : 0);
