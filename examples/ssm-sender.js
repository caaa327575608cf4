#!/usr/bin/env node
// ssm-sender: the sending half of source-specific multicast (SSM, RFC 4607). A sender does
// nothing special: receivers choose it by its unicast address, so bind to the address they will
// name (--source), and send to a group in 232.0.0.0/8 (IPv4) or ff3x::/32 (IPv6).
//
// Needs: an interface with the source address. No root. Defaults to the loopback interface and
// TTL 0 (nothing leaves this host); give --ttl 1 or more to send onto a real link.
//
//   node examples/ssm-sender.js [--group 232.1.1.1] [--port 5001] [--interface lo]
//        [--source 127.0.0.1] [--count 5] [--interval 200] [--ttl 0]
//
// Output: one line per datagram sent, e.g.
//   127.0.0.1 -> 232.1.1.1:5001 via lo, ttl 0: "ssm 1 from 127.0.0.1"
'use strict';
const { parseArgs } = require('node:util');
const { createSocket } = require('mcast');

const { values: args } = parseArgs({
  options: {
    group: { type: 'string', default: '232.1.1.1' },
    port: { type: 'string', default: '5001' },
    interface: { type: 'string', default: 'lo' },
    source: { type: 'string', default: '127.0.0.1' },
    count: { type: 'string', default: '5' },
    interval: { type: 'string', default: '200' }, // ms between datagrams
    ttl: { type: 'string', default: '0' },
  },
});

const family = args.group.includes(':') ? 6 : 4;
// Bound to the source address: that is the address receivers' joins name.
const sock = createSocket({ family, address: args.source, interface: args.interface, ttl: Number(args.ttl) });

let sent = 0;
const timer = setInterval(() => {
  sent++;
  const text = `ssm ${sent} from ${args.source}`;
  sock.send(text, args.group, Number(args.port));
  console.log(`${args.source} -> ${args.group}:${args.port} via ${args.interface}, ttl ${args.ttl}: ${JSON.stringify(text)}`);
  if (sent >= Number(args.count)) {
    clearInterval(timer);
    sock.close();
  }
}, Number(args.interval));
