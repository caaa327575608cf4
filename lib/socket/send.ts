/**
 * What the send methods check before the native call: the payloads (strings become UTF-8
 * bytes, nothing over the family's UDP limit) and the destination (with an IPv6 zone resolved
 * once per zone name and cached).
 */
import { MAX_PAYLOAD } from '../address';
import { invalidArgType, mcastError, outOfRange } from '../errors';
import { zoneIndex } from '../interfaces';
import { checkAddress, checkInteger, checkPort } from '../validate';
import type { Family, SendGather } from '../types';

/** One datagram's bytes: a string as UTF-8, a Uint8Array as it is. */
export function toBytes(name: string, data: unknown, family: Family): Uint8Array {
  let bytes: Uint8Array;
  if (typeof data === 'string') bytes = Buffer.from(data, 'utf8');
  else if (data instanceof Uint8Array) bytes = data;
  else throw invalidArgType(name, 'a Buffer, Uint8Array or string', data);
  if (bytes.length > MAX_PAYLOAD[family]) throw tooLarge(name, bytes.length, family);
  return bytes;
}

/** ERR_MCAST_MESSAGE_TOO_LARGE: a datagram of `size` bytes, over the family's largest UDP payload. */
function tooLarge(name: string, size: number, family: Family): Error {
  return Object.assign(
    outOfRange(name, `at most ${MAX_PAYLOAD[family]} bytes (the largest UDP datagram over IPv${family})`, size),
    { code: 'ERR_MCAST_MESSAGE_TOO_LARGE' },
  );
}

/**
 * sendBatch()'s list as bytes. The caller's own array when every item is already a Uint8Array
 * within the limit (the common case allocates nothing); a copy only when something converts.
 */
export function toByteList(datagrams: unknown, family: Family): readonly Uint8Array[] {
  if (!Array.isArray(datagrams)) throw invalidArgType('datagrams', 'an array of Buffer, Uint8Array or string', datagrams);
  if (datagrams.length === 0) {
    throw mcastError('ERR_INVALID_ARG_VALUE', 'The "datagrams" argument must hold at least one datagram. Received an empty array', 'type');
  }
  let list = datagrams as readonly Uint8Array[];
  const max = MAX_PAYLOAD[family];
  for (let i = 0; i < datagrams.length; i++) {
    const item: unknown = datagrams[i];
    if (!(item instanceof Uint8Array) || item.length > max) {
      // Convert (strings) or reject; only then does the list need a copy.
      if (list === datagrams) list = datagrams.slice() as Uint8Array[];
      (list as Uint8Array[])[i] = toBytes(`datagrams[${i}]`, item, family);
    }
  }
  return list;
}

/**
 * How many datagrams sendBatch(block, ..., segmentSize) sends: the block cut into datagrams
 * of `segmentSize` bytes, the last one shorter when the length is no multiple of it.
 */
export function blockDatagrams(block: Uint8Array, segmentSize: unknown, family: Family): number {
  const size = checkInteger('segmentSize', segmentSize, 1, MAX_PAYLOAD[family]);
  if (block.length === 0) {
    throw mcastError('ERR_INVALID_ARG_VALUE', 'The "block" argument must hold at least one datagram. Received an empty Uint8Array', 'type');
  }
  return Math.ceil(block.length / size);
}

/** Whether sendBatch()'s first argument is the gather form (an object with `offsets`, not a list). */
export function isGather(datagrams: unknown): datagrams is SendGather {
  return typeof datagrams === 'object' && datagrams !== null && !Array.isArray(datagrams) && 'offsets' in datagrams;
}

/**
 * How many datagrams sendBatch(gather, ...) sends, with the gather's arrays and count checked.
 * Each datagram's offset and length are checked by the binding, in its one loop over them
 * ({@link gatherDatagramError} then names the bad one).
 */
export function gatherCount(gather: SendGather): number {
  const { bytes, offsets, lengths, count } = gather;
  if (!(bytes instanceof Uint8Array)) throw invalidArgType('datagrams.bytes', 'a Buffer or Uint8Array', bytes);
  if (!(offsets instanceof Uint32Array)) throw invalidArgType('datagrams.offsets', 'a Uint32Array', offsets);
  if (!(lengths instanceof Uint32Array)) throw invalidArgType('datagrams.lengths', 'a Uint32Array', lengths);
  if (count === undefined && offsets.length !== lengths.length) {
    throw mcastError(
      'ERR_INVALID_ARG_VALUE',
      `The "datagrams.offsets" and "datagrams.lengths" properties must be of one length when no count is given. Received ${offsets.length} and ${lengths.length}`,
      'type',
    );
  }
  const most = Math.min(offsets.length, lengths.length);
  if (most === 0) {
    throw mcastError('ERR_INVALID_ARG_VALUE', 'The "datagrams.offsets" and "datagrams.lengths" properties must hold at least one datagram. Received an empty Uint32Array', 'type');
  }
  return count === undefined ? most : checkInteger('datagrams.count', count, 1, most);
}

/** The error for datagram `i` of a gather, which the binding refused: outside `bytes`, or too large. */
export function gatherDatagramError(gather: SendGather, i: number, family: Family): Error {
  const offset = gather.offsets[i] as number;
  const length = gather.lengths[i] as number;
  if (length > MAX_PAYLOAD[family]) return tooLarge(`datagrams.lengths[${i}]`, length, family);
  return outOfRange(
    `datagrams.offsets[${i}]`,
    `such that offset + length is at most the ${gather.bytes.length} bytes of datagrams.bytes`,
    `offset ${offset} + length ${length} = ${offset + length}`,
    String,
  );
}

/** A checked destination: numeric address, port and the IPv6 zone's interface index (or 0). */
export interface Destination {
  readonly address: string;
  readonly port: number;
  readonly scopeId: number;
}

/** Checks destinations for one socket, remembering each IPv6 zone's interface index. */
export class Destinations {
  readonly #zoneCache = new Map<string, number>();
  // The last destination checked: a sender sends to one destination over and over, and the
  // address check (a regular expression) costs more than the rest of a small sendBatch call.
  #lastAddress: unknown = undefined;
  #lastPort: unknown = undefined;
  #last: Destination | undefined = undefined;

  constructor(readonly family: Family) {}

  /** `address` (with an optional `%zone` for IPv6) and `port`, checked. */
  check(address: unknown, port: unknown): Destination {
    if (address === this.#lastAddress && port === this.#lastPort && this.#last !== undefined) return this.#last;
    const checked = this.#check(address, port);
    this.#lastAddress = address;
    this.#lastPort = port;
    this.#last = checked;
    return checked;
  }

  #check(address: unknown, port: unknown): Destination {
    let text = address;
    let scopeId = 0;
    if (this.family === 6 && typeof address === 'string' && address.includes('%')) {
      const at = address.indexOf('%');
      const zone = address.slice(at + 1);
      text = address.slice(0, at);
      let cached = this.#zoneCache.get(zone);
      if (cached === undefined) {
        cached = zoneIndex('address', zone);
        this.#zoneCache.set(zone, cached);
      }
      scopeId = cached;
    }
    return { address: checkAddress('address', text, this.family), port: checkPort('port', port, false), scopeId };
  }
}

/** The most bytes a socket's packing block grows to; a larger batch goes by the array path. */
const MAX_PACKED_BYTES = 4 << 20;
/** sendBatch() takes at most this many datagrams per call in the packed path (its lengths). */
const MAX_PACKED_COUNT = 1024;

/**
 * sendBatch()'s fast path: the datagrams copied back to back into one block of the socket's,
 * their lengths into a Uint32Array, so that the binding reads two typed arrays per batch.
 * Reading each array element through N-API (napi_get_element, napi_get_typedarray_info) cost
 * about 190 ns per datagram here, more than the kernel's own work for a UDP_SEGMENT send; one
 * TypedArray#set costs 40–90 ns (64–1316 B). The block is reused: nothing is allocated per call.
 */
export class SendPacker {
  /** The packed datagrams of the last pack() call (grown on demand, up to 4 MiB). */
  block: Uint8Array = new Uint8Array(0);
  /** The lengths of the last pack() call's datagrams. */
  readonly lengths = new Uint32Array(MAX_PACKED_COUNT);

  /**
   * Packs `datagrams` when every item is a Uint8Array within `max` bytes and they fit the
   * limits; returns false otherwise (having packed nothing usable), for the array path.
   */
  pack(datagrams: readonly unknown[], max: number): boolean {
    const n = datagrams.length;
    if (n > MAX_PACKED_COUNT) return false;
    let block = this.block;
    const lengths = this.lengths;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const item = datagrams[i];
      if (!(item instanceof Uint8Array)) return false;
      const length = item.length;
      if (length > max) return false;
      if (at + length > block.length) {
        if (at + length > MAX_PACKED_BYTES) return false;
        block = this.#grow(at + length, at);
      }
      block.set(item, at);
      lengths[i] = length;
      at += length;
    }
    return true;
  }

  #grow(needed: number, keep: number): Uint8Array {
    let size = Math.max(65536, this.block.length);
    while (size < needed) size *= 2;
    const grown = new Uint8Array(Math.min(size, MAX_PACKED_BYTES));
    grown.set(this.block.subarray(0, keep));
    this.block = grown;
    return grown;
  }
}
