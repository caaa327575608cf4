/**
 * sendBatch()'s packed path (lib/socket/send.ts SendPacker): the datagrams are copied back to
 * back into one block of the socket's and handed to the binding with their lengths, instead of
 * the binding reading every array element through N-API. What goes out must be exactly what
 * the array held, whichever path it took: the packed one (Uint8Array items, at most 1024 of
 * them, at most 4 MiB in all) or the array one (strings, longer lists, larger batches).
 */
import { describe, expect, it } from 'vitest';

import { binding } from '../lib/binding.js';
import type { Socket } from '../lib/index.js';
import { loopbackCopies, settle, socketFactory, uniquePort, waitFor } from './helpers.js';

const socket = socketFactory();
const GROUP = '239.77.2.1';
const L = binding.layout;

function datagram(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, (i * 7) & 0xff);
  if (size >= 4) b.writeUInt32LE(i, 0);
  return b;
}

const receiver = (port: number): { rx: Socket; got: Buffer[] } => loopbackCopies(socket, port, GROUP);

async function sendAndReceive(list: (Uint8Array | string)[], options: { gso?: boolean } = {}): Promise<Buffer[]> {
  const port = uniquePort();
  const { got } = receiver(port);
  const tx = socket({ interface: 'lo', ttl: 0, sendBufferSize: 8 << 20, ...options });
  expect(await tx.sendAll(list, GROUP, port)).toBe(list.length);
  await waitFor(() => got.length >= list.length, `${list.length} datagrams`);
  await settle(30);
  return got;
}

const bytesOf = (d: Uint8Array | string) => (typeof d === 'string' ? Buffer.from(d) : Buffer.from(d));

describe('sendBatch() packs Uint8Array lists into one block', () => {
  for (const gso of [true, false]) {
    it(`sends views (byteOffset inside a larger buffer), empty and mixed-size datagrams exactly (gso ${gso})`, async () => {
      const backing = Buffer.alloc(4096);
      for (let i = 0; i < backing.length; i++) backing[i] = (i * 13) & 0xff;
      const list: Uint8Array[] = [
        backing.subarray(100, 300),
        new Uint8Array(backing.buffer, backing.byteOffset + 1000, 64),
        new Uint8Array(0),
        ...Array.from({ length: 20 }, (_, i) => datagram(i, 1316)),
        datagram(99, 17),
      ];
      const got = await sendAndReceive(list, { gso });
      expect(got.map((d) => d.length)).toEqual(list.map((d) => d.length));
      got.forEach((d, i) => expect(d.equals(bytesOf(list[i]!))).toBe(true));
    });
  }

  it('reuses its block without leaking one batch into the next (a large batch, then a smaller one)', async () => {
    const port = uniquePort();
    const { got } = receiver(port);
    const tx = socket({ interface: 'lo', ttl: 0, sendBufferSize: 8 << 20 });
    const first = Array.from({ length: 100 }, (_, i) => datagram(i, 1400)); // 140 kB: the block grows
    const second = Array.from({ length: 5 }, (_, i) => datagram(1000 + i, 300));
    expect(tx.sendBatch(first, GROUP, port)).toBe(100);
    expect(tx.sendBatch(second, GROUP, port)).toBe(5);
    await waitFor(() => got.length >= 105, '105 datagrams');
    [...first, ...second].forEach((d, i) => expect(got[i]!.equals(d)).toBe(true));
  });

  it('takes the array path for strings, for more than 1024 datagrams and beyond 4 MiB, with the same result', async () => {
    const strings = await sendAndReceive([Buffer.from('one'), 'två', new Uint8Array([1, 2, 3])]);
    expect(strings.map((d) => d.toString('latin1'))).toEqual(['one', Buffer.from('två').toString('latin1'), '\x01\x02\x03']);

    const many = Array.from({ length: 1500 }, (_, i) => datagram(i, 32));
    const gotMany = await sendAndReceive(many);
    gotMany.forEach((d, i) => expect(d.equals(many[i]!)).toBe(true));

    // 70 × 60000 B = 4.2 MB: more than the 4 MiB block; sent datagram by datagram from the array.
    const large = Array.from({ length: 70 }, (_, i) => datagram(i, 60000));
    const gotLarge = await sendAndReceive(large);
    expect(gotLarge).toHaveLength(70);
    gotLarge.forEach((d, i) => expect(d.equals(large[i]!)).toBe(true));
  });

  it('the binding checks a packed block against its lengths instead of trusting them', () => {
    const n = new binding.Socket(4, '127.0.0.1', 0, true, false, false, false, 1, 64, new ArrayBuffer(64), new ArrayBuffer(L.recordBytes), true, false) as unknown as
      Record<string, (...args: unknown[]) => unknown>;
    try {
      const call = (...args: unknown[]) => () => n.sendBatch!.apply(n, args);
      const block = new Uint8Array(10);
      const bad = { code: 'ERR_INVALID_ARG_TYPE' };
      expect(call(block, 2, '127.0.0.1', 9, 0, new Uint32Array([5, 6]))).toThrow(expect.objectContaining(bad));
      expect(call(block, 3, '127.0.0.1', 9, 0, new Uint32Array([1, 1]))).toThrow(expect.objectContaining(bad));
      expect(call(block, 1, '127.0.0.1', 9, 0)).toThrow(expect.objectContaining(bad));
      expect(call(block, 1, '127.0.0.1', 9, 0, new Int32Array([1]))).toThrow(expect.objectContaining(bad));
      expect(call(block, 2, '127.0.0.1', 9, 0, new Uint32Array([4, 6]))()).toBe(2);
    } finally {
      (n.close as () => void)();
    }
  });
});
