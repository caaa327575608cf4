/**
 * The state of a mcast/dgram socket in one record, as Node's lib/dgram.js keeps it under
 * `this[kStateSymbol]`: the descriptor (the core socket, dgram's `handle`), the bind and connect
 * state machines, the queue of calls made before 'listening', and the createSocket options. The
 * other dgram modules (options, memberships, send queue, deprecated members) work on this
 * record, so each stays small and none needs the class's private fields.
 */
import type * as NodeDgram from 'node:dgram';
import type { BlockList } from 'node:net';

import { Socket as CoreSocket } from '../socket';
import type { SocketOptions } from '../types';
import { errnoOf, notRunning } from '../dgram-errors';

// dgram's bind and connect states, with lib/dgram.js's numbers (`_bindState` shows them).
/** Not bound: bind() may be called. */
export const BIND_STATE_UNBOUND = 0;
/** bind() was called; 'listening' has not come yet (calls are queued). */
export const BIND_STATE_BINDING = 1;
/** Bound and receiving. */
export const BIND_STATE_BOUND = 2;
/** Not connected. */
export const CONNECT_STATE_DISCONNECTED = 0;
/** connect() was called; the lookup or the bind has not finished. */
export const CONNECT_STATE_CONNECTING = 1;
/** Connected to `peer`. */
export const CONNECT_STATE_CONNECTED = 2;

/** The key of a socket's {@link DgramState}: module-private, like Node's kStateSymbol. */
export const kState = Symbol('mcast.dgram.state');

/** A dgram socket's state (see the module comment). */
export interface DgramState {
  /** `'udp4'` or `'udp6'`. */
  readonly type: NodeDgram.SocketType;
  /** The descriptor, once bind() or an implicit bind opened one (dgram's handle). */
  core: CoreSocket | null;
  /** False once close() was called: dgram's `handle === null`. */
  open: boolean;
  /** True from 'listening' until close() or _stopReceiving() (dgram's `receiving`). */
  receiving: boolean;
  /** A BIND_STATE_* (any value a program assigns to `_bindState`). */
  bindState: number;
  /** A CONNECT_STATE_*. */
  connectState: number;
  /** Calls made while binding, run on 'listening' (dgram's `queue`). */
  queue: (() => void)[] | undefined;
  /**
   * SO_REUSEADDR at bind when truthy: dgram's `reuseAddr`, the option as given (undefined when
   * not given), which `_reuseAddr` shows and may change before bind.
   */
  reuseAddr: unknown;
  /** SO_REUSEPORT at bind; also lets cluster workers bind their own socket. */
  readonly reusePort: boolean;
  /** IPV6_V6ONLY at bind. */
  readonly ipv6Only: boolean;
  /** SO_RCVBUF / SO_SNDBUF set on 'listening', when given. */
  readonly recvBufferSize: number | undefined;
  readonly sendBufferSize: number | undefined;
  /** mcast: IP_MULTICAST_ALL for the descriptor (kept for a descriptor opened later). */
  multicastAll: boolean;
  /** mcast: datagrams per recvmmsg, and bytes kept per datagram, of the descriptor. */
  readonly batchSize: number;
  readonly maxMessageSize: number;
  /** Node 22.13's block lists: datagrams from, and sends to, these addresses are refused. */
  readonly receiveBlockList: BlockList | undefined;
  readonly sendBlockList: BlockList | undefined;
  /** ref()/unref() before the descriptor exists, applied when it is opened. */
  refed: boolean;
  /** libuv keeps the descriptor of a failed bind: an unbound socket whose address is the wildcard. */
  failedBind: boolean;
  /** The connected peer, as the core socket was given it. */
  peer: { address: string; port: number } | null;
  /**
   * A Node UDP handle whose socket this one works on: in a cluster worker the primary's (it
   * came over IPC), or the handle given to bind(handle). Kept, unreferenced, until close(),
   * which closes it (and so tells a cluster primary this worker is done with it).
   */
  sharedHandle: SharedHandle | null;
  /**
   * The descriptor given to bind({ fd }): libuv takes it over, so close() closes it (mcast works
   * on a duplicate).
   */
  ownedFd: number | null;
}

/** What mcast uses of a Node UDP handle (a cluster primary's, or one given to bind()). */
export interface SharedHandle {
  readonly fd: number;
  close(): void;
  unref?(): void;
  recvStop?(): void;
}

/** The family of the descriptor, or of the socket type before there is one. */
export function familyOf(state: DgramState): 4 | 6 {
  return state.core?.family ?? (state.type === 'udp4' ? 4 : 6);
}

/** dgram's healthCheck(): ERR_SOCKET_DGRAM_NOT_RUNNING once closed. */
export function healthCheck(state: DgramState): void {
  if (!state.open) throw notRunning();
}

/** Opens the core socket with `where` (a bind address or a descriptor) and the state's options. */
function open(state: DgramState, family: 4 | 6, where: SocketOptions): number {
  try {
    state.core = new CoreSocket({
      family,
      ...where,
      multicastAll: state.multicastAll,
      batchSize: state.batchSize,
      maxMessageSize: state.maxMessageSize,
    });
  } catch (error) {
    return errnoOf(error);
  }
  if (!state.refed) state.core.unref();
  return 0;
}

/**
 * Opens the descriptor bound to (ip, port) with dgram's flags; returns 0 or a negative errno.
 * `ip` may carry a zone as the index the core takes (`fe80::1%3`).
 */
export function openCore(state: DgramState, family: 4 | 6, ip: string, port: number, reuseAddr: unknown, ipv6Only: boolean): number {
  return open(state, family, { address: ip, port, reuseAddr: Boolean(reuseAddr), reusePort: state.reusePort, ipv6Only });
}

/**
 * Opens the descriptor on an existing UDP socket: the one a cluster primary shares, or the one
 * given to bind({ fd }) (a duplicate of `fd`); returns 0 or a negative errno.
 */
export function openExisting(state: DgramState, family: 4 | 6, fd: number): number {
  return open(state, family, { fd });
}

/**
 * libuv binds an unbound handle to the wildcard address, port 0, with SO_REUSEADDR before a
 * membership change (uv__udp_maybe_deferred_bind). dgram still counts the socket as unbound:
 * it does not receive, and a later bind() fails with EINVAL.
 */
export function deferredBind(state: DgramState, family: 4 | 6): number {
  if (state.core !== null) return 0;
  return openCore(state, family, family === 4 ? '0.0.0.0' : '::', 0, true, false);
}
