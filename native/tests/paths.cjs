// The receive and send paths of the addon, end to end, for `npm run valgrind` (and usable under
// any other checker): recvmmsg batches through 'batch' and 'message', truncation, timestamps,
// IPv4 and IPv6 (with its interface filter), sendto and sendmmsg (with more datagrams than one
// sendmmsg takes), joins and leaves, errors, close() inside a callback, and garbage collection of
// sockets that were never closed. Sends only to 127.0.0.1 / ::1 and groups on `lo`: run it inside
// test/harness/run-in-netns.mjs. Exits 0 when every datagram arrived as expected.
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const M = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, what, ms = 20000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function family(fam) {
  const loopback = fam === 4 ? '127.0.0.1' : '::1';
  const group = fam === 4 ? '239.99.0.1' : 'ff12::99:1';
  const rx = M.createSocket({ family: fam, port: 0, batchSize: 16, maxMessageSize: 100, timestamps: true, recvBufferSize: 4 << 20 });
  rx.join(group, { interface: 'lo' });
  const port = rx.address().port;
  const tx = M.createSocket({ family: fam, interface: 'lo' });
  let messages = 0;
  let truncated = 0;
  let stamped = 0;
  let batchCount = 0;
  rx.on('message', (data, info) => {
    messages++;
    if (info.truncated) truncated++;
    if (info.timestamp !== undefined) stamped++;
    assert.equal(data.length, Math.min(info.originalSize, 100));
  });
  rx.on('batch', (batch) => {
    for (let i = 0; i < batch.count; i++) {
      batchCount++;
      batch.data(i);
      batch.address(i);
      batch.destination(i);
      batch.dropCount(i);
    }
  });
  // sendto: multicast (IPv4: Linux carries no IPv6 multicast on lo) and unicast
  const dest = fam === 4 ? group : loopback;
  for (let i = 0; i < 50; i++) tx.send(Buffer.alloc(i % 10 === 0 ? 500 : 20, i), dest, port);
  for (let i = 0; i < 50; i++) tx.send(`u${i}`, loopback, port);
  // sendmmsg: more than UIO_MAXIOV (1024) in one call
  const many = Array.from({ length: 1500 }, (_, i) => Buffer.from(`b${i}`));
  let sent = 0;
  while (sent < many.length) {
    sent += tx.sendBatch(many.slice(sent), loopback, port);
    if (sent < many.length) await tx.writable();
  }
  const total = 100 + 1500;
  await until(() => messages === total - rx.stats().kernelDrops, `${total} datagrams (IPv${fam})`);
  assert.equal(batchCount, messages);
  assert.equal(truncated, 5);
  assert.equal(stamped, messages);
  // errors through the native paths
  assert.throws(() => rx.join(group, { interface: 'lo' }), { code: 'EADDRINUSE' });
  assert.throws(() => rx.leave(fam === 4 ? '239.99.0.2' : 'ff12::99:2', { interface: 'lo' }), { code: 'EADDRNOTAVAIL' });
  assert.throws(() => tx.setOption(fam === 4 ? M.constants.IPPROTO_IP : M.constants.IPPROTO_IPV6, 9999, Buffer.alloc(3)));
  tx.getOption(M.constants.SOL_SOCKET, M.constants.SO_RCVBUF, 64);
  rx.leave(group, { interface: 'lo' });
  // close() inside a callback with more queued
  const rx2 = M.createSocket({ family: fam, address: loopback, batchSize: 4 });
  for (let i = 0; i < 20; i++) tx.send('c', loopback, rx2.address().port);
  let seen = 0;
  rx2.on('batch', () => {
    seen++;
    rx2.close();
  });
  await until(() => rx2.closed, 'close in a callback');
  assert.equal(seen, 1);
  rx.close();
  tx.close();
  return { messages, truncated, drops: rx.stats().kernelDrops };
}

(async () => {
  const v4 = await family(4);
  const v6 = await family(6);
  // Sockets never closed, then unreachable: finalized by GC, descriptors closed.
  const fds = () => require('node:fs').readdirSync('/proc/self/fd').length;
  const before = fds();
  (() => {
    for (let i = 0; i < 50; i++) M.createSocket().join(`239.98.0.${i}`, { interface: 'lo' });
  })();
  for (let i = 0; i < 10 && fds() > before; i++) {
    if (global.gc) global.gc();
    await sleep(50);
  }
  if (global.gc) assert.equal(fds(), before);
  const addon = require('node-gyp-build').path(path.join(__dirname, '..', '..'));
  console.log(JSON.stringify({ addon, v4, v6 }));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
