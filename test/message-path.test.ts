/**
 * The 'message' path copies each batch into one block of the socket's pool (native/
 * message_block.h) and hands out views of it. A block goes back to the pool only after V8 has
 * collected it and every view: a message that a listener keeps is never overwritten, however
 * many batches follow, and a block whose messages were all dropped is reused.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import { AddressFormatter, formatAddressBytes } from '../lib/address.js';
import type { Socket } from '../lib/index.js';
import { socketFactory, uniquePort, waitFor } from './helpers.js';

const socket = socketFactory();
const GROUP = '239.77.4.1';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Full collections until `done()` holds (at most 5 s): V8 frees the blocks' backing stores
 * (possibly on a helper thread) and Node runs their finalizers in a later loop turn.
 */
async function collect(done: () => boolean = () => true): Promise<void> {
  for (let i = 0; i < 100; i++) {
    gc();
    await nextTurn();
    await sleep(i < 5 ? 0 : 50);
    if (done()) return;
  }
}

/** Each datagram carries its sequence number in every byte pair, so any overwrite shows. */
function datagram(seq: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let at = 0; at + 4 <= size; at += 4) b.writeUInt32LE(seq, at);
  return b;
}

/** A receiver joined on lo and a sender to it. */
function pair(options: { recvBufferSize?: number } = {}): { rx: Socket; tx: Socket; port: number } {
  const port = uniquePort();
  const rx = socket({ port, ...options });
  rx.join(GROUP, { interface: 'lo' });
  return { rx, tx: socket({ interface: 'lo', ttl: 0 }), port };
}

function intact(data: Buffer, seq: number, size: number): boolean {
  return data.length === size && data.equals(datagram(seq, size));
}

describe("'message' blocks", () => {
  it('keeps every kept message intact through later batches and collections, and reuses blocks of dropped ones', async () => {
    const { rx, tx, port } = pair({ recvBufferSize: 1 << 20 });
    const size = 1400;
    const kept: { seq: number; data: Buffer }[] = [];
    let received = 0;
    rx.on('message', (data) => {
      const seq = data.readUInt32LE(0);
      received++;
      // Keep one message per round (and so its whole block); drop the rest.
      if (seq % 256 === 0) kept.push({ seq, data });
    });
    let seq = 0;
    const rounds = 20;
    const perRound = 256;
    for (let round = 0; round < rounds; round++) {
      const list = Array.from({ length: perRound }, () => datagram(seq++, size));
      for (let at = 0; at < list.length; at += 64) tx.sendBatch(list.slice(at, at + 64), GROUP, port);
      await waitFor(() => received === seq, `round ${round}'s datagrams`);
      // Only the blocks of kept messages (one per round), and perhaps the last one, stay out.
      await collect(() => rx.messageBlocks()[3] <= kept.length + 1);
    }
    expect(kept).toHaveLength(rounds);
    for (const k of kept) expect(intact(k.data, k.seq, size)).toBe(true);
    const [fresh, idle, , outstanding] = rx.messageBlocks();
    // Each round is several batches; after the first rounds, collected blocks serve the next.
    const batches = rx.stats().batches;
    expect(batches).toBeGreaterThanOrEqual(rounds * (perRound / 64));
    expect(fresh).toBeLessThan(batches / 2);
    expect(idle).toBeGreaterThan(0);
    // The kept messages' blocks are the ones still out.
    expect(outstanding).toBeGreaterThan(0);
    expect(outstanding).toBeLessThanOrEqual(kept.length);
    kept.length = 0;
    await collect(() => rx.messageBlocks()[3] <= 1);
    // The kept blocks came back (V8 may still hold the very last message seen, in a stale slot).
    expect(rx.messageBlocks()[3]).toBeLessThanOrEqual(1);
    expect(rx.messageBlocks()[1]).toBeGreaterThan(idle);
  });

  it('keeps more than 8 MiB of collected blocks: what a socket took between two collections comes back whole', async () => {
    // Until the next collection every block stays out; a pool that kept only 8 MiB of them sent
    // the next interval's batches to fresh pages (see kDefaultIdleLimit in message_block.h).
    const { rx, tx, port } = pair({ recvBufferSize: 1 << 20 });
    const size = 1400;
    const held: Buffer[] = [];
    let received = 0;
    rx.on('message', (data) => {
      // One message per batch keeps every block out until the test lets go.
      if (held.length === 0 || held[held.length - 1]!.buffer !== data.buffer) held.push(data);
      received++;
    });
    let seq = 0;
    const total = 12 * 1024; // about 16 MiB of datagrams, in blocks of 1.25 x at most
    while (seq < total) {
      const list = Array.from({ length: 256 }, () => datagram(seq++, size));
      for (let at = 0; at < list.length; at += 64) tx.sendBatch(list.slice(at, at + 64), GROUP, port);
      await waitFor(() => received === seq, `datagrams up to ${seq}`);
    }
    const blocks = held.length;
    const heldBytes = held.reduce((n, d) => n + d.buffer.byteLength, 0);
    expect(heldBytes).toBeGreaterThan(12 << 20);
    expect(rx.messageBlocks()[3]).toBeGreaterThanOrEqual(blocks);
    held.length = 0;
    await collect(() => rx.messageBlocks()[3] <= 1);
    const [, idleBlocks, idleBytes, outstanding] = rx.messageBlocks();
    expect(outstanding).toBeLessThanOrEqual(1);
    // All of them kept (none freed at 8 MiB), and no more than came back.
    expect(idleBytes).toBeGreaterThan(heldBytes);
    expect(idleBytes).toBeLessThanOrEqual(64 << 20);
    expect(idleBlocks).toBeGreaterThanOrEqual(blocks - 1);
  });

  it("a message's Buffer is exactly its batch's bytes, and empty datagrams take no block", async () => {
    const { rx, tx, port } = pair();
    const blocks = new Map<ArrayBufferLike, number>();
    let received = 0;
    rx.on('message', (data) => {
      received++;
      blocks.set(data.buffer, (blocks.get(data.buffer) ?? 0) + data.length);
    });
    const sizes = [0, 0, 1, 900, 1400, 2000, 64];
    tx.sendBatch(sizes.map((n, i) => datagram(i, n)), GROUP, port);
    await waitFor(() => received === sizes.length, 'the datagrams');
    for (const [bytes, total] of blocks) {
      // The Buffer is exactly the batch's bytes; the block under it is checked natively.
      expect(bytes.byteLength).toBe(total);
    }
    // A batch of empty datagrams alone takes no block.
    const before = rx.messageBlocks()[0];
    tx.sendBatch([Buffer.alloc(0)], GROUP, port);
    await waitFor(() => received === sizes.length + 1, 'the empty datagram');
    expect(rx.messageBlocks()[0]).toBe(before);
  });

  it('packs batches of up to 4 KiB back to back into one shared 4 KiB block, never over a kept message', async () => {
    // A low-rate socket: each datagram is its own batch. They used to take a 4 KiB block each.
    const { rx, tx, port } = pair();
    const size = 100;
    const kept: Buffer[] = [];
    rx.on('message', (data) => kept.push(data));
    const before = rx.messageBlocks()[0];
    for (let seq = 0; seq < 60; seq++) {
      tx.send(datagram(seq, size), GROUP, port);
      await waitFor(() => kept.length === seq + 1, `datagram ${seq}`);
    }
    const blocks = [...new Set(kept.map((d) => d.buffer))];
    // 40 rooms of 100 B fit a 4 KiB block: 60 single-datagram batches take two blocks.
    expect(blocks.length).toBe(2);
    expect(rx.messageBlocks()[0] - before).toBe(2);
    expect(blocks.map((b) => b.byteLength)).toEqual([4096, 4096]);
    expect(kept.map((d) => d.byteOffset)).toEqual(Array.from({ length: 60 }, (_, k) => (k % 40) * size));
    // The second block's bytes after its 20 datagrams are zeros, not older data.
    expect(new Uint8Array(blocks[1] as ArrayBuffer, 20 * size).every((b) => b === 0)).toBe(true);
    // A batch of more than 4 KiB gets its own block; the next small one starts a new shared one.
    tx.sendBatch(Array.from({ length: 4 }, (_, k) => datagram(100 + k, 1400)), GROUP, port);
    await waitFor(() => kept.length === 64, 'the large batch');
    tx.send(datagram(200, size), GROUP, port);
    await waitFor(() => kept.length === 65, 'the last datagram');
    const last = kept[64] as Buffer;
    expect(last.byteOffset).toBe(0);
    expect(blocks).not.toContain(last.buffer);
    await collect();
    for (let seq = 0; seq < 60; seq++) expect(intact(kept[seq] as Buffer, seq, size)).toBe(true);
    for (let k = 0; k < 4; k++) expect(intact(kept[60 + k] as Buffer, 100 + k, 1400)).toBe(true);
    expect(intact(last, 200, size)).toBe(true);
  });

  it('frees the pool when the socket closes with messages still kept, and the kept ones stay readable', async () => {
    const { rx, tx, port } = pair();
    const kept: Buffer[] = [];
    rx.on('message', (data) => kept.push(data));
    tx.sendBatch([datagram(7, 300), datagram(8, 300)], GROUP, port);
    await waitFor(() => kept.length === 2, 'the datagrams');
    rx.close();
    await collect();
    expect(intact(kept[0]!, 7, 300)).toBe(true);
    expect(intact(kept[1]!, 8, 300)).toBe(true);
    expect(rx.messageBlocks()).toEqual([0, 0, 0, 0]);
    kept.length = 0;
    await collect(); // the blocks come back to a released pool: freed (ASan/valgrind see leaks)
  });

  it('gives a closing batch listener no messages and takes no block', async () => {
    const { rx, tx, port } = pair();
    let batches = 0;
    let messages = 0;
    rx.on('batch', () => {
      batches++;
      rx.close();
    });
    rx.on('message', () => messages++);
    tx.sendBatch([datagram(1, 100)], GROUP, port);
    await waitFor(() => batches === 1, 'the batch');
    await nextTurn();
    expect(messages).toBe(0);
  });
});

describe("'message' source and destination text", () => {
  // The formatter compares an address with the two it formatted last before it asks its map
  // (lib/address.ts). The record slab is rewritten in place batch after batch: text that came
  // from a stale slot, or a slot kept after its words changed, would show here.
  it.each([4, 6] as const)('formats each address right through alternating and changing sources (IPv%i)', (family) => {
    const width = family === 4 ? 4 : 16;
    const bytes = new Uint8Array(2 * width);
    const formatter = new AddressFormatter(bytes, family);
    const addresses = [
      [10, 0, 0, 1], [239, 1, 2, 3], [10, 0, 0, 2], [239, 1, 2, 3], [10, 0, 0, 1], [10, 0, 0, 2],
      [10, 0, 0, 3], [239, 1, 2, 3], [192, 168, 1, 1], [10, 0, 0, 1], [10, 0, 0, 1], [239, 1, 2, 4],
    ].map((v4) => (family === 4 ? v4 : [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...v4]));
    let seen = 0;
    for (let round = 0; round < 3; round++) {
      for (const [k, address] of addresses.entries()) {
        const at = (k % 2) * width;
        bytes.set(address, at);
        // Only the last word differs between most of these: the comparison must cover all.
        expect(formatter.format(at)).toBe(formatAddressBytes(bytes, at, family));
        seen++;
      }
    }
    expect(seen).toBe(36);
    // IPv6 addresses that differ only in an early word.
    if (family === 6) {
      bytes.set([0xfe, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1], 0);
      expect(formatter.format(0)).toBe('fe80:1::a00:1');
    }
  });
});
