// Contestant "mcast receiveSync spin": a worker thread that owns its socket and spins in
// receiveSync(timeout, 'spin') with busyPoll 50 µs: the latency path of issue #11 for a thread
// that owns its socket (market data). The main thread only starts the worker and exits with
// it. Same protocol and output as bench/c/mc_recv.c (live mode, --latency); see common.mjs.
//
// The worker's own event loop runs the Receiver's timers (warm-up end, idle end): it yields to
// it for a moment every 20 ms of spinning. At the benchmark's 10 000 datagrams/s that delays
// well under 1% of the datagrams, by the few microseconds of one loop turn.
import { performance } from 'node:perf_hooks';
import { isMainThread, Worker } from 'node:worker_threads';

import { openMcastReceiver, parseReceiverArgs, Receiver } from './common.mjs';

const BUSY_POLL_US = 50;
const SPIN_SLICE_MS = 20;
const PRESPIN_SLICES = 15;
/** receiveSync's own wait: it spins natively this long before it returns null. */
const SPIN_TIMEOUT_MS = 1;

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
  const spinSlice = (timeoutMs) => {
    const until = performance.now() + SPIN_SLICE_MS;
    while (!r.finished && performance.now() < until) {
      const batch = sock.receiveSync(timeoutMs, 'spin');
      if (batch !== null) onBatch(batch);
    }
  };
  // Before READY (nothing is sent yet): spin on the empty socket with a timeout of 0, so that
  // the loop runs often enough for V8 to optimise it and its idle path (receiveSync returning
  // null, the clock) before the warm-up. With the 1 ms timeout of the run, an idle loop turns
  // only 1000 times a second, and the warm-up's 20 000 datagrams were too few turns: it was
  // compiled inside the measurement.
  for (let k = 0; k < PRESPIN_SLICES; k++) spinSlice(0);
  r.start();
  const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));
  while (!r.finished) {
    // The warm-up spins with a timeout of 0 too: its datagrams give the data path its feedback,
    // and the idle turns between them give V8 the loop turns to optimise it again with that
    // feedback before the measurement starts. The optimised code is the same for both timeouts.
    spinSlice(r.measuring ? SPIN_TIMEOUT_MS : 0);
    await yieldToLoop();
  }
}
