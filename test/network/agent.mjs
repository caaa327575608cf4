#!/usr/bin/env node
// A host's mcast program, driven by JSON lines on stdin, one command each, answered by one JSON
// line on stdout with the same "seq": the network tests start one in every host of a topology and
// tell it what to join, leave, block and send, then ask what its sockets received.
//
//   {"seq":1,"op":"open","id":"r","options":{"port":5000,"family":4}}       -> {"seq":1,"ok":true}
//   {"seq":2,"op":"join","id":"r","group":"239.1.1.1","options":{"interface":"mcX"}}
//   {"seq":3,"op":"leave"|"blockSource"|"unblockSource", ...same, "source":"10.0.0.1"}
//   {"seq":4,"op":"send","id":"s","group":"239.1.1.1","port":5000,"count":10,"intervalMs":10,"tag":"a"}
//     ("rate":N instead of intervalMs: N datagrams per second, each at its due time)
//   {"seq":5,"op":"counts"}  -> {"seq":5,"ok":true,"counts":{"r":{"total":N,"bySource":{"10.0.0.1":N},"byTag":{"a":N}}}}
//   {"seq":6,"op":"reset"}   -> counters to zero
//   {"seq":10,"op":"events"} -> {"events":[{"id","event":"interfaceLost"|"interfaceBack",...}]}
//   {"seq":8,"op":"warnings"} -> {"warnings":[{"code","message"}]} (process warnings so far)
//   {"seq":9,"op":"eval","fn":"memberships","args":[]} -> {"value": mcast.memberships()}
//   {"seq":7,"op":"close","id":"r"}
// A failure answers {"seq":N,"error":{"code":..,"message":..}}. Prints {"ready":true} first.
// Payloads are "TAG:N" so counts can tell the sender's datagrams apart.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const mcast = require(process.env.MCAST_MODULE ?? '../../dist/index.js');

const sockets = new Map();
const warnings = [];
const events = [];
process.on('warning', (w) => warnings.push({ code: w.code ?? null, message: w.message }));
const counts = new Map();

function countsOf(id) {
  let c = counts.get(id);
  if (!c) counts.set(id, (c = { total: 0, bySource: {}, byTag: {} }));
  return c;
}

function reply(msg) {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

function sock(id) {
  const s = sockets.get(id);
  if (!s) throw Object.assign(new Error(`no socket ${id}`), { code: 'AGENT_NO_SOCKET' });
  return s;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function handle(cmd) {
  switch (cmd.op) {
    case 'open': {
      const s = mcast.createSocket(cmd.options ?? {});
      s.on('error', (e) => reply({ event: 'error', id: cmd.id, code: e.code, message: e.message }));
      s.on('message', (data, info) => {
        const c = countsOf(cmd.id);
        c.total++;
        c.bySource[info.address] = (c.bySource[info.address] ?? 0) + 1;
        const tag = data.toString('utf8').split(':')[0];
        c.byTag[tag] = (c.byTag[tag] ?? 0) + 1;
      });
      for (const name of ['interfaceLost', 'interfaceBack']) {
        s.on(name, (e) => events.push({ id: cmd.id, event: name, ...e, ...(e.error && { error: e.error.message }) }));
      }
      sockets.set(cmd.id, s);
      countsOf(cmd.id);
      return { port: s.address().port };
    }
    case 'join':
    case 'leave':
    case 'blockSource':
    case 'unblockSource': {
      const s = sock(cmd.id);
      if (cmd.op === 'join' || cmd.op === 'leave') s[cmd.op](cmd.group, cmd.options);
      else s[cmd.op](cmd.group, cmd.source, cmd.options);
      return {};
    }
    case 'send': {
      const s = sock(cmd.id);
      let sent = 0;
      // With `rate` (datagrams per second) each datagram has its own due time: a fixed rate
      // whatever the timer granularity.
      const start = performance.now();
      for (let i = 0; i < cmd.count; i++) {
        if (cmd.rate) {
          const wait = start + (i * 1000) / cmd.rate - performance.now();
          if (wait > 1) await sleep(wait);
        }
        if (s.send(Buffer.from(`${cmd.tag ?? 'x'}:${i}`), cmd.group, cmd.port)) sent++;
        else {
          await s.writable();
          i--;
          continue;
        }
        if (cmd.intervalMs) await sleep(cmd.intervalMs);
      }
      return { sent };
    }
    case 'warnings':
      return { warnings };
    case 'events':
      return { events };
    case 'setMulticastInterface':
      sock(cmd.id).setMulticastInterface(cmd.interface);
      return {};
    case 'counts':
      return { counts: Object.fromEntries(counts) };
    case 'reset':
      for (const id of counts.keys()) counts.set(id, { total: 0, bySource: {}, byTag: {} });
      return {};
    case 'close':
      sock(cmd.id).close();
      sockets.delete(cmd.id);
      return {};
    case 'eval':
      // Reads a value of the module (e.g. memberships()) for the tests of those APIs.
      return { value: await mcast[cmd.fn](...(cmd.args ?? [])) };
    default:
      throw Object.assign(new Error(`unknown op ${cmd.op}`), { code: 'AGENT_BAD_OP' });
  }
}

const rl = createInterface({ input: process.stdin });
// Commands run one after the other, in order.
let chain = Promise.resolve();
rl.on('line', (line) => {
  if (line.trim() === '') return;
  chain = chain.then(async () => {
    let cmd;
    try {
      cmd = JSON.parse(line);
      reply({ seq: cmd.seq, ok: true, ...(await handle(cmd)) });
    } catch (e) {
      reply({ seq: cmd?.seq ?? null, error: { code: e.code ?? null, message: e.message } });
    }
  });
});
rl.on('close', () => {
  for (const s of sockets.values()) s.close();
});
reply({ ready: true });
