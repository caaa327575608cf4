#!/usr/bin/env node
// video-receiver: an MPEG transport stream over multicast, as IPTV and broadcast contribution
// send it: 1316-byte datagrams, each seven 188-byte TS packets. Prints the bitrate each second and
// counts continuity errors (a TS packet's 4-bit continuity counter must be one more than the last
// one of its PID: a jump means lost or reordered packets) and sync errors (a packet that does not
// start with 0x47).
//
// Needs: an interface that receives the stream. No root. Defaults to the loopback interface.
//
//   node examples/video-receiver.js [--group 239.20.0.1] [--port 1234] [--interface lo]
//        [--source 10.0.0.5] [--seconds 10]
//
// Output: one line per continuity error, one line per second with data, a summary at the end:
//   receiving 239.20.0.1:1234 on lo
//   continuity: PID 0x100 expected 5, got 12
//   1s: 8.42 Mbit/s, 800 datagrams, continuity errors 1, sync errors 0
//   total: 800 datagrams, 1052800 bytes, 4.21 Mbit/s over the run, continuity errors 1, sync errors 0
'use strict';
const { parseArgs } = require('node:util');
const { createSocket } = require('mcast');

const TS_PACKET = 188;
const SYNC_BYTE = 0x47;
const NULL_PID = 0x1fff; // stuffing: its counter means nothing

const { values: args } = parseArgs({
  options: {
    group: { type: 'string', default: '239.20.0.1' },
    port: { type: 'string', default: '1234' },
    interface: { type: 'string', default: 'lo' },
    source: { type: 'string' },
    seconds: { type: 'string', default: '0' }, // 0: until Ctrl-C
  },
});

const sock = createSocket({
  port: Number(args.port),
  batchSize: 16, // with gro each slot holds a merged receive of up to 64 KiB (16 x 64 KiB here)
  maxMessageSize: 1500, // one Ethernet frame: a 1316-byte datagram fits whole
  recvBufferSize: 8 << 20,
  // UDP GRO: where the kernel merges a run of same-size datagrams of one flow (a NIC or veth that
  // coalesces, a same-host GSO sender on lo), one receive carries up to 64 of them; mcast splits
  // them again, so the 'batch' below sees the datagrams as sent. Constant-size video is the case
  // it helps; where nothing merges it costs nothing but the larger slots.
  gro: true,
});
sock.join(args.group, args.source ? { interface: args.interface, source: args.source } : { interface: args.interface });
console.log(`receiving ${args.group}:${args.port} on ${args.interface}${args.source ? ` from ${args.source}` : ''}`);

const lastCounter = new Int8Array(NULL_PID + 1).fill(-1); // per PID; -1: not seen yet
const total = { datagrams: 0, bytes: 0, continuity: 0, sync: 0 };
let second = { datagrams: 0, bytes: 0, continuity: 0, sync: 0 };

sock.on('batch', (batch) => {
  const buf = batch.buffer;
  for (let i = 0; i < batch.count; i++) {
    const start = batch.offset(i);
    const end = start + batch.size(i);
    second.datagrams++;
    second.bytes += batch.size(i);
    for (let p = start; p + TS_PACKET <= end; p += TS_PACKET) {
      if (buf[p] !== SYNC_BYTE) {
        second.sync++;
        continue;
      }
      const pid = ((buf[p + 1] & 0x1f) << 8) | buf[p + 2];
      const hasPayload = (buf[p + 3] & 0x10) !== 0;
      const counter = buf[p + 3] & 0x0f;
      if (pid === NULL_PID || !hasPayload) continue; // the counter moves only with a payload
      const previous = lastCounter[pid];
      if (previous >= 0 && counter !== ((previous + 1) & 0x0f) && counter !== previous) {
        // (counter === previous is a legal duplicate packet)
        second.continuity++;
        console.log(`continuity: PID 0x${pid.toString(16)} expected ${(previous + 1) & 0x0f}, got ${counter}`);
      }
      lastCounter[pid] = counter;
    }
  }
});

const mbits = (bytes, seconds) => ((bytes * 8) / seconds / 1e6).toFixed(2);
const started = Date.now();
let elapsed = 0;
const tick = setInterval(() => {
  elapsed++;
  for (const key of Object.keys(total)) total[key] += second[key];
  if (second.datagrams > 0) {
    console.log(`${elapsed}s: ${mbits(second.bytes, 1)} Mbit/s, ${second.datagrams} datagrams, continuity errors ${second.continuity}, sync errors ${second.sync}`);
  }
  second = { datagrams: 0, bytes: 0, continuity: 0, sync: 0 };
  if (Number(args.seconds) > 0 && elapsed >= Number(args.seconds)) finish();
}, 1000);

function finish() {
  clearInterval(tick);
  for (const key of Object.keys(total)) total[key] += second[key];
  const seconds = (Date.now() - started) / 1000;
  console.log(`total: ${total.datagrams} datagrams, ${total.bytes} bytes, ${mbits(total.bytes, seconds)} Mbit/s over the run, continuity errors ${total.continuity}, sync errors ${total.sync}`);
  sock.close();
}
process.once('SIGINT', finish);
