/**
 * Loads the native addon (a prebuild from prebuilds/ or the local build/) and describes it.
 * The facade is the only user of these types: they are positional and unchecked by design,
 * every argument is validated in lib/ before it reaches native code.
 */
import * as path from 'node:path';
import nodeGypBuild = require('node-gyp-build');

/** Membership operations, in the order of native/socket_ops.h MembershipOp. */
export const MembershipOp = {
  Join: 0,
  Leave: 1,
  JoinSource: 2,
  LeaveSource: 3,
  BlockSource: 4,
  UnblockSource: 5,
} as const;
export type MembershipOp = (typeof MembershipOp)[keyof typeof MembershipOp];

/** The native socket object (native/socket_wrap.h). */
export interface NativeSocket {
  close(): void;
  setReceiving(on: boolean): void;
  waitWritable(): void;
  ref(): void;
  unref(): void;
  /** The one membership operation (see lib/socket.ts changeMembership). */
  membership(op: MembershipOp, group: string, source: string | null, ifindex: number, interfaceAddress: string | null): void;
  setMulticastInterface(ifindex: number, sourceAddress?: string): void;
  setIntOption(level: number, name: number, value: number, label: string): void;
  getIntOption(level: number, name: number, label: string): number;
  setRawOption(level: number, name: number, bytes: Uint8Array): void;
  getRawOption(level: number, name: number, size: number): Buffer;
  setBufferSize(receive: boolean, bytes: number): number;
  /** [address, port, IPv6 scope id] of getsockname. */
  address(): [string, number, number];
  connect(address: string, port: number, scopeId: number): void;
  disconnect(): void;
  /** [address, port, IPv6 scope id] of getpeername. */
  peerAddress(): [string, number, number];
  send(bytes: Uint8Array, address: string, port: number, scopeId: number): number;
  /**
   * Sends `count` datagrams: the array's, or with `lengths` the ones packed back to back in one
   * block (two N-API calls per batch instead of two per datagram).
   */
  sendBatch(datagrams: readonly Uint8Array[] | Uint8Array, count: number, address: string, port: number, scopeId: number, lengths?: Uint32Array): number;
  /** Where sendBlock and sendGather send (parsed once, not per call). */
  setSendDestination(address: string, port: number, scopeId: number): void;
  /** Sends `block` cut into datagrams of `segmentSize` bytes (the last may be shorter); returns how many went. */
  sendBlock(block: Uint8Array, segmentSize: number): number;
  /**
   * Sends datagram i = `lengths[i]` bytes at `offsets[i]` of `bytes` (i < count) to the
   * setSendDestination one; returns how many went, or -(i + 1) when datagram i lies outside
   * `bytes` or exceeds a UDP datagram (nothing sent).
   */
  sendGather(bytes: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number;
  stats(out: Float64Array): void;
  fd(): number;
  setInterfaceFilter(on: boolean): void;
  /** UDP_SEGMENT for sendBatch on or off; returns whether it is on (false without kernel support). */
  setSegmentation(on: boolean): boolean;
  /** Sets UDP_GRO; each datagram split out of a merged receive keeps at most `keep` bytes. */
  enableGro(keep: number): void;
  /** One batch within `timeoutMs` (polling, or spinning when `spin`); returns its datagrams, 0 when none came. */
  receiveSync(timeoutMs: number, spin: boolean): number;
  /**
   * The batch's first `count` datagrams, back to back, in a recycled native block
   * (native/message_block.h): a Buffer over a new block, or the offset of the bytes in the
   * block returned last (batches of up to 4 KiB share a 4 KiB block). The block returns to the
   * socket's pool once the Buffer and every view of it are collected.
   */
  packBatch(count: number): Buffer | number;
  /** The 'message' blocks' pool: [allocated new, idle blocks, idle bytes, outstanding blocks]. */
  messageBlocks(): [number, number, number, number];
  /** Set by lib/socket.ts: the facade that receives this socket's events. */
  owner?: NativeSocketOwner;
}

/** What the native dispatchers call on the facade. */
export interface NativeSocketOwner {
  onBatch(count: number): void;
  /** A receive error: `errno` negative (libuv's sign). */
  onError(errno: number, syscall: string): void;
  onWritable(): void;
}

export interface NativeSocketConstructor {
  new (
    family: 4 | 6,
    address: string,
    port: number,
    reuseAddr: boolean,
    reusePort: boolean,
    multicastAll: boolean,
    timestamps: boolean,
    batchSize: number,
    maxMessageSize: number,
    slab: ArrayBuffer,
    records: ArrayBuffer,
    v6only: boolean,
    receiveTtl: boolean,
    /** sin6_scope_id of an IPv6 bind address (its zone's index), 0 otherwise. */
    scopeId?: number,
    /** A bound descriptor to share (a duplicate is taken) instead of binding, or -1. */
    sharedFd?: number,
    /** Whether the kernel is asked for each datagram's source (msg_name); default true. */
    sourceAddress?: boolean,
  ): NativeSocket;
}

/** Offsets of the receive metadata records (native/batch_layout.h). */
export interface RecordLayout {
  recordBytes: number;
  size: number;
  originalSize: number;
  flags: number;
  ifIndex: number;
  port: number;
  ttl: number;
  offset: number;
  dropCount: number;
  sourceByte: number;
  destinationByte: number;
  timestampByte: number;
  flagTruncated: number;
  flagTimestamp: number;
  flagPktinfo: number;
}

/** One row per (interface, address): name, index, IFF_* flags, family (4, 6 or 0), address, netmask, scope id. */
export type InterfaceRow = [string, number, number, 0 | 4 | 6, string, string, number];

/** One rtnetlink link change: kind 0 = new or changed, 1 = deleted; index, name, IFF_* flags. */
export type LinkEventRow = [0 | 1, number, string, number];

/** The rtnetlink watcher (native/link_watch_wrap.h): calls back on the loop with each batch. */
export interface NativeLinkWatch {
  close(): void;
}

/** The native feed (native/feed_wrap.h): the arbiter of lib/feed, fed by its line sockets. */
export interface NativeFeed {
  /**
   * The socket's drained batches go to the arbiter as `line` (lines.length: the retransmission
   * socket); `fd`, the socket's descriptor, gets the kernel filter's program when it is loaded.
   */
  attach(socket: NativeSocket, line: number, fd?: number): void;
  /**
   * Reads what every attached socket's queue holds, then acts on the clock (gaps, requests,
   * stale lines); returns ms until it should run again, or -1. Line drains never act on the clock.
   */
  expire(): number;
  /** Fills `out` (Float64Array(13 + 13 * lines), see lib/feed/index.ts). */
  stats(out: Float64Array): void;
  /** The kernel filter: [loaded, why it is not in use on every line ('' when it is), errno]. */
  filterStatus(): [boolean, string, number];
  /** The current MoldUDP64 session bytes, or undefined. */
  session(): Buffer | undefined;
  close(): void;
}

/** onFlush(items, first, events, requests, lags, nextDelayMs) of a native feed: its items are numbered first + i. */
export type NativeFeedFlush = (items: number, first: number, events: number, requests: number, lags: number, nextDelay: number) => void;

export interface NativeFeedConstructor {
  new (
    config: Float64Array,
    onFlush: NativeFeedFlush,
    data: ArrayBuffer,
    starts: Uint32Array,
    lines: Uint8Array,
    stamps: BigInt64Array,
    events: Float64Array,
    eventSessions: Uint8Array,
    requests: Float64Array,
    requestSessions: Uint8Array,
    lags: Float64Array,
  ): NativeFeed;
}

export interface NativeBinding {
  Socket: NativeSocketConstructor;
  Feed: NativeFeedConstructor;
  LinkWatch: new (callback: (events: LinkEventRow[], overflow: boolean) => void) => NativeLinkWatch;
  setCallbacks(
    onBatch: (this: NativeSocket, count: number) => void,
    onError: (this: NativeSocket, errno: number, syscall: string) => void,
    onWritable: (this: NativeSocket) => void,
  ): void;
  listInterfaces(): InterfaceRow[];
  ifNameToIndex(name: string): number;
  ifIndexToName(index: number): string | undefined;
  /** What kind of descriptor `fd` is, as Node's guessHandleType() says it (libuv's uv_guess_handle). */
  guessHandleType(fd: number): 'UDP' | 'TCP' | 'PIPE' | 'TTY' | 'FILE' | 'UNKNOWN';
  constants: Readonly<Record<string, number>>;
  layout: RecordLayout;
  /**
   * The capture writer's records (native/pcap_frames.h BuildPcapFrames): builds the first
   * `count` jobs (16 int32 each: where, flags, payload offset and lengths, interface, time,
   * ports, TTL, IP id, address offsets, record length) into `block`, payloads from `payloads`,
   * addresses from `addresses`. Returns the jobs done (a job out of bounds stops the run).
   */
  pcapFrames(block: Uint8Array, jobs: Int32Array, count: number, payloads?: Uint8Array, addresses?: Uint8Array): number;
  /**
   * A receive batch's records framed straight into `block` (native/pcap_frames.h
   * BuildPcapFramesFromRecords): records [first, first + count), payloads in `slab`; `state`
   * (12 int32: kState*) carries where, the format, snap length, port, interface, IP id and
   * time in, and the payload bytes, truncations and why it stopped out. Returns the records done.
   */
  pcapFramesFromRecords(block: Uint8Array, state: Int32Array, records: Uint8Array, slab: Uint8Array, first: number, count: number): number;
  /** CLOCK_MONOTONIC in ns (the clock of process.hrtime), as a double: no BigInt per call. */
  monotonicNs(): number;
  /**
   * The replay pacer's wait (native/pacer.h): sleeps on the absolute deadline `deadlineNs -
   * marginNs` (clock_nanosleep), then spins until `deadlineNs`. Returns the clock when it
   * returned; `out[0]` gets the clock when the sleep ended (0 when there was no sleep).
   */
  pacerWait(deadlineNs: number, marginNs: number, out: Float64Array): number;
  /** prctl(PR_SET_TIMERSLACK, ns) for the calling thread; returns 0 or errno. */
  setTimerSlack(ns: number): number;
}

/**
 * The addon for this machine, through node-gyp-build (build/Release, else the fitting prebuild).
 * When there is none (musl or another architecture, and no compile at install: npm 11 runs a
 * dependency's install script only once the project allows it) or it cannot load (a glibc older
 * than it needs), the error says what to do instead of node-gyp-build's bare list of tags.
 */
function loadAddon(): NativeBinding {
  const root = path.join(__dirname, '..');
  try {
    return nodeGypBuild(root) as NativeBinding;
  } catch (cause) {
    const reason = String((cause as Error).message).split('\n')[0] ?? '';
    const { BUILD_PACKAGES } = require(path.join(root, 'native', 'install.cjs')) as { BUILD_PACKAGES: string };
    const what = /No native build was found/.test(reason)
      ? 'no prebuilt binary fits this machine and none was compiled at install; allow the install script and rerun it: ' +
        `\`npm install-scripts approve mcast && npm rebuild mcast\` (it compiles with python3, make and g++: ${BUILD_PACKAGES})`
      : 'the native addon does not load on this machine (README "Installing" gives the glibc it needs); compile it here: ' +
        `\`npm install-scripts approve mcast && npm rebuild mcast --build-from-source\` (python3, make and g++: ${BUILD_PACKAGES})`;
    const error = new Error(`mcast: ${reason}: ${what}`, { cause });
    (error as NodeJS.ErrnoException).code = 'ERR_MCAST_NATIVE_ADDON';
    throw error;
  }
}

/** The addon, loaded once per environment (main thread or worker). */
export const binding = loadAddon();

// One dispatcher per environment for all sockets: a socket's callbacks never root it.
binding.setCallbacks(
  function onBatch(count) {
    this.owner?.onBatch(count);
  },
  function onError(errno, syscall) {
    this.owner?.onError(errno, syscall);
  },
  function onWritable() {
    this.owner?.onWritable();
  },
);
