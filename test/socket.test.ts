/**
 * The socket on loopback (inside the sandbox namespace): binding, joins, the 'message' and
 * 'batch' paths, batching, truncation, timestamps, accounting of kernel drops, and close.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { constants, listInterfaces, type Socket, type SocketOptions } from '../lib/index.js';
import { collectBatches, collectMessages, settle, socketFactory, uniquePort, waitFor } from './helpers.js';
import { Topology } from './harness/netns.js';

const socket = socketFactory();

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const LO = listInterfaces().find((i) => i.loopback);
const GROUP = '239.10.0.1';

/** A receiver joined on lo and a sender whose multicast goes out lo. */
function loopbackPair(port: number, options: SocketOptions = {}): { rx: Socket; tx: Socket } {
  const rx = socket({ port, ...options }).join(GROUP, { interface: 'lo' });
  const tx = socket({ interface: 'lo' });
  return { rx, tx };
}

/**
 * Runs `body` with this file's own uncaughtException handler in place of vitest's (which would
 * fail the run on an error the test expects) and returns the messages of the errors it caught.
 */
async function catchingUncaught(body: (errors: string[]) => Promise<void>): Promise<string[]> {
  const errors: string[] = [];
  const onUncaught = (e: Error): void => void errors.push(e.message);
  const previous = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onUncaught);
  try {
    await body(errors);
  } finally {
    process.off('uncaughtException', onUncaught);
    for (const l of previous) process.on('uncaughtException', l);
  }
  return errors;
}

describe('createSocket()', () => {
  it('binds synchronously to the port asked for, or an ephemeral one', () => {
    const port = uniquePort();
    expect(socket({ port }).address()).toEqual({ address: '0.0.0.0', family: 'IPv4', port });
    const eph = socket().address();
    expect(eph.port).toBeGreaterThan(1023);
    expect(socket({ family: 6, address: '::1' }).address()).toMatchObject({ address: '::1', family: 'IPv6' });
  });

  it('fails at once with EADDRINUSE when the port is taken without reuseAddr', () => {
    const port = uniquePort();
    socket({ port, reuseAddr: false });
    expect(() => socket({ port, reuseAddr: false })).toThrow(expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind' }));
  });

  it('applies ttl, loopback and buffer options', () => {
    const s = socket({ ttl: 7, loopback: false, recvBufferSize: 65536 });
    expect(s.getTTL()).toBe(7);
    expect(s.getOption(constants.IPPROTO_IP!, constants.IP_MULTICAST_LOOP!).readInt32LE(0)).toBe(0);
    // The kernel reports twice what was asked (its own bookkeeping).
    expect(s.getRecvBufferSize()).toBe(131072);
  });

  it('switches IP_MULTICAST_ALL off by default and on with multicastAll', () => {
    const off = socket();
    const on = socket({ multicastAll: true });
    const all = (s: Socket) => s.getOption(constants.IPPROTO_IP!, constants.IP_MULTICAST_ALL!).readInt32LE(0);
    expect(all(off)).toBe(0);
    expect(all(on)).toBe(1);
  });
});

describe('listInterfaces()', () => {
  it('lists lo with its index, flags and 127.0.0.1/255.0.0.0', () => {
    expect(LO).toBeDefined();
    expect(LO!.name).toBe('lo');
    expect(LO!.up).toBe(true);
    expect(LO!.addresses).toContainEqual({ family: 'IPv4', address: '127.0.0.1', netmask: '255.0.0.0', scopeId: 0 });
  });
});

describe("the 'message' event", () => {
  it('delivers a copy with source, destination group, interface, TTL and size', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port, { receiveTTL: true });
    tx.setTTL(3);
    const got = collectMessages(rx);
    expect(tx.send('Hello, multicast world!', GROUP, port)).toBe(true);
    await waitFor(() => got.length === 1, 'one datagram');
    const { data, info } = got[0]!;
    expect(data.toString()).toBe('Hello, multicast world!');
    expect(info).toMatchObject({
      address: '127.0.0.1',
      port: tx.address().port,
      family: 'IPv4',
      size: 23,
      originalSize: 23,
      truncated: false,
      destination: GROUP,
      interfaceIndex: LO!.index,
      ttl: 3,
    });
    expect(info.timestamp).toBeUndefined();
  });

  it('asks the kernel for the TTL only with receiveTTL: without it, info.ttl and batch.ttl(i) are undefined', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port);
    const recvTtl = (s: Socket): number => s.getOption(constants.IPPROTO_IP!, constants.IP_RECVTTL!).readInt32LE(0);
    expect(recvTtl(rx)).toBe(0);
    const withTtl = socket({ port, receiveTTL: true }).join(GROUP, { interface: 'lo' });
    expect(recvTtl(withTtl)).toBe(1);
    const got = collectMessages(rx);
    const ttls: (number | undefined)[] = [];
    withTtl.on('batch', (b) => void ttls.push(b.ttl(0)));
    rx.on('batch', (b) => void ttls.push(b.ttl(0)));
    tx.setTTL(5);
    tx.send('x', GROUP, port);
    await waitFor(() => got.length === 1 && ttls.length === 2, 'the datagram on both sockets');
    expect('ttl' in got[0]!.info).toBe(false);
    expect(ttls.sort()).toEqual([5, undefined]);
  });

  it('stamps each datagram with the kernel receive time when timestamps is on', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port, { timestamps: true });
    const got = collectMessages(rx);
    const before = BigInt(Date.now()) * 1_000_000n;
    tx.send('t', GROUP, port);
    await waitFor(() => got.length === 1, 'one datagram');
    const ts = got[0]!.info.timestamp!;
    expect(typeof ts).toBe('bigint');
    expect(ts >= before - 1_000_000n).toBe(true);
    expect(ts <= BigInt(Date.now()) * 1_000_000n + 1_000_000n).toBe(true);
  });

  it('flags and counts a datagram longer than maxMessageSize instead of cutting it silently', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port, { maxMessageSize: 16 });
    const got = collectMessages(rx);
    tx.send(Buffer.alloc(100, 7), GROUP, port);
    tx.send(Buffer.alloc(16, 8), GROUP, port);
    await waitFor(() => got.length === 2, 'two datagrams');
    expect(got[0]!.info).toMatchObject({ size: 16, originalSize: 100, truncated: true });
    expect(got[0]!.data).toEqual(Buffer.alloc(16, 7));
    expect(got[1]!.info).toMatchObject({ size: 16, originalSize: 16, truncated: false });
    expect(rx.stats().truncated).toBe(1);
  });
});

describe("the 'batch' event", () => {
  it('hands a queued burst over in batches larger than one (recvmmsg)', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port, { batchSize: 32 });
    const payloads = Array.from({ length: 100 }, (_, i) => `datagram ${i}`);
    // Nobody listens yet, so the kernel queues the burst.
    expect(tx.sendBatch(payloads, GROUP, port)).toBe(100);
    const batches = collectBatches(rx);
    await waitFor(() => batches.reduce((n, b) => n + b.count, 0) === 100, '100 datagrams');
    expect(batches.map((b) => b.count)).toEqual([32, 32, 32, 4]);
    expect(batches.flatMap((b) => b.payloads)).toEqual(payloads);
    expect(rx.stats()).toMatchObject({ packetsReceived: 100, batches: 4, kernelDrops: 0 });
    expect(tx.stats()).toMatchObject({ packetsSent: 100, bytesSent: payloads.join('').length });
  });

  it('reads in place: offset/size index the slab, and data(i) is a view of it', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port, { maxMessageSize: 256 });
    tx.sendBatch(['abc', 'defgh'], GROUP, port);
    const seen: { offsets: number[]; sizes: number[]; sameMemory: boolean; fromSlab: string[] }[] = [];
    rx.on('batch', (b) => {
      const offsets = [];
      const sizes = [];
      const fromSlab = [];
      for (let i = 0; i < b.count; i++) {
        offsets.push(b.offset(i));
        sizes.push(b.size(i));
        fromSlab.push(b.buffer.toString('latin1', b.offset(i), b.offset(i) + b.size(i)));
      }
      seen.push({ offsets, sizes, fromSlab, sameMemory: b.data(0).buffer === b.buffer.buffer });
    });
    await waitFor(() => seen.length === 1, 'one batch');
    expect(seen[0]).toEqual({ offsets: [0, 256], sizes: [3, 5], fromSlab: ['abc', 'defgh'], sameMemory: true });
  });

  it('is valid only during its callback', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port);
    let kept: { count: number; size: (i: number) => number } | undefined;
    rx.on('batch', (b) => {
      kept = b;
    });
    tx.send('x', GROUP, port);
    await waitFor(() => kept !== undefined, 'a batch');
    expect(kept!.count).toBe(0);
    expect(() => kept!.size(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});

describe('listeners', () => {
  /** Runs the same listener script against an emitter: A removes B and adds D on its first call. */
  function script(target: EventEmitter, log: string[], tag: () => string, event: 'batch' | 'message'): void {
    let first = true;
    const b = (): void => void log.push(`${tag()}B`);
    const d = (): void => void log.push(`${tag()}D`);
    target.on(event, () => {
      log.push(`${tag()}A`);
      if (first) {
        first = false;
        target.off(event, b);
        target.on(event, d);
      }
    });
    target.on(event, b);
    target.once(event, () => void log.push(`${tag()}C`));
  }

  it("'batch' listeners are called as emit() calls them: once, removal and addition during a batch", async () => {
    const reference: string[] = [];
    const ee = new EventEmitter();
    let n = 0;
    script(ee, reference, () => String(n), 'batch');
    for (n = 1; n <= 3; n++) ee.emit('batch');
    expect(reference).toEqual(['1A', '1B', '1C', '2A', '2D', '3A', '3D']);

    const port = uniquePort();
    const { rx, tx } = loopbackPair(port);
    const log: string[] = [];
    let batches = 0;
    rx.on('batch', () => void batches++);
    script(rx, log, () => String(batches), 'batch');
    for (let k = 1; k <= 3; k++) {
      tx.send(`b${k}`, GROUP, port);
      await waitFor(() => batches === k, `batch ${k}`);
    }
    expect(log).toEqual(reference);
  });

  it("'message' listeners see a removal from the next datagram of the same batch on, as with emit()", async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port);
    expect(tx.sendBatch(['m1', 'm2', 'm3'], GROUP, port)).toBe(3); // queued: one batch of 3
    const log: string[] = [];
    let datagram = '';
    rx.on('message', (data) => void (datagram = data.toString()));
    script(rx, log, () => datagram, 'message');
    await waitFor(() => log.length >= 7, 'three datagrams');
    await settle(30);
    expect(rx.stats().batches).toBe(1);
    expect(log).toEqual(['m1A', 'm1B', 'm1C', 'm2A', 'm2D', 'm3A', 'm3D']);
  });

  it('every listener gets the batch when one throws; the error is rethrown after them', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port);
    const got: string[] = [];
    rx.on('batch', () => {
      got.push('first');
      throw new Error('first listener threw');
    });
    rx.on('batch', (b) => void got.push(`second:${b.count}`));
    rx.on('message', (d) => void got.push(`message:${d.toString()}`));
    const uncaught = await catchingUncaught(async (errors) => {
      tx.send('x', GROUP, port);
      await waitFor(() => errors.length === 1, 'the rethrown error');
    });
    expect(got).toEqual(['first', 'second:1', 'message:x']);
    expect(uncaught).toEqual(['first listener threw']);
  });

  it("runs a listener's microtasks and nextTick callbacks after the readable event's last batch, none lost", async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port, { batchSize: 2 });
    // Queued before the loop runs: one readable event drains all of it, in batches of 2, 2, 1.
    expect(tx.sendBatch(['a', 'b', 'c', 'd', 'e'], GROUP, port)).toBe(5);
    const log: string[] = [];
    rx.on('batch', (b) => {
      const count = b.count;
      log.push(`batch:${count}`);
      queueMicrotask(() => log.push(`micro:${count}`));
      process.nextTick(() => log.push(`tick:${count}`));
      void Promise.resolve().then(() => log.push(`then:${count}`));
    });
    await waitFor(() => log.length === 12, 'three batches and their callbacks');
    expect(rx.stats().batches).toBe(3);
    // One callback scope per event (native/socket_wrap_recv.cc EventScope): no tick between batches.
    expect(log.slice(0, 3)).toEqual(['batch:2', 'batch:2', 'batch:1']);
    expect(log.slice(3).sort()).toEqual(
      ['micro:1', 'micro:2', 'micro:2', 'then:1', 'then:2', 'then:2', 'tick:1', 'tick:2', 'tick:2'],
    );
  });

  it('a listener throwing in the middle of a drain: the drain ends, the error is uncaught, the rest comes next event', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port, { batchSize: 2 });
    expect(tx.sendBatch(['a', 'b', 'c', 'd', 'e'], GROUP, port)).toBe(5);
    const got: string[] = [];
    const ticks: string[] = [];
    let thrown = false;
    rx.on('batch', (b) => {
      for (let i = 0; i < b.count; i++) got.push(b.data(i).toString());
      process.nextTick(() => ticks.push(`after ${got.length}`));
      if (!thrown) {
        thrown = true;
        throw new Error('listener threw mid-drain');
      }
    });
    const uncaught = await catchingUncaught(async () => {
      await waitFor(() => got.length === 5, 'all five datagrams');
      await settle(20);
    });
    expect(uncaught).toEqual(['listener threw mid-drain']);
    expect(got).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(ticks).toHaveLength(rx.stats().batches);
  });

  it('a replaced emit() still sees every batch (tracers wrap emit)', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port);
    const traced: string[] = [];
    const emit = rx.emit.bind(rx);
    rx.emit = (event: string | symbol, ...args: unknown[]): boolean => {
      traced.push(String(event));
      return emit(event, ...args);
    };
    const messages = collectMessages(rx);
    tx.send('x', GROUP, port);
    await waitFor(() => messages.length === 1, 'one datagram');
    expect(traced).toEqual(['newListener', 'message']);
  });

  it('with captureRejections, a listener that rejects becomes an error event', async () => {
    const port = uniquePort();
    EventEmitter.captureRejections = true;
    let pair: { rx: Socket; tx: Socket };
    try {
      pair = loopbackPair(port);
    } finally {
      EventEmitter.captureRejections = false;
    }
    const { rx, tx } = pair;
    const errors: Error[] = [];
    rx.on('error', (e) => void errors.push(e));
    rx.on('batch', async () => {
      await Promise.resolve();
      throw new Error('async listener rejected');
    });
    tx.send('x', GROUP, port);
    await waitFor(() => errors.length === 1, "the 'error' event");
    expect(errors[0]?.message).toBe('async listener rejected');
  });
});

describe('accounting', () => {
  it('counts what the kernel dropped: received + kernelDrops = sent', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port);
    // Shrink the queue (the kernel's minimum is 2304 bytes) so that a burst must overflow.
    rx.setOption(constants.SOL_SOCKET!, constants.SO_RCVBUF!, 4096);
    const sent = tx.sendBatch(Array.from({ length: 200 }, () => Buffer.alloc(64)), GROUP, port);
    expect(sent).toBe(200);
    // Counted before anything is read (SO_MEMINFO), not only with a later datagram.
    const dropped = rx.stats().kernelDrops;
    expect(dropped).toBeGreaterThan(0);
    const got = collectMessages(rx);
    await waitFor(() => got.length === 200 - dropped, 'the queued datagrams');
    await settle(50);
    expect(got.length + rx.stats().kernelDrops).toBe(200);
  });

  it('keeps receiving after an ICMP error about its own send, and counts it', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port);
    const got = collectMessages(rx);
    // Nobody listens on this port: the kernel answers with ICMP port unreachable, which
    // IP_RECVERR queues on rx (POLLERR, which libuv turns into a stopped poll).
    rx.send('to nobody', '127.0.0.1', uniquePort());
    await waitFor(() => rx.stats().sendErrors === 1, 'the ICMP error to be counted');
    tx.send('still here', GROUP, port);
    await waitFor(() => got.length === 1, 'a datagram after the error');
    expect(got[0]!.data.toString()).toBe('still here');
  });
});

describe('send errors', () => {
  it('a send with no route fails with ENETUNREACH, never as a full queue (send and sendBatch)', () => {
    // The sandbox has no multicast route and this socket names no interface.
    const s = socket();
    expect(() => s.send('x', '239.10.9.9', 5000)).toThrow(expect.objectContaining({ code: 'ENETUNREACH', syscall: 'sendto' }));
    expect(() => s.sendBatch(['a', 'b'], '239.10.9.9', 5000)).toThrow(
      expect.objectContaining({ code: 'ENETUNREACH', syscall: 'sendmmsg', sent: 0 }),
    );
    expect(s.stats()).toMatchObject({ packetsSent: 0, sendWouldBlock: 0, sendErrors: 0 });
  });

  it('sendAll() rejects on ENETUNREACH instead of waiting forever', async () => {
    const s = socket();
    await expect(s.sendAll(['a'], '239.10.9.9', 5000)).rejects.toMatchObject({ code: 'ENETUNREACH' });
  });
});

describe('delivery rules', () => {
  it('a socket that did not join gets nothing by default, and the group with multicastAll', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port);
    const bystander = socket({ port });
    const promiscuous = socket({ port, multicastAll: true });
    const joined = collectMessages(rx);
    const heardByBystander = collectMessages(bystander);
    const heardByPromiscuous = collectMessages(promiscuous);
    tx.send('m', GROUP, port);
    await waitFor(() => joined.length === 1 && heardByPromiscuous.length === 1, 'the joined and multicastAll sockets');
    await settle();
    expect(heardByBystander).toHaveLength(0);
  });

  it('leave stops delivery', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port);
    const got = collectMessages(rx);
    tx.send('before', GROUP, port);
    await waitFor(() => got.length === 1, 'the first datagram');
    rx.leave(GROUP, { interface: 'lo' });
    tx.send('after', GROUP, port);
    await settle();
    expect(got.map((g) => g.data.toString())).toEqual(['before']);
  });

  it('receives only the chosen source after a source-specific join', async () => {
    const port = uniquePort();
    const ssm = '232.1.1.1';
    const rx = socket({ port }).join(ssm, { interface: 'lo', source: '127.0.0.1' });
    const other = socket({ port }).join(ssm, { interface: 'lo', source: '127.0.0.2' });
    const tx = socket({ interface: 'lo' });
    const got = collectMessages(rx);
    const otherGot = collectMessages(other);
    tx.send('from 127.0.0.1', ssm, port);
    await waitFor(() => got.length === 1, 'the chosen source');
    await settle();
    expect(otherGot).toHaveLength(0);
  });
});

describe('Socket#close()', () => {
  it('is idempotent, emits close once, and later calls fail with ERR_MCAST_SOCKET_CLOSED', async () => {
    const s = socket();
    let closes = 0;
    s.on('close', () => closes++);
    s.close();
    s.close();
    await settle(20);
    expect(closes).toBe(1);
    expect(s.fd()).toBe(-1);
    expect(() => s.join(GROUP, { interface: 'lo' })).toThrow(expect.objectContaining({ code: 'ERR_MCAST_SOCKET_CLOSED' }));
    expect(() => s.send('x', GROUP, 1)).toThrow(expect.objectContaining({ code: 'ERR_MCAST_SOCKET_CLOSED' }));
    expect(s.stats().packetsReceived).toBe(0);
  });

  it('is safe inside its own batch callback: no further batches or messages', async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port, { batchSize: 4 });
    tx.sendBatch(Array.from({ length: 20 }, (_, i) => `${i}`), GROUP, port);
    let batches = 0;
    let messages = 0;
    rx.on('batch', () => {
      batches++;
      rx.close();
      rx.close();
    });
    rx.on('message', () => messages++);
    await waitFor(() => rx.closed, 'the close');
    await settle(50);
    expect(batches).toBe(1);
    expect(messages).toBe(0);
  });

  it("stops the 'message' loop of a batch when a listener closes the socket", async () => {
    const port = uniquePort();
    const { rx, tx } = loopbackPair(port);
    tx.sendBatch(['a', 'b', 'c'], GROUP, port);
    const got: string[] = [];
    rx.on('message', (d) => {
      got.push(d.toString());
      rx.close();
    });
    await waitFor(() => rx.closed, 'the close');
    await settle(50);
    expect(got).toEqual(['a']);
  });

  it('rejects pending writable() waits', async () => {
    const s = socket();
    s.setSendBufferSize(4096);
    const wait = s.writable();
    s.close();
    // An idle socket is writable at once, so either outcome is a settled promise, never a hang.
    await expect(Promise.race([wait.then(() => 'resolved', (e: { code: string }) => e.code), settle(1000).then(() => 'hung')])).resolves.not.toBe('hung');
  });
});

describe('IPv6', () => {
  it('refuses a group of the other family on either socket (IPv6 traffic itself: multihomed.test.ts)', () => {
    const s = socket({ family: 6 });
    expect(() => s.join('239.1.1.1', { interface: 'lo' })).toThrow(expect.objectContaining({ code: 'ERR_MCAST_FAMILY_MISMATCH' }));
    const v4 = socket();
    expect(() => v4.join('ff12::1', { interface: 'lo' })).toThrow(expect.objectContaining({ code: 'ERR_MCAST_FAMILY_MISMATCH' }));
  });
});

describe('IPv6 bind address with a zone', () => {
  it('binds a link-local address with its zone (name or index) and shows the zone in address()', async () => {
    const net = await Topology.create('skz');
    const peer = await net.host('peer');
    const link = await net.link(net.self, 'mcskz0', peer, 'mcskzp0', { selfAddr: '10.78.0.1/24', peerAddr: '10.78.0.2/24' });
    const { ifname, ifindex, linkLocal } = link.self;
    const byName = socket({ family: 6, address: `${linkLocal}%${ifname}` });
    expect(byName.address()).toMatchObject({ address: `${linkLocal}%${ifname}`, family: 'IPv6' });
    const byIndex = socket({ family: 6, address: `${linkLocal}%${ifindex}` });
    expect(byIndex.address().address).toBe(`${linkLocal}%${ifname}`);
    // Datagrams to the scoped address arrive, and connect() reports the zone of its peer.
    const got = collectMessages(byName);
    const tx = socket({ family: 6, address: `${linkLocal}%${ifname}` });
    tx.connect(`${linkLocal}%${ifname}`, byName.address().port);
    expect(tx.remoteAddress().address).toBe(`${linkLocal}%${ifname}`);
    tx.send('scoped', `${linkLocal}%${ifindex}`, byName.address().port);
    await waitFor(() => got.length === 1, 'the datagram to the scoped address');
    // Without its zone a link-local address cannot be bound: the kernel's EINVAL, libuv's sign.
    expect(() => socket({ family: 6, address: linkLocal })).toThrow(expect.objectContaining({ code: 'EINVAL', errno: -22, syscall: 'bind' }));
    expect(() => socket({ family: 6, address: `${linkLocal}%mcnosuch` })).toThrow(
      expect.objectContaining({ code: 'ERR_MCAST_UNKNOWN_INTERFACE' }),
    );
    expect(() => socket({ family: 4, address: `10.78.0.1%${ifname}` })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_IP_ADDRESS' }));
  });
});

describe('options.fd', () => {
  it('shares a bound socket: the same address, datagrams to either, and the owner keeps its descriptor', async () => {
    const owner = socket({ address: '127.0.0.1' });
    const shared = socket({ fd: owner.fd() });
    expect(shared.address()).toEqual(owner.address());
    expect(shared.fd()).not.toBe(owner.fd());
    const got = collectMessages(shared);
    socket().send('to the shared socket', '127.0.0.1', owner.address().port);
    await waitFor(() => got.length === 1, 'the datagram on the shared descriptor');
    shared.close();
    expect(owner.address().port).toBeGreaterThan(0);
  });

  it('refuses what is no UDP socket of the family', () => {
    const v4 = socket();
    expect(() => socket({ family: 6, fd: v4.fd() })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => socket({ fd: 0x7fffffff })).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => socket({ fd: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});

describe('module formats', () => {
  it('loads by package name with require() and import(), sharing one implementation', () => {
    // A child process, so that Node itself (not the test runner) resolves the exports map.
    const script = `
      import { createRequire } from 'node:module';
      import * as esm from 'mcast';
      const cjs = createRequire(import.meta.url)('mcast');
      console.log(JSON.stringify({
        same: esm.createSocket === cjs.createSocket && esm.Socket === cjs.Socket,
        fn: typeof esm.createSocket,
        join: esm.constants.MCAST_JOIN_GROUP,
      }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ same: true, fn: 'function', join: 42 });
  });
});
