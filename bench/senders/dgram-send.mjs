// Contestant "dgram send": Node's dgram socket.send(). dgram reports completion through a
// callback, so the sender keeps at most --batch datagrams in flight (default 64): it sends a
// window, and the next one once the last send of the window has completed (sends complete in
// order). Same options and output as bench/c/mc_send.c; see common.mjs.
import dgram from 'node:dgram';
import { drive, fail, makePayloads, parseSenderArgs, realtimeNs, stamp } from './common.mjs';

const o = parseSenderArgs();
const window = o.batch > 1 ? o.batch : 64;
const payloads = makePayloads(window, o.size);
const counters = { eagain: 0 };
const sock = dgram.createSocket({ type: 'udp4' });
sock.on('error', (error) => fail('dgram', error));
await new Promise((resolve) => sock.bind(0, resolve));
try {
  sock.setMulticastInterface(o.ifaceAddr);
  sock.setMulticastTTL(1);
} catch (error) {
  fail('setMulticastInterface', error);
}
const { group, port } = o;

function sendWindow(seq) {
  return new Promise((resolve, reject) => {
    for (let i = 0; i < window; i++) {
      const p = payloads[i];
      stamp(payloads.heads[i], seq + i, realtimeNs());
      if (i < window - 1) sock.send(p, port, group);
      else sock.send(p, port, group, (error) => (error ? reject(error) : resolve(window)));
    }
  });
}

await drive({ ...o, batch: 1 }, sendWindow, counters).catch((error) => fail('send', error));
sock.close();
