/**
 * The zero-copy view of one recvmmsg result. One Batch object per socket is reused for every
 * batch: its accessors read the slab and the metadata records in place, so the 'batch' path
 * allocates nothing per datagram (data(i) makes a view object, address(i) hits a cache).
 */
import { AddressFormatter } from './address';
import { binding } from './binding';
import { mcastError } from './errors';
import type { Family, MessageInfo, RecvBatch } from './types';

const L = binding.layout;
const STRIDE32 = L.recordBytes / 4;
const STRIDE64 = L.recordBytes / 8;
const TIMESTAMP64 = L.timestampByte / 8;

export class Batch implements RecvBatch {
  /** Datagrams in the current batch; 0 outside the 'batch' callback. */
  count = 0;
  readonly buffer: Buffer;
  readonly family: Family;
  readonly maxMessageSize: number;
  /** The raw records, for code that wants to read fields itself (see native/batch_layout.h). */
  readonly records: Int32Array;
  private readonly recordBytes: Uint8Array;
  private readonly timestamps: BigUint64Array;
  private readonly formatter: AddressFormatter;

  /** @internal False for a socket created with `sourceAddress: false`: the kernel reported no sources. */
  readonly hasSourceAddress: boolean;

  constructor(slab: ArrayBuffer, records: ArrayBuffer, family: Family, maxMessageSize: number, hasSourceAddress = true) {
    this.hasSourceAddress = hasSourceAddress;
    this.buffer = Buffer.from(slab);
    this.records = new Int32Array(records);
    this.recordBytes = new Uint8Array(records);
    this.timestamps = new BigUint64Array(records);
    this.family = family;
    this.maxMessageSize = maxMessageSize;
    this.formatter = new AddressFormatter(this.recordBytes, family);
  }

  private check(i: number): number {
    if (!(i >= 0 && i < this.count && Number.isInteger(i))) {
      throw Object.assign(
        new RangeError(`Datagram index ${String(i)} is outside this batch of ${this.count} (a batch is valid only during its 'batch' callback)`),
        { code: 'ERR_OUT_OF_RANGE' },
      );
    }
    return i;
  }

  offset(i: number): number {
    return this.records[this.check(i) * STRIDE32 + L.offset] as number;
  }

  size(i: number): number {
    return this.records[this.check(i) * STRIDE32 + L.size] as number;
  }

  originalSize(i: number): number {
    return this.records[this.check(i) * STRIDE32 + L.originalSize] as number;
  }

  truncated(i: number): boolean {
    return ((this.records[this.check(i) * STRIDE32 + L.flags] as number) & L.flagTruncated) !== 0;
  }

  data(i: number): Buffer {
    const start = this.offset(i);
    return this.buffer.subarray(start, start + this.size(i));
  }

  address(i: number): string {
    if (!this.hasSourceAddress) throw noSourceAddress('address(i)');
    return this.formatter.format(this.check(i) * L.recordBytes + L.sourceByte);
  }

  port(i: number): number {
    if (!this.hasSourceAddress) throw noSourceAddress('port(i)');
    return this.records[this.check(i) * STRIDE32 + L.port] as number;
  }

  destination(i: number): string {
    return this.formatter.format(this.check(i) * L.recordBytes + L.destinationByte);
  }

  interfaceIndex(i: number): number {
    return this.records[this.check(i) * STRIDE32 + L.ifIndex] as number;
  }

  ttl(i: number): number | undefined {
    // The record holds -1 when the kernel sent no TTL (the socket did not ask for it).
    const ttl = this.records[this.check(i) * STRIDE32 + L.ttl] as number;
    return ttl < 0 ? undefined : ttl;
  }

  dropCount(i: number): number {
    return (this.records[this.check(i) * STRIDE32 + L.dropCount] as number) >>> 0;
  }

  /**
   * @internal Datagram i's MessageInfo for the 'message' event: the fields of address(i),
   * port(i), ... read straight from the record. No index check: its one caller
   * (lib/dispatch.ts) walks 0 <= i < count itself, and this is per datagram.
   */
  messageInfo(i: number, family: 'IPv4' | 'IPv6'): MessageInfo {
    const r = i * STRIDE32;
    const records = this.records;
    const base = i * L.recordBytes;
    const flags = records[r + L.flags] as number;
    const info: MessageInfo = {
      address: this.formatter.format(base + L.sourceByte),
      port: records[r + L.port] as number,
      family,
      size: records[r + L.size] as number,
      originalSize: records[r + L.originalSize] as number,
      truncated: (flags & L.flagTruncated) !== 0,
      destination: this.formatter.format(base + L.destinationByte),
      interfaceIndex: records[r + L.ifIndex] as number,
    };
    const ttl = records[r + L.ttl] as number;
    if (ttl >= 0) info.ttl = ttl;
    if ((flags & L.flagTimestamp) !== 0) info.timestamp = this.timestamps[i * STRIDE64 + TIMESTAMP64] as bigint;
    return info;
  }

  timestamp(i: number): bigint | undefined {
    const flags = this.records[this.check(i) * STRIDE32 + L.flags] as number;
    if ((flags & L.flagTimestamp) === 0) return undefined;
    return this.timestamps[i * STRIDE64 + TIMESTAMP64];
  }
}

/** The error of a source asked of a socket created with `sourceAddress: false`. */
export function noSourceAddress(what: string): Error {
  return mcastError(
    'ERR_MCAST_NO_SOURCE_ADDRESS',
    `${what} needs the datagrams' source address, and this socket was created with sourceAddress: false (the kernel reports none): create it without that option`,
  );
}
