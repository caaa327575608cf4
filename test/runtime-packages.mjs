// The packages a production install of mcast brings (its runtime dependencies, and theirs), as
// package-lock.json records them: what an offline consumer install needs beside mcast's own
// tarball. test/package.test.ts packs them from node_modules; test/arm64/run.mjs puts their
// registry metadata into npm's cache.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const PREFIX = 'node_modules/';

/**
 * Every non-dev package of `root`'s lockfile: `{ name, version, dir }`, `dir` being its folder
 * under `root` (as `npm ci` installs it).
 */
export function runtimePackages(root) {
  const { packages } = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const found = [];
  for (const [path, entry] of Object.entries(packages)) {
    if (path === '' || entry.dev || entry.devOptional || entry.link) continue;
    found.push({ name: path.slice(path.lastIndexOf(PREFIX) + PREFIX.length), version: entry.version, dir: join(root, path) });
  }
  return found;
}
