// Contestant "mcast message": the 'message' event (one callback per datagram, data copied out
// of the receive slab, a MessageInfo object per datagram).
// Same protocol and output as bench/c/mc_recv.c; see common.mjs.
import { performance } from 'node:perf_hooks';
import { openMcastReceiver, parseReceiverArgs, Receiver } from './common.mjs';

const opts = parseReceiverArgs();
const r = new Receiver(opts, { batch: opts.batch });
const sock = openMcastReceiver(opts, r);

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
