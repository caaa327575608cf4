/**
 * Delivery of one received batch to a socket's 'batch' and 'message' listeners, with the
 * semantics of EventEmitter#emit at the cost of one plain call per listener.
 *
 * emit() copies its arguments into a new array on every call; this module keeps the listeners
 * as emit() would call them (once-wrappers included) and calls them directly. The lists are
 * refreshed lazily after any change ('newListener' fires before the listener is added, and the
 * socket calls invalidate() then). Rejection capture (captureRejections) and a replaced emit()
 * need emit() itself, and get it.
 */
import { EventEmitter } from 'node:events';

import type { Batch } from './batch';

/**
 * Makes a Buffer view of `length` bytes at `offset` in `bytes`. Node's own Buffer class
 * (Buffer[Symbol.species], what Buffer#subarray constructs) called directly: Buffer.from(ab, off,
 * len) checks its arguments and asks C++ whether `ab` is an ArrayBuffer on every call, about half
 * the cost of a view. Where the species is not Node's (never seen), Buffer.from is used.
 */
const viewOf: (bytes: ArrayBufferLike, offset: number, length: number) => Buffer = (() => {
  const Species = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species] as
    | (new (bytes: ArrayBufferLike, offset: number, length: number) => Buffer)
    | undefined;
  try {
    if (typeof Species === 'function' && Buffer.isBuffer(new Species(new ArrayBuffer(2), 1, 1))) {
      return (bytes, offset, length) => new Species(bytes, offset, length);
    }
  } catch {
    // fall through to Buffer.from
  }
  return (bytes, offset, length) => Buffer.from(bytes, offset, length);
})();

/**
 * The size of the block that batches of up to that many bytes share (MessageBlockPool::kMinBlock,
 * native/message_block.h): PackBatch returns it whole, while a batch of its own block gets a
 * Buffer of exactly its bytes, always more than this.
 */
const SHARED_BLOCK = 4096;
const NO_BLOCK = new ArrayBuffer(0);

/** A 'batch' or 'message' listener as EventEmitter stores it (a once-wrapper is bound). */
type Listener = (this: unknown, ...args: unknown[]) => unknown;

/** What the dispatch needs of its socket: the emitter, its family and whether it closed. */
export interface DispatchTarget extends EventEmitter {
  readonly family: 4 | 6;
  readonly closed: boolean;
}

/**
 * The batch's first `count` datagrams, back to back (one native call): a Buffer over a new
 * block whose bytes start at its byteOffset, or the offset of the bytes in the block returned
 * last. A batch of more than 4 KiB gets a block of exactly its bytes; smaller ones share 4 KiB
 * blocks, as Buffers share Node's 8 KiB pool. A block is recycled by the socket once the Buffer
 * and all its views are collected, so a drain does not touch fresh pages for every batch (see
 * native/message_block.h).
 */
export type PackBatch = (count: number) => Buffer | number;

/** The listener dispatch of one socket (lib/socket.ts owns one). */
export class BatchDispatch {
  readonly #target: DispatchTarget;
  readonly #pack: PackBatch;
  readonly #capturesRejections = EventEmitter.captureRejections;
  #stale = true;
  #batchListeners: readonly Listener[] = [];
  #messageListeners: readonly Listener[] = [];
  /** The block PackBatch returned last: later small batches may be packed into it too. */
  #block: ArrayBufferLike = NO_BLOCK;

  constructor(target: DispatchTarget, pack: PackBatch) {
    this.#target = target;
    this.#pack = pack;
  }

  /** The 'batch' or 'message' listeners changed: look them up again before the next call. */
  invalidate(): void {
    this.#stale = true;
  }

  /**
   * Hands `batch` (its count set) to every 'batch' listener, then its datagrams one by one to
   * every 'message' listener. A listener that throws must not cost the datagrams after it:
   * every listener still gets the whole batch, and the first error is rethrown afterwards
   * (reaching 'uncaughtException' as for any EventEmitter listener); any further ones are
   * thrown from their own ticks. The error list is made only when a listener throws: a batch
   * allocates nothing else here.
   */
  deliver(batch: Batch): void {
    if (this.#stale) this.#refresh();
    let errors: unknown[] | undefined;
    const listeners = this.#batchListeners;
    if (listeners.length > 0) {
      if (this.#useEmit()) {
        try {
          this.#target.emit('batch', batch);
        } catch (error) {
          errors = [error];
        }
      } else {
        for (let i = 0; i < listeners.length; i++) {
          try {
            (listeners[i] as Listener).call(this.#target, batch);
          } catch (error) {
            (errors ??= []).push(error);
          }
        }
      }
    }
    if (this.#messageListeners.length > 0) errors = this.#emitMessages(batch, errors);
    if (errors === undefined) return;
    for (let i = 1; i < errors.length; i++) {
      const error = errors[i];
      process.nextTick(() => {
        throw error;
      });
    }
    throw errors[0];
  }

  #refresh(): void {
    this.#stale = false;
    this.#batchListeners = this.#target.rawListeners('batch') as Listener[];
    this.#messageListeners = this.#target.rawListeners('message') as Listener[];
  }

  #useEmit(): boolean {
    return this.#capturesRejections || this.#target.emit !== EventEmitter.prototype.emit;
  }

  #emitMessages(batch: Batch, errors: unknown[] | undefined): unknown[] | undefined {
    const target = this.#target;
    const count = batch.count;
    const family = target.family === 4 ? 'IPv4' : 'IPv6';
    const useEmit = this.#useEmit();
    // One copy per batch: the datagrams go into one block (at most 1.25 x what they hold, or
    // a 4 KiB one that small batches share), and each message is a view of it. A message a
    // listener keeps holds that block (as a Buffer from Node's own 8 KiB pool holds its pool);
    // the block is reused only after every view of it was collected, and a shared block is
    // written only where no view lies yet, so nothing can overwrite a kept message.
    if (target.closed) return errors; // closed by a 'batch' listener: no messages, no copy
    const packed = this.#pack(count);
    let at: number;
    if (typeof packed === 'number') {
      at = packed;
    } else {
      at = packed.byteOffset;
      // Held only while it is the shared block (a block of its own is not written again, and
      // holding it would keep it out of the pool until the next batch).
      this.#block = packed.length === SHARED_BLOCK ? packed.buffer : NO_BLOCK;
    }
    const blockBytes = typeof packed === 'number' ? this.#block : packed.buffer;
    for (let i = 0; i < count && !target.closed; i++) {
      // A listener may add or remove 'message' listeners: emit() would see that from the next
      // datagram on, and so does this loop.
      if (this.#stale) this.#refresh();
      const listeners = this.#messageListeners;
      if (listeners.length === 0) break;
      const info = batch.messageInfo(i, family);
      const size = info.size;
      // A view of the block's ArrayBuffer, without block.subarray()'s read of block.buffer (a
      // C++ call in V8) per datagram.
      const data = viewOf(blockBytes, at, size);
      at += size;
      if (useEmit) {
        try {
          target.emit('message', data, info);
        } catch (error) {
          (errors ??= []).push(error);
        }
        continue;
      }
      for (let k = 0; k < listeners.length; k++) {
        try {
          (listeners[k] as Listener).call(target, data, info);
        } catch (error) {
          (errors ??= []).push(error);
        }
      }
    }
    return errors;
  }
}
