// The ES module half of mcast/register: a `resolve` hook (module.register(), Node 20.6+) that
// maps 'dgram' and 'node:dgram' to mcast/dgram's ES entry, except for imports made by mcast's own
// files. It runs on the loader's hooks thread, so it gets what it needs from register.ts as data
// and writes its NODE_DEBUG=mcast lines straight to stderr (synchronously, never lost at exit).
import { writeSync } from 'node:fs';

/** What register.ts passes to module.register() as `data`. */
export interface RegisterHookData {
  /** file: URL of mcast's dist/ directory, ending in '/'. */
  ownDirUrl: string;
  /** file: URL of mcast/dgram's ES entry. */
  dgramUrl: string;
  /** file: URL of mcast/dgram's CommonJS build, for a `require` that reaches this hook. */
  dgramRequireUrl: string;
  /** NODE_DEBUG names mcast. */
  debug: boolean;
}

/** The context Node passes to a resolve hook (the part this hook reads). */
export interface ResolveContext {
  parentURL?: string | undefined;
  /** Export conditions of the request: 'require' for a require() that reaches the hooks. */
  conditions?: readonly string[] | undefined;
}

/** What a resolve hook returns. */
export interface ResolveResult {
  url: string;
  format?: string | null | undefined;
  shortCircuit?: boolean | undefined;
}

const DGRAM_SPECIFIERS: ReadonlySet<string> = new Set(['dgram', 'node:dgram']);
let config: RegisterHookData | null = null;

function debug(line: string): void {
  if (config?.debug) writeSync(2, `MCAST ${process.pid}: ${line}\n`);
}

/** Receives register.ts's data once, before the first resolve. */
export function initialize(data: RegisterHookData): void {
  config = data;
}

/** Resolves 'dgram' and 'node:dgram' to mcast/dgram, everything else as Node would. */
export async function resolve(
  specifier: string,
  context: ResolveContext,
  nextResolve: (specifier: string, context: ResolveContext) => Promise<ResolveResult>,
): Promise<ResolveResult> {
  if (config !== null && DGRAM_SPECIFIERS.has(specifier)) {
    const from = context.parentURL ?? '(no parent)';
    if (from.startsWith(config.ownDirUrl)) {
      debug(`register: import '${specifier}' from mcast's own ${from} -> node:dgram`);
    } else {
      // Where Node sends require() through these hooks too (newer versions, for CommonJS loaded
      // by import), it must get module.exports, as from the CommonJS hook, not a namespace.
      if (context.conditions?.includes('require') === true) {
        debug(`register: require('${specifier}') from ${from} -> mcast/dgram`);
        return { url: config.dgramRequireUrl, format: 'commonjs', shortCircuit: true };
      }
      debug(`register: import '${specifier}' from ${from} -> mcast/dgram`);
      return { url: config.dgramUrl, format: 'module', shortCircuit: true };
    }
  }
  return nextResolve(specifier, context);
}
