/**
 * The prebuilt binaries and what an install does without one:
 * - `npm run prebuild` (native/prebuild.mjs) makes a binary that node-gyp-build picks on glibc and
 *   passes over on musl, and native/glibc-floor.mjs fails a binary that needs a newer glibc than
 *   the floor README "Installing" states (the two state the same floor);
 * - native/install.cjs (npm's "install" script) is silent when a prebuild fits; where none fits
 *   (musl, another architecture: simulated with node-gyp-build's own LIBC and npm_config_arch
 *   overrides) it compiles from source and says so in one line, names the missing tools and their
 *   packages in one line, or shows the compiler's error without a stack trace;
 * - the loader (lib/binding.ts) turns "no native build was found" into an error that says what to do.
 * Each case runs on a scratch copy of the package, so this tree's build/ and prebuilds/ stay as
 * they are.
 */
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOORS, checkFloor } from '../native/glibc-floor.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const PREBUILD = join('prebuilds', 'linux-x64', 'mcast.glibc.node');
const FLOOR_LIBS = ['GLIBC', 'GLIBCXX', 'CXXABI'] as const;

let work: string;
/** A PATH with node and sh only: no python, make or compiler. */
let bareBin: string;

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end without blocking this worker (a compile takes a while). */
function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The environment of an install script without npm's variables (and without a prebuild override). */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (/^npm_/i.test(key) || key === 'MCAST_PREBUILD' || key === 'LIBC') delete env[key];
  // node-gyp finds this Node's headers here instead of downloading them (as the npm setup does).
  return { ...env, npm_config_nodedir: join(dirname(process.execPath), '..'), ...extra };
}

/** A scratch copy of the package as the tarball ships it, with or without the prebuild. */
function packageCopy(name: string, withPrebuild: boolean): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'native'), { recursive: true });
  for (const file of ['package.json', 'binding.gyp']) cpSync(join(ROOT, file), join(dir, file));
  for (const file of readdirSync(join(ROOT, 'native')).filter((f) => /\.(cc|h)$|^install\.cjs$/.test(f))) {
    cpSync(join(ROOT, 'native', file), join(dir, 'native', file));
  }
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  if (withPrebuild) cpSync(join(work, 'prebuilt', 'prebuilds'), join(dir, 'prebuilds'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

async function install(dir: string, env: NodeJS.ProcessEnv, timeoutMs?: number) {
  const r = await run(process.execPath, [join(dir, 'native', 'install.cjs')], dir, env, timeoutMs);
  return { status: r.status, stdout: r.stdout, lines: r.stderr.split('\n').filter(Boolean) };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'mcast-install-'));
  bareBin = join(work, 'bin');
  mkdirSync(bareBin);
  symlinkSync(process.execPath, join(bareBin, 'node'));
  symlinkSync('/bin/sh', join(bareBin, 'sh'));
  // The x64 prebuild, as `npm run prebuild` makes it, into a scratch prebuilds/.
  const r = await run(process.execPath, [join(ROOT, 'native', 'prebuild.mjs'), '--arch', 'x64', '--out', join(work, 'prebuilt')], ROOT, cleanEnv(), 240_000);
  if (r.status !== 0) throw new Error(`prebuild failed:\n${r.stdout}\n${r.stderr}`);
}, 300_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the prebuilt binary and its glibc floor', () => {
  it('is tagged glibc, loads, and needs no newer C/C++ runtime than the stated floor', async () => {
    const file = join(work, 'prebuilt', PREBUILD);
    expect(existsSync(file)).toBe(true);
    const { problems, needed } = checkFloor(file, 'x64');
    expect(problems).toEqual([]);
    expect(Object.keys(needed)).toContain('GLIBC');
    const loaded = await run(process.execPath, ['-e', `require(${JSON.stringify(file)})`], work, cleanEnv());
    expect(loaded.stderr).toBe('');
  });

  it('fails a binary that needs a newer glibc than the floor, naming the symbol', async () => {
    // pthread_create links as pthread_create@GLIBC_2.34 on glibc >= 2.34 (Debian 12 has 2.36).
    const source = join(work, 'newer.c');
    writeFileSync(source, '#include <pthread.h>\nint start(pthread_t *t, void *(*f)(void *)) { return pthread_create(t, 0, f, 0); }\n');
    const lib = join(work, 'newer.so');
    const cc = await run('cc', ['-shared', '-fPIC', '-o', lib, source], work, process.env);
    expect(cc.status, cc.stderr).toBe(0);
    const { problems } = checkFloor(lib, 'x64');
    expect(problems.join('\n')).toMatch(/needs GLIBC_2\.3\d \(.*pthread_create.*\), above the stated floor GLIBC_2\.17/);
  });

  it('README "Installing" states the same floor for each prebuild', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Installing'), readme.indexOf('\n## ', readme.indexOf('## Installing') + 1));
    for (const [arch, floor] of Object.entries(FLOORS)) {
      const row = section.split('\n').find((line) => line.startsWith(`| linux-${arch} `));
      expect(row, `README Installing has a row for linux-${arch}`).toBeDefined();
      for (const lib of FLOOR_LIBS) expect(row, `linux-${arch} ${lib}`).toContain(`${lib} ${floor[lib]}`);
    }
  });
});

describe('native/install.cjs', () => {
  it('is silent and builds nothing when the prebuild fits', async () => {
    const dir = packageCopy('fits', true);
    const r = await install(dir, cleanEnv({ PATH: bareBin }));
    expect(r.lines).toEqual([]);
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, 'build'))).toBe(false);
  });

  for (const [what, env, tag] of [
    ['musl (Alpine)', { LIBC: 'musl' }, 'linux-x64 (musl)'],
    ['another architecture', { npm_config_arch: 'riscv64' }, 'linux-riscv64 (glibc)'],
  ] as const) {
    it(`on ${what} without build tools: one line naming the tools and their packages, and a failed install`, async () => {
      const dir = packageCopy(`bare-${tag.replace(/\W+/g, '-')}`, true);
      const r = await install(dir, cleanEnv({ ...env, PATH: bareBin }));
      expect(r.status).toBe(1);
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0]).toContain(`mcast: no prebuilt binary for ${tag}, and compiling from source needs python3, make, g++, not found on PATH`);
      expect(r.lines[0]).toContain('apt-get install python3 make g++');
      expect(r.lines[0]).toContain('apk add python3 make g++');
      expect(existsSync(join(dir, 'build', 'Release', 'mcast.node'))).toBe(false);
    });
  }

  it('shows the compiler error, not a stack trace, when compiling fails', async () => {
    const dir = packageCopy('broken-compiler', true);
    const fake = join(work, 'broken-g++');
    writeFileSync(fake, '#!/bin/sh\necho "fake.cc:1:1: error: this compiler is broken" >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    const r = await install(dir, cleanEnv({ LIBC: 'musl', CXX: fake }), 120_000);
    expect(r.status).toBe(1);
    expect(r.lines[0]).toBe('mcast: no prebuilt binary for linux-x64 (musl); compiling from source with node-gyp (python3, make and a C++17 compiler)');
    expect(r.lines[1]).toMatch(/^mcast: compiling from source failed \(node-gyp exited with 1\); the whole log is \/.*\.log:$/);
    expect(r.lines).toContain('  fake.cc:1:1: error: this compiler is broken');
    expect(r.lines.filter((l) => /gyp ERR! stack|^\s+at /.test(l))).toEqual([]);
  });

  it('compiles from source where no prebuild fits, says so in one line, and the result loads', async () => {
    const dir = packageCopy('compiles', true);
    const r = await install(dir, cleanEnv({ LIBC: 'musl' }), 240_000);
    expect(r.lines).toEqual([
      'mcast: no prebuilt binary for linux-x64 (musl); compiling from source with node-gyp (python3, make and a C++17 compiler)',
      'mcast: compiled from source: build/Release/mcast.node',
    ]);
    expect(r.status).toBe(0);
    const loaded = await run(process.execPath, ['-p', "require('node-gyp-build').path('.')"], dir, cleanEnv({ LIBC: 'musl' }));
    expect(loaded.stdout.trim()).toBe(join(dir, 'build', 'Release', 'mcast.node'));
    // Installed again: the build counts, nothing is compiled twice.
    expect((await install(dir, cleanEnv({ LIBC: 'musl', PATH: bareBin }))).lines).toEqual([]);
  }, 300_000);
});

describe('the loader without a fitting binary', () => {
  it('throws ERR_MCAST_NATIVE_ADDON saying how to compile, with the packages', async () => {
    const dir = packageCopy('no-binary', true);
    const r = await run(
      process.execPath,
      ['-e', "try { require('./dist/index.js'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }"],
      dir,
      cleanEnv({ LIBC: 'musl' }),
    );
    const error = JSON.parse(r.stdout.trim()) as { code: string; message: string };
    expect(error.code).toBe('ERR_MCAST_NATIVE_ADDON');
    expect(error.message).toMatch(/^mcast: No native build was found for platform=linux arch=x64 .*libc=musl/);
    expect(error.message).toContain('npm install-scripts approve mcast && npm rebuild mcast');
    expect(error.message).toContain('apk add python3 make g++');
  });
});
