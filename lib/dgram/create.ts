/**
 * createSocket's half of a mcast/dgram socket: its arguments checked as lib/dgram.js checks
 * them (in the same order, with the same codes), the fresh state record they make, and the
 * lookup the socket resolves names with (dns.lookup, or the `lookup` option).
 */
import * as dns from 'node:dns';
import { BlockList } from 'node:net';
import type * as NodeDgram from 'node:dgram';

import { nodeArgType, nodeError, nodeOutOfRange, validateUint32 } from '../dgram-errors';
import type { SocketOptions } from '../dgram';
import { BIND_STATE_UNBOUND, CONNECT_STATE_DISCONNECTED, type DgramState } from './state';

/** dgram's lookup signature as dgram calls it: (hostname, family, callback). */
export type LookupCallback = (error: Error | null, address: string, family?: number) => void;
/** The `lookup` option: dns.lookup's form, called with the socket's family. */
export type LookupFunction = (hostname: string, family: number, callback: LookupCallback) => void;
/** The socket's own lookup: an address (empty: localhost) to the ip it binds, sends or connects to. */
export type SocketLookup = (address: unknown, callback: LookupCallback) => void;

/** What createSocket's arguments come to: the type, the lookup and the options object. */
export interface CreateArguments {
  type: NodeDgram.SocketType;
  lookup: LookupFunction | undefined;
  options: SocketOptions | undefined;
}

/** new Socket(type | options)'s checks, in lib/dgram.js's order. */
export function createArguments(type: NodeDgram.SocketType | SocketOptions): CreateArguments {
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
  return { type: kind, lookup: lookup as LookupFunction | undefined, options: o };
}

const defaultLookup: LookupFunction = (hostname, family, callback) => {
  dns.lookup(hostname, family, callback);
};

/** Default lookups: dns.lookup, with dgram's defaults for an empty address. */
export function makeLookup(type: NodeDgram.SocketType, lookup: LookupFunction | undefined): SocketLookup {
  const fallback = type === 'udp4' ? '127.0.0.1' : '::1';
  const family = type === 'udp4' ? 4 : 6;
  const resolve = lookup ?? defaultLookup;
  return (address, callback) => resolve((address || fallback) as string, family, callback);
}

/** Checks createSocket's options (dgram's and mcast's) into a fresh state record. */
export function createState(type: NodeDgram.SocketType, o: SocketOptions | undefined): DgramState {
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

/**
 * The `signal` option: an AbortSignal whose abort closes the socket (at once when it is
 * aborted already); its listener goes with 'close'.
 */
export function watchSignal(socket: NodeJS.EventEmitter & { close(): unknown }, state: DgramState, signal: unknown): void {
  if (signal === undefined) return;
  if (signal === null || typeof signal !== 'object' || !('aborted' in signal)) {
    throw nodeArgType('options.signal', 'an instance of AbortSignal', signal);
  }
  const abortSignal = signal as AbortSignal;
  const onAborted = (): void => {
    if (state.open) socket.close();
  };
  if (abortSignal.aborted) {
    onAborted();
  } else {
    abortSignal.addEventListener('abort', onAborted, { once: true });
    socket.once('close', () => abortSignal.removeEventListener('abort', onAborted));
  }
}
