/**
 * The streaming capture writer: received datagrams into a pcapng file (one Enhanced Packet Block
 * each, an Interface Description Block per receiving interface, an Interface Statistics Block at
 * the end) or a classic pcap file with nanosecond timestamps. A 'batch' listener hands it the
 * whole batch: the payloads are copied once, straight from the receive slab into the writer's
 * output buffer behind their synthetic headers, and the buffer goes to the file when it is full.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';

import { Batch } from '../batch';
import { binding } from '../binding';
import { listInterfaces } from '../interfaces';
import type { Family, RecvBatch } from '../types';
import { addressFamily } from '../address';
import { mcastError, outOfRange } from '../errors';
import { BLOCK, BYTE_ORDER_MAGIC, DEFAULT_SNAPLEN, OPTION, PCAP_MAGIC } from './format';
import { AddressBytes, splitNs } from './numbers';
import { HEADER_BYTES, LINKTYPE, writeHeaders } from './frame';

/** A capture file format. */
export type CaptureFormat = 'pcapng' | 'pcap';

/** Options of {@link CaptureWriter.open}. */
export interface CaptureWriterOptions {
  /** 'pcapng' (default), or 'pcap' (classic, nanosecond timestamps). Default: 'pcap' for a `.pcap` name. */
  format?: CaptureFormat;
  /** Bytes kept of each frame, synthetic headers included (default 262144, as tcpdump). */
  snaplen?: number;
  /** Interfaces (by index) to describe at once, so that a file without datagrams still names them. */
  interfaces?: readonly number[];
  /** The name of an interface index in the file (default: its name from listInterfaces()). */
  interfaceName?: (index: number) => string;
  /** Written as shb_userappl (default `mcast`). */
  application?: string;
}

/** One datagram for {@link CaptureWriter.writeDatagram}. */
export interface DatagramToWrite {
  /** Receive time in ns since the Unix epoch (default: now). */
  timestamp?: bigint;
  /** Source address (IPv4 or IPv6, numeric). */
  source: string;
  /** UDP source port. */
  sourcePort: number;
  /** Destination address (the group), of the source's family. */
  destination: string;
  /** UDP destination port. */
  destinationPort: number;
  /** TTL / hop limit (default 64). */
  ttl?: number;
  /** Index of the interface it arrived on. */
  interfaceIndex: number;
  /** The payload (copied into the file buffer). */
  payload: Uint8Array;
  /** Length on the wire when `payload` was cut (default payload.length). */
  originalLength?: number;
}

/** Counters of the receiving socket(s), written in the Interface Statistics Block on close. */
export interface CaptureStatistics {
  /** Datagrams the kernel dropped on the socket's queue (SocketStats.kernelDrops). */
  kernelDrops?: number;
  /** Datagrams cut to the socket's maxMessageSize (SocketStats.truncated). */
  truncated?: number;
}

/** What a writer has done so far. */
export interface CaptureWriterTotals {
  /** Datagrams written. */
  datagrams: number;
  /** Payload bytes received (on the wire, before any cut). */
  payloadBytes: number;
  /** Bytes of the file so far (buffered bytes included). */
  fileBytes: number;
  /** Datagrams whose frame was cut by the snap length or arrived cut. */
  truncated: number;
}

const CHUNK_BYTES = 1 << 20;
const EPB_OVERHEAD = 32; // type, length, interface, ts high, ts low, captured, original, length
const PCAP_RECORD_HEADER = 16;
const SMALL_COPY = 256;
const MAX_FRAME = 65535 + HEADER_BYTES[6];

const L = binding.layout;
const STRIDE32 = L.recordBytes / 4;
const TIMESTAMP32 = L.timestampByte / 4;

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * Writes received datagrams to a pcapng or pcap file, with synthetic Ethernet/IP/UDP headers
 * that carry the real source, group, ports and TTL, and the kernel's receive time. Feed it from a
 * 'batch' listener with {@link CaptureWriter.writeBatch} (no copy per datagram but the one into
 * the file buffer), and {@link CaptureWriter.close} it to write the statistics and flush.
 *
 * Writes are synchronous (writeSync of 1 MiB chunks): on tmpfs or a page cache they cost
 * microseconds; a stalled disk stalls the receiving loop, and the kernel's drops then say so.
 */
export class CaptureWriter {
  /** The file's format. */
  readonly format: CaptureFormat;
  /** Bytes kept of each frame. */
  readonly snaplen: number;
  readonly #fd: number;
  readonly #chunk: Buffer;
  /** The chunk as 32-bit words, for the UDP checksum. */
  readonly #words: Uint32Array;
  readonly #split = new Float64Array(2);
  #lastIndex = -1;
  #lastId = 0;
  #used = 0;
  #flushed = 0;
  #closed = false;
  readonly #interfaceName: (index: number) => string;
  /** ifindex -> interface id in the file (IDB order). */
  readonly #ids = new Map<number, number>();
  /** Per interface id: datagrams written. */
  readonly #perInterface: number[] = [];
  readonly #addresses = new AddressBytes();
  readonly #startedNs = nowNs();
  #ipId = 0;
  readonly #totals: CaptureWriterTotals = { datagrams: 0, payloadBytes: 0, fileBytes: 0, truncated: 0 };
  readonly #fields = {
    family: 4 as Family,
    source: new Uint8Array(4) as Uint8Array,
    sourceAt: 0,
    destination: new Uint8Array(4) as Uint8Array,
    destinationAt: 0,
    sourcePort: 0,
    destinationPort: 0,
    ttl: 64,
    payloadLength: 0,
    ipId: 0,
  };

  private constructor(fd: number, format: CaptureFormat, snaplen: number, options: CaptureWriterOptions) {
    if (endianness() !== 'LE') throw new Error('CaptureWriter stores its blocks as little-endian words: this host is big-endian');
    this.#fd = fd;
    const memory = new ArrayBuffer(CHUNK_BYTES);
    this.#chunk = Buffer.from(memory);
    this.#words = new Uint32Array(memory);
    this.format = format;
    this.snaplen = snaplen;
    this.#interfaceName = options.interfaceName ?? defaultInterfaceName();
    if (format === 'pcapng') this.#sectionHeader(options.application ?? 'mcast');
    else this.#pcapHeader();
    for (const index of options.interfaces ?? []) this.#interfaceId(index);
  }

  /**
   * Creates (or truncates) `path` and writes the file header.
   * @throws ERR_OUT_OF_RANGE for a snaplen outside 64..262144 (or 65535+62 for pcap), fs errors
   */
  static open(path: string, options: CaptureWriterOptions = {}): CaptureWriter {
    const format = options.format ?? (/\.pcap$/i.test(path) ? 'pcap' : 'pcapng');
    const snaplen = options.snaplen ?? DEFAULT_SNAPLEN;
    if (!Number.isInteger(snaplen) || snaplen < HEADER_BYTES[6] || snaplen > DEFAULT_SNAPLEN) {
      throw outOfRange('snaplen', `an integer from ${HEADER_BYTES[6]} to ${DEFAULT_SNAPLEN}`, snaplen);
    }
    const fd = openSync(path, 'w');
    try {
      return new CaptureWriter(fd, format, snaplen, options);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Counters so far. */
  get totals(): Readonly<CaptureWriterTotals> {
    this.#totals.fileBytes = this.#flushed + this.#used;
    return this.#totals;
  }

  // ---- output buffer ----------------------------------------------------------------------

  #reserve(bytes: number): number {
    if (this.#used + bytes > CHUNK_BYTES) this.flush();
    return this.#used;
  }

  /** Writes the buffered bytes to the file. */
  flush(): void {
    let done = 0;
    while (done < this.#used) done += writeSync(this.#fd, this.#chunk, done, this.#used - done);
    this.#flushed += this.#used;
    this.#used = 0;
  }

  // ---- file structure ---------------------------------------------------------------------

  #sectionHeader(application: string): void {
    const app = Buffer.from(application, 'utf8');
    const length = 28 + 4 + pad4(app.length) + 4;
    const c = this.#chunk;
    let at = this.#reserve(length);
    c.writeUInt32LE(BLOCK.SECTION_HEADER, at);
    c.writeUInt32LE(length, at + 4);
    c.writeUInt32LE(BYTE_ORDER_MAGIC, at + 8);
    c.writeUInt16LE(1, at + 12);
    c.writeUInt16LE(0, at + 14);
    c.writeBigInt64LE(-1n, at + 16); // section length not given
    at = this.#option(at + 24, OPTION.SHB_USERAPPL, app);
    at = this.#option(at, OPTION.END, undefined);
    c.writeUInt32LE(length, at);
    this.#used = at + 4;
  }

  #pcapHeader(): void {
    const c = this.#chunk;
    const at = this.#reserve(24);
    c.writeUInt32LE(PCAP_MAGIC.NANOSECONDS, at);
    c.writeUInt16LE(2, at + 4);
    c.writeUInt16LE(4, at + 6);
    c.writeInt32LE(0, at + 8);
    c.writeUInt32LE(0, at + 12);
    c.writeUInt32LE(this.snaplen, at + 16);
    c.writeUInt32LE(LINKTYPE.ETHERNET, at + 20);
    this.#used = at + 24;
  }

  /** Writes one option at `at` (value padded to 4 bytes); returns the offset after it. */
  #option(at: number, code: number, value: Buffer | undefined): number {
    const c = this.#chunk;
    c.writeUInt16LE(code, at);
    c.writeUInt16LE(value?.length ?? 0, at + 2);
    if (value === undefined) return at + 4;
    value.copy(c, at + 4);
    c.fill(0, at + 4 + value.length, at + 4 + pad4(value.length));
    return at + 4 + pad4(value.length);
  }

  /** The file's interface id of an ifindex, writing its IDB the first time (pcapng only). */
  #interfaceId(index: number): number {
    let id = this.#ids.get(index);
    if (id !== undefined) return id;
    id = this.#ids.size;
    this.#ids.set(index, id);
    this.#perInterface.push(0);
    if (this.format === 'pcapng') {
      const name = Buffer.from(this.#interfaceName(index), 'utf8');
      const tsresol = Buffer.from([9]); // 10^-9 s: nanoseconds
      const length = 16 + 4 + pad4(name.length) + 4 + 4 + 4 + 4;
      const c = this.#chunk;
      let at = this.#reserve(length);
      c.writeUInt32LE(BLOCK.INTERFACE_DESCRIPTION, at);
      c.writeUInt32LE(length, at + 4);
      c.writeUInt16LE(LINKTYPE.ETHERNET, at + 8);
      c.writeUInt16LE(0, at + 10);
      c.writeUInt32LE(this.snaplen, at + 12);
      at = this.#option(at + 16, OPTION.IF_NAME, name);
      at = this.#option(at, OPTION.IF_TSRESOL, tsresol);
      at = this.#option(at, OPTION.END, undefined);
      c.writeUInt32LE(length, at);
      this.#used = at + 4;
    }
    return id;
  }

  // ---- datagrams --------------------------------------------------------------------------

  /**
   * Writes one datagram whose header fields are in this.#fields and whose `captured` payload
   * bytes are payload[start, start + captured), received at ns time hi * 2^32 + lo.
   */
  #frame(index: number, hi: number, lo: number, captured: number, payload: Uint8Array, start: number): void {
    const f = this.#fields;
    let id = this.#lastId;
    if (index !== this.#lastIndex) {
      id = this.#interfaceId(index);
      this.#lastIndex = index;
      this.#lastId = id;
    }
    const headerBytes = HEADER_BYTES[f.family];
    const original = headerBytes + f.payloadLength;
    const frame = Math.min(headerBytes + captured, this.snaplen);
    const kept = frame - headerBytes; // payload bytes in the file (snaplen >= headers)
    const pcapng = this.format === 'pcapng';
    const record = pcapng ? EPB_OVERHEAD + pad4(frame) : PCAP_RECORD_HEADER + frame;
    const c = this.#chunk;
    const at = this.#reserve(record);
    const data = at + (pcapng ? 28 : PCAP_RECORD_HEADER);
    const to = data + headerBytes;
    if (kept <= SMALL_COPY) {
      // Buffer.copy costs more than a short loop.
      for (let k = 0; k < kept; k++) c[to + k] = payload[start + k] as number;
    } else if (Buffer.isBuffer(payload)) {
      payload.copy(c, to, start, start + kept);
    } else {
      c.set(payload.subarray(start, start + kept), to);
    }
    f.ipId = this.#ipId++ & 0xffff;
    writeHeaders(c, this.#words, data, f, kept);
    if (pcapng) {
      // Blocks are 4-byte aligned in the chunk: the fields are stored as words.
      const w = this.#words;
      const word = at >>> 2;
      w[word] = BLOCK.ENHANCED_PACKET;
      w[word + 1] = record;
      w[word + 2] = id;
      w[word + 3] = hi;
      w[word + 4] = lo;
      w[word + 5] = frame;
      w[word + 6] = original;
      for (let p = data + frame; p < at + record - 4; p++) c[p] = 0;
      w[(at + record - 4) >>> 2] = record;
    } else {
      splitNs(hi, lo, this.#split);
      c.writeUInt32LE(this.#split[0] as number, at);
      c.writeUInt32LE(this.#split[1] as number, at + 4);
      c.writeUInt32LE(frame, at + 8);
      c.writeUInt32LE(original, at + 12);
    }
    this.#used = at + record;
    const t = this.#totals;
    t.datagrams++;
    t.payloadBytes += f.payloadLength;
    if (frame < original) t.truncated++;
    this.#perInterface[id] = (this.#perInterface[id] as number) + 1;
  }

  #checkOpen(): void {
    if (this.#closed) throw Object.assign(new Error('The capture writer is closed'), { code: 'ERR_MCAST_WRITER_CLOSED' });
  }

  /**
   * Writes every datagram of a receive batch (call it from a 'batch' listener; the batch is
   * valid only there). `port` is the socket's own port, the datagrams' destination port. The
   * socket should have `timestamps: true` (else the time of this call is written) and
   * `receiveTTL: true` (else TTL 64). `max` limits how many of the batch's first datagrams are
   * written (for a count that ends inside a batch). Returns the number written.
   */
  writeBatch(batch: RecvBatch, port: number, max = Infinity): number {
    this.#checkOpen();
    const f = this.#fields;
    const slab = batch.buffer;
    const count = Math.min(batch.count, max);
    const now = count > 0 ? nowNs() : 0n;
    const nowHi = Number(now >> 32n);
    const nowLo = Number(now & 0xffffffffn);
    f.family = batch.family;
    f.destinationPort = port;
    f.sourceAt = 0;
    f.destinationAt = 0;
    // mcast's own batches: addresses and times straight from the receive records (no strings,
    // no BigInt per datagram); any other RecvBatch through its accessors.
    const records = batch instanceof Batch ? batch.records : undefined;
    const recordBytes = records === undefined ? undefined : this.#recordBytes(records);
    for (let i = 0; i < count; i++) {
      let hi = nowHi;
      let lo = nowLo;
      if (records !== undefined && recordBytes !== undefined) {
        const r = i * STRIDE32;
        f.source = recordBytes;
        f.sourceAt = i * L.recordBytes + L.sourceByte;
        f.destination = recordBytes;
        f.destinationAt = i * L.recordBytes + L.destinationByte;
        if (((records[r + L.flags] as number) & L.flagTimestamp) !== 0) {
          lo = (records[r + TIMESTAMP32] as number) >>> 0;
          hi = (records[r + TIMESTAMP32 + 1] as number) >>> 0;
        }
      } else {
        f.source = this.#addresses.get(batch.address(i));
        f.destination = this.#addresses.get(batch.destination(i));
        const timestamp = batch.timestamp(i);
        if (timestamp !== undefined) {
          hi = Number(timestamp >> 32n);
          lo = Number(timestamp & 0xffffffffn);
        }
      }
      if (records !== undefined) {
        const r = i * STRIDE32;
        const ttl = records[r + L.ttl] as number;
        f.sourcePort = records[r + L.port] as number;
        f.ttl = ttl < 0 ? 64 : ttl;
        f.payloadLength = records[r + L.originalSize] as number;
        this.#frame(records[r + L.ifIndex] as number, hi, lo, records[r + L.size] as number, slab, batch.offset(i));
      } else {
        f.sourcePort = batch.port(i);
        f.ttl = batch.ttl(i) ?? 64;
        f.payloadLength = batch.originalSize(i);
        this.#frame(batch.interfaceIndex(i), hi, lo, batch.size(i), slab, batch.offset(i));
      }
    }
    return count;
  }

  #recordView: Uint8Array | undefined;

  /** A byte view of a batch's records (one per socket, made once). */
  #recordBytes(records: Int32Array): Uint8Array {
    const view = this.#recordView;
    if (view !== undefined && view.buffer === records.buffer) return view;
    this.#recordView = new Uint8Array(records.buffer, records.byteOffset, records.byteLength);
    return this.#recordView;
  }

  /**
   * A 'batch' listener that writes every batch of a socket bound to `port`:
   * `socket.on('batch', writer.batchListener(socket.address().port))`.
   */
  batchListener(port: number): (batch: RecvBatch) => void {
    return (batch) => {
      this.writeBatch(batch, port);
    };
  }

  /** Writes one datagram (the payload is copied into the file buffer). */
  writeDatagram(d: DatagramToWrite): void {
    this.#checkOpen();
    const f = this.#fields;
    const family = addressFamily(d.source);
    if (family === 0 || addressFamily(d.destination) !== family) {
      throw mcastError('ERR_INVALID_ARG_VALUE', `source and destination must be numeric addresses of one family. Received '${d.source}' and '${d.destination}'`, 'type');
    }
    f.family = family;
    f.source = this.#addresses.get(d.source);
    f.destination = this.#addresses.get(d.destination);
    f.sourcePort = d.sourcePort;
    f.destinationPort = d.destinationPort;
    f.ttl = d.ttl ?? 64;
    f.payloadLength = d.originalLength ?? d.payload.length;
    const payload = d.payload;
    const frameLimit = MAX_FRAME;
    if (HEADER_BYTES[f.family] + f.payloadLength > frameLimit) {
      throw outOfRange('payload', `at most ${frameLimit - HEADER_BYTES[f.family]} bytes`, f.payloadLength);
    }
    const timestamp = d.timestamp ?? nowNs();
    f.sourceAt = 0;
    f.destinationAt = 0;
    this.#frame(d.interfaceIndex, Number(timestamp >> 32n), Number(timestamp & 0xffffffffn), Math.min(payload.length, f.payloadLength), payload, 0);
  }

  // ---- end --------------------------------------------------------------------------------

  #statisticsBlock(id: number, stats: CaptureStatistics, first: boolean): void {
    const endNs = nowNs();
    const u64 = (value: bigint | number): Buffer => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(value));
      return b;
    };
    const time = (ns: bigint): Buffer => {
      const b = Buffer.alloc(8);
      b.writeUInt32LE(Number(ns >> 32n), 0);
      b.writeUInt32LE(Number(ns & 0xffffffffn), 4);
      return b;
    };
    const delivered = this.#perInterface[id] ?? 0;
    // The socket's drops belong to no single interface: the first interface's block carries
    // them, as isb_ifdrop (where dumpcap puts its buffer drops, and Wireshark reads them) and
    // isb_osdrop (the draft's "dropped by the operating system").
    const drops = first ? (stats.kernelDrops ?? 0) : 0;
    const options: Array<[number, Buffer]> = [
      [OPTION.ISB_STARTTIME, time(this.#startedNs)],
      [OPTION.ISB_ENDTIME, time(endNs)],
      [OPTION.ISB_IFRECV, u64(delivered + drops)],
      [OPTION.ISB_IFDROP, u64(drops)],
      [OPTION.ISB_OSDROP, u64(drops)],
      [OPTION.ISB_USRDELIV, u64(delivered)],
    ];
    if (first) {
      const cut = `kernel drops: ${drops}; datagrams truncated by the socket: ${stats.truncated ?? 0}; frames cut by the snap length or the socket: ${this.#totals.truncated}`;
      options.push([OPTION.COMMENT, Buffer.from(cut, 'utf8')]);
    }
    const length = 20 + options.reduce((sum, [, v]) => sum + 4 + pad4(v.length), 0) + 4 + 4;
    const c = this.#chunk;
    let at = this.#reserve(length);
    c.writeUInt32LE(BLOCK.INTERFACE_STATISTICS, at);
    c.writeUInt32LE(length, at + 4);
    c.writeUInt32LE(id, at + 8);
    c.writeUInt32LE(Number(endNs >> 32n), at + 12);
    c.writeUInt32LE(Number(endNs & 0xffffffffn), at + 16);
    at += 20;
    for (const [code, value] of options) at = this.#option(at, code, value);
    at = this.#option(at, OPTION.END, undefined);
    c.writeUInt32LE(length, at);
    this.#used = at + 4;
  }

  /**
   * Writes the Interface Statistics Blocks (pcapng; a classic pcap file has no place for them),
   * flushes and closes the file. Idempotent.
   */
  close(stats: CaptureStatistics = {}): void {
    if (this.#closed) return;
    try {
      if (this.format === 'pcapng') {
        for (const id of this.#ids.values()) this.#statisticsBlock(id, stats, id === 0);
      }
      this.flush();
    } finally {
      this.#closed = true;
      closeSync(this.#fd);
    }
  }
}

function defaultInterfaceName(): (index: number) => string {
  let names = new Map<number, string>();
  return (index) => {
    if (!names.has(index)) names = new Map(listInterfaces().map((i) => [i.index, i.name]));
    return names.get(index) ?? `if${index}`;
  };
}
