// Contestant "mcast batch": the zero-copy 'batch' event (one JS call per recvmmsg result).
// Same protocol and output as bench/c/mc_recv.c; see common.mjs.
import { performance } from 'node:perf_hooks';
import { openMcastReceiver, parseReceiverArgs, Receiver } from './common.mjs';

const opts = parseReceiverArgs();
const r = new Receiver(opts, { batch: opts.batch });
const sock = openMcastReceiver(opts, r);

// The slab as 32-bit words: the sequence number and send time are read in place (slots are
// maxMessageSize bytes apart, a multiple of 4 here), nothing is allocated per datagram. A
// datagram split out of a GRO receive of a size that is no multiple of 4 (varying sizes merge
// too: equal ones, and a shorter last one) starts unaligned: its words are read from the bytes.
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
    const offset = batch.offset(i);
    const seq = (offset & 3) === 0 ? w[(offset >>> 2) + 1] * 4294967296 + w[offset >>> 2] : unalignedWord(batch, offset, 1) * 4294967296 + unalignedWord(batch, offset, 0);
    if (t.add(seq, batch.size(i), batch.truncated(i))) done = true;
  }
  if (done) r.finish();
}

function unalignedWord(batch, offset, k) {
  return batch.buffer.readUInt32LE(offset + 4 * k);
}

function onBatchLatency(batch) {
  const now = performance.now();
  const w = words ?? wordsOf(batch);
  const n = batch.count;
  let done = false;
  for (let i = 0; i < n; i++) {
    const offset = batch.offset(i);
    if ((offset & 3) !== 0) {
      const u = (k) => unalignedWord(batch, offset, k);
      if (t.addLat(u(1) * 4294967296 + u(0), batch.size(i), batch.truncated(i), u(2), u(3), now)) done = true;
      continue;
    }
    const at = offset >>> 2;
    if (t.addLat(w[at + 1] * 4294967296 + w[at], batch.size(i), batch.truncated(i), w[at + 2], w[at + 3], now)) done = true;
  }
  if (done) r.finish();
}
