/**
 * dgram's deprecated private members (DEP0112), as Node 20's lib/dgram.js defines them: each
 * reads or writes the state record and prints one DeprecationWarning (util.deprecate warns once
 * per code, shared with node:dgram's own DEP0112 warning).
 *
 * `_handle` is libuv's UDP handle, which mcast has not. What programs do with it still works:
 * it is null once the socket is closed and an object while it is open, whose `fd` is the
 * descriptor (-9, EBADF, before there is one, as libuv's uv_fileno says), `owner` the socket,
 * and hasRef()/ref()/unref() what they are on the handle. Every other handle method throws
 * ERR_MCAST_UNSUPPORTED. Assigning null (any falsy value) leaves the socket not running with its descriptor open,
 * as in Node; assigning any other handle throws ERR_MCAST_UNSUPPORTED.
 */
import { deprecate } from 'node:util';

import { unsupported } from '../dgram-errors';
import { healthCheck, kState, type DgramState } from './state';

interface HasState {
  [kState]: DgramState;
}

const CODE = 'DEP0112';

/** State keys behind the deprecated accessors (lib/dgram.js's names). */
const ACCESSORS = {
  _receiving: 'receiving',
  _bindState: 'bindState',
  _queue: 'queue',
  _reuseAddr: 'reuseAddr',
} as const;

/** The methods of Node's UDP handle (lib/dgram.js calls them), none of which mcast has. */
const HANDLE_METHODS = [
  'recvStart', 'recvStop', 'open', 'bind', 'connect', 'send', 'bind6', 'connect6', 'send6', 'disconnect',
  'getpeername', 'getsockname', 'addMembership', 'dropMembership', 'addSourceSpecificMembership',
  'dropSourceSpecificMembership', 'setMulticastInterface', 'setMulticastTTL', 'setMulticastLoopback',
  'setBroadcast', 'setTTL', 'bufferSize', 'getSendQueueSize', 'getSendQueueCount', 'close', 'getAsyncId',
] as const;

function noHandle(what: string): Error {
  return unsupported(`${what} (deprecated, DEP0112)`, "there is no libuv handle; use the socket's public methods");
}

/** EBADF, what libuv's uv_fileno gives Node's `handle.fd` before there is a descriptor. */
const NO_FD = -9;

const handles = new WeakMap<HasState, object>();

/** The stand-in for Node's UDP handle (see the module comment), one per socket. */
function handleOf(socket: HasState & { ref(): unknown; unref(): unknown }): object {
  let handle = handles.get(socket);
  if (handle !== undefined) return handle;
  const state = socket[kState];
  handle = { owner: socket };
  Object.defineProperty(handle, 'fd', { get: () => state.core?.fd() ?? NO_FD, enumerable: true });
  Object.assign(handle, {
    hasRef: () => state.refed,
    ref: () => void socket.ref(),
    unref: () => void socket.unref(),
  });
  for (const name of HANDLE_METHODS) {
    Object.defineProperty(handle, name, {
      value: () => {
        throw noHandle(`Socket.prototype._handle.${name}()`);
      },
    });
  }
  Object.freeze(handle);
  handles.set(socket, handle);
  return handle;
}

/**
 * Defines the DEP0112 members on `proto` (the mcast/dgram Socket prototype). `stopReceiving`
 * is the socket's own, so that `_stopReceiving()` stops delivery as Node's recvStop() does.
 */
export function defineDeprecatedMembers(proto: object, stopReceiving: (socket: HasState) => void): void {
  for (const [name, key] of Object.entries(ACCESSORS)) {
    const message = `Socket.prototype.${name} is deprecated`;
    Object.defineProperty(proto, name, {
      get: deprecate(function (this: HasState) {
        return this[kState][key];
      }, message, CODE),
      set: deprecate(function (this: HasState, value: unknown) {
        (this[kState] as unknown as Record<string, unknown>)[key] = value;
      }, message, CODE),
    });
  }
  const handleMessage = 'Socket.prototype._handle is deprecated';
  Object.defineProperty(proto, '_handle', {
    get: deprecate(function (this: HasState & { ref(): unknown; unref(): unknown }) {
      return this[kState].open ? handleOf(this) : null;
    }, handleMessage, CODE),
    set: deprecate(function (this: HasState, value: unknown) {
      if (!value) this[kState].open = false;
      else if (value !== handles.get(this)) throw noHandle('assigning Socket.prototype._handle');
    }, handleMessage, CODE),
  });
  Object.defineProperty(proto, '_healthCheck', {
    value: deprecate(function (this: HasState) {
      healthCheck(this[kState]);
    }, 'Socket.prototype._healthCheck() is deprecated', CODE),
    writable: true,
    enumerable: true,
    configurable: true,
  });
  Object.defineProperty(proto, '_stopReceiving', {
    value: deprecate(function (this: HasState) {
      stopReceiving(this);
    }, 'Socket.prototype._stopReceiving() is deprecated', CODE),
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

/**
 * dgram._createSocketHandle() (DEP0112) makes a libuv UDP handle, which mcast has not: it
 * throws ERR_MCAST_UNSUPPORTED (after the one DEP0112 warning, as Node prints it on the call).
 */
export const _createSocketHandle: (...args: unknown[]) => never = deprecate(
  (): never => {
    throw noHandle('dgram._createSocketHandle()');
  },
  'dgram._createSocketHandle() is deprecated',
  CODE,
);
