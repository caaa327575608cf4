/**
 * The multicast socket: validates every argument, resolves interfaces, and hands plain values
 * to the native socket. Receiving starts when the first 'message' or 'batch' listener is added
 * and stops when the last one is removed; a socket without listeners does not keep the event
 * loop alive and, once unreachable, is collected and its descriptor closed.
 */
import { EventEmitter } from 'node:events';
import { isMainThread } from 'node:worker_threads';

import { hostPort, isLinkLocalIPv6, MAX_PAYLOAD } from './address';
import { Batch, noSourceAddress } from './batch';
import { BatchDispatch } from './dispatch';
import { binding, MembershipOp, type NativeSocket, type NativeSocketOwner } from './binding';
import { invalidArgType, mcastError, rethrowNative, systemError } from './errors';
import { resolveInterface, type ResolvedInterface } from './interfaces';
import { forgetSocket, type InterfaceChangeEvent, setRejoin, trackMembership, trackOutgoing } from './interface-churn';
import { noteClosed, noteMembership } from './memberships';
import { checkMembership } from './socket/membership';
import {
  BIND_HINTS,
  C,
  checkSocketOptions,
  GRO_MAX_SEGMENTS,
  GRO_SLOT_BYTES,
  NEEDS_NET_ADMIN,
  optionTable,
  SO_BUSY_POLL,
  SO_PREFER_BUSY_POLL,
} from './socket/options';
import { blockDatagrams, type Destination, Destinations, gatherCount, gatherDatagramError, isGather, SendPacker, toByteList, toBytes } from './socket/send';
import * as sockopt from './socket/sockopt';
import { checkBoolean, checkInteger } from './validate';
import type {
  BoundAddress,
  Family,
  InterfaceRef,
  MembershipOptions,
  MessageInfo,
  RecvBatch,
  SendData,
  SendGather,
  SocketOptions,
  SocketStats,
} from './types';

// Read once: as an import, each receiveSync() would load it as a property of the compiled
// module object, and a loop that first ran with a timeout of 0 (which skips the check) was
// deoptimised by its first call with a timeout.
const ON_MAIN_THREAD = isMainThread;

// A socket's life: OPENING while its constructor applies the options, OPEN after, CLOSED once
// close() ran. A number that every socket already changes in its constructor, rather than a
// `closed` boolean: V8 compiles a field that has only ever held one value in its class's objects
// as a constant, and the first close() of ANY socket then deoptimised every compiled function
// that checked it, another socket's receiveSync() spin loop included (test/receive-sync.test.ts).
const OPENING = 0;
const OPEN = 1;
const CLOSED = 2;

/** The address text and port of a native [address, port, scopeId], with the zone Node shows. */
function boundAddress(family: Family, [address, port, scopeId]: [string, number, number]): BoundAddress {
  const shown = scopeId > 0 && isLinkLocalIPv6(address) ? `${address}%${binding.ifIndexToName(scopeId) ?? scopeId}` : address;
  return { address: shown, family: family === 4 ? 'IPv4' : 'IPv6', port };
}

export interface Socket {
  /**
   * A datagram, copied out of the receive slab. Convenient; the 'batch' event is the fast path.
   * Each batch's datagrams are copied into one block, and `data` is a view of it
   * (`data.buffer`: a batch of more than 4 KiB has a block of exactly its bytes; smaller ones
   * share 4 KiB blocks, as Buffers share Node's pool). **Retention:** keeping a message keeps
   * its block alive, at most 1.25 × the bytes of its batch's datagrams, or 4 KiB;
   * `Buffer.from(data)` keeps only the datagram. The socket reuses a block only after V8 has
   * collected every message of it, so a kept message is never overwritten; it keeps up to
   * 64 MiB of such collected blocks per socket for reuse (never more than its messages once held
   * uncollected at the same time), until it closes.
   */
  on(event: 'message', listener: (data: Buffer, info: MessageInfo) => void): this;
  /**
   * A whole recvmmsg result, zero copy, valid during the call only. The batches of one readable
   * event (a queued burst) run as one I/O callback: microtasks and `process.nextTick` callbacks
   * that a listener queues run after the event's last batch, not between batches.
   */
  on(event: 'batch', listener: (batch: RecvBatch) => void): this;
  /** A receive error reported by the kernel (with code, errno and syscall). */
  on(event: 'error', listener: (error: Error) => void): this;
  /** The socket was closed. */
  on(event: 'close', listener: () => void): this;
  /** An interface holding one of this socket's memberships, or its outgoing interface, was deleted. */
  on(event: 'interfaceLost', listener: (info: InterfaceChangeEvent) => void): this;
  /** An interface of the name a membership or the outgoing interface was made with came back: joined (set) again. */
  on(event: 'interfaceBack', listener: (info: InterfaceChangeEvent) => void): this;
  /** The next datagram only; see the 'message' event of {@link Socket.on}. */
  once(event: 'message', listener: (data: Buffer, info: MessageInfo) => void): this;
  /** The next recvmmsg result only; see the 'batch' event of {@link Socket.on}. */
  once(event: 'batch', listener: (batch: RecvBatch) => void): this;
  /** The next receive error only. */
  once(event: 'error', listener: (error: Error) => void): this;
  /** The socket was closed. */
  once(event: 'close', listener: () => void): this;
  /** The next interface loss or return only. */
  once(event: 'interfaceLost' | 'interfaceBack', listener: (info: InterfaceChangeEvent) => void): this;
}

/**
 * A UDP socket for multicast, bound when created (see {@link createSocket}): joins by exact
 * interface, source-specific joins and filters, batched receive ('batch', zero copy, or
 * 'message') and send (sendmmsg).
 */
export class Socket extends EventEmitter implements NativeSocketOwner {
  /** Address family, 4 or 6, as created. */
  readonly family: Family;
  /** Datagrams read per recvmmsg call, as created. */
  readonly batchSize: number;
  /** Bytes kept per datagram (longer ones are delivered cut and flagged), as created. */
  readonly maxMessageSize: number;
  #boundDevice: string | undefined;
  readonly #native: NativeSocket;
  readonly #batch: Batch;
  readonly #options: ReturnType<typeof optionTable>;
  readonly #stats = new Float64Array(14);
  readonly #destinations: Destinations;
  readonly #packer = new SendPacker();
  /** The destination the binding holds for sendBlock (see #sendBlock). */
  #blockDestination: Destination | undefined = undefined;
  #state = OPENING;
  readonly #dispatch: BatchDispatch;
  #writableWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  /** Use {@link createSocket}. */
  constructor(options: SocketOptions = {}) {
    super();
    const o = checkSocketOptions(options);
    const { family, port, address, scopeId, reuseAddr, reusePort, multicastAll, ipv6Only, timestamps, receiveTTL, gro, sourceAddress } = o;
    const { recvBufferSize, sendBufferSize, ttl, loopback, outgoing, device, sharedFd, busyPoll, preferBusyPoll } = o;
    this.batchSize = o.batchSize;
    this.maxMessageSize = o.maxMessageSize;
    this.family = family;
    this.#options = optionTable(family);
    this.#destinations = new Destinations(family);

    // With gro each slot holds a merged receive, which splits into up to 64 records.
    const slotSize = gro ? GRO_SLOT_BYTES : this.maxMessageSize;
    const slab = new ArrayBuffer(this.batchSize * slotSize);
    const records = new ArrayBuffer(this.batchSize * (gro ? GRO_MAX_SEGMENTS : 1) * binding.layout.recordBytes);
    try {
      this.#native = new binding.Socket(
        family, address, port, reuseAddr, reusePort, multicastAll, timestamps,
        this.batchSize, slotSize, slab, records, ipv6Only, receiveTTL, scopeId, sharedFd, sourceAddress,
      );
    } catch (error) {
      if (sharedFd >= 0) rethrowNative(error, { action: `share the bound socket of descriptor ${sharedFd}` });
      const hint = BIND_HINTS[(error as { errno?: number }).errno ?? 0];
      rethrowNative(error, { action: `bind ${hostPort(address, port)}`, ...(hint !== undefined && { hint }) });
    }
    this.#native.owner = this;
    if (!o.rejoin) setRejoin(this, false);
    this.#batch = new Batch(slab, records, family, this.maxMessageSize, sourceAddress);
    this.#dispatch = new BatchDispatch(this, (count) => this.#native.packBatch(count));
    try {
      // First: the device (or VRF) decides the routes the other options are checked against.
      if (device !== undefined) this.#bindToDevice(device);
      if (!o.gso) this.#native.setSegmentation(false);
      if (gro) this.#enableGro();
      if (busyPoll !== undefined) {
        this.#setInt(C.SOL_SOCKET!, SO_BUSY_POLL, busyPoll, 'setsockopt(SO_BUSY_POLL)', `set busyPoll to ${busyPoll} µs`, NEEDS_NET_ADMIN);
      }
      if (preferBusyPoll) {
        this.#setInt(C.SOL_SOCKET!, SO_PREFER_BUSY_POLL, 1, 'setsockopt(SO_PREFER_BUSY_POLL)', 'turn preferBusyPoll on', 'SO_PREFER_BUSY_POLL needs CAP_NET_ADMIN; busyPoll alone does not');
      }
      if (recvBufferSize !== undefined) this.setRecvBufferSize(recvBufferSize);
      if (sendBufferSize !== undefined) this.setSendBufferSize(sendBufferSize);
      if (ttl !== undefined) this.setTTL(ttl);
      if (loopback !== undefined) this.setLoopback(loopback);
      if (outgoing !== undefined) this.#setOutgoing(outgoing);
    } catch (error) {
      this.close();
      throw error;
    }
    super.on('newListener', (event: string | symbol) => {
      if (event !== 'message' && event !== 'batch') return;
      // Thrown before the listener is added: on('message') fails and nothing receives.
      if (event === 'message' && !sourceAddress) throw noSourceAddress("a 'message' listener (its info carries the source)");
      this.#dispatch.invalidate();
      if (this.#state !== CLOSED) this.#native.setReceiving(true);
    });
    super.on('removeListener', (event: string | symbol) => {
      if (event !== 'message' && event !== 'batch') return;
      this.#dispatch.invalidate();
      if (this.#state !== CLOSED && !this.#hasReceivers()) this.#native.setReceiving(false);
    });
    this.#state = OPEN;
  }

  #enableGro(): void {
    sockopt.enableGro(this.#native, this.maxMessageSize);
  }

  #hasReceivers(): boolean {
    return this.listenerCount('message') + this.listenerCount('batch') > 0;
  }

  #checkOpen(what: string): void {
    if (this.#state === CLOSED) {
      throw mcastError('ERR_MCAST_SOCKET_CLOSED', `Cannot ${what}: the socket is closed`);
    }
  }

  /** True once close() has been called. */
  get closed(): boolean {
    return this.#state === CLOSED;
  }

  // ---- memberships ----------------------------------------------------------------------

  #membership(op: MembershipOp, verb: string, groupArg: unknown, sourceArg: unknown, options: unknown): this {
    this.#checkOpen(verb);
    const { group, source, iface, context } = checkMembership(this.family, verb, groupArg, sourceArg, options);
    try {
      this.changeMembership(op, group, source ?? null, iface?.index ?? 0, null);
    } catch (error) {
      rethrowNative(error, context);
    }
    noteMembership(this, op, this.family, group, source ?? null, iface?.index ?? 0, iface?.name);
    trackMembership(this, op, group, source ?? null, iface);
    return this;
  }

  /**
   * @internal The one membership operation under both facades, on checked arguments: `group`
   * and `source` numeric (the group's family picks the options), the interface by `ifindex`
   * (0: the kernel's choice) or, for IPv4, by a local `interfaceAddress` as dgram names it. The
   * native side keeps the IPv6 interface filter (multicastAll: false) in step with every join
   * and leave. Throws the binding's error (negative `errno`, `syscall`).
   */
  changeMembership(op: MembershipOp, group: string, source: string | null, ifindex: number, interfaceAddress: string | null): void {
    this.#checkOpen('change a membership');
    this.#native.membership(op, group, source, ifindex, interfaceAddress);
  }

  /**
   * Joins `group` (MCAST_JOIN_GROUP), or with `source` only that source's traffic to it
   * (MCAST_JOIN_SOURCE_GROUP, source-specific multicast).
   * @example sock.join('239.1.2.3', { interface: 'eth1' })
   * @example sock.join('232.1.1.1', { interface: 3, source: '10.0.0.7' })
   * @throws ERR_MCAST_NOT_MULTICAST, ERR_MCAST_UNKNOWN_INTERFACE, EADDRINUSE (joined twice), ENOBUFS (limit)
   */
  join(group: string, options?: MembershipOptions): this {
    const source = options?.source;
    return this.#membership(source === undefined ? MembershipOp.Join : MembershipOp.JoinSource, 'join', group, source, options);
  }

  /** Leaves what join() joined, with the same group, interface and source. */
  leave(group: string, options?: MembershipOptions): this {
    const source = options?.source;
    return this.#membership(source === undefined ? MembershipOp.Leave : MembershipOp.LeaveSource, 'leave', group, source, options);
  }

  /** Stops receiving `source`'s traffic to an any-source group this socket joined (MCAST_BLOCK_SOURCE). */
  blockSource(group: string, source: string, options?: Omit<MembershipOptions, 'source'>): this {
    return this.#membership(MembershipOp.BlockSource, 'block source for', group, source, options);
  }

  /** Undoes blockSource() (MCAST_UNBLOCK_SOURCE). */
  unblockSource(group: string, source: string, options?: Omit<MembershipOptions, 'source'>): this {
    return this.#membership(MembershipOp.UnblockSource, 'unblock source for', group, source, options);
  }

  // ---- outgoing options -----------------------------------------------------------------

  #bindToDevice(device: ResolvedInterface): void {
    sockopt.bindToDevice(this.#native, device);
    this.#boundDevice = device.name;
  }

  /** The device (interface or VRF) the socket is bound to with options.bindToDevice, if any. */
  get boundDevice(): string | undefined {
    return this.#boundDevice;
  }

  #setOutgoing(iface: ResolvedInterface): void {
    sockopt.setOutgoing(this.#native, this.family, iface);
    trackOutgoing(this, iface);
  }

  /** The interface multicast is sent from (IP_MULTICAST_IF by index / IPV6_MULTICAST_IF). */
  setMulticastInterface(iface: InterfaceRef): this {
    this.#checkOpen('set the multicast interface');
    this.#setOutgoing(resolveInterface('interface', iface, this.family));
    return this;
  }

  #setInt(level: number, name: number, value: number, label: string, action: string, permissionHint?: string): void {
    sockopt.setInt(this.#native, level, name, value, label, action, permissionHint);
  }

  /** IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS: 0 keeps datagrams on this host, 1 (default) on the link. */
  setTTL(ttl: number): this {
    this.#checkOpen('set the TTL');
    checkInteger('ttl', ttl, 0, 255);
    this.#setInt(this.#options.level, this.#options.ttl, ttl, this.#options.ttlLabel, `set the multicast TTL to ${ttl}`);
    return this;
  }

  /** The multicast TTL / hop limit in force. */
  getTTL(): number {
    this.#checkOpen('get the TTL');
    return this.#native.getIntOption(this.#options.level, this.#options.ttl, 'getsockopt');
  }

  /** IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP: whether this host's own receivers get what it sends. */
  setLoopback(on: boolean): this {
    this.#checkOpen('set loopback');
    checkBoolean('on', on);
    this.#setInt(this.#options.level, this.#options.loop, on ? 1 : 0, this.#options.loopLabel, `turn loopback ${on ? 'on' : 'off'}`);
    return this;
  }

  /** IP_MULTICAST_ALL / IPV6_MULTICAST_ALL (see SocketOptions.multicastAll). */
  setMulticastAll(on: boolean): this {
    this.#checkOpen('set multicastAll');
    checkBoolean('on', on);
    // Turning it on: IP_PKTINFO must be on before the kernel option is (native/arrival_policy.h).
    if (on) this.#native.setInterfaceFilter(false);
    this.#setInt(this.#options.level, this.#options.all, on ? 1 : 0, this.#options.allLabel, `turn multicastAll ${on ? 'on' : 'off'}`);
    if (!on) this.#native.setInterfaceFilter(true);
    return this;
  }

  // ---- buffers ---------------------------------------------------------------------------

  #setBuffer(receive: boolean, bytes: number): number {
    this.#checkOpen(`set ${receive ? 'recvBufferSize' : 'sendBufferSize'}`);
    return sockopt.setBuffer(this.#native, receive, bytes);
  }

  /** Asks for a receive buffer of `bytes`; returns what the kernel reports (its doubled figure). */
  setRecvBufferSize(bytes: number): number {
    return this.#setBuffer(true, bytes);
  }

  /** Asks for a send buffer of `bytes`; returns what the kernel reports (its doubled figure). */
  setSendBufferSize(bytes: number): number {
    return this.#setBuffer(false, bytes);
  }

  /** SO_RCVBUF as the kernel reports it. */
  getRecvBufferSize(): number {
    this.#checkOpen('get the receive buffer size');
    return this.#native.getIntOption(C.SOL_SOCKET!, C.SO_RCVBUF!, 'getsockopt(SO_RCVBUF)');
  }

  /** SO_SNDBUF as the kernel reports it. */
  getSendBufferSize(): number {
    this.#checkOpen('get the send buffer size');
    return this.#native.getIntOption(C.SOL_SOCKET!, C.SO_SNDBUF!, 'getsockopt(SO_SNDBUF)');
  }

  // ---- raw options -----------------------------------------------------------------------

  /**
   * Raw setsockopt: a number or boolean is passed as a C int, a Buffer as it is.
   * @example sock.setOption(constants.IPPROTO_IP, constants.IP_TOS, 0x10)
   */
  setOption(level: number, name: number, value: number | boolean | Uint8Array): this {
    this.#checkOpen('set an option');
    sockopt.setOption(this.#native, level, name, value);
    return this;
  }

  /** Raw getsockopt into `size` bytes (default 4); returns the bytes the kernel wrote. */
  getOption(level: number, name: number, size = 4): Buffer {
    this.#checkOpen('get an option');
    return sockopt.getOption(this.#native, level, name, size);
  }

  // ---- sending ---------------------------------------------------------------------------

  /**
   * Sends one datagram. Returns true when the kernel took it, false when the socket's send
   * queue was full (nothing was sent: wait with `await sock.writable()` and send again).
   * @throws ERR_MCAST_MESSAGE_TOO_LARGE, ENETUNREACH (no route: set the interface), ...
   */
  send(data: SendData, address: string, port: number): boolean {
    this.#checkOpen('send');
    const bytes = toBytes('data', data, this.family);
    const dest = this.#destinations.check(address, port);
    try {
      return this.#native.send(bytes, dest.address, dest.port, dest.scopeId) === 1;
    } catch (error) {
      rethrowNative(error, { action: `send ${bytes.length} bytes to ${hostPort(dest.address, dest.port)}` });
    }
  }

  /**
   * Sends many datagrams to one destination with sendmmsg. Each run of consecutive datagrams of
   * one size (the last of a run may be shorter) leaves as one UDP_SEGMENT message (GSO: the
   * kernel or the device cuts it into the datagrams), unless the socket has `gso: false` or the
   * path refused segmentation once (then plain sendmmsg, counted in
   * `stats().segmentationFallbacks`). Returns how many datagrams the kernel took, in order;
   * fewer than given means the send queue filled up (see sendAll for a loop).
   * @throws an error with `sent` set when a datagram after the first ones was refused
   */
  sendBatch(datagrams: readonly SendData[], address: string, port: number): number;
  /**
   * Sends one block of bytes as consecutive datagrams of `segmentSize` bytes each (the last
   * one shorter when the block's length is no multiple of it), as a video sender has them:
   * e.g. MPEG-TS, 7 × 188 = 1316 B per datagram. The same as sendBatch() of the list of
   * `block.subarray()`s, but without per-datagram work in JavaScript and without a copy: the
   * kernel reads the block in place. Returns how many datagrams the kernel took, in order;
   * after a partial send, continue with `block.subarray(sent * segmentSize)`.
   * @throws ERR_OUT_OF_RANGE for a `segmentSize` outside 1 to the family's largest UDP
   *   payload; ERR_INVALID_ARG_VALUE for an empty block; an error with `sent` set as above
   */
  sendBatch(block: Uint8Array, address: string, port: number, segmentSize: number): number;
  /**
   * Sends datagrams that lie at offsets inside one buffer (a {@link SendGather}: `bytes`,
   * `offsets`, `lengths`, `count`), as a capture file's block or a protocol's own buffer holds
   * them, without a copy: the kernel reads each in place. Runs of consecutive datagrams of one
   * size leave as UDP_SEGMENT messages (one iovec per message when they lie back to back, one
   * per datagram when something lies between them), the rest with sendmmsg; fallback and
   * return value as the other forms. After a partial send, continue with the arrays'
   * `subarray(sent, count)`.
   * @throws ERR_INVALID_ARG_TYPE for a gather whose `bytes` is no Uint8Array or whose arrays are
   *   no Uint32Array; ERR_INVALID_ARG_VALUE for empty arrays or, without `count`, arrays of
   *   different lengths; ERR_OUT_OF_RANGE for a `count` outside 1 to the arrays' length, and
   *   (naming `datagrams.offsets[i]`) for a datagram not within `bytes`, nothing sent;
   *   ERR_MCAST_MESSAGE_TOO_LARGE for a length over the family's largest UDP payload, nothing
   *   sent; an error with `sent` set as above
   */
  sendBatch(datagrams: SendGather, address: string, port: number): number;
  sendBatch(datagrams: readonly SendData[] | Uint8Array | SendGather, address: string, port: number, segmentSize?: number): number {
    this.#checkOpen('send');
    if (datagrams instanceof Uint8Array) return this.#sendBlock(datagrams, address, port, segmentSize);
    if (!Array.isArray(datagrams) && isGather(datagrams)) return this.#sendGather(datagrams, address, port);
    const packer = this.#packer;
    if (Array.isArray(datagrams) && datagrams.length > 0 && packer.pack(datagrams, MAX_PAYLOAD[this.family])) {
      const dest = this.#destinations.check(address, port);
      try {
        return this.#native.sendBatch(packer.block, datagrams.length, dest.address, dest.port, dest.scopeId, packer.lengths);
      } catch (error) {
        rethrowNative(error, { action: `send ${datagrams.length} datagrams to ${hostPort(dest.address, dest.port)}` });
      }
    }
    const list = toByteList(datagrams, this.family);
    const dest = this.#destinations.check(address, port);
    try {
      return this.#native.sendBatch(list, list.length, dest.address, dest.port, dest.scopeId);
    } catch (error) {
      rethrowNative(error, { action: `send ${list.length} datagrams to ${hostPort(dest.address, dest.port)}` });
    }
  }

  #sendBlock(block: Uint8Array, address: string, port: number, segmentSize: unknown): number {
    const count = blockDatagrams(block, segmentSize, this.family);
    const dest = this.#destinations.check(address, port);
    try {
      this.#holdDestination(dest);
      return this.#native.sendBlock(block, segmentSize as number);
    } catch (error) {
      rethrowNative(error, { action: `send ${count} datagrams to ${hostPort(dest.address, dest.port)}` });
    }
  }

  #sendGather(gather: SendGather, address: string, port: number): number {
    const count = gatherCount(gather);
    const dest = this.#destinations.check(address, port);
    let sent: number;
    try {
      this.#holdDestination(dest);
      sent = this.#native.sendGather(gather.bytes, gather.offsets, gather.lengths, count);
    } catch (error) {
      rethrowNative(error, { action: `send ${count} datagrams to ${hostPort(dest.address, dest.port)}` });
    }
    if (sent < 0) throw gatherDatagramError(gather, -sent - 1, this.family);
    return sent;
  }

  /**
   * The binding keeps sendBlock's and sendGather's destination: told again only when it
   * changes (check() returns the same object for the same address and port).
   */
  #holdDestination(dest: Destination): void {
    if (dest === this.#blockDestination) return;
    this.#native.setSendDestination(dest.address, dest.port, dest.scopeId);
    this.#blockDestination = dest;
  }

  /**
   * Sends every datagram, waiting for the kernel's send queue when it is full. Resolves with
   * the number sent (all of them).
   */
  async sendAll(datagrams: readonly SendData[], address: string, port: number): Promise<number>;
  /** sendBatch(block, address, port, segmentSize) until every datagram went, waiting for room. */
  async sendAll(block: Uint8Array, address: string, port: number, segmentSize: number): Promise<number>;
  /** sendBatch(gather, address, port) until every datagram went, waiting for room. */
  async sendAll(datagrams: SendGather, address: string, port: number): Promise<number>;
  async sendAll(datagrams: readonly SendData[] | Uint8Array | SendGather, address: string, port: number, segmentSize?: number): Promise<number> {
    if (!Array.isArray(datagrams) && isGather(datagrams)) {
      const total = gatherCount(datagrams);
      const { bytes, offsets, lengths } = datagrams;
      let done = this.sendBatch(datagrams, address, port);
      while (done < total) {
        await this.writable();
        done += this.sendBatch({ bytes, offsets: offsets.subarray(done, total), lengths: lengths.subarray(done, total) }, address, port);
      }
      return done;
    }
    if (datagrams instanceof Uint8Array) {
      const total = blockDatagrams(datagrams, segmentSize, this.family);
      const size = segmentSize as number;
      let done = this.sendBatch(datagrams, address, port, size);
      while (done < total) {
        await this.writable();
        done += this.sendBatch(datagrams.subarray(done * size), address, port, size);
      }
      return done;
    }
    let sent = this.sendBatch(datagrams, address, port);
    while (sent < datagrams.length) {
      await this.writable();
      sent += this.sendBatch(datagrams.slice(sent), address, port);
    }
    return sent;
  }

  /** Resolves when the socket's send queue has room again (uv_poll for writability). */
  writable(): Promise<void> {
    this.#checkOpen('wait for writability');
    return new Promise((resolve, reject) => {
      this.#writableWaiters.push({ resolve, reject });
      this.#native.waitWritable();
    });
  }

  // ---- synchronous receive (a worker thread that owns the socket) -------------------------

  /**
   * Returns the next batch, waiting up to `timeoutMs` for it, or null when none came by then
   * (the last receive starts after the deadline has passed: a thread preempted past it still
   * gets what came meanwhile).
   * For a thread that owns its socket and wants the lowest latency: `'block'` (default) sleeps
   * in poll(2); `'spin'` receives in a loop without sleeping (a whole core; with `busyPoll` each
   * empty receive also polls the device in the kernel). The batch is the 'batch' event's view,
   * valid until the next receiveSync() or close(). Datagrams go either here or to listeners.
   * @throws ERR_MCAST_MAIN_THREAD with a timeout above 0 on the main thread (it would block the
   *   event loop), ERR_MCAST_RECEIVING while 'message'/'batch' listeners receive
   * @example
   * // in a worker: for (;;) { const b = sock.receiveSync(1000, 'spin'); if (b) handle(b); }
   */
  receiveSync(timeoutMs = 0, mode: 'block' | 'spin' = 'block'): RecvBatch | null {
    this.#checkOpen('receive');
    checkInteger('timeoutMs', timeoutMs, 0, 0x7fffffff);
    if (mode !== 'block' && mode !== 'spin') throw invalidArgType('mode', "'block' or 'spin'", mode);
    if (timeoutMs > 0 && ON_MAIN_THREAD) {
      throw mcastError('ERR_MCAST_MAIN_THREAD', 'receiveSync() with a timeout would block the main event loop: call it in a worker thread, or with a timeout of 0');
    }
    if (this.#hasReceivers()) {
      throw mcastError('ERR_MCAST_RECEIVING', "receiveSync() cannot be used while 'message' or 'batch' listeners receive");
    }
    let count = 0;
    try {
      count = this.#native.receiveSync(timeoutMs, mode === 'spin');
    } catch (error) {
      rethrowNative(error, { action: 'receive' });
    }
    this.#batch.count = count;
    return count > 0 ? this.#batch : null;
  }

  // ---- state -----------------------------------------------------------------------------

  /** The local address and port the socket is bound to. */
  address(): BoundAddress {
    this.#checkOpen('get the address');
    return boundAddress(this.family, this.#native.address());
  }

  /**
   * Associates the socket with one peer (connect(2)): the kernel then delivers only that peer's
   * datagrams to it. send() still names its destination.
   * @throws ERR_INVALID_IP_ADDRESS, ERR_SOCKET_BAD_PORT, or the system's error (EINVAL, ...)
   */
  connect(address: string, port: number): this {
    this.#checkOpen('connect');
    const peer = this.#destinations.check(address, port);
    try {
      this.#native.connect(peer.address, peer.port, peer.scopeId);
    } catch (error) {
      rethrowNative(error, { action: `connect to ${hostPort(peer.address, peer.port)}` });
    }
    return this;
  }

  /** Dissolves the association made by connect() (connect(2) with AF_UNSPEC). */
  disconnect(): this {
    this.#checkOpen('disconnect');
    try {
      this.#native.disconnect();
    } catch (error) {
      rethrowNative(error, { action: 'disconnect' });
    }
    return this;
  }

  /** The peer set by connect(). @throws ENOTCONN when the socket is not connected */
  remoteAddress(): BoundAddress {
    this.#checkOpen('get the remote address');
    try {
      return boundAddress(this.family, this.#native.peerAddress());
    } catch (error) {
      rethrowNative(error, { action: 'get the remote address' });
    }
  }

  /** Counters since creation; still readable after close(). */
  stats(): SocketStats {
    const s = this.#stats;
    this.#native.stats(s);
    return {
      packetsReceived: s[0]!,
      bytesReceived: s[1]!,
      batches: s[2]!,
      truncated: s[3]!,
      kernelDrops: s[4]!,
      packetsSent: s[5]!,
      bytesSent: s[6]!,
      sendWouldBlock: s[7]!,
      filtered: s[8]!,
      sendErrors: s[9]!,
      segmentedSends: s[10]!,
      segmentationFallbacks: s[11]!,
      groReceives: s[12]!,
      groDatagrams: s[13]!,
    };
  }

  /** Lets the socket keep the event loop alive while it receives (the default). */
  ref(): this {
    if (this.#state !== CLOSED) this.#native.ref();
    return this;
  }

  /** Lets the process exit even though this socket is receiving. */
  unref(): this {
    if (this.#state !== CLOSED) this.#native.unref();
    return this;
  }

  /** Closes the socket. Idempotent; safe inside its own 'batch' or 'message' listener. */
  close(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    this.#native.close();
    noteClosed(this);
    forgetSocket(this);
    this.#batch.count = 0;
    const waiters = this.#writableWaiters;
    this.#writableWaiters = [];
    for (const w of waiters) w.reject(mcastError('ERR_MCAST_SOCKET_CLOSED', 'The socket was closed while waiting to send'));
    process.nextTick(() => this.emit('close'));
  }

  // ---- native callbacks (lib/binding.ts dispatches them) ---------------------------------

  /** @internal */
  onBatch(count: number): void {
    const batch = this.#batch;
    batch.count = count;
    try {
      this.#dispatch.deliver(batch);
    } finally {
      batch.count = 0;
    }
  }

  /** @internal */
  onError(errno: number, syscall: string): void {
    this.emit('error', systemError(errno, syscall, { action: 'receive' }));
  }

  /** @internal */
  onWritable(): void {
    const waiters = this.#writableWaiters;
    this.#writableWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /**
   * @internal Hands the native socket to a feed (lib/feed), whose arbiter then takes every
   * drained batch in native code instead of this socket's listeners, and starts receiving.
   */
  attachConsumer(attach: (native: NativeSocket) => void): void {
    this.#checkOpen('attach a feed');
    attach(this.#native);
    this.#native.setReceiving(true);
  }

  /** @internal The 'message' path's block pool: [allocated new, idle blocks, idle bytes, outstanding]. */
  messageBlocks(): [number, number, number, number] {
    return this.#native.messageBlocks();
  }

  /** @internal The descriptor, or -1 once closed (tests count open descriptors with it). */
  fd(): number {
    return this.#native.fd();
  }
}

/**
 * Creates a UDP socket bound synchronously to `options.port` (throws if it cannot be bound).
 * @example
 * const sock = createSocket({ family: 4, port: 12345 });
 * sock.join('239.1.2.3', { interface: 'eth1' });
 * sock.on('message', (data, info) => console.log(info.address, data.toString()));
 */
export function createSocket(options?: SocketOptions): Socket {
  return new Socket(options);
}
