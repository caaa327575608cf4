#!/usr/bin/env node
// ssm-receiver: the receiving half of source-specific multicast (SSM, RFC 4607). The join names
// the group and the one sender wanted (MCAST_JOIN_SOURCE_GROUP; the kernel sends an IGMPv3 /
// MLDv2 report for (source, group)). Datagrams from any other sender to the same group and port
// are not delivered, on the wire or at this socket.
//
// Needs: an interface where the sender's traffic arrives, and IGMPv3/MLDv2 (the Linux default;
// net.ipv4.conf.IFACE.force_igmp_version must be 0 or 3). No root. Defaults to the loopback
// interface and the defaults of ssm-sender.js, so the two run together on one host:
//
//   node examples/ssm-receiver.js [--source 127.0.0.1] [--group 232.1.1.1] [--port 5001]
//        [--interface lo] [--seconds 10]
//   node examples/ssm-sender.js            # in another terminal
//
// Output: a line once joined, one line per datagram, a summary at the end:
//   joined (127.0.0.1, 232.1.1.1) port 5001 on lo
//   127.0.0.1:40211 -> 232.1.1.1: "ssm 1 from 127.0.0.1"
//   total: 5 datagrams, all from 127.0.0.1
'use strict';
const { parseArgs } = require('node:util');
const { createSocket } = require('mcast');

const { values: args } = parseArgs({
  options: {
    source: { type: 'string', default: '127.0.0.1' },
    group: { type: 'string', default: '232.1.1.1' },
    port: { type: 'string', default: '5001' },
    interface: { type: 'string', default: 'lo' },
    seconds: { type: 'string', default: '0' }, // 0: until Ctrl-C
  },
});

const family = args.group.includes(':') ? 6 : 4;
const sock = createSocket({ family, port: Number(args.port) });
sock.join(args.group, { interface: args.interface, source: args.source });
console.log(`joined (${args.source}, ${args.group}) port ${args.port} on ${args.interface}`);

const senders = new Map(); // source address -> datagrams
sock.on('message', (data, info) => {
  senders.set(info.address, (senders.get(info.address) ?? 0) + 1);
  console.log(`${info.address}:${info.port} -> ${info.destination}: ${JSON.stringify(data.toString())}`);
});

let timer;
function finish() {
  clearTimeout(timer);
  const count = [...senders.values()].reduce((a, b) => a + b, 0);
  const from = [...senders.keys()].join(', ') || 'nobody';
  console.log(`total: ${count} datagrams, ${senders.size <= 1 ? 'all ' : ''}from ${from}`);
  sock.close();
}
process.once('SIGINT', finish);
if (Number(args.seconds) > 0) timer = setTimeout(finish, Number(args.seconds) * 1000);
