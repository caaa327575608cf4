/**
 * SocketOptions.sourceAddress: false asks the kernel for no source address (no msg_name). The
 * socket must then refuse to report a source rather than report a made-up one (the records hold
 * zeros), and every other field must be what a default socket reports for the same datagram:
 * bound to the group (IP_PKTINFO elided, arrival_policy.h) and bound to the wildcard (with it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { CaptureWriter, type RecvBatch } from '../lib/index.js';
import { socketFactory, uniquePort, waitFor } from './helpers.js';

const socket = socketFactory();
const GROUP = '239.77.5.1';

/** Every field but the source, and the payload. */
function fields(b: RecvBatch, i: number) {
  return {
    size: b.size(i),
    originalSize: b.originalSize(i),
    truncated: b.truncated(i),
    destination: b.destination(i),
    interfaceIndex: b.interfaceIndex(i),
    ttl: b.ttl(i),
    dropCount: b.dropCount(i),
    hasTimestamp: typeof b.timestamp(i) === 'bigint',
    data: Buffer.from(b.data(i)).toString('hex'),
  };
}

describe('sourceAddress: false', () => {
  for (const bound of ['group', 'wildcard'] as const) {
    it(`reports every field but the source, and refuses the source (bound to the ${bound})`, async () => {
      const port = uniquePort();
      const address = bound === 'group' ? GROUP : undefined;
      const extras = { port, maxMessageSize: 100, receiveTTL: true, timestamps: true, ...(address && { address }) };
      const plain = socket(extras);
      const bare = socket({ ...extras, sourceAddress: false });
      for (const s of [plain, bare]) s.join(GROUP, { interface: 'lo' });
      const want: ReturnType<typeof fields>[] = [];
      const got: ReturnType<typeof fields>[] = [];
      const errors: unknown[] = [];
      plain.on('batch', (b) => {
        for (let i = 0; i < b.count; i++) {
          want.push(fields(b, i));
          expect(b.address(i)).toBe('127.0.0.1');
          expect(b.port(i)).toBeGreaterThan(0);
        }
      });
      bare.on('batch', (b) => {
        for (let i = 0; i < b.count; i++) {
          got.push(fields(b, i));
          for (const read of [() => b.address(i), () => b.port(i)]) {
            try {
              read();
            } catch (error) {
              errors.push(error);
            }
          }
        }
      });
      const tx = socket({ interface: 'lo', ttl: 3 });
      const sizes = [0, 1, 64, 100, 150];
      tx.sendBatch(sizes.map((n, i) => Buffer.alloc(n, i + 1)), GROUP, port);
      await waitFor(() => want.length >= sizes.length && got.length >= sizes.length, 'the datagrams on both sockets');
      expect(got).toEqual(want);
      expect(got.map((g) => g.destination)).toEqual(sizes.map(() => GROUP));
      expect(got.every((g) => g.interfaceIndex === 1 && g.ttl === 3 && g.hasTimestamp)).toBe(true);
      expect(got.some((g) => g.truncated && g.originalSize === 150 && g.size === 100)).toBe(true);
      // Both accessors of every datagram threw, each with the code that names the option.
      expect(errors).toHaveLength(2 * sizes.length);
      for (const error of errors) {
        expect(error).toMatchObject({ code: 'ERR_MCAST_NO_SOURCE_ADDRESS', message: expect.stringContaining('sourceAddress: false') });
      }
      expect(bare.stats().packetsReceived).toBe(sizes.length);
    });
  }

  it("refuses a 'message' listener, whose info would need the source", async () => {
    const port = uniquePort();
    const bare = socket({ port, address: GROUP, sourceAddress: false });
    bare.join(GROUP, { interface: 'lo' });
    expect(() => bare.on('message', () => {})).toThrow(expect.objectContaining({ code: 'ERR_MCAST_NO_SOURCE_ADDRESS' }));
    expect(bare.listenerCount('message')).toBe(0);
    // The socket still works for 'batch'.
    let count = 0;
    bare.on('batch', (b) => (count += b.count));
    socket({ interface: 'lo' }).send(Buffer.from('x'), GROUP, port);
    await waitFor(() => count === 1, 'the datagram');
  });

  it('is refused by a capture, which would record a source', async () => {
    const port = uniquePort();
    const bare = socket({ port, address: GROUP, sourceAddress: false });
    bare.join(GROUP, { interface: 'lo' });
    const dir = mkdtempSync(join(tmpdir(), 'mcast-nosource-'));
    const w = CaptureWriter.open(join(dir, 'x.pcapng'), { interfaceName: () => 'lo' });
    const errors: unknown[] = [];
    bare.on('batch', (b) => {
      try {
        w.writeBatch(b, port);
      } catch (error) {
        errors.push(error);
      }
    });
    socket({ interface: 'lo' }).send(Buffer.from('x'), GROUP, port);
    await waitFor(() => errors.length === 1, 'the refused write');
    expect(errors[0]).toMatchObject({ code: 'ERR_MCAST_NO_SOURCE_ADDRESS' });
    await w.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes only a boolean', () => {
    expect(() => socket({ sourceAddress: 'no' as unknown as boolean })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('options.sourceAddress') }),
    );
  });
});
