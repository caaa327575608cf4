// Contestant "mcast batch": the zero-copy 'batch' event (one JS call per recvmmsg result).
// Same protocol and output as bench/c/mc_recv.c; see common.mjs.
import { performance } from 'node:perf_hooks';
import { openMcastReceiver, parseReceiverArgs, Receiver } from './common.mjs';

const opts = parseReceiverArgs();
const r = new Receiver(opts, { batch: opts.batch });
const sock = openMcastReceiver(opts, r);

// The slab as 32-bit words: the sequence number and send time are read in place (slots are
// maxMessageSize bytes apart, a multiple of 4 here), nothing is allocated per datagram.
let words = null;
const t = r.tracker;
sock.on('batch', opts.latency ? onBatchLatency : onBatch);
r.start();

function wordsOf(batch) {
  const b = batch.buffer;
  return (words = new Uint32Array(b.buffer, b.byteOffset, b.byteLength >>> 2));
}

function onBatch(batch) {
  const w = words ?? wordsOf(batch);
  const n = batch.count;
  let done = false;
  for (let i = 0; i < n; i++) {
    const at = batch.offset(i) >>> 2;
    if (t.add(w[at + 1] * 4294967296 + w[at], batch.size(i), batch.truncated(i))) done = true;
  }
  if (done) r.finish();
}

function onBatchLatency(batch) {
  const now = performance.now();
  const w = words ?? wordsOf(batch);
  const n = batch.count;
  let done = false;
  for (let i = 0; i < n; i++) {
    const at = batch.offset(i) >>> 2;
    if (t.addLat(w[at + 1] * 4294967296 + w[at], batch.size(i), batch.truncated(i), w[at + 2], w[at + 3], now)) done = true;
  }
  if (done) r.finish();
}
