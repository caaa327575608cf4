#!/usr/bin/env node
// `npm run fanout`: one sender, N receiver hosts on a snooping switch, a fixed rate; every host
// that joined must get every datagram and no other host any (test/fanout/fanout.fanout.ts). Runs
// inside the run-in-netns sandbox like the tests. Settings by environment:
//   FANOUT_N (receivers, default 32), FANOUT_JOINED (how many of them join, default 3/4 of N),
//   FANOUT_RATE (datagrams per second, default 500), FANOUT_SECONDS (default 10),
//   FANOUT_REPORT (a JSON file for the totals, default none).
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const r = spawnSync(
  process.execPath,
  [join(root, 'test/harness/run-in-netns.mjs'), 'vitest', 'run', '--config', 'test/fanout/vitest.config.ts', ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
