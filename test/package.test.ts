/**
 * The package as users get it: `npm run prebuild` (the N-API binary under prebuilds/linux-x64),
 * `npm pack`, then an install of that tarball into an empty folder with no compiler, make or
 * python on PATH, offline and with an empty npm cache: the runtime dependencies are packed from
 * node_modules and installed from those tarballs too, so nothing needs the registry or a warm
 * cache. The installed package is then required and imported (root and `mcast/dgram`, CommonJS
 * and ES modules, and their TypeScript types) and sends and receives on loopback, on Node 20
 * (this one) and on Node 22 and 24 when their binaries are present (fetched by
 * `npm run fetch:node-builds`, outside the sandbox: it needs the npm registry). Consumers compiled
 * to CommonJS with import interop (TypeScript with esModuleInterop, Babel) run against it too.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runtimePackages } from './runtime-packages.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const NODE_BUILDS = join(ROOT, 'node_modules', '.cache', 'mcast-node-builds');
/** What a compiler-less machine must not have: the install would otherwise build from source. */
const BUILD_TOOLS = ['cc', 'gcc', 'g++', 'c++', 'clang', 'make', 'python', 'python3'];

let work: string;
let consumer: string;
let strippedEnv: NodeJS.ProcessEnv;
let packedFiles: string[];
let packedSize: number;
let installLog: string;

interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end, killed (SIGKILL) after timeoutMs. Asynchronous, so that the test
 * worker keeps answering vitest while npm, prebuildify and tsc run for tens of seconds.
 */
function run(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

async function mustRun(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<string> {
  const result = await run(file, args, options);
  if (result.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

async function npmPack(dir: string, dest: string, extra: string[] = []): Promise<PackResult> {
  const out = await mustRun('npm', ['pack', '--json', '--pack-destination', dest, ...extra, dir], { cwd: ROOT, timeoutMs: 120_000 });
  return (JSON.parse(out) as PackResult[])[0]!;
}

/** Files below `dir` (relative to ROOT), recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(join(ROOT, dir))) return [];
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/**
 * What the tarball must hold, derived from the sources and package.json's `files` (so that a new
 * module in lib/, a new prebuild or a new listed file needs no edit here): for `dist/`, each lib/
 * module's JavaScript and declaration (compiled from lib/ now: nothing stale, no maps); for
 * `prebuilds/`, the binaries; a `dir/*.ext` pattern, the matching files of that folder (the native
 * sources, not their tests or fuzzers); any other entry, that file.
 */
function expectedFiles(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
  const out = ['package.json'];
  for (const entry of pkg.files) {
    if (entry.startsWith('!')) continue; // the exclusions are what this test checks
    if (entry === 'dist/') {
      for (const file of filesUnder('lib')) {
        const m = /^lib\/(.*)\.([cm]?)ts$/.exec(file);
        if (m === null || file.endsWith('.d.ts') || file.startsWith('lib/ambient/')) continue;
        out.push(`dist/${m[1]}.${m[2]}js`, `dist/${m[1]}.d.${m[2]}ts`);
      }
    } else if (entry === 'prebuilds/') {
      out.push(...filesUnder('prebuilds').filter((f) => f.endsWith('.node')));
    } else if (/^[\w-]+\/\*\.\w+$/.test(entry)) {
      const [dir, ext] = entry.split('/*') as [string, string];
      out.push(...filesUnder(dir).filter((f) => dirname(f) === dir && f.endsWith(ext)));
    } else {
      if (entry.includes('*') || entry.endsWith('/')) throw new Error(`package.test: teach expectedFiles() the "files" entry ${entry}`);
      out.push(entry);
    }
  }
  return [...new Set(out)].sort();
}

/** npm's own CLI script, run with `node` (so that `npm` itself needs nothing on PATH). */
function npmCli(): string {
  return realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
}

/** Node binaries to smoke-test: this one, and 22 / 24 when fetched. */
function nodeBinaries(): { major: string; path: string | undefined }[] {
  return [
    { major: process.versions.node.split('.')[0] ?? '20', path: process.execPath },
    ...['22', '24'].map((major) => {
      const path = join(NODE_BUILDS, major, 'node');
      return { major, path: existsSync(path) ? path : undefined };
    }),
  ];
}

const SMOKE = `
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
const require = createRequire(import.meta.url);
const cjs = require('mcast');
const cjsDgram = require('mcast/dgram');
const esm = await import('mcast');
const esmDgram = await import('mcast/dgram');
const dgram = esmDgram.default;
const pkgDir = dirname(require.resolve('mcast/package.json'));
const out = {
  node: process.version,
  loaded: require('node-gyp-build').path(pkgDir),
  sameImplementation: esm.Socket === cjs.Socket && esmDgram.Socket === cjsDgram.Socket && dgram.createSocket === cjsDgram.createSocket,
  exports: {
    root: Object.keys(cjs).sort(),
    dgram: Object.keys(cjsDgram).sort(),
    // The implementation module behind the CommonJS entry: the entry must offer all of it.
    dgramImplementation: Object.keys(require(pkgDir + '/dist/dgram.js')).sort(),
    dgramFlagged: '__esModule' in cjsDgram,
    dgramDefaultIsModule: dgram === cjsDgram,
  },
  received: [],
};
const done = new Promise((resolve, reject) => {
  setTimeout(() => reject(new Error('timed out: ' + JSON.stringify(out.received))), 4000).unref();
  const got = (what) => { out.received.push(what); if (out.received.length === 2) resolve(); };
  // The core API, unicast on loopback.
  const rx = esm.createSocket({ address: '127.0.0.1' });
  rx.on('message', (data, info) => { got('core ' + data + ' from ' + info.address); rx.close(); });
  const tx = cjs.createSocket();
  tx.send('hello', '127.0.0.1', rx.address().port);
  tx.close();
  // mcast/dgram, multicast on lo.
  const group = '239.88.0.1';
  const r = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  r.on('message', (msg, rinfo) => { got('dgram ' + msg + ' from ' + rinfo.address); r.close(); });
  r.bind(0, () => {
    r.addMembership(group, '127.0.0.1');
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      s.setMulticastInterface('127.0.0.1');
      s.send('multicast', r.address().port, group, () => s.close());
    });
  });
});
await done;
console.log(JSON.stringify(out));
`;

/** Binds a socket of `module` and maybe unrefs it: does the process stay alive? */
const REF = `
const [name, mode] = process.argv.slice(2);
const dgram = require(name);
const s = dgram.createSocket('udp4');
s.bind(0, '127.0.0.1', () => { if (mode === 'unref') s.unref(); console.log('bound'); });
`;

const TYPES_ESM = `
import dgram, { createSocket as createDgramSocket, type RemoteInfo } from 'mcast/dgram';
import { createSocket, type Socket, type MessageInfo } from 'mcast';
import type * as NodeDgram from 'node:dgram';

const a: NodeDgram.Socket = dgram.createSocket('udp4', (msg: Buffer, rinfo: RemoteInfo) => void [msg, rinfo]);
const b: NodeDgram.Socket = createDgramSocket({ type: 'udp6', ipv6Only: true, multicastAll: false });
const c: Socket = createSocket({ port: 0 });
c.on('message', (data: Buffer, info: MessageInfo) => void [data, info]);
// @ts-expect-error: not a socket type
dgram.createSocket('udp5');
void [a, b];
`;

const TYPES_CJS = `
import dgram = require('mcast/dgram');
import mcast = require('mcast');
import type * as NodeDgram from 'node:dgram';
const a: NodeDgram.Socket = dgram.createSocket('udp4');
const c: mcast.Socket = mcast.createSocket();
void [a, c];
`;

/**
 * An ES-module program as people write it for TypeScript or Babel, compiled to CommonJS with
 * import interop: `import dgram from 'mcast/dgram'` becomes
 * `__importDefault(require('mcast/dgram')).default`, which is the module itself only when it has
 * no `__esModule` flag, as with node:dgram. No type annotations: Babel compiles the same text.
 * It reports the shape of each import next to node:dgram's, then sends and receives through the
 * default import and through the main entry's named and namespace imports.
 */
const INTEROP_CONSUMER = `
import nodeDgram from 'node:dgram';
import dgram from 'mcast/dgram';
import * as dgramNs from 'mcast/dgram';
import { createSocket as createDgramSocket } from 'mcast/dgram';
import * as mcast from 'mcast';
import { createSocket } from 'mcast';

const shape = (d) => ({ defaultImport: typeof d, createSocket: typeof d?.createSocket, Socket: typeof d?.Socket });
const out = {
  nodeDgram: shape(nodeDgram),
  dgram: shape(dgram),
  sameAsNamespace: dgram?.createSocket === dgramNs.createSocket && dgramNs.createSocket === createDgramSocket,
  mcast: { createSocket: typeof createSocket, namespace: typeof mcast.createSocket, Socket: typeof mcast.Socket },
  received: new Array(), // any[] for TypeScript, without a type annotation Babel could not read
};
const timer = setTimeout(() => { console.log(JSON.stringify(out)); process.exit(2); }, 4000);
const got = (what) => {
  out.received.push(what);
  if (out.received.length === 2) { clearTimeout(timer); console.log(JSON.stringify(out)); }
};
const rx = dgram.createSocket('udp4');
rx.on('message', (msg) => { got('dgram ' + msg.toString()); rx.close(); });
rx.bind(0, '127.0.0.1', () => {
  const tx = dgram.createSocket('udp4');
  tx.send('default import', rx.address().port, '127.0.0.1', () => tx.close());
});
const core = createSocket({ address: '127.0.0.1' });
core.on('message', (data) => { got('core ' + data.toString()); core.close(); });
const sender = mcast.createSocket();
sender.send('named import', '127.0.0.1', core.address().port);
sender.close();
`;

/** What the interop consumer must print: mcast/dgram's default import shaped like node:dgram's. */
const INTEROP_EXPECTED = {
  nodeDgram: { defaultImport: 'object', createSocket: 'function', Socket: 'function' },
  dgram: { defaultImport: 'object', createSocket: 'function', Socket: 'function' },
  sameAsNamespace: true,
  mcast: { createSocket: 'function', namespace: 'function', Socket: 'function' },
  received: ['core named import', 'dgram default import'],
};

async function runInteropConsumer(file: string): Promise<unknown> {
  const result = await run(process.execPath, [file], { cwd: consumer, env: strippedEnv, timeoutMs: 15_000 });
  const last = result.stdout.trim().split('\n').pop() ?? '';
  expect(last, `${file} printed nothing:\n${result.stderr}`).not.toBe('');
  const parsed = JSON.parse(last) as { received: string[] };
  parsed.received.sort();
  expect(result.status, result.stderr).toBe(0);
  return parsed;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'mcast-package-'));
  // 1. The prebuilt binary, as a release makes it.
  await mustRun('npm', ['run', 'prebuild'], { cwd: ROOT, timeoutMs: 120_000 });
  // 2. The tarball (npm runs `prepack`, which empties dist/, and `prepare`, which compiles lib/
  //    to dist/: no stale output ships).
  const packed = await npmPack('.', work);
  const tarball = join(work, packed.filename);
  packedFiles = packed.files.map((f) => f.path).sort();
  packedSize = packed.size;
  // ... and the runtime dependencies, packed from node_modules as they are installed.
  const deps = join(work, 'deps');
  mkdirSync(deps);
  const depTarballs: string[] = [];
  for (const { dir } of runtimePackages(ROOT)) depTarballs.push(join(deps, (await npmPack(dir, deps, ['--ignore-scripts'])).filename));

  // 3. A PATH with node and sh only: no compiler, no make, no python.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  strippedEnv = { ...process.env, PATH: bin };
  for (const key of Object.keys(strippedEnv)) if (key.toLowerCase().startsWith('npm_')) delete strippedEnv[key];

  // 4. An empty project that installs the tarballs offline with an empty npm cache of its own,
  //    install scripts enabled.
  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  const install = await mustRun(
    join(bin, 'node'),
    [
      npmCli(),
      'install',
      '--offline',
      '--cache',
      join(work, 'empty-npm-cache'),
      '--ignore-scripts=false',
      '--no-audit',
      '--no-fund',
      '--foreground-scripts',
      tarball,
      ...depTarballs,
    ],
    { cwd: consumer, env: strippedEnv, timeoutMs: 120_000 },
  );
  installLog = install;
  writeFileSync(join(consumer, 'smoke.mjs'), SMOKE);
  const missing = nodeBinaries().filter((n) => n.path === undefined).map((n) => n.major);
  if (missing.length > 0 && process.env.CI) {
    // .ci/run fetches them first: in CI a missing build is a broken setup, not a skip.
    throw new Error(`package.test: no Node ${missing.join(' / ')} binary in CI (.ci/run runs npm run fetch:node-builds)`);
  }
  if (missing.length > 0) {
    console.warn(`package.test: no Node ${missing.join(' / ')} binary, those majors are skipped; \`npm run fetch:node-builds\` (outside the sandbox, needs the npm registry) fetches them`);
  }
  writeFileSync(join(consumer, 'ref.cjs'), REF);
}, 300_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships the compiled JS, the declarations, the prebuilt binary and the native sources', () => {
    for (const file of [
      'package.json',
      'README.md',
      'binding.gyp',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/esm.mjs',
      'dist/esm.d.mts',
      'dist/dgram.js',
      'dist/dgram.d.ts',
      'dist/dgram-cjs.cjs',
      'dist/dgram-cjs.d.cts',
      'dist/dgram-esm.mjs',
      'dist/dgram-esm.d.mts',
      'prebuilds/linux-x64/mcast.glibc.node',
      'prebuilds/linux-arm64/mcast.glibc.node',
      'native/addon.cc',
      'native/socket_wrap.cc',
      'native/socket_wrap.h',
    ]) {
      expect(packedFiles).toContain(file);
    }
  });

  it('ships nothing else: no tests, benchmarks, TypeScript sources, source maps, fuzz corpus or build output', () => {
    const strays = packedFiles.filter((f) =>
      /^(test|bench|lib|build|node_modules|examples|docs|\.ci)\/|\.map$|^native\/(fuzz|tests)\/|\.gitkeep$/.test(f),
    );
    expect(strays).toEqual([]);
  });

  it('ships exactly the files the sources call for: one .js and one .d.ts per lib/ module, no stale output', () => {
    expect(packedFiles).toEqual(expectedFiles());
  });

  it('ships stripped binaries (no symbol table, no debug info) and stays small', () => {
    const binaries = packedFiles.filter((f) => f.endsWith('.node'));
    expect(binaries.length).toBeGreaterThan(0);
    for (const file of binaries) {
      const elf = readFileSync(join(ROOT, file));
      expect(elf.includes('.symtab\0'), `${file} has a symbol table`).toBe(false);
      expect(elf.includes('.debug_'), `${file} has debug sections`).toBe(false);
    }
    console.log(`package.test: the tarball is ${packedSize} bytes, ${packedFiles.length} files`);
    // 541 kB on 2026-12-02 with both binaries (x64 and arm64, ~320 kB each unpacked): a stray
    // corpus, build directory or bundled dependency (megabytes) would not fit under 640 KiB.
    expect(packedSize).toBeLessThan(640 * 1024);
  });

  it("exports the module's entry points and none of its own functions (binding.gyp: -fvisibility=hidden)", () => {
    // An exported function of a -fPIC object is interposable: every call to it goes through the
    // PLT and the compiler may not inline it. 477 symbols were exported before the flag.
    const binaries = packedFiles.filter((f) => f.endsWith('.node'));
    for (const file of binaries) {
      const table = execFileSync('readelf', ['--dyn-syms', '--wide', join(ROOT, file)], { encoding: 'utf8' });
      const defined = table
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter((f) => f.length >= 8 && /^\d+:$/.test(f[0]!) && f[6] !== 'UND' && (f[4] === 'GLOBAL' || f[4] === 'WEAK'))
        .map((f) => f[7]!);
      expect(defined, file).toContain('napi_register_module_v1');
      expect(defined.filter((name) => /mcast|Napi/.test(name)), `${file} exports its own functions`).toEqual([]);
    }
  });
});

describe('the installed package (no compiler on PATH, offline)', () => {
  it('had no build tools to fall back on, and did not build from source', () => {
    const dirs = (strippedEnv.PATH ?? '').split(delimiter);
    const found = BUILD_TOOLS.filter((tool) => dirs.some((dir) => existsSync(join(dir, tool))));
    expect(found).toEqual([]);
    const installed = join(consumer, 'node_modules', 'mcast');
    expect(existsSync(join(installed, 'prebuilds', 'linux-x64', 'mcast.glibc.node'))).toBe(true);
    expect(existsSync(join(installed, 'build')), `the install compiled:\n${installLog}`).toBe(false);
  });

  for (const { major, path } of nodeBinaries()) {
    it.skipIf(path === undefined)(`loads the prebuilt binary and sends and receives on Node ${major}`, async () => {
      const out = await mustRun(path!, ['smoke.mjs'], { cwd: consumer, env: strippedEnv, timeoutMs: 15_000 });
      const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
        node: string;
        loaded: string;
        sameImplementation: boolean;
        exports: { root: string[]; dgram: string[]; dgramImplementation: string[]; dgramFlagged: boolean; dgramDefaultIsModule: boolean };
        received: string[];
      };
      expect(result.node.startsWith(`v${major}.`)).toBe(true);
      expect(result.loaded).toBe(join(realpathSync(consumer), 'node_modules', 'mcast', 'prebuilds', 'linux-x64', 'mcast.glibc.node'));
      expect(result.sameImplementation).toBe(true);
      expect(result.exports.root).toEqual(expect.arrayContaining(['createSocket', 'Socket', 'listInterfaces', 'McastError', 'constants']));
      // node:dgram's own keys: createSocket, Socket and the deprecated _createSocketHandle (DEP0112).
      expect(result.exports.dgram).toEqual(['Socket', '_createSocketHandle', 'createSocket']);

      // require('mcast/dgram') is shaped like require('node:dgram'): every member, no __esModule
      // flag, and `import dgram from 'mcast/dgram'` is that same object.
      expect(result.exports.dgram).toEqual(result.exports.dgramImplementation);
      expect(result.exports.dgramFlagged).toBe(false);
      expect(result.exports.dgramDefaultIsModule).toBe(true);
      expect(result.received.sort()).toEqual(['core hello from 127.0.0.1', 'dgram multicast from 127.0.0.1']);
    });
  }

  it('keeps the process alive while bound, and lets it go after unref(), like node:dgram', async () => {
    for (const module of ['node:dgram', 'mcast/dgram']) {
      const held = await run(process.execPath, ['ref.cjs', module, 'ref'], { cwd: consumer, env: strippedEnv, timeoutMs: 700 });
      expect(held.stdout, module).toContain('bound');
      expect(held.signal, `${module}: a bound socket keeps the process alive`).toBe('SIGKILL');
      const released = await run(process.execPath, ['ref.cjs', module, 'unref'], { cwd: consumer, env: strippedEnv, timeoutMs: 5000 });
      expect(released.stdout, module).toContain('bound');
      expect(released.status, `${module}: an unref'd socket lets the process exit`).toBe(0);
    }
  });

  it('has TypeScript types for both entries, under ES modules and CommonJS resolution', async () => {
    writeFileSync(join(consumer, 'check.mts'), TYPES_ESM);
    writeFileSync(join(consumer, 'check.cts'), TYPES_CJS);
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'node16',
          moduleResolution: 'node16',
          strict: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          skipLibCheck: false,
        },
        files: ['check.mts', 'check.cts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', consumer], { cwd: consumer, env: strippedEnv });
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
  }, 120_000);
});

describe('consumers compiled to CommonJS with import interop', () => {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

  for (const [name, compilerOptions] of [
    ['module commonjs, moduleResolution node10', { module: 'commonjs', moduleResolution: 'node10' }],
    ['module node16 (from CommonJS)', { module: 'node16', moduleResolution: 'node16' }],
  ] as const) {
    it(`TypeScript with esModuleInterop (${name}): type-checks, and \`import dgram from 'mcast/dgram'\` works like node:dgram`, async () => {
      const dir = join(consumer, `ts-${compilerOptions.module}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'main.ts'), INTEROP_CONSUMER);
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            ...compilerOptions,
            target: 'ES2022',
            esModuleInterop: true,
            strict: true,
            noImplicitAny: false,
            outDir: 'out',
            types: ['node'],
            typeRoots: [join(ROOT, 'node_modules', '@types')],
            // The declarations themselves are checked by the test above; here only their use.
            skipLibCheck: true,
          },
          files: ['main.ts'],
        }),
      );
      const compiled = await run(process.execPath, [tsc, '-p', dir], { cwd: dir, env: strippedEnv });
      expect(`${compiled.stdout}${compiled.stderr}`).toBe('');
      const js = readFileSync(join(dir, 'out', 'main.js'), 'utf8');
      expect(js).toContain('__importDefault(require("mcast/dgram"))');
      expect(await runInteropConsumer(join(dir, 'out', 'main.js'))).toEqual(INTEROP_EXPECTED);
    }, 120_000);
  }

  it("Babel (@babel/plugin-transform-modules-commonjs): `import dgram from 'mcast/dgram'` works like node:dgram", async () => {
    // Loaded from the project's devDependencies; the compiled program runs in the consumer.
    const babel = createRequire(import.meta.url)('@babel/core') as {
      transformSync(code: string, options: object): { code?: string | null } | null;
    };
    const compiled = babel.transformSync(INTEROP_CONSUMER, {
      babelrc: false,
      configFile: false,
      sourceType: 'module',
      plugins: ['@babel/plugin-transform-modules-commonjs'],
    });
    const js = compiled?.code ?? '';
    // Babel merges the default and namespace imports into one interop call.
    expect(js).toMatch(/_interopRequire(Default|Wildcard)\(require\("mcast\/dgram"\)\)/);
    writeFileSync(join(consumer, 'babel-main.cjs'), js);
    expect(await runInteropConsumer(join(consumer, 'babel-main.cjs'))).toEqual(INTEROP_EXPECTED);
  });
});
