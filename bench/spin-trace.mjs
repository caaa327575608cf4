// Reads the diagnostics of bench/receivers/mcast-spin.mjs (BENCH_SPIN_TRACE=DIR, optionally
// BENCH_SPIN_GAPS=1) and says where the latency tail's time went:
//   BENCH_SPIN_TRACE=/tmp/t npm run bench -- --cases latency-spin --contestants mcast-spin,c-spin
//   node bench/spin-trace.mjs /tmp/t/*.json
// Per run: the percentiles; how many of the samples at or above the p99 spent most of their
// latency in a stall of the receive loop (a gap: the loop did not turn; a yield to the event
// loop) or in none (the datagram was late before it reached the socket, or the stall was
// shorter than 10 µs); the stalls inside the stream; GCs inside it; the other threads' CPU.
// With gaps: their lengths and their phase modulo 4 ms (CONFIG_HZ 250: the scheduler tick).
import { readFileSync } from 'node:fs';

const GAP = 0;
const YIELD = 1;

for (const file of process.argv.slice(2)) {
  const t = JSON.parse(readFileSync(file, 'utf8'));
  const lat = t.samples.map((s) => s[1]).sort((a, b) => a - b);
  const pct = (p) => lat[Math.max(0, Math.ceil(p * lat.length) - 1)];
  const first = t.samples[0][0];
  const last = t.samples.at(-1)[0];
  const inStream = t.stalls.filter((s) => s[1] >= first && s[0] <= last);
  const p99 = pct(0.99);
  const cls = { gap: 0, yield: 0, none: 0 };
  for (const [p, l] of t.samples) {
    if (l < p99) continue;
    const sent = p - l / 1000;
    const stalled = [0, 0];
    for (const s of inStream) if (s[1] >= sent && s[0] <= p) stalled[s[2]] += Math.min(s[1], p) - Math.max(s[0], sent);
    if (stalled[GAP] + stalled[YIELD] < l / 2000) cls.none++;
    else if (stalled[YIELD] > stalled[GAP]) cls.yield++;
    else cls.gap++;
  }
  const ms = (list) => list.reduce((a, s) => a + s[1] - s[0], 0);
  const gaps = inStream.filter((s) => s[2] === GAP);
  const yields = inStream.filter((s) => s[2] === YIELD);
  const gcs = t.gcs.filter((g) => g[0] >= first && g[0] <= last);
  console.log(`${file}: ${lat.length} samples, p50 ${pct(0.5).toFixed(1)} p99 ${p99.toFixed(1)} p99.9 ${pct(0.999).toFixed(1)} max ${lat.at(-1).toFixed(1)} µs`);
  console.log(`  samples >= p99: ${cls.gap} in a gap, ${cls.yield} in a yield, ${cls.none} in neither`);
  console.log(`  in the stream: ${gaps.length} gaps (${ms(gaps).toFixed(1)} ms), ${yields.length} yields (${ms(yields).toFixed(2)} ms), ${gcs.length} GCs (${gcs.reduce((a, g) => a + g[1], 0).toFixed(2)} ms)`);
  console.log(`  involuntary switches ${t.involuntary_switches}; CPU ticks (wake-ups) per thread: ${t.threads.filter((x) => x.ticks > 0 || x.wakeups > 0).map((x) => `${x.tid}:${x.ticks}(${x.wakeups ?? "?"})`).join(" ")}`);
  if (gaps.length > 0) {
    const hist = {};
    for (const s of gaps) {
      const us = (s[1] - s[0]) * 1000;
      const bin = us < 20 ? '10-20' : us < 40 ? '20-40' : us < 80 ? '40-80' : us < 160 ? '80-160' : us < 1000 ? '160-1000' : '>1000';
      hist[bin] = (hist[bin] ?? 0) + 1;
    }
    const bins = new Array(10).fill(0);
    for (const s of gaps) if ((s[1] - s[0]) * 1000 >= 20) bins[Math.floor((((s[0] % 4) + 4) % 4) / 0.4)]++;
    console.log(`  gap lengths (µs): ${JSON.stringify(hist)}; gaps >= 20 µs by phase mod 4 ms (0.4 ms bins): ${bins.join(' ')}`);
  }
}
