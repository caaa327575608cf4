/**
 * `mcast/dgram`: Node's `dgram` API on mcast's socket, so that code written for `dgram` switches
 * with one line and receives with recvmmsg batches underneath.
 *
 *   const dgram = require('mcast/dgram');   // instead of require('node:dgram')
 *
 * It follows Node's lib/dgram.js step by step (argument forms, the unbound → binding → bound
 * states, the send queue before 'listening', which errors are thrown and which are emitted or
 * passed to callbacks, their codes and messages) and libuv's src/unix/udp.c for what the handle
 * does (which socket option each call sets, with which struct, and in which order things are
 * checked), so that a program sees the same thing with either module. Memberships go through
 * the core socket's one membership operation (which also keeps its IPv6 interface filter); the
 * other options are set with the core socket's setsockopt as libuv sets them, so the kernel's
 * own errors come back unchanged. Everything that cannot behave like dgram throws
 * ERR_MCAST_UNSUPPORTED instead of doing something else quietly.
 *
 * This file holds the Socket class, its public types and createSocket: each method checks
 * nothing itself but hands the socket's parts (lib/dgram/parts.ts) to the module that does the
 * work, in lib/dgram/: createSocket's arguments and state record (create.ts, state.ts), bind,
 * the calls queued until 'listening' and close (lifecycle.ts), receive dispatch (receive.ts),
 * send (send.ts) and its queue (send-queue.ts), connect (connect.ts), the option setters
 * (options.ts), memberships (memberships.ts), libuv's address and zone reading (addresses.ts),
 * cluster workers (cluster.ts) and the deprecated members (deprecated.ts).
 *
 * Defaults are dgram's, including IP_MULTICAST_ALL at the kernel default (on): with it, a socket
 * receives every group any socket of the host joined on its port. Pass `multicastAll: false` to
 * createSocket (or call setMulticastAll(false)) to receive only the groups this socket joined.
 */
import { EventEmitter } from 'node:events';
import type * as NodeDgram from 'node:dgram';
import type { AddressInfo, BlockList } from 'node:net';

import { EBADF, errnoException, errnoOf, nodeArgType, unsupported, validateNumber, validateString } from './dgram-errors';
import * as connection from './dgram/connect';
import { createArguments, createState, makeLookup, watchSignal } from './dgram/create';
import { _createSocketHandle, defineDeprecatedMembers } from './dgram/deprecated';
import * as lifecycle from './dgram/lifecycle';
import { changeMembership, changeSourceMembership } from './dgram/memberships';
import * as options from './dgram/options';
import type { DgramSocket, SocketParts } from './dgram/parts';
import { Receiver } from './dgram/receive';
import { send, trySend } from './dgram/send';
import { SendQueue } from './dgram/send-queue';
import { healthCheck, kState, type DgramState } from './dgram/state';

export { _createSocketHandle };

// ---- the socket -----------------------------------------------------------------------------

/** `'udp4'` or `'udp6'`, as in node:dgram. */
export type SocketType = NodeDgram.SocketType;
/** The sender of a received datagram, as in node:dgram. */
export type RemoteInfo = NodeDgram.RemoteInfo;
/** The options object of `bind()`, as in node:dgram. */
export type BindOptions = NodeDgram.BindOptions;

/** createSocket's options: dgram's, plus what mcast adds. */
export interface SocketOptions extends NodeDgram.SocketOptions {
  /** SO_REUSEPORT (Node 22.12+ dgram option; mcast accepts it on every Node version). */
  reusePort?: boolean | undefined;
  /** Node 22.13+: drop datagrams from these addresses. */
  receiveBlockList?: BlockList | undefined;
  /** Node 22.13+: refuse to send to these addresses (ERR_IP_BLOCKED). */
  sendBlockList?: BlockList | undefined;
  /**
   * mcast: IP_MULTICAST_ALL / IPV6_MULTICAST_ALL. Default true, the kernel default that dgram
   * leaves alone: the socket receives every group that any socket of the host joined on its port.
   * false: only the (group, interface) pairs this socket joined itself.
   */
  multicastAll?: boolean | undefined;
  /** mcast: datagrams read per recvmmsg call, 1 to 1024 (default 32). */
  batchSize?: number | undefined;
  /**
   * mcast: bytes kept per datagram, 1 to 65535 (default 65535, as dgram: nothing is cut). A
   * longer datagram is delivered cut to this size.
   */
  maxMessageSize?: number | undefined;
}

export interface Socket {
  /** 'close' after close(), 'connect' when connect() succeeded, 'listening' once bound. */
  on(event: 'close' | 'connect' | 'listening', listener: () => void): this;
  /** A bind, send or receive error (a send error goes to send()'s callback when it has one). */
  on(event: 'error', listener: (err: Error) => void): this;
  /** A datagram and its sender. */
  on(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  /** Any other event, as EventEmitter. */
  on(event: string | symbol, listener: (...args: never[]) => void): this;
  /** 'close', 'connect' or 'listening', once. */
  once(event: 'close' | 'connect' | 'listening', listener: () => void): this;
  /** The next error only. */
  once(event: 'error', listener: (err: Error) => void): this;
  /** The next datagram only. */
  once(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  /** Any other event, once, as EventEmitter. */
  once(event: string | symbol, listener: (...args: never[]) => void): this;
}

/** setTTL / setMulticastTTL: the number check, then IP(V6)_(MULTICAST_)TTL or dgram's exception. */
function setTtl(state: DgramState, ttl: number, multicast: boolean, syscall: string): number {
  validateNumber(ttl, 'ttl');
  const errno = options.setTtl(state, ttl, multicast);
  if (errno) throw errnoException(errno, syscall);
  return ttl;
}

/** dgram's stopReceiving(): recvStop, once (defined inside the class, which owns the parts). */
let stopReceiving: (socket: Socket) => void;

/**
 * A UDP socket with the API and behaviour of Node's `dgram.Socket`. Like dgram's, it is created
 * unbound; bind() (or the first send, connect or addMembership) opens the descriptor.
 */
export class Socket extends EventEmitter implements NodeDgram.Socket {
  /** `'udp4'` or `'udp6'`, as given to createSocket. */
  readonly type: SocketType;
  /** @internal Everything else the socket is: one record, as Node's `this[kStateSymbol]`. */
  readonly [kState]: DgramState;
  readonly #parts: SocketParts;

  constructor(type: SocketType | SocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) {
    super();
    const created = createArguments(type);
    this.type = created.type;
    const lookup = makeLookup(created.type, created.lookup);
    if (typeof listener === 'function') this.on('message', listener);
    const state = createState(created.type, created.options);
    this[kState] = state;
    this.#parts = {
      socket: this as DgramSocket,
      state,
      lookup,
      receiver: new Receiver(this, state),
      sendQueue: new SendQueue(state, (job) => trySend(state, job)),
    };
    watchSignal(this, state, created.options?.signal);
  }

  static {
    stopReceiving = (socket: Socket): void => socket.#parts.receiver.stop();
  }

  // ---- bind, connect (lib/dgram/lifecycle.ts, lib/dgram/connect.ts) ---------------------------

  /** Binds to `port` (0 or none: ephemeral) on `address` (none: the wildcard); 'listening' follows. */
  bind(port?: number, address?: string, callback?: () => void): this;
  /** Binds to `port` on the wildcard address. */
  bind(port?: number, callback?: () => void): this;
  /** Binds to an ephemeral port on the wildcard address. */
  bind(callback?: () => void): this;
  /** Binds as `{ port, address, exclusive, fd }` say (`fd` is refused: ERR_MCAST_UNSUPPORTED). */
  bind(options: BindOptions, callback?: () => void): this;  bind(...args: unknown[]): this {
    lifecycle.bind(this.#parts, args);
    return this;
  }

  /** Associates the socket with one peer (`address` default: localhost); 'connect' follows. */
  connect(port: number, address?: string, callback?: () => void): void;
  /** Associates the socket with `port` on localhost. */
  connect(port: number, callback: () => void): void;  connect(port: unknown, address?: unknown, callback?: unknown): void {
    connection.connect(this.#parts, port, address, callback);
  }

  disconnect(): void {
    connection.disconnect(this[kState]);
  }

  remoteAddress(): AddressInfo {
    return connection.remoteAddress(this[kState]);
  }

  // ---- send (lib/dgram/send.ts) ----------------------------------------------------------------

  /** Sends one datagram (a list of buffers is sent as one) to `address:port` (a connected socket: neither). */
  send(
    msg: string | NodeJS.ArrayBufferView | readonly unknown[],
    port?: number,
    address?: string,
    callback?: (error: Error | null, bytes: number) => void,
  ): void;
  /** Sends to `port` on localhost (the address given by dns.lookup for an empty name). */
  send(msg: string | NodeJS.ArrayBufferView | readonly unknown[], port?: number, callback?: (error: Error | null, bytes: number) => void): void;
  /** Sends on a connected socket. */
  send(msg: string | NodeJS.ArrayBufferView | readonly unknown[], callback?: (error: Error | null, bytes: number) => void): void;
  /** Sends `length` bytes of `msg` from `offset` to `address:port`. */
  send(
    msg: string | NodeJS.ArrayBufferView,
    offset: number,
    length: number,
    port?: number,
    address?: string,
    callback?: (error: Error | null, bytes: number) => void,
  ): void;
  /** Sends `length` bytes of `msg` from `offset` to `port` on localhost. */
  send(
    msg: string | NodeJS.ArrayBufferView,
    offset: number,
    length: number,
    port?: number,
    callback?: (error: Error | null, bytes: number) => void,
  ): void;
  /** Sends `length` bytes of `msg` from `offset` on a connected socket. */
  send(msg: string | NodeJS.ArrayBufferView, offset: number, length: number, callback?: (error: Error | null, bytes: number) => void): void;  send(...args: unknown[]): void {
    send(this.#parts, args);
  }

  /** Legacy dgram alias: send(buffer, offset, length, port, address, callback). */
  sendto(
    buffer: string | NodeJS.ArrayBufferView,
    offset: number,
    length: number,
    port: number,
    address: string,
    callback?: (error: Error | null, bytes: number) => void,
  ): void {
    validateNumber(offset, 'offset');
    validateNumber(length, 'length');
    validateNumber(port, 'port');
    validateString(address, 'address');
    this.send(buffer, offset, length, port, address, callback);
  }

  getSendQueueSize(): number {
    return this.#parts.sendQueue.bytes;
  }

  getSendQueueCount(): number {
    return this.#parts.sendQueue.count;
  }

  // ---- close, address, ref ---------------------------------------------------------------------

  close(callback?: () => void): this {
    lifecycle.close(this.#parts, callback);
    return this;
  }

  /** `await using` support: closes the socket and resolves on 'close'. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this[kState].open) return;
    await new Promise<void>((resolve) => this.close(resolve));
  }

  address(): AddressInfo {
    const state = this[kState];
    healthCheck(state);
    const core = state.core;
    if (core === null && state.failedBind) {
      return this.type === 'udp4' ? { address: '0.0.0.0', family: 'IPv4', port: 0 } : { address: '::', family: 'IPv6', port: 0 };
    }
    if (core === null) throw errnoException(EBADF, 'getsockname');
    try {
      return core.address();
    } catch (error) {
      throw errnoException(errnoOf(error), 'getsockname');
    }
  }

  ref(): this {
    const state = this[kState];
    if (state.open) {
      state.refed = true;
      state.core?.ref();
    }
    return this;
  }

  unref(): this {
    const state = this[kState];
    if (state.open) {
      state.refed = false;
      state.core?.unref();
    }
    return this;
  }

  // ---- socket options (lib/dgram/options.ts) ---------------------------------------------------

  setBroadcast(flag: boolean): void {
    const errno = options.setBroadcast(this[kState], flag);
    if (errno) throw errnoException(errno, 'setBroadcast');
  }

  setTTL(ttl: number): number {
    return setTtl(this[kState], ttl, false, 'setTTL');
  }

  setMulticastTTL(ttl: number): number {
    return setTtl(this[kState], ttl, true, 'setMulticastTTL');
  }

  setMulticastLoopback(flag: boolean): boolean {
    const errno = options.setMulticastLoopback(this[kState], flag);
    if (errno) throw errnoException(errno, 'setMulticastLoopback');
    return flag;
  }

  /**
   * The outgoing interface for multicast: an IPv4 address of the interface, or for IPv6 the
   * scope (`'::%eth1'`), as libuv takes it.
   */
  setMulticastInterface(interfaceAddress: string): void {
    healthCheck(this[kState]);
    validateString(interfaceAddress, 'interfaceAddress');
    const errno = options.setMulticastInterface(this[kState], interfaceAddress);
    if (errno) throw errnoException(errno, 'setMulticastInterface');
  }

  /** mcast: IP_MULTICAST_ALL / IPV6_MULTICAST_ALL (see the createSocket option multicastAll). */
  setMulticastAll(flag: boolean): this {
    if (typeof flag !== 'boolean') throw nodeArgType('flag', 'of type boolean', flag);
    healthCheck(this[kState]);
    options.setMulticastAll(this[kState], flag);
    return this;
  }

  setRecvBufferSize(size: number): void {
    options.bufferSize(this[kState], size, true);
  }

  setSendBufferSize(size: number): void {
    options.bufferSize(this[kState], size, false);
  }

  getRecvBufferSize(): number {
    return options.bufferSize(this[kState], 0, true);
  }

  getSendBufferSize(): number {
    return options.bufferSize(this[kState], 0, false);
  }

  // ---- memberships (lib/dgram/memberships.ts) --------------------------------------------------

  addMembership(multicastAddress: string, multicastInterface?: string): void {
    changeMembership(this[kState], 'addMembership', multicastAddress, multicastInterface, true);
  }

  dropMembership(multicastAddress: string, multicastInterface?: string): void {
    changeMembership(this[kState], 'dropMembership', multicastAddress, multicastInterface, false);
  }

  addSourceSpecificMembership(sourceAddress: string, groupAddress: string, multicastInterface?: string): void {
    changeSourceMembership(this[kState], 'addSourceSpecificMembership', sourceAddress, groupAddress, multicastInterface, true);
  }

  dropSourceSpecificMembership(sourceAddress: string, groupAddress: string, multicastInterface?: string): void {
    changeSourceMembership(this[kState], 'dropSourceSpecificMembership', sourceAddress, groupAddress, multicastInterface, false);
  }

  // ---- not supported -------------------------------------------------------------------------

  /** Node 24's synchronous bind: not provided yet. */
  bindSync(): never {
    throw unsupported('bindSync()', 'use bind() and its callback or the listening event');
  }

  /** Node 24's synchronous connect: not provided yet. */
  connectSync(): never {
    throw unsupported('connectSync()', 'use connect() and its callback or the connect event');
  }
}

defineDeprecatedMembers(Socket.prototype, (socket) => stopReceiving(socket as Socket));

/**
 * Creates a socket like `dgram.createSocket`: `'udp4'`, `'udp6'` or an options object, and an
 * optional 'message' listener.
 * @example
 * const dgram = require('mcast/dgram');
 * const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
 * sock.on('message', (msg, rinfo) => console.log(rinfo.address, msg.toString()));
 * sock.bind(5353, () => sock.addMembership('224.0.0.251', '127.0.0.1'));
 */
export function createSocket(type: SocketType, callback?: (msg: Buffer, rinfo: RemoteInfo) => void): Socket;
export function createSocket(options: SocketOptions, callback?: (msg: Buffer, rinfo: RemoteInfo) => void): Socket;
export function createSocket(type: SocketType | SocketOptions, callback?: (msg: Buffer, rinfo: RemoteInfo) => void): Socket {
  return new Socket(type, callback);
}
