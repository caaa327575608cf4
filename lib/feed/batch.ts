/**
 * The FeedBatch view: the unique items of one native flush, read in place from the feed's
 * preallocated buffers (native/feed_wrap.cc writes them). Valid during the 'batch' callback only.
 */
import type { FeedBatch } from './types';

/** The line an item that came by retransmission has in the lines array. */
const RETRANSMIT_LINE = 255;
/** Bytes between one item's end and the next one's start in the data buffer (a MoldUDP64 length prefix). */
const ITEM_GAP = 2;

/** @internal The view handed to 'batch' listeners; reused for every flush. */
export class FeedBatchView implements FeedBatch {
  /** Items in this batch. */
  count = 0;
  /** @internal Sequence number of item 0: a flush's items are numbered first + i (native/feed_wrap.h). */
  first = 0;
  readonly #data: Buffer;
  readonly #starts: Uint32Array;
  readonly #lines: Uint8Array;
  readonly #stamps: BigInt64Array;
  readonly #timestamps: boolean;

  constructor(data: ArrayBuffer, starts: Uint32Array, lines: Uint8Array, stamps: BigInt64Array, timestamps: boolean) {
    this.#data = Buffer.from(data);
    this.#starts = starts;
    this.#lines = lines;
    this.#stamps = stamps;
    this.#timestamps = timestamps;
  }

  #check(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw new RangeError(`The value of "i" is out of range. It must be an integer from 0 to ${this.count - 1}. Received ${String(i)}`);
    }
    return i;
  }

  /** Sequence number of item i. */
  sequence(i: number): number {
    return this.first + this.#check(i);
  }

  /** Line of item i's delivered copy, -1 for a retransmission. */
  line(i: number): number {
    const line = this.#lines[this.#check(i)]!;
    return line === RETRANSMIT_LINE ? -1 : line;
  }

  /** A view of item i's bytes (not a copy). */
  data(i: number): Buffer {
    const at = this.#check(i);
    return this.#data.subarray(this.#starts[at]!, this.#starts[at + 1]! - ITEM_GAP);
  }

  /** Kernel receive time of item i in ns, with `timestamps: true`. */
  timestamp(i: number): bigint | undefined {
    this.#check(i);
    if (!this.#timestamps) return undefined;
    const ts = this.#stamps[i]!;
    return ts === 0n ? undefined : ts;
  }

  /** @internal Where item i's bytes start in the data buffer: no checks. */
  start(i: number): number {
    return this.#starts[i]!;
  }

  /** @internal Where item i's bytes end in the data buffer: no checks. */
  end(i: number): number {
    return this.#starts[i + 1]! - ITEM_GAP;
  }

  /** Bytes used by the first `count` items (they are in order from 0, each after a 2-byte gap). */
  usedBytes(): number {
    return this.count === 0 ? 0 : this.end(this.count - 1);
  }

  /** @internal The whole data buffer (for the 'message' path's one copy). */
  get buffer(): Buffer {
    return this.#data;
  }
}
