/**
 * The fast paths of the capture files, without the network: the writer's native checksums as
 * tshark validates them (IPv4 and IPv6, every payload length parity, files of many output
 * blocks, the 'batch' slab path and the one-datagram path), its bounded asynchronous write queue
 * under backpressure (nothing lost, memory bounded), the native helper's own bounds, and the
 * reader's batch mode against its iterator (across block and chunk boundaries, runs of one
 * destination, an error after some datagrams).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { binding } from '../lib/binding.js';
import { CaptureBatch, CaptureFormatError, CaptureWriter, readCapture, type CapturedDatagram, type RecvBatch } from '../lib/index.js';

import { prng } from './helpers.js';

const TOOL_TIMEOUT_MS = 60_000;
const DIR = mkdtempSync(join(tmpdir(), 'mcast-pcap-batch-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const BASE_NS = 1764600000000000000n;

/** The Internet checksum (RFC 1071) of bytes[start, end): the oracle for the native sums. */
function internetChecksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += ((bytes[i] as number) << 8) | (i + 1 < end ? (bytes[i + 1] as number) : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Payload i: its length and bytes follow from i alone (a sequence number in the first 4 bytes). */
function payloadOf(i: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let k = 0; k < length; k++) b[k] = (k * 31 + i) & 0xff;
  if (length >= 4) b.writeUInt32BE(i, 0);
  return b;
}

function tsharkRows(file: string, fields: readonly string[]): string[][] {
  const out = execFileSync(
    'tshark',
    ['-r', file, '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', '-d', 'udp.port==45000,data', '-T', 'fields', ...fields.flatMap((f) => ['-e', f])],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: TOOL_TIMEOUT_MS, maxBuffer: 256 << 20 },
  );
  return out
    .trimEnd()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

/** Counts of each distinct row. */
function tally(rows: string[][]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[r.join(' ')] = (out[r.join(' ')] ?? 0) + 1;
  return out;
}

describe('checksums: filled natively, once per batch, valid as tshark checks them', () => {
  // Lengths of both parities, 0, around the 8-byte steps of the native loop, and large ones.
  const lengths = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 256, 1399, 1400, 1472, 8191, 9000];

  for (const [family, source, destination] of [
    [4, '10.20.30.40', '239.1.2.3'],
    [6, 'fd00::1:2', 'ff1e::1234:5678'],
  ] as const) {
    for (const format of ['pcapng', 'pcap'] as const) {
      it(`IPv${family} ${format}: ${lengths.length * 150} datagrams over several 1 MiB blocks, every UDP${family === 4 ? ' and IP header' : ''} checksum good`, async () => {
        const file = join(DIR, `sum${family}.${format}`);
        const w = CaptureWriter.open(file, { format, interfaceName: () => 'mcx' });
        let n = 0;
        for (let r = 0; r < 150; r++) {
          for (const length of lengths) {
            w.writeDatagram({ timestamp: BASE_NS + BigInt(n), source, sourcePort: 40000 + (n % 1000), destination, destinationPort: 45000, ttl: n & 0xff, interfaceIndex: 1, payload: payloadOf(n, length) });
            n++;
          }
        }
        // One datagram cut before it reached the writer: its UDP checksum cannot be known, so it is
        // 0 ("none" in IPv4; in IPv6 Wireshark calls 0 illegal); its IPv4 header sum still is valid.
        w.writeDatagram({ timestamp: BASE_NS + BigInt(n), source, sourcePort: 1, destination, destinationPort: 45000, interfaceIndex: 1, payload: payloadOf(n, 100), originalLength: 300 });
        await w.close();
        expect(w.totals.fileBytes).toBeGreaterThan(3 << 20);
        const rows = tsharkRows(file, ['udp.checksum.status', family === 4 ? 'ip.checksum.status' : 'ipv6.plen', '_ws.malformed']);
        expect(rows).toHaveLength(n + 1);
        // Wireshark's checksum status: 0 bad, 1 good, 2 unverified.
        const statuses = tally(rows.slice(0, n).map((r) => [r[0] ?? '', family === 4 ? (r[1] ?? '') : 'v6', r[2] ?? '']));
        expect(statuses).toEqual({ [`1 ${family === 4 ? '1' : 'v6'} `]: n });
        expect(rows[n]?.[0]).toBe(family === 4 ? '3' : '4'); // not present / illegal
        if (family === 4) expect(rows[n]?.[1]).toBe('1');
        // The payloads, read back by mcast's reader, byte for byte.
        let i = 0;
        for await (const d of readCapture(file)) {
          if (i < n) expect(d.payload.equals(payloadOf(i, lengths[i % lengths.length]!)), `datagram ${i}`).toBe(true);
          i++;
        }
        expect(i).toBe(n + 1);
      });
    }
  }

  it("the 'batch' path: payloads copied from the slab at their offsets, checksums good, equal to the JS sum", async () => {
    const file = join(DIR, 'slab.pcapng');
    const slab = Buffer.alloc(64 * 2048);
    const sizes = Array.from({ length: 64 }, (_, i) => (i * 37) % 1500);
    for (let i = 0; i < 64; i++) payloadOf(i, sizes[i]!).copy(slab, i * 2048 + (i % 3));
    const batch: RecvBatch = {
      count: 64,
      buffer: slab,
      family: 4,
      offset: (i) => i * 2048 + (i % 3),
      size: (i) => sizes[i]!,
      originalSize: (i) => sizes[i]!,
      truncated: () => false,
      data: (i) => slab.subarray(i * 2048 + (i % 3), i * 2048 + (i % 3) + sizes[i]!),
      address: (i) => `10.0.0.${i}`,
      port: (i) => 1000 + i,
      destination: () => '239.9.9.9',
      interfaceIndex: () => 2,
      ttl: () => 3,
      dropCount: () => 0,
      timestamp: (i) => BASE_NS + BigInt(i),
    };
    const w = CaptureWriter.open(file, { interfaceName: () => 'mcx' });
    for (let r = 0; r < 20; r++) expect(w.writeBatch(batch, 45000)).toBe(64);
    await w.close();
    const rows = tsharkRows(file, ['udp.checksum.status', 'ip.checksum.status', 'ip.src', 'udp.srcport']);
    expect(rows).toHaveLength(64 * 20);
    expect(tally(rows.map((r) => [r[0] ?? '', r[1] ?? '']))).toEqual({ '1 1': 64 * 20 });
    expect(rows.slice(0, 3).map((r) => [r[2], r[3]])).toEqual([
      ['10.0.0.0', '1000'],
      ['10.0.0.1', '1001'],
      ['10.0.0.2', '1002'],
    ]);
    // The UDP checksum in the file is the JS implementation's (RFC 1071) over the same bytes.
    const bytes = readFileSync(file);
    let checked = 0;
    for await (const d of readCapture(file)) {
      const udp = d.offset + 28 + 14 + 20;
      const pseudo = Buffer.concat([bytes.subarray(udp - 8, udp), Buffer.from([0, 17]), bytes.subarray(udp + 4, udp + 6)]);
      const copy = Buffer.from(bytes.subarray(udp, udp + 8 + d.payload.length));
      copy[6] = 0;
      copy[7] = 0;
      let sum = internetChecksum(Buffer.concat([pseudo, copy]), 0, pseudo.length + copy.length);
      if (sum === 0) sum = 0xffff;
      expect(bytes.readUInt16BE(udp + 6)).toBe(sum);
      expect(d.payload.equals(payloadOf(checked % 64, sizes[checked % 64]!))).toBe(true);
      checked++;
    }
    expect(checked).toBe(64 * 20);
  });

  it('a frame the snap length cuts keeps the real checksum of the whole datagram (IPv6: never 0)', async () => {
    const file = join(DIR, 'snap6.pcapng');
    const slab = Buffer.alloc(8 * 2048);
    for (let i = 0; i < 8; i++) payloadOf(i, 1000).copy(slab, i * 2048);
    const batch: RecvBatch = {
      count: 8,
      buffer: slab,
      family: 6,
      offset: (i) => i * 2048,
      size: () => 1000,
      originalSize: () => 1000,
      truncated: () => false,
      data: (i) => slab.subarray(i * 2048, i * 2048 + 1000),
      address: () => 'fd00::7',
      port: () => 7,
      destination: () => 'ff1e::7',
      interfaceIndex: () => 2,
      ttl: () => 3,
      dropCount: () => 0,
      timestamp: (i) => BASE_NS + BigInt(i),
    };
    const w = CaptureWriter.open(file, { snaplen: 200, interfaceName: () => 'mcx' });
    w.writeBatch(batch, 45000);
    await w.close();
    const rows = tsharkRows(file, ['frame.cap_len', 'frame.len', 'udp.checksum', 'udp.checksum.status']);
    expect(rows).toHaveLength(8);
    for (const [i, row] of rows.entries()) {
      expect(row.slice(0, 2)).toEqual(['200', String(62 + 1000)]);
      expect(row[3]).toBe('2'); // unverified: Wireshark does not sum a cut frame
      // The sum over the whole datagram, computed here from the slab.
      const pseudo = Buffer.alloc(40);
      Buffer.from('fd000000000000000000000000000007', 'hex').copy(pseudo, 0);
      Buffer.from('ff1e0000000000000000000000000007', 'hex').copy(pseudo, 16);
      pseudo.writeUInt32BE(1008, 32);
      pseudo[39] = 17;
      const udp = Buffer.alloc(8);
      udp.writeUInt16BE(7, 0);
      udp.writeUInt16BE(45000, 2);
      udp.writeUInt16BE(1008, 4);
      const whole = Buffer.concat([pseudo, udp, payloadOf(i, 1000)]);
      let sum = internetChecksum(whole, 0, whole.length);
      if (sum === 0) sum = 0xffff;
      expect(Number(row[2])).toBe(sum);
    }
  });

  it('the native helper never reads or writes out of bounds, and says how many frames it did', () => {
    const block = new Uint8Array(256);
    const payloads = new Uint8Array(64);
    const addresses = new Uint8Array(32);
    // A valid IPv4 pcapng record of 64 payload bytes at 0: 28 + 42 + 64 + 2 padding + 4 = 140 bytes.
    const valid = [0, 2 | 4, 0, 64, 64, 0, 0, 0, 1, 2, 3, 4, 0, 16, 140, 0];
    const job = (changes: Record<number, number> = {}): Int32Array => {
      const j = Int32Array.from(valid);
      for (const [k, v] of Object.entries(changes)) j[Number(k)] = v;
      return j;
    };
    const build = (j: Int32Array, count = 1): number => binding.pcapFrames(block, j, count, payloads, addresses);
    expect(build(job())).toBe(1);
    expect(Buffer.from(block).readUInt32LE(4)).toBe(140);
    expect(build(job({ 0: 200 }))).toBe(0); // the record runs past the block
    expect(build(job({ 0: -1 }))).toBe(0);
    expect(build(job({ 14: 136 }))).toBe(0); // a record length that disagrees
    expect(build(job({ 2: 10 }))).toBe(0); // the payload runs past its source
    expect(binding.pcapFrames(block, job(), 1, undefined, addresses)).toBe(0); // no payload source
    expect(build(job({ 12: 30 }))).toBe(0); // an address past its source
    expect(binding.pcapFrames(block, job(), 1, payloads)).toBe(0); // no address source
    expect(build(job({ 4: 100 }))).toBe(0); // a checksum over more than the source holds
    expect(build(job({ 1: 4, 4: 100 }))).toBe(1); // without the checksum: a cut frame is fine
    expect(build(job({ 3: 65, 4: 64 }))).toBe(0); // more kept than the datagram has
    expect(build(job(), 5)).toBe(1); // the count capped by the jobs given
    expect(build(job(), Number.NaN)).toBe(0);
    expect(() => binding.pcapFrames(new Uint16Array(4) as unknown as Uint8Array, new Int32Array(16), 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => binding.pcapFrames(block, new Uint32Array(16) as unknown as Int32Array, 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => binding.pcapFrames(block, new Int32Array(16), 1, 'x' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('the asynchronous write queue', () => {
  it('under backpressure: blocks written synchronously when the queue is full, memory bounded, nothing lost', async () => {
    const file = join(DIR, 'pressure.pcapng');
    const queueBytes = 2 << 20;
    const w = CaptureWriter.open(file, { queueBytes, interfaceName: () => 'mcx' });
    const payload = Buffer.alloc(1400, 0x55);
    const n = 30_000; // ~43 MiB, written without yielding: the queued writes cannot complete meanwhile
    for (let i = 0; i < n; i++) {
      payload.writeUInt32BE(i, 0);
      w.writeDatagram({ timestamp: BASE_NS + BigInt(i), source: '10.0.0.1', sourcePort: 1, destination: '239.0.0.1', destinationPort: 45000, interfaceIndex: 1, payload });
    }
    const totals = { ...w.totals };
    expect(totals.syncWrites).toBeGreaterThan(0);
    expect(totals.peakQueuedBytes).toBeGreaterThan(0);
    expect(totals.peakQueuedBytes).toBeLessThanOrEqual(queueBytes);
    await w.close();
    expect(readFileSync(file).length).toBe(w.totals.fileBytes);
    let i = 0;
    for await (const d of readCapture(file)) {
      expect(d.payload.readUInt32BE(0)).toBe(i);
      i++;
    }
    expect(i).toBe(n);
  });

  it('queued and synchronous writes mixed, with the loop turning between bursts: every datagram in file order; whenWritten() waits for the queue', async () => {
    const file = join(DIR, 'gather.pcapng');
    const w = CaptureWriter.open(file, { queueBytes: 3 << 20, interfaceName: () => 'mcx' });
    const payload = Buffer.alloc(1400, 0x66);
    const n = 40_000; // ~57 MiB
    for (let i = 0; i < n; i++) {
      payload.writeUInt32BE(i, 0);
      w.writeDatagram({ timestamp: BASE_NS + BigInt(i), source: '10.0.0.2', sourcePort: 2, destination: '239.0.0.2', destinationPort: 45002, interfaceIndex: 1, payload });
      if (i % 4000 === 0) await new Promise((resolve) => setImmediate(resolve)); // bursts of ~5.6 MiB: over the queue
    }
    expect(w.totals.syncWrites).toBeGreaterThan(0);
    expect(w.totals.peakQueuedBytes).toBeLessThanOrEqual(3 << 20);
    // What was handed to the file is there once whenWritten() resolves (the block being filled
    // is not, until flush()).
    w.flush();
    const fileBytes = w.totals.fileBytes;
    await w.whenWritten();
    expect(readFileSync(file).length).toBe(fileBytes);
    await w.whenWritten(); // nothing queued: at once
    await w.close();
    expect(readFileSync(file).length).toBe(w.totals.fileBytes);
    let i = 0;
    for await (const d of readCapture(file)) {
      expect(d.payload.readUInt32BE(0)).toBe(i);
      expect(d.timestamp).toBe(BASE_NS + BigInt(i));
      i++;
    }
    expect(i).toBe(n);
  });

  it('a failed asynchronous write (ENOSPC on /dev/full) is thrown by the next call and rejects whenWritten() and close()', async () => {
    const w = CaptureWriter.open('/dev/full', { format: 'pcapng', interfaceName: () => 'mcx' });
    const payload = Buffer.alloc(1400, 0x67);
    const write = (): void => w.writeDatagram({ source: '10.0.0.3', sourcePort: 3, destination: '239.0.0.3', destinationPort: 45003, interfaceIndex: 1, payload });
    for (let i = 0; i < 2000; i++) write(); // > 1 MiB: one block queued
    for (let k = 0; k < 100 && w.totals.peakQueuedBytes > 0; k++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      try {
        write();
      } catch (error) {
        expect(error).toEqual(expect.objectContaining({ code: 'ENOSPC' }));
        break;
      }
      if (k === 99) throw new Error('the failed write was never reported');
    }
    await expect(w.whenWritten()).rejects.toEqual(expect.objectContaining({ code: 'ENOSPC' }));
    await expect(w.close()).rejects.toEqual(expect.objectContaining({ code: 'ENOSPC' }));
  });

  it('queueBytes 0 writes every block synchronously; a bad queueBytes is refused; close() is one promise; writing after it fails', async () => {
    const file = join(DIR, 'sync.pcap');
    const w = CaptureWriter.open(file, { queueBytes: 0 });
    const payload = Buffer.alloc(1000, 1);
    for (let i = 0; i < 3000; i++) w.writeDatagram({ source: '10.0.0.1', sourcePort: 1, destination: '239.0.0.1', destinationPort: 45000, interfaceIndex: 1, payload });
    expect(w.totals.syncWrites).toBeGreaterThan(1);
    expect(w.totals.peakQueuedBytes).toBe(0);
    const closing = w.close();
    expect(w.close()).toBe(closing);
    await closing;
    expect(readFileSync(file).length).toBe(w.totals.fileBytes);
    expect(() => w.writeDatagram({ source: '10.0.0.1', sourcePort: 1, destination: '239.0.0.1', destinationPort: 1, interfaceIndex: 1, payload })).toThrow(expect.objectContaining({ code: 'ERR_MCAST_WRITER_CLOSED' }));
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => CaptureWriter.open(join(DIR, 'bad.pcapng'), { queueBytes: bad })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    }
  });
});

/** Every datagram through batches(), with the batch sizes and the sameDestination flags. */
async function viaBatches(input: string | Uint8Array | AsyncIterable<Uint8Array>, options = {}): Promise<{ datagrams: CapturedDatagram[]; sizes: number[]; same: boolean[] }> {
  const datagrams: CapturedDatagram[] = [];
  const sizes: number[] = [];
  const same: boolean[] = [];
  for await (const batch of readCapture(input, options).batches()) {
    expect(batch).toBeInstanceOf(CaptureBatch);
    sizes.push(batch.count);
    for (let i = 0; i < batch.count; i++) {
      datagrams.push(batch.datagram(i));
      same.push(batch.sameDestination(i));
      expect(batch.capturedLength(i)).toBe(batch.payload(i).length);
      // bytes(i), the sender's view: the same bytes of the same memory, as a plain Uint8Array
      const bytes = batch.bytes(i);
      const payload = batch.payload(i);
      expect(Buffer.isBuffer(bytes)).toBe(false);
      expect([bytes.buffer, bytes.byteOffset, bytes.length]).toEqual([payload.buffer, payload.byteOffset, payload.length]);
    }
  }
  return { datagrams, sizes, same };
}

/** A datagram with its payload as hex: toEqual on many Buffers compares byte by byte, slowly. */
function plain(d: CapturedDatagram): Omit<CapturedDatagram, 'payload'> & { payload: string } {
  return { ...d, payload: d.payload.toString('hex') };
}

async function viaIterator(input: string | Uint8Array | AsyncIterable<Uint8Array>, options = {}): Promise<CapturedDatagram[]> {
  const out: CapturedDatagram[] = [];
  for await (const d of readCapture(input, options)) out.push(d);
  return out;
}

describe("the reader's batch mode", () => {
  /** 1500 datagrams: IPv4 and IPv6, runs of one destination of random lengths, varied sizes, a few cut. */
  async function mixedFile(format: 'pcapng' | 'pcap'): Promise<string> {
    const file = join(DIR, `mixed.${format}`);
    const random = prng(0xba7c4);
    const destinations: ReadonlyArray<readonly [string, string, number]> = [
      ['10.0.0.1', '239.1.1.1', 5000],
      ['10.0.0.2', '239.1.1.1', 5001],
      ['10.0.0.1', '239.1.1.2', 5000],
      ['fd00::1', 'ff1e::1', 5000],
      ['fd00::2', 'ff1e::2', 5000],
    ];
    const w = CaptureWriter.open(file, { format, interfaceName: () => 'mcx' });
    let d = destinations[0]!;
    for (let i = 0; i < 1500; i++) {
      if (random() < 0.1) d = destinations[Math.floor(random() * destinations.length)]!;
      const length = Math.floor(random() * 700);
      w.writeDatagram({
        timestamp: BASE_NS + BigInt(i) * 1_000_003n,
        source: d[0],
        sourcePort: 40000 + i,
        destination: d[1],
        destinationPort: d[2],
        ttl: i & 0xff,
        interfaceIndex: 1 + (i % 2),
        payload: payloadOf(i, length),
        ...(i % 97 === 5 ? { originalLength: length + 10 } : {}),
      });
    }
    await w.close();
    return file;
  }

  it('a file is read one chunk ahead: blocks longer than a chunk, leftovers longer than the room before a chunk, an early break closes the file, a missing file fails the iteration', async () => {
    const file = join(DIR, 'ahead.pcapng');
    const w = CaptureWriter.open(file, { interfaceName: () => 'mcx' });
    const sizes = [10, 9000, 20, 30000, 5, 1400, 60000, 0, 700];
    for (let i = 0; i < 600; i++) w.writeDatagram({ timestamp: BASE_NS + BigInt(i), source: '10.0.0.5', sourcePort: 5, destination: '239.0.0.5', destinationPort: 45005, interfaceIndex: 1, payload: payloadOf(i, sizes[i % sizes.length]!) });
    await w.close();
    const expected = await viaIterator(readFileSync(file));
    expect(expected).toHaveLength(600);
    // 4 KiB reads (1 KiB of room before each): most blocks span several chunks.
    for (const chunkBytes of [4096, 50_000, 1 << 20]) {
      expect((await viaIterator(file, { chunkBytes })).map(plain), `chunkBytes ${chunkBytes}`).toEqual(expected.map(plain));
    }
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let k = 0; k < 20; k++) {
      for await (const d of readCapture(file, { chunkBytes: 4096 })) {
        expect(d.frame).toBe(1);
        break; // the next chunk is being read: return() waits for it, then closes the file
      }
    }
    expect(fds()).toBe(before);
    await expect(viaIterator(join(DIR, 'no-such-file.pcapng'))).rejects.toEqual(expect.objectContaining({ code: 'ENOENT' }));
  });

  for (const format of ['pcapng', 'pcap'] as const) {
    it(`${format}: the same datagrams as the iterator, across chunk and block boundaries; runs of one destination flagged`, async () => {
      const file = await mixedFile(format);
      const expected = await viaIterator(file);
      expect(expected).toHaveLength(1500);
      const bytes = readFileSync(file);
      async function* sevens(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
      }
      for (const [name, input, options] of [
        ['file, 1 MiB reads', file, {}],
        ['file, 100-byte reads', file, { chunkBytes: 100 }],
        ['file, 4 KiB reads', file, { chunkBytes: 4096 }],
        ['bytes in memory', bytes, {}],
        ['a stream of 7-byte chunks', sevens(), {}],
      ] as const) {
        const got = await viaBatches(input, options);
        expect(got.datagrams.map(plain), name).toEqual(expected.map(plain));
        expect(got.sizes.every((n) => n > 0 && n <= 256), name).toBe(true);
        expect(got.sizes.slice(0, -1).every((n) => n === 256), name).toBe(true);
        // sameDestination: family, address and port equal to the datagram before (file order).
        const want = expected.map((e, i) => i > 0 && e.family === expected[i - 1]!.family && e.destination === expected[i - 1]!.destination && e.ports.destination === expected[i - 1]!.ports.destination);
        expect(got.same, name).toEqual(want);
      }
      // Views handed out by earlier batches stay valid after later ones.
      const kept: Buffer[] = [];
      for await (const batch of readCapture(file, { chunkBytes: 4096 }).batches()) kept.push(batch.payload(0));
      expect(kept.map((p) => p.toString('hex'))).toEqual(expected.filter((_, i) => i % 256 === 0).map((e) => e.payload.toString('hex')));
      expect(expected.filter((e) => e.truncated).length).toBeGreaterThan(10);
    });
  }

  it('a bad block after some datagrams: a last batch with them, then the same error as the iterator', async () => {
    const file = await mixedFile('pcapng');
    const bytes = Buffer.from(readFileSync(file));
    const all = await viaIterator(bytes);
    const bad = all[600]!.offset;
    bytes.writeUInt32LE(13, bad + 4); // not a multiple of 4
    const seen: CapturedDatagram[] = [];
    let error: unknown;
    try {
      for await (const batch of readCapture(bytes).batches()) for (let i = 0; i < batch.count; i++) seen.push(batch.datagram(i));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CaptureFormatError);
    expect((error as CaptureFormatError).offset).toBe(bad + 4);
    expect(seen.map(plain)).toEqual(all.slice(0, 600).map(plain));
    const reader = readCapture(bytes);
    reader.batches();
    expect(() => reader[Symbol.asyncIterator]()).toThrow(expect.objectContaining({ code: 'ERR_MCAST_READER_USED' }));
  });
});
