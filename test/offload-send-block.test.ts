/**
 * sendBatch(block, address, port, segmentSize): one contiguous block cut into datagrams of one
 * size, the last one shorter when the block's length is no multiple of it (what a video sender
 * has). The binding builds one UDP_SEGMENT message per run with one iovec over the block, in
 * chunks of 1024 datagrams; where segmentation is off or refused it sends the same datagrams
 * with sendmmsg. Whatever the path: every datagram exactly once, in order, with its own
 * boundaries, as a foreign (Python) receiver on the far end of a veth sees them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { binding } from '../lib/binding.js';
import { constants, type Socket } from '../lib/index.js';
import { type Host, type Link, Topology } from './harness/netns.js';
import { loopbackCopies, settle, socketFactory, uniquePort, waitFor } from './helpers.js';
import { PY_SIZES, spawnIn, until } from './wire-helpers.js';

const socket = socketFactory();
const C = constants as Record<string, number>;
/** SO_NO_CHECK (asm-generic/socket.h): no UDP checksum on send, which UDP_SEGMENT refuses. */
const SO_NO_CHECK = 11;
const GROUP = '239.77.3.1';
const L = binding.layout;

/**
 * `count` datagrams of `size` bytes back to back (the last one `last` bytes), every byte of
 * datagram i the low byte of i: a receiver sees a datagram's boundary wherever the byte changes,
 * and a lost or repeated datagram as a break in the sequence (PY_SIZES checks both).
 */
function block(count: number, size: number, last = size): Buffer {
  const b = Buffer.alloc((count - 1) * size + last);
  for (let i = 0; i < count; i++) b.fill(i & 0xff, i * size, Math.min((i + 1) * size, b.length));
  return b;
}

/** The datagrams block() packed, cut again (what a receiver must get). */
function datagramsOf(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < b.length; at += size) out.push(b.subarray(at, Math.min(at + size, b.length)));
  return out;
}

const loReceiver = (port: number): { rx: Socket; got: Buffer[] } => loopbackCopies(socket, port, GROUP);

function expectExactly(got: readonly Buffer[], want: readonly Buffer[]): void {
  expect(got.map((d) => d.length)).toEqual(want.map((d) => d.length));
  got.forEach((d, i) => expect(d.equals(want[i]!), `datagram ${i}`).toBe(true));
}

describe('sendBatch(block, address, port, segmentSize) on lo', () => {
  it('sends every datagram once, in order, with a shorter last one; the runs go as UDP_SEGMENT messages', async () => {
    const port = uniquePort();
    const { got } = loReceiver(port);
    const tx = socket({ interface: 'lo', ttl: 0, sendBufferSize: 8 << 20 });
    const b = block(100, 1316, 700);
    expect(tx.sendBatch(b, GROUP, port, 1316)).toBe(100);
    await waitFor(() => got.length >= 100, '100 datagrams');
    await settle(30);
    expectExactly(got, datagramsOf(b, 1316));
    // 49 × 1316 B fit in one message: 49 + 49 + 2.
    expect(tx.stats()).toMatchObject({ segmentedSends: 3, segmentationFallbacks: 0, packetsSent: 100, bytesSent: b.length });
  });

  it('takes a block of more than 1024 datagrams in chunks, and a view inside a larger buffer', async () => {
    const port = uniquePort();
    const { got } = loReceiver(port);
    const tx = socket({ interface: 'lo', ttl: 0, sendBufferSize: 8 << 20 });
    const b = block(3000, 64);
    const backing = Buffer.alloc(b.length + 100, 0xee);
    b.copy(backing, 50);
    expect(tx.sendBatch(backing.subarray(50, 50 + b.length), GROUP, port, 64)).toBe(3000);
    await waitFor(() => got.length >= 3000, '3000 datagrams');
    await settle(30);
    expectExactly(got, datagramsOf(b, 64));
    // Chunks of 1024, 1024 and 952 datagrams, each in messages of 128 segments: 8 + 8 + 8.
    expect(tx.stats()).toMatchObject({ segmentedSends: 24, packetsSent: 3000 });
  });

  it('a block of one datagram, and one that is not a multiple of a single segment, go as plain datagrams', async () => {
    const port = uniquePort();
    const { got } = loReceiver(port);
    const tx = socket({ interface: 'lo', ttl: 0 });
    expect(tx.sendBatch(Buffer.from('just one'), GROUP, port, 1316)).toBe(1);
    expect(tx.sendBatch(Buffer.from('abcde'), GROUP, port, 4)).toBe(2);
    await waitFor(() => got.length >= 3, '3 datagrams');
    expect(got.map((d) => d.toString())).toEqual(['just one', 'abcd', 'e']);
    expect(tx.stats().segmentedSends).toBe(1);
  });

  it('with gso: false sends the same datagrams with sendmmsg', async () => {
    const port = uniquePort();
    const { got } = loReceiver(port);
    const tx = socket({ interface: 'lo', ttl: 0, gso: false, sendBufferSize: 8 << 20 });
    const b = block(300, 188, 20);
    expect(tx.sendBatch(b, GROUP, port, 188)).toBe(300);
    await waitFor(() => got.length >= 300, '300 datagrams');
    expectExactly(got, datagramsOf(b, 188));
    expect(tx.stats()).toMatchObject({ segmentedSends: 0, packetsSent: 300 });
  });

  it('sendAll(block, ...) sends every datagram exactly once through a small send buffer', async () => {
    const port = uniquePort();
    const { got } = loReceiver(port);
    const tx = socket({ interface: 'lo', ttl: 0, sendBufferSize: 4096 });
    const b = block(2000, 1316, 1);
    expect(await tx.sendAll(b, GROUP, port, 1316)).toBe(2000);
    await waitFor(() => got.length >= 2000, '2000 datagrams', 10_000);
    await settle(50);
    expectExactly(got, datagramsOf(b, 1316));
    expect(tx.stats().packetsSent).toBe(2000);
  });

  it('the list form and the block form send the same bytes', async () => {
    const port = uniquePort();
    const { got } = loReceiver(port);
    const tx = socket({ interface: 'lo', ttl: 0, sendBufferSize: 8 << 20 });
    const b = block(50, 1316, 900);
    expect(tx.sendBatch(datagramsOf(b, 1316), GROUP, port)).toBe(50);
    expect(tx.sendBatch(b, GROUP, port, 1316)).toBe(50);
    await waitFor(() => got.length >= 100, '100 datagrams');
    expectExactly(got.slice(0, 50), got.slice(50));
    expectExactly(got.slice(50), datagramsOf(b, 1316));
  });

  it('refuses a bad segment size or an empty block with a clear error, sending nothing', () => {
    const tx = socket({ interface: 'lo', ttl: 0 });
    const b = Buffer.alloc(100);
    const send = (block: Uint8Array, size: unknown) => () => tx.sendBatch(block, GROUP, 9, size as number);
    expect(send(b, 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('segmentSize') }));
    expect(send(b, 65508)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('65507') }));
    expect(send(b, 1.5)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(send(b, undefined)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('segmentSize') }));
    expect(send(b, '100')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(send(new Uint8Array(0), 10)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('block') }));
    expect(() => tx.sendBatch(b, GROUP, 0, 10)).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BAD_PORT' }));
    expect(tx.stats().packetsSent).toBe(0);
    tx.close();
    expect(send(b, 10)).toThrow(expect.objectContaining({ code: 'ERR_MCAST_SOCKET_CLOSED' }));
  });

  it('the binding checks its arguments instead of trusting them', () => {
    const n = new binding.Socket(4, '127.0.0.1', 0, true, false, false, false, 1, 64, new ArrayBuffer(64), new ArrayBuffer(L.recordBytes), true, false) as unknown as
      Record<string, (...args: unknown[]) => unknown>;
    try {
      const call = (name: string, ...args: unknown[]) => () => n[name]!.apply(n, args);
      const bad = { code: 'ERR_INVALID_ARG_TYPE' };
      expect(call('sendBlock', new Uint8Array(10), 5)).toThrow(expect.objectContaining(bad)); // no destination yet
      call('setSendDestination', '127.0.0.1', 9, 0)();
      expect(call('sendBlock', new Uint8Array(10), 0)).toThrow(expect.objectContaining(bad));
      expect(call('sendBlock', new Uint8Array(0), 5)).toThrow(expect.objectContaining(bad));
      expect(call('sendBlock', [new Uint8Array(10)], 5)).toThrow(expect.objectContaining(bad));
      expect(call('sendBlock', new Uint8Array(10), '5')).toThrow(expect.objectContaining(bad));
      expect(call('setSendDestination', 'not an address', 9, 0)).toThrow();
      expect(call('sendBlock', new Uint8Array(10), 5)()).toBe(2);
    } finally {
      (n.close as () => void)();
    }
  });
});

describe('sendBatch(block, ...) on the wire (veth): a Python receiver gets every datagram whole', () => {
  let net: Topology;
  let peer: Host;
  let link: Link;
  const SELF = '10.77.3.1';
  const PEER = '10.77.3.2';

  beforeAll(async () => {
    net = await Topology.create('gb', { autoDestroy: false });
    peer = await net.host('p');
    link = await net.link(net.self, net.ifname('s'), peer, net.ifname('p'), { selfAddr: `${SELF}/24`, peerAddr: `${PEER}/24` });
  });
  afterAll(async () => {
    await net?.destroy();
  });

  // 60 × 1316 B and a 500-byte tail: two UDP_SEGMENT messages (49 + 12).
  const COUNT = 61;
  const B = block(COUNT, 1316, 500);
  /** What PY_SIZES prints for a block of 1316-byte segments: size, first byte, ok. */
  const linesFor = (b: Buffer): string[] => datagramsOf(b, 1316).map((d, i) => `${d.length} ${i & 0xff} ok`);
  const WANT = linesFor(B);

  async function sendThrough(prepare?: (tx: Socket) => void) {
    const port = uniquePort();
    const recv = spawnIn(peer, ['python3', '-c', PY_SIZES, GROUP, String(port), PEER, String(COUNT), '8']);
    await until(() => recv.stdout.includes('ready'), 'the Python receiver');
    const tx = socket({ interface: SELF });
    prepare?.(tx);
    const sent = tx.sendBatch(B, GROUP, port, 1316);
    await recv.wait(10_000);
    return { sent, stats: tx.stats(), got: recv.lines.filter((l) => /^\d+ /.test(l)) };
  }

  for (const device of [false, true]) {
    it(`with segmentation ${device ? 'by the device (tx-udp-segmentation on)' : 'in software (tx-udp-segmentation off)'}`, async () => {
      await net.self.exec(['ethtool', '-K', link.self.ifname, 'tx-udp-segmentation', device ? 'on' : 'off'], { check: true });
      const { sent, stats, got } = await sendThrough();
      expect(sent).toBe(COUNT);
      expect(stats).toMatchObject({ segmentedSends: 2, segmentationFallbacks: 0, packetsSent: COUNT });
      expect(got).toEqual(WANT);
    });
  }

  it('sendAll(block, ...) waits for room behind a slow qdisc and resumes where the kernel stopped: every datagram once, in order', async () => {
    const dev = link.self.ifname;
    // htb at 40 Mbit/s holds the messages in its queue, and with them the socket's send buffer:
    // sendBatch returns short (EAGAIN, or ENOBUFS from a full queue) and sendAll waits.
    await net.self.exec(['tc', 'qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '1'], { check: true });
    try {
      await net.self.exec(['tc', 'class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', '40mbit'], { check: true });
      const n = 1500;
      const port = uniquePort();
      const recv = spawnIn(peer, ['python3', '-c', PY_SIZES, GROUP, String(port), PEER, String(n), '20']);
      await until(() => recv.stdout.includes('ready'), 'the Python receiver');
      const tx = socket({ interface: SELF, sendBufferSize: 32768 });
      const b = block(n, 1316, 10);
      expect(await tx.sendAll(b, GROUP, port, 1316)).toBe(n);
      await recv.wait(25_000);
      expect(tx.stats().sendWouldBlock, 'sends refused for want of room').toBeGreaterThan(0);
      expect(tx.stats().packetsSent).toBe(n);
      expect(recv.lines.filter((l) => /^\d+ /.test(l))).toEqual(linesFor(b));
    } finally {
      await net.self.exec(['tc', 'qdisc', 'del', 'dev', dev, 'root']);
    }
  }, 40_000);

  it('sends segments larger than the MTU alone (EMSGSIZE taught the limit), fragmented, and segments smaller ones', async () => {
    const port = uniquePort();
    const recv = spawnIn(peer, ['python3', '-c', PY_SIZES, GROUP, String(port), PEER, '5', '8']);
    await until(() => recv.stdout.includes('ready'), 'the Python receiver');
    const tx = socket({ interface: SELF });
    const big = block(3, 2000);
    expect(tx.sendBatch(big, GROUP, port, 2000)).toBe(3);
    expect(tx.stats()).toMatchObject({ segmentedSends: 0, segmentationFallbacks: 0, packetsSent: 3 });
    expect(tx.sendBatch(block(2, 100), GROUP, port, 100)).toBe(2);
    expect(tx.stats()).toMatchObject({ segmentedSends: 1, segmentationFallbacks: 0, packetsSent: 5 });
    await recv.wait(10_000);
    expect(recv.lines.filter((l) => /^\d+ /.test(l))).toEqual(['2000 0 ok', '2000 1 ok', '2000 2 ok', '100 0 ok', '100 1 ok']);
  });

  it('falls back to sendmmsg where the socket cannot segment (SO_NO_CHECK), losing and repeating nothing', async () => {
    const { sent, stats, got } = await sendThrough((tx) => tx.setOption(C.SOL_SOCKET!, SO_NO_CHECK, 1));
    expect(sent).toBe(COUNT);
    expect(stats).toMatchObject({ segmentedSends: 0, segmentationFallbacks: 1, packetsSent: COUNT });
    expect(got).toEqual(WANT);
  });
});
