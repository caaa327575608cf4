/**
 * mcast/register: `node -r mcast/register` and `node --import mcast/register` give mcast/dgram to
 * every require and import of 'dgram' / 'node:dgram', in the program and in its dependencies,
 * and never to mcast's own files. Each case runs a real child node process in a scratch project
 * whose node_modules holds mcast (a link to this checkout, as an installed package would be found)
 * and small dependencies of both module kinds that load dgram.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import * as hooks from '../dist/register-hooks.mjs';

const ROOT = resolve(__dirname, '..');
let dir: string;

function write(file: string, text: string): void {
  mkdirSync(join(dir, file, '..'), { recursive: true });
  writeFileSync(join(dir, file), text);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcast-register-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'mcast'));
  write('node_modules/cjs-dep/package.json', '{"name":"cjs-dep","main":"index.js"}');
  write('node_modules/cjs-dep/index.js', "module.exports = { plain: require('dgram'), prefixed: require('node:dgram') };\n");
  write('node_modules/esm-dep/package.json', '{"name":"esm-dep","type":"module","exports":"./index.js"}');
  write('node_modules/esm-dep/index.js', "import d from 'dgram';\nimport * as ns from 'node:dgram';\nexport { d as plain, ns };\n");
  // What each program prints: is every way of reaching dgram mcast/dgram, and is the escape hatch Node's?
  write(
    'app.cjs',
    `const m = require('mcast/dgram');
const dep = require('cjs-dep');
import('esm-dep').then((esm) => import('node:dgram').then((dyn) => {
  console.log(JSON.stringify({
    plain: require('dgram') === m,
    prefixed: require('node:dgram') === m,
    depPlain: dep.plain === m,
    depPrefixed: dep.prefixed === m,
    dynamicImport: dyn.default === m,
    esmDepDefault: esm.plain === m,
    esmDepNamed: esm.ns.createSocket === m.createSocket,
    builtinIsNodes: process.getBuiltinModule('dgram') !== m,
  }));
}));
`,
  );
  write(
    'app.mjs',
    `import d from 'dgram';
import { createSocket, Socket } from 'node:dgram';
import m from 'mcast/dgram';
import { plain, ns } from 'esm-dep';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
console.log(JSON.stringify({
  plain: d === m,
  prefixed: createSocket === m.createSocket && Socket === m.Socket,
  depPlain: require('cjs-dep').plain === m,
  depPrefixed: require('cjs-dep').prefixed === m,
  dynamicImport: (await import('node:dgram')).default === m,
  esmDepDefault: plain === m,
  esmDepNamed: ns.createSocket === m.createSocket,
  builtinIsNodes: process.getBuiltinModule('dgram') !== m,
}));
`,
  );
  write(
    'worker.cjs',
    `const { Worker, isMainThread, parentPort } = require('node:worker_threads');
if (isMainThread) {
  new Worker(__filename).on('message', (m) => console.log(JSON.stringify(m)));
} else {
  const m = require('mcast/dgram');
  import('node:dgram').then((e) => parentPort.postMessage({ required: require('dgram') === m, imported: e.default === m }));
}
`,
  );
  // The threads of the process (the loader-hooks worker of module.register() is one more): a
  // CommonJS program with no import in its source, and one that imports after counting.
  write(
    'threads.cjs',
    `const before = require('node:fs').readdirSync('/proc/self/task').length;
console.log(JSON.stringify({ before, mcast: require('dgram') === require('mcast/dgram') }));
`,
  );
  write(
    'threads-import.cjs',
    `const before = require('node:fs').readdirSync('/proc/self/task').length;
import('node:dgram').then((e) => console.log(JSON.stringify({ before, mcast: require('dgram') === require('mcast/dgram'), imported: e.default === require('mcast/dgram') })));
`,
  );
  // A dependency's socket works through the hook: a datagram to itself on 127.0.0.1.
  write(
    'echo.cjs',
    `const dgram = require('dgram');
const s = dgram.createSocket('udp4');
s.on('message', (msg, rinfo) => {
  console.log(JSON.stringify({ msg: msg.toString(), family: rinfo.family, mcast: s instanceof require('mcast/dgram').Socket }));
  s.close();
});
s.bind(0, '127.0.0.1', () => s.send('ping', s.address().port, '127.0.0.1'));
`,
  );
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  /** Exit code, or why there is none. */
  code: number | string | null;
  stdout: string;
  stderr: string;
}

function node(args: string[], env: NodeJS.ProcessEnv = {}, timeout = 15_000): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      args,
      { cwd: dir, env: { ...process.env, NODE_DEBUG: '', NODE_OPTIONS: '', ...env }, timeout },
      (err, stdout, stderr) =>
        done({ code: err ? ((err as { code?: number | string }).code ?? `killed: ${String(err.signal)}`) : 0, stdout, stderr }),
    );
  });
}

const ALL_MCAST = {
  plain: true,
  prefixed: true,
  depPlain: true,
  depPrefixed: true,
  dynamicImport: true,
  esmDepDefault: true,
  esmDepNamed: true,
  builtinIsNodes: true,
};

describe('mcast/register', () => {
  it.each([
    ['-r', 'app.cjs'],
    ['-r', 'app.mjs'],
    ['--import', 'app.mjs'],
    ['--import', 'app.cjs'],
  ])('node %s mcast/register %s: every require and import of dgram, also in dependencies, is mcast/dgram', async (flag, app) => {
    const r = await node([flag, 'mcast/register', app]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual(ALL_MCAST);
  });

  it('without the flag, the same programs get node:dgram everywhere', async () => {
    for (const app of ['app.cjs', 'app.mjs']) {
      const r = await node([app]);
      expect(JSON.parse(r.stdout)).toEqual({
        plain: false,
        prefixed: false,
        depPlain: false,
        depPrefixed: false,
        dynamicImport: false,
        esmDepDefault: false,
        esmDepNamed: false,
        builtinIsNodes: true,
      });
    }
  });

  it("the README's check prints true under the hook, false without it; NODE_OPTIONS works too", async () => {
    const check = ['-p', "require('dgram') === require('mcast/dgram')"];
    expect((await node(['-r', 'mcast/register', ...check])).stdout.trim()).toBe('true');
    expect((await node(check, { NODE_OPTIONS: '-r mcast/register' })).stdout.trim()).toBe('true');
    expect((await node(check)).stdout.trim()).toBe('false');
  });

  it('NODE_DEBUG=mcast names each request and what it got; mcast/dgram itself keeps node:dgram', async () => {
    for (const flag of ['-r', '--import']) {
      const r = await node([flag, 'mcast/register', 'app.mjs'], { NODE_DEBUG: 'mcast' });
      const lines = r.stderr.trim().split('\n');
      const depFile = join(dir, 'node_modules', 'cjs-dep', 'index.js');
      expect(lines).toContain(`MCAST ${pidOf(lines)}: register: import 'dgram' from file://${join(dir, 'app.mjs')} -> mcast/dgram`);
      expect(lines).toContain(`MCAST ${pidOf(lines)}: register: require('dgram') from ${depFile} -> mcast/dgram`);
      expect(lines).toContain(`MCAST ${pidOf(lines)}: register: require('node:dgram') from ${depFile} -> mcast/dgram`);
      expect(lines).toContain(
        `MCAST ${pidOf(lines)}: register: import 'dgram' from file://${join(dir, 'node_modules', 'esm-dep', 'index.js')} -> mcast/dgram`,
      );
      // mcast/dgram asks for Node's module once (to follow the running Node's behaviour) and gets it.
      const own = lines.filter((l) => l.includes("mcast's own"));
      expect(own.length).toBeGreaterThan(0);
      for (const l of own) expect(l).toMatch(new RegExp(`from mcast's own (file://)?${ROOT}/dist/\\S+ -> node:dgram$`));
      expect(lines.every((l) => l.startsWith('MCAST '))).toBe(true);
    }
    // No line without NODE_DEBUG, none without the hook.
    expect((await node(['-r', 'mcast/register', 'app.cjs'])).stderr).toBe('');
    expect((await node(['app.cjs'], { NODE_DEBUG: 'mcast' })).stderr).toBe('');
  });

  it('-r starts the loader-hooks thread only when an ES module may come: not for CommonJS alone, before an import()', async () => {
    const run = async (args: string[]): Promise<{ before: number; mcast: boolean; imported?: boolean }> => {
      const r = await node(args);
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout);
    };
    const plain = await run(['threads.cjs']);
    const lazy = await run(['-r', 'mcast/register', 'threads.cjs']);
    const eager = await run(['--import', 'mcast/register', 'threads.cjs']);
    expect(lazy).toEqual({ before: plain.before, mcast: true });
    expect(eager.mcast).toBe(true);
    expect(eager.before).toBeGreaterThan(plain.before);
    // The file that has an import( starts it before it runs: its import is mcast/dgram.
    expect(await run(['-r', 'mcast/register', 'threads-import.cjs'])).toEqual({ before: eager.before, mcast: true, imported: true });
    const started = (r: Run): string[] => r.stderr.split('\n').filter((l) => l.includes('ES module hooks started'));
    expect(started(await node(['-r', 'mcast/register', 'threads.cjs'], { NODE_DEBUG: 'mcast' }))).toEqual([]);
    const lines = started(await node(['-r', 'mcast/register', 'app.cjs'], { NODE_DEBUG: 'mcast' }));
    expect(lines[0]).toMatch(new RegExp(`register: ES module hooks started \\(before ${join(dir, 'app.cjs')}\\)$`));
  });

  it("a dependency's socket works through the hook and exits by itself", async () => {
    const r = await node(['-r', 'mcast/register', 'echo.cjs']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ msg: 'ping', family: 'IPv4', mcast: true });
  });

  it('a worker thread gets it too (require and import)', async () => {
    const r = await node(['-r', 'mcast/register', 'worker.cjs']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ required: true, imported: true });
  });

  it('loading it twice (both flags) installs it once', async () => {
    const r = await node(['-r', 'mcast/register', '--import', 'mcast/register', 'app.cjs'], { NODE_DEBUG: 'mcast' });
    expect(JSON.parse(r.stdout)).toEqual(ALL_MCAST);
    const depLines = r.stderr.split('\n').filter((l) => l.includes("require('dgram') from") && l.includes('cjs-dep'));
    expect(depLines).toHaveLength(1);
  });

  it("exports the path it redirects to, from both entries: mcast/dgram's own CommonJS entry", async () => {
    const entry = (await node(['-p', "require.resolve('mcast/dgram')"])).stdout.trim();
    expect(entry.startsWith(join(ROOT, 'dist') + '/')).toBe(true);
    const cjs = await node(['-p', "require('mcast/register').dgramPath"]);
    expect(cjs.stdout.trim()).toBe(entry);
    const esm = await node(['--input-type=module', '-e', "import { dgramPath } from 'mcast/register'; console.log(dgramPath)"]);
    expect(esm.stdout.trim()).toBe(entry);
  });
});

describe('the resolve hook (dist/register-hooks.mjs, called directly)', () => {
  const own = pathToFileURL(join(ROOT, 'dist') + '/').href;
  const data = {
    ownDirUrl: own,
    dgramUrl: `${own}dgram-esm.mjs`,
    dgramRequireUrl: `${own}dgram.js`,
    debug: false,
  };
  const next = async (specifier: string) => ({ url: `next:${specifier}` });
  const user = 'file:///srv/app/main.mjs';

  it('sends both specifiers to mcast/dgram, require conditions to its CommonJS build, the rest on', async () => {
    hooks.initialize(data);
    for (const specifier of ['dgram', 'node:dgram']) {
      expect(await hooks.resolve(specifier, { parentURL: user, conditions: ['node', 'import'] }, next)).toEqual({
        url: data.dgramUrl,
        format: 'module',
        shortCircuit: true,
      });
      expect(await hooks.resolve(specifier, { parentURL: user, conditions: ['node', 'require'] }, next)).toEqual({
        url: data.dgramRequireUrl,
        format: 'commonjs',
        shortCircuit: true,
      });
      expect(await hooks.resolve(specifier, { parentURL: `${own}dgram-esm.mjs` }, next)).toEqual({ url: `next:${specifier}` });
    }
    for (const specifier of ['node:net', 'dgram2', './dgram', 'mcast/dgram']) {
      expect(await hooks.resolve(specifier, { parentURL: user }, next)).toEqual({ url: `next:${specifier}` });
    }
  });
});

describe('TypeScript', () => {
  it("types 'mcast/register' for ES modules and CommonJS (node16 resolution)", async () => {
    write('types/check.mts', "import { dgramPath } from 'mcast/register';\nexport const p: string = dgramPath;\n");
    write('types/check.cts', "import register = require('mcast/register');\nexport const p: string = register.dgramPath;\n");
    write(
      'types/tsconfig.json',
      JSON.stringify({
        compilerOptions: {
          module: 'node16',
          moduleResolution: 'node16',
          strict: true,
          noEmit: true,
          // The declarations need nothing from @types/node or the DOM; leaving them out keeps tsc quick.
          target: 'es2022',
          lib: ['es2022'],
          types: [],
        },
        files: ['check.mts', 'check.cts'],
      }),
    );
    const r = await node([join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'types')], {}, 55_000);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 60_000);
});

function pidOf(lines: string[]): string {
  return /^MCAST (\d+):/.exec(lines[0] ?? '')?.[1] ?? 'no debug line';
}
