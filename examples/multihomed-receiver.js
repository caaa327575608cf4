#!/usr/bin/env node
// multihomed-receiver: one multicast group joined on two named interfaces of a multi-homed host,
// with the interface each datagram arrived on and the kernel's drop counter at that datagram.
//
// Needs: two interfaces that are up and carry multicast (e.g. eth1 and eth2). No root: joining
// a group needs no privilege. Nothing is sent.
//
//   node examples/multihomed-receiver.js --interface eth1 --interface eth2 \
//        [--group 239.1.2.3] [--port 5000] [--seconds 10]
//
// Output: a line once both joins are made, one line per datagram, and a summary at the end:
//   joined 239.1.2.3:5000 on eth1 (index 3), eth2 (index 4)
//   eth1  10.0.1.7:41234 -> 239.1.2.3  11 bytes  drops 0  "hello eth1"
//   eth2  10.0.2.9:40001 -> 239.1.2.3  11 bytes  drops 0  "hello eth2"
//   total: 2 datagrams (eth1 1, eth2 1), kernel drops 0
//
// "drops N" is the socket's cumulative count of datagrams the kernel dropped (SO_RXQ_OVFL) when
// this one was queued: when it grows between two datagrams, that many were lost in between on
// this host, because the receive buffer was full.
'use strict';
const { parseArgs } = require('node:util');
const { createSocket, listInterfaces } = require('mcast');

const { values: args } = parseArgs({
  options: {
    interface: { type: 'string', multiple: true, default: [] },
    group: { type: 'string', default: '239.1.2.3' },
    port: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '0' }, // 0: until Ctrl-C
  },
});
if (args.interface.length < 2) {
  console.error('usage: multihomed-receiver.js --interface NAME --interface NAME [--group G] [--port P] [--seconds S]');
  process.exit(2);
}

// One socket for the group; each join names its interface, so the kernel never picks one by route.
const sock = createSocket({ port: Number(args.port), recvBufferSize: 4 << 20 });
for (const name of args.interface) sock.join(args.group, { interface: name });

// The arrival interface comes as an index with each datagram: name it once, here.
const interfaces = listInterfaces();
const names = new Map(interfaces.map((i) => [i.index, i.name]));
const perInterface = new Map(args.interface.map((name) => [name, 0]));
const joined = args.interface.map((name) => `${name} (index ${interfaces.find((i) => i.name === name).index})`);
console.log(`joined ${args.group}:${args.port} on ${joined.join(', ')}`);

let total = 0;
// 'batch' hands over each recvmmsg result in place; data(i) is a view, valid during the callback.
sock.on('batch', (batch) => {
  for (let i = 0; i < batch.count; i++) {
    const ifname = names.get(batch.interfaceIndex(i)) ?? `index ${batch.interfaceIndex(i)}`;
    perInterface.set(ifname, (perInterface.get(ifname) ?? 0) + 1);
    total++;
    const text = JSON.stringify(batch.data(i).toString('utf8', 0, Math.min(batch.size(i), 40)));
    console.log(`${ifname}  ${batch.address(i)}:${batch.port(i)} -> ${batch.destination(i)}  ${batch.size(i)} bytes  drops ${batch.dropCount(i)}  ${text}`);
  }
});

let timer;
function finish() {
  clearTimeout(timer);
  const counts = [...perInterface].map(([name, n]) => `${name} ${n}`).join(', ');
  console.log(`total: ${total} datagrams (${counts}), kernel drops ${sock.stats().kernelDrops}`);
  sock.close();
}
process.once('SIGINT', finish);
if (Number(args.seconds) > 0) timer = setTimeout(finish, Number(args.seconds) * 1000);
