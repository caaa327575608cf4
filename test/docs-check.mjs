#!/usr/bin/env node
// `npm run docs:check`: fails when the API reference in docs/ is stale, or when a public symbol
// has no doc comment. It runs TypeDoc (typedoc.json: validation.notDocumented, notExported and
// invalidLink, treatWarningsAsErrors) into a temporary folder and compares that, file by file,
// with docs/. The fix for a stale reference is one command: `npm run docs`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DOCS = join(ROOT, 'docs');

/** Every file below dir, relative to it. */
function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

const out = mkdtempSync(join(tmpdir(), 'mcast-docs-'));
try {
  try {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'typedoc'), ['--out', out, '--logLevel', 'Warn'], { cwd: ROOT, stdio: 'inherit' });
  } catch {
    console.error('docs:check: TypeDoc found problems (above): every public symbol needs a doc comment');
    process.exit(1);
  }
  const fresh = files(out);
  const committed = files(DOCS);
  const stale = [
    ...fresh.filter((f) => !committed.includes(f)).map((f) => `missing: docs/${f}`),
    ...committed.filter((f) => !fresh.includes(f)).map((f) => `no longer generated: docs/${f}`),
    ...fresh.filter((f) => committed.includes(f) && !readFileSync(join(out, f)).equals(readFileSync(join(DOCS, f)))).map((f) => `changed: docs/${f}`),
  ];
  if (stale.length > 0) {
    console.error(`docs:check: docs/ is stale (${stale.length} files); run \`npm run docs\` and commit docs/:\n  ${stale.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`docs:check: docs/ is up to date (${fresh.length} files), every public symbol documented`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
