/**
 * The capture writer's native path for mcast's own batches (frames built straight from the
 * receive records, lib/pcap/writer.ts #writeRecords): the same file, byte for byte in every
 * packet record, as the accessor path (one job per datagram built in JS) for the same batches.
 * Real datagrams on `lo` (an IPv4 group, IPv6 to ::1), sizes of both parities, datagrams the socket cut,
 * frames the snap length cuts, and enough bytes to cross output blocks; pcapng and pcap.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { CaptureWriter, type CaptureFormat, type RecvBatch } from '../lib/index.js';

import { socketFactory, uniquePort, waitFor } from './helpers.js';

const DIR = mkdtempSync(join(tmpdir(), 'mcast-pcap-records-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));
const make = socketFactory();

/** The same batch behind its accessors only (not an instance of mcast's Batch class). */
function accessorsOf(b: RecvBatch): RecvBatch {
  return {
    count: b.count,
    buffer: b.buffer,
    family: b.family,
    offset: (i) => b.offset(i),
    size: (i) => b.size(i),
    originalSize: (i) => b.originalSize(i),
    truncated: (i) => b.truncated(i),
    data: (i) => b.data(i),
    address: (i) => b.address(i),
    port: (i) => b.port(i),
    destination: (i) => b.destination(i),
    interfaceIndex: (i) => b.interfaceIndex(i),
    ttl: (i) => b.ttl(i),
    dropCount: (i) => b.dropCount(i),
    timestamp: (i) => b.timestamp(i),
  };
}

/** The packet records of a file: pcapng EPBs (type 6) whole, or pcap records after the header. */
function packetRecords(file: string, format: CaptureFormat): Buffer[] {
  const bytes = readFileSync(file);
  const out: Buffer[] = [];
  if (format === 'pcap') {
    for (let at = 24; at < bytes.length; ) {
      const length = 16 + bytes.readUInt32LE(at + 8);
      out.push(bytes.subarray(at, at + length));
      at += length;
    }
    return out;
  }
  for (let at = 0; at < bytes.length; ) {
    const length = bytes.readUInt32LE(at + 4);
    if (bytes.readUInt32LE(at) === 6) out.push(bytes.subarray(at, at + length));
    at += length;
  }
  return out;
}

describe("the writer's native path for mcast's batches", () => {
  for (const family of [4, 6] as const) {
    for (const format of ['pcapng', 'pcap'] as const) {
      it(`IPv${family} ${format}: the same records as the accessor path, across blocks, cut datagrams and snap length`, async () => {
        // Linux carries no IPv6 multicast on lo: IPv6 goes to ::1 (a unicast MAC in the frame).
        const group = family === 4 ? '239.77.13.1' : '::1';
        const port = uniquePort();
        // maxMessageSize 1200: the longer datagrams arrive cut (no UDP checksum in the file).
        const rx = make({ family, port, timestamps: true, receiveTTL: true, batchSize: 64, maxMessageSize: 1200, recvBufferSize: 8 << 20 });
        if (family === 4) rx.join(group, { interface: 'lo' });
        const tx = make({ family, interface: 'lo', ttl: 3, sendBufferSize: 8 << 20 });
        const names = ['native', 'accessors', 'native-snap', 'accessors-snap'].map((n) => join(DIR, `${n}-${family}.${format}`));
        const writers = names.map((file, k) => CaptureWriter.open(file, { format, snaplen: k < 2 ? 262144 : 301, interfaceName: () => 'lo', queueBytes: 1 << 20 }));
        let received = 0;
        rx.on('batch', (b) => {
          received += b.count;
          writers[0]!.writeBatch(b, port);
          writers[1]!.writeBatch(accessorsOf(b), port);
          writers[2]!.writeBatch(b, port);
          writers[3]!.writeBatch(accessorsOf(b), port);
        });
        // 2400 datagrams of 0..1399 bytes (every parity): about 1.7 MB, so several 1 MiB blocks.
        const total = 2400;
        for (let i = 0; i < total; i += 50) {
          const list = Array.from({ length: 50 }, (_, k) => {
            const n = ((i + k) * 577) % 1400;
            const p = Buffer.alloc(n, (i + k) & 0xff);
            if (n >= 4) p.writeUInt32BE(i + k, 0);
            return p;
          });
          for (let sent = 0; sent < list.length; ) sent += tx.sendBatch(list.slice(sent), group, port);
          await waitFor(() => received >= i + 50, `datagram ${i + 50}`);
        }
        await Promise.all(writers.map((w) => w.close({ kernelDrops: rx.stats().kernelDrops })));
        const totals = writers.map((w) => w.totals);
        expect(totals[0]).toEqual(totals[1]);
        expect(totals[2]).toEqual(totals[3]);
        expect(totals[0]!.datagrams).toBe(total);
        expect(totals[0]!.truncated).toBeGreaterThan(0); // the socket's cut ones
        expect(totals[2]!.truncated).toBeGreaterThan(totals[0]!.truncated); // and the snap length's
        const records = names.map((file) => packetRecords(file, format));
        expect(records[0]).toHaveLength(total);
        expect(records[2]).toHaveLength(total);
        for (let i = 0; i < total; i++) {
          expect(records[0]![i]!.equals(records[1]![i]!), `record ${i}`).toBe(true);
          expect(records[2]![i]!.equals(records[3]![i]!), `cut record ${i}`).toBe(true);
        }
      });
    }
  }
});
