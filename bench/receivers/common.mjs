// Shared part of the Node.js benchmark receivers (one small script per contestant imports it).
//
// The receivers speak the protocol of bench/c/mc_recv.c, so that the harness drives and measures
// every contestant the same way: same options, "READY" on stdout once joined, then ONE line of
// JSON with the same fields (received, bytes, seconds, pps, cpu_seconds, cpu_ns_per_packet,
// kernel_drops, gaps, reordered, duplicates, truncated, first_seq, last_seq, batch, rcvbuf
// [, latency_us]). The per-datagram work is the same as mc_recv's: read the u64 sequence number,
// track gaps/reordering/duplicates in a 2^20-bit window, and (with --latency) one latency sample.
//
// Warm-up, because V8 optimises code only once it has run (mc_recv has no JIT and gets none):
// - live (`--warmup N`): after READY the harness sends N datagrams; the receiver handles them
//   like any others, then resets its counters, prints "WARM" and the measurement starts.
// - drain (`--warmup-cycles K`): K whole fill-and-drain cycles before the measured one. Each
//   cycle: the receiver blocks its event loop (nothing reads the socket) until --go-file exists,
//   removes it, and reads --count datagrams; after a warm-up cycle it resets its counters and
//   prints "DRAINED". The measured cycle ends at --count datagrams (mc_recv: at EAGAIN), or
//   after --idle-ms without progress.
// Warm-up and measurement run the very same code, so that nothing is left for V8 to deoptimise
// or compile (on a background thread that shares the receiver's CPU) in the measured interval.
// - live: ends after --count datagrams, or when the received count has not changed for
//   --idle-ms (checked by a timer, so that no clock is read per datagram).
// - --memory: gc() and process.memoryUsage() after the warm-up and at the end, GC events counted
//   (node --expose-gc). Output gets a "memory" object.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { fail, usage } from '../lib/exit.mjs';

export { fail };

const WIN_BITS = 1 << 20;

const NUMBER = { type: 'string' };
export function parseReceiverArgs(argv = process.argv.slice(2)) {
  const { values } = parseArgs({
    args: argv,
    options: {
      group: NUMBER,
      port: NUMBER,
      ifindex: NUMBER,
      'iface-addr': NUMBER,
      mode: { type: 'string', default: 'live' },
      'go-file': NUMBER,
      batch: { type: 'string', default: '64' },
      size: { type: 'string', default: '2048' },
      rcvbuf: { type: 'string', default: '0' },
      count: { type: 'string', default: '0' },
      'idle-ms': { type: 'string', default: '1000' },
      'first-timeout-ms': { type: 'string', default: '10000' },
      latency: { type: 'boolean', default: false },
      'max-samples': { type: 'string', default: String(4 * 1024 * 1024) },
      'clock-offset': { type: 'string' },
      warmup: { type: 'string', default: '0' },
      'warmup-cycles': { type: 'string', default: '0' },
      memory: { type: 'boolean', default: false },
      gro: { type: 'boolean', default: false },
      'no-source': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const int = (name) => {
    const v = Number(values[name]);
    if (!Number.isInteger(v) || v < 0) usage(`bad value for --${name}: ${values[name]}`);
    return v;
  };
  if (!values.group || !values.port) usage('--group and --port are required');
  if (values.mode !== 'live' && values.mode !== 'drain') usage('--mode must be live or drain');
  if (values.mode === 'drain' && !values['go-file']) usage('--mode drain needs --go-file');
  if (values.latency && !values['clock-offset']) usage('--latency needs --clock-offset PATH (bench/c/clock_offset.c)');
  return {
    group: values.group,
    port: int('port'),
    ifindex: values.ifindex === undefined ? 0 : int('ifindex'),
    ifaceAddr: values['iface-addr'] ?? '127.0.0.1',
    mode: values.mode,
    goFile: values['go-file'],
    batch: int('batch'),
    size: int('size'),
    rcvbuf: int('rcvbuf'),
    count: int('count'),
    idleMs: int('idle-ms'),
    firstMs: int('first-timeout-ms'),
    latency: values.latency,
    maxSamples: int('max-samples'),
    clockOffset: values['clock-offset'],
    warmup: int('warmup'),
    warmupCycles: int('warmup-cycles'),
    memory: values.memory,
    gro: values.gro,
    noSource: values['no-source'],
  };
}


function say(line) {
  writeSync(1, `${line}\n`);
}

/** Sleeps the whole thread (event loop included) for `ms`. */
const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms) {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/**
 * CLOCK_REALTIME in ns (a BigInt) at the moment performance.now() read `perf`. Node.js has no
 * precise CLOCK_REALTIME (Date.now() is milliseconds, performance.timeOrigin is off by tens of
 * microseconds), so bench/c/clock_offset tells REALTIME minus MONOTONIC, and process.hrtime
 * (CLOCK_MONOTONIC, like performance.now()) is read next to performance.now().
 */
function realtimeAnchor(helper) {
  const offset = BigInt(execFileSync(helper, { encoding: 'utf8' }).trim());
  let best = null;
  for (let k = 0; k < 5; k++) {
    const p1 = performance.now();
    const mono = process.hrtime.bigint();
    const p2 = performance.now();
    if (best === null || p2 - p1 < best.width) best = { perf: (p1 + p2) / 2, mono, width: p2 - p1 };
  }
  return { perf: best.perf, real: best.mono + offset };
}

/** Nearest-rank percentile of sorted samples (as mc_recv computes it). */
function percentile(sorted, n, p) {
  let rank = Math.ceil(p * n - 1e-9);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1];
}

/** Counters and sequence tracking of the datagrams (mc_recv's logic), reset between phases. */
class Tracker {
  constructor(latCap, baseHi, baseLo) {
    this.window = new Uint8Array(WIN_BITS / 8);
    // Latency: the receive moment (performance.now() ms) and the send time relative to `base`.
    this.latCap = latCap;
    this.latRecv = new Float64Array(latCap);
    this.latSent = new Float64Array(latCap);
    this.baseHi = baseHi;
    this.baseLo = baseLo;
    this.reset(Infinity);
  }

  reset(target) {
    this.received = 0;
    this.bytes = 0;
    this.truncated = 0;
    this.gaps = 0;
    this.reordered = 0;
    this.dups = 0;
    this.haveSeq = false;
    this.minSeq = 0;
    this.maxSeq = 0;
    this.window.fill(0);
    this.latN = 0;
    this.target = target;
  }

  /** One datagram. Returns true once `target` datagrams have been counted. */
  add(s, len, truncated) {
    this.bytes += len;
    if (truncated) this.truncated++;
    this.track(s);
    return ++this.received >= this.target;
  }

  /** add() plus a latency sample (send time as u32 halves; receive moment from performance.now()). */
  addLat(s, len, truncated, tsLo, tsHi, nowPerf) {
    const n = this.latN;
    if (n < this.latCap) {
      this.latRecv[n] = nowPerf;
      // Left to right, every step has a double on its left: `tsLo` (a u32 read) never meets an
      // int32 subtraction, which V8 would speculate on from the warm-up's values and deoptimise
      // ("lost precision") in the run where the clock's low word first passes 2^31.
      this.latSent[n] = (tsHi - this.baseHi) * 4294967296 + tsLo - this.baseLo;
      this.latN = n + 1;
    }
    return this.add(s, len, truncated);
  }

  track(s) {
    if (!this.haveSeq) {
      this.haveSeq = true;
      this.minSeq = this.maxSeq = s;
      this.set(s);
    } else if (s > this.maxSeq) {
      if (s - this.maxSeq >= WIN_BITS) this.window.fill(0);
      else for (let q = this.maxSeq + 1; q <= s; q++) this.clear(q);
      this.gaps += s - this.maxSeq - 1;
      this.maxSeq = s;
      this.set(s);
    } else {
      const inWindow = this.maxSeq - s < WIN_BITS;
      if (inWindow && this.test(s)) {
        this.dups++;
        return;
      }
      this.reordered++;
      if (s < this.minSeq) {
        this.gaps += this.minSeq - s - 1;
        this.minSeq = s;
      } else if (this.gaps > 0) {
        this.gaps--;
      }
      if (inWindow) this.set(s);
    }
  }

  // The window's bit of s (an integer below 2^53, often a double): `s & (WIN_BITS - 1)` is
  // s mod WIN_BITS (`&` takes s modulo 2^32 exactly, and WIN_BITS divides 2^32), as mc_recv's
  // uint64 `%` is. A double `%` here is V8's Float64Mod (an fprem loop): 20-25 ns per datagram
  // in a micro-benchmark of mcast-batch's listener, charged to every Node contestant.
  test(s) {
    return (this.window[(s & (WIN_BITS - 1)) >>> 3] >>> (s & 7)) & 1;
  }

  set(s) {
    this.window[(s & (WIN_BITS - 1)) >>> 3] |= 1 << (s & 7);
  }

  clear(s) {
    this.window[(s & (WIN_BITS - 1)) >>> 3] &= ~(1 << (s & 7));
  }

  snapshot() {
    return {
      received: this.received,
      bytes: this.bytes,
      truncated: this.truncated,
      gaps: this.gaps,
      reordered: this.reordered,
      dups: this.dups,
      first: this.haveSeq ? this.minSeq : null,
      last: this.haveSeq ? this.maxSeq : null,
    };
  }
}

export class Receiver {
  constructor(opts, { batch }) {
    this.opts = opts;
    this.batch = batch;
    this.rcvbuf = 0;
    this.anchor0 = opts.latency ? realtimeAnchor(opts.clockOffset) : null;
    // Send times are kept relative to this (as two u32 halves of ns) to stay exact in a double.
    const baseNs = this.anchor0 ? this.anchor0.real : 0n;
    const baseHi = Number(baseNs >> 32n);
    const baseLo = Number(baseNs & 0xffffffffn);
    const latCap = opts.latency ? Math.max(Math.min(opts.count > 0 ? opts.count : opts.maxSamples, opts.maxSamples), opts.warmup) : 0;
    this.tracker = new Tracker(latCap, baseHi, baseLo);
    // Every field gets a value of its final type here (doubles as 0.5, timers as a cleared
    // timer): a field that changes its representation or type later (Smi to double, null to an
    // object) deprecates this object's map, and V8 then deoptimises every function that inlined a
    // method of it (the listeners call finish()), in the middle of the measurement.
    this.cycle = 0;
    this.final = this.tracker.snapshot();
    this.finished = false;
    /** True once the measured phase of a live run has begun (the warm-up is over). */
    this.measuring = false;
    this.t0 = 0.5;
    this.t1 = 0.5;
    this.cpu0 = process.cpuUsage();
    this.cpu1 = process.cpuUsage();
    this.dropsBase = 0.5;
    /** Set by mcast contestants with --gro: [stats().groReceives, groDatagrams], or null. */
    this.groCounts = () => null;
    this.groBase = [0.5, 0.5];
    this.firstPerf = 0.5;
    this.lastPerf = 0.5;
    this.idleTimer = setTimeout(() => {}, 0);
    clearTimeout(this.idleTimer);
    this.memBefore = process.memoryUsage();
    this.memPeakHeap = 0.5;
    this.memTimer = setTimeout(() => {}, 0);
    clearTimeout(this.memTimer);
    this.gcObserver = new PerformanceObserver(() => {});
    this.sawPackets = false;
    /** Set by the contestant: the socket's kernel drop counter, or null when unknown. */
    this.kernelDrops = () => null;
    /** Set by the mcast contestants: JS callbacks so far (stats().batches), or null. */
    this.callbacks = () => null;
    this.callbacksBase = 0.5;
    /** Set by the contestant: stop receiving and release the socket. */
    this.close = () => {};
    this.gcEvents = { minor: 0, major: 0, other: 0 };
  }

  get received() {
    return this.tracker.received;
  }

  // ---- per datagram ----------------------------------------------------------------------
  // The contestants call `receiver.tracker.add(seq, len, truncated)` (or addLat) per datagram and
  // `receiver.finish()` once it returns true: the hot path touches the Tracker only, so that the
  // bookkeeping below can change this object without deoptimising it.

  // ---- the run ---------------------------------------------------------------------------

  /** Call once the socket is joined and its listener attached. Drives the whole run. */
  start() {
    say('READY');
    if (this.opts.mode === 'drain') this.#drainCycle();
    else if (this.opts.warmup > 0) this.#waitWarm();
    else this.#beginLive();
  }

  /**
   * Live warm-up: `--warmup` datagrams (or silence for 300 ms once some came), then measure.
   * Halfway, the counters are reset once as at the start of the measurement: that first reset
   * turns the Tracker's fields from constants (which V8 folds into optimised code) into plain
   * fields, and the first datagram after it runs track()'s first-sequence path with feedback.
   * Without this rehearsal both deoptimised add()/track() on the first measured datagram, and
   * their recompilation then ran on the receiver's CPU inside the measurement.
   */
  #waitWarm() {
    const warmTarget = this.opts.warmup;
    let last = -1;
    let idleTicks = 0;
    let beforeReset = -1;
    const deadline = performance.now() + this.opts.firstMs;
    const timer = setInterval(() => {
      if (beforeReset < 0 && this.tracker.received >= warmTarget / 2) {
        beforeReset = this.tracker.received;
        this.tracker.reset(Infinity);
      }
      const n = this.tracker.received + Math.max(beforeReset, 0);
      const done = n >= warmTarget || (n === 0 ? performance.now() > deadline : (idleTicks = n === last ? idleTicks + 1 : 0) >= 30);
      last = n;
      if (!done) return;
      clearInterval(timer);
      say(`WARM ${n}`);
      this.#beginLive();
    }, 10);
  }

  #beginLive() {
    this.measuring = true;
    const o = this.opts;
    this.tracker.reset(o.count > 0 ? o.count : Infinity);
    this.dropsBase = this.kernelDrops() ?? 0;
    this.callbacksBase = this.callbacks() ?? 0;
    this.groBase = this.groCounts() ?? [0, 0];
    if (o.memory) this.#memoryStart();
    this.cpu0 = process.cpuUsage();
    this.#watchIdle(o.firstMs);
  }

  /**
   * One fill-and-drain cycle: blocks this thread (so that nothing reads the socket while the
   * harness fills its queue) until the go file appears, then reads --count datagrams.
   */
  #drainCycle() {
    const o = this.opts;
    while (!existsSync(o.goFile)) sleepSync(1);
    try {
      unlinkSync(o.goFile);
    } catch {
      // the harness removes it too
    }
    this.tracker.reset(o.count > 0 ? o.count : Infinity);
    // Every cycle takes the measured one's steps (the last cycle is the measured one): taken in
    // the measured cycle only, their first writes deoptimised the listener there and its
    // recompile was counted as receive time (bench/README.md, "Warm-up"). A warm-up cycle that
    // stalls ends after --idle-ms, as the measured one does.
    this.dropsBase = this.kernelDrops() ?? 0;
    this.groBase = this.groCounts() ?? [0, 0];
    this.sawPackets = false;
    clearInterval(this.idleTimer);
    this.cpu0 = process.cpuUsage();
    this.t0 = performance.now();
    this.#watchIdle(o.firstMs);
  }

  /** Ends the run after `idleMs` without progress (before the first datagram: `firstMs`). */
  #watchIdle(firstMs) {
    const o = this.opts;
    let seen = this.received;
    let since = performance.now();
    const tick = Math.max(5, Math.min(50, Math.floor(o.idleMs / 4)));
    this.idleTimer = setInterval(() => {
      if (this.finished) return;
      const now = performance.now();
      if (this.received !== seen) {
        if (!this.sawPackets) {
          this.sawPackets = true;
          this.firstPerf = since;
        }
        seen = this.received;
        since = now;
        this.lastPerf = now;
        return;
      }
      const limit = this.received === 0 ? firstMs : o.idleMs;
      if (now - since >= limit) this.finish(true);
    }, tick);
  }

  /** Ends the phase: call when packet() returned true (or the idle timer does). */
  finish(idle = false) {
    if (this.finished) return;
    if (this.opts.mode === 'drain' && this.cycle < this.opts.warmupCycles) {
      // A warm-up cycle is over: wait for the next fill (from inside the callback: fine).
      this.cycle++;
      say('DRAINED');
      this.#drainCycle();
      return;
    }
    this.finished = true;
    const now = performance.now();
    this.final = this.tracker.snapshot();
    this.cpu1 = process.cpuUsage(this.cpu0 ?? undefined);
    if (this.opts.mode === 'drain') this.t1 = idle && this.sawPackets ? this.lastPerf : now;
    else {
      this.t0 = this.sawPackets ? this.firstPerf : now;
      this.t1 = idle && this.sawPackets ? this.lastPerf : now;
    }
    clearInterval(this.idleTimer);
    // Let the callback that ended the run return before the socket is closed.
    setImmediate(() => this.#report());
  }

  #memoryStart() {
    globalThis.gc?.();
    this.memBefore = process.memoryUsage();
    this.memPeakHeap = this.memBefore.heapUsed;
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = entry.detail?.kind;
        // perf_hooks constants: 1 minor (scavenge), 4 major (mark-compact), 2/8 incremental/weak.
        if (kind === 1) this.gcEvents.minor++;
        else if (kind === 4) this.gcEvents.major++;
        else this.gcEvents.other++;
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    this.gcObserver = observer;
    this.memTimer = setInterval(() => {
      const heap = process.memoryUsage().heapUsed;
      if (heap > this.memPeakHeap) this.memPeakHeap = heap;
    }, 1000);
  }

  #memoryEnd() {
    clearInterval(this.memTimer);
    const gcs = { ...this.gcEvents };
    this.gcObserver.disconnect();
    const before = this.memBefore;
    globalThis.gc?.();
    const after = process.memoryUsage();
    const pick = (m) => ({ rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers });
    return {
      gc_exposed: typeof globalThis.gc === 'function',
      before: pick(before),
      after: pick(after),
      heap_used_growth: after.heapUsed - before.heapUsed,
      rss_growth: after.rss - before.rss,
      heap_used_peak: this.memPeakHeap,
      callbacks: this.callbacks() === null ? null : this.callbacks() - this.callbacksBase,
      gc_minor: gcs.minor,
      gc_major: gcs.major,
      gc_other: gcs.other,
    };
  }

  #report() {
    this.close();
    const o = this.opts;
    const secs = Math.max(0, (this.t1 - this.t0) / 1000);
    const cpu = this.cpu1 ? (this.cpu1.user + this.cpu1.system) / 1e6 : 0;
    const drops = this.kernelDrops();
    const f = this.final;
    const out = {
      received: f.received,
      bytes: f.bytes,
      seconds: round(secs, 6),
      pps: round(secs > 0 ? f.received / secs : 0, 1),
      cpu_seconds: round(cpu, 6),
      cpu_ns_per_packet: round(f.received ? (cpu * 1e9) / f.received : 0, 1),
      cpu_user_seconds: round(this.cpu1 ? this.cpu1.user / 1e6 : 0, 6),
      cpu_system_seconds: round(this.cpu1 ? this.cpu1.system / 1e6 : 0, 6),
      kernel_drops: drops === null ? null : drops - this.dropsBase,
      gaps: f.gaps,
      reordered: f.reordered,
      duplicates: f.dups,
      truncated: f.truncated,
      first_seq: f.first,
      last_seq: f.last,
      batch: this.batch,
      rcvbuf: this.rcvbuf,
      warmup: this.opts.mode === 'drain' ? `${this.opts.warmupCycles} cycle(s)` : this.opts.warmup,
    };
    const gro = this.groCounts();
    if (gro !== null) {
      // As mc_recv --gro reports them: receives that came merged, and the datagrams they held.
      out.gro_receives = gro[0] - this.groBase[0];
      out.gro_datagrams = gro[1] - this.groBase[1];
    }
    if (o.latency) out.latency_us = this.#latency();
    if (o.memory) out.memory = this.#memoryEnd();
    say(JSON.stringify(out));
    process.exit(0);
  }

  #latency() {
    const m = this.tracker;
    const n = m.latN;
    if (n === 0) return { p50: null, p99: null, p999: null, samples: 0 };
    const a0 = this.anchor0;
    const a1 = realtimeAnchor(this.opts.clockOffset);
    // realtime - base at performance.now() = p: (p - a0.perf) ms, plus the drift of REALTIME
    // against MONOTONIC since a0 (NTP slewing), interpolated between the two anchors.
    const span = a1.perf - a0.perf;
    const drift1 = Number(a1.real - a0.real) - span * 1e6;
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = m.latRecv[i];
      const drift = span > 0 ? ((p - a0.perf) / span) * drift1 : 0;
      const recvNs = (p - a0.perf) * 1e6 + drift;
      values[i] = (recvNs - m.latSent[i]) / 1e3;
    }
    values.sort();
    return {
      p50: round(percentile(values, n, 0.5), 3),
      p99: round(percentile(values, n, 0.99), 3),
      p999: round(percentile(values, n, 0.999), 3),
      samples: n,
      clock_drift_us: round(drift1 / 1e3, 3),
    };
  }
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Drop counter of the UDP socket bound to `port`, from this namespace's /proc/net/udp. */
export function procUdpDrops(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return () => {
    let text;
    try {
      text = readFileSync('/proc/net/udp', 'utf8');
    } catch {
      return null;
    }
    let total = null;
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 13 || !f[1]?.endsWith(hex)) continue;
      total = (total ?? 0) + Number(f[f.length - 1]);
    }
    return total;
  };
}

/**
 * The mcast socket of the 'batch' and 'message' contestants, opened, joined and wired to `r` the
 * same way for both. BENCH_MCAST_ROOT: another copy of the package, for A/B experiments (see
 * lib/contestants.mjs).
 */
/** The mcast socket of a contestant, bound to the group and joined; `extra`: more SocketOptions. */
export function openMcastReceiver(opts, r, extra = {}) {
  const root = process.env.BENCH_MCAST_ROOT;
  const { createSocket } = createRequire(import.meta.url)(root ? `${root}/dist/index.js` : '../../dist/index.js');
  let sock;
  try {
    sock = createSocket({
      // Bound to the group, as the C reference is (and as a receiver of one group should be).
      address: opts.group,
      port: opts.port,
      batchSize: opts.batch,
      maxMessageSize: opts.size,
      ...(opts.rcvbuf > 0 ? { recvBufferSize: opts.rcvbuf } : {}),
      ...(opts.gro ? { gro: true } : {}),
      // --no-source: the receiver that never reads the source asks the kernel for none.
      ...(opts.noSource ? { sourceAddress: false } : {}),
      ...extra,
    });
    sock.join(opts.group, { interface: opts.ifindex || opts.ifaceAddr });
  } catch (error) {
    fail('socket', error);
  }
  r.rcvbuf = sock.getRecvBufferSize();
  r.kernelDrops = () => sock.stats().kernelDrops;
  r.callbacks = () => sock.stats().batches;
  if (opts.gro) r.groCounts = () => { const s = sock.stats(); return [s.groReceives, s.groDatagrams]; };
  r.close = () => sock.close();
  return sock;
}
