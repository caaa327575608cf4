// Contestants "mcast sendBatch" (--batch N > 1: one sendmmsg per call, its datagrams as
// UDP_SEGMENT messages unless --no-gso; with --block the N datagrams lie back to back in one
// buffer, sent as sendBatch(block, group, port, size), as mc_send keeps them) and "mcast send"
// (--batch 1: one sendto per call). Same options and output as bench/c/mc_send.c; see
// common.mjs.
import { createRequire } from 'node:module';
import { drive, fail, makeBlock, makePayloads, parseSenderArgs, realtimeNs, stamp, stampHeads } from './common.mjs';

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
    stampHeads(listHeads, done, list.length, seq, realtimeNs());
    done += sock.sendBatch(done === 0 ? list : list.slice(done), group, port);
  }
  return list.length;
}

function sendBatch(seq) {
  stampHeads(heads, 0, heads.length, seq, realtimeNs());
  const n = sock.sendBatch(payloads, group, port);
  return n === payloads.length ? n : rest(payloads.slice(n), heads.slice(n), seq + n).then((m) => n + m);
}

const one = payloads[0];
const oneHead = heads[0];
function sendOne(seq) {
  stamp(oneHead, seq, realtimeNs());
  return sock.send(one, group, port) ? 1 : rest([one], [oneHead], seq);
}

const { block, stamp: stampBlock } = makeBlock(o.block ? o.batch : 0, o.size);
const { size } = o;

// Sends the block from datagram `from` on, stamped with seq + from.., waiting for room as rest().
async function restOfBlock(from, seq) {
  let done = from;
  while (done < o.batch) {
    counters.eagain++;
    await sock.writable();
    stampBlock(done, o.batch, seq, realtimeNs());
    done += sock.sendBatch(block.subarray(done * size), group, port, size);
  }
  return o.batch;
}

function sendBlock(seq) {
  stampBlock(0, o.batch, seq, realtimeNs());
  const n = sock.sendBatch(block, group, port, size);
  return n === o.batch ? n : restOfBlock(n, seq);
}

await drive(o, o.batch === 1 ? sendOne : o.block ? sendBlock : sendBatch, counters);
sock.close();
