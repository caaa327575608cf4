/**
 * dgram's deprecated private members (DEP0112), as Node 20's lib/dgram.js defines them: each
 * reads or writes the state record and prints one DeprecationWarning (util.deprecate warns once
 * per code, shared with node:dgram's own DEP0112 warning). `_handle` is libuv's UDP handle,
 * which mcast has not: it reads null once the socket is closed, as Node's does, and otherwise
 * throws ERR_MCAST_UNSUPPORTED, also on assignment, so that nothing works on a handle that is
 * not there.
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

function noHandle(): Error {
  return unsupported('Socket.prototype._handle (deprecated, DEP0112)', "there is no libuv handle; use the socket's public methods");
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
    get: deprecate(function (this: HasState) {
      if (!this[kState].open) return null;
      throw noHandle();
    }, handleMessage, CODE),
    set: deprecate(function (this: HasState) {
      throw noHandle();
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
    throw unsupported('dgram._createSocketHandle() (deprecated, DEP0112)', 'there is no libuv handle; use createSocket()');
  },
  'dgram._createSocketHandle() is deprecated',
  CODE,
);
