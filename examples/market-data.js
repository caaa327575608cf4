#!/usr/bin/env node
// market-data: a sequence-gap watcher on the zero-copy 'batch' path, as a feed handler's first
// stage. Each datagram starts with a 64-bit big-endian sequence number, one more than the last.
// A jump is a gap; the kernel's drop counter says whether this host dropped those datagrams
// (receive buffer full) or they never arrived (lost upstream).
//
// Needs: an interface that receives the feed. No root; `--buffer` above net.core.rmem_max needs
// CAP_NET_ADMIN (SO_RCVBUFFORCE), else the kernel grants less and mcast warns once. Defaults to
// the loopback interface, so it is safe to start anywhere.
//
//   node examples/market-data.js [--group 239.10.0.1] [--port 31001] [--interface lo]
//        [--source 10.0.0.5] [--seconds 10] [--buffer 16777216]
//
// Output: one line per gap, one line per second with data, a summary at the end:
//   watching 239.10.0.1:31001 on lo
//   gap: expected 1001, got 1004: 3 missing, lost upstream (kernel drops +0)
//   1s: 5000 datagrams, 1 gaps, 3 missing, kernel drops 0, last seq 5003
//   total: 5000 datagrams, 1 gaps, 3 missing (0 dropped here, 3 upstream), last seq 5003
//
// (Once mcast's feeds exist, the A/B arbitration of two such lines replaces this example.)
'use strict';
const { parseArgs } = require('node:util');
const { createSocket } = require('mcast');

const { values: args } = parseArgs({
  options: {
    group: { type: 'string', default: '239.10.0.1' },
    port: { type: 'string', default: '31001' },
    interface: { type: 'string', default: 'lo' },
    source: { type: 'string' }, // a source-specific feed: only this sender is received
    seconds: { type: 'string', default: '0' }, // 0: until Ctrl-C
    buffer: { type: 'string', default: String(16 << 20) },
  },
});

// Large buffer and batch: a burst waits in the kernel queue instead of being dropped.
const sock = createSocket({ port: Number(args.port), batchSize: 256, recvBufferSize: Number(args.buffer) });
sock.join(args.group, args.source ? { interface: args.interface, source: args.source } : { interface: args.interface });
console.log(`watching ${args.group}:${args.port} on ${args.interface}${args.source ? ` from ${args.source}` : ''}`);

const total = { datagrams: 0, gaps: 0, missing: 0, droppedHere: 0 };
let second = { datagrams: 0, gaps: 0, missing: 0 };
let expected = null; // next sequence number; null until the first datagram
let lastDrops = 0;

sock.on('batch', (batch) => {
  // Reads in place: no Buffer and no string per datagram on this path.
  for (let i = 0; i < batch.count; i++) {
    if (batch.size(i) < 8) continue; // not one of ours
    const seq = batch.buffer.readBigUInt64BE(batch.offset(i));
    const drops = batch.dropCount(i);
    if (expected !== null && seq > expected) {
      const missing = Number(seq - expected);
      const here = Math.min(drops - lastDrops, missing);
      const where = here === missing ? 'dropped by this host' : here === 0 ? 'lost upstream' : `${here} dropped by this host`;
      console.log(`gap: expected ${expected}, got ${seq}: ${missing} missing, ${where} (kernel drops +${drops - lastDrops})`);
      second.gaps++;
      second.missing += missing;
      total.gaps++;
      total.missing += missing;
      total.droppedHere += here;
    }
    if (expected === null || seq >= expected) expected = seq + 1n; // an old duplicate moves nothing
    lastDrops = drops;
    second.datagrams++;
    total.datagrams++;
  }
});

const last = () => (expected === null ? 'none' : String(expected - 1n));
let elapsed = 0;
const tick = setInterval(() => {
  elapsed++;
  if (second.datagrams > 0 || second.gaps > 0) {
    console.log(`${elapsed}s: ${second.datagrams} datagrams, ${second.gaps} gaps, ${second.missing} missing, kernel drops ${sock.stats().kernelDrops}, last seq ${last()}`);
  }
  second = { datagrams: 0, gaps: 0, missing: 0 };
  if (Number(args.seconds) > 0 && elapsed >= Number(args.seconds)) finish();
}, 1000);

function finish() {
  clearInterval(tick);
  const upstream = total.missing - total.droppedHere;
  console.log(`total: ${total.datagrams} datagrams, ${total.gaps} gaps, ${total.missing} missing (${total.droppedHere} dropped here, ${upstream} upstream), last seq ${last()}`);
  sock.close();
}
process.once('SIGINT', finish);
