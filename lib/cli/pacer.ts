/**
 * Nanosecond pacing against absolute deadlines, for `mcast replay` (and `mcast feed-send`'s
 * lateness summary): each datagram has a deadline on the monotonic clock (start + its offset in
 * the file's schedule), so that an early or late send never shifts the ones after it and a long
 * file does not drift.
 *
 * The wait has three stages, each stopping short of the deadline by what it may overshoot:
 * - far away (more than TIMER_LEAD_NS): a setTimeout, which lets the event loop run (signals,
 *   timers). It is ms-grained and wakes up a millisecond or more late, so it ends TIMER_LEAD_NS
 *   before the deadline;
 * - then a native sleep on the absolute time `deadline - margin` (clock_nanosleep; the timer
 *   slack of this thread is set to 1 µs instead of Linux's 50 µs);
 * - then a native spin on the clock for the last `margin` (no allocation, so it makes no garbage
 *   for the GC to stop us on).
 * Between close deadlines (1000 datagrams/s never reaches the setTimeout stage) the event loop
 * still gets a turn every TURN_EVERY_NS, when there is time for it, so Ctrl-C is seen.
 * The lateness of every send is kept in a histogram for the report.
 */
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';

import { binding } from '../binding';

/** Waits longer than this start on a setTimeout that ends this long before the deadline. */
const TIMER_LEAD_NS = 3_000_000;
/** The default margin: the native sleep ends this long before the deadline, the spin does the rest. */
export const DEFAULT_MARGIN_NS = 200_000;
/** Between close deadlines, the event loop gets a turn at least this often (when there is time). */
const TURN_EVERY_NS = 20_000_000;
/** What a turn of the event loop may take, at most, for it to be taken before a deadline. */
const TURN_COST_NS = 300_000;
/** Timer slack of the pacing thread (prctl PR_SET_TIMERSLACK), ns. */
const TIMER_SLACK_NS = 1_000;
/** Histogram: 1 µs buckets up to 100 ms; later sends count in the last bucket (max stays exact). */
const BUCKETS = 100_000;

/** The monotonic clock in ns (process.hrtime's clock), as a float (exact to the ns for 104 days of uptime). */
export function monotonicNs(): number {
  return binding.monotonicNs();
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
  /** Sends more than 1 ms late. */
  overOneMs: number;
  /** The margin: how long before each deadline the sleep ended and the spin started, ns. */
  marginNs: number;
  /**
   * Waits whose sleep ended after the deadline itself: the thread woke (or was run) later than
   * the margin allows, so the spin could not make up for it (a loaded machine).
   */
  marginMissed: number;
}

/** Options of a {@link Pacer}. */
export interface PacerOptions {
  /** How long before a deadline the sleep ends and the spin starts, ns (default 200 µs). */
  marginNs?: number;
}

/** Waits for absolute deadlines and keeps a histogram of how late each one was met. */
export class Pacer {
  readonly #histogram = new Uint32Array(BUCKETS);
  readonly #woke = new Float64Array(1);
  readonly #marginNs: number;
  #count = 0;
  #sum = 0;
  #max = 0;
  #overOneMs = 0;
  #marginMissed = 0;
  #lastTurn = 0;
  #slackSet = false;

  constructor(options: PacerOptions = {}) {
    this.#marginNs = options.marginNs ?? DEFAULT_MARGIN_NS;
  }

  /**
   * Waits until the monotonic clock reaches `deadlineNs` and returns the clock then (it does
   * not record: the caller records how late its send was, after the send).
   */
  async waitUntil(deadlineNs: number): Promise<number> {
    if (!this.#slackSet) {
      this.#slackSet = true;
      binding.setTimerSlack(TIMER_SLACK_NS); // best effort: 0 or an errno, either way the spin is exact
    }
    let now = binding.monotonicNs();
    if (deadlineNs - now > TIMER_LEAD_NS) {
      await sleep((deadlineNs - now - TIMER_LEAD_NS) / 1e6);
      now = binding.monotonicNs();
      this.#lastTurn = now;
    } else if (now - this.#lastTurn > TURN_EVERY_NS && deadlineNs - now > this.#marginNs + TURN_COST_NS) {
      await turn();
      this.#lastTurn = binding.monotonicNs();
    }
    const done = binding.pacerWait(deadlineNs, this.#marginNs, this.#woke);
    if (this.#woke[0]! > deadlineNs) this.#marginMissed++;
    return done;
  }

  /** Records one send `lateNs` after its deadline. */
  record(lateNs: number): void {
    const late = Math.max(0, lateNs);
    this.#count++;
    this.#sum += late;
    if (late > this.#max) this.#max = late;
    if (late > 1e6) this.#overOneMs++;
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
      overOneMs: this.#overOneMs,
      marginNs: this.#marginNs,
      marginMissed: this.#marginMissed,
    };
  }
}
