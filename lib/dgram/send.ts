/**
 * send() of a mcast/dgram socket, as lib/dgram.js does it: its argument forms (a buffer, a
 * slice of one, a list sent as one datagram; connected or not), the implicit bind, the wait for
 * 'listening', the lookup, the send block list, and the datagram handed to the send queue,
 * which tries it on the core socket as libuv's uv_udp_send would.
 */
import { isIP } from 'node:net';

import { MAX_PAYLOAD } from '../address';
import {
  BUFFER_TYPES,
  EBADF,
  EINVAL,
  EMSGSIZE,
  errnoOf,
  ipBlocked,
  isConnected,
  nodeArgType,
  nodeError,
  validatePort,
  validateString,
} from '../dgram-errors';
import { coreAddress } from './addresses';
import { enqueue } from './lifecycle';
import type { SocketParts } from './parts';
import type { PendingSend, SendCallback } from './send-queue';
import { BIND_STATE_BOUND, BIND_STATE_UNBOUND, CONNECT_STATE_CONNECTED, healthCheck, type DgramState } from './state';

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

/** Socket#send(...args): see the Socket's send overloads. */
export function send(parts: SocketParts, args: unknown[]): void {
  const { socket, state } = parts;
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
  if (state.bindState === BIND_STATE_UNBOUND) socket.bind({ port: 0, exclusive: true });
  if (list.length === 0) list.push(Buffer.alloc(0));
  if (state.bindState !== BIND_STATE_BOUND) {
    const [queuedList, queuedPort, queuedAddress, queuedCallback] = [list, port, address, callback];
    enqueue(parts, () => socket.send(queuedList, queuedPort, queuedAddress, queuedCallback));
    return;
  }

  const cb = callback as SendCallback | undefined;
  if (!connected) {
    const shownAddress = address;
    const shownPort = port as number;
    parts.lookup(address, (error, ip) => doSend(parts, error, ip, list, shownAddress, shownPort, cb));
  } else {
    doSend(parts, null, '', list, address, port, cb);
  }
}

function doSend(
  parts: SocketParts,
  error: Error | null,
  ip: string,
  list: Buffer[],
  address: unknown,
  port: unknown,
  callback: SendCallback | undefined,
): void {
  const state = parts.state;
  if (!error && ip && state.sendBlockList?.check(ip, `ipv${isIP(ip) === 6 ? 6 : 4}`)) {
    if (callback) process.nextTick(callback, ipBlocked(ip));
    return;
  }
  if (error) {
    if (callback) process.nextTick(callback, error);
    else process.nextTick(() => parts.socket.emit('error', error));
    return;
  }
  if (!state.open || state.core === null) return;
  const data = list.length === 1 ? (list[0] as Buffer) : Buffer.concat(list);
  const peer = state.peer;
  parts.sendQueue.send({
    data,
    address: peer !== null && !ip ? peer.address : coreAddress(ip),
    port: peer !== null && !ip ? peer.port : (port as number),
    shownAddress: address,
    shownPort: port,
    callback,
  });
}

/** The send queue's try: 0 when sent, 1 when the send buffer is full, or a negative errno. */
export function trySend(state: DgramState, job: PendingSend): number {
  const core = state.core;
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
