// The cases of the benchmark. Each run of each contestant is its own set of processes: a
// receiver (C or Node, with mc_recv's options and output) fed by the C reference sender, or a
// sender alone. Repeats go round-robin over the contestants (rotating the order each round), so
// that a slow phase of a noisy machine does not hit one contestant only.
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { BENCH_DIR, C_PROGRAMS, REFERENCE, WARM_BASE } from './contestants.mjs';
import { Proc, sleep } from './proc.mjs';
import { summary, max as maxOf, min as minOf, median } from './stats.mjs';

export class Bench {
  /**
   * @param {object} config  see run.mjs (parseOptions)
   * @param {{ tmp: string, cpus: { sender: number, receiver: number } | null, link: object,
   *           log: (line: string) => void, check: () => void }} env
   */
  constructor(config, env) {
    this.config = config;
    this.env = env;
    this.nextPort = 20000 + Math.floor(Math.random() * 20000);
    this.group = '239.255.77.1';
    this.errors = [];
  }

  port() {
    this.nextPort = this.nextPort >= 60000 ? 20000 : this.nextPort + 1;
    return this.nextPort;
  }

  // ---- processes -------------------------------------------------------------------------

  /** Starts the C reference sender (pinned to the sender CPU). */
  sender({ port, size, count = 0, seconds = 0, rate = 0, batch = 64, seqStart = 0, extra = [] }) {
    const { link, cpus } = this.env;
    const args = ['--group', this.group, '--port', String(port), '--iface-addr', link.sendAddr, '--size', String(size), '--batch', String(batch), ...extra];
    if (count) args.push('--count', String(count));
    if (seconds) args.push('--seconds', String(seconds));
    if (rate) args.push('--rate', String(rate));
    if (seqStart) args.push('--seq-start', String(seqStart));
    if (cpus) args.push('--cpu', String(cpus.sender));
    return new Proc(C_PROGRAMS.send, args, { label: 'mc_send' });
  }

  /** Starts a receiver contestant (pinned to the receiver CPU). */
  receiver(c, { port, mode, count = 0, goFile, latency = false, memory = false, warmup = 0, warmupCycles = 0, idleMs, rcvbuf }) {
    const { link, cpus } = this.env;
    const args = ['--group', this.group, '--port', String(port), '--ifindex', String(link.recvIfindex), '--mode', mode,
      '--batch', String(c.batch), '--size', String(this.config.slotSize), '--rcvbuf', String(rcvbuf ?? this.config.rcvbuf),
      '--idle-ms', String(idleMs ?? this.config.idleMs), '--first-timeout-ms', '8000'];
    if (count) args.push('--count', String(count));
    if (goFile) args.push('--go-file', goFile);
    if (latency) args.push('--latency');
    args.push(...(c.args ?? []));
    if (c.kind === 'c') {
      if (cpus) args.push('--cpu', String(cpus.receiver));
      if (c.metadata) args.push(`--metadata=${c.metadata}`);
      return new Proc(C_PROGRAMS.recv, args, { label: c.id });
    }
    args.push('--iface-addr', link.recvAddr);
    if (latency) args.push('--clock-offset', C_PROGRAMS.clockOffset);
    if (warmup) args.push('--warmup', String(warmup));
    if (warmupCycles) args.push('--warmup-cycles', String(warmupCycles));
    if (memory) args.push('--memory');
    const node = [...(memory ? ['--expose-gc'] : []), resolve(BENCH_DIR, c.script), ...args];
    const env = c.root ? { ...process.env, BENCH_MCAST_ROOT: c.root } : process.env;
    return new Proc(process.execPath, node, { label: c.id, cpu: cpus ? cpus.receiver : null, env });
  }

  /** Starts a sender contestant (pinned to the sender CPU). */
  senderContestant(c, { port, size, seconds }) {
    const { link, cpus } = this.env;
    if (c.kind === 'c') return this.sender({ port, size, seconds, batch: c.batch, extra: c.args });
    const args = [join(BENCH_DIR, c.script), '--group', this.group, '--port', String(port), '--iface-addr', link.sendAddr,
      '--size', String(size), '--seconds', String(seconds), '--batch', String(c.batch),
      '--warmup-seconds', String(this.config.sendWarmupSeconds), ...(c.args ?? [])];
    return new Proc(process.execPath, args, { label: c.id, cpu: cpus ? cpus.sender : null });
  }

  /** Feeds a Node receiver (after its READY) its warm-up datagrams and waits until it says WARM. */
  async warm(c, r, { port, size, count, rate }) {
    if (c.kind === 'c' || count === 0) return;
    const s = this.sender({ port, size, count, rate, seqStart: WARM_BASE });
    await s.json(60000);
    await r.waitLine((l) => l.startsWith('WARM'), 20000);
  }

  // ---- one run of each case --------------------------------------------------------------

  /**
   * Fills the queue of a receiver that does not read, then times the drain. A Node receiver
   * gets `warmupCycles` (default `drainWarmupCycles`) identical fill-and-drain cycles first (not
   * measured). `rcvbuf`: the receive buffer every contestant asks for (default --rcvbuf).
   */
  async drainRun(c, { size, count, senderArgs = [], rcvbuf, warmupCycles }) {
    const port = this.port();
    const goFile = join(this.env.tmp, `go-${port}`);
    const cycles = c.kind === 'node' ? (warmupCycles ?? this.config.drainWarmupCycles) : 0;
    const r = this.receiver(c, { port, mode: 'drain', count, goFile, warmupCycles: cycles, idleMs: 500, rcvbuf });
    try {
      await r.waitLine((l) => l === 'READY', 20000);
      let s;
      for (let k = cycles; k >= 0; k--) {
        s = await this.sender({ port, size, count, seqStart: k === 0 ? 0 : WARM_BASE + k * count, extra: senderArgs }).json(60000);
        await sleep(20); // loopback delivery finishes in softirq context: let it settle
        writeFileSync(goFile, '');
        if (k > 0) await r.waitLine((l) => l === 'DRAINED', 30000);
      }
      const out = await r.json(60000);
      return { ...out, sender: s };
    } finally {
      r.kill();
      if (existsSync(goFile)) unlinkSync(goFile);
    }
  }

  /**
   * A live receiver fed by the C sender (flat out, or at `rate`), for `seconds`. When another
   * process (or the hypervisor) took more than `maxForeignShare` of the receiver's CPU during the
   * run, the run is repeated (up to `disturbedRetries` times) and the least disturbed attempt is
   * kept, marked: loss and latency tails measure the neighbours otherwise. (Keeping the last one
   * let a contestant whose last attempt met a busier moment carry it into the ratio.)
   */
  async liveRun(c, options) {
    let best = null;
    for (let attempt = 1; ; attempt++) {
      const out = await this.liveRunOnce(c, options);
      if (out.foreign_cpu_share === null || out.foreign_cpu_share <= this.config.maxForeignShare) return { ...out, attempts: attempt };
      out.disturbed = true;
      if (best === null || out.foreign_cpu_share < best.foreign_cpu_share) best = out;
      const last = attempt > this.config.disturbedRetries;
      this.env.log(`  ${c.id}: ${(out.foreign_cpu_share * 100).toFixed(0)}% of the receiver's CPU went to other processes; ${last ? `kept the least disturbed (${(best.foreign_cpu_share * 100).toFixed(0)}%), marked disturbed` : 'again'}`);
      if (last) return { ...best, attempts: attempt };
    }
  }

  async liveRunOnce(c, { size, seconds, rate = 0, batch = 64, latency = false }) {
    const port = this.port();
    const r = this.receiver(c, { port, mode: 'live', latency, warmup: c.kind === 'node' ? this.config.liveWarmup : 0 });
    try {
      await r.waitLine((l) => l === 'READY', 20000);
      if (c.kind === 'node') await this.warm(c, r, { port, size, count: this.config.liveWarmup, rate: this.config.warmupRate });
      const cpu = this.env.cpus?.receiver ?? null;
      const before = cpuTicks(cpu);
      const s = await this.sender({ port, size, seconds, rate, batch }).json(seconds * 1000 + 60000);
      const out = await r.json(30000);
      const after = cpuTicks(cpu);
      return { ...out, sender: s, lost: s.sent - out.received, foreign_cpu_share: foreignShare(before, after, out.cpu_seconds) };
    } finally {
      r.kill();
    }
  }

  /** `packets` datagrams through a Node receiver, with heap and RSS before and after. */
  async memoryRun(c, { size, packets }) {
    const port = this.port();
    const r = this.receiver(c, { port, mode: 'live', count: packets, memory: true, warmup: this.config.liveWarmup, idleMs: 3000 });
    let s = null;
    try {
      await r.waitLine((l) => l === 'READY', 20000);
      await this.warm(c, r, { port, size, count: this.config.liveWarmup, rate: this.config.warmupRate });
      s = this.sender({ port, size, seconds: 100000, batch: 64 });
      const out = await r.json(this.config.memoryTimeoutMs);
      s.kill('SIGTERM');
      const sent = await s.json(10000);
      return { ...out, sender: sent };
    } finally {
      s?.kill();
      r.kill();
    }
  }

  async sendRun(c, { size, seconds }) {
    const port = this.port();
    const out = await this.senderContestant(c, { port, size, seconds }).json(seconds * 1000 + 30000);
    return { ...out, cpu_ns_per_packet: out.sent ? (out.cpu_seconds * 1e9) / out.sent : null };
  }

  /** How many datagrams of `size` a receive buffer of `rcvbuf` holds (C receiver, overfilled once). */
  async capacity(size, rcvbuf) {
    const c = { id: 'capacity', kind: 'c', batch: 64 };
    const out = await this.drainRun(c, { size, count: Math.max(60000, Math.ceil((rcvbuf ?? this.config.rcvbuf) / 256)), rcvbuf });
    return { capacity: out.received, rcvbuf: out.rcvbuf, drops: out.kernel_drops };
  }

  // ---- repeats ---------------------------------------------------------------------------

  /**
   * Runs `run(contestant)` `repeats` times for each contestant, round-robin with the order
   * rotated every round. Returns { id: [result | {error}] }.
   */
  async repeat(name, contestants, repeats, run) {
    const runs = Object.fromEntries(contestants.map((c) => [c.id, []]));
    for (let k = 0; k < repeats; k++) {
      const order = contestants.map((_, i) => contestants[(i + k) % contestants.length]);
      for (const c of order) {
        this.env.check();
        try {
          const out = await run(c);
          runs[c.id].push(out);
        } catch (error) {
          this.errors.push(`${name} ${c.id}: ${error.message}`);
          this.env.log(`  ! ${name} ${c.id}: ${error.message}`);
          runs[c.id].push({ error: error.message });
        }
      }
      this.env.log(`  ${name}: round ${k + 1}/${repeats} done`);
    }
    return runs;
  }
}

/**
 * Busy and total time of one CPU from /proc/stat (in USER_HZ ticks, 10 ms), or null when the
 * processes are not pinned (then the receiver's CPU is unknown).
 */
function cpuTicks(cpu) {
  if (cpu === null) return null;
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = f[3] + f[4];
    return { total, busy: total - idle };
  } catch {
    return null;
  }
}

/** Share of the CPU's time used by others than the receiver (its own CPU time: `ownSeconds`). */
function foreignShare(before, after, ownSeconds) {
  if (before === null || after === null || after.total <= before.total) return null;
  const TICK = 0.01; // USER_HZ is 100 on Linux
  const busy = (after.busy - before.busy) * TICK;
  const total = (after.total - before.total) * TICK;
  return Math.max(0, Math.round(((busy - (ownSeconds ?? 0)) / total) * 1000) / 1000);
}

// ---- turning runs into results -----------------------------------------------------------

const ok = (runs) => runs.filter((r) => !r.error);

/**
 * One result row per contestant: the metric's median/min/max over the runs, the ratio of the
 * median to the reference contestant's median, and case-specific extras.
 */
export function rows(contestants, runs, { metric, reference, extra = () => ({}) }) {
  const out = contestants.map((c) => {
    const good = ok(runs[c.id] ?? []);
    const values = good.map(metric).filter((v) => typeof v === 'number' && Number.isFinite(v));
    return {
      id: c.id,
      label: c.label,
      ...summary(values),
      failed: (runs[c.id] ?? []).length - good.length,
      errors: (runs[c.id] ?? []).filter((r) => r.error).map((r) => r.error),
      extra: good.length ? extra(good) : {},
      // Live cases: runs repeated because other processes took the receiver's CPU, and runs
      // kept although they were disturbed (all attempts were).
      repeated: good.reduce((a, r) => a + ((r.attempts ?? 1) - 1), 0),
      disturbed: good.filter((r) => r.disturbed).length,
      runs: runs[c.id] ?? [],
    };
  });
  const ref = out.find((r) => r.id === reference);
  for (const r of out) r.ratio = ref && ref.median && r.median !== null ? r.median / ref.median : null;
  return out;
}

export const metrics = {
  // (drain-gro and send-gso, below, measure as drain and send do)
  drain: {
    // Datagrams per second of the receiving process's CPU time during the drain (user + system,
    // all threads): the receive path alone. On a shared machine the wall clock also counts the
    // time other processes held the CPU; it is kept as wall_pps.
    metric: (r) => (r.cpu_seconds > 0 ? r.received / r.cpu_seconds : null),
    extra: (good) => ({
      cpu_ns_per_packet: median(good.map((r) => r.cpu_ns_per_packet)),
      wall_pps: median(good.map((r) => r.pps)),
      wall_pps_min: minOf(good.map((r) => r.pps)),
      wall_pps_max: maxOf(good.map((r) => r.pps)),
      incomplete: good.filter((r) => r.received !== r.sender.sent || (r.kernel_drops ?? 0) > 0).length,
      rcvbuf: good[0].rcvbuf,
      // UDP_GRO receivers: the share of datagrams that came merged, and datagrams per merged receive.
      ...(good[0].gro_datagrams === undefined ? {} : {
        merged: median(good.map((r) => (r.received ? r.gro_datagrams / r.received : null))),
        per_receive: median(good.map((r) => (r.gro_receives ? r.gro_datagrams / r.gro_receives : null))),
      }),
    }),
  },
  maxload: {
    metric: (r) => (r.sender.sent ? (100 * r.received) / r.sender.sent : null),
    extra: (good) => ({
      lost_median: median(good.map((r) => r.lost)),
      lost_max: maxOf(good.map((r) => r.lost)),
      kernel_drops_max: maxOf(good.map((r) => r.kernel_drops)),
      gaps_max: maxOf(good.map((r) => r.gaps)),
      sender_pps: median(good.map((r) => r.sender.pps)),
      cpu_ns_per_packet: median(good.map((r) => r.cpu_ns_per_packet)),
      runs_with_loss: good.filter((r) => r.lost > 0).length,
    }),
  },
  steady: {
    metric: (r) => r.cpu_ns_per_packet,
    extra: (good) => ({
      lost_max: maxOf(good.map((r) => r.lost)),
      kernel_drops_max: maxOf(good.map((r) => r.kernel_drops)),
      sender_pps: median(good.map((r) => r.sender.pps)),
      received_median: median(good.map((r) => r.received)),
    }),
  },
  latency: {
    metric: (r) => r.latency_us?.p99,
    extra: (good) => ({
      p50: median(good.map((r) => r.latency_us?.p50)),
      p999: median(good.map((r) => r.latency_us?.p999)),
      samples: median(good.map((r) => r.latency_us?.samples)),
      lost_max: maxOf(good.map((r) => r.lost)),
    }),
  },
  send: {
    // Datagrams per second of the sender's CPU time (like drain; wall clock in the notes).
    metric: (r) => (r.cpu_seconds > 0 ? r.sent / r.cpu_seconds : null),
    extra: (good) => ({
      cpu_ns_per_packet: median(good.map((r) => r.cpu_ns_per_packet)),
      wall_pps: median(good.map((r) => r.pps)),
      wall_pps_min: minOf(good.map((r) => r.pps)),
      wall_pps_max: maxOf(good.map((r) => r.pps)),
      eagain_max: maxOf(good.map((r) => r.eagain)),
    }),
  },
  get 'drain-gro'() {
    return this.drain;
  },
  get 'drain-gro-veth'() {
    return this.drain;
  },
  get 'latency-spin'() {
    return this.latency;
  },
  get 'send-gso'() {
    return this.send;
  },
  memory: {
    metric: (r) => r.memory?.heap_used_growth,
    extra: (good) => {
      const r = good[good.length - 1];
      return {
        received: r.received,
        heap_before: r.memory.before.heapUsed,
        heap_after: r.memory.after.heapUsed,
        heap_peak: r.memory.heap_used_peak,
        rss_before: r.memory.before.rss,
        rss_after: r.memory.after.rss,
        rss_growth: r.memory.rss_growth,
        gc_minor: r.memory.gc_minor,
        gc_major: r.memory.gc_major,
        gc_minor_per_million: r.received ? (r.memory.gc_minor * 1e6) / r.received : null,
        callbacks: r.memory.callbacks,
        datagrams_per_callback: r.memory.callbacks ? r.received / r.memory.callbacks : null,
        gc_exposed: r.memory.gc_exposed,
      };
    },
  },
};

export { REFERENCE };
