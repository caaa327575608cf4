/**
 * MoldUDP64 packets, as a sender and a re-request server write them and read requests: the
 * downstream packet (session, sequence number of its first message, message count, then each
 * message as a u16 big-endian length and its bytes), the heartbeat (count 0), the end of session
 * (count 0xFFFF) and the request packet (session, first sequence number, count). The receiving
 * side (arbitration) parses downstream packets in native code; this file is for the tools that
 * make the stream (`mcast feed-send`, tests, the benchmark).
 *
 * Writers fill a caller's buffer and return the bytes written: nothing is allocated per packet.
 * Sequence numbers are JS numbers (0 to 2^53 − 1) or, to write any u64 (a malformed 2^64 − 1 in
 * a test), a bigint.
 */
import { invalidArgType, outOfRange } from '../errors';

/** Bytes of the downstream header: session (10), sequence number (8), message count (2). */
export const MOLD_HEADER_BYTES = 20;
/** Bytes of the session field: ASCII, space-padded. */
export const MOLD_SESSION_BYTES = 10;
/** Bytes of a request packet: session (10), sequence number (8), requested count (2). */
export const MOLD_REQUEST_BYTES = 20;
/** The message count of an end-of-session packet. */
export const MOLD_END_OF_SESSION = 0xffff;
/** Most messages one downstream packet can carry (0xFFFF means end of session). */
export const MOLD_MAX_COUNT = 0xfffe;

const TWO_32 = 2 ** 32;

/** A MoldUDP64 request: "send me `count` messages from `sequence` of `session`". */
export interface MoldRequest {
  /** The session, as 10 characters (trailing spaces kept). */
  session: string;
  /** First requested sequence number. */
  sequence: number;
  /** Messages requested. */
  count: number;
}

/**
 * The 10 session bytes of `session`: at most 10 printable ASCII characters, padded with spaces.
 * @throws ERR_INVALID_ARG_TYPE naming the session when it is longer or not printable ASCII
 */
export function sessionBytes(session: string): Buffer {
  if (typeof session !== 'string' || !/^[\x20-\x7e]{1,10}$/.test(session)) {
    throw invalidArgType('session', '1 to 10 printable ASCII characters (a MoldUDP64 session)', session);
  }
  return Buffer.from(session.padEnd(MOLD_SESSION_BYTES, ' '), 'latin1');
}

/** Writes an unsigned 64-bit big-endian number without allocating (a bigint only when given one). */
export function writeU64BE(target: Uint8Array, offset: number, value: number | bigint): void {
  const view = Buffer.isBuffer(target) ? target : Buffer.from(target.buffer, target.byteOffset, target.byteLength);
  if (typeof value === 'bigint') {
    view.writeBigUInt64BE(value, offset);
    return;
  }
  view.writeUInt32BE(Math.floor(value / TWO_32), offset);
  view.writeUInt32BE(value >>> 0, offset + 4);
}

/** Reads an unsigned 64-bit big-endian number; values past 2^53 − 1 come back as NaN. */
export function readU64BE(source: Buffer, offset: number): number {
  const value = source.readUInt32BE(offset) * TWO_32 + source.readUInt32BE(offset + 4);
  return Number.isSafeInteger(value) ? value : NaN;
}

/** Writes the 20-byte downstream header at `offset` of `target`. */
export function writeMoldHeader(target: Buffer, offset: number, session: Uint8Array, sequence: number | bigint, count: number): void {
  target.set(session.subarray(0, MOLD_SESSION_BYTES), offset);
  writeU64BE(target, offset + MOLD_SESSION_BYTES, sequence);
  target.writeUInt16BE(count, offset + 18);
}

/**
 * Writes a downstream packet carrying `messages` (the first numbered `sequence`) into `target`
 * and returns its length.
 * @throws ERR_OUT_OF_RANGE when they do not fit in `target` or there are more than 65534
 */
export function encodeMoldPacket(target: Buffer, session: Uint8Array, sequence: number | bigint, messages: readonly Uint8Array[]): number {
  if (messages.length > MOLD_MAX_COUNT) {
    throw outOfRange('messages.length', `at most ${MOLD_MAX_COUNT} (messages in one MoldUDP64 packet)`, messages.length);
  }
  let at = MOLD_HEADER_BYTES;
  for (const m of messages) {
    if (m.length > 0xffff || at + 2 + m.length > target.length) {
      throw outOfRange('message length', `what fits in the ${target.length}-byte packet buffer (at most 65535 per message)`, m.length);
    }
    target.writeUInt16BE(m.length, at);
    target.set(m, at + 2);
    at += 2 + m.length;
  }
  writeMoldHeader(target, 0, session, sequence, messages.length);
  return at;
}

/** Writes a heartbeat (count 0; `nextSequence` is the number the next message will have). Returns 20. */
export function encodeMoldHeartbeat(target: Buffer, session: Uint8Array, nextSequence: number | bigint): number {
  writeMoldHeader(target, 0, session, nextSequence, 0);
  return MOLD_HEADER_BYTES;
}

/** Writes an end-of-session packet (count 0xFFFF). Returns 20. */
export function encodeMoldEndOfSession(target: Buffer, session: Uint8Array, nextSequence: number | bigint): number {
  writeMoldHeader(target, 0, session, nextSequence, MOLD_END_OF_SESSION);
  return MOLD_HEADER_BYTES;
}

/** Writes a request packet for `count` messages from `sequence`. Returns 20. */
export function encodeMoldRequest(target: Buffer, session: Uint8Array, sequence: number, count: number): number {
  writeMoldHeader(target, 0, session, sequence, count);
  return MOLD_REQUEST_BYTES;
}

/**
 * The request in `data`, or null when it is not one: not 20 bytes, a count of 0 or 0xFFFF, or a
 * first number of 0 or past 2^53 − 1 (MoldUDP64 numbers start at 1).
 */
export function decodeMoldRequest(data: Buffer): MoldRequest | null {
  if (data.length !== MOLD_REQUEST_BYTES) return null;
  const sequence = readU64BE(data, MOLD_SESSION_BYTES);
  const count = data.readUInt16BE(18);
  if (!(sequence >= 1) || count === 0 || count === MOLD_END_OF_SESSION) return null;
  return { session: data.toString('latin1', 0, MOLD_SESSION_BYTES), sequence, count };
}

/** A downstream packet's header and where its messages are, from {@link readMoldPacket}. */
export interface MoldPacketView {
  /** The session, as 10 characters. */
  session: string;
  /** Sequence number of the first message (NaN past 2^53 − 1). */
  sequence: number;
  /** Message count (0 heartbeat, 0xFFFF end of session). */
  count: number;
  /** Start offset of each message's bytes (after its length), for `count` messages (none for 0xFFFF). */
  offsets: number[];
  /** Length of each message. */
  lengths: number[];
}

/**
 * Reads a downstream packet (for tools and tests: the feed parses in native code). Returns null
 * when it is malformed: shorter than its header, or a count or a message length past its end.
 */
export function readMoldPacket(data: Buffer): MoldPacketView | null {
  if (data.length < MOLD_HEADER_BYTES) return null;
  const count = data.readUInt16BE(18);
  const view: MoldPacketView = {
    session: data.toString('latin1', 0, MOLD_SESSION_BYTES),
    sequence: readU64BE(data, MOLD_SESSION_BYTES),
    count,
    offsets: [],
    lengths: [],
  };
  if (count === MOLD_END_OF_SESSION) return view;
  let at = MOLD_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + 2 > data.length) return null;
    const length = data.readUInt16BE(at);
    if (at + 2 + length > data.length) return null;
    view.offsets.push(at + 2);
    view.lengths.push(length);
    at += 2 + length;
  }
  return view;
}
