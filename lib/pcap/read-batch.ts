/**
 * The reader's batch mode: up to 256 datagrams of a capture at a time, as offsets into the blocks
 * the reader read (no object, string or view per datagram until one is asked for), one object
 * reused from batch to batch. `mcast replay` feeds sendBatch from it; the reader's async iterator
 * of CapturedDatagram objects is built on it.
 */
import { formatAddressBytes } from '../address';
import { addressText, type FrameFields } from './frame';

/** Datagrams in a batch at most. */
export const CAPTURE_BATCH_SIZE = 256;

/** One UDP datagram of a capture file. */
export interface CapturedDatagram {
  /** Capture time in ns since the Unix epoch (the file's resolution, converted). */
  timestamp: bigint;
  /** 4 for IPv4, 6 for IPv6. */
  family: 4 | 6;
  /** Source address. */
  source: string;
  /** Destination address (the group, for multicast). */
  destination: string;
  /** UDP source and destination ports. */
  ports: {
    /** The UDP source port. */
    source: number;
    /** The UDP destination port. */
    destination: number;
  };
  /** IPv4 TTL or IPv6 hop limit in the captured header. */
  ttl: number;
  /** The captured payload: a view into the chunk read from the file (it stays valid). */
  payload: Buffer;
  /** The payload's length on the wire; more than payload.length when the capture cut it. */
  originalLength: number;
  /** True when the snap length cut the payload. */
  truncated: boolean;
  /** Interface id in the file (pcapng: IDB order across sections; pcap: 0). */
  interfaceId: number;
  /** Frame number in the file, from 1, counting every packet as Wireshark does. */
  frame: number;
  /** Byte offset of the packet's block or record in the file. */
  offset: number;
}

/** How the raw timestamp of a packet (two 32-bit halves, as the file stores it) becomes ns. */
export interface CaptureClock {
  /** ns since the Unix epoch of the raw timestamp (hi, lo). */
  nanoseconds(hi: number, lo: number): bigint;
}

// Int32 fields per datagram.
const FAMILY = 0;
const TTL = 1;
const ADDRESS = 2;
const SOURCE_PORT = 3;
const DESTINATION_PORT = 4;
const PAYLOAD_START = 5;
const PAYLOAD_END = 6;
const PAYLOAD_LENGTH = 7;
const INTERFACE = 8;
const FRAME = 9;
/** Index in the batch of the first datagram of the run of equal destinations this one is in. */
const RUN = 10;
/** 1 when the destination equals the previous datagram's (that of the previous batch too). */
const SAME = 11;
const FIELDS = 12;

/**
 * A batch of datagrams read from a capture ({@link CaptureReader.batches}). The object and its
 * storage are reused: read what you need before asking for the next batch. Payload views
 * (payload(i)) stay valid after that, as the iterator's do.
 */
export class CaptureBatch {
  /** Datagrams in the batch. */
  count = 0;
  readonly #buffers: Buffer[] = new Array<Buffer>(CAPTURE_BATCH_SIZE);
  readonly #fields = new Int32Array(CAPTURE_BATCH_SIZE * FIELDS);
  readonly #offsets = new Float64Array(CAPTURE_BATCH_SIZE);
  readonly #hi = new Uint32Array(CAPTURE_BATCH_SIZE);
  readonly #lo = new Uint32Array(CAPTURE_BATCH_SIZE);
  readonly #clocks: CaptureClock[] = new Array<CaptureClock>(CAPTURE_BATCH_SIZE);
  /** The last datagram pushed: its destination bytes, family and port. */
  readonly #previous = new Uint8Array(16);
  #previousFamily = 0;
  #previousPort = -1;
  /** The destination text of one run of the batch. */
  #textRun = -1;
  #text = '';

  /** True when no more datagrams fit. */
  get full(): boolean {
    return this.count === CAPTURE_BATCH_SIZE;
  }

  /** @internal Empties the batch (the reader calls it before filling the next one). */
  reset(): void {
    this.count = 0;
    this.#textRun = -1;
  }

  /**
   * @internal Adds the datagram decoded into `d` (offsets into `buffer`), captured on `interfaceId` with the
   * raw timestamp (hi, lo) of `clock`; `frame` and `offset` say where it is in the file.
   */
  push(buffer: Buffer, d: FrameFields, interfaceId: number, frame: number, offset: number, clock: CaptureClock, hi: number, lo: number): void {
    const i = this.count++;
    const f = this.#fields;
    const k = i * FIELDS;
    f[k + FAMILY] = d.family;
    f[k + TTL] = d.ttl;
    f[k + ADDRESS] = d.addressAt;
    f[k + SOURCE_PORT] = d.sourcePort;
    f[k + DESTINATION_PORT] = d.destinationPort;
    f[k + PAYLOAD_START] = d.payloadStart;
    f[k + PAYLOAD_END] = d.payloadEnd;
    f[k + PAYLOAD_LENGTH] = d.payloadLength;
    f[k + INTERFACE] = interfaceId;
    f[k + FRAME] = frame;
    this.#buffers[i] = buffer;
    this.#offsets[i] = offset;
    this.#hi[i] = hi;
    this.#lo[i] = lo;
    this.#clocks[i] = clock;
    // Same destination as the datagram before? (family, port, then the address bytes)
    const bytes = d.family === 4 ? 4 : 16;
    const at = d.addressAt + bytes;
    const previous = this.#previous;
    let same = d.family === this.#previousFamily && d.destinationPort === this.#previousPort;
    for (let b = 0; b < bytes; b++) {
      const v = buffer[at + b] as number;
      if (previous[b] !== v) {
        same = false;
        previous[b] = v;
      }
    }
    this.#previousFamily = d.family;
    this.#previousPort = d.destinationPort;
    f[k + SAME] = same ? 1 : 0;
    f[k + RUN] = same && i > 0 ? (f[k - FIELDS + RUN] as number) : i;
  }

  #field(i: number, field: number): number {
    return this.#fields[i * FIELDS + field] as number;
  }

  /** 4 for IPv4, 6 for IPv6. */
  family(i: number): 4 | 6 {
    return this.#field(i, FAMILY) as 4 | 6;
  }

  /** Capture time in ns since the Unix epoch. */
  timestamp(i: number): bigint {
    return (this.#clocks[i] as CaptureClock).nanoseconds(this.#hi[i] as number, this.#lo[i] as number);
  }

  /** Source address (text; IPv4 texts are cached). */
  source(i: number): string {
    return addressText(this.#buffers[i] as Buffer, this.#field(i, ADDRESS), this.family(i));
  }

  /** Destination address; one string per run of datagrams to the same destination. */
  destination(i: number): string {
    const run = this.#field(i, RUN);
    if (run !== this.#textRun) {
      const family = this.family(i);
      const at = this.#field(i, ADDRESS) + (family === 4 ? 4 : 16);
      const buffer = this.#buffers[i] as Buffer;
      this.#text = family === 4 ? addressText(buffer, at, 4) : formatAddressBytes(buffer, at, 6);
      this.#textRun = run;
    }
    return this.#text;
  }

  /**
   * True when datagram i goes to the same destination (family, address and port) as the one
   * before it in the file (the last of the previous batch for i = 0): a sender can keep its
   * decision about where it goes.
   */
  sameDestination(i: number): boolean {
    return this.#field(i, SAME) === 1;
  }

  /** UDP source port. */
  sourcePort(i: number): number {
    return this.#field(i, SOURCE_PORT);
  }

  /** UDP destination port. */
  destinationPort(i: number): number {
    return this.#field(i, DESTINATION_PORT);
  }

  /** IPv4 TTL or IPv6 hop limit. */
  ttl(i: number): number {
    return this.#field(i, TTL);
  }

  /** The captured payload: a view into the block read from the file. */
  payload(i: number): Buffer {
    return (this.#buffers[i] as Buffer).subarray(this.#field(i, PAYLOAD_START), this.#field(i, PAYLOAD_END));
  }

  /**
   * The captured payload as a plain Uint8Array view into the same block: what payload(i) gives
   * without the Buffer (a Buffer view costs about 2.5 times as much to make), for a sender.
   */
  bytes(i: number): Uint8Array {
    const buffer = this.#buffers[i] as Buffer;
    const start = this.#field(i, PAYLOAD_START);
    return new Uint8Array(buffer.buffer, buffer.byteOffset + start, this.#field(i, PAYLOAD_END) - start);
  }

  /**
   * The block read from the file that holds datagram i's payload, at {@link payloadStart}(i)
   * for {@link capturedLength}(i) bytes: a sender's gather (sendBatch({ bytes, offsets,
   * lengths })) takes datagrams from it in place, with no view per datagram.
   */
  block(i: number): Buffer {
    return this.#buffers[i] as Buffer;
  }

  /** Where datagram i's payload starts in {@link block}(i). */
  payloadStart(i: number): number {
    return this.#field(i, PAYLOAD_START);
  }

  /** Captured payload bytes (payload(i).length, without making the view). */
  capturedLength(i: number): number {
    return this.#field(i, PAYLOAD_END) - this.#field(i, PAYLOAD_START);
  }

  /** The payload's length on the wire. */
  originalLength(i: number): number {
    return this.#field(i, PAYLOAD_LENGTH);
  }

  /** True when the capture cut the payload. */
  truncated(i: number): boolean {
    return this.capturedLength(i) < this.originalLength(i);
  }

  /** Interface id in the file. */
  interfaceId(i: number): number {
    return this.#field(i, INTERFACE);
  }

  /** Frame number in the file, from 1. */
  frame(i: number): number {
    return this.#field(i, FRAME);
  }

  /** Byte offset of the packet's block or record in the file. */
  offset(i: number): number {
    return this.#offsets[i] as number;
  }

  /** Datagram i as the iterator hands it out. */
  datagram(i: number): CapturedDatagram {
    const payload = this.payload(i);
    const originalLength = this.originalLength(i);
    return {
      timestamp: this.timestamp(i),
      family: this.family(i),
      source: this.source(i),
      destination: this.destination(i),
      ports: { source: this.sourcePort(i), destination: this.destinationPort(i) },
      ttl: this.ttl(i),
      payload,
      originalLength,
      truncated: payload.length < originalLength,
      interfaceId: this.interfaceId(i),
      frame: this.frame(i),
      offset: this.offset(i),
    };
  }
}
