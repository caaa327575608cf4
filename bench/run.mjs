#!/usr/bin/env node
// The mcast benchmark: mcast's 'batch' and 'message' paths, Node's dgram and a C reference
// (bench/c) on the same work, on the same machine, in the same run. See bench/README.md.
//
//   npm run bench                      # everything (about 26 minutes)
//   npm run bench -- --quick           # fewer repeats, shorter runs (about 4 minutes)
//   npm run bench -- --cases drain,send --repeats 7
//   node bench/run.mjs --help
//
// It runs only inside a private network namespace: started elsewhere, it runs itself again
// through test/harness/run-in-netns.mjs (a fresh namespace with only `lo`), and refuses to run
// when it cannot make one or when the namespace check fails.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { feedCase } from './feed.mjs';
import { Bench, metrics, rows } from './lib/cases.mjs';
import { BENCH_DIR, BUILD_DIR, C_PROGRAMS, MEMORY_RECEIVERS, RECEIVERS, REFERENCE, SENDERS } from './lib/contestants.mjs';
import { killAll } from './lib/proc.mjs';
import { evaluateTargets, markdownTable, targetLines, textTable } from './lib/report.mjs';
import { assertSandboxed, reexecInSandbox } from './lib/sandbox.mjs';
import { barChart } from './lib/svg.mjs';

const SELF = fileURLToPath(import.meta.url);
const ALL_CASES = ['drain', 'drain-gro', 'drain-gro-veth', 'maxload', 'steady', 'latency', 'latency-spin', 'send', 'send-gso', 'memory', 'feed'];

const HELP = `usage: node bench/run.mjs [options]        (npm run bench -- [options]; mcast bench [options])

  --quick               3 repeats, shorter runs, 1M datagrams for memory (about 4 minutes)
  --smoke               a tiny run that only checks that everything works (npm test)
  --cases LIST          some of: ${ALL_CASES.join(',')} (default: all)
  --contestants LIST    receiver/sender ids (default: all): ${[...RECEIVERS, ...SENDERS].map((c) => c.id).join(',')}
  --repeats N           runs per contestant and case; the median is reported (default 5;
                        drain runs 3 times as many: each lasts milliseconds)
  --sizes LIST          payload sizes of drain and send (default 64,512,1400)
  --gso-sizes LIST      payload sizes of send-gso (default 1316,64)
  --gro-sizes LIST      payload sizes of drain-gro (default 1316)
  --load-sizes LIST     payload sizes of max load (default 64,512,1400)
  --seconds S           length of a max-load run (default 2)
  --steady-seconds S    length of a steady run (default 2)
  --rates LIST          rates of the steady case, packets/s (default 50000,100000)
  --latency-seconds S   length of a latency run at 10000 packets/s (default 3)
  --send-seconds S      length of a send run (default 1)
  --memory-packets N    datagrams through each path in the memory case (default 10000000)
  --rcvbuf BYTES        receive buffer asked by every receiver (default 4194304 = rmem_max here,
                        the most that dgram, which cannot use SO_RCVBUFFORCE, can get)
  --gro-rcvbuf BYTES    receive buffer of drain-gro (default 33554432: SO_RCVBUFFORCE, which
                        the sandbox allows; dgram does not take part there)
  --link lo|veth        loopback (default), or a veth pair inside the namespace
  --no-pin              do not pin the sender and the receiver to CPUs 0 and 1
  --out DIR             where latest.json and latest.svg go (default bench/results)
  --help`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      cases: { type: 'string' },
      contestants: { type: 'string' },
      repeats: { type: 'string' },
      sizes: { type: 'string' },
      'gso-sizes': { type: 'string' },
      'gro-sizes': { type: 'string' },
      'load-sizes': { type: 'string' },
      seconds: { type: 'string' },
      'steady-seconds': { type: 'string' },
      rates: { type: 'string' },
      'latency-seconds': { type: 'string' },
      'send-seconds': { type: 'string' },
      'memory-packets': { type: 'string' },
      rcvbuf: { type: 'string' },
      'gro-rcvbuf': { type: 'string' },
      link: { type: 'string', default: 'lo' },
      'no-pin': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  // Per mode; quick and smoke change what they list, the rest is the full run's.
  const full = {
    repeats: 5, sizes: [64, 512, 1400], loadSizes: [64, 512, 1400], gsoSizes: [1316, 64], groSizes: [1316],
    loadSeconds: 2, steadySeconds: 2, rates: [50000, 100000], latencySeconds: 3, sendSeconds: 1,
    memoryPackets: 10_000_000, liveWarmup: 20000, warmupRate: 100000, idleMs: 300,
    // drainWarmupCycles: 12, not 6: the 'message' path's blocks come back only when V8 collects
    // them (every ~3 drains at 1400 B), and with 6 the measured drain often came just before the
    // second collection, on 700-1100 fresh pages; from the 7th drain on the pool was steady.
    sendWarmupSeconds: 0.3, drainCount: null, drainWarmupCycles: 12, drainRepeatFactor: 3, spinRepeatFactor: 3,
  };
  const base = {
    full,
    quick: { ...full, repeats: 3, loadSizes: [64], steadySeconds: 1.5, latencySeconds: 2, memoryPackets: 1_000_000 },
    smoke: {
      ...full, repeats: 1, sizes: [64], loadSizes: [64], gsoSizes: [64], groSizes: [1316], loadSeconds: 0.3,
      steadySeconds: 0.3, rates: [20000], latencySeconds: 0.3, sendSeconds: 0.3, memoryPackets: 20000,
      liveWarmup: 300, warmupRate: 20000, idleMs: 150, sendWarmupSeconds: 0.05, drainCount: 1000,
      drainWarmupCycles: 1, drainRepeatFactor: 1, spinRepeatFactor: 1,
    },
  }[mode];
  const list = (text, what) => {
    const v = text.split(',').map((s) => s.trim()).filter(Boolean);
    if (v.length === 0) usage(`--${what} needs a list`);
    return v;
  };
  const numbers = (text, what, min, maxValue) =>
    list(text, what).map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < min || n > maxValue) usage(`bad value in --${what}: ${s}`);
      return n;
    });
  const seconds = (text, what) => {
    const n = Number(text);
    if (!(n > 0 && n <= 3600)) usage(`bad value for --${what}: ${text}`);
    return n;
  };
  const config = { mode, ...base };
  if (values.repeats !== undefined) config.repeats = numbers(values.repeats, 'repeats', 1, 1000)[0];
  if (values.sizes !== undefined) config.sizes = numbers(values.sizes, 'sizes', 16, 1472);
  if (values['gso-sizes'] !== undefined) config.gsoSizes = numbers(values['gso-sizes'], 'gso-sizes', 16, 1472);
  if (values['gro-sizes'] !== undefined) config.groSizes = numbers(values['gro-sizes'], 'gro-sizes', 16, 1472);
  if (values['load-sizes'] !== undefined) config.loadSizes = numbers(values['load-sizes'], 'load-sizes', 16, 1472);
  if (values.seconds !== undefined) config.loadSeconds = seconds(values.seconds, 'seconds');
  if (values['steady-seconds'] !== undefined) config.steadySeconds = seconds(values['steady-seconds'], 'steady-seconds');
  if (values.rates !== undefined) config.rates = numbers(values.rates, 'rates', 1, 10_000_000);
  if (values['latency-seconds'] !== undefined) config.latencySeconds = seconds(values['latency-seconds'], 'latency-seconds');
  if (values['send-seconds'] !== undefined) config.sendSeconds = seconds(values['send-seconds'], 'send-seconds');
  if (values['memory-packets'] !== undefined) config.memoryPackets = numbers(values['memory-packets'], 'memory-packets', 1000, 1e9)[0];
  config.rcvbuf = values.rcvbuf === undefined ? 4194304 : numbers(values.rcvbuf, 'rcvbuf', 4096, 1 << 30)[0];
  config.groRcvbuf = values['gro-rcvbuf'] === undefined ? 33554432 : numbers(values['gro-rcvbuf'], 'gro-rcvbuf', 4096, 1 << 30)[0];
  config.cases = values.cases === undefined ? ALL_CASES : list(values.cases, 'cases');
  for (const c of config.cases) if (!ALL_CASES.includes(c)) usage(`unknown case: ${c} (cases: ${ALL_CASES.join(', ')})`);
  const ids = [...RECEIVERS, ...SENDERS].map((c) => c.id);
  config.contestants = values.contestants === undefined ? ids : list(values.contestants, 'contestants');
  for (const c of config.contestants) if (!ids.includes(c)) usage(`unknown contestant: ${c} (contestants: ${ids.join(', ')})`);
  if (values.link !== 'lo' && values.link !== 'veth') usage('--link must be lo or veth');
  config.link = values.link;
  config.pin = !values['no-pin'];
  config.out = resolve(values.out ?? join(BENCH_DIR, 'results'));
  config.slotSize = 2048;
  config.latencyRate = 10000;
  config.drainFill = 0.85;
  // Live cases: a run during which other processes took more than this share of the receiver's
  // CPU is repeated (up to twice).
  config.maxForeignShare = 0.05;
  config.disturbedRetries = mode === 'smoke' ? 0 : 2;
  config.memoryTimeoutMs = Math.max(60_000, (config.memoryPackets / 50_000) * 1000 + 60_000);
  return config;
}

function usage(message) {
  process.stderr.write(`bench: ${message}\n${HELP}\n`);
  process.exit(2);
}

const log = (line) => process.stderr.write(`${line}\n`);

// ---- setup ---------------------------------------------------------------------------------

/** Compiles bench/c/*.c into bench/.build/ with the system C compiler (when out of date). */
function buildC() {
  mkdirSync(BUILD_DIR, { recursive: true });
  const cc = process.env.CC || 'cc';
  for (const [name, out] of [['mc_recv', C_PROGRAMS.recv], ['mc_send', C_PROGRAMS.send], ['clock_offset', C_PROGRAMS.clockOffset]]) {
    const src = join(BENCH_DIR, 'c', `${name}.c`);
    if (existsSync(out) && statSync(out).mtimeMs > statSync(src).mtimeMs) continue;
    const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-o', out, src], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      throw new Error(`cannot compile ${src} with ${cc}: ${r.error?.message ?? r.stderr}`);
    }
  }
  const v = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  return (v.stdout ?? '').split('\n')[0] ?? cc;
}

function canPin() {
  if (availableParallelism() < 2) return null;
  const r = spawnSync('taskset', ['-c', '1', 'true']);
  return r.status === 0 ? { sender: 0, receiver: 1 } : null;
}

/**
 * The link the datagrams take: `lo`, or a veth pair made here (names start with mc: the
 * sandbox check knows them). `veth-gro` is the drain-gro-veth case's own pair, receiving like a
 * NIC that coalesces (interrupt moderation): GRO on at the receiving end (veth runs GRO only
 * then, in a NAPI of its own), TSO off at the sending end (offload-facts.md), and GRO held
 * across polls for up to 50 µs (gro_flush_timeout 50000 ns with napi_defer_hard_irqs 1). Without
 * the hold, each datagram is polled on its own in the sender's softirq and merges with nothing
 * (measured: 0 of 2000 merged; with it all 2000 in 42 receives). The hold delays a lone datagram
 * by up to the timeout: right for a throughput drain, never a default (see README, GRO).
 * An XDP program that passes everything (bench/c/xdp_pass.c) makes the veth build its skbs on
 * pages, as a NIC driver does, so that GRO merges into page fragments as on a NIC; without it
 * GRO chains one skb per datagram (see xdp_pass.c). Where clang or loading XDP fails, the case
 * runs without it and says so (`xdp: false` in the link, and a line on stderr).
 */
function setupLink(kind) {
  if (kind === 'lo') return { kind: 'lo', sendAddr: '127.0.0.1', recvAddr: '127.0.0.1', recvIfindex: 1, cleanup: () => {} };
  const gro = kind === 'veth-gro';
  const [tx, rx, net] = gro ? ['mcg0', 'mcg1', '10.201.0'] : ['mcb0', 'mcb1', '10.200.0'];
  const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const sysctl = (key, value) => writeFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, `${value}\n`);
  ip('link', 'add', tx, 'type', 'veth', 'peer', 'name', rx);
  ip('addr', 'add', `${net}.1/24`, 'dev', tx);
  ip('addr', 'add', `${net}.2/24`, 'dev', rx);
  // The receiving end sees a source address of its own host: accept it.
  sysctl('net.ipv4.conf.all.rp_filter', 0);
  sysctl(`net.ipv4.conf.${rx}.rp_filter`, 0);
  sysctl(`net.ipv4.conf.${rx}.accept_local`, 1);
  let xdp = false;
  if (gro) {
    execFileSync('ethtool', ['-K', rx, 'gro', 'on'], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('ethtool', ['-K', tx, 'tso', 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
    xdp = attachXdpPass(rx);
  }
  ip('link', 'set', tx, 'up');
  ip('link', 'set', rx, 'up');
  if (gro) {
    writeFileSync(`/sys/class/net/${rx}/gro_flush_timeout`, '50000\n');
    writeFileSync(`/sys/class/net/${rx}/napi_defer_hard_irqs`, '1\n');
  }
  const ifindex = Number(readFileSync(`/sys/class/net/${rx}/ifindex`, 'utf8'));
  return {
    kind,
    ...(gro ? { xdp } : {}),
    sendAddr: `${net}.1`,
    recvAddr: `${net}.2`,
    recvIfindex: ifindex,
    cleanup: () => {
      try {
        ip('link', 'del', tx);
      } catch {
        // the namespace goes away anyway
      }
    },
  };
}

/** Builds bench/c/xdp_pass.c (clang -target bpf) and attaches it to `dev`; false when it cannot. */
function attachXdpPass(dev) {
  const src = join(BENCH_DIR, 'c', 'xdp_pass.c');
  const obj = join(BUILD_DIR, 'xdp_pass.o');
  try {
    if (!existsSync(obj) || statSync(obj).mtimeMs <= statSync(src).mtimeMs) {
      execFileSync(process.env.CLANG || 'clang', ['-O2', '-Wall', '-target', 'bpf', '-c', src, '-o', obj], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
    execFileSync('ip', ['link', 'set', 'dev', dev, 'xdp', 'obj', obj, 'sec', 'xdp'], { stdio: ['ignore', 'ignore', 'pipe'] });
    return true;
  } catch (error) {
    log(`bench: ${dev} without XDP (${String(error.stderr ?? error.message).trim().split('\n')[0]}): GRO chains one skb per datagram there, and gains less than on a NIC`);
    return false;
  }
}

function machine(ccVersion, link, pinned) {
  const cpu = cpus();
  let rmemMax = null;
  try {
    rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  } catch {
    rmemMax = null;
  }
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cpus: availableParallelism(),
    kernel: release(),
    node: process.version,
    cc: ccVersion,
    rmem_max: rmemMax,
    link: link.kind,
    pinned: pinned ? `sender CPU ${pinned.sender}, receiver CPU ${pinned.receiver}` : 'no',
  };
}

// ---- the cases -----------------------------------------------------------------------------

/**
 * The cases, one row each: which contestants take part (`who` plus the ids in `only`, or those
 * whose own `cases` name it), the variants (sizes, rates) to run, an optional `prepare` that
 * fills in a variant's parameters (drain: how many datagrams the buffer holds), and one run.
 * A contestant with `cases` takes part only in those; a case with `only` takes only those.
 */
const CASES = [
  {
    name: 'drain',
    who: 'receivers',
    reference: REFERENCE.receiver,
    variants: (config) => config.sizes.map((size) => ({ label: `${size} B`, size })),
    prepare: (bench, config, v) => drainParams(bench, config, v, 'drain'),
    repeats: (config) => config.repeats * config.drainRepeatFactor,
    run: (bench, c, p) => bench.drainRun(c, p),
  },
  {
    // A GSO sender on lo: lo passes each UDP_SEGMENT message intact, so a UDP_GRO socket
    // receives it merged and a plain one gets it split by the kernel (as from any sender).
    name: 'drain-gro',
    who: 'receivers',
    only: ['c-recvmmsg', 'c-gro', 'mcast-batch-gro'],
    reference: REFERENCE.receiver,
    variants: (config) => config.groSizes.map((size) => ({ label: `${size} B`, size, senderArgs: ['--gso'] })),
    prepare: (bench, config, v) => drainParams(bench, config, v, 'drain-gro', groDrain(config)),
    repeats: (config) => config.repeats * config.drainRepeatFactor,
    run: (bench, c, p) => bench.drainRun(c, p),
  },
  {
    // A veth pair that coalesces (setupLink('veth-gro')), a plain sendmmsg sender: mcast with
    // and without gro, at constant sizes and at varying ones (mc_send --vary: size/2 to size).
    name: 'drain-gro-veth',
    who: 'receivers',
    only: ['c-recvmmsg', 'c-gro', 'mcast-batch', 'mcast-batch-gro'],
    reference: REFERENCE.receiver,
    link: 'veth-gro',
    variants: (config) => config.groSizes.flatMap((size) => [
      { label: `${size} B`, size },
      { label: `${size} B varying`, size, senderArgs: ['--vary'] },
    ]),
    // drain-gro's buffer (--gro-rcvbuf): with the default one a drain of 3094 datagrams lasted
    // 1-2 ms, and a process's fixed cost of starting a drain weighed on the GRO receivers most.
    prepare: (bench, config, v) => drainParams(bench, config, v, 'drain-gro-veth', groDrain(config)),
    repeats: (config) => config.repeats * config.drainRepeatFactor,
    run: (bench, c, p) => bench.drainRun(c, p),
  },
  {
    name: 'maxload',
    who: 'receivers',
    reference: REFERENCE.receiver,
    variants: (config) => config.loadSizes.map((size) => ({ label: `${size} B`, size, seconds: config.loadSeconds })),
    describe: (p) => `max load ${p.size} B: C sender flat out for ${p.seconds} s`,
    run: (bench, c, p) => bench.liveRun(c, p),
  },
  {
    name: 'steady',
    who: 'receivers',
    reference: REFERENCE.receiver,
    variants: (config) => config.rates.map((rate) => ({ label: `${rate / 1000}k/s`, size: 64, rate, seconds: config.steadySeconds })),
    describe: (p) => `steady ${p.rate} pps: C sender paced for ${p.seconds} s`,
    run: (bench, c, p) => bench.liveRun(c, p),
  },
  {
    name: 'latency',
    who: 'receivers',
    reference: REFERENCE.receiver,
    variants: (config) => [{ label: `${config.latencyRate / 1000}k/s`, size: 64, rate: config.latencyRate, seconds: config.latencySeconds }],
    describe: (p) => `latency ${p.rate} pps: C sender (sendto) paced for ${p.seconds} s`,
    run: (bench, c, p) => bench.liveRun(c, { ...p, batch: 1, latency: true }),
  },
  {
    // A thread that owns its socket and spins (mcast: a worker in receiveSync(..., 'spin')) vs
    // a C spin loop vs mcast's event-loop path, at the latency case's rate.
    name: 'latency-spin',
    who: 'receivers',
    only: ['c-spin', 'mcast-spin', 'mcast-batch'],
    reference: 'c-spin',
    variants: (config) => [{ label: `${config.latencyRate / 1000}k/s`, size: 64, rate: config.latencyRate, seconds: config.latencySeconds }],
    // A p99 of 30 000 samples rests on its 300 slowest, which the scheduler tick's stalls set
    // (bench/README.md): one run of each moved the ratio from 0.85x to 2.38x on a quiet machine.
    // More rounds, and the target takes the median of the rounds' own ratios (report.mjs).
    repeats: (config) => config.repeats * config.spinRepeatFactor,
    describe: (p) => `latency-spin ${p.rate} pps: C sender (sendto) paced for ${p.seconds} s, spinning receivers`,
    run: (bench, c, p) => bench.liveRun(c, { ...p, batch: 1, latency: true }),
  },
  {
    name: 'send',
    who: 'senders',
    reference: REFERENCE.sender,
    variants: (config) => config.sizes.map((size) => ({ label: `${size} B`, size, seconds: config.sendSeconds })),
    describe: (p) => `send ${p.size} B: each sender flat out for ${p.seconds} s (no receiver)`,
    run: (bench, c, p) => bench.sendRun(c, p),
  },
  {
    name: 'send-gso',
    who: 'senders',
    only: ['c-gso', 'c-sendmmsg', 'mcast-sendBatch', 'mcast-sendBatch-block', 'dgram-send', 'c-gso-1024', 'mcast-sendBatch-block-1024'],
    reference: REFERENCE.sender,
    variants: (config) => config.gsoSizes.map((size) => ({ label: `${size} B`, size, seconds: config.sendSeconds })),
    describe: (p) => `send-gso ${p.size} B: each sender flat out for ${p.seconds} s (no receiver)`,
    run: (bench, c, p) => bench.sendRun(c, p),
  },
  {
    name: 'memory',
    who: 'receivers',
    only: MEMORY_RECEIVERS,
    reference: null,
    variants: (config) => [{
      label: `${config.memoryPackets >= 1e6 ? `${config.memoryPackets / 1e6}M` : config.memoryPackets} pkts`,
      size: 64,
      packets: config.memoryPackets,
    }],
    describe: (p) => `memory: ${p.packets} datagrams through each path (one run each)`,
    repeats: () => 1,
    run: (bench, c, p) => bench.memoryRun(c, p),
  },
  feedCase, // A/B line arbitration (#12): bench/feed.mjs
];

/**
 * The GRO drains' buffer and warm-up. A merged receive holds up to 64 datagrams, so a drain of
 * the default buffer (about 3000 datagrams of 1316 B) is one or two recvmmsg calls and two JS
 * calls, over in about a millisecond: within it, the fixed cost of a Node process waking from
 * its wait (0.3-0.7 ms of CPU measured with 64 datagrams, the same with and without gro) weighs
 * as much as the receive path. A larger buffer (the same for every contestant) measures the
 * receive path. (Every drain case gives Node receivers `drainWarmupCycles` cycles: with 2, V8
 * had only 4 calls to optimise, and the measured drain met pages never touched before.)
 */
function groDrain(config) {
  return { rcvbuf: config.groRcvbuf };
}

/**
 * A drain variant's parameters: how many datagrams to queue (85% of what the buffer holds).
 * `own`: a case's own receive buffer (groDrain), else --rcvbuf.
 */
async function drainParams(bench, config, v, name, own = {}) {
  const { label, ...params } = v;
  const rcvbuf = own.rcvbuf ?? config.rcvbuf;
  let count = config.drainCount;
  let capacity = null;
  if (count === null) {
    capacity = await bench.capacity(v.size, rcvbuf);
    count = Math.floor(capacity.capacity * config.drainFill);
    log(`${name} ${label}: the receive buffer (${capacity.rcvbuf} B as the kernel reports it) holds ${capacity.capacity} datagrams; filling ${count}`);
  } else log(`${name} ${label}: filling ${count}`);
  return { ...params, ...own, count, capacity: capacity?.capacity ?? null, rcvbuf_requested: rcvbuf };
}

async function runCases(config, bench) {
  const want = (c) => config.contestants.includes(c.id);
  const pools = { receivers: RECEIVERS.filter(want), senders: SENDERS.filter(want) };
  const results = [];
  for (const k of CASES) {
    if (!config.cases.includes(k.name)) continue;
    const pool = pools[k.who];
    const contestants = k.only
      ? pool.filter((c) => k.only.includes(c.id))
      : pool.filter((c) => !c.cases || c.cases.includes(k.name));
    if (contestants.length === 0) continue;
    // A case with its own `link` runs on it (made for the case, removed after it).
    const ownLink = k.link ? setupLink(k.link) : null;
    if (ownLink?.xdp !== undefined) log(`${k.name}: ${ownLink.kind} link, XDP pass program ${ownLink.xdp ? 'attached' : 'not attached'}`);
    const mainLink = bench.env.link;
    if (ownLink) {
      bench.env.check();
      bench.env.link = ownLink;
    }
    try {
      await runVariants(k, contestants, config, bench, results);
    } finally {
      bench.env.link = mainLink;
      ownLink?.cleanup();
    }
  }
  return results;
}

/** Runs every variant of case `k` with `contestants`; appends a section per variant to `results`. */
async function runVariants(k, contestants, config, bench, results) {
  for (const v of k.variants(config)) {
    const { label, ...plain } = v;
    const params = k.prepare ? await k.prepare(bench, config, v) : plain;
    if (k.describe) log(k.describe(params));
    const repeats = k.repeats ? k.repeats(config) : config.repeats;
    const runs = await bench.repeat(`${k.name} ${label}`, contestants, repeats, (c) => k.run(bench, c, params));
    const { senderArgs: _unused, ...shown } = params;
    results.push({
      case: k.name,
      variant: label,
      ...(bench.env.link.xdp === undefined ? {} : { xdp: bench.env.link.xdp }),
      params: shown,
      reference: k.reference,
      ...(k.view ? { view: k.view } : {}),
      rows: rows(contestants, runs, { ...(k.metrics ?? metrics[k.name]), reference: k.reference }),
    });
  }
}

function chart(results, info) {
  const panel = (name, title) => ({
    title,
    sections: results.filter((s) => s.case === name).map((s) => ({ variant: s.variant, rows: s.rows })),
  });
  const panels = [
    panel('drain', 'Drain: receive path alone (queue pre-filled, same receive buffer; per second of receiver CPU time)'),
    panel('send', 'Send: flat out, no receiver (per second of sender CPU time)'),
  ].filter((p) => p.sections.length > 0);
  return barChart({
    title: 'mcast benchmark: packets per second (higher is better)',
    subtitle: `${info.date} · ${info.machine.cpu}, ${info.machine.cpus} CPUs · Linux ${info.machine.kernel} · Node ${info.machine.node} · ${info.machine.link} in a private network namespace`,
    panels,
  });
}

// ---- main ----------------------------------------------------------------------------------

async function main() {
  const argv = process.argv.slice(2);
  const config = parseOptions(argv);
  const outer = await reexecInSandbox(SELF, argv);
  if (outer !== null) process.exit(outer);
  try {
    assertSandboxed();
  } catch (error) {
    log(`bench: ${error.message}`);
    process.exit(1);
  }

  const started = Date.now();
  const ccVersion = buildC();
  if (!existsSync(join(BENCH_DIR, '..', 'dist', 'index.js'))) {
    log('bench: dist/index.js is missing: run `npm run build:ts` (npm run bench does) first');
    process.exit(1);
  }
  const link = setupLink(config.link);
  // The veth pair (named mc*) must pass the same check.
  assertSandboxed();
  const pinned = config.pin ? canPin() : null;
  const tmp = mkdtempSync(join(tmpdir(), 'mcast-bench-'));
  const bench = new Bench(config, { tmp, cpus: pinned, link, log, check: () => assertSandboxed() });
  const stop = (signal) => () => {
    killAll();
    link.cleanup();
    rmSync(tmp, { recursive: true, force: true });
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  };
  process.on('SIGINT', stop('SIGINT'));
  process.on('SIGTERM', stop('SIGTERM'));
  log(`bench: ${config.mode} run, ${config.repeats} repeat(s), cases ${config.cases.join(',')}, link ${link.kind}, ${pinned ? 'pinned' : 'not pinned'}`);

  let results;
  try {
    results = await runCases(config, bench);
  } finally {
    killAll();
    link.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  }

  const info = {
    date: new Date(started).toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: machine(ccVersion, link, pinned),
  };
  const targets = evaluateTargets(results);
  const table = textTable(results);
  const doc = {
    schema: 1,
    ...info,
    duration_seconds: Math.round((Date.now() - started) / 1000),
    config: { ...config, out: undefined },
    notes: [
      `Every receiver asks for a ${config.rcvbuf}-byte receive buffer: net.core.rmem_max here, the most dgram can get (it cannot use SO_RCVBUFFORCE); the kernel reports twice that. drain-gro, where dgram does not take part, asks for ${config.groRcvbuf} bytes: a drain of the default buffer lasted about a millisecond, as long as a Node process's fixed cost of waking up.`,
      'Ratios ("vs C") compare medians with C recvmmsg(64) for the receive cases and with C sendmmsg(64) for send.',
      'drain: datagrams per second of the receiving process\'s CPU time (user + system, all threads) while it drains the queue; the wall-clock rate is in the notes (on a shared machine it also counts other processes).',
      'Node receivers get a warm-up before each measurement (drain: 2 identical fill-and-drain cycles; live cases: 20000 datagrams), so that V8 has optimised the code; the C programs need none.',
      'C recvmmsg(64)+meta is a yardstick, not a contestant: the C reference asking the kernel for the metadata mcast delivers with every datagram (source address, IP_PKTINFO). C recvmmsg(64)+source asks for the source address alone.',
      `drain runs ${config.drainRepeatFactor} times as often as the other cases: a drain lasts milliseconds, and on a shared VM single drains vary by ±15%.`,
      'Senders of the send case run without any receiver joined.',
    ],
    results,
    targets,
    errors: bench.errors,
    table,
    table_markdown: markdownTable(results),
  };
  mkdirSync(config.out, { recursive: true });
  const jsonPath = join(config.out, 'latest.json');
  const svgPath = join(config.out, 'latest.svg');
  writeFileSync(jsonPath, `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(svgPath, chart(results, info));

  const out = [];
  out.push(`mcast benchmark — ${info.date} — ${info.machine.cpu} (${info.machine.cpus} CPUs), Linux ${info.machine.kernel}, Node ${info.machine.node}, ${info.machine.link} in a private network namespace, ${info.machine.pinned === 'no' ? 'not pinned' : `pinned: ${info.machine.pinned}`}`);
  out.push(`median of ${config.repeats} run(s) per contestant (drain: ${config.repeats * config.drainRepeatFactor}; latency-spin: ${config.repeats * config.spinRepeatFactor}; memory: 1 run); "vs C": ratio of medians to C recvmmsg(64) / C sendmmsg(64); receive buffer ${config.rcvbuf} B asked by every receiver (drain-gro: ${config.groRcvbuf} B)`);
  out.push('drain: datagrams per second of receiver CPU time; max load: share of the sent datagrams received; steady: receiver CPU time per datagram; latency: send to callback, one way; send: datagrams per second of sender CPU time (wall clock in the notes)');
  out.push('');
  out.push(table);
  out.push('');
  out.push('targets:');
  out.push(...targetLines(targets));
  if (bench.errors.length) {
    out.push('');
    out.push(`errors (${bench.errors.length}):`);
    out.push(...bench.errors.map((e) => `  ${e}`));
  }
  out.push('');
  out.push(`JSON: ${jsonPath}`);
  out.push(`SVG:  ${svgPath}`);
  out.push(`took ${doc.duration_seconds} s`);
  process.stdout.write(`${out.join('\n')}\n`);
  process.exitCode = bench.errors.length ? 1 : 0;
}

main().catch((error) => {
  killAll();
  log(`bench: ${error.stack ?? error}`);
  process.exit(1);
});
