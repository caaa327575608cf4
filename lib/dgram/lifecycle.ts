/**
 * Bind and close of a mcast/dgram socket, as lib/dgram.js does them: bind()'s argument forms
 * (port and address, an options object, a descriptor, a Node UDP handle), the lookup of the
 * address, a cluster worker's bind through the primary, 'listening', the calls made while
 * binding that wait for it (dgram's enqueue), and close().
 */
import { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import { isIP } from 'node:net';
import type * as NodeDgram from 'node:dgram';

import { binding } from '../binding';
import { EINVAL, errnoException, exceptionWithHostPort, nodeError, toUint32, unsupported } from '../dgram-errors';
import { coreAddress } from './addresses';
import { type ClusterWorkerApi, sharedBind, UV_UDP_IPV6ONLY, UV_UDP_REUSEADDR } from './cluster';
import * as options from './options';
import type { SocketParts } from './parts';
import {
  BIND_STATE_BINDING,
  BIND_STATE_BOUND,
  BIND_STATE_UNBOUND,
  healthCheck,
  openCore,
  openExisting,
  type SharedHandle,
} from './state';

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

/** Socket#bind(...args): see the Socket's bind overloads. */
export function bind(parts: SocketParts, args: unknown[]): void {
  const { socket, state } = parts;
  let port: unknown = args[0];
  const address_: unknown = args[1];
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
      (cb as () => void).call(socket);
    };
    const removeListeners = (): void => {
      socket.removeListener(BIND_CLEANUP_EVENT, removeListeners);
      socket.removeListener('listening', onListening);
    };
    socket.on(BIND_CLEANUP_EVENT, removeListeners);
    socket.on('listening', onListening);
  }
  if (bindOptions !== undefined && typeof bindOptions.recvStart === 'function') {
    bindHandle(parts, bindOptions as unknown as SharedHandle);
    return;
  }
  if (bindOptions !== undefined && isInt32(bindOptions.fd) && bindOptions.fd > 0) {
    bindFd(parts, bindOptions.fd, Boolean(bindOptions.exclusive));
    return;
  }

  if (!address) address = socket.type === 'udp4' ? '0.0.0.0' : '::';

  parts.lookup(address, (error, ip) => {
    if (!state.open) return;
    if (error) {
      state.bindState = BIND_STATE_UNBOUND;
      socket.emit('error', error);
      return;
    }
    const cluster = sharedBind(exclusive, state.reusePort);
    if (cluster !== undefined) {
      bindShared(parts, cluster, ip, port);
      return;
    }
    const bindError = bindTo(parts, ip, port);
    if (bindError !== null) {
      state.bindState = BIND_STATE_UNBOUND;
      socket.emit('error', bindError);
      return;
    }
    startListening(parts);
  });
}

/** The socket's family as its type says. */
function familyOfType(parts: SocketParts): 4 | 6 {
  return parts.socket.type === 'udp4' ? 4 : 6;
}

/** handle.bind(ip, port, flags): libuv's uv_udp_bind, the zone of `ip` as sin6_scope_id. */
function bindTo(parts: SocketParts, ip: string, port: unknown): Error | null {
  const state = parts.state;
  const number = toUint32(port || 0) & 0xffff;
  const family = familyOfType(parts);
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
function bindFd(parts: SocketParts, fd: number, exclusive: boolean): void {
  const state = parts.state;
  const cluster = sharedBind(exclusive, false);
  if (cluster !== undefined) {
    bindShared(parts, cluster, null, null, fd);
    return;
  }
  const type = binding.guessHandleType(fd);
  if (type !== 'UDP') throw nodeError(TypeError, 'ERR_INVALID_FD_TYPE', `Unsupported fd type: ${type}`);
  const errno = openExisting(state, familyOfType(parts), fd);
  if (errno) throw errnoException(errno, 'open');
  state.ownedFd = fd;
  startListening(parts);
}

/**
 * bind(handle): lib/dgram.js's replaceHandle(), the socket of a Node UDP handle (as a cluster
 * worker's bind gets it); it listens at once, within bind(), and close() closes the handle.
 */
function bindHandle(parts: SocketParts, handle: SharedHandle): void {
  const state = parts.state;
  const errno = openExisting(state, familyOfType(parts), handle.fd);
  if (errno) throw errnoException(errno, 'open');
  // Its datagrams are this socket's now (Node points the handle's onmessage here): the
  // handle's own reading stops, mcast reads the duplicate.
  handle.recvStop?.();
  handle.unref?.();
  state.sharedHandle = handle;
  startListening(parts);
}

/** lib/dgram.js's bindServerHandle(): the primary's socket, over IPC, then 'listening'. */
function bindShared(parts: SocketParts, cluster: ClusterWorkerApi, ip: string | null, port: unknown, fd = -1): void {
  const { socket, state } = parts;
  const flags = fd >= 0 ? null : (state.reuseAddr ? UV_UDP_REUSEADDR : 0) | (state.ipv6Only ? UV_UDP_IPV6ONLY : 0);
  const fail = (errno: number): void => {
    state.bindState = BIND_STATE_UNBOUND;
    socket.emit('error', fd >= 0 ? errnoException(errno, 'open') : exceptionWithHostPort(errno, 'bind', ip, port));
  };
  cluster._getServer(socket, { address: ip, port, addressType: socket.type, fd, flags }, (errno, handle) => {
    if (errno) {
      fail(errno);
      return;
    }
    if (!state.open) {
      handle.close(); // closed in the meantime
      return;
    }
    const openErrno = openExisting(state, familyOfType(parts), handle.fd);
    if (openErrno !== 0) {
      handle.close();
      fail(openErrno);
      return;
    }
    handle.unref?.();
    state.sharedHandle = handle;
    startListening(parts);
  });
}

function startListening(parts: SocketParts): void {
  const state = parts.state;
  const core = state.core;
  if (core === null) return;
  parts.receiver.start(core);
  state.bindState = BIND_STATE_BOUND;
  if (state.recvBufferSize) options.bufferSize(state, state.recvBufferSize, true);
  if (state.sendBufferSize) options.bufferSize(state, state.sendBufferSize, false);
  parts.socket.emit('listening');
}

/** dgram's enqueue(): calls made while binding wait for 'listening' (dropped on an error). */
export function enqueue(parts: SocketParts, job: () => void): void {
  const { socket, state } = parts;
  if (state.queue === undefined) {
    state.queue = [];
    const onListenSuccess = (): void => {
      socket.removeListener(EventEmitter.errorMonitor, onListenError);
      const queue = state.queue ?? [];
      state.queue = undefined;
      for (const queued of queue) queued();
    };
    const onListenError = (): void => {
      socket.removeListener('listening', onListenSuccess);
      state.queue = undefined;
    };
    socket.once(EventEmitter.errorMonitor, onListenError);
    socket.once('listening', onListenSuccess);
  }
  state.queue.push(job);
}

/** Socket#close(): after the queued calls when binding; 'close' follows on the next tick. */
export function close(parts: SocketParts, callback: unknown): void {
  const { socket, state } = parts;
  const queue = state.queue;
  if (typeof callback === 'function') socket.on('close', callback as () => void);
  if (queue !== undefined) {
    queue.push(() => socket.close());
    return;
  }
  healthCheck(state);
  parts.receiver.stop();
  const core = state.core;
  state.core = null;
  state.open = false;
  if (core !== null) {
    parts.receiver.detach(core);
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
  process.nextTick(() => socket.emit('close'));
}
