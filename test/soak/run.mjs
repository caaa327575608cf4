#!/usr/bin/env node
// `npm run soak [-- --seconds 60 --rate 50000]`: the long soak (test/soak.test.ts) inside the
// private network namespace of test/harness/run-in-netns.mjs, then a table of its figures.
// --rate 0 sends as fast as the kernel takes the datagrams. Figures also go to --report FILE
// (default: bench/results/soak-<time>.json).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '50000' },
    report: { type: 'string' },
  },
});
const report =
  values.report ?? join(ROOT, 'bench', 'results', `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(dirname(report), { recursive: true });

if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
}
const r = spawnSync(
  process.execPath,
  [join(ROOT, 'test', 'harness', 'run-in-netns.mjs'), 'vitest', 'run', 'test/soak.test.ts'],
  {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, MCAST_SOAK_SECONDS: values.seconds, MCAST_SOAK_RATE: values.rate, MCAST_SOAK_REPORT: report },
  },
);

if (existsSync(report)) {
  const f = JSON.parse(readFileSync(report, 'utf8'));
  const rate = f.rate === 0 ? 'full speed' : `${f.rate}/s`;
  console.log(`\nsoak: ${f.sent} datagrams in ${f.seconds.toFixed(1)} s (${rate}, ${f.senderPps}/s achieved), ${f.bigSent} of them 1400 bytes`);
  console.table(
    f.receivers.map((x) => ({
      receiver: x.name,
      received: x.received,
      kernelDrops: x.kernelDrops,
      truncated: x.truncated,
      'received+drops': x.accounted,
      'sent-accounted': f.sent - x.accounted,
      gaps: x.gaps,
      'gaps explained': x.explainedGaps,
      'snmp RcvbufErrors': x.rcvbufErrors,
      'datagrams/batch': x.meanBatch,
    })),
  );
  console.log(`figures: ${report}`);
}
process.exit(r.status ?? 1);
