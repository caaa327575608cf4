/**
 * Line lag: how far each line's copies arrive behind the first copy, from kernel timestamps.
 * The native arbiter writes (line, ns) pairs per flush; they are folded here into one
 * HdrHistogram per line (hdr-histogram-js), off the per-item path.
 */
import * as hdr from 'hdr-histogram-js';
import type { FeedLag } from './types';

/** @internal One histogram per line. */
export class LagRecorder {
  readonly #histograms: hdr.Histogram[];

  constructor(lines: number) {
    this.#histograms = Array.from({ length: lines }, () =>
      // 1 ns to 60 s, 3 significant digits; grows as needed (no fixed upper bound to overflow).
      hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60e9, numberOfSignificantValueDigits: 3, autoResize: true }),
    );
  }

  /** Records `count` (line, ns) pairs. */
  record(pairs: Float64Array, count: number): void {
    for (let i = 0; i < count; i++) {
      const h = this.#histograms[pairs[i * 2]!];
      // A copy stamped before the first copy (clock steps between sockets) counts as 0 lag.
      h?.recordValue(Math.max(1, pairs[i * 2 + 1]!));
    }
  }

  /** The line's figures, or undefined before its first sample. */
  summary(line: number): FeedLag | undefined {
    const h = this.#histograms[line];
    if (h === undefined || h.totalCount === 0) return undefined;
    // A percentile is its bucket's highest value (3 digits): never above the exact maximum.
    const max = h.maxValue;
    return { samples: h.totalCount, p50: Math.min(h.getValueAtPercentile(50), max), p99: Math.min(h.getValueAtPercentile(99), max), max };
  }
}
