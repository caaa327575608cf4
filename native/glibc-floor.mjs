#!/usr/bin/env node
// The oldest C and C++ runtime each prebuilt binary loads on, stated once here (README
// "Installing" says the same, test/prebuilds.test.ts keeps the two equal), and the check that a
// binary asks for no newer one. A binary records the newest runtime it needs in its versioned
// dynamic symbols (`objdump -T`: `memcpy@GLIBC_2.14`, `_ZdlPvm@CXXABI_1.3.9`); the loader refuses
// it on an older one ("version `GLIBC_2.34' not found"). So a new libc call in native/ that only
// newer glibc has (pthread_create of glibc 2.34, say) fails `npm run prebuild` instead of users.
//
//   node native/glibc-floor.mjs prebuilds/linux-x64/mcast.glibc.node ...   # one line each, exit 1 if above
//
// 2.17 is the first glibc for arm64 and the manylinux2014 floor (CentOS 7); Node 20's own
// official binaries need glibc 2.28, so the addon is never the part that does not load.
// GLIBCXX_3.4.21 / CXXABI_1.3.9 are the libstdc++ of GCC 5.1.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The stated floor per prebuild architecture: the newest symbol version each binary may need. */
export const FLOORS = {
  x64: { GLIBC: '2.17', GLIBCXX: '3.4.21', CXXABI: '1.3.9' },
  arm64: { GLIBC: '2.17', GLIBCXX: '3.4.21', CXXABI: '1.3.9' },
};

/** '2.17' vs '2.9': numeric, part by part. */
export function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The newest version of each runtime (GLIBC, GLIBCXX, CXXABI) that `file` needs, with the
 * symbols that need it. Reads the dynamic symbol table with binutils' objdump, which reads any
 * ELF (an arm64 binary on an x64 host too).
 */
export function neededVersions(file) {
  const table = execFileSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  /** @type {Record<string, { version: string, symbols: string[] }>} */
  const newest = {};
  for (const line of table.split('\n')) {
    // 0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.14) memcpy
    const m = /\*UND\*\s+\S+\s+\(?(GLIBC|GLIBCXX|CXXABI)_([\d.]+)\)?\s+(\S+)/.exec(line);
    if (!m) continue;
    const [, lib, version, symbol] = m;
    const seen = newest[lib];
    if (!seen || compareVersions(version, seen.version) > 0) newest[lib] = { version, symbols: [symbol] };
    else if (version === seen.version) seen.symbols.push(symbol);
  }
  return newest;
}

/**
 * Checks `file` against the floor of `arch`: returns the needed versions and the list of
 * problems (empty when the binary loads on the stated floor).
 */
export function checkFloor(file, arch) {
  const floor = FLOORS[arch];
  if (!floor) throw new Error(`glibc-floor: no stated floor for architecture ${arch}`);
  const needed = neededVersions(file);
  const problems = [];
  if (!needed.GLIBC) problems.push(`${file}: no versioned GLIBC symbols at all (not a glibc binary?)`);
  for (const [lib, max] of Object.entries(floor)) {
    const got = needed[lib];
    if (got && compareVersions(got.version, max) > 0) {
      problems.push(
        `${file} needs ${lib}_${got.version} (${got.symbols.slice(0, 5).join(', ')}), above the stated floor ${lib}_${max} (native/glibc-floor.mjs, README "Installing")`,
      );
    }
  }
  return { needed, problems };
}

/** 'GLIBC 2.17, GLIBCXX 3.4.21, CXXABI 1.3.9' */
export function describe(versions) {
  return ['GLIBC', 'GLIBCXX', 'CXXABI']
    .filter((lib) => versions[lib] !== undefined)
    .map((lib) => `${lib} ${typeof versions[lib] === 'string' ? versions[lib] : versions[lib].version}`)
    .join(', ');
}

/** The architecture of an ELF file, from its e_machine field. */
export function elfArch(bytes) {
  if (bytes.readUInt32BE(0) !== 0x7f454c46) return 'not ELF';
  const machine = bytes.readUInt16LE(18);
  return { 62: 'x64', 183: 'arm64' }[machine] ?? `e_machine ${machine}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { readFileSync } = await import('node:fs');
  let failed = false;
  for (const file of process.argv.slice(2)) {
    const arch = elfArch(readFileSync(file));
    const { needed, problems } = checkFloor(file, arch);
    console.log(`${file} (${arch}): needs ${describe(needed)}; stated floor ${describe(FLOORS[arch])}`);
    for (const p of problems) console.error(`glibc-floor: ${p}`);
    failed ||= problems.length > 0;
  }
  process.exit(failed ? 1 : 0);
}
