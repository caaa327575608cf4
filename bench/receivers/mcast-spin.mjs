// Contestant "mcast receiveSync spin": a worker thread that owns its socket and spins in
// receiveSync(timeout, 'spin') with busyPoll 50 µs: the latency path of issue #11 for a thread
// that owns its socket (market data). The main thread only starts the worker and exits with
// it. Same protocol and output as bench/c/mc_recv.c (live mode, --latency); see common.mjs.
//
// The worker's own event loop runs the Receiver's timers (warm-up end, idle end): in the
// measurement the worker yields to it only when nothing came for 20 ms (before the sender starts
// and after it stops), never while the stream runs; in the warm-up every 20 ms (spinSlice).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { isMainThread, Worker } from 'node:worker_threads';

import { openMcastReceiver, parseReceiverArgs, Receiver } from './common.mjs';

const BUSY_POLL_US = 50;
const SPIN_SLICE_MS = 20;
const PRESPIN_SLICES = 15;
/** receiveSync's own wait: it spins natively this long before it returns null. */
const SPIN_TIMEOUT_MS = 1;
/**
 * In the measurement: empty receives in a row (of SPIN_TIMEOUT_MS each) before the loop yields.
 * The sender pauses for over 1 ms 25-50 times in a 3 s run on a quiet machine (more when
 * loaded), and a datagram that came during the yield that followed waited for it.
 */
const IDLE_RECEIVES = 20;

if (isMainThread) {
  const worker = new Worker(new URL(import.meta.url), { argv: process.argv.slice(2) });
  worker.on('error', (error) => {
    process.stderr.write(`mcast-spin: ${error.stack ?? error}\n`);
    process.exit(1);
  });
  worker.on('exit', (code) => process.exit(code));
} else {
  const opts = parseReceiverArgs();
  const r = new Receiver(opts, { batch: opts.batch });
  const sock = openMcastReceiver(opts, r, { busyPoll: BUSY_POLL_US });
  const t = r.tracker;
  let words = null;
  const wordsOf = (batch) => {
    const b = batch.buffer;
    return (words = new Uint32Array(b.buffer, b.byteOffset, b.byteLength >>> 2));
  };
  const onBatch = opts.latency
    ? (batch) => {
      const now = performance.now();
      const w = words ?? wordsOf(batch);
      let done = false;
      for (let i = 0; i < batch.count; i++) {
        const at = batch.offset(i) >>> 2;
        if (t.addLat(w[at + 1] * 4294967296 + w[at], batch.size(i), batch.truncated(i), w[at + 2], w[at + 3], now)) done = true;
      }
      if (done) r.finish();
    }
    : (batch) => {
      const w = words ?? wordsOf(batch);
      let done = false;
      for (let i = 0; i < batch.count; i++) {
        const at = batch.offset(i) >>> 2;
        if (t.add(w[at + 1] * 4294967296 + w[at], batch.size(i), batch.truncated(i))) done = true;
      }
      if (done) r.finish();
    };
  // The spin loop is a plain function, called once per slice: V8 optimises it (and inlines
  // receiveSync and onBatch into it) during the warm-up. Written inline in the async body below,
  // it was never optimised in place during the warm-up (--trace-opt) and was compiled as a whole
  // function only inside the measurement, on the receiver's CPU.
  //
  // It returns (and the caller yields to the event loop) only when receives came back empty:
  // with the run's timeout, after IDLE_RECEIVES x SPIN_TIMEOUT_MS without a datagram, which does
  // not happen while the sender streams, so the measured stream is received without a yield (one
  // yield, a turn of the worker's event loop after 20 ms of spinning, took about 130 µs: at one
  // yield per 20 ms slice, about 0.6% of the datagrams waited for one, the p99's own order).
  // With a timeout of 0 (before READY, and in the warm-up, where the Receiver's warm-up timer
  // needs turns) it returns at the first empty receive after SPIN_SLICE_MS. The clock is read
  // only on an empty receive: each performance.now() allocates (Node 20), and the loop must not
  // bring a scavenge.
  const spinSlice = (timeoutMs) => {
    const until = performance.now() + SPIN_SLICE_MS;
    // Counted with a timeout of 0 too: the warm-up runs (and V8 compiles with feedback) the
    // very code of the measurement's empty receives.
    const limit = timeoutMs > 0 ? IDLE_RECEIVES : 1;
    let empty = 0;
    for (;;) {
      const batch = sock.receiveSync(timeoutMs, 'spin');
      if (batch !== null) {
        empty = 0;
        onBatch(batch);
        if (r.finished) return;
      } else if (++empty >= limit && (timeoutMs > 0 || performance.now() >= until)) return;
    }
  };
  const trace = process.env.BENCH_SPIN_TRACE ? spinTrace(process.env.BENCH_SPIN_TRACE, r, sock, onBatch) : null;
  // Before READY (nothing is sent yet): spin on the empty socket with a timeout of 0, so that
  // the loop runs often enough for V8 to optimise it and its idle path (receiveSync returning
  // null, the clock) before the warm-up. With the 1 ms timeout of the run, an idle loop turns
  // only 1000 times a second, and the warm-up's 20 000 datagrams were too few turns: it was
  // compiled inside the measurement.
  for (let k = 0; k < PRESPIN_SLICES; k++) spinSlice(0);
  r.start();
  const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));
  // Diagnostics (BENCH_SPIN_V8_FLAGS='--trace-opt --trace-deopt --trace-gc', with
  // BENCH_STDOUT_DIR to keep the output): V8's trace flags on for the measurement only, between
  // two marker lines, so that what V8 did inside the measured stream is told apart.
  const v8Flags = process.env.BENCH_SPIN_V8_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
  let v8Traced = false;
  while (!r.finished) {
    if (v8Flags.length > 0 && r.measuring && !v8Traced) {
      v8Traced = true;
      process.stdout.write('SPIN-MEASURE-START\n');
      for (const f of v8Flags) setFlagsFromString(f);
    }
    // The warm-up spins with a timeout of 0 too: its datagrams give the data path its feedback,
    // and the idle turns between them give V8 the loop turns to optimise it again with that
    // feedback before the measurement starts. The optimised code is the same for both timeouts.
    if (trace && r.measuring) trace.mark();
    if (trace?.gaps && r.measuring) trace.slice();
    else spinSlice(r.measuring ? SPIN_TIMEOUT_MS : 0);
    const y0 = trace ? performance.now() : 0;
    await yieldToLoop();
    if (trace && r.measuring) trace.stall(y0, performance.now(), 1);
  }
  if (v8Traced) {
    for (const f of v8Flags) setFlagsFromString(f.replace(/^--/, '--no-'));
    process.stdout.write('SPIN-MEASURE-END\n');
  }
  trace?.write();
}

/**
 * Diagnostics (BENCH_SPIN_TRACE=DIR; never in a normal run; read by bench/spin-trace.mjs): where
 * the latency tail's time went. Records every yield to the event loop in the measurement
 * (kind 1). With BENCH_SPIN_GAPS=1 the measured slices run a copy of the loop (a timeout of 0,
 * the clock read per turn, 20 ms slices) that also notes every gap of over 10 µs between two
 * turns (kind 0: the thread did not run, or a receive was slow). At the end DIR/spin-PID.json
 * gets each sample's receive moment and latency, the stalls, GC events, this thread's
 * involuntary context switches and the CPU ticks of each thread of the process in the
 * measurement (V8's compiler and GC threads share the pinned CPU).
 */
function spinTrace(dir, r, sock, onBatch) {
  const GAP_MS = 0.01;
  const gaps = process.env.BENCH_SPIN_GAPS === '1';
  const cap = gaps ? 1 << 20 : 1 << 16;
  const stalls = new Float64Array(cap * 3);
  let n = 0;
  const stall = (a, b, kind) => {
    if (n < cap) {
      stalls[3 * n] = a;
      stalls[3 * n + 1] = b;
      stalls[3 * n + 2] = kind;
      n++;
    }
  };
  const gcs = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push([e.startTime, e.duration, e.detail?.kind ?? null]);
  });
  observer.observe({ entryTypes: ['gc'] });
  const threads = () => Object.fromEntries(readdirSync('/proc/self/task').map((tid) => {
    const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
    const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
    const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
    const wakeups = Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(status)[1]);
    return [tid, { comm, ticks: Number(f[11]) + Number(f[12]), wakeups }];
  }));
  const switches = () => Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync('/proc/thread-self/status', 'utf8'))[1]);
  let threads0 = null;
  let switches0 = 0;
  return {
    gaps,
    stall,
    /** Call as the measurement starts. */
    mark() {
      if (threads0 !== null) return;
      threads0 = threads();
      switches0 = switches();
    },
    // With a timeout of 0 (one receive per call): a gap is then time the loop did not turn.
    slice() {
      let prev = performance.now();
      const until = prev + SPIN_SLICE_MS;
      while (!r.finished) {
        const batch = sock.receiveSync(0, 'spin');
        if (batch !== null) onBatch(batch);
        const now = performance.now();
        if (now - prev > GAP_MS) stall(prev, now, 0);
        prev = now;
        if (now >= until) break;
      }
    },
    write() {
      observer.disconnect();
      const t = r.tracker;
      const a0 = r.anchor0;
      const samples = [];
      for (let i = 0; i < t.latN; i++) {
        const p = t.latRecv[i];
        samples.push([p, ((p - a0.perf) * 1e6 - t.latSent[i]) / 1e3]);
      }
      const threads1 = threads();
      const others = Object.entries(threads1).map(([tid, v]) => ({ tid, comm: v.comm, ticks: v.ticks - (threads0?.[tid]?.ticks ?? 0), wakeups: v.wakeups - (threads0?.[tid]?.wakeups ?? 0) }));
      const self = readFileSync('/proc/thread-self/comm', 'utf8').trim();
      writeFileSync(join(dir, `spin-${process.pid}.json`), JSON.stringify({
        self,
        involuntary_switches: switches() - switches0,
        threads: others,
        gcs,
        stalls: Array.from({ length: n }, (_, i) => [stalls[3 * i], stalls[3 * i + 1], stalls[3 * i + 2]]),
        samples,
      }));
    },
  };
}
