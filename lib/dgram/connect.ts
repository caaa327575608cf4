/**
 * connect(), disconnect() and remoteAddress() of a mcast/dgram socket, as lib/dgram.js does
 * them: the implicit bind, the wait for 'listening', the lookup, the send block list, and
 * libuv's uv_udp_connect on the core socket (the peer kept for send()).
 */
import { isIP } from 'node:net';

import {
  EBADF,
  EINVAL,
  errnoException,
  errnoOf,
  exceptionWithHostPort,
  ipBlocked,
  isConnected,
  notConnected,
  notRunning,
  uvErrno,
  validatePort,
  validateString,
} from '../dgram-errors';
import type { AddressInfo } from 'node:net';
import { coreAddress } from './addresses';
import { enqueue } from './lifecycle';
import type { SocketParts } from './parts';
import {
  BIND_STATE_BOUND,
  BIND_STATE_UNBOUND,
  CONNECT_STATE_CONNECTED,
  CONNECT_STATE_CONNECTING,
  CONNECT_STATE_DISCONNECTED,
  healthCheck,
  type DgramState,
} from './state';

/** Socket#connect(port, address?, callback?). */
export function connect(parts: SocketParts, portArg: unknown, addressArg: unknown, callbackArg: unknown): void {
  const { socket, state } = parts;
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
  if (state.bindState === BIND_STATE_UNBOUND) socket.bind({ port: 0, exclusive: true });
  const connectAddress = address;
  if (state.bindState !== BIND_STATE_BOUND) {
    enqueue(parts, () => connectBound(parts, port, connectAddress, callback));
    return;
  }
  connectBound(parts, port, connectAddress, callback);
}

function connectBound(parts: SocketParts, port: number, address: string, callback: unknown): void {
  const { socket, state } = parts;
  const cb = typeof callback === 'function' ? (callback as (error?: Error) => void) : undefined;
  if (cb) socket.once('connect', cb);
  parts.lookup(address, (lookupError, ip) => {
    if (!state.open) return;
    let error: Error | null = lookupError;
    if (!error && state.sendBlockList?.check(ip, `ipv${isIP(ip) === 6 ? 6 : 4}`)) error = ipBlocked(ip);
    if (!error) {
      const errno = connectCore(state, ip, port);
      if (errno !== 0) error = exceptionWithHostPort(errno, 'connect', address, port);
    }
    if (error) {
      const failure = error;
      state.connectState = CONNECT_STATE_DISCONNECTED;
      process.nextTick(() => {
        if (cb) {
          socket.removeListener('connect', cb);
          cb(failure);
        } else {
          socket.emit('error', failure);
        }
      });
      return;
    }
    state.connectState = CONNECT_STATE_CONNECTED;
    process.nextTick(() => socket.emit('connect'));
  });
}

function connectCore(state: DgramState, ip: string, port: number): number {
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

/** Socket#disconnect(). */
export function disconnect(state: DgramState): void {
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

/** Socket#remoteAddress(). */
export function remoteAddress(state: DgramState): AddressInfo {
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
