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
 * This file holds the Socket class: arguments, the bind/connect/send state machine and events.
 * Its parts live in lib/dgram/: the state record (state.ts), the send queue (send-queue.ts),
 * the option setters (options.ts), memberships (memberships.ts), libuv's address and zone
 * reading (addresses.ts), cluster workers (cluster.ts) and the deprecated members
 * (deprecated.ts).
 *
 * Defaults are dgram's, including IP_MULTICAST_ALL at the kernel default (on): with it, a socket
 * receives every group any socket of the host joined on its port. Pass `multicastAll: false` to
 * createSocket (or call setMulticastAll(false)) to receive only the groups this socket joined.
 */
import * as dns from 'node:dns';
import { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import { BlockList, isIP, isIPv4 } from 'node:net';
import type * as NodeDgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

import { isLinkLocalIPv6, MAX_PAYLOAD } from './address';
import { binding } from './binding';
import {
  BUFFER_TYPES,
  EBADF,
  EINVAL,
  EMSGSIZE,
  errnoException,
  errnoOf,
  exceptionWithHostPort,
  ipBlocked,
  isConnected,
  nodeArgType,
  nodeError,
  nodeOutOfRange,
  notConnected,
  notRunning,
  toUint32,
  unsupported,
  uvErrno,
  validateNumber,
  validatePort,
  validateString,
  validateUint32,
} from './dgram-errors';
import { coreAddress } from './dgram/addresses';
import { type ClusterWorkerApi, sharedBind, UV_UDP_IPV6ONLY, UV_UDP_REUSEADDR } from './dgram/cluster';
import { _createSocketHandle, defineDeprecatedMembers } from './dgram/deprecated';
import { membership, sourceMembership } from './dgram/memberships';
import * as options from './dgram/options';
import { SendQueue, type PendingSend, type SendCallback } from './dgram/send-queue';
import {
  BIND_STATE_BINDING,
  BIND_STATE_BOUND,
  BIND_STATE_UNBOUND,
  CONNECT_STATE_CONNECTED,
  CONNECT_STATE_CONNECTING,
  CONNECT_STATE_DISCONNECTED,
  familyOf,
  healthCheck,
  kState,
  openCore,
  openExisting,
  type SharedHandle,
  type DgramState,
} from './dgram/state';
import { McastError } from './errors';
import type { RecvBatch } from './types';

export { _createSocketHandle };

// ---- the socket -----------------------------------------------------------------------------

/** dgram's lookup signature as dgram calls it: (hostname, family, callback). */
type LookupCallback = (error: Error | null, address: string, family?: number) => void;
type LookupFunction = (hostname: string, family: number, callback: LookupCallback) => void;

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

/** Node 24.x stopped a bind() callback from swallowing bind errors; follow the running Node. */
const BIND_CLEANUP_EVENT: string | symbol = (() => {
  try {
    const nodeDgram = require('node:dgram') as typeof NodeDgram;
    return nodeDgram.Socket.prototype.bind.toString().includes('errorMonitor') ? EventEmitter.errorMonitor : 'error';
  } catch {
    return 'error';
  }
})();

/** V8's int32 check, as lib/dgram.js applies it to bind({ fd }). */
function isInt32(value: unknown): value is number {
  return value === ((value as number) | 0);
}

function isArrayBufferView(value: unknown): value is ArrayBufferView {
  return ArrayBuffer.isView(value);
}

function sliceBuffer(buffer: unknown, offset: unknown, length: unknown): Buffer {
  let view: ArrayBufferView;
  if (typeof buffer === 'string') view = Buffer.from(buffer);
  else if (isArrayBufferView(buffer)) view = buffer;
  else throw nodeArgType('buffer', BUFFER_TYPES, buffer);
  const start = Number(offset) >>> 0;
  const count = Number(length) >>> 0;
  if (start > view.byteLength) {
    throw nodeError(RangeError, 'ERR_BUFFER_OUT_OF_BOUNDS', '"offset" is outside of buffer bounds');
  }
  if (start + count > view.byteLength) {
    throw nodeError(RangeError, 'ERR_BUFFER_OUT_OF_BOUNDS', '"length" is outside of buffer bounds');
  }
  return Buffer.from(view.buffer, view.byteOffset + start, count);
}

function fixBufferList(list: readonly unknown[]): Buffer[] | null {
  const fixed: Buffer[] = [];
  for (const item of list) {
    if (typeof item === 'string') fixed.push(Buffer.from(item));
    else if (!isArrayBufferView(item)) return null;
    else fixed.push(Buffer.from(item.buffer, item.byteOffset, item.byteLength));
  }
  return fixed;
}

/** Default lookups: dns.lookup, with dgram's defaults for an empty address. */
function makeLookup(type: SocketType, lookup: LookupFunction): (address: unknown, callback: LookupCallback) => void {
  const fallback = type === 'udp4' ? '127.0.0.1' : '::1';
  const family = type === 'udp4' ? 4 : 6;
  return (address, callback) => lookup((address || fallback) as string, family, callback);
}

const defaultLookup: LookupFunction = (hostname, family, callback) => {
  dns.lookup(hostname, family, callback);
};

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

/** Checks createSocket's options (dgram's and mcast's) into a fresh state record. */
function createState(type: SocketType, o: SocketOptions | undefined): DgramState {
  const extra = (key: 'batchSize' | 'maxMessageSize', fallback: number, max: number): number => {
    const value: unknown = o?.[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'number') throw nodeArgType(`options.${key}`, 'of type number', value);
    if (!Number.isInteger(value) || value < 1 || value > max) throw nodeOutOfRange(`options.${key}`, `>= 1 && <= ${max}`, value);
    return value;
  };
  const multicastAll: unknown = o?.multicastAll;
  if (multicastAll !== undefined && typeof multicastAll !== 'boolean') {
    throw nodeArgType('options.multicastAll', 'of type boolean', multicastAll);
  }
  return {
    type,
    core: null,
    open: true,
    receiving: false,
    bindState: BIND_STATE_UNBOUND,
    connectState: CONNECT_STATE_DISCONNECTED,
    queue: undefined,
    reuseAddr: o?.reuseAddr,
    reusePort: Boolean(o?.reusePort),
    ipv6Only: Boolean(o?.ipv6Only),
    recvBufferSize: o?.recvBufferSize,
    sendBufferSize: o?.sendBufferSize,
    multicastAll: multicastAll ?? true,
    batchSize: extra('batchSize', 32, 1024),
    maxMessageSize: extra('maxMessageSize', 65535, 65535),
    receiveBlockList: o?.receiveBlockList || undefined,
    sendBlockList: o?.sendBlockList || undefined,
    refed: true,
    failedBind: false,
    peer: null,
    sharedHandle: null,
    ownedFd: null,
  };
}

/** Node names the interface of a link-local source, as getnameinfo would. */
function shownSource(address: string, ifindex: number): string {
  if (ifindex <= 0 || !isLinkLocalIPv6(address)) return address;
  return `${address}%${binding.ifIndexToName(ifindex) ?? ifindex}`;
}

/** dgram's stopReceiving(): recvStop, once (defined inside the class, which owns the listener). */
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
  readonly #lookup: (address: unknown, callback: LookupCallback) => void;
  readonly #sendQueue: SendQueue;

  constructor(type: SocketType | SocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) {
    super();
    let kind: unknown = type;
    let lookup: unknown;
    let o: SocketOptions | undefined;
    if (type !== null && typeof type === 'object') {
      o = type;
      kind = o.type;
      lookup = o.lookup;
      if (o.recvBufferSize) validateUint32(o.recvBufferSize, 'options.recvBufferSize');
      if (o.sendBufferSize) validateUint32(o.sendBufferSize, 'options.sendBufferSize');
      for (const key of ['receiveBlockList', 'sendBlockList'] as const) {
        const list: unknown = o[key];
        if (list && !(list instanceof BlockList)) throw nodeArgType(`options.${key}`, 'an net.BlockList', list);
      }
    }
    if (lookup !== undefined && typeof lookup !== 'function') {
      throw nodeArgType('lookup', 'of type function', lookup);
    }
    if (kind !== 'udp4' && kind !== 'udp6') {
      throw nodeError(TypeError, 'ERR_SOCKET_BAD_TYPE', 'Bad socket type specified. Valid types are: udp4, udp6');
    }
    this.type = kind;
    this.#lookup = makeLookup(kind, (lookup as LookupFunction | undefined) ?? defaultLookup);
    if (typeof listener === 'function') this.on('message', listener);
    const state = createState(kind, o);
    this[kState] = state;
    this.#sendQueue = new SendQueue(state, (job) => this.#trySend(job));

    const signal: unknown = o?.signal;
    if (signal !== undefined) {
      if (signal === null || typeof signal !== 'object' || !('aborted' in signal)) {
        throw nodeArgType('options.signal', 'an instance of AbortSignal', signal);
      }
      const abortSignal = signal as AbortSignal;
      const onAborted = (): void => {
        if (state.open) this.close();
      };
      if (abortSignal.aborted) {
        onAborted();
      } else {
        abortSignal.addEventListener('abort', onAborted, { once: true });
        this.once('close', () => abortSignal.removeEventListener('abort', onAborted));
      }
    }
  }

  // ---- bind ----------------------------------------------------------------------------------

  /** Binds to `port` (0 or none: ephemeral) on `address` (none: the wildcard); 'listening' follows. */
  bind(port?: number, address?: string, callback?: () => void): this;
  /** Binds to `port` on the wildcard address. */
  bind(port?: number, callback?: () => void): this;
  /** Binds to an ephemeral port on the wildcard address. */
  bind(callback?: () => void): this;
  /** Binds as `{ port, address, exclusive, fd }` say (`fd` is refused: ERR_MCAST_UNSUPPORTED). */
  bind(options: BindOptions, callback?: () => void): this;
  bind(...args: unknown[]): this {
    let port: unknown = args[0];
    const address_: unknown = args[1];
    const state = this[kState];
    healthCheck(state);
    if (state.bindState !== BIND_STATE_UNBOUND) {
      throw nodeError(Error, 'ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
    }
    const bindOptions = port !== null && typeof port === 'object' ? (port as Record<string, unknown>) : undefined;
    if (bindOptions !== undefined && typeof bindOptions.recvStart === 'function' && !isInt32(bindOptions.fd)) {
      throw unsupported('bind(handle) with a handle that has no descriptor', 'bind a port, or pass a UDP handle');
    }
    let exclusive: boolean;
    let address: unknown;
    if (bindOptions !== undefined) {
      address = bindOptions.address || '';
      exclusive = Boolean(bindOptions.exclusive);
      port = bindOptions.port;
    } else {
      address = typeof address_ === 'function' ? '' : address_;
      exclusive = false;
    }
    state.bindState = BIND_STATE_BINDING;

    const cb = args.length > 0 ? args[args.length - 1] : undefined;
    if (typeof cb === 'function') {
      const onListening = (): void => {
        removeListeners();
        (cb as () => void).call(this);
      };
      const removeListeners = (): void => {
        this.removeListener(BIND_CLEANUP_EVENT, removeListeners);
        this.removeListener('listening', onListening);
      };
      this.on(BIND_CLEANUP_EVENT, removeListeners);
      this.on('listening', onListening);
    }
    if (bindOptions !== undefined && typeof bindOptions.recvStart === 'function') {
      this.#bindHandle(bindOptions as unknown as SharedHandle);
      return this;
    }
    if (bindOptions !== undefined && isInt32(bindOptions.fd) && bindOptions.fd > 0) {
      this.#bindFd(bindOptions.fd, Boolean(bindOptions.exclusive));
      return this;
    }

    if (!address) address = this.type === 'udp4' ? '0.0.0.0' : '::';

    this.#lookup(address, (error, ip) => {
      if (!state.open) return;
      if (error) {
        state.bindState = BIND_STATE_UNBOUND;
        this.emit('error', error);
        return;
      }
      const cluster = sharedBind(exclusive, state.reusePort);
      if (cluster !== undefined) {
        this.#bindShared(cluster, ip, port);
        return;
      }
      const bindError = this.#bindTo(ip, port);
      if (bindError !== null) {
        state.bindState = BIND_STATE_UNBOUND;
        this.emit('error', bindError);
        return;
      }
      this.#startListening();
    });
    return this;
  }

  /** handle.bind(ip, port, flags): libuv's uv_udp_bind, the zone of `ip` as sin6_scope_id. */
  #bindTo(ip: string, port: unknown): Error | null {
    const state = this[kState];
    const number = toUint32(port || 0) & 0xffff;
    const family = this.type === 'udp4' ? 4 : 6;
    if (state.core !== null || isIP(ip.split('%')[0] ?? '') !== family) {
      // A bound descriptor cannot be bound again; an address of the other family does not parse.
      return exceptionWithHostPort(EINVAL, 'bind', ip, port);
    }
    const errno = openCore(state, family, coreAddress(ip), number, state.reuseAddr, state.ipv6Only);
    state.failedBind = errno !== 0;
    return errno === 0 ? null : exceptionWithHostPort(errno, 'bind', ip, port);
  }

  /**
   * bind({ fd }): libuv's uv_udp_open takes the descriptor over (close() closes it) and the
   * socket listens at once, within bind(). A cluster worker asks the primary instead.
   */
  #bindFd(fd: number, exclusive: boolean): void {
    const state = this[kState];
    const cluster = sharedBind(exclusive, false);
    if (cluster !== undefined) {
      this.#bindShared(cluster, null, null, fd);
      return;
    }
    const type = binding.guessHandleType(fd);
    if (type !== 'UDP') throw nodeError(TypeError, 'ERR_INVALID_FD_TYPE', `Unsupported fd type: ${type}`);
    const errno = openExisting(state, this.type === 'udp4' ? 4 : 6, fd);
    if (errno) throw errnoException(errno, 'open');
    state.ownedFd = fd;
    this.#startListening();
  }

  /**
   * bind(handle): lib/dgram.js's replaceHandle(), the socket of a Node UDP handle (as a cluster
   * worker's bind gets it); it listens at once, within bind(), and close() closes the handle.
   */
  #bindHandle(handle: SharedHandle): void {
    const state = this[kState];
    const errno = openExisting(state, this.type === 'udp4' ? 4 : 6, handle.fd);
    if (errno) throw errnoException(errno, 'open');
    // Its datagrams are this socket's now (Node points the handle's onmessage here): the
    // handle's own reading stops, mcast reads the duplicate.
    handle.recvStop?.();
    handle.unref?.();
    state.sharedHandle = handle;
    this.#startListening();
  }

  /** lib/dgram.js's bindServerHandle(): the primary's socket, over IPC, then 'listening'. */
  #bindShared(cluster: ClusterWorkerApi, ip: string | null, port: unknown, fd = -1): void {
    const state = this[kState];
    const flags = fd >= 0 ? null : (state.reuseAddr ? UV_UDP_REUSEADDR : 0) | (state.ipv6Only ? UV_UDP_IPV6ONLY : 0);
    const fail = (errno: number): void => {
      state.bindState = BIND_STATE_UNBOUND;
      this.emit('error', fd >= 0 ? errnoException(errno, 'open') : exceptionWithHostPort(errno, 'bind', ip, port));
    };
    cluster._getServer(this, { address: ip, port, addressType: this.type, fd, flags }, (errno, handle) => {
      if (errno) {
        fail(errno);
        return;
      }
      if (!state.open) {
        handle.close(); // closed in the meantime
        return;
      }
      const openErrno = openExisting(state, this.type === 'udp4' ? 4 : 6, handle.fd);
      if (openErrno !== 0) {
        handle.close();
        fail(openErrno);
        return;
      }
      handle.unref?.();
      state.sharedHandle = handle;
      this.#startListening();
    });
  }

  #startListening(): void {
    const state = this[kState];
    const core = state.core;
    if (core === null) return;
    core.on('batch', this.#onBatch);
    core.on('error', this.#onCoreError);
    state.receiving = true;
    this.#delivering = true;
    state.bindState = BIND_STATE_BOUND;
    if (state.recvBufferSize) options.bufferSize(state, state.recvBufferSize, true);
    if (state.sendBufferSize) options.bufferSize(state, state.sendBufferSize, false);
    this.emit('listening');
  }

  /** Whether 'batch' feeds 'message' (Node's recvStart..recvStop), apart from `receiving`. */
  #delivering = false;

  static {
    stopReceiving = (socket: Socket): void => {
      const state = socket[kState];
      if (!state.receiving) return;
      state.core?.off('batch', socket.#onBatch);
      socket.#delivering = false;
      state.receiving = false;
    };
  }

  readonly #onBatch = (batch: RecvBatch): void => {
    const state = this[kState];
    const core = state.core;
    const family = familyOf(state) === 4 ? 'IPv4' : 'IPv6';
    const blocked = state.receiveBlockList;
    for (let i = 0; i < batch.count && state.core === core && this.#delivering; i++) {
      const address = family === 'IPv6' ? shownSource(batch.address(i), batch.interfaceIndex(i)) : batch.address(i);
      if (blocked?.check(address, family === 'IPv4' ? 'ipv4' : 'ipv6')) continue;
      // A copy of its own for each datagram: the receive slab is reused by the next batch.
      const start = batch.offset(i);
      const size = batch.size(i);
      const message = Buffer.allocUnsafeSlow(size);
      batch.buffer.copy(message, 0, start, start + size);
      this.emit('message', message, { address, family, port: batch.port(i), size });
    }
  };

  readonly #onCoreError = (error: Error): void => {
    // dgram reports a failed receive as `recvmsg <CODE>`.
    this.emit('error', error instanceof McastError ? errnoException(error.errno, 'recvmsg') : error);
  };

  // ---- connect ---------------------------------------------------------------------------------

  /** Associates the socket with one peer (`address` default: localhost); 'connect' follows. */
  connect(port: number, address?: string, callback?: () => void): void;
  /** Associates the socket with `port` on localhost. */
  connect(port: number, callback: () => void): void;
  connect(portArg: unknown, addressArg?: unknown, callbackArg?: unknown): void {
    const state = this[kState];
    const port = validatePort(portArg, 'Port', false);
    let address = addressArg;
    let callback = callbackArg;
    if (typeof address === 'function') {
      callback = address;
      address = '';
    } else if (address === undefined) {
      address = '';
    }
    validateString(address, 'address');
    if (state.connectState !== CONNECT_STATE_DISCONNECTED) throw isConnected();
    state.connectState = CONNECT_STATE_CONNECTING;
    if (state.bindState === BIND_STATE_UNBOUND) this.bind({ port: 0, exclusive: true });
    const connectAddress = address;
    if (state.bindState !== BIND_STATE_BOUND) {
      this.#enqueue(() => this.#connect(port, connectAddress, callback));
      return;
    }
    this.#connect(port, connectAddress, callback);
  }

  #connect(port: number, address: string, callback: unknown): void {
    const state = this[kState];
    const cb = typeof callback === 'function' ? (callback as (error?: Error) => void) : undefined;
    if (cb) this.once('connect', cb);
    this.#lookup(address, (lookupError, ip) => {
      if (!state.open) return;
      let error: Error | null = lookupError;
      if (!error && state.sendBlockList?.check(ip, `ipv${isIP(ip) === 6 ? 6 : 4}`)) error = ipBlocked(ip);
      if (!error) {
        const errno = this.#connectCore(ip, port);
        if (errno !== 0) error = exceptionWithHostPort(errno, 'connect', address, port);
      }
      if (error) {
        const failure = error;
        state.connectState = CONNECT_STATE_DISCONNECTED;
        process.nextTick(() => {
          if (cb) {
            this.removeListener('connect', cb);
            cb(failure);
          } else {
            this.emit('error', failure);
          }
        });
        return;
      }
      state.connectState = CONNECT_STATE_CONNECTED;
      process.nextTick(() => this.emit('connect'));
    });
  }

  #connectCore(ip: string, port: number): number {
    const state = this[kState];
    const core = state.core;
    if (core === null) return EBADF;
    if (isIP(ip.split('%')[0] ?? '') !== core.family) return EINVAL;
    const text = coreAddress(ip);
    try {
      core.connect(text, port);
    } catch (error) {
      return errnoOf(error);
    }
    state.peer = { address: text, port };
    return 0;
  }

  disconnect(): void {
    const state = this[kState];
    if (state.connectState !== CONNECT_STATE_CONNECTED) throw notConnected();
    const core = state.core;
    if (core === null) throw notRunning();
    try {
      core.disconnect();
    } catch (error) {
      throw errnoException(errnoOf(error), 'connect');
    }
    state.connectState = CONNECT_STATE_DISCONNECTED;
    state.peer = null;
  }

  remoteAddress(): AddressInfo {
    const state = this[kState];
    healthCheck(state);
    if (state.connectState !== CONNECT_STATE_CONNECTED) throw notConnected();
    const core = state.core;
    if (core === null) throw errnoException(uvErrno('ENOTCONN'), 'getpeername');
    try {
      return core.remoteAddress();
    } catch (error) {
      throw errnoException(errnoOf(error), 'getpeername');
    }
  }

  // ---- send ------------------------------------------------------------------------------------

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
  send(msg: string | NodeJS.ArrayBufferView, offset: number, length: number, callback?: (error: Error | null, bytes: number) => void): void;
  send(...args: unknown[]): void {
    const state = this[kState];
    let [buffer, offset, length, port, address, callback] = args;
    const connected = state.connectState === CONNECT_STATE_CONNECTED;
    if (!connected) {
      if (address || (port && typeof port !== 'function')) {
        buffer = sliceBuffer(buffer, offset, length);
      } else {
        callback = port;
        port = offset;
        address = length;
      }
    } else {
      if (typeof length === 'number') {
        buffer = sliceBuffer(buffer, offset, length);
        if (typeof port === 'function') {
          callback = port;
          port = null;
        }
      } else {
        callback = offset;
      }
      if (port || address) throw isConnected();
    }

    let list: Buffer[];
    if (!Array.isArray(buffer)) {
      if (typeof buffer === 'string') list = [Buffer.from(buffer)];
      else if (!isArrayBufferView(buffer)) throw nodeArgType('buffer', BUFFER_TYPES, buffer);
      else list = [Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength)];
    } else {
      const fixed = fixBufferList(buffer);
      if (fixed === null) throw nodeArgType('buffer list arguments', BUFFER_TYPES, buffer);
      list = fixed;
    }

    if (!connected) port = validatePort(port, 'Port', false);
    if (typeof callback !== 'function') callback = undefined;
    if (typeof address === 'function') {
      callback = address;
      address = undefined;
    } else if (address !== null && address !== undefined) {
      validateString(address, 'address');
    }

    healthCheck(state);
    if (state.bindState === BIND_STATE_UNBOUND) this.bind({ port: 0, exclusive: true });
    if (list.length === 0) list.push(Buffer.alloc(0));
    if (state.bindState !== BIND_STATE_BOUND) {
      const [queuedList, queuedPort, queuedAddress, queuedCallback] = [list, port, address, callback];
      this.#enqueue(() => (this.send as (...a: unknown[]) => void)(queuedList, queuedPort, queuedAddress, queuedCallback));
      return;
    }

    const cb = callback as SendCallback | undefined;
    if (!connected) {
      const shownAddress = address;
      const shownPort = port as number;
      this.#lookup(address, (error, ip) => this.#doSend(error, ip, list, shownAddress, shownPort, cb));
    } else {
      this.#doSend(null, '', list, address, port, cb);
    }
  }

  #doSend(error: Error | null, ip: string, list: Buffer[], address: unknown, port: unknown, callback: SendCallback | undefined): void {
    const state = this[kState];
    if (!error && ip && state.sendBlockList?.check(ip, `ipv${isIP(ip) === 6 ? 6 : 4}`)) {
      if (callback) process.nextTick(callback, ipBlocked(ip));
      return;
    }
    if (error) {
      if (callback) process.nextTick(callback, error);
      else process.nextTick(() => this.emit('error', error));
      return;
    }
    if (!state.open || state.core === null) return;
    const data = list.length === 1 ? (list[0] as Buffer) : Buffer.concat(list);
    const peer = state.peer;
    this.#sendQueue.send({
      data,
      address: peer !== null && !ip ? peer.address : coreAddress(ip),
      port: peer !== null && !ip ? peer.port : (port as number),
      shownAddress: address,
      shownPort: port,
      callback,
    });
  }

  /** 0 when sent, 1 when the send buffer is full, or a negative errno. */
  #trySend(job: PendingSend): number {
    const core = this[kState].core;
    if (core === null) return EBADF;
    const family = core.family;
    // libuv parses the address for the socket's family: another family does not parse.
    if (isIP(job.address.split('%')[0] ?? '') !== family) return EINVAL;
    if (job.data.length > MAX_PAYLOAD[family]) return EMSGSIZE;
    try {
      return core.send(job.data, job.address, job.port) ? 0 : 1;
    } catch (error) {
      return errnoOf(error);
    }
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

  /** dgram's enqueue(): calls made while binding wait for 'listening' (dropped on an error). */
  #enqueue(job: () => void): void {
    const state = this[kState];
    if (state.queue === undefined) {
      state.queue = [];
      this.once(EventEmitter.errorMonitor, this.#onListenError);
      this.once('listening', this.#onListenSuccess);
    }
    state.queue.push(job);
  }

  readonly #onListenSuccess = (): void => {
    this.removeListener(EventEmitter.errorMonitor, this.#onListenError);
    const state = this[kState];
    const queue = state.queue ?? [];
    state.queue = undefined;
    for (const job of queue) job();
  };

  readonly #onListenError = (): void => {
    this.removeListener('listening', this.#onListenSuccess);
    this[kState].queue = undefined;
  };

  getSendQueueSize(): number {
    return this.#sendQueue.bytes;
  }

  getSendQueueCount(): number {
    return this.#sendQueue.count;
  }

  // ---- close, address, ref ---------------------------------------------------------------------

  close(callback?: () => void): this {
    const state = this[kState];
    const queue = state.queue;
    if (typeof callback === 'function') this.on('close', callback);
    if (queue !== undefined) {
      queue.push(() => this.close());
      return this;
    }
    healthCheck(state);
    stopReceiving(this);
    const core = state.core;
    state.core = null;
    state.open = false;
    if (core !== null) {
      core.off('error', this.#onCoreError);
      core.close();
    }
    state.sharedHandle?.close();
    state.sharedHandle = null;
    if (state.ownedFd !== null) {
      try {
        closeSync(state.ownedFd);
      } catch {
        // Closed by its former owner already: libuv's uv_close does not report it either.
      }
      state.ownedFd = null;
    }
    process.nextTick(() => this.emit('close'));
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
    validateNumber(ttl, 'ttl');
    const errno = options.setTtl(this[kState], ttl, false);
    if (errno) throw errnoException(errno, 'setTTL');
    return ttl;
  }

  setMulticastTTL(ttl: number): number {
    validateNumber(ttl, 'ttl');
    const errno = options.setTtl(this[kState], ttl, true);
    if (errno) throw errnoException(errno, 'setMulticastTTL');
    return ttl;
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
    this.#changeMembership('addMembership', multicastAddress, multicastInterface, true);
  }

  dropMembership(multicastAddress: string, multicastInterface?: string): void {
    this.#changeMembership('dropMembership', multicastAddress, multicastInterface, false);
  }

  #changeMembership(syscall: string, group: unknown, iface: unknown, join: boolean): void {
    healthCheck(this[kState]);
    if (!group) throw nodeError(TypeError, 'ERR_MISSING_ARGS', 'The "multicastAddress" argument must be specified');
    const errno = membership(this[kState], String(group), iface === undefined || iface === null ? null : String(iface), join);
    if (errno) throw errnoException(errno, syscall);
  }

  addSourceSpecificMembership(sourceAddress: string, groupAddress: string, multicastInterface?: string): void {
    this.#changeSourceMembership('addSourceSpecificMembership', sourceAddress, groupAddress, multicastInterface, true);
  }

  dropSourceSpecificMembership(sourceAddress: string, groupAddress: string, multicastInterface?: string): void {
    this.#changeSourceMembership('dropSourceSpecificMembership', sourceAddress, groupAddress, multicastInterface, false);
  }

  #changeSourceMembership(syscall: string, source: unknown, group: unknown, iface: unknown, join: boolean): void {
    healthCheck(this[kState]);
    validateString(source, 'sourceAddress');
    validateString(group, 'groupAddress');
    const errno = sourceMembership(this[kState], source, group, iface === undefined || iface === null ? null : String(iface), join);
    if (errno) throw errnoException(errno, syscall);
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
