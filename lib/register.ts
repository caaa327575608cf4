/**
 * `mcast/register`: makes every `require('dgram')`, `require('node:dgram')`, `import 'dgram'` and
 * `import 'node:dgram'` of a program and of its dependencies return `mcast/dgram`, with no change
 * to their code.
 *
 *   node -r mcast/register app.js          # CommonJS entry
 *   node --import mcast/register app.mjs   # ES module entry (either flag covers both kinds)
 *
 * CommonJS: `Module._load` is wrapped, because it is the one function every `require` (also
 * `createRequire`, and a CommonJS module imported from an ES module) goes through, and the only
 * one that sees `node:`-prefixed names (Node loads those before it resolves anything).
 * ES modules: a `resolve` hook registered with `module.register()` (Node 20.6+) maps the two
 * specifiers to mcast/dgram's ES entry. Both are installed by either flag, once per thread.
 *
 * The ES hook costs a thread: module.register() starts the loader-hooks worker and waits for it
 * (~80 ms). A CommonJS program under `-r mcast/register` may never load an ES module, so there
 * it is registered only when one may come: before the first file whose source could reach the
 * ES loader is compiled (a dynamic `import(`, `import.meta`, an `import`/`export` statement:
 * module syntax detection, require(esm)); Module.prototype._compile sees every such file first.
 * It is registered at once where ES modules come first or cannot be told in advance: under
 * `--import` (this package's own ES entry too), `--loader`, `--experimental-default-type`, an ES
 * entry point (.mjs, or .js in a "type": "module" package), `-e`/`-p`, the REPL, and in worker
 * threads (whose entry this thread cannot see).
 *
 * mcast's own files keep Node's module: a request whose parent lies in this package's dist/
 * directory is passed through, so mcast/dgram never gets itself. `process.getBuiltinModule()`
 * is left alone: it is how a program under the hook still reaches Node's own `dgram`.
 *
 * `NODE_DEBUG=mcast` prints one line per request, which module asked and what it got.
 */
import Module = require('node:module');
import { readFileSync } from 'node:fs';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { debuglog } from 'node:util';
import { isMainThread } from 'node:worker_threads';

import type { RegisterHookData } from './register-hooks.mjs' with { 'resolution-mode': 'import' };

/** The CommonJS loader's internal entry point, which `require` calls for every request. */
type Load = (request: string, parent: NodeJS.Module | null | undefined, isMain: boolean) => unknown;

/** One condition of an entry of package.json "exports": `{ types, default }`. */
interface ExportTarget {
  default: string;
}

/**
 * The file that package.json "exports" gives for `mcast/dgram` under a condition: what
 * `require('mcast/dgram')` or `import 'mcast/dgram'` loads, so the hook hands out exactly that.
 */
function dgramEntry(condition: 'require' | 'import'): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
    exports: Record<string, Record<string, ExportTarget>>;
  };
  const target = pkg.exports['./dgram']?.[condition]?.default;
  if (target === undefined) throw new Error(`mcast/register: package.json has no "exports" entry ./dgram for ${condition}`);
  return join(__dirname, '..', target);
}

const DGRAM_SPECIFIERS: ReadonlySet<string> = new Set(['dgram', 'node:dgram']);
/** This package's compiled files: requests from here keep Node's own dgram. */
const OWN_DIR = __dirname + sep;
const MCAST_DGRAM = dgramEntry('require');
const INSTALLED = Symbol.for('mcast.register');
const debug = debuglog('mcast');

/** True when `file` (a path) is one of mcast's own compiled files. */
function isOwnFile(file: string | undefined): boolean {
  return file !== undefined && file.startsWith(OWN_DIR);
}

function installRequireHook(): void {
  const loader = Module as unknown as { _load: Load };
  const load = loader._load;
  loader._load = function mcastRegisterLoad(this: unknown, request, parent, isMain) {
    if (typeof request === 'string' && DGRAM_SPECIFIERS.has(request)) {
      const from = parent?.filename ?? '(no parent)';
      if (isOwnFile(parent?.filename)) {
        debug("register: require('%s') from mcast's own %s -> node:dgram", request, from);
      } else {
        debug("register: require('%s') from %s -> mcast/dgram", request, from);
        return load.call(this, MCAST_DGRAM, parent, isMain);
      }
    }
    return load.call(this, request, parent, isMain);
  };
}

let importHookInstalled = false;

function installImportHook(reason: string): void {
  if (importHookInstalled) return;
  importHookInstalled = true;
  debug('register: ES module hooks started (%s)', reason);
  // module.register() appeared in Node 20.6; engines asks for 20.17, so it is there.
  const data: RegisterHookData = {
    ownDirUrl: pathToFileURL(OWN_DIR).href,
    dgramUrl: pathToFileURL(dgramEntry('import')).href,
    dgramRequireUrl: pathToFileURL(MCAST_DGRAM).href,
    debug: debug.enabled,
  };
  Module.register(pathToFileURL(join(__dirname, 'register-hooks.mjs')).href, { data });
}

/** Node's options that put the ES loader first (on the command line or in NODE_OPTIONS). */
const ESM_FIRST_OPTIONS = /^--(?:import|loader|experimental-loader|experimental-default-type)(?:=|$)/;

/** The "type" of the package.json nearest to `file`, as Node reads a package scope. */
function packageType(file: string): unknown {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    try {
      return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: unknown }).type;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** Why ES modules may be resolved before any CommonJS file is compiled, or null when they cannot. */
function esmFromTheStart(): string | null {
  if (!isMainThread) return 'worker thread';
  const options = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const option = options.find((o) => ESM_FIRST_OPTIONS.test(o));
  if (option !== undefined) return option;
  if ((process as { _eval?: unknown })._eval !== undefined) return '-e/-p';
  const main = process.argv[1];
  if (main === undefined || main === '-') return 'no entry file';
  let file = resolve(main);
  try {
    file = (Module as unknown as { _resolveFilename(request: string, parent: null, isMain: boolean): string })._resolveFilename(file, null, true);
  } catch {
    // Not found: Node reports it itself when it runs the entry point.
  }
  const extension = extname(file);
  if (extension === '.mjs') return 'ES entry point';
  if (extension === '.cjs') return null;
  return packageType(file) === 'module' ? 'ES entry point' : null;
}

/** Source text that can reach the ES loader: import(, import.meta, an import or export statement. */
const REACHES_ESM = /\bimport\s*[(.]|^\s*(?:import|export)\b/m;

/**
 * Registers the ES hook before the first file that may need it is compiled (see the module
 * comment); CommonJS-only programs never start the hooks thread.
 */
function installImportHookOnDemand(): void {
  const proto = Module.prototype as unknown as { _compile: (this: unknown, content: unknown, filename: unknown, ...rest: unknown[]) => unknown };
  const compile = proto._compile;
  proto._compile = function mcastRegisterCompile(this: unknown, content, filename, ...rest) {
    if (!importHookInstalled && (rest[0] === 'module' || typeof content !== 'string' || REACHES_ESM.test(content))) {
      installImportHook(`before ${String(filename)}`);
    }
    return compile.call(this, content, filename, ...rest);
  };
}

const state = globalThis as { [INSTALLED]?: true };
if (state[INSTALLED] !== true) {
  state[INSTALLED] = true;
  installRequireHook();
  const reason = esmFromTheStart();
  if (reason !== null) installImportHook(reason);
  else installImportHookOnDemand();
}

/**
 * The file that `require('dgram')` and `require('node:dgram')` now load: the one that
 * `require('mcast/dgram')` loads. `require('dgram') === require('mcast/dgram')` holds once the
 * hook is active.
 */
export const dgramPath: string = MCAST_DGRAM;
