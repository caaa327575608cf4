#!/usr/bin/env node
// `npm run fuzz [-- --seconds 60]`: builds the libFuzzer targets (CMakeLists.txt, ASan+UBSan,
// core sources read from binding.gyp) and runs each for --seconds on a scratch copy of its seed
// corpus (native/fuzz/corpus/NAME; inputs that found bugs stay there as regression tests).
//   fuzz_cmsg     DecodeDatagram on arbitrary name/control buffers of a received datagram
//   fuzz_address  ParseAddress/FormatAddress round trip of address text
//   fuzz_gro      PlanGroSplit: splitting a UDP_GRO receive into its datagrams
//   fuzz_moldudp64  the MoldUDP64 parser, and the feed arbiter fed with parsed packets
//   fuzz_pcap_frames  BuildPcapFrames: the capture writer's records from arbitrary jobs
// A crash leaves its reproducer in the scratch directory and fails the run; rerun it with
// `build-asan/fuzz_NAME FILE`.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cmakeConfigure } from '../tests/cmake-configure.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    build: { type: 'string', default: join(ROOT, 'build-asan') },
    target: { type: 'string', multiple: true },
  },
});
const targets = values.target ?? ['cmsg', 'address', 'gro', 'moldudp64', 'pcap_frames'];
const CXX = process.env.CXX ?? 'clang++';

function must(cmd, args) {
  process.stdout.write(`$ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const configure = cmakeConfigure(values.build, CXX, ['MCAST_FUZZ=ON']);
must(configure.file, configure.args);
must('cmake', ['--build', values.build, '-j2', '--target', ...targets.map((t) => `fuzz_${t}`)]);

let failed = false;
for (const name of targets) {
  const work = mkdtempSync(join(tmpdir(), `mcast-fuzz-${name}-`));
  const corpus = join(work, 'corpus');
  mkdirSync(corpus);
  cpSync(join(ROOT, 'native', 'fuzz', 'corpus', name), corpus, { recursive: true });
  const args = [
    `-max_total_time=${values.seconds}`,
    '-max_len=4096',
    '-print_final_stats=1',
    `-artifact_prefix=${work}/`,
    corpus,
  ];
  process.stdout.write(`$ fuzz_${name} ${args.join(' ')}\n`);
  const r = spawnSync(join(values.build, `fuzz_${name}`), args, { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } });
  const out = `${r.stdout}${r.stderr}`;
  const stat = (key) => /stat::(\S+):\s+(\d+)/g.exec(out.split('\n').find((l) => l.includes(`stat::${key}:`)) ?? '')?.[2] ?? '?';
  const cov = /cov: (\d+)/.exec(out.split('\n').reverse().find((l) => l.includes('cov:')) ?? '')?.[1] ?? '?';
  const crashes = readdirSync(work).filter((f) => /^(crash|leak|timeout|oom)-/.test(f));
  if (r.status !== 0 || crashes.length > 0) {
    failed = true;
    process.stdout.write(out.split('\n').filter((l) => /ERROR|SUMMARY|#\d+ 0x|Test unit/.test(l)).join('\n'));
    process.stdout.write(`\nfuzz_${name}: FAILED, reproducer(s) in ${work}: ${crashes.join(', ')}\n`);
  } else {
    process.stdout.write(
      `fuzz_${name}: ${stat('number_of_executed_units')} inputs in ${values.seconds} s, coverage ${cov} edges, corpus ${readdirSync(corpus).length} files, no finding\n`,
    );
  }
}
process.exit(failed ? 1 : 0);
