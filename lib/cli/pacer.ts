/**
 * Nanosecond pacing against absolute deadlines, for `mcast replay`: each datagram has a deadline
 * on the monotonic clock (start + its offset in the file's schedule), so that an early or late
 * send never shifts the ones after it and a long file does not drift. The wait sleeps most of
 * the way with a timer, then spins on the clock for the last stretch (timers wake up late by up
 * to a millisecond or more, a spin by well under a microsecond). The lateness of every send is
 * kept in a histogram for the report.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Below this much time to go the pacer spins instead of sleeping. */
const SPIN_NS = 2_000_000;
/** Histogram: 1 µs buckets up to 100 ms; later sends count in the last bucket (max stays exact). */
const BUCKETS = 100_000;

/** The monotonic clock in ns, as a float (exact to the ns for 104 days of uptime). */
export function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

/** Percentiles of how late sends were against their deadlines. */
export interface TimingReport {
  /** Datagrams measured. */
  count: number;
  /** Median lateness, ns (upper edge of its 1 µs bucket). */
  p50Ns: number;
  /** 99th percentile lateness, ns (upper edge of its 1 µs bucket). */
  p99Ns: number;
  /** The latest send, ns (exact). */
  maxNs: number;
  /** Mean lateness, ns. */
  meanNs: number;
}

/** Waits for absolute deadlines and keeps a histogram of how late each one was met. */
export class Pacer {
  readonly #histogram = new Uint32Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Waits until the monotonic clock reaches `deadlineNs`, then records how late it is. */
  async waitUntil(deadlineNs: number): Promise<void> {
    let now = monotonicNs();
    const sleepNs = deadlineNs - now - SPIN_NS;
    if (sleepNs > 0) {
      await sleep(sleepNs / 1e6);
      now = monotonicNs();
    }
    while (now < deadlineNs) now = monotonicNs();
    this.record(now - deadlineNs);
  }

  /** Records one send `lateNs` after its deadline. */
  record(lateNs: number): void {
    const late = Math.max(0, lateNs);
    this.#count++;
    this.#sum += late;
    if (late > this.#max) this.#max = late;
    this.#histogram[Math.min(BUCKETS - 1, Math.floor(late / 1000))]! += 1;
  }

  #percentile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#histogram[i]!;
      if (seen >= rank) return Math.min(this.#max, (i + 1) * 1000);
    }
    return this.#max;
  }

  /** p50, p99, max and mean lateness so far (1 µs resolution for the percentiles). */
  report(): TimingReport {
    return {
      count: this.#count,
      p50Ns: this.#percentile(0.5),
      p99Ns: this.#percentile(0.99),
      maxNs: this.#max,
      meanNs: this.#count === 0 ? 0 : this.#sum / this.#count,
    };
  }
}
