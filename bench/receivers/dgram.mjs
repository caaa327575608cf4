// Contestant "dgram": Node's own node:dgram socket ('message' event, one datagram per callback).
// Same protocol and output as bench/c/mc_recv.c; see common.mjs. dgram cannot read the kernel's
// drop counter of its socket: it comes from this namespace's /proc/net/udp instead.
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { fail, parseReceiverArgs, procUdpDrops, Receiver } from './common.mjs';

const opts = parseReceiverArgs();
const r = new Receiver(opts, { batch: 1 });
const t = r.tracker;

const sock = dgram.createSocket({
  type: 'udp4',
  reuseAddr: true,
  ...(opts.rcvbuf > 0 ? { recvBufferSize: opts.rcvbuf } : {}),
});
sock.on('error', (error) => fail('dgram', error));
sock.on('message', opts.latency ? onMessageLatency : onMessage);
sock.bind(opts.port, () => {
  try {
    sock.addMembership(opts.group, opts.ifaceAddr);
  } catch (error) {
    fail('addMembership', error);
  }
  r.rcvbuf = sock.getRecvBufferSize();
  r.kernelDrops = procUdpDrops(opts.port);
  r.close = () => sock.close();
  r.start();
});

function onMessage(msg) {
  if (t.add(msg.readUInt32LE(4) * 4294967296 + msg.readUInt32LE(0), msg.length, false)) r.finish();
}

function onMessageLatency(msg) {
  const now = performance.now();
  if (t.addLat(msg.readUInt32LE(4) * 4294967296 + msg.readUInt32LE(0), msg.length, false,
    msg.readUInt32LE(8), msg.readUInt32LE(12), now)) r.finish();
}
