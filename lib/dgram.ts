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
 * checked), so that a program sees the same thing with either module. The socket options are set
 * with the raw setsockopt of the mcast socket, exactly as libuv sets them, so the kernel's own
 * errors come back unchanged. Everything that cannot behave like dgram throws
 * ERR_MCAST_UNSUPPORTED instead of doing something else quietly.
 *
 * Defaults are dgram's, including IP_MULTICAST_ALL at the kernel default (on): with it, a socket
 * receives every group any socket of the host joined on its port. Pass `multicastAll: false` to
 * createSocket (or call setMulticastAll(false)) to receive only the groups this socket joined.
 */
import * as dns from 'node:dns';
import { EventEmitter } from 'node:events';
import { BlockList, isIP, isIPv4, isIPv6 } from 'node:net';
import { endianness } from 'node:os';
import type * as NodeDgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

import { binding } from './binding';
import {
  BUFFER_TYPES,
  EBADF,
  ECANCELED,
  EINVAL,
  EMSGSIZE,
  errnoException,
  errnoOf,
  exceptionWithHostPort,
  invalidArgType,
  ipBlocked,
  isConnected,
  nodeError,
  notConnected,
  notRunning,
  outOfRange,
  SystemError,
  toUint32,
  unsupported,
  uvErrno,
  validateNumber,
  validatePort,
  validateString,
  validateUint32,
} from './dgram-errors';
import { McastError } from './errors';
import { Socket as CoreSocket } from './socket';
import type { RecvBatch } from './types';

const C = binding.constants;

// ---- addresses as libuv parses them -------------------------------------------------------------

const LITTLE_ENDIAN = endianness() === 'LE';
/** sockaddr_storage is aligned to `unsigned long`: 8 bytes on 64-bit targets, 4 on 32-bit ones. */
const STORAGE_ALIGN = ['arm', 'ia32', 'mips', 'mipsel', 'ppc'].includes(process.arch) ? 4 : 8;
const SOCKADDR_STORAGE = 128;

function ipv4Bytes(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

/** 16 bytes of a numeric IPv6 address (already checked with isIPv6, without a zone). */
function ipv6Bytes(text: string): Buffer {
  const words = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((piece) => {
          if (!piece.includes('.')) return [Number.parseInt(piece, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const gap = text.indexOf('::');
  let all: number[];
  if (gap < 0) {
    all = words(text);
  } else {
    const head = words(text.slice(0, gap));
    const tail = words(text.slice(gap + 2));
    all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const bytes = Buffer.alloc(16);
  all.forEach((word, i) => bytes.writeUInt16BE(word, i * 2));
  return bytes;
}

interface IPv6Address {
  bytes: Buffer;
  /** if_nametoindex(zone): 0 without a zone or for an unknown one, which libuv ignores too. */
  scopeId: number;
}

/** uv_ip6_addr(): an IPv6 address with an optional `%zone` (an interface name). */
function parseIPv6(text: string): IPv6Address | undefined {
  const at = text.indexOf('%');
  const address = at < 0 ? text : text.slice(0, at);
  if (!isIPv6(address)) return undefined;
  const scopeId = at < 0 ? 0 : binding.ifNameToIndex(text.slice(at + 1));
  return { bytes: ipv6Bytes(address), scopeId };
}

/**
 * The interface of an IPv6 membership as libuv takes it: an address whose `%zone` names the
 * interface (no zone, or none given: 0, the kernel's choice); undefined when it is no address.
 */
function membershipIfindex(iface: string | null): number | undefined {
  if (iface === null) return 0;
  return parseIPv6(iface)?.scopeId;
}

function writeNative(buffer: Buffer, value: number, offset: number, bytes: 2 | 4): void {
  if (bytes === 2) {
    if (LITTLE_ENDIAN) buffer.writeUInt16LE(value, offset);
    else buffer.writeUInt16BE(value, offset);
  } else if (LITTLE_ENDIAN) {
    buffer.writeUInt32LE(value, offset);
  } else {
    buffer.writeUInt32BE(value, offset);
  }
}

/** A sockaddr_in6 (port 0) written into `buffer` at `offset`. */
function writeSockaddrIn6(buffer: Buffer, offset: number, address: IPv6Address): void {
  writeNative(buffer, C.AF_INET6 ?? 10, offset, 2);
  address.bytes.copy(buffer, offset + 8);
  writeNative(buffer, address.scopeId, offset + 24, 4);
}

/** struct group_source_req (MCAST_JOIN_SOURCE_GROUP), as libuv fills it for IPv6. */
function groupSourceReq(ifindex: number, group: IPv6Address, source: IPv6Address): Buffer {
  const groupAt = STORAGE_ALIGN;
  const sourceAt = groupAt + SOCKADDR_STORAGE;
  const req = Buffer.alloc(sourceAt + SOCKADDR_STORAGE);
  writeNative(req, ifindex, 0, 4);
  writeSockaddrIn6(req, groupAt, group);
  writeSockaddrIn6(req, sourceAt, source);
  return req;
}

/** struct group_req (MCAST_JOIN_GROUP), the kernel's equivalent of IPv6's struct ipv6_mreq. */
function groupReq(ifindex: number, group: IPv6Address): Buffer {
  const req = Buffer.alloc(STORAGE_ALIGN + SOCKADDR_STORAGE);
  writeNative(req, ifindex, 0, 4);
  writeSockaddrIn6(req, STORAGE_ALIGN, { bytes: group.bytes, scopeId: 0 });
  return req;
}

/** A zone the mcast socket can pass on: one libuv would resolve (a known interface name). */
function destinationText(ip: string): string {
  const at = ip.indexOf('%');
  if (at < 0) return ip;
  const zone = ip.slice(at + 1);
  return /^\d+$/.test(zone) || binding.ifNameToIndex(zone) === 0 ? ip.slice(0, at) : ip;
}

// ---- the socket -----------------------------------------------------------------------------

/** dgram's lookup signature as dgram calls it: (hostname, family, callback). */
type LookupCallback = (error: Error | null, address: string, family?: number) => void;
type LookupFunction = (hostname: string, family: number, callback: LookupCallback) => void;
type SendCallback = (error: Error | null, bytes?: number) => void;

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

const BIND_STATE_UNBOUND = 0;
const BIND_STATE_BINDING = 1;
const BIND_STATE_BOUND = 2;
const CONNECT_STATE_DISCONNECTED = 0;
const CONNECT_STATE_CONNECTING = 1;
const CONNECT_STATE_CONNECTED = 2;

/** The largest UDP payload per family: 65535 minus the IP and UDP headers. */
const MAX_PAYLOAD = { 4: 65507, 6: 65527 } as const;

/** Node 24.x stopped a bind() callback from swallowing bind errors; follow the running Node. */
const BIND_CLEANUP_EVENT: string | symbol = (() => {
  try {
    const nodeDgram = require('node:dgram') as typeof NodeDgram;
    return nodeDgram.Socket.prototype.bind.toString().includes('errorMonitor') ? EventEmitter.errorMonitor : 'error';
  } catch {
    return 'error';
  }
})();

interface PendingSend {
  data: Buffer;
  address: string;
  port: number;
  /** What the user named, for error messages (dgram reports the name, not the resolved ip). */
  shownAddress: unknown;
  shownPort: unknown;
  callback: SendCallback | undefined;
}

function isArrayBufferView(value: unknown): value is ArrayBufferView {
  return ArrayBuffer.isView(value);
}

function sliceBuffer(buffer: unknown, offset: unknown, length: unknown): Buffer {
  let view: ArrayBufferView;
  if (typeof buffer === 'string') view = Buffer.from(buffer);
  else if (isArrayBufferView(buffer)) view = buffer;
  else throw invalidArgType('buffer', BUFFER_TYPES, buffer);
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

/**
 * A UDP socket with the API and behaviour of Node's `dgram.Socket`. Like dgram's, it is created
 * unbound; bind() (or the first send, connect or addMembership) opens the descriptor.
 */
export class Socket extends EventEmitter implements NodeDgram.Socket {
  /** `'udp4'` or `'udp6'`, as given to createSocket. */
  readonly type: SocketType;
  /** The mcast socket (the descriptor), once bind() or an implicit bind opened one. */
  #core: CoreSocket | null = null;
  /** False once close() was called: dgram's `handle === null`. */
  #open = true;
  #bindState = BIND_STATE_UNBOUND;
  #connectState = CONNECT_STATE_DISCONNECTED;
  #queue: (() => void)[] | undefined;
  #receiving = false;
  #refed = true;
  /** libuv keeps the descriptor of a failed bind: an unbound socket whose address is the wildcard. */
  #failedBind = false;
  #peer: { address: string; port: number } | null = null;
  readonly #lookup: (address: unknown, callback: LookupCallback) => void;
  readonly #options: {
    reuseAddr: boolean;
    reusePort: boolean;
    ipv6Only: boolean;
    recvBufferSize: number | undefined;
    sendBufferSize: number | undefined;
    multicastAll: boolean;
    batchSize: number;
    maxMessageSize: number;
    receiveBlockList: BlockList | undefined;
    sendBlockList: BlockList | undefined;
  };
  /** Datagrams waiting for room in the kernel's send buffer, in order. */
  #sendQueue: PendingSend[] = [];
  #sendQueueBytes = 0;
  #flushing = false;

  constructor(type: SocketType | SocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) {
    super();
    let kind: unknown = type;
    let lookup: unknown;
    let options: SocketOptions | undefined;
    if (type !== null && typeof type === 'object') {
      options = type;
      kind = options.type;
      lookup = options.lookup;
      if (options.recvBufferSize) validateUint32(options.recvBufferSize, 'options.recvBufferSize');
      if (options.sendBufferSize) validateUint32(options.sendBufferSize, 'options.sendBufferSize');
      for (const key of ['receiveBlockList', 'sendBlockList'] as const) {
        const list: unknown = options[key];
        if (list && !(list instanceof BlockList)) throw invalidArgType(`options.${key}`, 'an net.BlockList', list);
      }
    }
    if (lookup !== undefined && typeof lookup !== 'function') {
      throw invalidArgType('lookup', 'of type function', lookup);
    }
    if (kind !== 'udp4' && kind !== 'udp6') {
      throw nodeError(TypeError, 'ERR_SOCKET_BAD_TYPE', 'Bad socket type specified. Valid types are: udp4, udp6');
    }
    this.type = kind;
    this.#lookup = makeLookup(kind, (lookup as LookupFunction | undefined) ?? defaultLookup);
    if (typeof listener === 'function') this.on('message', listener);

    const extra = (key: 'batchSize' | 'maxMessageSize', fallback: number, max: number): number => {
      const value: unknown = options?.[key];
      if (value === undefined) return fallback;
      if (typeof value !== 'number') throw invalidArgType(`options.${key}`, 'of type number', value);
      if (!Number.isInteger(value) || value < 1 || value > max) throw outOfRange(`options.${key}`, `>= 1 && <= ${max}`, value);
      return value;
    };
    const multicastAll: unknown = options?.multicastAll;
    if (multicastAll !== undefined && typeof multicastAll !== 'boolean') {
      throw invalidArgType('options.multicastAll', 'of type boolean', multicastAll);
    }
    this.#options = {
      reuseAddr: Boolean(options?.reuseAddr),
      reusePort: Boolean(options?.reusePort),
      ipv6Only: Boolean(options?.ipv6Only),
      recvBufferSize: options?.recvBufferSize,
      sendBufferSize: options?.sendBufferSize,
      multicastAll: multicastAll ?? true,
      batchSize: extra('batchSize', 32, 1024),
      maxMessageSize: extra('maxMessageSize', 65535, 65535),
      receiveBlockList: options?.receiveBlockList || undefined,
      sendBlockList: options?.sendBlockList || undefined,
    };

    const signal: unknown = options?.signal;
    if (signal !== undefined) {
      if (signal === null || typeof signal !== 'object' || !('aborted' in signal)) {
        throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
      }
      const abortSignal = signal as AbortSignal;
      const onAborted = (): void => {
        if (this.#open) this.close();
      };
      if (abortSignal.aborted) {
        onAborted();
      } else {
        abortSignal.addEventListener('abort', onAborted, { once: true });
        this.once('close', () => abortSignal.removeEventListener('abort', onAborted));
      }
    }
  }

  // ---- the descriptor ------------------------------------------------------------------------

  #healthCheck(): void {
    if (!this.#open) throw notRunning();
  }

  /** Creates the mcast socket bound to (ip, port); returns an error in dgram's words or null. */
  #openCore(family: 4 | 6, ip: string, port: number, reuseAddr: boolean, ipv6Only: boolean): number {
    const o = this.#options;
    try {
      this.#core = new CoreSocket({
        family,
        address: ip,
        port,
        reuseAddr,
        reusePort: o.reusePort,
        ipv6Only,
        multicastAll: o.multicastAll,
        batchSize: o.batchSize,
        maxMessageSize: o.maxMessageSize,
      });
    } catch (error) {
      return errnoOf(error);
    }
    if (!this.#refed) this.#core.unref();
    return 0;
  }

  /**
   * libuv binds an unbound handle to the wildcard address, port 0, with SO_REUSEADDR before a
   * membership change (uv__udp_maybe_deferred_bind). dgram still counts the socket as unbound:
   * it does not receive, and a later bind() fails with EINVAL.
   */
  #deferredBind(family: 4 | 6): number {
    if (this.#core !== null) return 0;
    return this.#openCore(family, family === 4 ? '0.0.0.0' : '::', 0, true, false);
  }

  get #family(): 4 | 6 {
    return this.#core?.family ?? (this.type === 'udp4' ? 4 : 6);
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
    this.#healthCheck();
    if (this.#bindState !== BIND_STATE_UNBOUND) {
      throw nodeError(Error, 'ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
    }
    const options = port !== null && typeof port === 'object' ? (port as Record<string, unknown>) : undefined;
    if (options !== undefined && typeof options.recvStart === 'function') {
      throw unsupported('bind(handle)', 'an existing dgram handle cannot be adopted; bind a port instead');
    }
    if (options !== undefined && Number.isInteger(options.fd) && (options.fd as number) > 0) {
      throw unsupported('bind({ fd })', 'an existing descriptor cannot be adopted; bind a port instead');
    }
    let exclusive: boolean;
    let address: unknown;
    if (options !== undefined) {
      address = options.address || '';
      exclusive = Boolean(options.exclusive);
      port = options.port;
    } else {
      address = typeof address_ === 'function' ? '' : address_;
      exclusive = false;
    }
    if (!exclusive && !this.#options.reusePort && 'NODE_UNIQUE_ID' in process.env) {
      throw unsupported(
        'sharing a bound socket among cluster workers',
        'bind with { exclusive: true } (and reuseAddr or reusePort) in each worker',
      );
    }
    this.#bindState = BIND_STATE_BINDING;

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

    if (!address) address = this.type === 'udp4' ? '0.0.0.0' : '::';

    this.#lookup(address, (error, ip) => {
      if (!this.#open) return;
      if (error) {
        this.#bindState = BIND_STATE_UNBOUND;
        this.emit('error', error);
        return;
      }
      const bindError = this.#bindTo(ip, port);
      if (bindError !== null) {
        this.#bindState = BIND_STATE_UNBOUND;
        this.emit('error', bindError);
        return;
      }
      this.#startListening();
    });
    return this;
  }

  #bindTo(ip: string, port: unknown): Error | null {
    const number = toUint32(port || 0) & 0xffff;
    const family = this.type === 'udp4' ? 4 : 6;
    if (this.#core !== null || isIP(ip.split('%')[0] ?? '') !== family) {
      // A bound descriptor cannot be bound again; an address of the other family does not parse.
      return exceptionWithHostPort(EINVAL, 'bind', ip, port);
    }
    if (ip.includes('%')) {
      return unsupported('binding to an address with a zone', 'bind to the wildcard address (::) and join on the interface');
    }
    const errno = this.#openCore(family, ip, number, this.#options.reuseAddr, this.#options.ipv6Only);
    this.#failedBind = errno !== 0;
    return errno === 0 ? null : exceptionWithHostPort(errno, 'bind', ip, port);
  }

  #startListening(): void {
    const core = this.#core;
    if (core === null) return;
    core.on('batch', this.#onBatch);
    core.on('error', this.#onCoreError);
    this.#receiving = true;
    this.#bindState = BIND_STATE_BOUND;
    if (this.#options.recvBufferSize) this.#bufferSize(this.#options.recvBufferSize, true);
    if (this.#options.sendBufferSize) this.#bufferSize(this.#options.sendBufferSize, false);
    this.emit('listening');
  }

  #stopReceiving(): void {
    if (!this.#receiving) return;
    this.#core?.off('batch', this.#onBatch);
    this.#receiving = false;
  }

  readonly #onBatch = (batch: RecvBatch): void => {
    const core = this.#core;
    const family = this.#family === 4 ? 'IPv4' : 'IPv6';
    const blocked = this.#options.receiveBlockList;
    for (let i = 0; i < batch.count && this.#core === core && this.#receiving; i++) {
      let address = batch.address(i);
      // Node names the interface of a link-local source, as getnameinfo would.
      if (family === 'IPv6' && /^fe[89ab]/i.test(address)) {
        const index = batch.interfaceIndex(i);
        if (index > 0) address = `${address}%${binding.ifIndexToName(index) ?? index}`;
      }
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
    this.emit('error', error instanceof McastError ? errnoException(-Math.abs(error.errno), 'recvmsg') : error);
  };

  // ---- connect ---------------------------------------------------------------------------------

  /** Associates the socket with one peer (`address` default: localhost); 'connect' follows. */
  connect(port: number, address?: string, callback?: () => void): void;
  /** Associates the socket with `port` on localhost. */
  connect(port: number, callback: () => void): void;
  connect(portArg: unknown, addressArg?: unknown, callbackArg?: unknown): void {
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
    if (this.#connectState !== CONNECT_STATE_DISCONNECTED) throw isConnected();
    this.#connectState = CONNECT_STATE_CONNECTING;
    if (this.#bindState === BIND_STATE_UNBOUND) this.bind({ port: 0, exclusive: true });
    const connectAddress = address;
    if (this.#bindState !== BIND_STATE_BOUND) {
      this.#enqueue(() => this.#connect(port, connectAddress, callback));
      return;
    }
    this.#connect(port, connectAddress, callback);
  }

  #connect(port: number, address: string, callback: unknown): void {
    const cb = typeof callback === 'function' ? (callback as (error?: Error) => void) : undefined;
    if (cb) this.once('connect', cb);
    this.#lookup(address, (lookupError, ip) => {
      if (!this.#open) return;
      let error: Error | null = lookupError;
      if (!error && this.#options.sendBlockList?.check(ip, `ipv${isIP(ip) === 6 ? 6 : 4}`)) error = ipBlocked(ip);
      if (!error) {
        const errno = this.#connectCore(ip, port);
        if (errno !== 0) error = exceptionWithHostPort(errno, 'connect', address, port);
      }
      if (error) {
        const failure = error;
        this.#connectState = CONNECT_STATE_DISCONNECTED;
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
      this.#connectState = CONNECT_STATE_CONNECTED;
      process.nextTick(() => this.emit('connect'));
    });
  }

  #connectCore(ip: string, port: number): number {
    const core = this.#core;
    if (core === null) return EBADF;
    if (isIP(ip.split('%')[0] ?? '') !== core.family) return EINVAL;
    const text = destinationText(ip);
    try {
      core.connect(text, port);
    } catch (error) {
      return errnoOf(error);
    }
    this.#peer = { address: text, port };
    return 0;
  }

  disconnect(): void {
    if (this.#connectState !== CONNECT_STATE_CONNECTED) throw notConnected();
    const core = this.#core;
    if (core === null) throw notRunning();
    try {
      core.disconnect();
    } catch (error) {
      throw errnoException(errnoOf(error), 'connect');
    }
    this.#connectState = CONNECT_STATE_DISCONNECTED;
    this.#peer = null;
  }

  remoteAddress(): AddressInfo {
    this.#healthCheck();
    if (this.#connectState !== CONNECT_STATE_CONNECTED) throw notConnected();
    const core = this.#core;
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
    let [buffer, offset, length, port, address, callback] = args;
    const connected = this.#connectState === CONNECT_STATE_CONNECTED;
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
      else if (!isArrayBufferView(buffer)) throw invalidArgType('buffer', BUFFER_TYPES, buffer);
      else list = [Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength)];
    } else {
      const fixed = fixBufferList(buffer);
      if (fixed === null) throw invalidArgType('buffer list arguments', BUFFER_TYPES, buffer);
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

    this.#healthCheck();
    if (this.#bindState === BIND_STATE_UNBOUND) this.bind({ port: 0, exclusive: true });
    if (list.length === 0) list.push(Buffer.alloc(0));
    if (this.#bindState !== BIND_STATE_BOUND) {
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
    let failure = error;
    if (!failure && ip && this.#options.sendBlockList?.check(ip, `ipv${isIP(ip) === 6 ? 6 : 4}`)) {
      if (callback) process.nextTick(callback, ipBlocked(ip));
      return;
    }
    if (failure) {
      const reported = failure;
      if (callback) process.nextTick(callback, reported);
      else process.nextTick(() => this.emit('error', reported));
      return;
    }
    if (!this.#open || this.#core === null) return;
    const data = list.length === 1 ? (list[0] as Buffer) : Buffer.concat(list);
    const peer = this.#peer;
    const job: PendingSend = {
      data,
      address: peer !== null && !ip ? peer.address : ip,
      port: peer !== null && !ip ? peer.port : (port as number),
      shownAddress: address,
      shownPort: port,
      callback,
    };
    if (this.#sendQueue.length > 0) {
      this.#queueSend(job);
      return;
    }
    const errno = this.#trySend(job);
    if (errno === 1) {
      this.#queueSend(job);
    } else if (errno < 0) {
      failure = exceptionWithHostPort(errno, 'send', address, port);
      // dgram passes a failed send to its callback only; without one it is dropped.
      if (callback) process.nextTick(callback, failure);
    } else if (callback) {
      process.nextTick(callback, null, data.length);
    }
  }

  /** 0 when sent, 1 when the send buffer is full, or a negative errno. */
  #trySend(job: PendingSend): number {
    const core = this.#core;
    if (core === null) return EBADF;
    const family = core.family;
    const text = job.address.split('%')[0] ?? '';
    // libuv parses the address for the socket's family: another family does not parse.
    if (isIP(text) !== family) return EINVAL;
    if (job.data.length > MAX_PAYLOAD[family]) return EMSGSIZE;
    try {
      return core.send(job.data, destinationText(job.address), job.port) ? 0 : 1;
    } catch (error) {
      return errnoOf(error);
    }
  }

  #queueSend(job: PendingSend): void {
    this.#sendQueue.push(job);
    this.#sendQueueBytes += job.data.length;
    if (!this.#flushing) void this.#flush();
  }

  /** Sends the queued datagrams in order as the kernel makes room, as libuv's send queue does. */
  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#sendQueue.length > 0) {
        const core = this.#core;
        if (core === null || !this.#open) break;
        try {
          await core.writable();
        } catch {
          break;
        }
        while (this.#sendQueue.length > 0) {
          const job = this.#sendQueue[0] as PendingSend;
          const result = this.#trySend(job);
          if (result === 1) break;
          this.#sendQueue.shift();
          this.#sendQueueBytes -= job.data.length;
          // On their own tick: a callback that throws is an uncaught exception, as with dgram, and
          // does not stop this loop.
          if (job.callback === undefined) continue;
          if (result < 0) process.nextTick(job.callback, exceptionWithHostPort(result, 'send', job.shownAddress, job.shownPort));
          else process.nextTick(job.callback, null, job.data.length);
        }
      }
    } finally {
      this.#flushing = false;
    }
    // Closed while datagrams waited: libuv cancels them.
    const cancelled = this.#sendQueue;
    this.#sendQueue = [];
    this.#sendQueueBytes = 0;
    for (const job of cancelled) {
      if (job.callback) process.nextTick(job.callback, exceptionWithHostPort(ECANCELED, 'send', job.shownAddress, job.shownPort));
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

  #enqueue(job: () => void): void {
    if (this.#queue === undefined) {
      this.#queue = [];
      this.once(EventEmitter.errorMonitor, this.#onListenError);
      this.once('listening', this.#onListenSuccess);
    }
    this.#queue.push(job);
  }

  readonly #onListenSuccess = (): void => {
    this.removeListener(EventEmitter.errorMonitor, this.#onListenError);
    const queue = this.#queue ?? [];
    this.#queue = undefined;
    for (const job of queue) job();
  };

  readonly #onListenError = (): void => {
    this.removeListener('listening', this.#onListenSuccess);
    this.#queue = undefined;
  };

  getSendQueueSize(): number {
    return this.#sendQueueBytes;
  }

  getSendQueueCount(): number {
    return this.#sendQueue.length;
  }

  // ---- close, address, ref ---------------------------------------------------------------------

  close(callback?: () => void): this {
    const queue = this.#queue;
    if (typeof callback === 'function') this.on('close', callback);
    if (queue !== undefined) {
      queue.push(() => this.close());
      return this;
    }
    this.#healthCheck();
    this.#stopReceiving();
    const core = this.#core;
    this.#core = null;
    this.#open = false;
    if (core !== null) {
      core.off('error', this.#onCoreError);
      core.close();
    }
    process.nextTick(() => this.emit('close'));
    return this;
  }

  /** `await using` support: closes the socket and resolves on 'close'. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#open) return;
    await new Promise<void>((resolve) => this.close(resolve));
  }

  address(): AddressInfo {
    this.#healthCheck();
    const core = this.#core;
    if (core === null && this.#failedBind) {
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
    if (this.#open) {
      this.#refed = true;
      this.#core?.ref();
    }
    return this;
  }

  unref(): this {
    if (this.#open) {
      this.#refed = false;
      this.#core?.unref();
    }
    return this;
  }

  // ---- socket options ------------------------------------------------------------------------

  /**
   * setsockopt on the descriptor, as libuv does it; returns a negative errno or 0. Before any
   * bind there is no descriptor: EBADF, as libuv's setsockopt on fd -1 says.
   */
  #setOption(level: number, name: number, value: number | Buffer): number {
    if (!this.#open) throw notRunning();
    const core = this.#core;
    if (core === null) return EBADF;
    try {
      core.setOption(level, name, value);
      return 0;
    } catch (error) {
      return errnoOf(error);
    }
  }

  /** libuv's uv__setsockopt: the IPv6 option on an IPv6 descriptor, the IPv4 one otherwise. */
  #setFamilyOption(option4: number | undefined, option6: number | undefined, value: number): number {
    const v6 = this.#core?.family === 6;
    return this.#setOption(v6 ? C.IPPROTO_IPV6! : C.IPPROTO_IP!, (v6 ? option6 : option4)!, value);
  }

  setBroadcast(flag: boolean): void {
    const errno = this.#setOption(C.SOL_SOCKET!, C.SO_BROADCAST!, flag ? 1 : 0);
    if (errno) throw errnoException(errno, 'setBroadcast');
  }

  setTTL(ttl: number): number {
    return this.#setTtl(ttl, 1, C.IP_TTL, C.IPV6_UNICAST_HOPS, 'setTTL');
  }

  setMulticastTTL(ttl: number): number {
    return this.#setTtl(ttl, 0, C.IP_MULTICAST_TTL, C.IPV6_MULTICAST_HOPS, 'setMulticastTTL');
  }

  /** libuv's checks for both TTLs: a number, an open socket, min..255 (EINVAL otherwise). */
  #setTtl(ttl: number, min: number, option4: number | undefined, option6: number | undefined, syscall: string): number {
    validateNumber(ttl, 'ttl');
    if (!this.#open) throw notRunning();
    const value = ttl | 0;
    const errno = value < min || value > 255 ? EINVAL : this.#setFamilyOption(option4, option6, value);
    if (errno) throw errnoException(errno, syscall);
    return ttl;
  }

  setMulticastLoopback(flag: boolean): boolean {
    const errno = this.#setFamilyOption(C.IP_MULTICAST_LOOP, C.IPV6_MULTICAST_LOOP, flag ? 1 : 0);
    if (errno) throw errnoException(errno, 'setMulticastLoopback');
    return flag;
  }

  /**
   * The outgoing interface for multicast: an IPv4 address of the interface, or for IPv6 the
   * scope (`'::%eth1'`). As libuv, IPv4 sets IP_MULTICAST_IF with that address, IPv6 sets
   * IPV6_MULTICAST_IF with the index of the zone.
   */
  setMulticastInterface(interfaceAddress: string): void {
    this.#healthCheck();
    validateString(interfaceAddress, 'interfaceAddress');
    let errno: number;
    const v6 = parseIPv6(interfaceAddress);
    if (isIPv4(interfaceAddress)) {
      errno = this.#setOption(C.IPPROTO_IP!, C.IP_MULTICAST_IF!, ipv4Bytes(interfaceAddress));
    } else if (v6 !== undefined) {
      const index = Buffer.alloc(4);
      writeNative(index, v6.scopeId, 0, 4);
      errno = this.#setOption(C.IPPROTO_IPV6!, C.IPV6_MULTICAST_IF!, index);
    } else {
      errno = EINVAL;
    }
    if (errno) throw errnoException(errno, 'setMulticastInterface');
  }

  /** mcast: IP_MULTICAST_ALL / IPV6_MULTICAST_ALL (see the createSocket option multicastAll). */
  setMulticastAll(flag: boolean): this {
    if (typeof flag !== 'boolean') throw invalidArgType('flag', 'of type boolean', flag);
    this.#healthCheck();
    this.#options.multicastAll = flag;
    if (this.#core !== null) this.#core.setMulticastAll(flag);
    return this;
  }

  // ---- memberships -----------------------------------------------------------------------------

  /** uv_udp_set_membership: IP_ADD_MEMBERSHIP with struct ip_mreq, or the IPv6 join by index. */
  #membership(group: string, iface: string | null, join: boolean): number {
    if (isIPv4(group)) {
      const errno = this.#deferredBind(4);
      if (errno) return errno;
      if (iface !== null && !isIPv4(iface)) return EINVAL;
      const mreq = Buffer.concat([ipv4Bytes(group), iface === null ? Buffer.alloc(4) : ipv4Bytes(iface)]);
      return this.#setOption(C.IPPROTO_IP!, join ? C.IP_ADD_MEMBERSHIP! : C.IP_DROP_MEMBERSHIP!, mreq);
    }
    const group6 = parseIPv6(group);
    if (group6 === undefined) return EINVAL;
    const errno = this.#deferredBind(6);
    if (errno) return errno;
    const ifindex = membershipIfindex(iface);
    if (ifindex === undefined) return EINVAL;
    return this.#setOption(C.IPPROTO_IPV6!, join ? C.MCAST_JOIN_GROUP! : C.MCAST_LEAVE_GROUP!, groupReq(ifindex, group6));
  }

  /** uv_udp_set_source_membership: ip_mreq_source for IPv4, group_source_req for IPv6. */
  #sourceMembership(source: string, group: string, iface: string | null, join: boolean): number {
    if (isIPv4(group)) {
      if (!isIPv4(source)) return EINVAL;
      const errno = this.#deferredBind(4);
      if (errno) return errno;
      if (iface !== null && !isIPv4(iface)) return EINVAL;
      const mreq = Buffer.concat([ipv4Bytes(group), iface === null ? Buffer.alloc(4) : ipv4Bytes(iface), ipv4Bytes(source)]);
      return this.#setOption(C.IPPROTO_IP!, join ? C.IP_ADD_SOURCE_MEMBERSHIP! : C.IP_DROP_SOURCE_MEMBERSHIP!, mreq);
    }
    const group6 = parseIPv6(group);
    const source6 = parseIPv6(source);
    if (group6 === undefined || source6 === undefined) return EINVAL;
    const errno = this.#deferredBind(6);
    if (errno) return errno;
    const ifindex = membershipIfindex(iface);
    if (ifindex === undefined) return EINVAL;
    const req = groupSourceReq(ifindex, group6, source6);
    return this.#setOption(C.IPPROTO_IPV6!, join ? C.MCAST_JOIN_SOURCE_GROUP! : C.MCAST_LEAVE_SOURCE_GROUP!, req);
  }

  addMembership(multicastAddress: string, multicastInterface?: string): void {
    this.#changeMembership('addMembership', multicastAddress, multicastInterface, true);
  }

  dropMembership(multicastAddress: string, multicastInterface?: string): void {
    this.#changeMembership('dropMembership', multicastAddress, multicastInterface, false);
  }

  #changeMembership(syscall: string, group: unknown, iface: unknown, join: boolean): void {
    this.#healthCheck();
    if (!group) throw nodeError(TypeError, 'ERR_MISSING_ARGS', 'The "multicastAddress" argument must be specified');
    const errno = this.#membership(String(group), iface === undefined || iface === null ? null : String(iface), join);
    if (errno) throw errnoException(errno, syscall);
  }

  addSourceSpecificMembership(sourceAddress: string, groupAddress: string, multicastInterface?: string): void {
    this.#changeSourceMembership('addSourceSpecificMembership', sourceAddress, groupAddress, multicastInterface, true);
  }

  dropSourceSpecificMembership(sourceAddress: string, groupAddress: string, multicastInterface?: string): void {
    this.#changeSourceMembership('dropSourceSpecificMembership', sourceAddress, groupAddress, multicastInterface, false);
  }

  #changeSourceMembership(syscall: string, source: unknown, group: unknown, iface: unknown, join: boolean): void {
    this.#healthCheck();
    validateString(source, 'sourceAddress');
    validateString(group, 'groupAddress');
    const errno = this.#sourceMembership(source, group, iface === undefined || iface === null ? null : String(iface), join);
    if (errno) throw errnoException(errno, syscall);
  }

  // ---- buffer sizes ----------------------------------------------------------------------------

  /** dgram's bufferSize(): 0 reads SO_RCVBUF/SO_SNDBUF, anything else sets it. */
  #bufferSize(size: unknown, receive: boolean): number {
    if (typeof size !== 'number' || size >>> 0 !== size) {
      throw nodeError(TypeError, 'ERR_SOCKET_BAD_BUFFER_SIZE', 'Buffer size must be a positive integer');
    }
    if (!this.#open) throw notRunning();
    const syscall = receive ? 'uv_recv_buffer_size' : 'uv_send_buffer_size';
    const fail = (errno: number) => new SystemError('ERR_SOCKET_BUFFER_SIZE', 'Could not get or set buffer size', errno, syscall);
    const core = this.#core;
    if (size > 0x7fffffff) throw fail(EINVAL);
    if (core === null) throw fail(EBADF);
    try {
      if (size === 0) return receive ? core.getRecvBufferSize() : core.getSendBufferSize();
      // Plain SO_RCVBUF/SO_SNDBUF as libuv sets them (capped by net.core.rmem_max/wmem_max).
      core.setOption(C.SOL_SOCKET!, receive ? C.SO_RCVBUF! : C.SO_SNDBUF!, size);
      return size;
    } catch (error) {
      throw fail(errnoOf(error));
    }
  }

  setRecvBufferSize(size: number): void {
    this.#bufferSize(size, true);
  }

  setSendBufferSize(size: number): void {
    this.#bufferSize(size, false);
  }

  getRecvBufferSize(): number {
    return this.#bufferSize(0, true);
  }

  getSendBufferSize(): number {
    return this.#bufferSize(0, false);
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

// dgram's deprecated private members (DEP0112) reach into libuv's handle, which mcast has not.
for (const name of ['_handle', '_receiving', '_bindState', '_queue', '_reuseAddr']) {
  Object.defineProperty(Socket.prototype, name, {
    get(): never {
      throw unsupported(`Socket.prototype.${name} (deprecated, DEP0112)`, 'there is no libuv handle; use the public methods');
    },
    configurable: true,
  });
}
for (const name of ['_healthCheck', '_stopReceiving']) {
  Object.defineProperty(Socket.prototype, name, {
    value(): never {
      throw unsupported(`Socket.prototype.${name}() (deprecated, DEP0112)`, 'there is no libuv handle; use the public methods');
    },
    writable: true,
    configurable: true,
  });
}

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
