/**
 * Public types of feeds: A/B line arbitration of a sequence-numbered multicast stream
 * (market data sent twice, on line A and line B). {@link createFeed} joins every line on its own
 * interface, keeps the first copy of each sequence number (in native code: duplicates never cost
 * a JS call), delivers the items in sequence order, reports what is missing on every line as a
 * gap (after asking a MoldUDP64 re-request server, when one is given) and watches for lines that
 * went quiet.
 *
 * Sequence numbers are exact JS numbers: integers from 0 to 2^53 − 1
 * (Number.MAX_SAFE_INTEGER). A packet whose numbers go past that is counted as malformed.
 */
import type { InterfaceRef } from '../types';

/**
 * Where the sequence number sits in each datagram.
 * - `'moldudp64'`: Nasdaq's MoldUDP64. A 20-byte header (session: 10 ASCII bytes; the sequence
 *   number of the first message: u64 big-endian; the message count: u16 big-endian) and then
 *   `count` messages, each a u16 big-endian length and that many bytes. Arbitration and delivery
 *   are per message: the items are the messages. Count 0 is a heartbeat (keeps the line alive),
 *   count 0xFFFF is the end of the session (a `'reset'`).
 * - A {@link FixedSequence}: one sequence number per datagram, in a fixed field; the item is the
 *   whole datagram.
 */
export type SequenceFormat = 'moldudp64' | FixedSequence;

/** A sequence number in a fixed field of each datagram (one item per datagram). */
export interface FixedSequence {
  /** Byte offset of the field in the datagram (0 to 65527). */
  offset: number;
  /** Field size in bytes: 4 (u32) or 8 (u64). */
  size: 4 | 8;
  /** Byte order of the field. */
  endian: 'big' | 'little';
}

/** One line of a feed: a group on one interface, optionally source-specific. */
export interface FeedLine {
  /** The multicast group (IPv4 or IPv6; every line of a feed has the same family). */
  group: string;
  /** UDP port of the group. */
  port: number;
  /** The interface to join on: a name, an index or one of its addresses. Required: a feed handler must know its wire. */
  interface: InterfaceRef;
  /** Source-specific join (SSM): only this source is received on this line. */
  source?: string;
  /** A label for stats and events (default `'A'`, `'B'`, `'C'`, ... by position). */
  name?: string;
}

/** Retransmission (gap fill) from a MoldUDP64 re-request server. `sequence: 'moldudp64'` only. */
export interface RetransmitOptions {
  /** Unicast address of the re-request server. */
  address: string;
  /** UDP port of the re-request server. */
  port: number;
  /**
   * Interface to send requests from: the feed's request socket binds to its address (the one
   * named, or its first of the lines' family), so requests leave from it and answers come to it.
   * Default: the route's.
   */
  interface?: InterfaceRef;
  /** ms to wait for an answer before asking again (default 20). */
  timeout?: number;
  /** Requests per missing range before it is given up as a `'gap'` (default 3). */
  retries?: number;
  /** At most this many request packets per second, across all ranges (default 1000). */
  maxRequestsPerSecond?: number;
}

/** Options of {@link createFeed}. Every option is validated before any socket is opened. */
export interface FeedOptions {
  /** The lines, 1 to 8; usually two (A and B). */
  lines: FeedLine[];
  /** Where the sequence number is. */
  sequence: SequenceFormat;
  /**
   * ms to wait for a missing number to arrive on another line (or by retransmission) before it
   * is declared a gap and the items behind it are delivered (default 5; 0 = declare at once).
   */
  gapTimeout?: number;
  /** ms of silence (no datagram, heartbeats included) before a line is reported `'stale'` (default 1000). */
  staleAfter?: number;
  /** A MoldUDP64 re-request server: gaps are first requested from it. */
  retransmit?: RetransmitOptions;
  /**
   * Items that may wait for a missing number, across the feed (default 65536). At the bound the
   * oldest missing range is declared a gap at once (as if its gapTimeout had passed) and the
   * items behind it are delivered, so memory stays bounded and delivery never stops. Waiting
   * items are kept in a ring by number, which grows as items wait further ahead, up to
   * maxPending slots (rounded up to a power of two, 1024 to 65536), and is kept for reuse: 48 bytes a
   * slot, plus up to 128 bytes of item data a slot keeps after delivery (larger items' data is
   * freed once they are delivered). Items further ahead than the ring wait in an ordered map.
   */
  maxPending?: number;
  /**
   * The first sequence number expected. Default: the lowest number of the first packet of the
   * session; with `moldudp64`, a session starts at 1, so numbers before the first seen are gaps
   * when `startSequence: 1` is given.
   */
  startSequence?: number;
  /** SO_TIMESTAMPNS on every line: item timestamps and the line-lag histograms in stats() (default false). */
  timestamps?: boolean;
  /**
   * The kernel duplicate filter (default 'auto'): an eBPF socket filter on every line socket that
   * drops a copy of an item another line's socket has already accepted, before it is queued, so
   * the second copy never reaches this process. It drops only an exact duplicate (MoldUDP64:
   * same session, first number, count and length, a well-formed packet; a fixed field: same
   * number and length) of a copy accepted within `kernelFilterWindow` ms, and never across a
   * line whose numbers went back or whose session changed; the feed counts each dropped copy as
   * a duplicate of its line (stats: `filtered`). Loading needs CAP_BPF (or root).
   * - 'auto': used when it loads; otherwise the feed works as without it and
   *   `stats().kernelFilter.reason` says why. Off with `timestamps: true` (the lag histograms
   *   need every copy).
   * - true: required; createFeed throws `ERR_MCAST_KERNEL_FILTER` when it cannot be loaded.
   * - false: off.
   */
  kernelFilter?: 'auto' | boolean;
  /** ms during which an accepted copy's identity makes a later copy a duplicate for the kernel filter (default: gapTimeout, at least 1). */
  kernelFilterWindow?: number;
  /** Datagrams per recvmmsg call on each line (default 64). */
  batchSize?: number;
  /** Bytes kept per datagram (default 2048). A truncated datagram is counted malformed, never half-delivered. */
  maxMessageSize?: number;
  /** SO_RCVBUF of each line, in bytes. */
  recvBufferSize?: number;
}

/**
 * Unique items in sequence order, handed to 'batch' listeners. Zero copy, like the socket's
 * RecvBatch: **valid during the callback only**. Copy what you keep.
 */
export interface FeedBatch {
  /** Items in this batch. */
  readonly count: number;
  /** Sequence number of item i. */
  sequence(i: number): number;
  /** 0-based index of the line whose copy of item i was delivered, or -1 when it came by retransmission. */
  line(i: number): number;
  /** A view (not a copy) of item i: the whole datagram (fixed field) or the message without its length prefix (MoldUDP64). */
  data(i: number): Buffer;
  /** Kernel receive time of item i's delivered copy in ns, or undefined without `timestamps: true`. */
  timestamp(i: number): bigint | undefined;
}

/** What the 'message' event tells about an item. */
export interface FeedMessageInfo {
  /** Its sequence number. */
  sequence: number;
  /** 0-based index of the line whose copy was delivered, or -1 when it came by retransmission. */
  line: number;
  /** Kernel receive time in ns, with `timestamps: true`. */
  timestamp?: bigint;
  /** MoldUDP64 session (10 characters), with `sequence: 'moldudp64'`. */
  session?: string;
}

/** A range of sequence numbers that no line delivered and retransmission did not recover. */
export interface FeedGap {
  /** First missing number. */
  from: number;
  /** Last missing number (inclusive). */
  to: number;
  /** MoldUDP64 session, with `sequence: 'moldudp64'`. */
  session?: string;
}

/** A line that received nothing (not even a heartbeat) for `staleAfter` ms, or came back. */
export interface FeedLineEvent {
  /** 0-based index of the line. */
  line: number;
  /** Its name. */
  name: string;
}

/** A sequence restart: a new MoldUDP64 session, an end of session, or numbers that went back (sender restart). */
export interface FeedReset extends FeedLineEvent {
  /** The new session (MoldUDP64), or undefined. */
  session?: string;
  /** The session that ended, or undefined. */
  previousSession?: string;
  /** `'end-of-session'` (MoldUDP64 count 0xFFFF), `'new-session'`, or `'restart'` (numbers went back). */
  reason: 'end-of-session' | 'new-session' | 'restart';
}

/** Line lag, from kernel timestamps: how far this line's copies arrive behind the first copy. */
export interface FeedLag {
  /** Copies measured (items this line delivered after another line). */
  samples: number;
  /** Median lag in ns. */
  p50: number;
  /** 99th percentile in ns. */
  p99: number;
  /** Largest lag in ns. */
  max: number;
}

/** Malformed datagrams of one line, by kind. */
export interface FeedMalformedCounts {
  /** Shorter than the MoldUDP64 header (20 bytes), or than the fixed field's end. */
  shortHeader: number;
  /** The datagram ends before the header's message count is reached. */
  countPastEnd: number;
  /** A message's length prefix goes past the end of the datagram. */
  lengthPastEnd: number;
  /** A sequence number past 2^53 − 1 (or a first number + count past 2^64 − 1). */
  sequenceTooLarge: number;
  /** Cut by the kernel at maxMessageSize (never parsed, never half-delivered). */
  truncated: number;
}

/** Counters of one line. */
export interface FeedLineStats {
  /** Its name. */
  name: string;
  /** Datagrams received (heartbeats included). */
  packets: number;
  /** Items received (messages with MoldUDP64, datagrams with a fixed field). */
  received: number;
  /** Items whose first copy came on this line (and were delivered from it). */
  wins: number;
  /** Items already delivered, or already waiting, from another line (dropped in native code). */
  duplicates: number;
  /** Datagrams that could not be parsed (short header, a count or length past the end, a number past 2^53 − 1, truncated). */
  malformed: number;
  /** `malformed`, by kind. */
  malformedBy: FeedMalformedCounts;
  /** The kernel's drops on this line's socket (SO_MEMINFO), not counting the kernel filter's. */
  kernelDrops: number;
  /** Datagrams the kernel filter dropped as duplicates (counted in `packets`; their items in `received` and `duplicates`). */
  filtered: number;
  /** True while the line is stale. */
  stale: boolean;
  /** With `timestamps: true`: the lag behind the first copy of each item. */
  lag?: FeedLag;
}

/** Counters of a feed, from {@link Feed.stats}. */
export interface FeedStats {
  /** Per line, in the order of `lines`. */
  lines: FeedLineStats[];
  /** Items delivered (each sequence number once). */
  delivered: number;
  /** Gap ranges declared. */
  gaps: number;
  /** Sequence numbers in those ranges. */
  gapItems: number;
  /** Items that one line lost (a hole in its own numbers) and another line supplied. */
  recoveredFromLine: number;
  /** Items recovered by retransmission. */
  recoveredByRetransmit: number;
  /** Retransmission request packets sent. */
  retransmitRequests: number;
  /** Items waiting now for a missing number. */
  pending: number;
  /** Most items that waited at once. */
  pendingHigh: number;
  /** Ranges declared gaps early because `maxPending` was reached. */
  overflows: number;
  /** The next sequence number the feed will deliver. */
  nextSequence: number;
  /** The current MoldUDP64 session, with `sequence: 'moldudp64'`. */
  session?: string;
  /** The kernel duplicate filter (see {@link FeedOptions.kernelFilter}). */
  kernelFilter: FeedKernelFilterStats;
}

/** The state of a feed's kernel duplicate filter. */
export interface FeedKernelFilterStats {
  /** True when the filter is attached to every line socket. */
  active: boolean;
  /** Why it is not active (off, refused: EPERM needs CAP_BPF, ...). */
  reason?: string;
  /** Datagrams passed because another CPU held the filter's lock (the arbiter then decides). */
  contended: number;
}
