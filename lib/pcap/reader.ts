/**
 * The streaming capture reader: pcapng (several sections, either byte order, several interfaces,
 * any timestamp resolution) and classic pcap (µs and ns, both byte orders), read chunk by chunk,
 * each UDP datagram handed out as it is reached. Every length is checked against what is there
 * and against a limit before anything is allocated for it; a malformed file gets a
 * CaptureFormatError naming the byte offset, an unknown block or a frame that is no UDP datagram
 * a counted skip.
 */
import { open, type FileHandle } from 'node:fs/promises';

import { outOfRange } from '../errors';
import { BLOCK, BYTE_ORDER_MAGIC, CaptureFormatError, DEFAULT_MAX_BLOCK_BYTES, OPTION, PCAP_MAGIC } from './format';
import { decodeFrameAt, frameFields, type FrameSkip } from './frame';
import { CaptureBatch, type CaptureClock, type CapturedDatagram } from './read-batch';
import type { CaptureFormat } from './writer';

export type { CapturedDatagram } from './read-batch';

/** Where a capture is read from: a file path, bytes in memory, or a stream of chunks. */
export type CaptureInput = string | Uint8Array | AsyncIterable<Uint8Array>;

/** Options of {@link readCapture}. */
export interface CaptureReaderOptions {
  /** The largest block or record accepted (default 16 MiB): a larger declared length is an error. */
  maxBlockBytes?: number;
  /** Bytes read from a file at a time (default 1 MiB). */
  chunkBytes?: number;
}

/** An interface the file describes (an IDB, or the pcap file header). */
export interface CaptureInterface {
  /** LINKTYPE_* value (1 Ethernet, 113 Linux cooked, 276 Linux cooked v2, 101 raw IP...). */
  linkType: number;
  /** The snap length the capture declared (bytes kept per frame; 0 when unknown). */
  snaplen: number;
  /** if_name, when the file gives one. */
  name?: string;
  /** Timestamp units per second: 1e6 for µs, 1e9 for ns... */
  unitsPerSecond: bigint;
}

/** An Interface Statistics Block. */
export interface CaptureInterfaceStatistics {
  /** The interface the block is about (file-wide id, as CapturedDatagram.interfaceId). */
  interfaceId: number;
  /** isb_ifrecv */
  received?: bigint;
  /** isb_ifdrop */
  interfaceDrops?: bigint;
  /** isb_osdrop */
  osDrops?: bigint;
  /** isb_usrdeliv */
  delivered?: bigint;
  /** opt_comment values. */
  comments: string[];
}

/** What the reader stepped over, by reason. */
export interface CaptureSkips {
  /** Frames that carry no IPv4/IPv6 packet (ARP, LLDP...). */
  nonIp: number;
  /** IP packets that are not UDP (IGMP, ICMP, TCP...). */
  nonUdp: number;
  /** IP fragments (a datagram split in pieces is not rebuilt). */
  fragments: number;
  /** Frames of a link type the reader does not decode. */
  unsupportedLinkType: number;
  /** Frames cut inside their headers. */
  shortFrames: number;
  /** pcapng blocks of a type the reader does not know (name resolution, custom, ...). */
  unknownBlocks: number;
  /** Simple Packet Blocks: they carry no time, so there is nothing to replay them at. */
  simplePackets: number;
}

interface Interface extends CaptureInterface, CaptureClock {
  /** Units -> ns. */
  toNs: (units: bigint) => bigint;
  offsetNs: bigint;
}

/** Bytes of the input, pulled chunk by chunk, with the file offset of the cursor. */
class ByteSource {
  #buffer: Buffer = Buffer.alloc(0);
  #view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, 0);
  #at = 0;
  #base = 0;
  #done = false;

  constructor(private readonly chunks: AsyncIterator<Uint8Array>) {}

  get offset(): number {
    return this.#base + this.#at;
  }

  get available(): number {
    return this.#buffer.length - this.#at;
  }

  /** Makes `n` bytes available at the cursor; false when the input ends first. */
  async ensure(n: number): Promise<boolean> {
    while (this.available < n && !this.#done) {
      const chunks = this.chunks;
      if (chunks instanceof FileChunks) {
        // The file is read straight behind the bytes left over: no second copy of the chunk.
        const filled = await chunks.readAfter(this.#buffer.subarray(this.#at), n);
        if (filled === undefined) {
          this.#done = true;
          break;
        }
        this.#base += this.#at;
        this.#use(filled);
        this.#at = 0;
        continue;
      }
      const next = await chunks.next();
      if (next.done === true) {
        this.#done = true;
        break;
      }
      const v = next.value;
      const chunk = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      if (this.available === 0) {
        this.#base += this.#buffer.length;
        this.#use(chunk);
      } else {
        this.#base += this.#at;
        this.#use(Buffer.concat([this.#buffer.subarray(this.#at), chunk]));
      }
      this.#at = 0;
    }
    return this.available >= n;
  }

  peek(n: number): Buffer {
    return this.#buffer.subarray(this.#at, this.#at + n);
  }

  #use(buffer: Buffer): void {
    this.#buffer = buffer;
    this.#view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  /** `buffer` as a DataView: block fields in either byte order without a branch or a bounds throw path. */
  get view(): DataView {
    return this.#view;
  }

  /** Where the cursor is in `buffer`. */
  get cursor(): number {
    return this.#at;
  }

  /** The bytes the cursor is in (replaced, never changed, when more input comes). */
  get buffer(): Buffer {
    return this.#buffer;
  }

  /** Steps over `n` available bytes; returns where they start in `buffer`. */
  skip(n: number): number {
    const at = this.#at;
    this.#at += n;
    return at;
  }

  take(n: number): Buffer {
    const bytes = this.#buffer.subarray(this.#at, this.#at + n);
    this.#at += n;
    return bytes;
  }

  async close(): Promise<void> {
    await this.chunks.return?.();
  }
}

/** A chunk read from the file: bytes [headroom, headroom + bytesRead) of buffer. */
interface ReadChunk {
  buffer: Buffer;
  headroom: number;
  bytesRead: number;
}

/**
 * A file read chunk by chunk into fresh buffers (views handed out into earlier ones stay valid),
 * each beginning with the bytes the reader had left over. One read is always ahead: the next
 * chunk is on its way from the file while the reader decodes this one (a replay from a file no
 * longer waits for each read on the pool). Each chunk has room before it for the leftover bytes
 * of the last, so they join without a copy of the chunk.
 */
class FileChunks implements AsyncIterator<Uint8Array> {
  #handle: Promise<FileHandle> | undefined;
  #position = 0;
  /** The read ahead, once the first is asked for; undefined after the end of the file. */
  #ahead: Promise<ReadChunk> | undefined;
  #ended = false;
  readonly #headroom: number;

  constructor(
    private readonly path: string,
    private readonly chunkBytes: number,
  ) {
    this.#headroom = Math.min(256 << 10, chunkBytes >> 2);
  }

  /** Starts reading the next chunk (its failure is seen where it is awaited, never unhandled). */
  #readAhead(): Promise<ReadChunk> {
    const read = (async (): Promise<ReadChunk> => {
      this.#handle ??= open(this.path, 'r');
      const handle = await this.#handle;
      const headroom = this.#headroom;
      const buffer = Buffer.allocUnsafe(headroom + this.chunkBytes);
      const { bytesRead } = await handle.read(buffer, headroom, this.chunkBytes, this.#position);
      this.#position += bytesRead;
      return { buffer, headroom, bytesRead };
    })();
    read.catch(() => {});
    return read;
  }

  /** The chunk read ahead (the next one started at once); undefined at the end of the file. */
  async #next(): Promise<ReadChunk | undefined> {
    if (this.#ended) return undefined;
    this.#ahead ??= this.#readAhead();
    const chunk = await this.#ahead;
    if (chunk.bytesRead === 0) {
      this.#ended = true;
      this.#ahead = undefined;
      return undefined;
    }
    this.#ahead = this.#readAhead();
    return chunk;
  }

  /** The next bytes as one buffer: `leftover`, then at least 1 (and `wanted` in all, when the file has them) new bytes; undefined at the end. */
  async readAfter(leftover: Buffer, wanted: number): Promise<Buffer | undefined> {
    const chunks: ReadChunk[] = [];
    let total = leftover.length;
    while (total < wanted || chunks.length === 0) {
      const chunk = await this.#next();
      if (chunk === undefined) break;
      chunks.push(chunk);
      total += chunk.bytesRead;
    }
    const first = chunks[0];
    if (first === undefined) return undefined;
    if (chunks.length === 1 && leftover.length <= first.headroom) {
      // The usual case: the leftover copied in front of the chunk.
      const start = first.headroom - leftover.length;
      leftover.copy(first.buffer, start);
      return first.buffer.subarray(start, first.headroom + first.bytesRead);
    }
    return Buffer.concat([leftover, ...chunks.map((c) => c.buffer.subarray(c.headroom, c.headroom + c.bytesRead))], total);
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    const chunk = await this.readAfter(Buffer.alloc(0), 1);
    return chunk === undefined ? { done: true, value: undefined } : { done: false, value: chunk };
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    const handle = this.#handle;
    const ahead = this.#ahead;
    this.#handle = undefined;
    this.#ahead = undefined;
    this.#ended = true;
    await ahead?.catch(() => undefined); // the read in flight first: then the handle closes
    if (handle !== undefined) await (await handle).close();
    return { done: true, value: undefined };
  }
}

function chunksOf(input: CaptureInput, chunkBytes: number): AsyncIterator<Uint8Array> {
  if (typeof input === 'string') return new FileChunks(input, chunkBytes);
  if (input instanceof Uint8Array) {
    let given = false;
    return {
      next: async () => {
        if (given) return { done: true, value: undefined };
        given = true;
        return { done: false, value: input };
      },
    };
  }
  return input[Symbol.asyncIterator]();
}

function unitsConverter(tsresol: number): { units: bigint; toNs: (u: bigint) => bigint } {
  const binary = (tsresol & 0x80) !== 0;
  const exponent = BigInt(tsresol & 0x7f);
  if (binary) {
    const units = 1n << exponent;
    return { units, toNs: (u) => (u * 1_000_000_000n) / units };
  }
  const units = 10n ** exponent;
  if (exponent <= 9n) {
    const factor = 10n ** (9n - exponent);
    return { units, toNs: (u) => u * factor };
  }
  const divisor = 10n ** (exponent - 9n);
  return { units, toNs: (u) => u / divisor };
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/**
 * Reads the UDP datagrams of a pcap or pcapng file, in file order, as an async iterator:
 *
 *   const capture = readCapture('session.pcapng');
 *   for await (const d of capture) console.log(d.timestamp, d.destination, d.ports.destination, d.payload);
 *   console.log(capture.skipped); // what was not a UDP datagram, by reason
 *
 * The iteration throws a {@link CaptureFormatError} (`code` ERR_MCAST_BAD_CAPTURE, `offset`) at
 * the first malformed block or record; the datagrams before it have been handed out.
 */
export class CaptureReader implements AsyncIterable<CapturedDatagram> {
  /** 'pcapng' or 'pcap', once the file header is read. */
  format: CaptureFormat | undefined;
  /** Interfaces in file order: every IDB of every section (pcap: the one the header describes). */
  readonly interfaces: CaptureInterface[] = [];
  /** Interface Statistics Blocks read so far. */
  readonly statistics: CaptureInterfaceStatistics[] = [];
  /** Counted skips. */
  readonly skipped: CaptureSkips = {
    nonIp: 0,
    nonUdp: 0,
    fragments: 0,
    unsupportedLinkType: 0,
    shortFrames: 0,
    unknownBlocks: 0,
    simplePackets: 0,
  };
  /** Packets read (datagrams and skipped frames). */
  frames = 0;
  /** pcapng sections read. */
  sections = 0;
  readonly #source: ByteSource;
  readonly #maxBlock: number;
  #started = false;
  readonly #batch = new CaptureBatch();
  /** The frame being decoded. */
  readonly #frame = frameFields();

  /** Use {@link readCapture}. */
  constructor(input: CaptureInput, options: CaptureReaderOptions = {}) {
    const maxBlock = options.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES;
    if (!Number.isInteger(maxBlock) || maxBlock < 64 || maxBlock > 1 << 30) {
      throw outOfRange('maxBlockBytes', 'an integer from 64 to 2^30', maxBlock);
    }
    this.#maxBlock = maxBlock;
    this.#source = new ByteSource(chunksOf(input, options.chunkBytes ?? 1 << 20));
  }

  /** The datagrams, in file order; a reader can be iterated once (this or batches()). */
  [Symbol.asyncIterator](): AsyncGenerator<CapturedDatagram, void, undefined> {
    return this.#datagrams(this.batches());
  }

  async *#datagrams(batches: AsyncGenerator<CaptureBatch, void, undefined>): AsyncGenerator<CapturedDatagram, void, undefined> {
    for await (const batch of batches) {
      for (let i = 0; i < batch.count; i++) yield batch.datagram(i);
    }
  }

  /**
   * The datagrams in batches of up to 256, in file order, without an object or a string per
   * datagram: one {@link CaptureBatch}, refilled for each step (read it before the next). The
   * iteration throws a {@link CaptureFormatError} at the first malformed block or record, after
   * a last batch with the datagrams before it. A reader can be iterated once (this or the
   * async iterator).
   */
  batches(): AsyncGenerator<CaptureBatch, void, undefined> {
    if (this.#started) throw Object.assign(new Error('A CaptureReader can be iterated once'), { code: 'ERR_MCAST_READER_USED' });
    this.#started = true;
    return this.#read();
  }

  async *#read(): AsyncGenerator<CaptureBatch, void, undefined> {
    const src = this.#source;
    const batch = this.#batch;
    try {
      try {
        yield* this.#file();
      } catch (error) {
        // The datagrams before the bad block first.
        if (batch.count > 0) yield batch;
        throw error;
      }
      if (batch.count > 0) yield batch;
    } finally {
      await src.close();
    }
  }

  async *#file(): AsyncGenerator<CaptureBatch, void, undefined> {
    const src = this.#source;
    if (!(await src.ensure(4))) {
      if (src.available === 0) throw new CaptureFormatError('empty file: not a pcap or pcapng capture (0 bytes)', 0);
      throw new CaptureFormatError(`not a pcap or pcapng capture: the file has only ${src.available} bytes`, 0);
    }
    const magic = src.peek(4).readUInt32LE(0);
    if (magic === BLOCK.SECTION_HEADER) {
      this.format = 'pcapng';
      yield* this.#pcapng();
    } else if (isPcapMagic(magic) || isPcapMagic(src.peek(4).readUInt32BE(0))) {
      this.format = 'pcap';
      yield* this.#pcap();
    } else {
      throw new CaptureFormatError(
        `not a pcap or pcapng capture: it starts with ${hex32(src.peek(4).readUInt32BE(0))} at byte 0 (pcapng starts with 0x0a0d0d0a, pcap with 0xa1b2c3d4 or 0xa1b23c4d in either byte order)`,
        0,
      );
    }
  }

  #truncated(what: string, offset: number, declared: number): CaptureFormatError {
    return new CaptureFormatError(
      `truncated file: the ${what} at byte ${offset} declares ${declared} bytes but the file ends after ${this.#source.available}`,
      offset,
    );
  }

  /**
   * Decodes the frame buffer[start, end) and adds it to the batch, or counts its skip. Returns
   * true when the batch is full (the caller yields it).
   */
  #packet(linkType: number, buffer: Buffer, start: number, end: number, interfaceId: number, offset: number, clock: CaptureClock, hi: number, lo: number): boolean {
    this.frames++;
    const skip = decodeFrameAt(linkType, buffer, start, end, this.#frame);
    if (skip !== undefined) {
      this.skipped[skip satisfies FrameSkip]++;
      return false;
    }
    const batch = this.#batch;
    batch.push(buffer, this.#frame, interfaceId, this.frames, offset, clock, hi, lo);
    return batch.full;
  }

  // ---- pcapng -----------------------------------------------------------------------------

  /** pcapng: the byte order of the section being read. */
  #le = true;
  /** pcapng: the interfaces of the section being read. */
  #section: Interface[] = [];
  /** pcapng: interface id of the section's first IDB among all of the file's. */
  #firstId = 0;
  /** pcapng: the type of the block whose bytes #pcapngBlocks asked for (for the error). */
  #wantedType = 0;

  /**
   * The input's pull loop: #pcapngBlocks decodes what is in the buffer, this generator yields
   * full batches and reads more. (The per-block work is in a plain function: V8 optimizes a
   * generator's loop only on its next call, which a file read once never makes.)
   */
  async *#pcapng(): AsyncGenerator<CaptureBatch, void, undefined> {
    const src = this.#source;
    const batch = this.#batch;
    for (;;) {
      const wanted = this.#pcapngBlocks();
      if (wanted === 0) {
        yield batch; // full: the consumer reads it, then it is refilled
        batch.reset();
        continue;
      }
      if (await src.ensure(wanted)) continue;
      const offset = src.offset;
      if (wanted === 8) {
        if (src.available === 0) return;
        throw new CaptureFormatError(`truncated file: ${src.available} bytes at byte ${offset}, less than a block header (8 bytes)`, offset);
      }
      if (wanted === 12) throw this.#truncated('section header block', offset, 28);
      throw this.#truncated(`block (type ${hex32(this.#wantedType)})`, offset, wanted);
    }
  }

  /**
   * Decodes the pcapng blocks at the cursor, synchronously, until the batch is full (returns 0)
   * or the next block is not all in the buffer: returns the bytes it needs at the cursor (8 for a
   * block header, 12 for a section header's byte-order magic, else the block's length), the
   * cursor left at that block's start.
   */
  #pcapngBlocks(): number {
    const src = this.#source;
    const batch = this.#batch;
    for (;;) {
      if (src.available < 8) return 8;
      const offset = src.offset;
      let at = src.cursor;
      // Read in place (a view per block would be garbage per datagram).
      if (src.buffer.readUInt32LE(at) === BLOCK.SECTION_HEADER) {
        if (src.available < 12) return 12;
        const bom = src.peek(12);
        if (bom.readUInt32LE(8) === BYTE_ORDER_MAGIC) this.#le = true;
        else if (bom.readUInt32BE(8) === BYTE_ORDER_MAGIC) this.#le = false;
        else {
          throw new CaptureFormatError(
            `bad section header block at byte ${offset}: byte-order magic bytes ${bom.subarray(8, 12).toString('hex')}, expected 4d3c2b1a or 1a2b3c4d`,
            offset + 8,
          );
        }
      }
      const le = this.#le;
      const view = src.view;
      const type = view.getUint32(at, le);
      const length = view.getUint32(at + 4, le);
      if (length < 12 || length % 4 !== 0) {
        throw new CaptureFormatError(
          `bad block at byte ${offset}: total length ${length} (a pcapng block length is a multiple of 4 and at least 12)`,
          offset + 4,
        );
      }
      if (length > this.#maxBlock) {
        throw new CaptureFormatError(
          `bad block at byte ${offset}: it declares ${length} bytes, more than the ${this.#maxBlock} a block may have here`,
          offset + 4,
        );
      }
      if (src.available < length) {
        this.#wantedType = type;
        return length;
      }
      const buffer = src.buffer;
      at = src.skip(length);
      const trailer = view.getUint32(at + length - 4, le);
      if (trailer !== length) {
        throw new CaptureFormatError(
          `bad block at byte ${offset}: its trailing length ${trailer} differs from its leading length ${length}`,
          offset + length - 4,
        );
      }
      if (type === BLOCK.ENHANCED_PACKET && length >= 32) {
        // The common case first: offsets into the read buffer, no view, no closure.
        const id = view.getUint32(at + 8, le);
        const captured = view.getUint32(at + 20, le);
        const iface = this.#section[id];
        if (iface !== undefined && 28 + captured <= length - 4) {
          if (this.#packet(iface.linkType, buffer, at + 28, at + 28 + captured, this.#firstId + id, offset, iface, view.getUint32(at + 12, le), view.getUint32(at + 16, le))) return 0;
          continue;
        }
      }
      this.#otherBlock(type, buffer, at, length, offset, le);
      if (batch.full) return 0;
    }
  }

  /** Any block but a well-formed EPB of a described interface (the fast path's): buffer[at, at + length). */
  #otherBlock(type: number, buffer: Buffer, at: number, length: number, offset: number, le: boolean): void {
    const block = buffer.subarray(at, at + length);
    const u16 = (at: number): number => read16(block, at, le);
    const u32 = (at: number): number => read32(block, at, le);
    const minimum = (bytes: number, what: string): void => {
      if (length < bytes) throw new CaptureFormatError(`bad ${what} at byte ${offset}: ${length} bytes, less than its ${bytes}-byte minimum`, offset + 4);
    };
    const section = this.#section;
    switch (type) {
      case BLOCK.SECTION_HEADER: {
        minimum(28, 'section header block');
        const major = u16(12);
        if (major !== 1) {
          throw new CaptureFormatError(`unsupported pcapng version ${major}.${u16(14)} in the section header at byte ${offset} (expected 1.x)`, offset + 12);
        }
        this.sections++;
        this.#firstId = this.interfaces.length;
        this.#section = [];
        break;
      }
      case BLOCK.INTERFACE_DESCRIPTION: {
        minimum(20, 'interface description block');
        const iface = this.#interfaceBlock(block, offset, le, u16(8), u32(12));
        section.push(iface);
        this.interfaces.push(iface);
        break;
      }
      case BLOCK.ENHANCED_PACKET:
      case BLOCK.PACKET: {
        const enhanced = type === BLOCK.ENHANCED_PACKET;
        minimum(32, enhanced ? 'enhanced packet block' : 'packet block');
        const id = enhanced ? u32(8) : u16(8);
        const captured = u32(20);
        if (28 + captured > length - 4) {
          throw new CaptureFormatError(
            `bad packet block at byte ${offset}: captured length ${captured} runs past the block's end (${length - 32} bytes of data)`,
            offset + 20,
          );
        }
        const iface = section[id];
        if (iface === undefined) {
          throw new CaptureFormatError(
            `bad packet block at byte ${offset}: interface ${id}, but the section describes ${section.length} interface${section.length === 1 ? '' : 's'}`,
            offset + 8,
          );
        }
        this.#packet(iface.linkType, buffer, at + 28, at + 28 + captured, this.#firstId + id, offset, iface, u32(12), u32(16));
        break;
      }
      case BLOCK.SIMPLE_PACKET:
        this.frames++;
        this.skipped.simplePackets++;
        break;
      case BLOCK.INTERFACE_STATISTICS:
        minimum(24, 'interface statistics block');
        this.statistics.push(this.#statisticsBlock(block, offset, le, this.#firstId + u32(8)));
        break;
      default:
        this.skipped.unknownBlocks++;
    }
  }

  #interfaceBlock(block: Buffer, offset: number, le: boolean, linkType: number, snaplen: number): Interface {
    let tsresol = 6;
    let offsetNs = 0n;
    let name: string | undefined;
    for (const [code, value, at] of options(block, 16, offset, le)) {
      if (code === OPTION.IF_TSRESOL) {
        if (value.length < 1) throw new CaptureFormatError(`bad if_tsresol option at byte ${offset + at}: empty`, offset + at);
        tsresol = value[0] as number;
        if ((tsresol & 0x80) === 0 && tsresol > 19) {
          throw new CaptureFormatError(`bad if_tsresol option at byte ${offset + at}: 10^-${tsresol} s is finer than any clock`, offset + at);
        }
      } else if (code === OPTION.IF_TSOFFSET && value.length >= 8) {
        offsetNs = (le ? value.readBigInt64LE(0) : value.readBigInt64BE(0)) * 1_000_000_000n;
      } else if (code === OPTION.IF_NAME) {
        name = value.toString('utf8');
      }
    }
    const { units, toNs } = unitsConverter(tsresol);
    return {
      linkType,
      snaplen,
      unitsPerSecond: units,
      toNs,
      offsetNs,
      nanoseconds: (hi, lo) => toNs((BigInt(hi) << 32n) | BigInt(lo)) + offsetNs,
      ...(name !== undefined ? { name } : {}),
    };
  }

  #statisticsBlock(block: Buffer, offset: number, le: boolean, interfaceId: number): CaptureInterfaceStatistics {
    const stats: CaptureInterfaceStatistics = { interfaceId, comments: [] };
    const u64 = (v: Buffer): bigint | undefined => (v.length < 8 ? undefined : le ? v.readBigUInt64LE(0) : v.readBigUInt64BE(0));
    for (const [code, value] of options(block, 20, offset, le)) {
      const n = u64(value);
      if (code === OPTION.COMMENT) stats.comments.push(value.toString('utf8'));
      else if (n === undefined) continue;
      else if (code === OPTION.ISB_IFRECV) stats.received = n;
      else if (code === OPTION.ISB_IFDROP) stats.interfaceDrops = n;
      else if (code === OPTION.ISB_OSDROP) stats.osDrops = n;
      else if (code === OPTION.ISB_USRDELIV) stats.delivered = n;
    }
    return stats;
  }

  // ---- classic pcap -----------------------------------------------------------------------

  async *#pcap(): AsyncGenerator<CaptureBatch, void, undefined> {
    const src = this.#source;
    const batch = this.#batch;
    if (!(await src.ensure(24))) throw this.#truncated('pcap file header', 0, 24);
    const header = src.take(24);
    const le = isPcapMagic(header.readUInt32LE(0));
    const u32 = (b: Buffer, at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
    const magic = u32(header, 0);
    const major = le ? header.readUInt16LE(4) : header.readUInt16BE(4);
    if (major !== 2) throw new CaptureFormatError(`unsupported pcap version ${major} at byte 4 (expected 2)`, 4);
    const nanoseconds = magic === PCAP_MAGIC.NANOSECONDS;
    const recordHeader = magic === PCAP_MAGIC.MODIFIED ? 24 : 16;
    const iface: CaptureInterface = {
      linkType: u32(header, 20) & 0xffff, // the upper bits say whether frames carry an FCS
      snaplen: u32(header, 16),
      unitsPerSecond: nanoseconds ? 1_000_000_000n : 1_000_000n,
    };
    this.interfaces.push(iface);
    const fraction = nanoseconds ? 1n : 1000n;
    const clock: CaptureClock = { nanoseconds: (seconds, part) => BigInt(seconds) * 1_000_000_000n + BigInt(part) * fraction };
    for (;;) {
      const wanted = this.#pcapRecords(le, recordHeader, iface.linkType, clock);
      if (wanted === 0) {
        yield batch;
        batch.reset();
        continue;
      }
      if (await src.ensure(wanted)) continue;
      const offset = src.offset;
      if (this.#wantedHeader) {
        if (src.available === 0) return;
        throw this.#truncated('record header', offset, recordHeader);
      }
      throw this.#truncated('record', offset, wanted);
    }
  }

  /** pcap: whether the bytes #pcapRecords asked for are a record header's (else a whole record's). */
  #wantedHeader = false;

  /**
   * Decodes the pcap records at the cursor, synchronously (see #pcapngBlocks), until the batch is
   * full (returns 0) or the next record is not all in the buffer: returns the bytes it needs at
   * the cursor, the record header's or the whole record's (#wantedHeader says which).
   */
  #pcapRecords(le: boolean, recordHeader: number, linkType: number, clock: CaptureClock): number {
    const src = this.#source;
    for (;;) {
      if (src.available < recordHeader) {
        this.#wantedHeader = true;
        return recordHeader;
      }
      const offset = src.offset;
      const view = src.view;
      const captured = view.getUint32(src.cursor + 8, le);
      if (captured > this.#maxBlock) {
        throw new CaptureFormatError(
          `bad record at byte ${offset}: it declares ${captured} captured bytes, more than the ${this.#maxBlock} a record may have here`,
          offset + 8,
        );
      }
      if (src.available < recordHeader + captured) {
        this.#wantedHeader = false;
        return recordHeader + captured;
      }
      const buffer = src.buffer;
      const r = src.skip(recordHeader + captured);
      if (this.#packet(linkType, buffer, r + recordHeader, r + recordHeader + captured, 0, offset, clock, view.getUint32(r, le), view.getUint32(r + 4, le))) return 0;
    }
  }
}

function read16(b: Buffer, at: number, le: boolean): number {
  return le ? b.readUInt16LE(at) : b.readUInt16BE(at);
}

function read32(b: Buffer, at: number, le: boolean): number {
  return le ? b.readUInt32LE(at) : b.readUInt32BE(at);
}

function isPcapMagic(n: number): boolean {
  return n === PCAP_MAGIC.MICROSECONDS || n === PCAP_MAGIC.NANOSECONDS || n === PCAP_MAGIC.MODIFIED;
}

/** The options of a block from `start` to its trailer: [code, value, offset in the block]. */
function* options(block: Buffer, start: number, offset: number, le: boolean): Generator<[number, Buffer, number]> {
  const end = block.length - 4;
  let at = start;
  while (at + 4 <= end) {
    const code = le ? block.readUInt16LE(at) : block.readUInt16BE(at);
    const length = le ? block.readUInt16LE(at + 2) : block.readUInt16BE(at + 2);
    if (code === OPTION.END) return;
    const next = at + 4 + ((length + 3) & ~3);
    if (next > end) {
      throw new CaptureFormatError(
        `bad option at byte ${offset + at}: code ${code} declares ${length} bytes, past the end of its block (byte ${offset + end})`,
        offset + at,
      );
    }
    yield [code, block.subarray(at + 4, at + 4 + length), at];
    at = next;
  }
}

/**
 * Opens a capture for reading (nothing is read until the iteration starts): a file path, the
 * bytes of a file, or a stream of chunks (e.g. a Readable).
 */
export function readCapture(input: CaptureInput, options?: CaptureReaderOptions): CaptureReader {
  return new CaptureReader(input, options);
}
