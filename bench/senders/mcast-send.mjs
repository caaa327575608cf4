// Contestants "mcast sendBatch" (--batch N > 1: one sendmmsg per call, its datagrams as
// UDP_SEGMENT messages unless --no-gso) and "mcast send" (--batch 1: one sendto per call). Same options and output as bench/c/mc_send.c; see common.mjs.
import { createRequire } from 'node:module';
import { drive, fail, makePayloads, parseSenderArgs, realtimeNs, stamp } from './common.mjs';

const { createSocket } = createRequire(import.meta.url)('../../dist/index.js');
const o = parseSenderArgs();
let sock;
try {
  sock = createSocket({ interface: o.ifaceAddr, ttl: 1, gso: o.gso });
} catch (error) {
  fail('socket', error);
}
const payloads = makePayloads(o.batch, o.size);
const heads = payloads.heads;
const counters = { eagain: 0 };
const { group, port } = o;

// Sends payloads[from..] stamped with seq.., and waits for room when the queue is full (the
// refused datagrams are sent again with the same numbers, as mc_send does).
async function rest(list, listHeads, seq) {
  let done = 0;
  while (done < list.length) {
    counters.eagain++;
    await sock.writable();
    const ts = realtimeNs();
    for (let i = done; i < list.length; i++) stamp(listHeads[i], seq + i, ts);
    done += sock.sendBatch(done === 0 ? list : list.slice(done), group, port);
  }
  return list.length;
}

function sendBatch(seq) {
  const ts = realtimeNs();
  for (let i = 0; i < heads.length; i++) stamp(heads[i], seq + i, ts);
  const n = sock.sendBatch(payloads, group, port);
  return n === payloads.length ? n : rest(payloads.slice(n), heads.slice(n), seq + n).then((m) => n + m);
}

const one = payloads[0];
const oneHead = heads[0];
function sendOne(seq) {
  stamp(oneHead, seq, realtimeNs());
  return sock.send(one, group, port) ? 1 : rest([one], [oneHead], seq);
}

await drive(o, o.batch > 1 ? sendBatch : sendOne, counters);
sock.close();
