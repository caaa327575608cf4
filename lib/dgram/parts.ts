/**
 * The parts of one mcast/dgram socket that its modules share: the Socket itself (its events
 * and public calls), the state record, its lookup, its receiver and its send queue. The Socket
 * class (lib/dgram.ts) keeps them in one private field and hands them to the module doing the
 * work: bind and close (lifecycle.ts), connect (connect.ts), send (send.ts).
 */
import type { EventEmitter } from 'node:events';
import type { SocketType } from 'node:dgram';

import type { LookupCallback, SocketLookup } from './create';
import type { Receiver } from './receive';
import type { SendQueue } from './send-queue';
import type { DgramState } from './state';

export type { LookupCallback };

/** What the modules use of the Socket itself. */
export interface DgramSocket extends EventEmitter {
  readonly type: SocketType;
  /** The public bind(), for the implicit bind of send and connect. */
  bind(options: { port: number; exclusive: boolean }): unknown;
  /** The public send(), for a send queued until 'listening'. */
  send(...args: unknown[]): void;
  /** The public close(), for a close queued until 'listening'. */
  close(): unknown;
  /** The public address(), which a cluster primary reads. */
  address(): unknown;
}

/** One socket's parts (see the module comment). */
export interface SocketParts {
  readonly socket: DgramSocket;
  readonly state: DgramState;
  readonly lookup: SocketLookup;
  readonly receiver: Receiver;
  readonly sendQueue: SendQueue;
}
