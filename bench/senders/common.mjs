// Shared part of the Node.js benchmark senders. Same options, payload and JSON output as
// bench/c/mc_send.c (flat out only: --rate is not supported here):
//   {"sent","seconds","pps","cpu_seconds","eagain","batch","size"}
// Payload: u64 sequence number (LE) at 0, u64 send time (CLOCK_REALTIME ns, LE, estimated from
// performance.now() and one Date.now() anchor) at 8, filler byte i = i & 0xff after that.
// Before the measured interval the sender runs --warmup-seconds unmeasured (V8 optimises the
// loop), with sequence numbers from WARM_BASE.
import { writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { fail, usage } from '../lib/exit.mjs';

export { fail };

export const WARM_BASE = 1e9;

export function parseSenderArgs(argv = process.argv.slice(2)) {
  const { values } = parseArgs({
    args: argv,
    options: {
      group: { type: 'string' },
      port: { type: 'string' },
      'iface-addr': { type: 'string', default: '127.0.0.1' },
      size: { type: 'string', default: '64' },
      count: { type: 'string', default: '0' },
      seconds: { type: 'string', default: '0' },
      batch: { type: 'string', default: '1' },
      'warmup-seconds': { type: 'string', default: '0.3' },
      'no-gso': { type: 'boolean', default: false },
      block: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = (name, min) => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v < min) usage(`bad value for --${name}: ${values[name]}`);
    return v;
  };
  if (!values.group || !values.port) usage('--group and --port are required');
  const o = {
    group: values.group,
    port: num('port', 1),
    ifaceAddr: values['iface-addr'],
    size: num('size', 16),
    count: num('count', 0),
    seconds: num('seconds', 0),
    batch: num('batch', 1),
    warmupSeconds: num('warmup-seconds', 0),
    gso: !values['no-gso'],
    block: values.block,
  };
  if (!o.count && !o.seconds) usage('give --count and/or --seconds');
  return o;
}


/**
 * `batch` payload buffers of `size` bytes with the filler pattern, and a 32-bit view of the
 * first 16 bytes of each (the header is written through it: no per-datagram Buffer calls).
 */
export function makePayloads(batch, size) {
  const list = [];
  const heads = [];
  for (let i = 0; i < batch; i++) {
    const b = Buffer.alloc(size); // its own ArrayBuffer, offset 0
    for (let j = 16; j < size; j++) b[j] = j & 0xff;
    list.push(b);
    heads.push(new Uint32Array(b.buffer, b.byteOffset, 4));
  }
  list.heads = heads;
  return list;
}

/**
 * `batch` payloads of `size` bytes back to back in one buffer (as mc_send keeps them), with the
 * filler pattern, and stamp(from, to, seq, ts) that writes the headers of datagrams
 * [from, to) in place: sequence numbers seq + from.., all with send time `ts`, as mc_send's
 * stamp() does (the time's two words are worked out once per call, not per datagram).
 */
export function makeBlock(batch, size) {
  const block = Buffer.alloc(batch * size);
  for (let i = 0; i < batch; i++) for (let j = 16; j < size; j++) block[i * size + j] = j & 0xff;
  if (size % 4 === 0) {
    const words = new Uint32Array(block.buffer, block.byteOffset, block.length / 4);
    const step = size / 4;
    return {
      block,
      stamp(from, to, seq, ts) {
        const seqHi = Math.floor(seq / 4294967296);
        const seqLo = seq - seqHi * 4294967296;
        const tsHi = Math.floor(ts / 4294967296);
        const tsLo = ts - tsHi * 4294967296;
        if (seqLo + to < 2147483648) {
          // Every number of this call fits an int32 (the common case): integer stores only.
          const lo0 = seqLo | 0;
          const hi = seqHi | 0;
          const tl = tsLo | 0;
          const th = tsHi | 0;
          for (let i = from, w = from * step; i < to; i++, w += step) {
            words[w] = lo0 + i;
            words[w + 1] = hi;
            words[w + 2] = tl;
            words[w + 3] = th;
          }
          return;
        }
        for (let i = from, w = from * step; i < to; i++, w += step) {
          const lo = seqLo + i; // may pass 2^32: the store wraps it, the carry goes high
          words[w] = lo;
          words[w + 1] = lo >= 4294967296 ? seqHi + 1 : seqHi;
          words[w + 2] = tsLo;
          words[w + 3] = tsHi;
        }
      },
    };
  }
  const view = new DataView(block.buffer, block.byteOffset, block.length);
  return {
    block,
    stamp(from, to, seq, ts) {
      for (let i = from; i < to; i++) {
        view.setBigUint64(i * size, BigInt(seq + i), true);
        view.setBigUint64(i * size + 8, BigInt(Math.round(ts)), true);
      }
    },
  };
}

const anchorReal = Date.now() * 1e6;
const anchorPerf = performance.now();
/** CLOCK_REALTIME estimate in ns (a double: 256 ns resolution at today's epoch). */
export function realtimeNs() {
  return anchorReal + (performance.now() - anchorPerf) * 1e6;
}

/**
 * Writes sequence `seq` and send time `ts` (ns) into a payload through its 32-bit header view
 * (little endian: x86; mc_send writes le64).
 */
export function stamp(head, seq, ts) {
  head[0] = seq % 4294967296;
  head[1] = (seq / 4294967296) >>> 0;
  head[2] = ts % 4294967296;
  head[3] = (ts / 4294967296) >>> 0;
}

/**
 * stamp() for the payloads `heads[from..to)`: sequence numbers seq + from.., all with send time
 * `ts`, whose two words are worked out once (mc_send reads the clock once per call too).
 */
export function stampHeads(heads, from, to, seq, ts) {
  const tsLo = ts % 4294967296;
  const tsHi = (ts / 4294967296) >>> 0;
  for (let i = from; i < to; i++) {
    const head = heads[i];
    const s = seq + i;
    head[0] = s % 4294967296;
    head[1] = (s / 4294967296) >>> 0;
    head[2] = tsLo;
    head[3] = tsHi;
  }
}

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('the benchmark senders assume a little-endian machine');

/**
 * Runs `sendSome(seq)` (sends up to a batch starting at sequence `seq`, returns how many went
 * out, or a Promise of it when it had to wait) flat out: first the warm-up, then the measured
 * interval, then prints the JSON line.
 */
export async function drive(o, sendSome, counters) {
  if (o.warmupSeconds > 0) {
    let seq = WARM_BASE;
    const end = performance.now() + o.warmupSeconds * 1000;
    while (performance.now() < end) {
      const r = sendSome(seq);
      seq += typeof r === 'number' ? r : await r;
    }
  }
  counters.eagain = 0;
  const limit = o.count > 0 ? o.count : Infinity;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = o.seconds > 0 ? t0 + o.seconds * 1000 : Infinity;
  let sent = 0;
  while (sent < limit && performance.now() < end) {
    const r = sendSome(sent);
    sent += typeof r === 'number' ? r : await r;
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const out = {
    sent,
    seconds: Math.round(secs * 1e6) / 1e6,
    pps: Math.round((secs > 0 ? sent / secs : 0) * 10) / 10,
    cpu_seconds: (cpu.user + cpu.system) / 1e6,
    eagain: counters.eagain,
    batch: o.batch,
    size: o.size,
  };
  writeSync(1, `${JSON.stringify(out)}\n`);
}
