/**
 * The replay pacer (lib/cli/pacer.ts, native/pacer.h), without the network and without timed
 * assertions: what holds by construction on any machine, however loaded. A wait never returns
 * before its deadline; its sleep never ends before `deadline - margin`; a deadline already past
 * returns at once without sleeping; the histogram's percentiles; the native argument checks.
 * How close to the deadline the sends are is the benchmark's business (npm run bench:record).
 */
import { describe, expect, it } from 'vitest';

import { binding } from '../lib/binding.js';
import { DEFAULT_MARGIN_NS, monotonicNs, Pacer } from '../lib/cli/pacer.js';

describe('native pacer wait', () => {
  it('returns at or after the deadline, its sleep ending at or after deadline - margin', () => {
    const out = new Float64Array(1);
    for (const [ahead, margin] of [
      [2_000_000, 500_000],
      [300_000, 100_000],
      [1_000_000, 0],
    ] as const) {
      const deadline = binding.monotonicNs() + ahead;
      const done = binding.pacerWait(deadline, margin, out);
      expect(done).toBeGreaterThanOrEqual(deadline);
      expect(out[0]).toBeGreaterThanOrEqual(deadline - margin);
      expect(out[0]).toBeLessThanOrEqual(done);
      expect(binding.monotonicNs()).toBeGreaterThanOrEqual(done);
    }
  });

  it('does not sleep for a deadline already past (or inside the margin)', () => {
    const out = new Float64Array([123]);
    const past = binding.monotonicNs() - 1_000_000;
    expect(binding.pacerWait(past, 200_000, out)).toBeGreaterThanOrEqual(past);
    expect(out[0]).toBe(0);
    // Less than the margin ahead: spin only.
    const near = binding.monotonicNs() + 50_000;
    expect(binding.pacerWait(near, 10_000_000, out)).toBeGreaterThanOrEqual(near);
    expect(out[0]).toBe(0);
  });

  it('reads the clock of process.hrtime', () => {
    const a = Number(process.hrtime.bigint());
    const b = binding.monotonicNs();
    const c = Number(process.hrtime.bigint());
    expect(b).toBeGreaterThanOrEqual(a);
    expect(b).toBeLessThanOrEqual(c);
  });

  it('refuses bad arguments with a TypeError, never sleeps on them', () => {
    const out = new Float64Array(1);
    const bad: unknown[][] = [
      [],
      [Number.NaN, 0, out],
      [Number.POSITIVE_INFINITY, 0, out],
      [0, Number.NaN, out],
      [1e19, 0, out],
      [0, 0],
      [0, 0, new Float32Array(1)],
      [0, 0, new Float64Array(0)],
      ['1', 0, out],
    ];
    const wait = binding.pacerWait as (...args: unknown[]) => number;
    for (const args of bad) expect(() => wait(...args), JSON.stringify(args.map(String))).toThrow(TypeError);
    const slack = binding.setTimerSlack as (...args: unknown[]) => number;
    for (const args of [[], [0], [-1], [Number.NaN], [2e12], ['50']]) expect(() => slack(...args)).toThrow(TypeError);
  });

  it('sets the timer slack of the calling thread (prctl)', () => {
    expect(binding.setTimerSlack(50_000)).toBe(0);
    expect(binding.setTimerSlack(1_000)).toBe(0);
  });
});

describe('Pacer', () => {
  it('waitUntil never returns before the deadline, far (timer stage) or near (sleep + spin)', async () => {
    const pacer = new Pacer({ marginNs: 100_000 });
    const start = monotonicNs();
    for (const offset of [0, 500_000, 1_000_000, 6_000_000, 6_100_000, 6_100_000]) {
      const deadline = start + offset;
      const done = await pacer.waitUntil(deadline);
      expect(done).toBeGreaterThanOrEqual(deadline);
      pacer.record(done - deadline);
    }
    const report = pacer.report();
    expect(report.count).toBe(6);
    expect(report.marginNs).toBe(100_000);
    expect(report.marginMissed).toBeGreaterThanOrEqual(0);
    expect(report.marginMissed).toBeLessThanOrEqual(6);
  });

  it('lets the event loop run between close deadlines (a Ctrl-C is seen)', async () => {
    const pacer = new Pacer();
    let ran = false;
    setImmediate(() => (ran = true));
    const start = monotonicNs();
    // 40 ms of deadlines 1 ms apart: never the timer stage, but turns of the loop in between.
    for (let i = 1; i <= 40; i++) await pacer.waitUntil(start + i * 1_000_000);
    expect(ran).toBe(true);
  });

  it('reports percentiles, max, mean and sends over 1 ms from what it recorded', () => {
    const pacer = new Pacer();
    for (let i = 0; i < 98; i++) pacer.record(1_500); // bucket 1-2 µs
    pacer.record(40_000);
    pacer.record(2_500_000);
    pacer.record(-5); // early counts as on time
    const r = pacer.report();
    expect(r.count).toBe(101);
    expect(r.p50Ns).toBe(2_000);
    expect(r.p99Ns).toBe(41_000);
    expect(r.maxNs).toBe(2_500_000);
    expect(r.overOneMs).toBe(1);
    expect(r.marginNs).toBe(DEFAULT_MARGIN_NS);
    expect(r.meanNs).toBeCloseTo((98 * 1_500 + 40_000 + 2_500_000) / 101, 6);
    expect(new Pacer().report()).toMatchObject({ count: 0, p50Ns: 0, p99Ns: 0, maxNs: 0, meanNs: 0, overOneMs: 0, marginMissed: 0 });
  });
});
