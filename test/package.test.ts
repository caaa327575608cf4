/**
 * The package as users get it: `npm run prebuild` (the N-API binary under prebuilds/linux-x64),
 * `npm pack`, then an install of that tarball into an empty folder with no compiler, make or
 * python on PATH, offline. The installed package is then required and imported (root and
 * `mcast/dgram`, CommonJS and ES modules, and their TypeScript types) and sends and receives on
 * loopback, on Node 20 (this one) and on Node 22 and 24 when their binaries are present (fetched by
 * `npm run fetch:node-builds`, outside the sandbox: it needs the npm registry).
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const NODE_BUILDS = join(ROOT, 'node_modules', '.cache', 'mcast-node-builds');
/** What a compiler-less machine must not have: the install would otherwise build from source. */
const BUILD_TOOLS = ['cc', 'gcc', 'g++', 'c++', 'clang', 'make', 'python', 'python3'];

let work: string;
let consumer: string;
let strippedEnv: NodeJS.ProcessEnv;
let packedFiles: string[];
let installLog: string;

function run(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): SpawnSyncReturns<string> {
  return spawnSync(file, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    killSignal: 'SIGKILL',
  });
}

function mustRun(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): string {
  const result = run(file, args, options);
  if (result.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
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
  exports: { root: Object.keys(cjs).sort(), dgram: Object.keys(cjsDgram).sort() },
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

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'mcast-package-'));
  // 1. The prebuilt binary, as a release makes it.
  mustRun('npm', ['run', 'prebuild'], { cwd: ROOT, timeoutMs: 120_000 });
  // 2. The tarball (npm runs `prepare`, which compiles lib/ to dist/).
  const packed = JSON.parse(mustRun('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, timeoutMs: 120_000 })) as {
    filename: string;
    files: { path: string }[];
  }[];
  const tarball = join(work, packed[0]!.filename);
  packedFiles = packed[0]!.files.map((f) => f.path).sort();

  // 3. A PATH with node and sh only: no compiler, no make, no python.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  strippedEnv = { ...process.env, PATH: bin };
  for (const key of Object.keys(strippedEnv)) if (key.toLowerCase().startsWith('npm_')) delete strippedEnv[key];

  // 4. An empty project that installs the tarball offline, install scripts enabled.
  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  const install = mustRun(
    join(bin, 'node'),
    [npmCli(), 'install', '--offline', '--ignore-scripts=false', '--no-audit', '--no-fund', '--foreground-scripts', tarball],
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
      'dist/dgram-esm.mjs',
      'dist/dgram-esm.d.mts',
      'prebuilds/linux-x64/mcast.node',
      'native/addon.cc',
      'native/socket_wrap.cc',
      'native/socket_wrap.h',
    ]) {
      expect(packedFiles).toContain(file);
    }
  });

  it('ships nothing else: no tests, benchmarks, TypeScript sources, source maps, fuzz corpus or build output', () => {
    const strays = packedFiles.filter((f) =>
      /^(test|bench|lib|build|node_modules|\.ci)\/|\.map$|^native\/(fuzz|tests)\//.test(f),
    );
    expect(strays).toEqual([]);
  });
});

describe('the installed package (no compiler on PATH, offline)', () => {
  it('had no build tools to fall back on, and did not build from source', () => {
    const dirs = (strippedEnv.PATH ?? '').split(delimiter);
    const found = BUILD_TOOLS.filter((tool) => dirs.some((dir) => existsSync(join(dir, tool))));
    expect(found).toEqual([]);
    const installed = join(consumer, 'node_modules', 'mcast');
    expect(existsSync(join(installed, 'prebuilds', 'linux-x64', 'mcast.node'))).toBe(true);
    expect(existsSync(join(installed, 'build')), `the install compiled:\n${installLog}`).toBe(false);
  });

  for (const { major, path } of nodeBinaries()) {
    it.skipIf(path === undefined)(`loads the prebuilt binary and sends and receives on Node ${major}`, () => {
      const out = mustRun(path!, ['smoke.mjs'], { cwd: consumer, env: strippedEnv, timeoutMs: 15_000 });
      const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as {
        node: string;
        loaded: string;
        sameImplementation: boolean;
        exports: { root: string[]; dgram: string[] };
        received: string[];
      };
      expect(result.node.startsWith(`v${major}.`)).toBe(true);
      expect(result.loaded).toBe(join(realpathSync(consumer), 'node_modules', 'mcast', 'prebuilds', 'linux-x64', 'mcast.node'));
      expect(result.sameImplementation).toBe(true);
      expect(result.exports.root).toEqual(expect.arrayContaining(['createSocket', 'Socket', 'listInterfaces', 'McastError', 'constants']));
      // node:dgram's own keys: createSocket, Socket and the deprecated _createSocketHandle (DEP0112).
      expect(result.exports.dgram).toEqual(['Socket', '_createSocketHandle', 'createSocket']);
      expect(result.received.sort()).toEqual(['core hello from 127.0.0.1', 'dgram multicast from 127.0.0.1']);
    });
  }

  it('keeps the process alive while bound, and lets it go after unref(), like node:dgram', () => {
    for (const module of ['node:dgram', 'mcast/dgram']) {
      const held = run(process.execPath, ['ref.cjs', module, 'ref'], { cwd: consumer, env: strippedEnv, timeoutMs: 700 });
      expect(held.stdout, module).toContain('bound');
      expect(held.signal, `${module}: a bound socket keeps the process alive`).toBe('SIGKILL');
      const released = run(process.execPath, ['ref.cjs', module, 'unref'], { cwd: consumer, env: strippedEnv, timeoutMs: 5000 });
      expect(released.stdout, module).toContain('bound');
      expect(released.status, `${module}: an unref'd socket lets the process exit`).toBe(0);
    }
  });

  it('has TypeScript types for both entries, under ES modules and CommonJS resolution', () => {
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
    const result = run(process.execPath, [tsc, '-p', consumer], { cwd: consumer, env: strippedEnv });
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
  });
});

