#!/usr/bin/env node
// mdns-browse: find DNS-SD services (RFC 6763) with multicast-dns, an unchanged npm library
// written for Node's dgram. Nothing in this program names mcast: run it through mcast/register and
// every require('dgram') in it and in multicast-dns gets mcast/dgram.
//
// Needs: `npm install mcast multicast-dns`; an interface to browse on, named by its IPv4 address
// (multicast-dns's `interface` option). No root. Defaults to 127.0.0.1, which finds only the
// services of this host; give the address of a LAN interface to browse that link. Port 5353 is
// shared (SO_REUSEADDR), so a running avahi-daemon is no obstacle.
//
//   node -r mcast/register examples/mdns-browse.js [--service _http._tcp.local] [--interface 127.0.0.1] [--seconds 3]
//   node examples/mdns-browse.js ...   (the same program on Node's own dgram)
//
// Output: which dgram the program got, a line once the query is sent, one line per service
// instance found, a summary:
//   dgram: mcast/dgram (through mcast/register)
//   browsing _http._tcp.local on 127.0.0.1 for 3 s
//   found "Printer._http._tcp.local" at printer.local:631 (10.0.1.20) txt: path=/
//   total: 1 instance of _http._tcp.local
// Without `-r mcast/register` the first line says `dgram: node:dgram` and the rest is the same.
'use strict';
const { parseArgs } = require('node:util');
const multicastDns = require('multicast-dns');

const { values: args } = parseArgs({
  options: {
    service: { type: 'string', default: '_http._tcp.local' },
    interface: { type: 'string', default: '127.0.0.1' },
    seconds: { type: 'string', default: '3' },
  },
});

// The check the README gives for mcast/register: require('dgram') is mcast/dgram under the hook.
let underRegister = false;
try {
  underRegister = require('dgram') === require('mcast/dgram');
} catch {
  // mcast is not installed: plain node:dgram
}
console.log(`dgram: ${underRegister ? 'mcast/dgram (through mcast/register)' : 'node:dgram'}`);

const mdns = multicastDns({ interface: args.interface, bind: '0.0.0.0' });

const instances = new Map(); // instance name -> { host, port, txt, addresses }
const records = { SRV: new Map(), TXT: new Map(), A: new Map() };

mdns.on('response', (response) => {
  // Answers and additional records together: responders put SRV/TXT/A in either.
  for (const rr of [...response.answers, ...(response.additionals ?? [])]) {
    if (rr.type === 'PTR' && rr.name === args.service) instances.set(rr.data, instances.get(rr.data) ?? null);
    else if (rr.type in records) records[rr.type].set(rr.name, rr.data);
  }
  for (const [name, shown] of instances) {
    const srv = records.SRV.get(name);
    if (shown !== null || srv === undefined) continue; // printed already, or not complete yet
    const address = records.A.get(srv.target) ?? '?';
    const txt = (records.TXT.get(name) ?? []).map((b) => b.toString()).join(' ');
    console.log(`found ${JSON.stringify(name)} at ${srv.target}:${srv.port} (${address})${txt ? ` txt: ${txt}` : ''}`);
    instances.set(name, true);
  }
});
mdns.on('warning', (err) => console.error(`warning: ${err.message}`));
mdns.on('error', (err) => {
  console.error(`error: ${err.message}`);
  process.exitCode = 1;
  mdns.destroy();
});

mdns.on('ready', () => {
  mdns.query({ questions: [{ name: args.service, type: 'PTR' }] });
  console.log(`browsing ${args.service} on ${args.interface} for ${args.seconds} s`);
});

setTimeout(() => {
  const n = instances.size;
  console.log(`total: ${n} instance${n === 1 ? '' : 's'} of ${args.service}`);
  mdns.destroy();
}, Number(args.seconds) * 1000);
