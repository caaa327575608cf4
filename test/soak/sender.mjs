#!/usr/bin/env node
// Soak sender: sequence-numbered datagrams to GROUP:PORT out of IFACE at RATE per second (0: as
// fast as the kernel takes them) for SECONDS. Every datagram counted as sent was accepted by the
// kernel: a partial sendBatch (full send queue) waits for writability and goes on with the rest,
// so the sequence numbers 0..sent-1 are exactly what left this socket.
//
//   node test/soak/sender.mjs GROUP PORT IFACE RATE SECONDS [SIZE] [BIG_EVERY] [BIG_SIZE]
//
// Payload: 'MCSK', uint32 BE sequence number, filler; every BIG_EVERY-th datagram is BIG_SIZE bytes.
// Prints one JSON line at the end: {sent, big, seconds, pps, stats}.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { createSocket } = require('../../dist/index.js');

const [group, portText, iface, rateText, secondsText, sizeText = '64', bigEveryText = '100', bigSizeText = '1400'] =
  process.argv.slice(2);
const port = Number(portText);
const rate = Number(rateText);
const seconds = Number(secondsText);
const size = Number(sizeText);
const bigEvery = Number(bigEveryText);
const bigSize = Number(bigSizeText);
const BATCH = 64;

const sock = createSocket({ interface: iface, ttl: 1, sendBufferSize: 4 * 1024 * 1024 });
const small = Array.from({ length: BATCH }, () => Buffer.alloc(size, 0x2e));
const large = Array.from({ length: BATCH }, () => Buffer.alloc(bigSize, 0x2e));
for (const b of [...small, ...large]) b.write('MCSK', 0, 'latin1');

let next = 0;
let big = 0;
const start = process.hrtime.bigint();
const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;

async function main() {
  const list = new Array(BATCH);
  let lastYield = Date.now();
  for (;;) {
    const t = elapsed();
    if (t >= seconds) break;
    let want = BATCH;
    if (rate > 0) {
      want = Math.min(BATCH, Math.floor(rate * t) - next);
      if (want <= 0) {
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
    }
    for (let i = 0; i < want; i++) {
      const seq = next + i;
      const buf = bigEvery > 0 && seq % bigEvery === 0 ? large[i] : small[i];
      buf.writeUInt32BE(seq >>> 0, 4);
      list[i] = buf;
    }
    list.length = want;
    const n = sock.sendBatch(list, group, port);
    for (let i = 0; i < n; i++) if (bigEvery > 0 && (next + i) % bigEvery === 0) big++;
    next += n;
    if (n < want) await sock.writable();
    else if (Date.now() - lastYield > 20) {
      lastYield = Date.now();
      await new Promise((r) => setImmediate(r));
    }
  }
  const t = elapsed();
  const stats = sock.stats();
  sock.close();
  process.stdout.write(`${JSON.stringify({ sent: next, big, seconds: t, pps: Math.round(next / t), stats })}\n`);
}

main().catch((error) => {
  process.stderr.write(`soak sender: ${error.stack ?? error}\n`);
  process.exit(1);
});
