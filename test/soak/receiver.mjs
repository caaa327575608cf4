#!/usr/bin/env node
// Soak receiver: joins GROUP on IFACE, reads sequence-numbered datagrams from the soak sender
// and explains every gap: between two datagrams received in order, the sequence numbers skip
// exactly as many as the socket's kernel drop counter (SO_RXQ_OVFL, carried by each datagram,
// RecvBatch.dropCount) went up.
//
//   node test/soak/receiver.mjs GROUP PORT IFACE RCVBUF MAX_MESSAGE_SIZE
//
// Prints `ready` once joined. On the stdin line `stop SENT` it accounts for the SENT datagrams
// (the tail after the last one received must be kernel drops too), prints one JSON line and exits.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const { createSocket } = require('../../dist/index.js');

const [group, portText, iface, rcvbufText, maxText] = process.argv.slice(2);
const sock = createSocket({
  port: Number(portText),
  recvBufferSize: Number(rcvbufText),
  maxMessageSize: Number(maxText),
  batchSize: 64,
});
sock.join(group, { interface: iface });

let received = 0;
let truncated = 0;
let bigReceived = 0;
let foreign = 0;
let outOfOrder = 0;
let gaps = 0;
let gapDatagrams = 0;
let explainedGaps = 0;
const unexplained = [];
let unexplainedCount = 0;
let lastSeq = -1;
let lastDrops = 0;
let batches = 0;
let maxBatch = 0;

sock.on('batch', (batch) => {
  batches++;
  if (batch.count > maxBatch) maxBatch = batch.count;
  const buf = batch.buffer;
  for (let i = 0; i < batch.count; i++) {
    const off = batch.offset(i);
    if (batch.size(i) < 8 || buf.toString('latin1', off, off + 4) !== 'MCSK') {
      foreign++;
      continue;
    }
    received++;
    const seq = buf.readUInt32BE(off + 4);
    const drops = batch.dropCount(i);
    if (batch.truncated(i)) truncated++;
    if (batch.originalSize(i) > 64) bigReceived++;
    if (seq <= lastSeq) {
      outOfOrder++;
      continue;
    }
    const skipped = seq - lastSeq - 1;
    const dropped = drops - lastDrops;
    if (skipped > 0) {
      gaps++;
      gapDatagrams += skipped;
    }
    if (skipped === dropped) {
      if (skipped > 0) explainedGaps++;
    } else {
      unexplainedCount++;
      if (unexplained.length < 10) unexplained.push({ after: lastSeq, at: seq, skipped, dropped });
    }
    lastSeq = seq;
    lastDrops = drops;
  }
});

process.stdout.write('ready\n');

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const m = /^stop (\d+)$/.exec(line.trim());
  if (!m) return;
  const sent = Number(m[1]);
  const stats = sock.stats();
  const tail = sent - 1 - lastSeq;
  const tailDrops = stats.kernelDrops - lastDrops;
  sock.close();
  process.stdout.write(
    `${JSON.stringify({
      sent,
      received,
      kernelDrops: stats.kernelDrops,
      truncated,
      bigReceived,
      foreign,
      outOfOrder,
      gaps,
      gapDatagrams,
      explainedGaps,
      unexplainedCount,
      unexplained,
      tail,
      tailDrops,
      batches,
      maxBatch,
      stats,
    })}\n`,
  );
  rl.close();
});
