/**
 * Feeds: A/B line arbitration of a sequence-numbered multicast stream (see ./types.ts). The
 * arbitration runs in native code (native/feed_arbiter.h), fed by the line sockets' own drains:
 * duplicates never cost a JS call, and JS is called once per drain with the unique items in
 * order.
 *
 * Timers are JS timers, one per feed, armed to the arbiter's next deadline (a gap timeout, a
 * retransmission timeout, a line going stale): ref()/unref() then work as for any Node handle,
 * and a timer never runs native code on a closed feed.
 */
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { binding, type NativeFeed } from '../binding';
import { mcastError } from '../errors';
import { createSocket, type Socket } from '../socket';
import { FeedBatchView } from './batch';
import { LagRecorder } from './lag';
import { resolveFeedOptions, type ResolvedFeedOptions } from './options';
import type { FeedBatch, FeedGap, FeedKernelFilterStats, FeedLineEvent, FeedLineStats, FeedMessageInfo, FeedOptions, FeedReset, FeedStats } from './types';

export type * from './types';

/** Items per native flush, at most (a flush is one JS call). */
const ITEM_CAPACITY = 4096;
const EVENT_CAPACITY = 256;
const REQUEST_CAPACITY = 256;
const LAG_CAPACITY = 4096;
const EVENT_FIELDS = 4;
const SESSION_BYTES = 10;
const LINE_STATS_FIELDS = 13;
const FEED_STATS_FIELDS = 13;
const RESET_REASONS = ['end-of-session', 'new-session', 'restart'] as const;

function sessionText(bytes: Uint8Array, offset: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, SESSION_BYTES).toString('latin1');
}

/** The config Float64Array of native/feed_wrap.cc (ConfigIndex). */
function nativeConfig(o: ResolvedFeedOptions): Float64Array {
  const fixed = o.sequence === 'moldudp64' ? undefined : o.sequence;
  const r = o.retransmit;
  return Float64Array.from([
    o.lines.length,
    fixed === undefined ? 1 : 0,
    fixed?.offset ?? 0,
    fixed?.size ?? 8,
    fixed === undefined || fixed.endian === 'big' ? 1 : 0,
    o.gapTimeout,
    o.staleAfter,
    o.maxPending,
    o.startSequence === undefined ? 0 : 1,
    o.startSequence ?? 0,
    r === undefined ? 0 : 1,
    r?.timeout ?? 20,
    r?.retries ?? 0,
    r?.maxRequestsPerSecond ?? 1000,
    // The kernel filter: 'auto' is off with timestamps (lag needs every copy).
    o.kernelFilter === false || (o.kernelFilter === 'auto' && o.timestamps) ? 0 : o.kernelFilter === true ? 2 : 1,
    o.kernelFilterWindow,
    o.maxMessageSize,
    o.timestamps ? 1 : 0,
  ]);
}

/**
 * A feed: the lines of one sequence-numbered stream, arbitrated. Create it with
 * {@link createFeed}. Events:
 * - `'batch'` (batch: {@link FeedBatch}): unique items in sequence order, zero copy, valid
 *   during the callback only.
 * - `'message'` (data: Buffer, info: {@link FeedMessageInfo}): the same items one by one (the
 *   data is a copy, yours to keep).
 * - `'gap'` ({@link FeedGap}): numbers missing on every line and not recovered in time.
 * - `'stale'` / `'resume'` ({@link FeedLineEvent}): a line went quiet for `staleAfter` ms / came back.
 * - `'reset'` ({@link FeedReset}): end of session, new session, or the numbers went back.
 * - `'error'` (Error): a receive error on a line socket (the feed goes on).
 * - `'close'`: after close().
 */
export class Feed extends EventEmitter {
  /** The line names, in the order of `lines`. */
  readonly lineNames: readonly string[];
  readonly #options: ResolvedFeedOptions;
  readonly #native: NativeFeed;
  readonly #sockets: Socket[] = [];
  #retransmitSocket: Socket | undefined;
  readonly #batch: FeedBatchView;
  readonly #starts: Uint32Array;
  readonly #lines: Uint8Array;
  readonly #stamps: BigInt64Array;
  readonly #events: Float64Array;
  readonly #eventSessions: Uint8Array;
  readonly #requests: Float64Array;
  readonly #requestSessions: Uint8Array;
  readonly #lags: Float64Array;
  readonly #lag: LagRecorder | undefined;
  readonly #stats: Float64Array;
  #timer: NodeJS.Timeout | undefined;
  #timerDue = Infinity;
  #refed = true;
  #closed = false;
  #session: string | undefined;

  /** Use {@link createFeed}. */
  constructor(options: FeedOptions) {
    super();
    const o = resolveFeedOptions(options);
    this.#options = o;
    this.lineNames = o.lines.map((line) => line.name);
    const dataBytes = Math.max(1 << 20, 4 * o.maxMessageSize);
    const data = new ArrayBuffer(dataBytes);
    // The item table (native/feed_wrap.h): each item's start in `data` (one more: where the
    // next would start), its line; its number is the flush's first + its index.
    this.#starts = new Uint32Array(ITEM_CAPACITY + 1);
    this.#lines = new Uint8Array(ITEM_CAPACITY);
    this.#stamps = new BigInt64Array(ITEM_CAPACITY);
    this.#events = new Float64Array(EVENT_CAPACITY * EVENT_FIELDS);
    this.#eventSessions = new Uint8Array(EVENT_CAPACITY * 2 * SESSION_BYTES);
    this.#requests = new Float64Array(REQUEST_CAPACITY * 2);
    this.#requestSessions = new Uint8Array(REQUEST_CAPACITY * SESSION_BYTES);
    this.#lags = new Float64Array(LAG_CAPACITY * 2);
    this.#stats = new Float64Array(FEED_STATS_FIELDS + LINE_STATS_FIELDS * o.lines.length);
    this.#batch = new FeedBatchView(data, this.#starts, this.#lines, this.#stamps, o.timestamps);
    this.#lag = o.timestamps ? new LagRecorder(o.lines.length) : undefined;
    this.#native = new binding.Feed(
      nativeConfig(o),
      (items, first, events, requests, lags, nextDelay) => this.#onFlush(items, first, events, requests, lags, nextDelay),
      data,
      this.#starts,
      this.#lines,
      this.#stamps,
      this.#events,
      this.#eventSessions,
      this.#requests,
      this.#requestSessions,
      this.#lags,
    );
    try {
      o.lines.forEach((line, i) => {
        const socket = createSocket({
          family: o.family,
          port: line.port,
          // IPv4: bound to the group, so that nothing else sent to the port reaches the line.
          ...(o.family === 4 && { address: line.group }),
          timestamps: o.timestamps,
          maxMessageSize: o.maxMessageSize,
          ...(o.batchSize !== undefined && { batchSize: o.batchSize }),
          ...(o.recvBufferSize !== undefined && { recvBufferSize: o.recvBufferSize }),
        });
        this.#sockets.push(socket);
        socket.join(line.group, { interface: line.interfaceRef, ...(line.source !== undefined && { source: line.source }) });
        this.#listenErrors(socket);
        socket.attachConsumer((native) => this.#native.attach(native, i, native.fd()));
      });
      const reason = this.#filterReason();
      if (o.kernelFilter === true && reason !== '') {
        throw mcastError('ERR_MCAST_KERNEL_FILTER', `kernelFilter: true, but the kernel duplicate filter could not be used: ${reason}`);
      }
      const r = o.retransmit;
      if (r !== undefined) {
        const socket = createSocket({
          family: o.family,
          timestamps: o.timestamps,
          maxMessageSize: o.maxMessageSize,
          ...(r.bindAddress !== undefined && { address: r.bindAddress }),
        });
        this.#retransmitSocket = socket;
        this.#listenErrors(socket);
        socket.attachConsumer((native) => this.#native.attach(native, o.lines.length));
      }
    } catch (error) {
      this.#closeSockets();
      this.#native.close();
      throw error;
    }
    this.#arm(o.staleAfter);
  }

  #listenErrors(socket: Socket): void {
    socket.on('error', (error: Error) => {
      if (!this.#closed) this.emit('error', error);
    });
  }

  /** The line socket of a feed line (tests and diagnostics: its address, its stats). @internal */
  lineSocket(line: number): Socket | undefined {
    return line === -1 ? this.#retransmitSocket : this.#sockets[line];
  }

  // ---- the native flush: items, then events, in the order the arbiter produced them ----------

  #onFlush(items: number, first: number, events: number, requests: number, lags: number, nextDelay: number): void {
    if (events === 0 && requests === 0 && lags === 0) {
      // The usual flush, items only: no closure, nothing allocated per flush (a listener's
      // error still reaches the caller after the timer is armed, as below).
      try {
        if (items > 0) this.#deliver(items, first, this.#sessionText());
      } finally {
        if (!this.#closed) this.#arm(nextDelay);
      }
      return;
    }
    let failure: { error: unknown } | undefined;
    const guard = (fn: () => void): void => {
      if (this.#closed) return;
      try {
        fn();
      } catch (error) {
        failure ??= { error };
      }
    };
    if (requests > 0) guard(() => this.#sendRequests(requests));
    if (lags > 0 && this.#lag !== undefined) this.#lag.record(this.#lags, lags);
    // The session of what this flush holds: the arbiter has moved on already when the flush
    // ends with a new session's 'reset' (items and gaps before it are the old session's).
    const switchAt = this.#newSessionEvent(events);
    let session = switchAt >= 0 ? sessionText(this.#eventSessions, switchAt * 2 * SESSION_BYTES + SESSION_BYTES) : this.#sessionText();
    if (items > 0) {
      guard(() => this.#deliver(items, first, session));
    }
    for (let i = 0; i < events; i++) {
      if (i === switchAt + 1 && switchAt >= 0) session = this.#sessionText();
      const current = session;
      guard(() => this.#event(i, current));
    }
    if (!this.#closed) this.#arm(nextDelay);
    if (failure !== undefined) throw failure.error;
  }

  /** Index of the first 'new-session' reset among this flush's events (with a previous session), or -1. */
  #newSessionEvent(events: number): number {
    for (let i = 0; i < events; i++) {
      const at = i * EVENT_FIELDS;
      if (this.#events[at] === 3 && this.#events[at + 2] === 1 && (this.#events[at + 3]! & 2) !== 0) return i;
    }
    return -1;
  }

  #deliver(count: number, first: number, session: string | undefined): void {
    const batch = this.#batch;
    batch.count = count;
    batch.first = first;
    try {
      if (this.listenerCount('batch') > 0) this.emit('batch', batch satisfies FeedBatch);
      if (this.listenerCount('message') > 0 && !this.#closed) {
        // One copy per flush; each message is a view of it, the listener's to keep.
        const copy = Buffer.from(batch.buffer.subarray(0, batch.usedBytes()));
        for (let i = 0; i < count && !this.#closed; i++) {
          const info: FeedMessageInfo = { sequence: first + i, line: batch.line(i) };
          const ts = batch.timestamp(i);
          if (ts !== undefined) info.timestamp = ts;
          if (session !== undefined) info.session = session;
          this.emit('message', copy.subarray(batch.start(i), batch.end(i)), info);
        }
      }
    } finally {
      batch.count = 0;
    }
  }

  /** The current MoldUDP64 session, asked of the arbiter once and then followed through the resets. */
  #sessionText(): string | undefined {
    if (this.#options.sequence !== 'moldudp64') return undefined;
    this.#session ??= this.#native.session()?.toString('latin1');
    return this.#session;
  }

  #event(i: number, session: string | undefined): void {
    const e = this.#events;
    const at = i * EVENT_FIELDS;
    const kind = e[at]!;
    if (kind === 0) {
      const gap: FeedGap = { from: e[at + 1]!, to: e[at + 2]! };
      if (session !== undefined) gap.session = session;
      this.emit('gap', gap);
      return;
    }
    const line = e[at + 1]!;
    const name = this.lineNames[line] ?? String(line);
    if (kind === 1 || kind === 2) {
      this.emit(kind === 1 ? 'stale' : 'resume', { line, name } satisfies FeedLineEvent);
      return;
    }
    const flags = e[at + 3]!;
    const reset: FeedReset = { line, name, reason: RESET_REASONS[e[at + 2]!] ?? 'restart' };
    if ((flags & 1) !== 0) reset.session = sessionText(this.#eventSessions, i * 2 * SESSION_BYTES);
    if ((flags & 2) !== 0) reset.previousSession = sessionText(this.#eventSessions, i * 2 * SESSION_BYTES + SESSION_BYTES);
    if (reset.reason === 'new-session' && reset.session !== undefined) this.#session = reset.session;
    this.emit('reset', reset);
  }

  #sendRequests(count: number): void {
    const r = this.#options.retransmit;
    const socket = this.#retransmitSocket;
    if (r === undefined || socket === undefined || socket.closed) return;
    const packets: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      // A MoldUDP64 request: session, first sequence number (u64be), message count (u16be).
      const packet = Buffer.alloc(20);
      packet.set(this.#requestSessions.subarray(i * SESSION_BYTES, (i + 1) * SESSION_BYTES), 0);
      packet.writeBigUInt64BE(BigInt(this.#requests[i * 2]!), 10);
      packet.writeUInt16BE(this.#requests[i * 2 + 1]!, 18);
      packets.push(packet);
    }
    socket.sendBatch(packets, r.address, r.port);
  }

  // ---- the clock ------------------------------------------------------------------------------

  #arm(delay: number): void {
    if (delay < 0 || this.#closed) return;
    const due = Date.now() + delay;
    if (this.#timer !== undefined && this.#timerDue <= due) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerDue = Infinity;
      // expire() first reads every line's queue (a copy that reached a line while the loop was
      // busy is no gap), then acts on the clock; its drains may flush, and a listener may close.
      const next = this.#native.expire();
      if (this.#closed) return;
      this.#arm(next);
    }, delay);
    if (!this.#refed) this.#timer.unref();
  }

  // ---- public ---------------------------------------------------------------------------------

  /** True once close() has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Counters of the feed and of each line (see {@link FeedStats}). Works after close. */
  stats(): FeedStats {
    const s = this.#stats;
    this.#native.stats(s);
    const lines = this.#options.lines.map((line, i): FeedLineStats => {
      const o = FEED_STATS_FIELDS + LINE_STATS_FIELDS * i;
      const socket = this.#sockets[i];
      const stats: FeedLineStats = {
        name: line.name,
        packets: s[o]!,
        received: s[o + 1]!,
        wins: s[o + 2]!,
        duplicates: s[o + 3]!,
        malformed: s[o + 4]!,
        malformedBy: {
          shortHeader: s[o + 5]!,
          countPastEnd: s[o + 6]!,
          lengthPastEnd: s[o + 7]!,
          sequenceTooLarge: s[o + 8]!,
          truncated: s[o + 9]!,
        },
        // sk_drops counts the filter's drops too; the filter's own count (read first, so never
        // behind them) is taken off.
        kernelDrops: socket === undefined ? 0 : Math.max(0, socket.stats().kernelDrops - s[o + 12]!),
        filtered: s[o + 11]!,
        stale: s[o + 10] === 1,
      };
      const lag = this.#lag?.summary(i);
      if (lag !== undefined) stats.lag = lag;
      return stats;
    });
    const result: FeedStats = {
      lines,
      delivered: s[0]!,
      gaps: s[1]!,
      gapItems: s[2]!,
      recoveredFromLine: s[3]!,
      recoveredByRetransmit: s[4]!,
      retransmitRequests: s[5]!,
      pending: s[6]!,
      pendingHigh: s[7]!,
      overflows: s[8]!,
      nextSequence: s[9]!,
      kernelFilter: this.#filterStats(s[11] === 1, s[12]!),
    };
    if (s[10] === 1) {
      const session = this.#sessionText();
      if (session !== undefined) result.session = session;
    }
    return result;
  }

  /** Why the kernel filter is not in use on every line ('' when it is): native says what failed and its errno. */
  #filterReason(): string {
    const [, what, errno] = this.#native.filterStatus();
    if (errno === 0) return what;
    const hint = errno === osConstants.errno.EPERM ? ' (loading a BPF program needs CAP_BPF, or root)' : '';
    return `${what} failed: ${getSystemErrorName(-errno)}${hint}`;
  }

  #filterStats(loaded: boolean, contended: number): FeedKernelFilterStats {
    const o = this.#options;
    const reason = o.kernelFilter === 'auto' && o.timestamps ? 'off with timestamps: true (the lag histograms need every copy)' : this.#filterReason();
    const active = loaded && reason === '';
    return active ? { active, contended } : { active, reason: reason === '' ? 'not loaded' : reason, contended };
  }

  /** Keeps the process alive while the feed is open (the default). */
  ref(): this {
    this.#refed = true;
    for (const s of this.#allSockets()) s.ref();
    this.#timer?.ref();
    return this;
  }

  /** Lets the process exit while the feed is open. */
  unref(): this {
    this.#refed = false;
    for (const s of this.#allSockets()) s.unref();
    this.#timer?.unref();
    return this;
  }

  #allSockets(): Socket[] {
    return this.#retransmitSocket === undefined ? this.#sockets : [...this.#sockets, this.#retransmitSocket];
  }

  #closeSockets(): void {
    for (const s of this.#allSockets()) s.close();
  }

  /** Closes the feed and its line sockets. Idempotent; safe inside its own listeners. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
    this.#closeSockets();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    process.nextTick(() => this.emit('close'));
  }
}

/**
 * Joins every line on its own interface and arbitrates them: see {@link FeedOptions} and
 * {@link Feed}. Throws a Node-style error (with `code`) for a bad option, before any socket opens.
 * @example
 * const feed = createFeed({
 *   lines: [
 *     { group: '239.1.1.1', port: 5000, interface: 'eth1' },
 *     { group: '239.2.2.2', port: 5000, interface: 'eth2', source: '10.0.0.7' },
 *   ],
 *   sequence: 'moldudp64',
 * });
 * feed.on('batch', (b) => { for (let i = 0; i < b.count; i++) handle(b.sequence(i), b.data(i)); });
 * feed.on('gap', ({ from, to }) => console.warn('lost', from, to));
 */
export function createFeed(options: FeedOptions): Feed {
  return new Feed(options);
}
