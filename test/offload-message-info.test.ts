/**
 * The 'message' path reads each datagram's MessageInfo straight from the batch's record
 * (Batch#messageInfo, one index check per datagram instead of one per field). Every field
 * must be what the 'batch' accessors say for the same datagram, with and without the optional
 * ttl and timestamp, and each message's data the datagram's bytes.
 */
import { describe, expect, it } from 'vitest';

import type { MessageInfo, RecvBatch } from '../lib/index.js';
import { socketFactory, uniquePort, waitFor } from './helpers.js';

const socket = socketFactory();
const GROUP = '239.77.3.1';

function fromBatch(b: RecvBatch, i: number): MessageInfo {
  const info: MessageInfo = {
    address: b.address(i),
    port: b.port(i),
    family: 'IPv4',
    size: b.size(i),
    originalSize: b.originalSize(i),
    truncated: b.truncated(i),
    destination: b.destination(i),
    interfaceIndex: b.interfaceIndex(i),
  };
  const ttl = b.ttl(i);
  if (ttl !== undefined) info.ttl = ttl;
  const timestamp = b.timestamp(i);
  if (timestamp !== undefined) info.timestamp = timestamp;
  return info;
}

describe("'message' info read from the record", () => {
  for (const extras of [{}, { receiveTTL: true, timestamps: true }]) {
    it(`matches the batch accessors field by field (${JSON.stringify(extras)})`, async () => {
      const port = uniquePort();
      // maxMessageSize 100: the 150-byte datagrams arrive cut, with their original size.
      const rx = socket({ port, maxMessageSize: 100, ...extras });
      rx.join(GROUP, { interface: 'lo' });
      const expected: { info: MessageInfo; data: Buffer }[] = [];
      const got: { info: MessageInfo; data: Buffer }[] = [];
      rx.on('batch', (b) => {
        for (let i = 0; i < b.count; i++) expected.push({ info: fromBatch(b, i), data: Buffer.from(b.data(i)) });
      });
      rx.on('message', (data, info) => got.push({ info, data: Buffer.from(data) }));
      const txA = socket({ interface: 'lo', ttl: 0 });
      const txB = socket({ interface: 'lo', ttl: 0 });
      const sizes = [0, 1, 64, 99, 100, 150, 7];
      const list = sizes.map((n, i) => Buffer.alloc(n, i + 1));
      txA.sendBatch(list, GROUP, port);
      txB.sendBatch(list.slice(0, 3), GROUP, port);
      await waitFor(() => got.length >= sizes.length + 3, 'the datagrams');
      expect(got).toHaveLength(expected.length);
      expect(got.map((g) => g.info)).toEqual(expected.map((e) => e.info));
      got.forEach((g, i) => expect(g.data.equals(expected[i]!.data)).toBe(true));
      // Two senders: two source ports, both seen.
      expect(new Set(got.map((g) => g.info.port)).size).toBe(2);
      expect(got.some((g) => g.info.truncated && g.info.originalSize === 150 && g.info.size === 100)).toBe(true);
      if ('receiveTTL' in extras) {
        expect(got.every((g) => g.info.ttl !== undefined && typeof g.info.timestamp === 'bigint')).toBe(true);
      } else {
        expect(got.every((g) => !('ttl' in g.info) && !('timestamp' in g.info))).toBe(true);
      }
    });
  }
});
