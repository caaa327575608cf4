/**
 * Node's cluster for mcast/dgram: when a worker's bind() asks the primary for the socket
 * (lib/internal/cluster/child.js's _getServer), and the flags it passes along. The primary
 * creates and owns the socket and passes its handle over IPC; the worker's mcast socket works on
 * a duplicate of its descriptor (see Socket#bind in lib/dgram.ts).
 */
import type { EventEmitter } from 'node:events';
import type { SocketType } from 'node:dgram';

import type { SharedHandle } from './state';

/** UV_UDP_IPV6ONLY of libuv's uv_udp_flags, which a cluster worker passes to the primary with its bind. */
export const UV_UDP_IPV6ONLY = 1;
/** UV_UDP_REUSEADDR (uv.h). */
export const UV_UDP_REUSEADDR = 4;

/** What lib/internal/cluster/child.js gives a worker (not in the public typings). */
export interface ClusterWorkerApi {
  /** True in a worker process. */
  isWorker: boolean;
  /** Asks the primary for the shared socket of (address, port, type) or of descriptor `fd`. */
  _getServer(
    socket: EventEmitter & { address(): unknown },
    options: { address: string | null; port: unknown; addressType: SocketType; fd: number; flags: number | null },
    callback: (errno: number, handle: SharedHandle) => void,
  ): void;
}

/**
 * Node's cluster, as lib/dgram.js decides it: a worker's bind() without `exclusive` asks the
 * primary for the socket (cluster._getServer), so that all workers share the primary's; with
 * `exclusive` (and reusePort, with which every socket binds for itself) the worker binds its own.
 */
export function sharedBind(exclusive: boolean, reusePort: boolean): ClusterWorkerApi | undefined {
  if (exclusive || reusePort) return undefined;
  const cluster = require('node:cluster') as unknown as ClusterWorkerApi;
  return cluster.isWorker ? cluster : undefined;
}
