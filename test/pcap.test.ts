/**
 * The capture file module without the network: the writer's files as tshark, tcpdump and
 * capinfos read them (fields, ns timestamps, checksums, no malformed packet, the statistics
 * block), the reader on files built here byte by byte (both byte orders, several sections and
 * interfaces, every timestamp resolution, every link type it claims, VLAN tags, fragments),
 * files converted by editcap, bad files (each a clear error naming the byte offset, or a counted
 * skip), and a seeded mutation fuzz of the reader.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { CaptureFormatError, CaptureWriter, readCapture, type CapturedDatagram, type CaptureReader } from '../lib/index.js';

import { prng } from './helpers.js';

/** A capture tool that hangs fails its test instead of blocking the worker (execFileSync is synchronous). */
const TOOL_TIMEOUT_MS = 60_000;

const DIR = mkdtempSync(join(tmpdir(), 'mcast-pcap-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const BASE_NS = 1764600000123456789n;

interface Sample {
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  ttl: number;
  payload: Buffer;
  timestamp: bigint;
  originalLength?: number;
}

/** Datagrams of both families, one of them cut (300 bytes on the wire, 100 captured). */
function samples(): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; i < 5; i++) {
    out.push({ source: '10.1.1.2', destination: '239.1.2.3', sourcePort: 40000, destinationPort: 5000, ttl: 7, payload: Buffer.from(`hello ${i}`), timestamp: BASE_NS + BigInt(i) * 1_000_001n });
  }
  out.push({ source: 'fd00::2', destination: 'ff1e::1234', sourcePort: 40001, destinationPort: 5002, ttl: 9, payload: Buffer.from('six'), timestamp: BASE_NS + 10_000_000n });
  out.push({ source: '10.1.1.3', destination: '239.1.2.4', sourcePort: 40002, destinationPort: 5000, ttl: 1, payload: Buffer.alloc(100, 0x61), originalLength: 300, timestamp: BASE_NS + 20_000_000n });
  out.push({ source: '10.1.1.2', destination: '239.1.2.3', sourcePort: 40000, destinationPort: 5000, ttl: 7, payload: Buffer.alloc(0), timestamp: BASE_NS + 30_000_000n });
  return out;
}

function writeSamples(path: string, list: readonly Sample[], options: { snaplen?: number; drops?: number } = {}): void {
  const w = CaptureWriter.open(path, { interfaceName: (i) => `mcif${i}`, interfaces: [3], ...(options.snaplen !== undefined ? { snaplen: options.snaplen } : {}) });
  for (const s of list) w.writeDatagram({ ...s, interfaceIndex: 3 });
  w.close({ kernelDrops: options.drops ?? 0, truncated: 1 });
}

async function readAll(input: string | Uint8Array, options = {}): Promise<{ reader: CaptureReader; datagrams: CapturedDatagram[] }> {
  const reader = readCapture(input, options);
  const datagrams: CapturedDatagram[] = [];
  for await (const d of reader) datagrams.push(d);
  return { reader, datagrams };
}

/** `input` as a stream of chunks of 1 to `most` bytes (sizes from `random`). */
async function* pieces(input: Uint8Array, most: number, random: () => number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < input.length; ) {
    const n = 1 + Math.floor(random() * most);
    yield input.subarray(at, at + n);
    at += n;
  }
}

/** Every datagram through reader.batches(), and the error that ended the reading, if any. */
async function readByBatches(input: Uint8Array | AsyncIterable<Uint8Array>): Promise<{ datagrams: CapturedDatagram[]; error?: CaptureFormatError }> {
  const datagrams: CapturedDatagram[] = [];
  try {
    for await (const batch of readCapture(input).batches()) {
      for (let i = 0; i < batch.count; i++) datagrams.push(batch.datagram(i));
    }
  } catch (error) {
    if (!(error instanceof CaptureFormatError)) throw error;
    return { datagrams, error };
  }
  return { datagrams };
}

async function readError(input: Uint8Array): Promise<CaptureFormatError> {
  try {
    await readAll(input);
  } catch (error) {
    expect(error).toBeInstanceOf(CaptureFormatError);
    return error as CaptureFormatError;
  }
  throw new Error('the reader accepted a bad file');
}

function tshark(file: string, fields: readonly string[], extra: readonly string[] = []): string[][] {
  const out = execFileSync('tshark', ['-r', file, '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', ...extra, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: TOOL_TIMEOUT_MS,
  });
  return out
    .trimEnd()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

/** `1764600000.123456789` */
function epoch(ns: bigint): string {
  return `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
}

// ---- byte-level builders, independent of the writer ------------------------------------------

type Order = 'le' | 'be';

function u16(v: number, o: Order): Buffer {
  const b = Buffer.alloc(2);
  if (o === 'le') b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}

function u32(v: number, o: Order): Buffer {
  const b = Buffer.alloc(4);
  if (o === 'le') b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}

function pad(b: Buffer): Buffer {
  return Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
}

function option(code: number, value: Buffer, o: Order): Buffer {
  return Buffer.concat([u16(code, o), u16(value.length, o), pad(value)]);
}

function block(type: number, body: Buffer, o: Order): Buffer {
  const length = 12 + body.length;
  return Buffer.concat([u32(type, o), u32(length, o), body, u32(length, o)]);
}

function shb(o: Order): Buffer {
  return block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d, o), u16(1, o), u16(0, o), Buffer.alloc(8, 0xff)]), o);
}

function idb(linkType: number, o: Order, tsresol?: number, name?: string): Buffer {
  const opts = [
    ...(name !== undefined ? [option(2, Buffer.from(name), o)] : []),
    ...(tsresol !== undefined ? [option(9, Buffer.from([tsresol]), o)] : []),
  ];
  const end = opts.length > 0 ? [u32(0, o)] : [];
  return block(1, Buffer.concat([u16(linkType, o), u16(0, o), u32(65535, o), ...opts, ...end]), o);
}

function epb(id: number, units: bigint, frame: Buffer, o: Order, original = frame.length): Buffer {
  return block(
    6,
    Buffer.concat([u32(id, o), u32(Number(units >> 32n), o), u32(Number(units & 0xffffffffn), o), u32(frame.length, o), u32(original, o), pad(frame)]),
    o,
  );
}

/** An IPv4 UDP packet (checksums zero: the reader does not check them). */
function ipv4Udp(src: number[], dst: number[], sport: number, dport: number, payload: Buffer, opts: { ttl?: number; flags?: number; proto?: number } = {}): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(28 + payload.length, 2);
  ip.writeUInt16BE(opts.flags ?? 0, 6);
  ip[8] = opts.ttl ?? 3;
  ip[9] = opts.proto ?? 17;
  ip.set(src, 12);
  ip.set(dst, 16);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([ip, udp, payload]);
}

function ipv6Udp(payload: Buffer, extension?: { next: number; bytes: Buffer }): Buffer {
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(1111, 0);
  udp.writeUInt16BE(2222, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const ext = extension?.bytes ?? Buffer.alloc(0);
  ip.writeUInt16BE(ext.length + 8 + payload.length, 4);
  ip[6] = extension?.next ?? 17;
  ip[7] = 4;
  ip[8] = 0xfd;
  ip[23] = 2;
  ip[24] = 0xff;
  ip[25] = 0x1e;
  ip[39] = 7;
  return Buffer.concat([ip, ext, udp, payload]);
}

/** An Ethernet frame: MACs, the ethertype, then `packet` (for a VLAN tag: TCI + inner type + packet). */
function ethernet(type: number, packet: Buffer): Buffer {
  return Buffer.concat([Buffer.alloc(12, 0x22), u16(type, 'be'), packet]);
}

const V4 = ipv4Udp([10, 0, 0, 1], [239, 9, 9, 9], 1234, 5678, Buffer.from('payload'));

describe('the writer, read by tshark, tcpdump and capinfos', () => {
  it('pcapng: every field, the ns timestamps, valid checksums, no malformed packet', () => {
    const file = join(DIR, 'w.pcapng');
    const list = samples();
    writeSamples(file, list, { drops: 42 });
    const rows = tshark(file, ['frame.time_epoch', 'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst', 'udp.srcport', 'udp.dstport', 'ip.ttl', 'ipv6.hlim', 'udp.length', 'frame.len', 'frame.cap_len', 'udp.checksum.status', 'ip.checksum.status', 'data.data', '_ws.malformed', 'frame.interface_name']);
    expect(rows).toHaveLength(list.length);
    list.forEach((s, i) => {
      const r = rows[i] ?? [];
      const v6 = s.source.includes(':');
      const original = s.originalLength ?? s.payload.length;
      expect(r[0]).toBe(epoch(s.timestamp));
      expect(v6 ? r[2] : r[1]).toBe(s.source);
      expect(v6 ? r[4] : r[3]).toBe(s.destination);
      expect([r[5], r[6]]).toEqual([String(s.sourcePort), String(s.destinationPort)]);
      expect(v6 ? r[8] : r[7]).toBe(String(s.ttl));
      expect(r[9]).toBe(String(8 + original));
      expect(r[10]).toBe(String((v6 ? 62 : 42) + original));
      expect(r[11]).toBe(String((v6 ? 62 : 42) + s.payload.length));
      // 1 = good; a cut datagram carries no checksum (3: "not present").
      expect(r[12]).toBe(s.originalLength === undefined ? '1' : '3');
      if (!v6) expect(r[13]).toBe('1');
      if (s.originalLength === undefined) expect(r[14] ?? '').toBe(s.payload.toString('hex'));
      expect(r[15] ?? '').toBe('');
      expect(r[16]).toBe('mcif3');
    });
    const info = execFileSync('capinfos', [file], { encoding: 'utf8', timeout: TOOL_TIMEOUT_MS });
    expect(info).toMatch(/File timestamp precision:\s+nanoseconds \(9\)/);
    expect(info).toMatch(/Number of interfaces in file: 1/);
    expect(info).toMatch(/Name = mcif3/);
    expect(info).toMatch(/Number of stat entries = 1/);
  });

  it('pcap: nanosecond magic, tcpdump reads every datagram with its ns time and a good UDP sum', () => {
    const file = join(DIR, 'w.pcap');
    const list = samples().filter((s) => s.originalLength === undefined);
    writeSamples(file, list);
    expect(readFileSync(file).readUInt32LE(0)).toBe(0xa1b23c4d);
    const out = execFileSync('tcpdump', ['-nn', '-vv', '--time-stamp-precision=nano', '-tt', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: TOOL_TIMEOUT_MS });
    const headers = out.split('\n').filter((l) => /^\d+\.\d{9} IP6? /.test(l));
    expect(headers).toHaveLength(list.length);
    list.forEach((s, i) => expect(headers[i]?.startsWith(`${epoch(s.timestamp)} IP`)).toBe(true));
    expect(out.match(/\[udp sum ok\]/g)).toHaveLength(list.length);
    expect(out).toContain(`ttl 7,`);
    expect(out).toContain('fd00::2.40001 > ff1e::1234.5002: [udp sum ok] UDP, length 3');
  });

  it('the snap length cuts frames as pcap means it: captured < original, the rest kept', async () => {
    const file = join(DIR, 'snap.pcapng');
    writeSamples(file, [{ source: '10.0.0.1', destination: '239.0.0.9', sourcePort: 1, destinationPort: 2, ttl: 1, payload: Buffer.alloc(1000, 7), timestamp: BASE_NS }], { snaplen: 100 });
    expect(tshark(file, ['frame.len', 'frame.cap_len'])).toEqual([['1042', '100']]);
    const { datagrams } = await readAll(file);
    expect(datagrams[0]).toMatchObject({ originalLength: 1000, truncated: true });
    expect(datagrams[0]?.payload).toEqual(Buffer.alloc(58, 7));
  });

  it('the statistics block holds the drops, the datagrams delivered and the truncations', async () => {
    const file = join(DIR, 'isb.pcapng');
    writeSamples(file, samples(), { drops: 42 });
    const { reader } = await readAll(file);
    expect(reader.statistics).toEqual([
      {
        interfaceId: 0,
        received: 50n,
        interfaceDrops: 42n,
        osDrops: 42n,
        delivered: 8n,
        comments: ['kernel drops: 42; datagrams truncated by the socket: 1; frames cut by the snap length or the socket: 1'],
      },
    ]);
  });

  it('a file closed before any datagram is still valid (header, interface, statistics)', async () => {
    const file = join(DIR, 'none.pcapng');
    writeSamples(file, []);
    expect(tshark(file, ['frame.number'])).toEqual([]);
    const { reader, datagrams } = await readAll(file);
    expect(datagrams).toEqual([]);
    expect(reader.interfaces.map((i) => i.name)).toEqual(['mcif3']);
  });

  it('refuses a snap length too small for the headers, and a closed writer', () => {
    expect(() => CaptureWriter.open(join(DIR, 'x.pcapng'), { snaplen: 10 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    const w = CaptureWriter.open(join(DIR, 'y.pcapng'), { interfaceName: () => 'mcx' });
    expect(() => w.writeDatagram({ source: '10.0.0.1', destination: 'ff1e::1', sourcePort: 1, destinationPort: 2, interfaceIndex: 1, payload: Buffer.alloc(1) })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: "source and destination must be numeric addresses of one family. Received '10.0.0.1' and 'ff1e::1'" }),
    );
    w.close();
    expect(() => w.writeDatagram({ source: '10.0.0.1', destination: '239.0.0.1', sourcePort: 1, destinationPort: 2, interfaceIndex: 1, payload: Buffer.alloc(1) })).toThrow(
      expect.objectContaining({ code: 'ERR_MCAST_WRITER_CLOSED' }),
    );
  });
});

describe('the reader', () => {
  it('reads back what the writer wrote, pcapng and pcap', async () => {
    for (const name of ['rt.pcapng', 'rt.pcap']) {
      const file = join(DIR, name);
      const list = samples();
      writeSamples(file, list);
      const { reader, datagrams } = await readAll(file);
      expect(reader.format).toBe(name.endsWith('ng') ? 'pcapng' : 'pcap');
      expect(
        datagrams.map((d) => ({ t: d.timestamp, s: d.source, d: d.destination, p: d.ports, ttl: d.ttl, payload: d.payload.toString('hex'), len: d.originalLength })),
      ).toEqual(
        list.map((s) => ({ t: s.timestamp, s: s.source, d: s.destination, p: { source: s.sourcePort, destination: s.destinationPort }, ttl: s.ttl, payload: s.payload.toString('hex'), len: s.originalLength ?? s.payload.length })),
      );
    }
  });

  it('files converted by editcap: pcap µs, pcap ns, pcapng (as tshark writes them)', async () => {
    const source = join(DIR, 'src.pcapng');
    const list = samples().filter((s) => s.originalLength === undefined);
    writeSamples(source, list);
    for (const [format, resolution] of [['pcap', 1000n], ['nsecpcap', 1n], ['pcapng', 1n]] as const) {
      const out = join(DIR, `conv.${format}`);
      execFileSync('editcap', ['-F', format, source, out], { stdio: 'ignore', timeout: TOOL_TIMEOUT_MS });
      const { datagrams } = await readAll(out);
      expect(datagrams.map((d) => d.payload.toString())).toEqual(list.map((s) => s.payload.toString()));
      expect(datagrams.map((d) => d.timestamp)).toEqual(list.map((s) => (s.timestamp / resolution) * resolution));
    }
  });

  it('big-endian pcapng and pcap', async () => {
    const be = Buffer.concat([shb('be'), idb(1, 'be', 9), epb(0, 5_000_000_123n, ethernet(0x0800, V4), 'be')]);
    const { datagrams } = await readAll(be);
    expect(datagrams).toMatchObject([{ timestamp: 5_000_000_123n, source: '10.0.0.1', destination: '239.9.9.9', ports: { source: 1234, destination: 5678 }, ttl: 3 }]);
    const header = Buffer.concat([u32(0xa1b2c3d4, 'be'), u16(2, 'be'), u16(4, 'be'), u32(0, 'be'), u32(0, 'be'), u32(65535, 'be'), u32(101, 'be')]);
    const record = Buffer.concat([u32(7, 'be'), u32(250, 'be'), u32(V4.length, 'be'), u32(V4.length, 'be'), V4]);
    const pcap = await readAll(Buffer.concat([header, record]));
    expect(pcap.datagrams).toMatchObject([{ timestamp: 7_000_250_000n, payload: Buffer.from('payload') }]);
  });

  it('timestamp resolutions: µs by default, ms, 2^-10 s, and an if_tsoffset', async () => {
    const frame = ethernet(0x0800, V4);
    const file = Buffer.concat([
      shb('le'),
      idb(1, 'le'),
      idb(1, 'le', 3),
      idb(1, 'le', 0x80 | 10),
      epb(0, 1_500_000n, frame, 'le'),
      epb(1, 1_500n, frame, 'le'),
      epb(2, 1536n, frame, 'le'),
    ]);
    const { datagrams } = await readAll(file);
    expect(datagrams.map((d) => d.timestamp)).toEqual([1_500_000_000n, 1_500_000_000n, 1_500_000_000n]);
    const offset = block(1, Buffer.concat([u16(1, 'le'), u16(0, 'le'), u32(65535, 'le'), option(14, Buffer.from([10, 0, 0, 0, 0, 0, 0, 0]), 'le'), u32(0, 'le')]), 'le');
    const shifted = await readAll(Buffer.concat([shb('le'), offset, epb(0, 1n, frame, 'le')]));
    expect(shifted.datagrams[0]?.timestamp).toBe(10_000_001_000n);
  });

  it('several sections, each with its own interfaces and byte order', async () => {
    const frame = ethernet(0x0800, V4);
    const file = Buffer.concat([shb('le'), idb(1, 'le', 9, 'mca'), epb(0, 1n, frame, 'le'), shb('be'), idb(101, 'be', 9, 'mcb'), idb(1, 'be', 9, 'mcc'), epb(0, 2n, V4, 'be'), epb(1, 3n, frame, 'be')]);
    const { reader, datagrams } = await readAll(file);
    expect(reader.sections).toBe(2);
    expect(reader.interfaces.map((i) => [i.name, i.linkType])).toEqual([['mca', 1], ['mcb', 101], ['mcc', 1]]);
    expect(datagrams.map((d) => [d.timestamp, d.interfaceId])).toEqual([[1n, 0], [2n, 1], [3n, 2]]);
  });

  it('link types: Ethernet with 802.1Q and QinQ tags, Linux cooked v1 and v2, raw IP, IPv4/IPv6 link types', async () => {
    const sll = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]), u16(0x0800, 'be'), V4]);
    const sll2 = Buffer.concat([u16(0x0800, 'be'), Buffer.from([0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]), V4]);
    const frames: Array<[number, Buffer]> = [
      [1, ethernet(0x8100, Buffer.concat([Buffer.from([0x00, 0x0a]), u16(0x0800, 'be'), V4]))],
      [1, ethernet(0x88a8, Buffer.concat([Buffer.from([0x00, 0x0a, 0x81, 0x00, 0x00, 0x0b]), u16(0x0800, 'be'), V4]))],
      [113, sll],
      [276, sll2],
      [101, V4],
      [228, V4],
      [229, ipv6Udp(Buffer.from('v6'))],
    ];
    const file = Buffer.concat([shb('le'), ...frames.map(([lt]) => idb(lt, 'le', 9)), ...frames.map(([, f], i) => epb(i, BigInt(i), f, 'le'))]);
    const { datagrams, reader } = await readAll(file);
    expect(reader.skipped).toMatchObject({ nonIp: 0, shortFrames: 0, unsupportedLinkType: 0 });
    expect(datagrams.map((d) => `${d.destination}:${d.ports.destination} ${d.payload.toString()}`)).toEqual([
      ...Array.from({ length: 6 }, () => '239.9.9.9:5678 payload'),
      'ff1e::7:2222 v6',
    ]);
    expect(datagrams[6]).toMatchObject({ family: 6, source: 'fd00::2', ttl: 4 });
  });

  it('skips and counts what is not a whole UDP datagram: fragments, other protocols, non-IP, short frames, Ethernet padding is not payload', async () => {
    const padded = ethernet(0x0800, Buffer.concat([ipv4Udp([10, 0, 0, 1], [239, 1, 1, 1], 1, 2, Buffer.from('ab')), Buffer.alloc(16, 0xee)]));
    const v6frag = ipv6Udp(Buffer.from('x'), { next: 44, bytes: Buffer.from([17, 0, 0, 1, 0, 0, 0, 1]) });
    const v6hop = ipv6Udp(Buffer.from('hop'), { next: 0, bytes: Buffer.from([17, 0, 1, 4, 0, 0, 0, 0]) });
    const frames = [
      padded,
      ethernet(0x0800, ipv4Udp([10, 0, 0, 1], [239, 1, 1, 1], 1, 2, Buffer.from('first piece'), { flags: 0x2000 })),
      ethernet(0x0800, ipv4Udp([10, 0, 0, 1], [239, 1, 1, 1], 1, 2, Buffer.from('last piece'), { flags: 0x0010 })),
      ethernet(0x86dd, v6frag),
      ethernet(0x86dd, v6hop),
      ethernet(0x0800, ipv4Udp([10, 0, 0, 1], [224, 0, 0, 22], 0, 0, Buffer.alloc(8), { proto: 2 })),
      ethernet(0x0806, Buffer.alloc(28)),
      ethernet(0x0800, V4.subarray(0, 24)),
      Buffer.alloc(5),
    ];
    const file = Buffer.concat([shb('le'), idb(1, 'le', 9), idb(147, 'le', 9), ...frames.map((f) => epb(0, 1n, f, 'le')), epb(1, 1n, V4, 'le')]);
    const { datagrams, reader } = await readAll(file);
    expect(datagrams.map((d) => d.payload.toString())).toEqual(['ab', 'hop']);
    expect(reader.skipped).toEqual({ nonIp: 1, nonUdp: 1, fragments: 3, unsupportedLinkType: 1, shortFrames: 2, unknownBlocks: 0, simplePackets: 0 });
    expect(reader.frames).toBe(10);
  });

  it('reads from a stream of small chunks (blocks split across chunks)', async () => {
    const file = join(DIR, 'chunks.pcapng');
    writeSamples(file, samples());
    const bytes = readFileSync(file);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
    }
    const { datagrams } = await readAll(bytes);
    const reader = readCapture(chunks());
    const streamed: CapturedDatagram[] = [];
    for await (const d of reader) streamed.push(d);
    expect(streamed.map((d) => d.payload.toString('hex'))).toEqual(datagrams.map((d) => d.payload.toString('hex')));
    expect(() => reader[Symbol.asyncIterator]()).toThrow(expect.objectContaining({ code: 'ERR_MCAST_READER_USED' }));
  });
});

describe('bad files: a clear error naming the byte offset, or a counted skip', () => {
  const good = (): Buffer => Buffer.concat([shb('le'), idb(1, 'le', 9), epb(0, 1n, ethernet(0x0800, V4), 'le')]);
  const epbAt = shb('le').length + idb(1, 'le', 9).length;

  it('an empty file', async () => {
    const e = await readError(Buffer.alloc(0));
    expect(e.message).toBe('empty file: not a pcap or pcapng capture (0 bytes)');
    expect(e.offset).toBe(0);
  });

  it('a file that is not a capture at all', async () => {
    const e = await readError(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(e.message).toMatch(/^not a pcap or pcapng capture: it starts with 0x47455420 at byte 0/);
    expect(e.code).toBe('ERR_MCAST_BAD_CAPTURE');
    expect((await readError(Buffer.from('ab'))).message).toBe('not a pcap or pcapng capture: the file has only 2 bytes');
  });

  it('a truncated last block', async () => {
    const bytes = good();
    const e = await readError(bytes.subarray(0, bytes.length - 10));
    expect(e.message).toBe(`truncated file: the block (type 0x00000006) at byte ${epbAt} declares ${bytes.length - epbAt} bytes but the file ends after ${bytes.length - epbAt - 10}`);
    expect(e.offset).toBe(epbAt);
    const header = await readError(bytes.subarray(0, epbAt + 5));
    expect(header.message).toBe(`truncated file: 5 bytes at byte ${epbAt}, less than a block header (8 bytes)`);
  });

  it('a truncated pcap record and file header', async () => {
    const file = join(DIR, 'trunc.pcap');
    writeSamples(file, samples().slice(0, 2));
    const bytes = readFileSync(file);
    const e = await readError(bytes.subarray(0, bytes.length - 3));
    const second = 24 + 16 + 42 + 7;
    expect(e.message).toBe(`truncated file: the record at byte ${second} declares ${16 + 42 + 7} bytes but the file ends after ${16 + 42 + 7 - 3}`);
    expect((await readError(bytes.subarray(0, 10))).message).toBe('truncated file: the pcap file header at byte 0 declares 24 bytes but the file ends after 10');
  });

  it('wrong lengths: not a multiple of 4, below the minimum, trailer differs, captured length past the block', async () => {
    const odd = good();
    odd.writeUInt32LE(35, epbAt + 4);
    expect((await readError(odd)).message).toBe(`bad block at byte ${epbAt}: total length 35 (a pcapng block length is a multiple of 4 and at least 12)`);
    const trailer = good();
    trailer.writeUInt32LE(12, trailer.length - 4);
    const t = await readError(trailer);
    expect(t.message).toBe(`bad block at byte ${epbAt}: its trailing length 12 differs from its leading length ${trailer.length - epbAt}`);
    expect(t.offset).toBe(trailer.length - 4);
    const captured = good();
    captured.writeUInt32LE(1000, epbAt + 20);
    expect((await readError(captured)).message).toMatch(new RegExp(`^bad packet block at byte ${epbAt}: captured length 1000 runs past the block's end`));
    const small = Buffer.concat([shb('le'), block(6, Buffer.alloc(8), 'le')]);
    expect((await readError(small)).message).toBe(`bad enhanced packet block at byte ${shb('le').length}: 20 bytes, less than its 32-byte minimum`);
    const badInterface = Buffer.concat([shb('le'), epb(0, 1n, V4, 'le')]);
    expect((await readError(badInterface)).message).toBe(`bad packet block at byte ${shb('le').length}: interface 0, but the section describes 0 interfaces`);
    const badOption = Buffer.concat([shb('le'), block(1, Buffer.concat([u16(1, 'le'), u16(0, 'le'), u32(65535, 'le'), u16(2, 'le'), u16(200, 'le'), Buffer.alloc(4)]), 'le')]);
    expect((await readError(badOption)).message).toBe(`bad option at byte ${shb('le').length + 16}: code 2 declares 200 bytes, past the end of its block (byte ${shb('le').length + 24})`);
    const bom = shb('le');
    bom.writeUInt32LE(0x11223344, 8);
    expect((await readError(bom)).message).toBe('bad section header block at byte 0: byte-order magic bytes 44332211, expected 4d3c2b1a or 1a2b3c4d');
  });

  it('a huge declared length fails at once, before any allocation for it', async () => {
    const huge = good();
    huge.writeUInt32LE(0xfffffff0, epbAt + 4);
    const before = process.memoryUsage().arrayBuffers;
    const e = await readError(huge);
    expect(e.message).toBe(`bad block at byte ${epbAt}: it declares 4294967280 bytes, more than the 16777216 a block may have here`);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
    const pcapHeader = Buffer.concat([u32(0xa1b2c3d4, 'le'), u16(2, 'le'), u16(4, 'le'), Buffer.alloc(8), u32(65535, 'le'), u32(1, 'le')]);
    const record = Buffer.concat([Buffer.alloc(8), u32(0x7fffffff, 'le'), u32(10, 'le')]);
    expect((await readError(Buffer.concat([pcapHeader, record]))).message).toBe('bad record at byte 24: it declares 2147483647 captured bytes, more than the 16777216 a record may have here');
  });

  it('unknown block types are skipped and counted, and so are simple packet blocks', async () => {
    const bytes = Buffer.concat([shb('le'), block(0x80000001, Buffer.alloc(16, 1), 'le'), block(4, Buffer.alloc(4), 'le'), idb(1, 'le', 9), block(3, Buffer.concat([u32(V4.length, 'le'), pad(V4)]), 'le'), epb(0, 1n, ethernet(0x0800, V4), 'le')]);
    const { reader, datagrams } = await readAll(bytes);
    expect(datagrams).toHaveLength(1);
    expect(reader.skipped).toMatchObject({ unknownBlocks: 2, simplePackets: 1 });
  });

  it('the command says the same, with exit code 2 (see record-replay.test.ts); the library error is a CaptureFormatError', () => {
    const e = new CaptureFormatError('x', 5);
    expect([e.name, e.code, e.offset]).toEqual(['CaptureFormatError', 'ERR_MCAST_BAD_CAPTURE', 5]);
  });
});

describe('fuzz: seeded mutations of valid files', () => {
  function mutate(input: Buffer, random: () => number): Buffer {
    let b = Buffer.from(input);
    const edits = 1 + Math.floor(random() * 4);
    for (let k = 0; k < edits; k++) {
      const at = Math.floor(random() * b.length);
      switch (Math.floor(random() * 6)) {
        case 0:
          b[at] = Math.floor(random() * 256);
          break;
        case 1: // a length-like field: 0, small, huge, or off by a few
          if (at + 4 <= b.length) b.writeUInt32LE([0, 4, 12, 0xffffffff, 0x7ffffffc, b.readUInt32LE(at) + 4][Math.floor(random() * 6)]! >>> 0, at);
          break;
        case 2:
          b = b.subarray(0, at);
          break;
        case 3:
          b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(random() * 16) }, () => Math.floor(random() * 256))), b.subarray(at)]);
          break;
        case 4:
          b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + Math.floor(random() * 32)))]);
          break;
        default:
          b = Buffer.concat([b, b.subarray(at, Math.min(b.length, at + 64))]);
      }
    }
    return b;
  }

  it('3000 mutations: every run ends with datagrams or a CaptureFormatError, fast, without a crash; the batch mode and a read in small pieces agree', async () => {
    const corpus: Buffer[] = [];
    for (const name of ['f.pcapng', 'f.pcap']) {
      const file = join(DIR, name);
      writeSamples(file, samples(), { drops: 3 });
      corpus.push(readFileSync(file));
    }
    corpus.push(Buffer.concat([shb('be'), idb(113, 'be', 0x80 | 20), epb(0, 99n, Buffer.concat([Buffer.alloc(14), u16(0x86dd, 'be'), ipv6Udp(Buffer.from('q'), { next: 60, bytes: Buffer.from([17, 0, 1, 4, 0, 0, 0, 0]) })]), 'be')]));
    const random = prng(0x5eed);
    const outcomes = { ok: 0, formatErrors: 0 };
    const started = Date.now();
    for (let i = 0; i < 3000; i++) {
      // The reader's awaits resolve at once on in-memory input: let the worker's own I/O run.
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      const input = mutate(corpus[i % corpus.length]!, random);
      // The batch mode sees the same datagrams and the same error as the iterator.
      const viaBatches = await readByBatches(input);
      // And in pieces: every block or record split across chunks (the reader's "need more
      // bytes" paths) gives the same datagrams and the same error at the same offset.
      const viaPieces = await readByBatches(pieces(input, 1 + (i % 97), random));
      expect(viaPieces.datagrams, `mutation ${i} in pieces`).toEqual(viaBatches.datagrams);
      expect(viaPieces.error?.message, `mutation ${i} in pieces`).toBe(viaBatches.error?.message);
      expect(viaPieces.error?.offset, `mutation ${i} in pieces`).toBe(viaBatches.error?.offset);
      try {
        const { datagrams } = await readAll(input);
        for (const d of datagrams) {
          expect(d.payload.length).toBeLessThanOrEqual(input.length);
          expect(typeof d.timestamp).toBe('bigint');
        }
        expect(viaBatches.error, `mutation ${i}`).toBeUndefined();
        expect(viaBatches.datagrams).toEqual(datagrams);
        outcomes.ok++;
      } catch (error) {
        if (!(error instanceof CaptureFormatError)) throw new Error(`mutation ${i} (seed 0x5eed): ${String(error)}`);
        expect(error.offset).toBeGreaterThanOrEqual(0);
        expect(error.offset).toBeLessThanOrEqual(input.length);
        expect(viaBatches.error?.message, `mutation ${i}`).toBe(error.message);
        outcomes.formatErrors++;
      }
    }
    expect(outcomes.ok).toBeGreaterThan(100);
    expect(outcomes.formatErrors).toBeGreaterThan(100);
    expect(Date.now() - started).toBeLessThan(25_000);
  });
});

describe('writeBatch with a RecvBatch that is not mcast’s own (the accessor path)', () => {
  it('writes what the accessors say, as tshark reads it', () => {
    const file = join(DIR, 'fake.pcapng');
    const slab = Buffer.alloc(4096);
    slab.write('first', 0);
    slab.write('second datagram', 2048);
    const batch = {
      count: 2,
      buffer: slab,
      family: 6 as const,
      offset: (i: number) => i * 2048,
      size: (i: number) => (i === 0 ? 5 : 15),
      originalSize: (i: number) => (i === 0 ? 5 : 15),
      truncated: () => false,
      data: (i: number) => slab.subarray(i * 2048, i * 2048 + (i === 0 ? 5 : 15)),
      address: () => 'fd00::9',
      port: () => 4321,
      destination: () => 'ff1e::42',
      interfaceIndex: () => 7,
      ttl: () => undefined,
      dropCount: () => 0,
      timestamp: (i: number) => BASE_NS + BigInt(i),
    };
    const w = CaptureWriter.open(file, { interfaceName: (i) => `mcif${i}` });
    expect(w.writeBatch(batch, 6000)).toBe(2);
    expect(w.writeBatch(batch, 6000, 1)).toBe(1);
    w.close();
    expect(tshark(file, ['frame.time_epoch', 'ipv6.src', 'ipv6.dst', 'udp.srcport', 'udp.dstport', 'ipv6.hlim', 'udp.checksum.status', 'data.data'])).toEqual([
      [epoch(BASE_NS), 'fd00::9', 'ff1e::42', '4321', '6000', '64', '1', Buffer.from('first').toString('hex')],
      [epoch(BASE_NS + 1n), 'fd00::9', 'ff1e::42', '4321', '6000', '64', '1', Buffer.from('second datagram').toString('hex')],
      [epoch(BASE_NS), 'fd00::9', 'ff1e::42', '4321', '6000', '64', '1', Buffer.from('first').toString('hex')],
    ]);
  });
});

describe('pcap record times: a 64-bit ns count into seconds and nanoseconds, exactly', () => {
  it('20000 seeded times and the edges, written to a pcap file and read back', async () => {
    const random = prng(0x7135);
    const most = 4294967295n * 1_000_000_000n + 999_999_999n; // the last ns a pcap record holds
    const values = [0n, 999_999_999n, 1_000_000_000n, (1n << 32n) - 1n, 1n << 32n, most];
    for (let i = 0; i < 20000; i++) values.push(((BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32))) % (most + 1n));
    const file = join(DIR, 'times.pcap');
    const w = CaptureWriter.open(file, { interfaceName: () => 'mcx' });
    for (const timestamp of values) w.writeDatagram({ timestamp, source: '10.0.0.1', sourcePort: 1, destination: '239.0.0.1', destinationPort: 2, interfaceIndex: 1, payload: Buffer.alloc(1) });
    await w.close();
    const read: bigint[] = [];
    for await (const d of readCapture(file)) read.push(d.timestamp);
    expect(read).toEqual(values);
  });
});
