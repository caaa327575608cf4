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
 * mcast's own files keep Node's module: a request whose parent lies in this package's dist/
 * directory is passed through, so mcast/dgram never gets itself. `process.getBuiltinModule()`
 * is left alone: it is how a program under the hook still reaches Node's own `dgram`.
 *
 * `NODE_DEBUG=mcast` prints one line per request, which module asked and what it got.
 */
import Module = require('node:module');
import { readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { debuglog } from 'node:util';

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

function installImportHook(): void {
  // module.register() appeared in Node 20.6; engines asks for 20.17, so it is there.
  const data: RegisterHookData = {
    ownDirUrl: pathToFileURL(OWN_DIR).href,
    dgramUrl: pathToFileURL(dgramEntry('import')).href,
    dgramRequireUrl: pathToFileURL(MCAST_DGRAM).href,
    debug: debug.enabled,
  };
  Module.register(pathToFileURL(join(__dirname, 'register-hooks.mjs')).href, { data });
}

const state = globalThis as { [INSTALLED]?: true };
if (state[INSTALLED] !== true) {
  state[INSTALLED] = true;
  installRequireHook();
  installImportHook();
}

/**
 * The file that `require('dgram')` and `require('node:dgram')` now load: the one that
 * `require('mcast/dgram')` loads. `require('dgram') === require('mcast/dgram')` holds once the
 * hook is active.
 */
export const dgramPath: string = MCAST_DGRAM;
