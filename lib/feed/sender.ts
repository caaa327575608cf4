/**
 * A sender of one numbered stream on several lines, for tests, demos and the benchmark (what
 * `mcast feed-send` runs): MoldUDP64 packets of N messages, or datagrams with a plain counter in a
 * fixed field. Every line carries the same items except the numbers chosen to be dropped on it.
 * Items are made from their number alone (a message or datagram holds its number), so two
 * senders on two hosts send the same stream. Bursts of equal-size packets leave through
 * sendBatch, one UDP_SEGMENT message each where the kernel has GSO.
 *
 * With `retain`, the sender keeps the last `retain` MoldUDP64 messages it sent (a ring) and
 * {@link FeedSender.serve} answers MoldUDP64 requests for them by unicast: a re-request server.
 */
import { createSocket, type Family, type InterfaceRef, type MessageInfo, type Socket, type SocketOptions } from '../index';
import { outOfRange } from '../errors';
import type { SequenceFormat } from './types';
import {
  decodeMoldRequest,
  encodeMoldEndOfSession,
  encodeMoldHeartbeat,
  MOLD_HEADER_BYTES,
  MOLD_MAX_COUNT,
  MOLD_SESSION_BYTES,
  sessionBytes,
  writeMoldHeader,
  writeU64BE,
} from './moldudp64-packets';

/** Packets per sendBatch call: a burst (at most 64 KiB of equal-size packets is one GSO message). */
const BURST_PACKETS = 64;
/** The largest answer of the re-request server: fits an Ethernet MTU without fragments. */
const ANSWER_BYTES = 1400;
const FILLER = 0x2e; // '.'

/** One line the sender sends on. */
export interface SenderLine {
  /** Multicast group. */
  group: string;
  /** UDP port. */
  port: number;
  /** 4 or 6 (the group's family). */
  family: Family;
  /** Outgoing interface (IP_MULTICAST_IF); default: the route's. */
  interface?: InterfaceRef;
  /** Local address to send from (bind), e.g. the source a source-specific receiver expects. */
  source?: string;
}

/** Options of {@link FeedSender}. */
export interface FeedSenderOptions {
  /** The lines; each gets its own socket. */
  lines: readonly SenderLine[];
  /** MoldUDP64, or a fixed field holding the counter. */
  sequence: SequenceFormat;
  /** MoldUDP64: messages per packet, 1 to 65534 (default 1). */
  messagesPerPacket?: number;
  /** MoldUDP64: bytes of each message, 8 to 65535 (default 8: the message is its number, u64 BE). Fixed field: bytes of each datagram (default 64). */
  size?: number;
  /** MoldUDP64 session (default 'SESSION001'). */
  session?: string;
  /** Per line, the numbers not to send on it (inclusive ranges). */
  drops?: ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
  /** IP TTL / hop limit (default 1). */
  ttl?: number;
  /** IP_MULTICAST_LOOP (default true). */
  loopback?: boolean;
  /** UDP segmentation offload for bursts (default true). */
  gso?: boolean;
  /** MoldUDP64 messages kept for re-requests (default 0: none). */
  retain?: number;
  /** SO_SNDBUF of each line's socket. */
  sendBufferSize?: number;
}

/** Counters of a {@link FeedSender}. */
export interface FeedSenderStats {
  /** Items (messages or datagrams) sent, per line. */
  items: number[];
  /** Datagrams sent, per line (heartbeats and ends of session included). */
  packets: number[];
  /** Items left out on purpose (drops), per line. */
  dropped: number[];
  /** Requests the re-request server received. */
  requests: number;
  /** Requests it answered (with at least one message). */
  answered: number;
  /** Messages it sent again. */
  resent: number;
  /** Requests it could not answer: another session, numbers no longer (or not yet) kept, or answering off. */
  unanswered: number;
}

/** Inclusive ranges, sorted and merged, asked "is n in one" in increasing order of n. */
class RangeList {
  readonly #from: number[] = [];
  readonly #to: number[] = [];
  constructor(ranges: ReadonlyArray<readonly [number, number]>) {
    const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
    for (const [from, to] of sorted) {
      const last = this.#to.length - 1;
      if (last >= 0 && from <= this.#to[last]! + 1) this.#to[last] = Math.max(this.#to[last]!, to);
      else {
        this.#from.push(from);
        this.#to.push(to);
      }
    }
  }

  /** Index of the first range that ends at or after n. */
  #first(n: number): number {
    let lo = 0;
    let hi = this.#to.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#to[mid]! < n) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** True when some number of [from, to] is in a range. */
  intersects(from: number, to: number): boolean {
    const i = this.#first(from);
    return i < this.#from.length && this.#from[i]! <= to;
  }

  has(n: number): boolean {
    return this.intersects(n, n);
  }
}

/** Writes the payload of item `n` (its number as u64 BE, then filler) into `target`. */
function fillMessage(target: Buffer, at: number, size: number, n: number): void {
  writeU64BE(target, at, n);
  if (size > 8) target.fill(FILLER, at + 8, at + size);
}

/** Sends one numbered stream on every line; see the file comment. */
export class FeedSender {
  readonly #lines: readonly SenderLine[];
  readonly #sockets: Socket[];
  readonly #format: SequenceFormat;
  readonly #perPacket: number;
  readonly #size: number;
  readonly #packetBytes: number;
  readonly #drops: RangeList[];
  #session: Buffer;
  /** Packets of the current burst, each a full-size view of the shared slab. */
  readonly #slab: Buffer;
  readonly #views: Buffer[];
  /** Where packets split by a drop are written, per burst. */
  readonly #spare: Buffer;
  readonly #control = Buffer.alloc(MOLD_HEADER_BYTES);
  readonly #stats: FeedSenderStats;
  // The re-request ring: message bytes by slot, and which number each slot holds.
  readonly #retain: number;
  readonly #ringBytes: Buffer;
  readonly #ringSeq: Float64Array;
  #ringSession: Buffer;
  #server: Socket | undefined;
  #answer = true;
  /** The number the next item will have (for heartbeats). */
  nextSequence = 1;

  constructor(options: FeedSenderOptions) {
    const o = options;
    if (o.lines.length === 0) throw outOfRange('lines.length', 'at least 1', 0);
    this.#lines = o.lines;
    this.#format = o.sequence;
    const mold = o.sequence === 'moldudp64';
    this.#perPacket = mold ? (o.messagesPerPacket ?? 1) : 1;
    this.#size = o.size ?? (mold ? 8 : 64);
    if (mold) {
      if (!Number.isInteger(this.#perPacket) || this.#perPacket < 1 || this.#perPacket > MOLD_MAX_COUNT) {
        throw outOfRange('messagesPerPacket', `an integer from 1 to ${MOLD_MAX_COUNT}`, this.#perPacket);
      }
      if (!Number.isInteger(this.#size) || this.#size < 8 || this.#size > 0xffff) throw outOfRange('size', 'an integer from 8 to 65535 (message bytes)', this.#size);
      this.#packetBytes = MOLD_HEADER_BYTES + this.#perPacket * (2 + this.#size);
    } else {
      const fixed = o.sequence as Exclude<SequenceFormat, 'moldudp64'>;
      if (!Number.isInteger(this.#size) || this.#size < fixed.offset + fixed.size) {
        throw outOfRange('size', `at least ${fixed.offset + fixed.size} bytes (the counter's offset + size)`, this.#size);
      }
      this.#packetBytes = this.#size;
    }
    const max = o.lines[0]!.family === 4 ? 65507 : 65527;
    if (this.#packetBytes > max) throw outOfRange('packet size', `at most ${max} bytes (messagesPerPacket × (2 + size) + 20)`, this.#packetBytes);
    this.#drops = o.lines.map((_, i) => new RangeList(o.drops?.[i] ?? []));
    this.#session = sessionBytes(o.session ?? 'SESSION001');
    this.#ringSession = this.#session;
    this.#slab = Buffer.alloc(BURST_PACKETS * this.#packetBytes);
    this.#views = Array.from({ length: BURST_PACKETS }, (_, i) => this.#slab.subarray(i * this.#packetBytes, (i + 1) * this.#packetBytes));
    // A packet split by drops into k runs needs k headers: at most one more header per dropped
    // number, so twice the slab is always enough.
    this.#spare = Buffer.alloc(2 * BURST_PACKETS * (this.#packetBytes + MOLD_HEADER_BYTES));
    this.#retain = mold ? (o.retain ?? 0) : 0;
    this.#ringBytes = Buffer.alloc(this.#retain * this.#size);
    this.#ringSeq = new Float64Array(this.#retain).fill(-1);
    this.#stats = {
      items: o.lines.map(() => 0),
      packets: o.lines.map(() => 0),
      dropped: o.lines.map(() => 0),
      requests: 0,
      answered: 0,
      resent: 0,
      unanswered: 0,
    };
    this.#sockets = [];
    try {
      for (const line of o.lines) {
        const so: SocketOptions = { family: line.family, ttl: o.ttl ?? 1, loopback: o.loopback ?? true, gso: o.gso ?? true };
        if (line.interface !== undefined) so.interface = line.interface;
        if (line.source !== undefined) so.address = line.source;
        if (o.sendBufferSize !== undefined) so.sendBufferSize = o.sendBufferSize;
        this.#sockets.push(createSocket(so));
      }
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Items per packet (1 with a fixed field). */
  get itemsPerPacket(): number {
    return this.#perPacket;
  }

  /** The current MoldUDP64 session. */
  get session(): string {
    return this.#session.toString('latin1');
  }

  /** Copies of the counters. */
  stats(): FeedSenderStats {
    const s = this.#stats;
    return { ...s, items: [...s.items], packets: [...s.packets], dropped: [...s.dropped] };
  }

  /** Writes the packet of items [first, first + n) into `target` at `at`; returns its length. */
  #encode(target: Buffer, at: number, first: number, n: number): number {
    if (this.#format === 'moldudp64') {
      writeMoldHeader(target, at, this.#session, first, n);
      let p = at + MOLD_HEADER_BYTES;
      for (let k = 0; k < n; k++) {
        target.writeUInt16BE(this.#size, p);
        fillMessage(target, p + 2, this.#size, first + k);
        this.#keep(first + k, target, p + 2);
        p += 2 + this.#size;
      }
      return p - at;
    }
    const f = this.#format;
    target.fill(FILLER, at, at + this.#size);
    const o = at + f.offset;
    if (f.size === 4) {
      if (f.endian === 'big') target.writeUInt32BE(first >>> 0, o);
      else target.writeUInt32LE(first >>> 0, o);
    } else if (f.endian === 'big') writeU64BE(target, o, first);
    else {
      target.writeUInt32LE(first >>> 0, o);
      target.writeUInt32LE(Math.floor(first / 2 ** 32), o + 4);
    }
    return this.#size;
  }

  /** Keeps message `n` for re-requests (the ring overwrites the oldest). */
  #keep(n: number, source: Buffer, at: number): void {
    if (this.#retain === 0) return;
    const slot = n % this.#retain;
    if (this.#ringSeq[slot] === n && this.#ringSession === this.#session) return; // the same message, on another line
    this.#ringSeq[slot] = n;
    this.#ringSession = this.#session;
    source.copy(this.#ringBytes, slot * this.#size, at, at + this.#size);
  }

  /**
   * Sends items [first, first + count) on every line (minus each line's drops), in bursts of
   * `burstPackets` packets (1 to 64, default 64). Resolves when the kernel has taken them all.
   * `pace(items)` is awaited before each burst with the number of items sent so far (rate
   * limiting: a paced sender keeps bursts small, so that a slow rate is not a few big bursts).
   */
  async send(first: number, count: number, pace?: (itemsSent: number) => Promise<void>, burstPackets = BURST_PACKETS): Promise<void> {
    const burst = Math.max(1, Math.min(BURST_PACKETS, Math.floor(burstPackets)));
    const burstItems = burst * this.#perPacket;
    for (let done = 0; done < count; done += burstItems) {
      if (pace !== undefined) await pace(done);
      const start = first + done;
      const items = Math.min(burstItems, count - done);
      const packets = Math.ceil(items / this.#perPacket);
      let shortened = -1; // the last packet of a run may hold fewer items
      for (let p = 0; p < packets; p++) {
        const n = Math.min(this.#perPacket, items - p * this.#perPacket);
        const length = this.#encode(this.#slab, p * this.#packetBytes, start + p * this.#perPacket, n);
        if (length !== this.#packetBytes) {
          this.#views[p] = this.#slab.subarray(p * this.#packetBytes, p * this.#packetBytes + length);
          shortened = p;
        }
      }
      await Promise.all(this.#lines.map((_, line) => this.#sendBurst(line, start, items, packets)));
      if (shortened >= 0) this.#views[shortened] = this.#slab.subarray(shortened * this.#packetBytes, (shortened + 1) * this.#packetBytes);
      this.nextSequence = start + items;
    }
  }

  async #sendBurst(line: number, start: number, items: number, packets: number): Promise<void> {
    const drops = this.#drops[line]!;
    const { group, port } = this.#lines[line]!;
    const socket = this.#sockets[line]!;
    let list: Buffer[] = packets === BURST_PACKETS ? this.#views : this.#views.slice(0, packets);
    let sentItems = items;
    if (drops.intersects(start, start + items - 1)) {
      // Only this line's bursts with drops are rebuilt: each packet without its dropped numbers,
      // split into runs (MoldUDP64: one packet per run of kept messages).
      list = [];
      let spareAt = 0;
      for (let p = 0; p < packets; p++) {
        const from = start + p * this.#perPacket;
        const to = Math.min(from + this.#perPacket, start + items) - 1;
        if (!drops.intersects(from, to)) {
          list.push(this.#views[p]!);
          continue;
        }
        let run = from;
        for (let n = from; n <= to + 1; n++) {
          if (n <= to && !drops.has(n)) continue;
          if (n > run) {
            const length = this.#encode(this.#spare, spareAt, run, n - run);
            list.push(this.#spare.subarray(spareAt, spareAt + length));
            spareAt += length;
          }
          if (n <= to) {
            sentItems--;
            this.#stats.dropped[line]! += 1;
          }
          run = n + 1;
        }
      }
    }
    if (list.length > 0) await socket.sendAll(list, group, port);
    this.#stats.items[line]! += sentItems;
    this.#stats.packets[line]! += list.length;
  }

  #control20(write: (target: Buffer) => number): void {
    const length = write(this.#control);
    for (let line = 0; line < this.#lines.length; line++) {
      const { group, port } = this.#lines[line]!;
      // A control packet that meets a full send queue is simply not sent: the next one follows.
      if (this.#sockets[line]!.send(this.#control.subarray(0, length), group, port)) this.#stats.packets[line]! += 1;
    }
  }

  /** Sends a MoldUDP64 heartbeat (count 0, the next number) on every line. */
  heartbeat(): void {
    this.#control20((t) => encodeMoldHeartbeat(t, this.#session, this.nextSequence));
  }

  /** Sends a MoldUDP64 end of session (count 0xFFFF) on every line. */
  endSession(): void {
    this.#control20((t) => encodeMoldEndOfSession(t, this.#session, this.nextSequence));
  }

  /** Starts MoldUDP64 session `session`: numbering starts again at 1. */
  newSession(session: string): void {
    this.#session = sessionBytes(session);
    this.nextSequence = 1;
  }

  /**
   * The re-request server: answers MoldUDP64 requests that reach `port` (unicast, on `address`,
   * default every address) with the kept messages, as many as fit in one 1400-byte packet from
   * the requested number on. With `answer: false` it counts requests and never answers (to test
   * a receiver's timeout). Returns the port bound.
   */
  serve(port: number, options: { address?: string; answer?: boolean } = {}): number {
    if (this.#format !== 'moldudp64') throw outOfRange('sequence', "'moldudp64' for a re-request server", this.#format);
    const family = this.#lines[0]!.family;
    const server = createSocket({ family, port, ...(options.address !== undefined ? { address: options.address } : {}) });
    this.#server = server;
    this.#answer = options.answer ?? true;
    const answer = Buffer.alloc(ANSWER_BYTES);
    server.on('message', (data: Buffer, info: MessageInfo) => {
      this.#stats.requests++;
      const length = this.#answerTo(data, answer);
      if (length === 0) {
        this.#stats.unanswered++;
        return;
      }
      this.#stats.answered++;
      server.send(answer.subarray(0, length), info.address, info.port);
    });
    return server.address().port;
  }

  /** Allows or stops the server's answers. */
  setAnswering(on: boolean): void {
    this.#answer = on;
  }

  /** Writes the answer to request `data` into `target`; 0 when there is none to send. */
  #answerTo(data: Buffer, target: Buffer): number {
    const request = decodeMoldRequest(data);
    if (request === null || !this.#answer || this.#retain === 0) return 0;
    if (data.compare(this.#ringSession, 0, MOLD_SESSION_BYTES, 0, MOLD_SESSION_BYTES) !== 0) return 0;
    const fit = Math.floor((target.length - MOLD_HEADER_BYTES) / (2 + this.#size));
    const wanted = Math.min(request.count, fit);
    let n = 0;
    let p = MOLD_HEADER_BYTES;
    for (; n < wanted; n++) {
      const seq = request.sequence + n;
      const slot = seq % this.#retain;
      if (this.#ringSeq[slot] !== seq) break;
      target.writeUInt16BE(this.#size, p);
      this.#ringBytes.copy(target, p + 2, slot * this.#size, (slot + 1) * this.#size);
      p += 2 + this.#size;
    }
    if (n === 0) return 0;
    writeMoldHeader(target, 0, this.#ringSession, request.sequence, n);
    this.#stats.resent += n;
    return p;
  }

  /** Closes every socket (the lines' and the server's). Idempotent. */
  close(): void {
    for (const s of this.#sockets) s.close();
    this.#server?.close();
  }
}
