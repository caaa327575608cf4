/**
 * mcast/dgram against Node's own dgram: every scenario runs once with `node:dgram` and once with
 * `mcast/dgram`, records what a program would see (events and their order per socket, return
 * values, rinfo, thrown and emitted errors with class, code, message, errno, syscall, and the
 * first line of the stack), and the two records must be equal. Ports differ between the two runs,
 * so they are recorded by name. Multicast runs on `lo` (IPv4, with IP_MULTICAST_IF 127.0.0.1 as a
 * fresh namespace has no multicast route) and on a veth link of the sandbox (IPv6).
 */
import { execFile } from 'node:child_process';
import * as nodeDgram from 'node:dgram';
import { appendFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import * as mcastDgram from '../lib/dgram.js';
import { settle, uniquePort, waitFor } from './helpers.js';
import { Topology, type Link } from './harness/netns.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const execFileAsync = promisify(execFile);

type Sock = nodeDgram.Socket;
interface Dgram {
  createSocket(type: nodeDgram.SocketType | nodeDgram.SocketOptions, listener?: (msg: Buffer, rinfo: nodeDgram.RemoteInfo) => void): Sock;
}
const IMPLEMENTATIONS: Record<'node' | 'mcast', Dgram> = {
  node: nodeDgram,
  mcast: mcastDgram as unknown as Dgram,
};

/** What a scenario saw, per socket label (events of different sockets may interleave freely). */
class Recorder {
  readonly logs = new Map<string, unknown[]>();
  readonly sockets: Sock[] = [];
  readonly #ports = new Map<number, string>();

  constructor(readonly dgram: Dgram) {}

  /** Records `entry` under `label`. */
  note(label: string, ...entry: unknown[]): void {
    let log = this.logs.get(label);
    if (log === undefined) this.logs.set(label, (log = []));
    log.push(entry.length === 1 ? entry[0] : entry);
  }

  /** Calls the port `name` in the record. */
  port(port: number, name: string): number {
    this.#ports.set(port, `<${name}>`);
    return port;
  }

  /** A socket with its events recorded under `label`. */
  socket(label: string, type: nodeDgram.SocketType | nodeDgram.SocketOptions = 'udp4', listener?: boolean): Sock {
    const sock = this.dgram.createSocket(type, listener ? (msg, rinfo) => this.note(label, 'listener', msg.toString(), rinfo) : undefined);
    this.sockets.push(sock);
    this.watch(sock, label);
    return sock;
  }

  watch(sock: Sock, label: string): void {
    for (const event of ['listening', 'connect', 'close'] as const) sock.on(event, () => this.note(label, event));
    sock.on('error', (error) => this.note(label, 'error', describeError(error)));
    sock.on('message', (msg: Buffer, rinfo) => {
      // dgram hands each datagram a buffer of its own (code may use msg.buffer directly).
      const own = msg.byteOffset === 0 && msg.buffer.byteLength === msg.length;
      this.note(label, 'message', msg.length > 64 ? `${msg.length} bytes` : msg.toString(), rinfo, own ? 'own buffer' : 'shared buffer');
    });
  }

  /** Records what `fn` returned or threw. */
  call(label: string, what: string, fn: () => unknown): void {
    try {
      const value = fn();
      this.note(label, what, 'returned', value === undefined ? 'undefined' : isSocket(value) ? 'this' : value);
    } catch (error) {
      this.note(label, what, 'threw', describeError(error));
    }
  }

  /** A send callback that records (error, bytes). */
  sent(label: string, what: string): (error: Error | null, bytes?: number) => void {
    return (error, bytes) => this.note(label, what, error === null ? null : describeError(error), bytes);
  }

  count(label: string, event: string): number {
    return (this.logs.get(label) ?? []).filter((e) => Array.isArray(e) ? e[0] === event : e === event).length;
  }

  async until(label: string, event: string, count = 1): Promise<void> {
    await waitFor(() => this.count(label, event) >= count, `${count} '${event}' on ${label}`, 3000);
  }

  /** The record with ports replaced by their names. */
  result(): unknown {
    const rename = (value: unknown): unknown => {
      if (typeof value === 'number') return this.#ports.get(value) ?? value;
      if (typeof value === 'string') {
        return value.replace(/(?<=[:\s(])(\d{4,5})\b/g, (text) => this.#ports.get(Number(text)) ?? text);
      }
      if (Array.isArray(value)) return value.map(rename);
      if (value !== null && typeof value === 'object') {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rename(v)]));
      }
      return value;
    };
    return Object.fromEntries([...this.logs].map(([label, log]) => [label, rename(log)]));
  }

  close(): void {
    for (const sock of this.sockets) {
      try {
        sock.close();
      } catch {
        // already closed
      }
    }
  }
}

function isSocket(value: unknown): boolean {
  return value instanceof nodeDgram.Socket || value instanceof mcastDgram.Socket;
}

/**
 * The first line of the stack as Node prints it. The test runner installs its own
 * Error.prepareStackTrace, which Node's own errors would otherwise be formatted with.
 */
function stackHead(error: Error): string {
  const saved = Error.prepareStackTrace;
  delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
  try {
    return String(error.stack).split('\n')[0] ?? '';
  } finally {
    if (saved !== undefined) Error.prepareStackTrace = saved;
  }
}

/** Everything a program can look at on an error. */
function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { notAnError: String(error) };
  const e = error as Error & Record<string, unknown>;
  const out: Record<string, unknown> = {
    kind: e instanceof RangeError ? 'RangeError' : e instanceof TypeError ? 'TypeError' : 'Error',
    name: e.name,
    message: e.message,
    asString: String(e),
    stackHead: stackHead(e),
    ownKeys: Object.keys(e).sort(),
  };
  for (const key of ['code', 'errno', 'syscall', 'address', 'port', 'info', 'hostname'] as const) {
    if (e[key] !== undefined) out[key] = e[key];
  }
  return out;
}

type Scenario = (r: Recorder) => Promise<void>;

/** Runs `scenario` with both implementations and expects the same record. */
async function compare(scenario: Scenario): Promise<unknown> {
  const results: Record<string, unknown> = {};
  for (const [name, dgram] of Object.entries(IMPLEMENTATIONS)) {
    const r = new Recorder(dgram);
    try {
      await scenario(r);
      await settle(20);
    } catch (error) {
      throw new Error(`with ${name === 'node' ? 'node:dgram' : 'mcast/dgram'}: ${String(error)}`, { cause: error });
    } finally {
      r.close();
    }
    results[name] = r.result();
  }
  // DGRAM_COMPAT_DUMP=file: append what node:dgram did, to read the scenarios' records.
  const dump = process.env.DGRAM_COMPAT_DUMP;
  if (dump) appendFileSync(dump, `${JSON.stringify({ test: expect.getState().currentTestName, node: results.node }, null, 1)}\n`);
  expect(results.mcast).toEqual(results.node);
  return results.node;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const LOOPBACK_GROUP = '239.77.0.1';

/** Binds `sock` to `port` (0: ephemeral) and names its port `name`. */
async function bound(r: Recorder, sock: Sock, name: string, port = 0, address?: string): Promise<number> {
  await new Promise<void>((resolve) => sock.bind(port, address, resolve));
  return r.port(sock.address().port, name);
}

describe('mcast/dgram matches node:dgram', () => {
  it('createSocket(): argument errors', async () => {
    await compare(async (r) => {
      const cases: [string, unknown][] = [
        ['bad type', 'udp5'],
        ['no type', {}],
        ['lookup not a function', { type: 'udp4', lookup: 5 }],
        ['recvBufferSize string', { type: 'udp4', recvBufferSize: 'x' }],
        ['recvBufferSize negative', { type: 'udp4', recvBufferSize: -5 }],
        ['sendBufferSize fraction', { type: 'udp4', sendBufferSize: 1.5 }],
        ['bad signal', { type: 'udp4', signal: {} }],
      ];
      for (const [what, arg] of cases) r.call('create', what, () => r.dgram.createSocket(arg as nodeDgram.SocketOptions).close());
      const s = r.socket('s', 'udp6');
      r.note('s', 'type', (s as unknown as { type: string }).type);
    });
  });

  it('an unbound socket: what each method does before bind', async () => {
    await compare(async (r) => {
      const s = r.socket('s');
      r.call('s', 'address', () => s.address());
      r.call('s', 'setTTL(5)', () => s.setTTL(5));
      r.call('s', 'setTTL(0)', () => s.setTTL(0));
      r.call('s', 'setMulticastTTL(5)', () => s.setMulticastTTL(5));
      r.call('s', 'setMulticastTTL(300)', () => s.setMulticastTTL(300));
      r.call('s', 'setMulticastLoopback', () => s.setMulticastLoopback(true));
      r.call('s', 'setBroadcast', () => s.setBroadcast(true));
      r.call('s', 'setMulticastInterface', () => s.setMulticastInterface('127.0.0.1'));
      r.call('s', 'setMulticastInterface(bad)', () => s.setMulticastInterface('nonsense'));
      r.call('s', 'getRecvBufferSize', () => s.getRecvBufferSize());
      r.call('s', 'setSendBufferSize', () => s.setSendBufferSize(100000));
      r.call('s', 'remoteAddress', () => s.remoteAddress());
      r.call('s', 'disconnect', () => s.disconnect());
      r.call('s', 'getSendQueueSize', () => s.getSendQueueSize());
      r.call('s', 'getSendQueueCount', () => s.getSendQueueCount());
      r.call('s', 'ref', () => s.ref());
      r.call('s', 'unref', () => s.unref());
      r.call('s', 'close()', () => s.close());
      await r.until('s', 'close');
    });
  });

  it('bind(): every argument form, and when listening and the callback come', async () => {
    await compare(async (r) => {
      const fixed = r.port(uniquePort(), 'fixed');
      const forms: [string, (s: Sock, done: () => void) => unknown][] = [
        ['bind(port, address, cb)', (s, done) => s.bind(fixed, '127.0.0.1', done)],
        ['bind(cb)', (s, done) => s.bind(done)],
        ['bind(port, cb)', (s, done) => s.bind(0, done)],
        ['bind({ port, address }, cb)', (s, done) => s.bind({ port: 0, address: '127.0.0.1', exclusive: true }, done)],
        ['bind({}, cb)', (s, done) => s.bind({}, done)],
        ["bind('0', cb)", (s, done) => (s.bind as (...a: unknown[]) => Sock)('0', done)],
        ['bind(0, localhost, cb)', (s, done) => s.bind(0, 'localhost', done)],
      ];
      for (const [what, bind] of forms) {
        const s = r.socket(what);
        let called = false;
        r.call(what, 'bind', () => bind(s, () => {
          called = true;
          r.note(what, 'callback', s.address().family, s.address().address);
        }));
        r.note(what, 'after bind returned');
        await waitFor(() => called, what);
        r.port(s.address().port, 'ephemeral');
        r.call(what, 'address', () => s.address());
        r.call(what, 'bind again', () => s.bind(0));
      }
      const plain = r.socket('bind() with a listening listener');
      plain.bind();
      await r.until('bind() with a listening listener', 'listening');
    });
  });

  it('bind(): errors go to the error event, and the socket can bind again', async () => {
    await compare(async (r) => {
      const a = r.socket('a');
      const port = await bound(r, a, 'taken', 0, '127.0.0.1');
      const b = r.socket('b');
      b.bind(port, '127.0.0.1');
      await r.until('b', 'error');
      r.call('b', 'address after failed bind', () => b.address());
      b.bind(0, '127.0.0.1');
      await r.until('b', 'listening');

      const c = r.socket('c');
      c.bind(0, '10.9.9.9');
      await r.until('c', 'error');
      c.bind(0, '::1');
      await r.until('c', 'error', 2);
      r.call('c', 'bind(0, 12345)', () => (c.bind as (...a: unknown[]) => Sock)(0, 12345));

      const d = r.socket('d', { type: 'udp4', reuseAddr: true });
      const e = r.socket('e', { type: 'udp4', reuseAddr: true });
      const shared = await bound(r, d, 'shared');
      e.bind(shared);
      await r.until('e', 'listening');

      const f = r.socket('f');
      f.close();
      r.call('f', 'bind after close', () => f.bind(0));
      const g = r.socket('g');
      g.bind(0);
      g.close();
      await r.until('g', 'close');
    });
  });

  it('send(): every argument form, implicit bind, callbacks and what arrives', async () => {
    await compare(async (r) => {
      const rx = r.socket('rx');
      const port = await bound(r, rx, 'rx', 0, '127.0.0.1');
      const tx = r.socket('tx');
      tx.on('listening', () => r.port(tx.address().port, 'tx'));
      const data = Buffer.from('0123456789');
      const calls: [string, () => unknown][] = [
        ['send(buffer, port, address, cb)', () => tx.send(data, port, '127.0.0.1', r.sent('tx', 'cb 1'))],
        ['send(string, port, cb)', () => tx.send('two', port, r.sent('tx', 'cb 2'))],
        ['send(list, port, address, cb)', () => tx.send(['th', Buffer.from('r'), new Uint8Array([101, 101])], port, '127.0.0.1', r.sent('tx', 'cb 3'))],
        ['send(buffer, offset, length, port, address, cb)', () => tx.send(data, 2, 3, port, '127.0.0.1', r.sent('tx', 'cb 4'))],
        ['send(string, offset, length, port, cb)', () => tx.send('abcdef', 1, 2, port, r.sent('tx', 'cb 5'))],
        ['send(DataView, port)', () => tx.send(new DataView(data.buffer, data.byteOffset + 5, 5), port)],
        ['send(empty list, port, cb)', () => tx.send([], port, r.sent('tx', 'cb 7'))],
        ['send(Uint16Array, port, address)', () => tx.send(new Uint16Array([0x4141]), port, '127.0.0.1')],
        ["send(string, '" + 'port' + "' as string, cb)", () => (tx.send as (...a: unknown[]) => void)('nine', String(port), r.sent('tx', 'cb 9'))],
      ];
      for (const [what, call] of calls) r.call('tx', what, call);
      await r.until('rx', 'message', 9);
      const big = Buffer.alloc(60000, 7);
      tx.send(big, port, '127.0.0.1', r.sent('tx', 'cb big'));
      await r.until('rx', 'message', 10);
      r.call('tx', 'getSendQueueCount', () => tx.getSendQueueCount());
    });
  });

  it('send(): argument errors are thrown', async () => {
    await compare(async (r) => {
      const s = r.socket('s');
      const send = s.send as (...a: unknown[]) => void;
      const cases: [string, unknown[]][] = [
        ['number as data', [5, 1234, '127.0.0.1']],
        ['object as data', [{}, 1234]],
        ['list with a number', [['a', 5], 1234]],
        ['no port', ['x']],
        ['port 0', ['x', 0, '127.0.0.1']],
        ['port 70000', ['x', 70000]],
        ['port as text', ['x', 'abc']],
        ['address number', ['x', 1234, 5]],
        ['offset beyond', [Buffer.alloc(3), 5, 1, 1234, '127.0.0.1']],
        ['length beyond', [Buffer.alloc(3), 1, 5, 1234, '127.0.0.1']],
        ['negative port', ['x', -1]],
      ];
      for (const [what, args] of cases) r.call('s', what, () => send.apply(s, args));
      const sendto = (s as unknown as { sendto: (...a: unknown[]) => void }).sendto;
      r.call('s', 'sendto with bad offset', () => sendto.call(s, 'x', 'a', 1, 1, '127.0.0.1'));
      s.close();
      r.call('s', 'send after close', () => s.send('x', 1234, '127.0.0.1'));
    });
  });

  it('send(): system errors go to the callback, or nowhere', async () => {
    await compare(async (r) => {
      const s = r.socket('s');
      await bound(r, s, 's');
      s.send('x', 1234, '239.1.2.3', r.sent('s', 'multicast without a route'));
      s.send('x', 1234, '239.1.2.3');
      s.send('x', 1234, '::1', r.sent('s', 'IPv6 address on udp4'));
      s.send(Buffer.alloc(70000), 1234, '127.0.0.1', r.sent('s', 'too large'));
      s.send('x', 1234, '10.9.9.9', r.sent('s', 'no route'));
      await r.until('s', 'no route');
      await settle(50);
      const six = r.socket('six', 'udp6');
      six.send('x', 1234, '127.0.0.1', r.sent('six', 'IPv4 address on udp6'));
      await r.until('six', 'IPv4 address on udp6');
    });
  });

  it('send() and bind() with a custom lookup: names, failures without a callback', async () => {
    await compare(async (r) => {
      const lookup = (hostname: string, family: number, callback: (e: Error | null, a: string, f: number) => void): void => {
        r.note('lookup', hostname, family);
        if (hostname === 'here') callback(null, '127.0.0.1', 4);
        else if (isIP(hostname) !== 0) callback(null, hostname, isIP(hostname));
        else callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }), '', 0);
      };
      const rx = r.socket('rx', { type: 'udp4', lookup } as nodeDgram.SocketOptions);
      rx.bind(0, 'here');
      await r.until('rx', 'listening');
      const port = r.port(rx.address().port, 'rx');
      const tx = r.socket('tx', { type: 'udp4', lookup } as nodeDgram.SocketOptions);
      tx.on('listening', () => r.port(tx.address().port, 'tx'));
      tx.send('by name', port, 'here', r.sent('tx', 'sent by name'));
      await r.until('rx', 'message');
      tx.send('x', port, 'nowhere', r.sent('tx', 'unknown name'));
      await r.until('tx', 'unknown name');
      tx.send('x', port, 'nowhere');
      await r.until('tx', 'error');
      const bad = r.socket('bad', { type: 'udp4', lookup } as nodeDgram.SocketOptions);
      bad.bind(0, 'nowhere');
      await r.until('bad', 'error');
    });
  });

  it('send() before bind: queued until listening, close() waits for them too', async () => {
    await compare(async (r) => {
      const rx = r.socket('rx');
      const port = await bound(r, rx, 'rx', 0, '127.0.0.1');
      const tx = r.socket('tx');
      tx.on('listening', () => r.port(tx.address().port, 'tx'));
      tx.send('one', port, '127.0.0.1', r.sent('tx', 'cb one'));
      tx.send('two', port, '127.0.0.1', r.sent('tx', 'cb two'));
      // close() waits for listening too, and then runs right after the queued sends: their
      // lookups have not answered yet, so nothing is sent.
      r.call('tx', 'close while binding', () => tx.close(() => r.note('tx', 'close callback')));
      r.note('tx', 'after close returned');
      await r.until('tx', 'close');
      await settle(100);
      r.note('rx', 'messages', r.count('rx', 'message'));
    });
  });

  it('the listener given to createSocket() gets the messages', async () => {
    await compare(async (r) => {
      const rx = r.socket('rx', 'udp4', true);
      const port = await bound(r, rx, 'rx', 0, '127.0.0.1');
      const tx = r.socket('tx');
      await bound(r, tx, 'tx');
      tx.send('hello', port, '127.0.0.1');
      await r.until('rx', 'listener');
    });
  });

  it('close(): events, callback, and everything after it', async () => {
    await compare(async (r) => {
      const s = r.socket('s');
      await bound(r, s, 's');
      r.call('s', 'close(cb)', () => s.close(() => r.note('s', 'close callback')));
      r.note('s', 'after close returned');
      r.call('s', 'close again', () => s.close());
      r.call('s', 'address', () => s.address());
      r.call('s', 'addMembership', () => s.addMembership(LOOPBACK_GROUP));
      r.call('s', 'setMulticastInterface', () => s.setMulticastInterface('127.0.0.1'));
      r.call('s', 'remoteAddress', () => s.remoteAddress());
      r.call('s', 'ref', () => s.ref());
      r.call('s', 'unref', () => s.unref());
      await r.until('s', 'close');
      const unbound = r.socket('unbound');
      unbound.close();
      await r.until('unbound', 'close');
      const aborted = new AbortController();
      const withSignal = r.socket('signal', { type: 'udp4', signal: aborted.signal });
      await bound(r, withSignal, 'signal');
      aborted.abort();
      await r.until('signal', 'close');
    });
  });

  it('IPv4 multicast on lo: join, send, receive, leave', async () => {
    await compare(async (r) => {
      const port = r.port(uniquePort(), 'group port');
      const rx = r.socket('rx', { type: 'udp4', reuseAddr: true });
      await bound(r, rx, 'group port', port);
      r.call('rx', 'addMembership', () => rx.addMembership(LOOPBACK_GROUP, '127.0.0.1'));
      r.call('rx', 'addMembership twice', () => rx.addMembership(LOOPBACK_GROUP, '127.0.0.1'));
      // IP_MULTICAST_ALL stays on, as with dgram: a socket of the port that joined nothing hears the group too.
      const other = r.socket('other', { type: 'udp4', reuseAddr: true });
      await bound(r, other, 'group port', port);

      const tx = r.socket('tx');
      await bound(r, tx, 'tx');
      r.call('tx', 'setMulticastInterface', () => tx.setMulticastInterface('127.0.0.1'));
      r.call('tx', 'setMulticastTTL', () => tx.setMulticastTTL(2));
      r.call('tx', 'setMulticastLoopback', () => tx.setMulticastLoopback(true));
      r.call('tx', 'setTTL', () => tx.setTTL(64));
      r.call('tx', 'setBroadcast', () => tx.setBroadcast(true));
      tx.send('to the group', port, LOOPBACK_GROUP, r.sent('tx', 'sent'));
      await r.until('rx', 'message');
      await r.until('other', 'message');

      r.call('rx', 'dropMembership', () => rx.dropMembership(LOOPBACK_GROUP, '127.0.0.1'));
      r.call('rx', 'dropMembership again', () => rx.dropMembership(LOOPBACK_GROUP, '127.0.0.1'));
      tx.send('after leaving', port, LOOPBACK_GROUP, r.sent('tx', 'sent after leaving'));
      await r.until('tx', 'sent after leaving');
      await settle(100);
      r.note('rx', 'messages', r.count('rx', 'message'));

      r.call('tx', 'setMulticastInterface(0.0.0.0)', () => tx.setMulticastInterface('0.0.0.0'));
      r.call('tx', 'setMulticastInterface(non-local)', () => tx.setMulticastInterface('10.9.9.9'));
      r.call('tx', 'setMulticastInterface(number)', () => (tx.setMulticastInterface as (a: unknown) => void)(5));
    });
  });

  it('memberships: argument and system errors, and the implicit bind of libuv', async () => {
    await compare(async (r) => {
      const s = r.socket('s');
      await bound(r, s, 's');
      const add = s.addMembership as (...a: unknown[]) => void;
      const cases: [string, unknown[]][] = [
        ['no group', []],
        ['empty group', ['']],
        ['unicast group', ['10.1.2.3']],
        ['not an address', ['not.an.address']],
        ['interface not local', [LOOPBACK_GROUP, '10.9.9.9']],
        ['interface not an address', [LOOPBACK_GROUP, 'lo']],
        ['IPv6 group on udp4', ['ff02::1']],
      ];
      for (const [what, args] of cases) r.call('s', what, () => add.apply(s, args));
      r.call('s', 'drop a group never joined', () => s.dropMembership('239.77.0.99'));
      const ssm = s.addSourceSpecificMembership as (...a: unknown[]) => void;
      const ssmCases: [string, unknown[]][] = [
        ['source not a string', [5, '232.1.1.1']],
        ['group not a string', ['127.0.0.1', null]],
        ['source not an address', ['x', '232.1.1.1']],
        ['group not an address', ['127.0.0.1', 'x']],
        ['source of the other family', ['::1', '232.1.1.1']],
        ['interface not an address', ['127.0.0.1', '232.1.1.1', 'lo']],
      ];
      for (const [what, args] of ssmCases) r.call('s', `ssm ${what}`, () => ssm.apply(s, args));
      r.call('s', 'drop an SSM never joined', () => s.dropSourceSpecificMembership('127.0.0.1', '232.1.1.9', '127.0.0.1'));

      // libuv binds an unbound socket for a membership change; dgram then refuses bind().
      const early = r.socket('early');
      r.call('early', 'addMembership before bind', () => early.addMembership(LOOPBACK_GROUP, '127.0.0.1'));
      r.call('early', 'address', () => ({ ...early.address(), port: early.address().port > 0 }));
      early.bind(0);
      await r.until('early', 'error');
      const early2 = r.socket('early bad group');
      r.call('early bad group', 'addMembership of a bad group', () => early2.addMembership('x'));
      r.call('early bad group', 'address', () => early2.address());
    });
  });

  it('source-specific multicast on lo', async () => {
    await compare(async (r) => {
      const port = r.port(uniquePort(), 'group port');
      const group = '232.77.0.1';
      const rx = r.socket('rx', { type: 'udp4', reuseAddr: true });
      await bound(r, rx, 'group port', port);
      r.call('rx', 'join 127.0.0.1', () => rx.addSourceSpecificMembership('127.0.0.1', group, '127.0.0.1'));
      const tx = r.socket('tx');
      await bound(r, tx, 'tx');
      tx.setMulticastInterface('127.0.0.1');
      tx.send('from the source', port, group);
      await r.until('rx', 'message');
      r.call('rx', 'leave', () => rx.dropSourceSpecificMembership('127.0.0.1', group, '127.0.0.1'));
      r.call('rx', 'join another source', () => rx.addSourceSpecificMembership('127.0.0.9', group, '127.0.0.1'));
      tx.send('not from that source', port, group, r.sent('tx', 'sent'));
      await r.until('tx', 'sent');
      await settle(100);
      r.note('rx', 'messages', r.count('rx', 'message'));
    });
  });

  it('buffer sizes and TTLs', async () => {
    await compare(async (r) => {
      const s = r.socket('s', { type: 'udp4', recvBufferSize: 100000, sendBufferSize: 50000 });
      await bound(r, s, 's');
      r.call('s', 'getRecvBufferSize (from the option)', () => s.getRecvBufferSize());
      r.call('s', 'getSendBufferSize (from the option)', () => s.getSendBufferSize());
      r.call('s', 'setRecvBufferSize', () => s.setRecvBufferSize(65536));
      r.call('s', 'getRecvBufferSize', () => s.getRecvBufferSize());
      r.call('s', 'setRecvBufferSize(-1)', () => s.setRecvBufferSize(-1));
      r.call('s', 'setRecvBufferSize(2 ** 31)', () => s.setRecvBufferSize(2 ** 31));
      r.call('s', "setSendBufferSize('1')", () => (s.setSendBufferSize as (a: unknown) => void)('1'));
      for (const ttl of [1, 255, 0, 256, 1.5, Number.NaN]) r.call('s', `setTTL(${ttl})`, () => s.setTTL(ttl));
      for (const ttl of [0, 255, 256, -1]) r.call('s', `setMulticastTTL(${ttl})`, () => s.setMulticastTTL(ttl));
      r.call('s', "setTTL('5')", () => (s.setTTL as (a: unknown) => number)('5'));
      r.call('s', 'setMulticastLoopback(0)', () => (s.setMulticastLoopback as (a: unknown) => boolean)(0));
      r.call('s', 'setBroadcast(false)', () => s.setBroadcast(false));
      const six = r.socket('six', 'udp6');
      await bound(r, six, 'six', 0, '::1');
      r.call('six', 'setTTL', () => six.setTTL(7));
      r.call('six', 'setMulticastTTL', () => six.setMulticastTTL(7));
      r.call('six', 'setMulticastInterface(::)', () => six.setMulticastInterface('::'));
    });
  });

  it('connect(): events, remoteAddress, sending without an address, disconnect', async () => {
    await compare(async (r) => {
      const peer = r.socket('peer');
      const port = await bound(r, peer, 'peer', 0, '127.0.0.1');
      const stranger = r.socket('stranger');
      await bound(r, stranger, 'stranger', 0, '127.0.0.1');

      const c = r.socket('c');
      c.on('listening', () => r.port(c.address().port, 'c'));
      r.call('c', 'connect()', () => c.connect(port, '127.0.0.1', () => r.note('c', 'connect callback')));
      r.call('c', 'connect while connecting', () => c.connect(port, '127.0.0.1'));
      await r.until('c', 'connect');
      r.call('c', 'remoteAddress', () => c.remoteAddress());
      r.call('c', 'address', () => c.address());
      c.send('connected send', r.sent('c', 'sent'));
      c.send(Buffer.from('0123456789'), 2, 3, r.sent('c', 'sent slice'));
      r.call('c', 'send with a port', () => c.send('x', port));
      r.call('c', 'send with an address', () => c.send('x', 0, 1, port, '127.0.0.1'));
      await r.until('peer', 'message', 2);
      // A connected socket hears its peer only.
      stranger.send('from a stranger', c.address().port, '127.0.0.1');
      peer.send('from the peer', c.address().port, '127.0.0.1');
      await r.until('c', 'message');
      await settle(50);
      r.call('c', 'disconnect', () => c.disconnect());
      r.call('c', 'disconnect again', () => c.disconnect());
      r.call('c', 'remoteAddress after disconnect', () => c.remoteAddress());
      r.call('c', 'send without an address', () => c.send('x'));

      const bad = r.socket('bad');
      r.call('bad', 'connect(0)', () => bad.connect(0));
      r.call('bad', 'connect(port, 5)', () => (bad.connect as (...a: unknown[]) => void)(port, 5));
      const implicit = r.socket('implicit');
      implicit.connect(port, () => r.note('implicit', 'remote', implicit.remoteAddress()));
      await r.until('implicit', 'connect');
      const refused = r.socket('refused');
      refused.connect(port, '::1');
      await r.until('refused', 'error');
      r.call('refused', 'state', () => refused.remoteAddress());
    });
  });

  it('connect() to a closed port: the ICMP error comes back as an error event', async () => {
    await compare(async (r) => {
      const gone = r.socket('gone');
      const port = await bound(r, gone, 'gone', 0, '127.0.0.1');
      gone.close();
      await r.until('gone', 'close');
      const c = r.socket('c');
      c.connect(port, '127.0.0.1');
      await r.until('c', 'connect');
      c.send('to nobody', r.sent('c', 'sent'));
      await r.until('c', 'error');
    });
  });

  it('udp6: dual-stack by default, ipv6Only on request', async () => {
    await compare(async (r) => {
      const dual = r.socket('dual', 'udp6');
      const dualPort = await bound(r, dual, 'dual');
      r.call('dual', 'address', () => dual.address());
      const only = r.socket('only', { type: 'udp6', ipv6Only: true });
      const onlyPort = await bound(r, only, 'only');
      const v4 = r.socket('v4');
      await bound(r, v4, 'v4');
      v4.send('over IPv4', dualPort, '127.0.0.1');
      v4.send('over IPv4', onlyPort, '127.0.0.1');
      await r.until('dual', 'message');
      const v6 = r.socket('v6', 'udp6');
      await bound(r, v6, 'v6', 0, '::1');
      v6.send('over IPv6', dualPort, '::1', r.sent('v6', 'sent'));
      v6.send('over IPv6', onlyPort, '::1');
      v6.send('mapped', dualPort, '::ffff:127.0.0.1', r.sent('v6', 'sent to mapped'));
      await r.until('only', 'message');
      await r.until('dual', 'message', 2);
      await settle(50);
    });
  });
});

describe('mcast/dgram matches node:dgram over a veth link (IPv6 multicast, scopes)', () => {
  let net: Topology;
  let link: Link;
  beforeAll(async () => {
    net = await Topology.create('dgc');
    const peer = await net.host('peer');
    link = await net.link(net.self, 'mcdg0', peer, 'mcdgp0', { selfAddr: '10.77.0.1/24', peerAddr: '10.77.0.2/24' });
  });
  afterAll(async () => {
    await net.destroy();
  });

  it('IPv6 multicast: join with a scope, send out an interface, rinfo with the zone', async () => {
    await compare(async (r) => {
      const port = r.port(uniquePort(), 'group port');
      const ifname = link.self.ifname;
      const group = 'ff12::7701';
      const rx = r.socket('rx', { type: 'udp6', reuseAddr: true });
      await bound(r, rx, 'group port', port);
      r.call('rx', 'addMembership', () => rx.addMembership(group, `::%${ifname}`));
      r.call('rx', 'addMembership with an unknown zone', () => rx.addMembership('ff12::7702', '::%nosuchif'));
      r.call('rx', 'addMembership with a bad interface', () => rx.addMembership('ff12::7703', 'x'));
      const tx = r.socket('tx', 'udp6');
      await bound(r, tx, 'tx');
      r.call('tx', 'setMulticastInterface', () => tx.setMulticastInterface(`::%${ifname}`));
      r.call('tx', 'setMulticastLoopback', () => tx.setMulticastLoopback(true));
      r.call('tx', 'setMulticastTTL', () => tx.setMulticastTTL(1));
      tx.send('ipv6 multicast', port, group, r.sent('tx', 'sent'));
      await r.until('rx', 'message');
      tx.send('to a scoped address', port, `${group}%${ifname}`, r.sent('tx', 'sent scoped'));
      await r.until('rx', 'message', 2);
      r.call('rx', 'dropMembership', () => rx.dropMembership(group, `::%${ifname}`));

      const ssmGroup = 'ff32::8000:7701';
      const ssm = r.socket('ssm', { type: 'udp6', reuseAddr: true });
      const ssmPort = await bound(r, ssm, 'ssm port');
      r.call('ssm', 'addSourceSpecificMembership', () =>
        ssm.addSourceSpecificMembership(link.self.linkLocal, ssmGroup, `::%${ifname}`));
      r.call('ssm', 'SSM with an IPv4 source', () => ssm.addSourceSpecificMembership('127.0.0.1', ssmGroup));
      tx.send('ssm', ssmPort, ssmGroup, r.sent('tx', 'sent ssm'));
      await r.until('ssm', 'message');
      r.call('ssm', 'dropSourceSpecificMembership', () =>
        ssm.dropSourceSpecificMembership(link.self.linkLocal, ssmGroup, `::%${ifname}`));
    });
  });

  it('IPv6 zones as libuv reads them: bind, address(), send and connect to a scoped address', async () => {
    await compare(async (r) => {
      const ifname = link.self.ifname;
      const ll = link.self.linkLocal;
      // An interface name becomes sin6_scope_id; a number after % is a name to libuv on Linux
      // (if_nametoindex), so `%<index>` and an unknown name mean no zone: EINVAL for a
      // link-local address, ignored for the wildcard.
      const tries: [string, string][] = [
        ['wildcard with a zone', `::%${ifname}`],
        ['link-local with its zone', `${ll}%${ifname}`],
        ['link-local with a numeric zone', `${ll}%${link.self.ifindex}`],
        ['link-local with an unknown zone', `${ll}%nosuchif`],
        ['link-local without a zone', ll],
        ['wildcard with a numeric zone', `::%${link.self.ifindex}`],
        ['an empty zone', `${ll}%`],
      ];
      for (const [what, address] of tries) {
        const s = r.socket(what, 'udp6');
        s.on('listening', () => r.note(what, 'address', s.address().address, s.address().family));
        s.bind(0, address);
        await waitFor(() => r.count(what, 'listening') + r.count(what, 'error') > 0, what);
      }
      const rx = r.socket('rx', 'udp6');
      const port = await bound(r, rx, 'rx', 0, `${ll}%${ifname}`);
      const tx = r.socket('tx', 'udp6');
      await bound(r, tx, 'tx', 0, `${ll}%${ifname}`);
      tx.send('to a scoped address', port, `${ll}%${ifname}`, r.sent('tx', 'sent'));
      await r.until('rx', 'message');
      // Connected, from a socket bound to the scoped address and from one on the wildcard (where
      // the destination's scope is all the kernel has to go on).
      const connected = async (label: string, bindAddress: string | undefined, count: number): Promise<void> => {
        const c = r.socket(label, 'udp6');
        await bound(r, c, label, 0, bindAddress);
        c.connect(port, `${ll}%${ifname}`, () => r.note(label, 'remote', c.remoteAddress()));
        await r.until(label, 'connect');
        c.send(`connected from ${label}`, r.sent(label, 'sent'));
        await r.until('rx', 'message', count);
      };
      await connected('c', `${ll}%${ifname}`, 2);
      await connected('w', undefined, 3);
      const u = r.socket('u', 'udp6');
      await bound(r, u, 'u');
      u.send('unconnected from the wildcard', port, `${ll}%${ifname}`, r.sent('u', 'sent'));
      await r.until('rx', 'message', 4);
    });
  });

  it('multicastAll: false on udp6: a joined socket receives, a bystander on the port does not', async () => {
    // mcast only (node:dgram has no multicastAll). The joins go through the core's membership
    // operation, so the native IPv6 interface filter knows them: before, it dropped everything.
    const port = uniquePort();
    const ifname = link.self.ifname;
    const group = 'ff12::7711';
    const ssmGroup = 'ff32::8000:7711';
    const joined = mcastDgram.createSocket({ type: 'udp6', reuseAddr: true, multicastAll: false });
    const ssm = mcastDgram.createSocket({ type: 'udp6', reuseAddr: true, multicastAll: false });
    const bystander = mcastDgram.createSocket({ type: 'udp6', reuseAddr: true, multicastAll: false });
    const tx = mcastDgram.createSocket('udp6');
    const got: string[] = [];
    try {
      joined.on('message', (msg) => got.push(`joined ${msg.toString()}`));
      ssm.on('message', (msg) => got.push(`ssm ${msg.toString()}`));
      bystander.on('message', (msg) => got.push(`bystander ${msg.toString()}`));
      for (const s of [joined, ssm, bystander]) await new Promise<void>((resolve) => s.bind(port, resolve));
      joined.addMembership(group, `::%${ifname}`);
      ssm.addSourceSpecificMembership(link.self.linkLocal, ssmGroup, `::%${ifname}`);
      await new Promise<void>((resolve) => tx.bind(0, resolve));
      tx.setMulticastInterface(`::%${ifname}`);
      tx.send('any-source', port, group);
      tx.send('source-specific', port, ssmGroup);
      await waitFor(() => got.length >= 2, 'the joined sockets to receive');
      await settle(100);
      expect(got.sort()).toEqual(['joined any-source', 'ssm source-specific']);
      // A leave takes the membership out of the filter too: nothing more arrives.
      joined.dropMembership(group, `::%${ifname}`);
      joined.addMembership(group, `::%${ifname}`);
      tx.send('after leave and join', port, group);
      await waitFor(() => got.length >= 3, 'a datagram after leave and join');
      expect(got).toContain('joined after leave and join');
    } finally {
      for (const s of [joined, ssm, bystander, tx]) s.close();
    }
  });

  it('IPv4 multicast out a veth with a multicast route absent', async () => {
    await compare(async (r) => {
      const port = r.port(uniquePort(), 'group port');
      const rx = r.socket('rx', { type: 'udp4', reuseAddr: true });
      await bound(r, rx, 'group port', port);
      r.call('rx', 'addMembership on the veth address', () => rx.addMembership('239.77.0.2', '10.77.0.1'));
      const tx = r.socket('tx');
      await bound(r, tx, 'tx');
      r.call('tx', 'setMulticastInterface', () => tx.setMulticastInterface('10.77.0.1'));
      tx.send('out the veth', port, '239.77.0.2', r.sent('tx', 'sent'));
      await r.until('rx', 'message');
    });
  });
});

describe('mcast/dgram beyond node:dgram', () => {
  it('is a dgram.Socket for TypeScript too (see `tsc -p test`)', () => {
    const typed: nodeDgram.Socket = mcastDgram.createSocket('udp4', (msg: Buffer, rinfo: nodeDgram.RemoteInfo) => void [msg, rinfo]);
    const options: nodeDgram.SocketOptions = { type: 'udp6', reuseAddr: true, ipv6Only: true, recvBufferSize: 1 << 20 };
    const other: nodeDgram.Socket = mcastDgram.createSocket(options);
    expect(typed).toBeInstanceOf(mcastDgram.Socket);
    typed.close();
    other.close();
  });

  it('multicastAll: false keeps a socket to the groups it joined itself', async () => {
    const port = uniquePort();
    const joined = mcastDgram.createSocket({ type: 'udp4', reuseAddr: true, multicastAll: false });
    const bystander = mcastDgram.createSocket({ type: 'udp4', reuseAddr: true, multicastAll: false });
    const tx = mcastDgram.createSocket('udp4');
    try {
      const got: string[] = [];
      joined.on('message', () => got.push('joined'));
      bystander.on('message', () => got.push('bystander'));
      await new Promise<void>((resolve) => joined.bind(port, resolve));
      await new Promise<void>((resolve) => bystander.bind(port, resolve));
      joined.addMembership(LOOPBACK_GROUP, '127.0.0.1');
      tx.bind(0, () => {
        tx.setMulticastInterface('127.0.0.1');
        tx.send('x', port, LOOPBACK_GROUP);
      });
      await waitFor(() => got.includes('joined'), 'the joined socket to receive');
      await settle(100);
      expect(got).toEqual(['joined']);
      bystander.setMulticastAll(true);
      tx.send('y', port, LOOPBACK_GROUP);
      await waitFor(() => got.includes('bystander'), 'the bystander to receive with multicastAll on');
    } finally {
      for (const s of [joined, bystander, tx]) s.close();
    }
  });

  it('what cannot work like dgram throws ERR_MCAST_UNSUPPORTED', () => {
    const s = mcastDgram.createSocket('udp4');
    try {
      expect(() => (s.bind as (h: unknown) => void)({ recvStart() {} })).toThrow(
        expect.objectContaining({ code: 'ERR_MCAST_UNSUPPORTED', message: expect.stringContaining('bind(handle)') }),
      );
      expect(() => s.bindSync()).toThrow(expect.objectContaining({ code: 'ERR_MCAST_UNSUPPORTED' }));
      expect(() => s.connectSync()).toThrow(expect.objectContaining({ code: 'ERR_MCAST_UNSUPPORTED' }));
      expect(() => (s as unknown as { _handle: { recvStart(): void } })._handle.recvStart()).toThrow(
        expect.objectContaining({ code: 'ERR_MCAST_UNSUPPORTED', message: expect.stringContaining('DEP0112') }),
      );
      // Still usable after all that.
      expect(s.ref()).toBe(s);
    } finally {
      s.close();
    }
  });

  it('deprecated private members (DEP0112): the same values, assignments and one warning as node:dgram', async () => {
    // Each in a process of its own: Node prints a deprecation warning once per code and process.
    const run = async (module: string): Promise<unknown> => {
      const { stdout } = await execFileAsync(process.execPath, [join(ROOT, 'test', 'fixtures', 'dgram-deprecated.cjs'), module]);
      return JSON.parse(stdout);
    };
    const node = await run('node:dgram');
    expect(await run(join(ROOT, 'dist', 'dgram.js'))).toEqual(node);
    // _handle stands in for libuv's handle (fd, owner, ref: above); its other methods, and
    // assigning another handle, throw.
    const s = mcastDgram.createSocket('udp4') as unknown as { _handle: { bind(): void }; close(): void };
    try {
      expect(() => s._handle.bind()).toThrow(expect.objectContaining({ code: 'ERR_MCAST_UNSUPPORTED' }));
      expect(() => (s._handle = { bind() {} })).toThrow(expect.objectContaining({ code: 'ERR_MCAST_UNSUPPORTED' }));
    } finally {
      s.close();
    }
    expect(() => (mcastDgram as unknown as { _createSocketHandle(): void })._createSocketHandle()).toThrow(
      expect.objectContaining({ code: 'ERR_MCAST_UNSUPPORTED' }),
    );
  });

  it('bind({ fd }) and bind(handle) take a UDP socket over and refuse other descriptors, as node:dgram', async () => {
    const run = async (module: string): Promise<unknown> => {
      const { stdout } = await execFileAsync(process.execPath, [join(ROOT, 'test', 'fixtures', 'dgram-bind-fd.cjs'), module, join(ROOT, 'dist', 'index.js')]);
      return JSON.parse(stdout);
    };
    const node = await run('node:dgram');
    expect(await run(join(ROOT, 'dist', 'dgram.js'))).toEqual(node);
  });

  it('cluster workers share the primary\'s socket as with node:dgram; exclusive binds are their own', async () => {
    const run = async (module: string): Promise<Record<string, unknown>> => {
      const { stdout } = await execFileAsync(process.execPath, [join(ROOT, 'test', 'fixtures', 'dgram-cluster.cjs'), module], { timeout: 20_000 });
      return JSON.parse(stdout) as Record<string, unknown>;
    };
    // Node deletes NODE_UNIQUE_ID in a worker: the old check never fired, and each worker bound a
    // socket of its own silently. Now both workers get the primary's socket (one port, every
    // datagram received once), and a bind the primary cannot make is the worker's 'error'.
    const node = await run('node:dgram');
    expect(node).toEqual({
      isWorker: true,
      oneSharedPort: true,
      exclusivePortsOwn: true,
      received: 20,
      takenPort: ['EADDRINUSE bind that port'],
      closed: true,
    });
    expect(await run(join(ROOT, 'dist', 'dgram.js'))).toEqual(node);
  });

  it('ERR_SOCKET_BUFFER_SIZE looks like node:dgram\'s in a log (errno: [Getter/Setter: -9])', () => {
    const logged = (dgram: Dgram): string => {
      // Node's own stack formatting, not the test runner's (see stackHead()).
      const saved = Error.prepareStackTrace;
      delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
      const s = dgram.createSocket('udp4');
      try {
        s.setRecvBufferSize(1);
      } catch (error) {
        // Everything but the stack frames, which name different files.
        return inspect(error).split('\n').filter((line) => !/^\s+at /.test(line)).join('\n');
      } finally {
        s.close();
        if (saved !== undefined) Error.prepareStackTrace = saved;
      }
      throw new Error('setRecvBufferSize on an unbound socket did not throw');
    };
    const node = logged(IMPLEMENTATIONS.node);
    expect(node).toContain('errno: [Getter/Setter: -9]');
    expect(logged(IMPLEMENTATIONS.mcast)).toBe(node);
  });

  it('batchSize and maxMessageSize are checked', () => {
    expect(() => mcastDgram.createSocket({ type: 'udp4', batchSize: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => mcastDgram.createSocket({ type: 'udp4', maxMessageSize: 'x' as unknown as number })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => mcastDgram.createSocket({ type: 'udp4', multicastAll: 1 as unknown as boolean })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  it('a queue of sends that fills the kernel buffer is sent in order', async () => {
    const rx = mcastDgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    const tx = mcastDgram.createSocket({ type: 'udp4', sendBufferSize: 4096 });
    try {
      const got: number[] = [];
      rx.on('message', (msg) => got.push(msg.readUInt32BE(0)));
      await new Promise<void>((resolve) => rx.bind(0, '127.0.0.1', resolve));
      await new Promise<void>((resolve) => tx.bind(0, '127.0.0.1', resolve));
      const port = rx.address().port;
      const done: number[] = [];
      const total = 2000;
      for (let i = 0; i < total; i++) {
        const msg = Buffer.alloc(1000);
        msg.writeUInt32BE(i, 0);
        tx.send(msg, port, '127.0.0.1', (error, bytes) => {
          expect(error).toBeNull();
          expect(bytes).toBe(1000);
          done.push(i);
        });
      }
      await waitFor(() => done.length === total, 'every send callback', 10000);
      expect(done).toEqual([...done].sort((a, b) => a - b));
      expect(tx.getSendQueueCount()).toBe(0);
      await waitFor(() => got.length === total, 'every datagram', 10000);
      expect(got).toEqual(done);
    } finally {
      rx.close();
      tx.close();
    }
  });
});
