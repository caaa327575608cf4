/**
 * The streaming capture writer: received datagrams into a pcapng file (one Enhanced Packet Block
 * each, an Interface Description Block per receiving interface, an Interface Statistics Block at
 * the end) or a classic pcap file with nanosecond timestamps. A 'batch' listener hands it the
 * whole batch: one native call frames its datagrams straight from the receive records into the
 * output block (headers, checksums, the payload copied and summed in one pass from the receive
 * slab; no JS step per datagram); other RecvBatch implementations and writeDatagram go through
 * one job per datagram built in JS. A full block is written to the file asynchronously (bounded
 * queue).
 */
import { close as closeFd, closeSync, openSync, write, writeSync } from 'node:fs';
import { endianness } from 'node:os';

import { Batch } from '../batch';
import { binding } from '../binding';
import { listInterfaces } from '../interfaces';
import type { Family, RecvBatch } from '../types';
import { addressFamily } from '../address';
import { mcastError, outOfRange } from '../errors';
import { BLOCK, BYTE_ORDER_MAGIC, DEFAULT_SNAPLEN, OPTION, PCAP_MAGIC } from './format';
import { AddressBytes } from './numbers';
import { HEADER_BYTES, LINKTYPE } from './frame';

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
  /**
   * Bytes of full output blocks that may wait for the file at once (default 8 MiB, in 1 MiB
   * blocks; 0: every block is written synchronously). Blocks are written asynchronously, off
   * the receiving loop; when the queue is full the next block is written synchronously instead
   * (backpressure: nothing is dropped, memory stays bounded, CaptureWriterTotals.syncWrites
   * counts it).
   */
  queueBytes?: number;
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
  /** Output blocks written synchronously because the write queue was full (backpressure). */
  syncWrites: number;
  /** The most bytes that waited for the file at once (at most queueBytes + one block). */
  peakQueuedBytes: number;
}

const CHUNK_BYTES = 1 << 20;

/** One output block (fresh memory: a Buffer of its own, not from Node's pool). */
function outputBlock(): Buffer {
  return Buffer.alloc(CHUNK_BYTES);
}
const DEFAULT_QUEUE_BYTES = 8 << 20;
/** Checksum jobs gathered before the native call (a 1 MiB block holds at most ~14k frames). */
const MAX_JOBS = 4096;
/** A record to build natively: 16 int32 words (kJob* in native/pcap_frames.h). */
const JOB_WORDS = 16;
const JOB_IPV6 = 1;
const JOB_UDP = 2;
const JOB_PCAPNG = 4;
/** binding.pcapFramesFromRecords's state words and stop reasons (kState*, kStop* in native/pcap_frames.h). */
const STATE_WORDS = 12;
const STATE_USED = 0;
const STATE_FLAGS = 1;
const STATE_SNAPLEN = 2;
const STATE_PORT = 3;
const STATE_IF_INDEX = 4;
const STATE_INTERFACE = 5;
const STATE_IP_ID = 6;
const STATE_NOW_HIGH = 7;
const STATE_NOW_LOW = 8;
const STATE_PAYLOAD_BYTES = 9;
const STATE_TRUNCATED = 10;
const STATE_STOP = 11;
const STOP_FULL = 2;
const STOP_BAD = 3;
const EPB_OVERHEAD = 32; // type, length, interface, ts high, ts low, captured, original, length
const PCAP_RECORD_HEADER = 16;
const MAX_FRAME = 65535 + HEADER_BYTES[6];

const L = binding.layout;
const STRIDE32 = L.recordBytes / 4;

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
 * the output block, one native call per batch), and {@link CaptureWriter.close} it to write the
 * statistics and flush.
 *
 * Full 1 MiB blocks are written asynchronously (libuv's thread pool, at their own file offsets),
 * at most `queueBytes` of them waiting at once; past that a block is written synchronously
 * (counted in totals.syncWrites), so a slow disk slows the receiving loop instead of growing
 * memory, and the kernel's drops then say so. Await {@link CaptureWriter.close} before reading
 * the file.
 */
export class CaptureWriter {
  /** The file's format. */
  readonly format: CaptureFormat;
  /** Bytes kept of each frame. */
  readonly snaplen: number;
  readonly #fd: number;
  /** The block being filled. */
  #chunk: Buffer;
  /** Blocks whose write has completed, for reuse. */
  readonly #spare: Buffer[] = [];
  /** Blocks that may wait for the file at once. */
  readonly #maxQueued: number;
  /** Blocks being written asynchronously. */
  #queued = 0;
  #queuedBytes = 0;
  /** The first failed asynchronous write: thrown by the next call, rejects close(). */
  #writeError: Error | undefined;
  /** Called when the last queued write completes (close(), whenWritten()). */
  readonly #onIdle: Array<() => void> = [];
  /** The records reserved in the block and not built yet (see native/pcap_frames.h). */
  readonly #jobs = new Int32Array(MAX_JOBS * JOB_WORDS);
  #jobCount = 0;
  /** Where the jobs' payloads are (a receive slab, or one datagram's payload). */
  #jobPayloads: Uint8Array | undefined;
  /** Where the jobs' addresses are (a batch's receive records, or #addressCopies). */
  #jobAddresses: Uint8Array | undefined;
  /** Source and destination bytes of each job whose addresses are not in receive records. */
  readonly #addressCopies = new Uint8Array(MAX_JOBS * 32);
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
  readonly #totals: CaptureWriterTotals = { datagrams: 0, payloadBytes: 0, fileBytes: 0, truncated: 0, syncWrites: 0, peakQueuedBytes: 0 };
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
  };

  private constructor(fd: number, format: CaptureFormat, snaplen: number, options: CaptureWriterOptions) {
    if (endianness() !== 'LE') throw new Error('CaptureWriter stores its blocks as little-endian words: this host is big-endian');
    this.#fd = fd;
    this.#chunk = outputBlock();
    this.#maxQueued = Math.ceil((options.queueBytes ?? DEFAULT_QUEUE_BYTES) / CHUNK_BYTES);
    this.format = format;
    this.snaplen = snaplen;
    this.#interfaceName = options.interfaceName ?? defaultInterfaceName();
    if (format === 'pcapng') this.#sectionHeader(options.application ?? 'mcast');
    else this.#pcapHeader();
    for (const index of options.interfaces ?? []) this.#interfaceId(index);
  }

  /**
   * Creates (or truncates) `path` and writes the file header.
   * @throws ERR_OUT_OF_RANGE for a snaplen outside 64..262144 (or 65535+62 for pcap) or a
   *   negative queueBytes, fs errors
   */
  static open(path: string, options: CaptureWriterOptions = {}): CaptureWriter {
    const format = options.format ?? (/\.pcap$/i.test(path) ? 'pcap' : 'pcapng');
    const snaplen = options.snaplen ?? DEFAULT_SNAPLEN;
    if (!Number.isInteger(snaplen) || snaplen < HEADER_BYTES[6] || snaplen > DEFAULT_SNAPLEN) {
      throw outOfRange('snaplen', `an integer from ${HEADER_BYTES[6]} to ${DEFAULT_SNAPLEN}`, snaplen);
    }
    const queueBytes = options.queueBytes ?? DEFAULT_QUEUE_BYTES;
    if (!Number.isSafeInteger(queueBytes) || queueBytes < 0) throw outOfRange('queueBytes', 'an integer >= 0', queueBytes);
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
    if (this.#used + bytes > CHUNK_BYTES) this.#submit();
    return this.#used;
  }

  /** Builds the records reserved in the block since the last call (native/pcap_frames.h). */
  #build(): void {
    const count = this.#jobCount;
    if (count === 0) return;
    this.#jobCount = 0;
    const done = binding.pcapFrames(this.#chunk, this.#jobs, count, this.#jobPayloads, this.#jobAddresses);
    this.#jobPayloads = undefined;
    this.#jobAddresses = undefined;
    // Never for the writer's own jobs (each checked here before it was made).
    if (done !== count) throw new Error(`pcapFrames built ${done} of ${count} frames`);
  }

  #throwWriteError(): void {
    const error = this.#writeError;
    if (error !== undefined) throw error;
  }

  /** Writes bytes [0, length) of `block` at file offset `position`, synchronously. */
  #writeNow(block: Buffer, length: number, position: number): void {
    let done = 0;
    while (done < length) done += writeSync(this.#fd, block, done, length - done, position + done);
  }

  /**
   * Hands the full block to the file: queued for an asynchronous write at its own file offset
   * (a fresh or spare block goes on being filled), or, with the queue full, written now.
   */
  #submit(): void {
    this.#build();
    this.#throwWriteError();
    const length = this.#used;
    if (length === 0) return;
    const position = this.#flushed;
    this.#flushed += length;
    this.#used = 0;
    if (this.#queued >= this.#maxQueued) {
      this.#totals.syncWrites++;
      this.#writeNow(this.#chunk, length, position);
      return;
    }
    const block = this.#chunk;
    this.#queued++;
    this.#queuedBytes += length;
    if (this.#queuedBytes > this.#totals.peakQueuedBytes) this.#totals.peakQueuedBytes = this.#queuedBytes;
    this.#writeLater(block, 0, length, position);
    this.#chunk = this.#spare.pop() ?? outputBlock();
  }

  #writeLater(block: Buffer, from: number, length: number, position: number): void {
    write(this.#fd, block, from, length - from, position + from, (error, written) => {
      if (error === null && from + written < length) {
        this.#writeLater(block, from + written, length, position);
        return;
      }
      this.#writeError ??= error ?? undefined;
      this.#queued--;
      this.#queuedBytes -= length;
      // Reused blocks are already mapped: a fresh 1 MiB costs page faults on the hot path.
      if (this.#spare.length < this.#maxQueued) this.#spare.push(block);
      if (this.#queued === 0) for (const then of this.#onIdle.splice(0)) then();
    });
  }

  /**
   * Writes the bytes of the block being filled to the file now (synchronously). Blocks queued
   * before are written asynchronously; {@link CaptureWriter.close} waits for them.
   */
  flush(): void {
    this.#build();
    this.#throwWriteError();
    if (this.#used === 0) return;
    this.#writeNow(this.#chunk, this.#used, this.#flushed);
    this.#flushed += this.#used;
    this.#used = 0;
  }

  /**
   * Resolves when every block handed to the file so far is written: the queued asynchronous
   * writes (the block being filled is not one of them until {@link CaptureWriter.flush} or a
   * full block hands it over). Rejects with the first failed write.
   */
  whenWritten(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#whenIdle(() => {
        if (this.#writeError === undefined) resolve();
        else reject(this.#writeError);
      });
    });
  }

  // ---- file structure ---------------------------------------------------------------------

  #sectionHeader(application: string): void {
    const app = Buffer.from(application, 'utf8');
    const length = 28 + 4 + pad4(app.length) + 4;
    let at = this.#reserve(length);
    const c = this.#chunk; // after #reserve, which may start a new block
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
    const at = this.#reserve(24);
    const c = this.#chunk; // after #reserve, which may start a new block
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
      let at = this.#reserve(length);
      const c = this.#chunk; // after #reserve, which may start a new block
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
    const at = this.#reserve(record);
    // The record itself is built natively, once per batch (#build): headers, payload copy, sums.
    let addresses = f.source;
    let sourceAt = f.sourceAt;
    let destinationAt = f.destinationAt;
    if (f.source !== f.destination) {
      // Addresses from two places (not a receive record): copied next to each other.
      addresses = this.#addressCopies;
      sourceAt = (this.#jobCount % MAX_JOBS) * 32;
      destinationAt = sourceAt + 16;
    }
    if (this.#jobCount === MAX_JOBS || (this.#jobCount > 0 && (this.#jobPayloads !== payload || this.#jobAddresses !== addresses))) this.#build();
    if (addresses === this.#addressCopies) {
      const n = f.family === 4 ? 4 : 16;
      for (let k = 0; k < n; k++) {
        addresses[sourceAt + k] = f.source[f.sourceAt + k] as number;
        addresses[destinationAt + k] = f.destination[f.destinationAt + k] as number;
      }
    }
    this.#jobPayloads = payload;
    this.#jobAddresses = addresses;
    const job = this.#jobCount++ * JOB_WORDS;
    const jobs = this.#jobs;
    jobs[job] = at;
    // The UDP checksum needs the whole payload: in the source even when the snap length keeps
    // less of it; a datagram the socket cut (or a cut payload given) has none (0).
    jobs[job + 1] = (f.family === 6 ? JOB_IPV6 : 0) | (captured >= f.payloadLength ? JOB_UDP : 0) | (pcapng ? JOB_PCAPNG : 0);
    jobs[job + 2] = start;
    jobs[job + 3] = kept;
    jobs[job + 4] = f.payloadLength;
    jobs[job + 5] = id;
    jobs[job + 6] = hi;
    jobs[job + 7] = lo;
    jobs[job + 8] = f.sourcePort;
    jobs[job + 9] = f.destinationPort;
    jobs[job + 10] = f.ttl;
    jobs[job + 11] = this.#ipId++ & 0xffff;
    jobs[job + 12] = sourceAt;
    jobs[job + 13] = destinationAt;
    jobs[job + 14] = record;
    this.#used = at + record;
    const t = this.#totals;
    t.datagrams++;
    t.payloadBytes += f.payloadLength;
    if (frame < original) t.truncated++;
    this.#perInterface[id] = (this.#perInterface[id] as number) + 1;
  }

  #checkOpen(): void {
    if (this.#closed) throw Object.assign(new Error('The capture writer is closed'), { code: 'ERR_MCAST_WRITER_CLOSED' });
    this.#throwWriteError();
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
    // mcast's own batches: framed natively straight from the receive records (no JS step per
    // datagram); any other RecvBatch through its accessors, one job per datagram. (Not a socket
    // without source addresses: its records hold none, and its address(i) refuses.)
    if (batch instanceof Batch && batch.hasSourceAddress) {
      this.#writeRecords(batch, port, count, nowHi, nowLo);
      return count;
    }
    for (let i = 0; i < count; i++) {
      let hi = nowHi;
      let lo = nowLo;
      f.source = this.#addresses.get(batch.address(i));
      f.destination = this.#addresses.get(batch.destination(i));
      const timestamp = batch.timestamp(i);
      if (timestamp !== undefined) {
        hi = Number(timestamp >> 32n);
        lo = Number(timestamp & 0xffffffffn);
      }
      f.sourcePort = batch.port(i);
      f.ttl = batch.ttl(i) ?? 64;
      f.payloadLength = batch.originalSize(i);
      this.#frame(batch.interfaceIndex(i), hi, lo, batch.size(i), slab, batch.offset(i));
    }
    this.#build();
    return count;
  }

  /** In/out words of binding.pcapFramesFromRecords (kState* in native/pcap_frames.h). */
  readonly #state = new Int32Array(STATE_WORDS);

  /**
   * Frames datagrams [0, count) of one of mcast's batches natively, a run at a time: a run ends
   * at a datagram from another interface (its IDB first) or one that does not fit in the block.
   */
  #writeRecords(batch: Batch, port: number, count: number, nowHi: number, nowLo: number): void {
    this.#build();
    const records = batch.records;
    const bytes = this.#recordBytes(records);
    const slab = batch.buffer;
    const state = this.#state;
    const pcapng = this.format === 'pcapng';
    state[STATE_FLAGS] = (batch.family === 6 ? JOB_IPV6 : 0) | (pcapng ? JOB_PCAPNG : 0);
    state[STATE_SNAPLEN] = this.snaplen;
    state[STATE_PORT] = port;
    state[STATE_NOW_HIGH] = nowHi;
    state[STATE_NOW_LOW] = nowLo;
    const t = this.#totals;
    let i = 0;
    while (i < count) {
      const index = records[i * STRIDE32 + L.ifIndex] as number;
      if (index !== this.#lastIndex) {
        this.#lastId = this.#interfaceId(index); // may write an IDB (and so submit the block)
        this.#lastIndex = index;
      }
      state[STATE_USED] = this.#used;
      state[STATE_IF_INDEX] = this.#lastIndex;
      state[STATE_INTERFACE] = this.#lastId;
      state[STATE_IP_ID] = this.#ipId & 0xffff;
      const done = binding.pcapFramesFromRecords(this.#chunk, state, bytes, slab, i, count - i);
      this.#used = state[STATE_USED] as number;
      this.#ipId = state[STATE_IP_ID] as number;
      t.datagrams += done;
      t.payloadBytes += state[STATE_PAYLOAD_BYTES] as number;
      t.truncated += state[STATE_TRUNCATED] as number;
      this.#perInterface[this.#lastId] = (this.#perInterface[this.#lastId] as number) + done;
      i += done;
      const stop = state[STATE_STOP] as number;
      if (stop === STOP_FULL) {
        if (done === 0 && this.#used === 0) throw new Error(`pcapFramesFromRecords: datagram ${i} does not fit in an empty block`);
        this.#submit();
      } else if (stop === STOP_BAD) {
        // Never for a batch the socket made (its records and slab agree).
        throw new Error(`pcapFramesFromRecords: receive record ${i} is not one of this batch`);
      }
    }
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
    this.#build();
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
    let at = this.#reserve(length);
    const c = this.#chunk; // after #reserve, which may start a new block
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

  #closing: Promise<void> | undefined;

  /**
   * Writes the Interface Statistics Blocks (pcapng; a classic pcap file has no place for them)
   * and the last block, then closes the file once the queued writes are done. Resolves when the
   * file is complete and closed; rejects with the first failed write. Idempotent (the same
   * promise). With nothing queued (small files, queueBytes 0) the file is complete and closed
   * when close() returns.
   * @throws fs errors of the last, synchronous write
   */
  close(stats: CaptureStatistics = {}): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    try {
      if (this.#writeError === undefined) {
        if (this.format === 'pcapng') {
          for (const id of this.#ids.values()) this.#statisticsBlock(id, stats, id === 0);
        }
        this.flush();
      }
    } catch (error) {
      this.#closed = true;
      this.#closing = Promise.resolve();
      this.#whenIdle(() => closeSync(this.#fd));
      throw error;
    }
    this.#closed = true;
    this.#closing = new Promise((resolve, reject) => {
      this.#whenIdle(() => {
        closeFd(this.#fd, (error) => {
          const failure = this.#writeError ?? error ?? undefined;
          if (failure !== undefined) reject(failure);
          else resolve();
        });
      });
    });
    return this.#closing;
  }

  #whenIdle(then: () => void): void {
    if (this.#queued === 0) then();
    else this.#onIdle.push(then);
  }
}

function defaultInterfaceName(): (index: number) => string {
  let names = new Map<number, string>();
  return (index) => {
    if (!names.has(index)) names = new Map(listInterfaces().map((i) => [i.index, i.name]));
    return names.get(index) ?? `if${index}`;
  };
}
