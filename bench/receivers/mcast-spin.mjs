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
  r.start();
  const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));
  while (!r.finished) {
    const until = performance.now() + SPIN_SLICE_MS;
    while (!r.finished && performance.now() < until) {
      const batch = sock.receiveSync(1, 'spin');
      if (batch !== null) onBatch(batch);
    }
    await yieldToLoop();
  }
}
