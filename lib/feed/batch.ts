/**
 * The FeedBatch view: the unique items of one native flush, read in place from the feed's
 * preallocated buffers (native/feed_wrap.cc writes them). Valid during the 'batch' callback only.
 */
import type { FeedBatch } from './types';

/** Doubles per item in the items array: sequence, line (-1: retransmission), offset, length. */
export const ITEM_FIELDS = 4;

/** @internal The view handed to 'batch' listeners; reused for every flush. */
export class FeedBatchView implements FeedBatch {
  /** Items in this batch. */
  count = 0;
  readonly #data: Buffer;
  readonly #items: Float64Array;
  readonly #stamps: BigInt64Array;
  readonly #timestamps: boolean;

  constructor(data: ArrayBuffer, items: Float64Array, stamps: BigInt64Array, timestamps: boolean) {
    this.#data = Buffer.from(data);
    this.#items = items;
    this.#stamps = stamps;
    this.#timestamps = timestamps;
  }

  #check(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw new RangeError(`The value of "i" is out of range. It must be an integer from 0 to ${this.count - 1}. Received ${String(i)}`);
    }
    return i * ITEM_FIELDS;
  }

  /** Sequence number of item i. */
  sequence(i: number): number {
    return this.#items[this.#check(i)]!;
  }

  /** Line of item i's delivered copy, -1 for a retransmission. */
  line(i: number): number {
    return this.#items[this.#check(i) + 1]!;
  }

  /** A view of item i's bytes (not a copy). */
  data(i: number): Buffer {
    const at = this.#check(i);
    const offset = this.#items[at + 2]!;
    return this.#data.subarray(offset, offset + this.#items[at + 3]!);
  }

  /** Kernel receive time of item i in ns, with `timestamps: true`. */
  timestamp(i: number): bigint | undefined {
    this.#check(i);
    if (!this.#timestamps) return undefined;
    const ts = this.#stamps[i]!;
    return ts === 0n ? undefined : ts;
  }

  /** Bytes used by the first `count` items (they are in order from 0, a MoldUDP64 packet's with their length prefixes between them). */
  usedBytes(): number {
    if (this.count === 0) return 0;
    const at = (this.count - 1) * ITEM_FIELDS;
    return this.#items[at + 2]! + this.#items[at + 3]!;
  }

  /** @internal The whole data buffer (for the 'message' path's one copy). */
  get buffer(): Buffer {
    return this.#data;
  }
}
