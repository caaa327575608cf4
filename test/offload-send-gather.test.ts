/**
 * sendBatch(gather, address, port): datagrams at offsets inside one buffer, with other bytes
 * between them (what a capture file's block holds: headers, then a payload), sent without a
 * copy. Runs of one size go as UDP_SEGMENT messages (one iovec per datagram where something
 * lies between them, one per message where they lie back to back), the rest with sendmmsg.
 * A receiver on lo must get every datagram once, in order, with its bytes, and never a byte of
 * what lies between; bad input is refused before anything is sent.
 */
import { describe, expect, it } from 'vitest';

import { binding } from '../lib/binding.js';
import { constants, type SendGather } from '../lib/index.js';
import { loopbackCopies, settle, socketFactory, uniquePort, waitFor } from './helpers.js';

const socket = socketFactory();
const C = constants as Record<string, number>;
/** SO_NO_CHECK (asm-generic/socket.h): no UDP checksum on send, which UDP_SEGMENT refuses. */
const SO_NO_CHECK = 11;
const GROUP = '239.77.3.2';
const L = binding.layout;

/**
 * A capture-like buffer: before each datagram a `gap`-byte "header" of 0xee, then datagram i
 * of sizes[i] bytes, each byte i's low byte (a receiver sees a lost, repeated or merged
 * datagram as a break in the sequence, and a header byte as 0xee). With gap 0 the datagrams lie
 * back to back.
 */
function capture(sizes: readonly number[], gap: number): { gather: SendGather; want: Buffer[] } {
  const total = sizes.reduce((a, s) => a + s + gap, 0);
  const bytes = Buffer.alloc(total, 0xee);
  const offsets = new Uint32Array(sizes.length);
  const lengths = new Uint32Array(sizes.length);
  const want: Buffer[] = [];
  let at = 0;
  sizes.forEach((size, i) => {
    at += gap;
    offsets[i] = at;
    lengths[i] = size;
    bytes.fill(i & 0xff, at, at + size);
    want.push(Buffer.from(bytes.subarray(at, at + size)));
    at += size;
  });
  return { gather: { bytes, offsets, lengths }, want };
}

function expectExactly(got: readonly Buffer[], want: readonly Buffer[]): void {
  expect(got.map((d) => d.length)).toEqual(want.map((d) => d.length));
  got.forEach((d, i) => expect(d.equals(want[i]!), `datagram ${i}`).toBe(true));
}

/** 60 MPEG-TS-sized datagrams, 30 small ones, then sizes that change at every datagram. */
const MIXED = [...Array<number>(60).fill(1316), ...Array<number>(30).fill(64), 500, 20, 1400, 1, 300, 300, 7];

describe('sendBatch(gather, address, port) on lo', () => {
  it('sends datagrams with headers between them once each, in order, as UDP_SEGMENT runs', async () => {
    const port = uniquePort();
    const { got } = loopbackCopies(socket, port, GROUP);
    const tx = socket({ interface: 'lo', ttl: 0, sendBufferSize: 8 << 20 });
    const { gather, want } = capture(MIXED, 16);
    expect(tx.sendBatch(gather, GROUP, port)).toBe(MIXED.length);
    await waitFor(() => got.length >= MIXED.length, `${MIXED.length} datagrams`);
    await settle(30);
    expectExactly(got, want);
    // A run ends at a larger size; a shorter one ends it as its last: 49 × 1316, 11 × 1316 + 64,
    // 29 × 64, 500 + 20, 1400 + 1, 300 + 300 + 7.
    const bytes = MIXED.reduce((a, s) => a + s, 0);
    expect(tx.stats()).toMatchObject({ segmentedSends: 6, segmentationFallbacks: 0, packetsSent: MIXED.length, bytesSent: bytes });
  });

  it('sends a prefix (count) of longer arrays, from views inside larger buffers', async () => {
    const port = uniquePort();
    const { got } = loopbackCopies(socket, port, GROUP);
    const tx = socket({ interface: 'lo', ttl: 0, sendBufferSize: 8 << 20 });
    const { gather, want } = capture(Array<number>(200).fill(188), 0);
    const backing = Buffer.alloc(gather.bytes.length + 64, 0xee);
    backing.set(gather.bytes, 32);
    const offsets = new Uint32Array(300);
    const lengths = new Uint32Array(300);
    offsets.set(gather.offsets, 10);
    lengths.set(gather.lengths, 10);
    const view = { bytes: backing.subarray(32, 32 + gather.bytes.length), offsets: offsets.subarray(10), lengths: lengths.subarray(10), count: 150 };
    expect(tx.sendBatch(view, GROUP, port)).toBe(150);
    await waitFor(() => got.length >= 150, '150 datagrams');
    await settle(30);
    expectExactly(got, want.slice(0, 150));
    // Back to back: 128 + 22 in two messages.
    expect(tx.stats()).toMatchObject({ segmentedSends: 2, packetsSent: 150 });
  });

  it('with gso: false, and where the socket refuses UDP_SEGMENT, sends the same datagrams with sendmmsg', async () => {
    const port = uniquePort();
    const { got } = loopbackCopies(socket, port, GROUP);
    const off = socket({ interface: 'lo', ttl: 0, gso: false, sendBufferSize: 8 << 20 });
    const refused = socket({ interface: 'lo', ttl: 0, sendBufferSize: 8 << 20 });
    refused.setOption(C.SOL_SOCKET!, SO_NO_CHECK, 1);
    const { gather, want } = capture(MIXED, 10);
    expect(off.sendBatch(gather, GROUP, port)).toBe(MIXED.length);
    await waitFor(() => got.length >= MIXED.length, 'the first copy');
    expect(refused.sendBatch(gather, GROUP, port)).toBe(MIXED.length);
    await waitFor(() => got.length >= 2 * MIXED.length, 'the second copy');
    await settle(30);
    expectExactly(got, [...want, ...want]);
    expect(off.stats()).toMatchObject({ segmentedSends: 0, packetsSent: MIXED.length });
    expect(refused.stats()).toMatchObject({ segmentedSends: 0, segmentationFallbacks: 1, packetsSent: MIXED.length });
  });

  it('sendAll(gather, ...) sends every datagram exactly once through a small send buffer', async () => {
    const port = uniquePort();
    const { got } = loopbackCopies(socket, port, GROUP);
    const tx = socket({ interface: 'lo', ttl: 0, sendBufferSize: 4096 });
    const sizes = Array.from({ length: 2000 }, (_, i) => (i % 7 === 6 ? 100 : 1316));
    const { gather, want } = capture(sizes, 24);
    expect(await tx.sendAll(gather, GROUP, port)).toBe(2000);
    await waitFor(() => got.length >= 2000, '2000 datagrams', 10_000);
    await settle(50);
    expectExactly(got, want);
    expect(tx.stats().packetsSent).toBe(2000);
  });

  it('refuses bad input with a clear error, sending nothing', () => {
    const tx = socket({ interface: 'lo', ttl: 0 });
    const bytes = Buffer.alloc(100);
    const u32 = (...v: number[]) => Uint32Array.from(v);
    const send = (g: unknown) => () => tx.sendBatch(g as SendGather, GROUP, 9);
    const code = (c: string, text: string) => expect.objectContaining({ code: c, message: expect.stringContaining(text) });
    // A datagram past the end of bytes: named by its index, with the numbers.
    expect(send({ bytes, offsets: u32(0, 90), lengths: u32(10, 11) })).toThrow(code('ERR_OUT_OF_RANGE', 'datagrams.offsets[1]'));
    expect(send({ bytes, offsets: u32(0, 90), lengths: u32(10, 11) })).toThrow(code('ERR_OUT_OF_RANGE', 'offset 90 + length 11 = 101'));
    expect(send({ bytes, offsets: u32(101), lengths: u32(0) })).toThrow(code('ERR_OUT_OF_RANGE', 'datagrams.offsets[0]'));
    expect(send({ bytes, offsets: u32(4294967295), lengths: u32(4294967295) })).toThrow(code('ERR_MCAST_MESSAGE_TOO_LARGE', 'datagrams.lengths[0]'));
    const big = Buffer.alloc(70000);
    expect(send({ bytes: big, offsets: u32(0, 0), lengths: u32(10, 65508) })).toThrow(code('ERR_MCAST_MESSAGE_TOO_LARGE', '65507'));
    // The arrays and the count.
    expect(send({ bytes, offsets: u32(0, 10), lengths: u32(10) })).toThrow(code('ERR_INVALID_ARG_VALUE', 'one length'));
    expect(send({ bytes, offsets: u32(0, 10), lengths: u32(10, 10), count: 3 })).toThrow(code('ERR_OUT_OF_RANGE', 'datagrams.count'));
    expect(send({ bytes, offsets: u32(0, 10), lengths: u32(10), count: 2 })).toThrow(code('ERR_OUT_OF_RANGE', 'from 1 to 1'));
    expect(send({ bytes, offsets: u32(0), lengths: u32(10), count: 0 })).toThrow(code('ERR_OUT_OF_RANGE', 'datagrams.count'));
    expect(send({ bytes, offsets: u32(0), lengths: u32(10), count: 1.5 })).toThrow(code('ERR_OUT_OF_RANGE', 'datagrams.count'));
    expect(send({ bytes, offsets: u32(0), lengths: u32(10), count: '1' })).toThrow(code('ERR_INVALID_ARG_TYPE', 'datagrams.count'));
    expect(send({ bytes, offsets: u32(), lengths: u32() })).toThrow(code('ERR_INVALID_ARG_VALUE', 'at least one'));
    expect(send({ bytes, offsets: [0], lengths: u32(10) })).toThrow(code('ERR_INVALID_ARG_TYPE', 'datagrams.offsets'));
    expect(send({ bytes, offsets: u32(0), lengths: new Int32Array(1) })).toThrow(code('ERR_INVALID_ARG_TYPE', 'datagrams.lengths'));
    expect(send({ bytes: 'text', offsets: u32(0), lengths: u32(1) })).toThrow(code('ERR_INVALID_ARG_TYPE', 'datagrams.bytes'));
    expect(() => tx.sendBatch({ bytes, offsets: u32(0), lengths: u32(1) }, GROUP, 0)).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BAD_PORT' }));
    expect(tx.stats().packetsSent).toBe(0);
    // A good gather after the refusals still goes.
    expect(send({ bytes, offsets: u32(0, 50), lengths: u32(50, 50) })()).toBe(2);
    tx.close();
    expect(send({ bytes, offsets: u32(0), lengths: u32(1) })).toThrow(expect.objectContaining({ code: 'ERR_MCAST_SOCKET_CLOSED' }));
  });

  it('the binding checks its arguments instead of trusting them', () => {
    const n = new binding.Socket(4, '127.0.0.1', 0, true, false, false, false, 1, 64, new ArrayBuffer(64), new ArrayBuffer(L.recordBytes), true, false) as unknown as
      Record<string, (...args: unknown[]) => unknown>;
    try {
      const call = (...args: unknown[]) => () => n.sendGather!.apply(n, args);
      const bad = { code: 'ERR_INVALID_ARG_TYPE' };
      const bytes = new Uint8Array(10);
      const one = Uint32Array.of(0);
      const five = Uint32Array.of(5);
      expect(call(bytes, one, five, 1)).toThrow(expect.objectContaining(bad)); // no destination yet
      (n.setSendDestination as (...a: unknown[]) => void)('127.0.0.1', 9, 0);
      expect(call(bytes, one, five, 0)).toThrow(expect.objectContaining(bad));
      expect(call(bytes, one, five, 2)).toThrow(expect.objectContaining(bad));
      expect(call(bytes, one, new Uint32Array(0), 1)).toThrow(expect.objectContaining(bad));
      expect(call(bytes, new Int32Array(1), five, 1)).toThrow(expect.objectContaining(bad));
      expect(call([bytes], one, five, 1)).toThrow(expect.objectContaining(bad));
      expect(call(bytes, one, five, '1')).toThrow(expect.objectContaining(bad));
      // Outside the buffer: nothing sent, the index in the answer.
      expect(call(bytes, Uint32Array.of(0, 6), Uint32Array.of(5, 5), 2)()).toBe(-2);
      expect(call(bytes, Uint32Array.of(11), Uint32Array.of(0), 1)()).toBe(-1);
      expect(call(bytes, Uint32Array.of(0, 5), Uint32Array.of(5, 5), 2)()).toBe(2);
    } finally {
      (n.close as () => void)();
    }
  });
});
