/**
 * Receive dispatch of a mcast/dgram socket: the core socket's batches become one 'message'
 * event per datagram (each with a Buffer of its own and dgram's rinfo), from 'listening' until
 * close() or _stopReceiving() (Node's recvStart..recvStop), and a failed receive becomes dgram's
 * `recvmsg` error.
 */
import type { EventEmitter } from 'node:events';

import { isLinkLocalIPv6 } from '../address';
import { binding } from '../binding';
import { errnoException } from '../dgram-errors';
import { McastError } from '../errors';
import type { Socket as CoreSocket } from '../socket';
import type { RecvBatch } from '../types';
import { familyOf, type DgramState } from './state';

/** Node names the interface of a link-local source, as getnameinfo would. */
function shownSource(address: string, ifindex: number): string {
  if (ifindex <= 0 || !isLinkLocalIPv6(address)) return address;
  return `${address}%${binding.ifIndexToName(ifindex) ?? ifindex}`;
}

/** The receiving side of one socket (see the module comment). */
export class Receiver {
  readonly #socket: EventEmitter;
  readonly #state: DgramState;
  /** Whether 'batch' feeds 'message' (Node's recvStart..recvStop), apart from `receiving`. */
  #delivering = false;

  constructor(socket: EventEmitter, state: DgramState) {
    this.#socket = socket;
    this.#state = state;
  }

  /** recvStart on a freshly opened descriptor: its batches and errors reach the socket. */
  start(core: CoreSocket): void {
    core.on('batch', this.#onBatch);
    core.on('error', this.#onCoreError);
    this.#state.receiving = true;
    this.#delivering = true;
  }

  /** dgram's stopReceiving(): recvStop, once. */
  stop(): void {
    const state = this.#state;
    if (!state.receiving) return;
    state.core?.off('batch', this.#onBatch);
    this.#delivering = false;
    state.receiving = false;
  }

  /** close(): the descriptor's errors no longer reach the socket. */
  detach(core: CoreSocket): void {
    core.off('error', this.#onCoreError);
  }

  readonly #onBatch = (batch: RecvBatch): void => {
    const state = this.#state;
    const core = state.core;
    const family = familyOf(state) === 4 ? 'IPv4' : 'IPv6';
    const blocked = state.receiveBlockList;
    for (let i = 0; i < batch.count && state.core === core && this.#delivering; i++) {
      const address = family === 'IPv6' ? shownSource(batch.address(i), batch.interfaceIndex(i)) : batch.address(i);
      if (blocked?.check(address, family === 'IPv4' ? 'ipv4' : 'ipv6')) continue;
      // A copy of its own for each datagram: the receive slab is reused by the next batch.
      const start = batch.offset(i);
      const size = batch.size(i);
      const message = Buffer.allocUnsafeSlow(size);
      batch.buffer.copy(message, 0, start, start + size);
      this.#socket.emit('message', message, { address, family, port: batch.port(i), size });
    }
  };

  readonly #onCoreError = (error: Error): void => {
    // dgram reports a failed receive as `recvmsg <CODE>`.
    this.#socket.emit('error', error instanceof McastError ? errnoException(error.errno, 'recvmsg') : error);
  };
}
