// Contestant "mcast message": the 'message' event (one callback per datagram, data copied out
// of the receive slab, a MessageInfo object per datagram).
// Same protocol and output as bench/c/mc_recv.c; see common.mjs.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { fail, parseReceiverArgs, Receiver } from './common.mjs';

// BENCH_MCAST_ROOT: another copy of the package, for A/B experiments (see lib/contestants.mjs).
const root = process.env.BENCH_MCAST_ROOT;
const { createSocket } = createRequire(import.meta.url)(root ? `${root}/dist/index.js` : '../../dist/index.js');
const opts = parseReceiverArgs();
const r = new Receiver(opts, { batch: opts.batch });

let sock;
try {
  sock = createSocket({
    port: opts.port,
    batchSize: opts.batch,
    maxMessageSize: opts.size,
    ...(opts.rcvbuf > 0 ? { recvBufferSize: opts.rcvbuf } : {}),
  });
  sock.join(opts.group, { interface: opts.ifindex || opts.ifaceAddr });
} catch (error) {
  fail('socket', error);
}
r.rcvbuf = sock.getRecvBufferSize();
r.kernelDrops = () => sock.stats().kernelDrops;
r.callbacks = () => sock.stats().batches;
r.close = () => sock.close();

const t = r.tracker;
sock.on('message', opts.latency ? onMessageLatency : onMessage);
r.start();

function onMessage(data, info) {
  if (t.add(data.readUInt32LE(4) * 4294967296 + data.readUInt32LE(0), data.length, info.truncated)) r.finish();
}

function onMessageLatency(data, info) {
  const now = performance.now();
  if (t.addLat(data.readUInt32LE(4) * 4294967296 + data.readUInt32LE(0), data.length, info.truncated,
    data.readUInt32LE(8), data.readUInt32LE(12), now)) r.finish();
}
