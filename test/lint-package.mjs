#!/usr/bin/env node
// `npm run lint:package`: the checks the ecosystem runs on a package, on the tarball users get.
// Packs the project into a temporary folder (npm pack runs `prepack` and `prepare`: dist/ is
// rebuilt from lib/), then runs publint (package.json fields, exports and files) and
// @arethetypeswrong/cli (whether the types resolve and match the JavaScript in every module
// resolution mode: node10, node16 from CommonJS and from ESM, bundler). Both read only the
// tarball: no network (attw's DefinitelyTyped lookup is turned off). Exits non-zero on any finding.
// Neither tool runs compiled consumers: test/package.test.ts does (TypeScript and Babel interop).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const BIN = join(ROOT, 'node_modules', '.bin');
const work = mkdtempSync(join(tmpdir(), 'mcast-lint-package-'));
try {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' }));
  const tarball = join(work, packed[0].filename);
  console.log(`${packed[0].filename}: ${packed[0].size} bytes packed, ${packed[0].unpackedSize} unpacked, ${packed[0].files.length} files`);
  // --strict: warnings fail too (suggestions are printed, and fail nothing).
  execFileSync(join(BIN, 'publint'), ['run', '--strict', tarball], { cwd: work, stdio: 'inherit' });
  execFileSync(join(BIN, 'attw'), ['--no-definitely-typed', '--no-color', '--format', 'table', tarball], { cwd: work, stdio: 'inherit' });
  console.log('lint:package: publint and attw found nothing');
} finally {
  rmSync(work, { recursive: true, force: true });
}
