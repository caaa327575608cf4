#!/usr/bin/env node
// The record/replay benchmark (npm run bench:record). Three measurements, on `lo` inside a private
// network namespace made for the run:
//
//   1. Recording at the receiver's full rate: a socket's queue is filled with N datagrams while
//      its event loop is busy, then drained. Datagrams per second of the 'batch' path alone (the
//      listener reads each datagram's size) against the same path feeding CaptureWriter.writeBatch
//      into a pcapng and a pcap file on tmpfs (/dev/shm); a recording cycle ends when its
//      datagrams are in the file (the queued writes done). Each variant runs in its own process,
//      warm-up cycles first, the median of the measured cycles taken; the three variants run in
//      interleaved rounds and a cost is the median of the per-round ratios (the machine's load
//      drifts between runs). Target: recording costs at most 25% of the receive rate. Each row
//      also prints the CPU per datagram of the receiving thread and of the other threads (the
//      file writes, on libuv's pool), which another job's load does not move.
//   2. Replay at top speed (`mcast replay --top-speed`: the reader's batches into sendBatch,
//      UDP_SEGMENT runs) against `mcast send --interval 0` (one payload repeated, bursts of 64 in
//      one sendBatch), same count and size, datagrams per second (reading the file included).
//   3. Replay drift: a 10 s file at 1000 datagrams/s replayed and recorded again (kernel
//      timestamps); the end time must drift by less than 1 ms. The replay's own timing report
//      (p50/p99/max lateness) is printed beside it.
//
//   npm run bench:record                 # everything (about 2 minutes)
//   npm run bench:record -- --quick      # fewer cycles, a 3 s drift file
//   node bench/record.mjs --help
//
// It runs only inside a private network namespace (the same rule and check as bench/run.mjs).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { killAll } from './lib/proc.mjs';
import { assertSandboxed, reexecInSandbox } from './lib/sandbox.mjs';
import { median } from './lib/stats.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(SELF, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const TARGET_COST = 0.25;
const DRIFT_TARGET_NS = 1e6;

const HELP = `usage: node bench/record.mjs [options]        (npm run bench:record -- [options])

  --quick            3 measured drain cycles, 50k datagrams for replay, a 3 s drift file
  --smoke            a tiny run that only checks that everything works (npm test)
  --sizes LIST       payload sizes of the recording case (default 64,1400)
  --count N          datagrams per drain cycle (default 20000)
  --rounds N         interleaved rounds of the three recording variants (default 3)
  --cpus LIST        run the recording variants on these CPUs only (taskset -c LIST): --cpus 0
                     puts the receiving thread and the writer's pool thread on one core
  --huge-tmpfs       the recording variants write into a tmpfs mounted for the run (in the private
                     mount namespace of run-in-netns) with huge=within_size, instead of /dev/shm:
                     what the file write costs when the kernel does not allocate its pages 4 KiB
                     at a time
  --skip LIST        some of: record,replay,drift
  --json FILE        also write the figures as JSON to FILE
  --check            exit 1 when the drift target (end time off by < 1 ms) is missed
`;

// ---- child: one drain variant ------------------------------------------------------------

async function child(mode, size, count, cycles, warm, dir) {
  const mcast = await import(join(ROOT, 'dist', 'index.js'));
  const { createSocket, CaptureWriter } = mcast.default ?? mcast;
  const group = '239.77.0.1';
  const rx = createSocket({ timestamps: true, receiveTTL: true, recvBufferSize: 64 << 20, batchSize: 64, maxMessageSize: Math.max(2048, size) });
  rx.join(group, { interface: 'lo' });
  const port = rx.address().port;
  const tx = createSocket({ interface: 'lo', ttl: 0, sendBufferSize: 64 << 20 });
  const payload = Buffer.alloc(size, 0x61);
  const list = Array.from({ length: 64 }, () => payload);
  const file = join(dir, `drain-${process.pid}.${mode === 'pcap' ? 'pcap' : 'pcapng'}`);
  const writer = mode === 'batch' ? null : CaptureWriter.open(file, { interfaceName: () => 'lo' });
  let received = 0;
  let bytes = 0;
  let target = 0;
  let done = () => {};
  if (writer === null) {
    rx.on('batch', (b) => {
      for (let i = 0; i < b.count; i++) bytes += b.size(i);
      received += b.count;
      if (received >= target) done();
    });
  } else {
    rx.on('batch', (b) => {
      writer.writeBatch(b, port);
      received += b.count;
      if (received >= target) done();
    });
  }
  const rates = [];
  const receiveRates = [];
  let mainNs = 0;
  let otherNs = 0;
  for (let c = 0; c < warm + cycles; c++) {
    received = 0;
    target = count;
    for (let sent = 0; sent < count; ) sent += tx.sendBatch(list.slice(0, Math.min(64, count - sent)), group, port);
    const finished = new Promise((r) => (done = r));
    const cpu0 = threadCpuNs();
    const t0 = process.hrtime.bigint();
    await finished;
    const readAt = process.hrtime.bigint();
    // A cycle ends when its datagrams are in the file: the last block flushed and the queued
    // writes done. (Ending it when the loop has read the last datagram left up to queueBytes of
    // writes, a quarter of a 20k cycle at 1400 B, to the next cycle's fill, uncounted.)
    if (writer !== null) {
      writer.flush();
      await writer.whenWritten();
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu1 = threadCpuNs();
    if (c >= warm) {
      rates.push(count / seconds);
      receiveRates.push(count / (Number(readAt - t0) / 1e9));
      mainNs += cpu1.main - cpu0.main;
      otherNs += cpu1.other - cpu0.other;
    }
  }
  const drops = rx.stats().kernelDrops;
  const totals = writer === null ? undefined : { ...writer.totals };
  await writer?.close({ kernelDrops: drops });
  rx.close();
  tx.close();
  rmSync(file, { force: true });
  const per = (ns) => Math.round(ns / (cycles * count));
  process.stdout.write(`${JSON.stringify({ mode, size, pps: median(rates), rates, receivePps: median(receiveRates), drops, bytes, syncWrites: totals?.syncWrites, peakQueuedBytes: totals?.peakQueuedBytes, mainNs: per(mainNs), otherNs: per(otherNs) })}\n`);
}

// CPU time (ns) of this process's threads so far, from /proc/self/task/*/schedstat: the receiving
// (main) thread, and the others together (the writer's libuv pool threads, V8's helpers). Unlike
// the rates, these do not depend on who else wanted the two cores.
function threadCpuNs() {
  let main = 0;
  let other = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let ns = 0;
    try {
      ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      continue; // a thread that ended
    }
    if (Number(tid) === process.pid) main += ns;
    else other += ns;
  }
  return { main, other };
}

// ---- parent ------------------------------------------------------------------------------

function run(argv, { timeoutMs = 120_000 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const c = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${argv.join(' ')} exited ${code}: ${err.trim()}`));
      else resolvePromise({ stdout: out, stderr: err });
    });
  });
}

// The machine is shared and its load drifts: the three variants run in interleaved rounds, and
// a cost is the median of the per-round ratios (each against the 'batch' run of its own round).
async function recordCase(o, dir) {
  const modes = ['batch', 'pcapng', 'pcap'];
  const rows = [];
  for (const size of o.sizes) {
    const rounds = [];
    for (let r = 0; r < o.rounds; r++) {
      const round = {};
      for (const mode of modes) {
        const argv = [process.execPath, SELF, '--child', mode, '--size', String(size), '--count', String(o.count), '--cycles', String(o.cycles), '--dir', dir];
        const { stdout } = await run(o.cpus === undefined ? argv : ['taskset', '-c', o.cpus, ...argv]);
        round[mode] = JSON.parse(stdout.trim().split('\n').at(-1));
      }
      rounds.push(round);
    }
    const row = { size, rounds: rounds.length };
    for (const mode of modes) {
      const runs = rounds.map((r) => r[mode]);
      row[mode] = {
        pps: median(runs.map((x) => x.pps)),
        runs: runs.map((x) => x.pps),
        drops: runs.reduce((a, x) => a + x.drops, 0),
        mainNs: median(runs.map((x) => x.mainNs)),
        otherNs: median(runs.map((x) => x.otherNs)),
      };
      if (mode !== 'batch') {
        row[mode].cost = median(rounds.map((r) => 1 - r[mode].pps / r.batch.pps));
        row[mode].receivePps = median(runs.map((x) => x.receivePps));
        row[mode].receiveCost = median(rounds.map((r) => 1 - r[mode].receivePps / r.batch.pps));
        row[mode].syncWrites = runs.reduce((a, x) => a + (x.syncWrites ?? 0), 0);
        row[mode].peakQueuedBytes = Math.max(...runs.map((x) => x.peakQueuedBytes ?? 0));
      }
    }
    rows.push(row);
  }
  return rows;
}

function makeFile(path, n, intervalNs, size) {
  return run([process.execPath, '--input-type=module', '-e', `
    import mcast from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))};
    const w = mcast.CaptureWriter.open(${JSON.stringify(path)}, { interfaceName: () => 'lo' });
    const payload = Buffer.alloc(${size}, 0x62);
    for (let i = 0; i < ${n}; i++) {
      payload.writeUInt32BE(i, 0);
      w.writeDatagram({ timestamp: 1700000000000000000n + BigInt(i) * ${intervalNs}n, source: '10.77.0.1', sourcePort: 7, destination: '239.77.0.2', destinationPort: 7777, interfaceIndex: 1, payload });
    }
    w.close();
  `]);
}

async function replayCase(o, dir) {
  const file = join(dir, 'replay.pcapng');
  await makeFile(file, o.replayCount, 1000, 64);
  const replay = [];
  const send = [];
  const replayLooped = [];
  const sendLooped = [];
  const replayRate = async (loops) => {
    const r = await run([process.execPath, CLI, 'replay', file, '--iface', 'lo', '--ttl', '0', '--top-speed', '--loop', String(loops), '--json']);
    const report = JSON.parse(r.stdout);
    return report.sent / report.seconds;
  };
  const sendRate = async (count) => {
    const s = await run([process.execPath, CLI, 'send', '239.77.0.2', '7777', 'x'.repeat(64), '--count', String(count), '--interval', '0', '--iface', 'lo', '--ttl', '0', '-q']);
    const m = /sent (\d+) datagrams .* in ([\d.]+) s/.exec(s.stderr);
    return Number(m[1]) / Number(m[2]);
  };
  for (let k = 0; k < o.replayRepeats; k++) {
    replay.push(await replayRate(1));
    send.push(await sendRate(o.replayCount));
    // The file played 5 times in one process: most of a single pass of 200k is V8 compiling
    // the reader's path, which the later passes do not pay.
    replayLooped.push(await replayRate(5));
    sendLooped.push(await sendRate(o.replayCount * 5));
  }
  return {
    count: o.replayCount,
    replay: median(replay),
    send: median(send),
    replayRuns: replay,
    sendRuns: send,
    replayLooped: median(replayLooped),
    sendLooped: median(sendLooped),
  };
}

async function driftCase(o, dir) {
  const n = o.driftSeconds * 1000;
  const file = join(dir, 'drift.pcapng');
  const out = join(dir, 'drift-rx.pcapng');
  await makeFile(file, n, 1_000_000, 64);
  const rec = spawn(process.execPath, [CLI, 'record', '239.77.0.2', '7777', '--iface', 'lo', '--out', out, '--count', String(n), '--timeout', String(o.driftSeconds + 30), '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let recErr = '';
  rec.stderr.on('data', (d) => (recErr += d));
  const recorded = new Promise((r) => rec.on('close', r));
  while (!recErr.includes('recording ')) await new Promise((r) => setTimeout(r, 20));
  const r = await run([process.execPath, CLI, 'replay', file, '--iface', 'lo', '--ttl', '0', '--json'], { timeoutMs: (o.driftSeconds + 30) * 1000 });
  const code = await recorded;
  if (code !== 0) throw new Error(`mcast record exited ${code}: ${recErr}`);
  const report = JSON.parse(r.stdout);
  const { stdout } = await run([process.execPath, '--input-type=module', '-e', `
    import mcast from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))};
    // Each arrival's offset from the schedule (first arrival + i ms), by sequence number.
    let first; const offsets = [];
    for await (const d of mcast.readCapture(${JSON.stringify(out)})) {
      first ??= d.timestamp;
      offsets.push(Number(d.timestamp - first) - d.payload.readUInt32BE(0) * 1e6);
    }
    const med = (a) => { const v = [...a].sort((x, y) => x - y); return v[v.length >> 1]; };
    const k = Math.min(1000, offsets.length >> 2);
    const head = med(offsets.slice(0, k));
    const tail = med(offsets.slice(-k));
    console.log(JSON.stringify({ n: offsets.length, end: offsets.at(-1), median: tail - head, firstLate: -head, lastLate: offsets.at(-1) - tail }));
  `]);
  const got = JSON.parse(stdout);
  return {
    seconds: o.driftSeconds,
    datagrams: n,
    received: got.n,
    driftNs: got.end,
    medianDriftNs: got.median,
    firstLateNs: got.firstLate,
    lastLateNs: got.lastLate,
    timing: report.timing,
  };
}

const fmt = (pps) => (pps === null || pps === undefined ? '-' : `${(pps / 1e3).toFixed(1)} k/s`);

function print(results) {
  const lines = [];
  if (results.record) {
    if (results.cpus !== undefined) lines.push('', `(the recording variants ran on CPUs ${results.cpus} only: taskset -c ${results.cpus})`);
    lines.push('', `Recording at the receiver's full rate (fill-and-drain on lo, datagrams/s into a file on ${results.storage}, each cycle until its last block is written; medians of ${results.record[0]?.rounds ?? 0} interleaved rounds, cost = median of the per-round ratios):`);
    lines.push(`  ${'payload'.padEnd(9)}${"'batch' alone".padStart(16)}${'+ pcapng file'.padStart(16)}${'+ pcap file'.padStart(16)}   cost (pcapng / pcap)   target <= ${TARGET_COST * 100}%`);
    for (const r of results.record) {
      const cost = (m) => r[m].cost;
      const ok = cost('pcapng') <= TARGET_COST && cost('pcap') <= TARGET_COST;
      lines.push(
        `  ${`${r.size} B`.padEnd(9)}${fmt(r.batch.pps).padStart(16)}${fmt(r.pcapng.pps).padStart(16)}${fmt(r.pcap.pps).padStart(16)}   ${`${(cost('pcapng') * 100).toFixed(1)}% / ${(cost('pcap') * 100).toFixed(1)}%`.padEnd(21)}  ${ok ? 'met' : 'NOT met'}`,
      );
      const drops = r.batch.drops + r.pcapng.drops + r.pcap.drops;
      if (drops > 0) lines.push(`    (kernel drops during the cycles: ${drops}; the rates count only what was received)`);
      // Before this stop a cycle ended when the loop had read its last datagram, with up to
      // queueBytes still to write: that figure, for comparison.
      lines.push(`    the receiving loop alone, the last blocks not yet in the file: ${fmt(r.pcapng.receivePps)} / ${fmt(r.pcap.receivePps)}, cost ${(r.pcapng.receiveCost * 100).toFixed(1)}% / ${(r.pcap.receiveCost * 100).toFixed(1)}%`);
      const sync = r.pcapng.syncWrites + r.pcap.syncWrites;
      lines.push(`    writer: ${sync} blocks written synchronously (queue full), at most ${(Math.max(r.pcapng.peakQueuedBytes, r.pcap.peakQueuedBytes) / 1048576).toFixed(1)} MiB queued`);
      // Where the cost goes, independent of the load: CPU per datagram of the receiving thread
      // (the rate's own cost) and of the other threads (the file writes, on libuv's pool).
      const cpu = (m) => `${r[m].mainNs} ns + ${r[m].otherNs} ns`;
      lines.push(`    CPU per datagram, receiving thread + other threads (medians): 'batch' ${cpu('batch')}; pcapng ${cpu('pcapng')}; pcap ${cpu('pcap')}`);
    }
  }
  if (results.replay) {
    const r = results.replay;
    lines.push('', `Sending ${r.count} datagrams of 64 bytes on lo (datagrams/s, median of ${r.replayRuns.length}):`);
    lines.push(`  mcast replay --top-speed  ${fmt(r.replay).padStart(12)}`);
    lines.push(`  mcast send --interval 0   ${fmt(r.send).padStart(12)}   (replay/send = ${(r.replay / r.send).toFixed(2)}x)`);
    lines.push(`  the file 5 times in one process (--loop 5) / ${r.count * 5} sent: ${fmt(r.replayLooped)} / ${fmt(r.sendLooped)} (${(r.replayLooped / r.sendLooped).toFixed(2)}x)`);
  }
  if (results.drift) {
    const d = results.drift;
    const t = d.timing;
    const ms = (ns) => `${ns < 0 ? '−' : '+'}${(Math.abs(ns) / 1e6).toFixed(3)} ms`;
    lines.push('', `Replay drift: a ${d.seconds} s file at 1000 datagrams/s, recorded again with kernel timestamps:`);
    lines.push(`  received ${d.received}/${d.datagrams}; end time drift ${ms(d.driftNs)} (target < 1 ms: ${Math.abs(d.driftNs) < DRIFT_TARGET_NS ? 'met' : 'NOT met'})`);
    // end drift = (last arrival − first) − (last − first in the file), by the receiver's kernel
    // timestamps; split by each datagram's lateness L (unknown in itself, but its differences are
    // seen): L(last) − L(first) = [L(last) − median L of the last 1000] + [median L of the last
    // 1000 − median L of the first 1000] − [L(first) − median L of the first 1000].
    lines.push(`  = last datagram's lateness against the median of the last 1000       ${ms(d.lastLateNs)}`);
    lines.push(`  + drift of the median lateness, last 1000 against the first 1000      ${ms(d.medianDriftNs)}`);
    lines.push(`  − first datagram's lateness against the median of the first 1000 (${ms(d.firstLateNs)})`);
    lines.push('  (a negative drift is a first datagram later than the ones after it, or a last one earlier)');
    lines.push(
      `  replay's own report (lateness of each send's start against its deadline): p50 ${(t.p50Ns / 1e3).toFixed(1)} µs, p99 ${(t.p99Ns / 1e3).toFixed(1)} µs, max ${(t.maxNs / 1e3).toFixed(1)} µs; ` +
        `${t.overOneMs} over 1 ms; the sleep woke past the deadline ${t.marginMissed} times (margin ${(t.marginNs / 1e3).toFixed(0)} µs)`,
    );
  }
  lines.push('', `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}`);
  // Other jobs on a shared machine move every rate: the load says how much.
  lines.push(`load average (1 min) at the start and the end: ${results.load.start.toFixed(2)} / ${results.load.end.toFixed(2)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main() {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      quick: { type: 'boolean' },
      smoke: { type: 'boolean' },
      sizes: { type: 'string' },
      count: { type: 'string' },
      skip: { type: 'string' },
      json: { type: 'string' },
      child: { type: 'string' },
      size: { type: 'string' },
      cycles: { type: 'string' },
      rounds: { type: 'string' },
      cpus: { type: 'string' },
      'huge-tmpfs': { type: 'boolean' },
      dir: { type: 'string' },
      check: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const reexec = await reexecInSandbox(SELF, process.argv.slice(2));
  if (reexec !== null) return reexec;
  assertSandboxed();
  if (values.child !== undefined) {
    await child(values.child, Number(values.size), Number(values.count), Number(values.cycles), 2, values.dir);
    return 0;
  }
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  const quick = values.quick === true;
  const smoke = values.smoke === true;
  const o = {
    sizes: (values.sizes ?? (smoke ? '64' : '64,1400')).split(',').map(Number),
    count: Number(values.count ?? (smoke ? 2000 : 20000)),
    cycles: smoke ? 1 : quick ? 3 : 5,
    rounds: Number(values.rounds ?? (smoke ? 1 : quick ? 2 : 3)),
    cpus: values.cpus,
    replayCount: smoke ? 5000 : quick ? 50_000 : 200_000,
    replayRepeats: smoke ? 1 : 3,
    driftSeconds: smoke ? 1 : quick ? 3 : 10,
  };
  const skip = new Set((values.skip ?? '').split(',').filter(Boolean));
  const dir = mkdtempSync(join('/dev/shm', 'mcast-bench-record-'));
  const results = { load: { start: loadavg()[0] }, cpus: o.cpus, storage: '/dev/shm' };
  try {
    if (!skip.has('record')) {
      if (values['huge-tmpfs'] === true) {
        // A tmpfs in the private mount namespace run-in-netns made: nothing outside sees it, and
        // it goes with the namespace. The recording files only. (/dev/shm allocates and charges
        // the file a 4 KiB page at a time: most of the writer's CPU per datagram at 1400 B.)
        const huge = join(dir, 'huge');
        mkdirSync(huge);
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1g,huge=within_size', 'mcast-bench-record', huge]);
        results.storage = 'a tmpfs mounted with huge=within_size';
        try {
          results.record = await recordCase(o, huge);
        } finally {
          execFileSync('umount', [huge]);
        }
      } else {
        results.record = await recordCase(o, dir);
      }
    }
    if (!skip.has('replay')) results.replay = await replayCase(o, dir);
    if (!skip.has('drift')) results.drift = await driftCase(o, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  results.load.end = loadavg()[0];
  print(results);
  if (values.json !== undefined) {
    mkdirSync(resolve(values.json, '..'), { recursive: true });
    writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
  }
  // The drift's check lives here, not in a test: one late send on a loaded machine moves it.
  if (values.check === true && results.drift !== undefined && !(Math.abs(results.drift.driftNs) < DRIFT_TARGET_NS)) {
    process.stderr.write(`bench:record: the end time drifted by ${(results.drift.driftNs / 1e6).toFixed(3)} ms, target < 1 ms\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    killAll();
    process.stderr.write(`bench:record: ${error.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
