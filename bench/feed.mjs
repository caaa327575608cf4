// The feed case of the benchmark (`npm run bench -- --cases feed`, issue #12): what A/B line
// arbitration costs. One sender (lib/feed/sender.ts, the engine of `mcast feed-send`) sends one
// numbered stream on two lines (two groups) flat out with GSO bursts; the receiver is either a
// feed over both lines (createFeed: native arbitration, one JS call per drain with the unique
// items) or one plain 'batch' socket reading line A alone. Both count items the same way (a
// MoldUDP64 packet's count field, or one per datagram; the feed hands out each item once).
// A third receiver, two plain 'batch' sockets reading both lines without arbitration, separates
// what arbitration costs from what receiving every item twice costs (the second line's copies go
// through the kernel and recvmmsg whoever reads them).
//
// Like for like: the feed binds each line socket to its group, which lets the socket do without
// IP_PKTINFO (native/arrival_policy.h); the plain sockets above bind 0.0.0.0 and get IP_PKTINFO.
// So two more baselines bind to the group as the feed does ('single-group', 'pair-group'), and
// 'shared' is the design where lines on one port and interface are one socket with both
// memberships (one recvmmsg for both lines, the line told by the destination: IP_PKTINFO).
//
// Per run: delivered items per second of receiver CPU time (user + system, all threads, from
// the first item to the last), CPU ns per item, kernel drops; the metric is the feed's CPU per
// item over the single socket's (the target: at most 1.15). The feed runs twice: with the
// kernel duplicate filter (the default, 'auto': the second copy is dropped before it is queued)
// and without it (kernelFilter: false). A third run keeps sustained loss on
// line A (10% of the numbers, in runs of 100) and reports the feed's RSS peak and pendingHigh.
//
// This file is both the case (imported by run.mjs) and the processes it starts:
//   node bench/feed.mjs sender   --port P --format fixed|mold ... (prints one JSON line)
//   node bench/feed.mjs receiver --port P --mode feed|single ...  (READY, then one JSON line)
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { Proc } from './lib/proc.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(SELF, '..', '..');
const GROUP_A = '239.255.78.1';
const GROUP_B = '239.255.78.2';
/** Sustained loss on line A in the memory run: 100 numbers of every 1000. */
const LOSS_EVERY = 1000;
const LOSS_RUN = 100;
/** The feed's gapTimeout (ms), and the loss run's: see the loss row in variants(). */
const GAP_TIMEOUT = 50;
const LOSS_GAP_TIMEOUT = 250;

/** The variants: a fixed field in 64-byte datagrams, and MoldUDP64 packets of 20 messages. */
function variants(config) {
  const scale = config.mode === 'smoke' ? 0.01 : config.mode === 'quick' ? 0.5 : 1;
  const n = (x) => Math.max(10_000, Math.round(x * scale));
  // Paced runs compare CPU per item below saturation (nothing dropped); the flat-out run shows
  // where the receiver saturates (drops, then holes that make items wait in the feed's store).
  return [
    { label: '64 B fixed, 200k/s', title: '64 B fixed at 200k items/s', format: 'fixed', size: 64, messages: 1, items: n(1_000_000), rate: 200_000 },
    { label: 'MoldUDP64 20×32 B, 1.5M/s', title: 'MoldUDP64 20×32 B at 1.5M items/s', format: 'mold', size: 32, messages: 20, items: n(3_000_000), rate: 1_500_000 },
    { label: 'MoldUDP64 20×32 B, flat out', title: 'MoldUDP64 20×32 B flat out', format: 'mold', size: 32, messages: 20, items: n(3_000_000) },
    // Every number A loses is on B, sent right after A's burst; but a sender descheduled between
    // the two (a loaded machine) sends B's copy late. Measured: bursts of both lines taking up to
    // 144 ms, and the numbers A lost declared gaps at 50 ms with no kernel drop, B's copies then
    // counted as duplicates. So the loss run waits longer for line B than the other runs.
    { label: 'MoldUDP64, 10% loss on A', title: 'MoldUDP64 20×32 B at 1.5M items/s, 10% loss on A', format: 'mold', size: 32, messages: 20, items: n(3_000_000), rate: 1_500_000, loss: true, gapTimeout: LOSS_GAP_TIMEOUT },
  ];
}

/** One run: the single-socket baseline, the two-socket one, then the feed, on the same stream. */
async function run(bench, params) {
  const single = await receiverRun(bench, 'single', params);
  const pair = await receiverRun(bench, 'pair', params);
  // The like-for-like rows are left out of the smoke run (npm test), which only checks that the
  // case works.
  const full = bench.config.mode !== 'smoke';
  const none = { cpu_ns_per_item: null };
  // A second baseline, MoldUDP64 only: one line read by a plain socket that also walks each
  // packet's message lengths in JS (the first reads only each packet's count field).
  const singleWalk = full && params.format === 'mold' ? await receiverRun(bench, 'single-walk', params) : none;
  const singleGroup = full ? await receiverRun(bench, 'single-group', params) : none;
  const pairGroup = full ? await receiverRun(bench, 'pair-group', params) : none;
  const shared = full ? await receiverRun(bench, 'shared', params) : none;
  const feed = await receiverRun(bench, 'feed', params);
  // The same feed without the kernel duplicate filter: every second copy reaches the process.
  const feedOff = await receiverRun(bench, 'feed-nofilter', params);
  const ratioOf = (a, b) => (b.cpu_ns_per_item > 0 && a.cpu_ns_per_item > 0 ? a.cpu_ns_per_item / b.cpu_ns_per_item : null);
  const over = (base) => ratioOf(feed, base);
  const ratio = over(single);
  const ratioPair = over(pair);
  const ratioOff = ratioOf(feedOff, single);
  const ratioWalk = over(singleWalk);
  const likeForLike = {
    ratio_vs_single_group: over(singleGroup),
    ratio_vs_pair_group: over(pairGroup),
    pair_group_vs_single_group: ratioOf(pairGroup, singleGroup),
    shared_vs_pair_group: ratioOf(shared, pairGroup),
  };
  const r3 = (x) => (x === null ? '—' : x.toFixed(3));
  bench.env.log(
    `  feed ${params.title}: feed ${fmtRate(feed.items_per_cpu_second)} items/CPU-s (${fmt(feed.cpu_ns_per_item)} ns/item, ${feed.delivered} delivered, ` +
      `kernel drops ${feed.kernel_drops}, kernel filter ${feed.kernel_filter}, filtered ${feed.filtered?.join('/')} datagrams) vs one line ${fmtRate(single.items_per_cpu_second)} (${fmt(single.cpu_ns_per_item)} ns/item, kernel drops ${single.kernel_drops}): ` +
      `×${ratio === null ? '—' : ratio.toFixed(3)}; vs two plain sockets ${fmt(pair.cpu_ns_per_item)} ns/item (drops ${pair.kernel_drops}): ×${ratioPair === null ? '—' : ratioPair.toFixed(3)}; pending high ${feed.pending_high}, RSS peak ${(feed.rss_peak / 2 ** 20).toFixed(1)} MiB (+${(feed.rss_growth / 2 ** 20).toFixed(1)} MiB)`,
  );
  bench.env.log(
    `  feed without the kernel filter (kernelFilter: false): ${fmt(feedOff.cpu_ns_per_item)} ns/item, kernel drops ${feedOff.kernel_drops}: ×${r3(ratioOff)} of one line; with it ×${r3(ratio)}`,
  );
  if (ratioWalk !== null) bench.env.log(
    `  second baseline, one line walking every message (a plain socket that also reads each MoldUDP64 message length in JS): ${fmt(singleWalk.cpu_ns_per_item)} ns/item; feed ×${r3(ratioWalk)} of it (the target stays judged against the first, reading one line)`,
  );
  if (full) bench.env.log(
    `  like for like (sockets bound to their groups, as the feed's): one line ${fmt(singleGroup.cpu_ns_per_item)} ns/item, two ${fmt(pairGroup.cpu_ns_per_item)} (×${r3(likeForLike.pair_group_vs_single_group)} of one), ` +
      `one socket with both memberships ${fmt(shared.cpu_ns_per_item)} (×${r3(likeForLike.shared_vs_pair_group)} of two); feed ×${r3(likeForLike.ratio_vs_single_group)} of one, ×${r3(likeForLike.ratio_vs_pair_group)} of two`,
  );
  return { ratio, ratioPair, ratioOff, ratioWalk, feed, feedOff, single, singleWalk, pair, singleGroup, pairGroup, shared, ...likeForLike };
}

const fmt = (x) => (typeof x === 'number' ? x.toFixed(0) : '—');

async function receiverRun(bench, mode, p) {
  const { cpus, link } = bench.env;
  const port = bench.port();
  const common = ['--port', String(port), '--format', p.format, '--size', String(p.size), '--messages', String(p.messages), '--items', String(p.items)];
  const gap = ['--gap-timeout', String(p.gapTimeout ?? GAP_TIMEOUT)];
  const r = new Proc(process.execPath, [SELF, 'receiver', ...common, ...gap, '--mode', mode, '--ifindex', String(link.recvIfindex), '--rcvbuf', String(bench.config.rcvbuf)], {
    label: `feed-${mode}`,
    cpu: cpus ? cpus.receiver : null,
  });
  try {
    await r.waitLine((l) => l === 'READY', 20000);
    const s = new Proc(process.execPath, [SELF, 'sender', ...common, '--iface-addr', link.sendAddr, ...(p.loss ? ['--loss'] : []), ...(p.rate ? ['--rate', String(p.rate)] : [])], {
      label: 'feed-sender',
      cpu: cpus ? cpus.sender : null,
    });
    const sent = await s.json(120000);
    const out = await r.json(120000);
    return { ...out, sender: sent };
  } finally {
    r.kill();
  }
}

function fmtRate(x) {
  if (typeof x !== 'number') return '—';
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(0)}k`;
}

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  return v.length === 0 ? null : v[Math.floor((v.length - 1) / 2)];
};

/** The case, as one entry of run.mjs's CASES table. */
export const feedCase = {
  name: 'feed',
  who: 'receivers',
  // One row: the feed's CPU per item over one plain 'batch' socket's (both in each run).
  only: ['mcast-batch'],
  reference: null,
  variants,
  describe: (p) => `feed ${p.title}: ${p.items} items on two lines, sender ${p.rate ? `paced at ${p.rate}/s` : 'flat out'} (GSO); feed over both lines vs one 'batch' socket on line A, and vs two on both lines`,
  repeats: (config) => config.repeats,
  run: (bench, _c, p) => run(bench, p),
  metrics: {
    metric: (r) => r.ratio,
    extra: (good) => ({
      feed_items_per_cpu_second: median(good.map((r) => r.feed.items_per_cpu_second)),
      feed_cpu_ns_per_item: median(good.map((r) => r.feed.cpu_ns_per_item)),
      feed_delivered: median(good.map((r) => r.feed.delivered)),
      feed_kernel_drops: median(good.map((r) => r.feed.kernel_drops)),
      feed_gap_items: median(good.map((r) => r.feed.gap_items)),
      feed_kernel_filter: good[0]?.feed.kernel_filter ?? null,
      feed_filtered: median(good.map((r) => (r.feed.filtered ?? []).reduce((a, x) => a + x, 0))),
      nofilter_cpu_ns_per_item: median(good.map((r) => r.feedOff.cpu_ns_per_item)),
      nofilter_kernel_drops: median(good.map((r) => r.feedOff.kernel_drops)),
      ratio_nofilter_vs_single: median(good.map((r) => r.ratioOff)),
      single_items_per_cpu_second: median(good.map((r) => r.single?.items_per_cpu_second)),
      single_cpu_ns_per_item: median(good.map((r) => r.single?.cpu_ns_per_item)),
      single_kernel_drops: median(good.map((r) => r.single?.kernel_drops)),
      single_walk_cpu_ns_per_item: median(good.map((r) => r.singleWalk.cpu_ns_per_item)),
      ratio_vs_single_walk: median(good.map((r) => r.ratioWalk)),
      pair_cpu_ns_per_item: median(good.map((r) => r.pair.cpu_ns_per_item)),
      pair_kernel_drops: median(good.map((r) => r.pair.kernel_drops)),
      ratio_vs_pair: median(good.map((r) => r.ratioPair)),
      single_group_cpu_ns_per_item: median(good.map((r) => r.singleGroup.cpu_ns_per_item)),
      pair_group_cpu_ns_per_item: median(good.map((r) => r.pairGroup.cpu_ns_per_item)),
      shared_cpu_ns_per_item: median(good.map((r) => r.shared.cpu_ns_per_item)),
      ratio_vs_single_group: median(good.map((r) => r.ratio_vs_single_group)),
      ratio_vs_pair_group: median(good.map((r) => r.ratio_vs_pair_group)),
      pair_group_vs_single_group: median(good.map((r) => r.pair_group_vs_single_group)),
      shared_vs_pair_group: median(good.map((r) => r.shared_vs_pair_group)),
      feed_pending_high: median(good.map((r) => r.feed.pending_high)),
      feed_rss_peak: median(good.map((r) => r.feed.rss_peak)),
      feed_rss_growth: median(good.map((r) => r.feed.rss_growth)),
      sender_items_per_second: median(good.map((r) => r.feed.sender.items_per_second)),
      target: 'feed CPU per item ≤ 1.15 × one plain batch socket on one line',
      met: median(good.map((r) => r.ratio)) === null ? null : median(good.map((r) => r.ratio)) <= 1.15,
    }),
  },
  // How the printed table shows it (bench/lib/report.mjs).
  view: {
    value: (v) => `×${v.toFixed(3)} CPU/item`,
    range: (r) => `×${r.min.toFixed(3)} – ×${r.max.toFixed(3)}`,
    notes: (r) =>
      `feed ${fmt(r.extra.feed_cpu_ns_per_item)} ns/item (${fmtRate(r.extra.feed_items_per_cpu_second)} items/CPU-s, kernel drops ${fmt(r.extra.feed_kernel_drops)}, gap items ${fmt(r.extra.feed_gap_items)}, ` +
      `kernel filter ${r.extra.feed_kernel_filter}, ${fmt(r.extra.feed_filtered)} datagrams filtered); without the filter ${fmt(r.extra.nofilter_cpu_ns_per_item)} ns/item ×${r.extra.ratio_nofilter_vs_single?.toFixed(3) ?? '—'} (drops ${fmt(r.extra.nofilter_kernel_drops)}), ` +
      `one line ${fmt(r.extra.single_cpu_ns_per_item)} ns/item (${fmtRate(r.extra.single_items_per_cpu_second)}, drops ${fmt(r.extra.single_kernel_drops)}); ` +
      (r.extra.ratio_vs_single_walk === null ? '' : `one line walking every message ${fmt(r.extra.single_walk_cpu_ns_per_item)} ns/item: feed ×${r.extra.ratio_vs_single_walk.toFixed(3)}; `) +
      `two plain sockets ${fmt(r.extra.pair_cpu_ns_per_item)} ns/item (drops ${fmt(r.extra.pair_kernel_drops)}): feed ×${r.extra.ratio_vs_pair?.toFixed(3) ?? '—'}; ` +
      `like for like (bound to the groups): feed ×${r.extra.ratio_vs_single_group?.toFixed(3) ?? '—'} of one line, ×${r.extra.ratio_vs_pair_group?.toFixed(3) ?? '—'} of two; two ×${r.extra.pair_group_vs_single_group?.toFixed(3) ?? '—'} of one; one socket for both ×${r.extra.shared_vs_pair_group?.toFixed(3) ?? '—'} of two; ` +
      `pending high ${fmt(r.extra.feed_pending_high)}, RSS peak ${(r.extra.feed_rss_peak / 2 ** 20).toFixed(1)} MiB; target ≤ ×1.15: ${r.extra.met === null ? '—' : r.extra.met ? 'met' : 'NOT met'}`,
  },
};

// ---- the processes ---------------------------------------------------------------------------

function options() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string' }, format: { type: 'string' }, size: { type: 'string' }, messages: { type: 'string' },
      items: { type: 'string' }, mode: { type: 'string' }, ifindex: { type: 'string' }, rcvbuf: { type: 'string' },
      'iface-addr': { type: 'string' }, loss: { type: 'boolean', default: false }, rate: { type: 'string' },
      'gap-timeout': { type: 'string' },
    },
  });
  return {
    role: positionals[0],
    port: Number(values.port),
    format: values.format,
    size: Number(values.size),
    messages: Number(values.messages),
    items: Number(values.items),
    mode: values.mode,
    ifindex: Number(values.ifindex),
    rcvbuf: Number(values.rcvbuf ?? 4194304),
    ifaceAddr: values['iface-addr'],
    loss: values.loss,
    rate: values.rate === undefined ? 0 : Number(values.rate),
    gapTimeout: values['gap-timeout'] === undefined ? GAP_TIMEOUT : Number(values['gap-timeout']),
  };
}

const sequenceOf = (o) => (o.format === 'mold' ? 'moldudp64' : { offset: 0, size: 4, endian: 'big' });

async function sender(o) {
  const { FeedSender } = await import(pathToFileURL(resolve(ROOT, 'dist', 'feed', 'sender.js')).href).then((m) => m.default ?? m);
  const drops = [];
  if (o.loss) for (let n = 1; n <= o.items; n += LOSS_EVERY) drops.push([n + LOSS_EVERY - LOSS_RUN, n + LOSS_EVERY - 1]);
  const line = (group) => ({ group, port: o.port, family: 4, interface: o.ifaceAddr });
  const s = new FeedSender({
    lines: [line(GROUP_A), line(GROUP_B)],
    sequence: sequenceOf(o),
    messagesPerPacket: o.messages,
    size: o.size,
    ttl: 0,
    drops: [drops, []],
    sendBufferSize: 4 << 20,
  });
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  // Flat out: chunks of 16 bursts of 64 packets. Paced: bursts of about 1 ms of the rate, each
  // waiting (on a timer) for its absolute deadline.
  const chunk = 64 * o.messages * 16;
  const burst = o.rate ? Math.max(1, Math.min(64, Math.ceil(o.rate / 1000 / o.messages))) : 64;
  const pace = o.rate
    ? async (sent) => {
        const early = Number(t0) + (sent / o.rate) * 1e9 - Number(process.hrtime.bigint());
        if (early > 0) await new Promise((r) => setTimeout(r, early / 1e6));
      }
    : undefined;
  for (let done = 0; done < o.items; done += chunk) {
    const base = done;
    await s.send(1 + done, Math.min(chunk, o.items - done), pace && ((k) => pace(base + k)), burst);
  }
  if (o.format === 'mold') for (let k = 0; k < 5; k++) s.heartbeat();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const stats = s.stats();
  s.close();
  process.stdout.write(`${JSON.stringify({ items: o.items, seconds, items_per_second: o.items / seconds, cpu_seconds: (cpu.user + cpu.system) / 1e6, packets: stats.packets })}\n`);
}

async function receiver(o) {
  const mcast = await import(pathToFileURL(resolve(ROOT, 'dist', 'index.js')).href).then((m) => m.default ?? m);
  const rss0 = process.memoryUsage().rss;
  let rssPeak = rss0;
  let items = 0;
  // One getrusage per call, as process.cpuUsage(): CPU time and the process's voluntary context
  // switches (each one a sleep in epoll_wait and a wakeup by the kernel).
  const usage = () => {
    const u = process.resourceUsage();
    return { user: u.userCPUTime, system: u.systemCPUTime, sleeps: u.voluntaryContextSwitches };
  };
  const since = (start) => {
    const u = usage();
    return start === null ? u : { user: u.user - start.user, system: u.system - start.system, sleeps: u.sleeps - start.sleeps };
  };
  let cpuStart = null;
  let cpuEnd = null;
  let tStart = 0n;
  let tEnd = 0n;
  let lastProgress = Date.now();
  const mark = () => {
    if (cpuStart === null) {
      cpuStart = usage();
      tStart = process.hrtime.bigint();
    }
  };
  const done = () => {
    cpuEnd = since(cpuStart);
    tEnd = process.hrtime.bigint();
    lastProgress = Date.now();
  };
  let stats;
  let close;
  if (!o.mode.startsWith('feed')) {
    // 'pair', 'pair-group' and 'shared' read both lines and count half of what they read: the
    // items of one stream. '-group': each socket bound to its group, as the feed's line sockets.
    // 'shared': one socket bound to the port with both memberships.
    // 'single-walk': one line, also walking every message's length (MoldUDP64), as any reader
    // of one MoldUDP64 line must to hand out its messages (the feed does it for its items).
    const groups = o.mode.startsWith('single') ? [GROUP_A] : [GROUP_A, GROUP_B];
    const weight = 1 / groups.length;
    const open = (address) => mcast.createSocket({ port: o.port, recvBufferSize: o.rcvbuf, batchSize: 64, ...(address !== undefined && { address }) });
    const sockets =
      o.mode === 'shared'
        ? [open()]
        : groups.map((group) => open(o.mode.endsWith('-group') ? group : undefined));
    groups.forEach((group, i) => sockets[o.mode === 'shared' ? 0 : i].join(group, { interface: o.ifindex }));
    const mold = o.format === 'mold';
    const walk = mold && o.mode === 'single-walk';
    let read = 0;
    for (const socket of sockets) {
      socket.on('batch', (b) => {
        mark();
        const buf = b.buffer;
        // The same work per datagram the feed does before it can arbitrate: find its number(s).
        for (let i = 0; i < b.count; i++) {
          const at = b.offset(i);
          if (walk) {
            const n = buf.readUInt16BE(at + 18);
            if (n === 0xffff) continue;
            let p = at + 20;
            for (let k = 0; k < n; k++) {
              p += 2 + buf.readUInt16BE(p);
              read++;
            }
          } else if (mold) {
            const n = buf.readUInt16BE(at + 18);
            if (n !== 0xffff) read += n;
          } else if (buf.readUInt32BE(at) > 0) read++;
        }
        items = Math.round(read * weight);
        done();
      });
    }
    stats = () => ({ kernel_drops: sockets.reduce((a, s) => a + s.stats().kernelDrops, 0) });
    close = () => {
      for (const s of sockets) s.close();
    };
  } else {
    // 'feed-one' (a diagnostic, not in the case's runs): a feed of line A alone, which separates
    // what the feed's own per-item work costs from what the second line adds.
    const lines = (o.mode === 'feed-one' ? [GROUP_A] : [GROUP_A, GROUP_B]).map((group) => ({ group, port: o.port, interface: o.ifindex }));
    const kernelFilter = o.mode === 'feed-nofilter' ? false : 'auto';
    const feed = mcast.createFeed({ lines, sequence: sequenceOf(o), startSequence: 1, recvBufferSize: o.rcvbuf, gapTimeout: o.gapTimeout, maxPending: 1 << 20, kernelFilter });
    feed.on('batch', (b) => {
      mark();
      items += b.count;
      done();
    });
    let resets = 0;
    feed.on('gap', () => done());
    feed.on('reset', () => resets++);
    stats = () => {
      const s = feed.stats();
      return {
        kernel_drops: s.lines.reduce((a, l) => a + l.kernelDrops, 0),
        gap_items: s.gapItems,
        gaps: s.gaps,
        pending_high: s.pendingHigh,
        duplicates: s.lines.map((l) => l.duplicates),
        wins: s.lines.map((l) => l.wins),
        next_sequence: s.nextSequence,
        resets,
        recovered_from_line: s.recoveredFromLine,
        kernel_filter: s.kernelFilter.active ? 'on' : `off (${s.kernelFilter.reason})`,
        filtered: s.lines.map((l) => l.filtered),
      };
    };
    close = () => feed.close();
  }
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 50);
  process.stdout.write('READY\n');
  // Done when every item came, or 1 s after the last progress.
  await new Promise((resolveDone) => {
    const check = setInterval(() => {
      if (items >= o.items || (cpuStart !== null && Date.now() - lastProgress > 1000)) {
        clearInterval(check);
        resolveDone();
      }
    }, 20);
  });
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  const cpu = cpuEnd === null ? 0 : (cpuEnd.user + cpuEnd.system) / 1e6;
  const out = {
    mode: o.mode,
    delivered: items,
    cpu_seconds: cpu,
    // The split, for attribution: user (the process's own code, JS and native) and system (the
    // kernel's receive work done in the process: recvmmsg, epoll, wakeups).
    cpu_user_seconds: cpuEnd === null ? 0 : cpuEnd.user / 1e6,
    cpu_system_seconds: cpuEnd === null ? 0 : cpuEnd.system / 1e6,
    sleeps: cpuEnd === null ? 0 : cpuEnd.sleeps,
    wall_seconds: Number(tEnd - tStart) / 1e9,
    items_per_cpu_second: cpu > 0 ? items / cpu : null,
    cpu_ns_per_item: items > 0 ? (cpu * 1e9) / items : null,
    rss_peak: rssPeak,
    rss_growth: rssPeak - rss0,
    ...stats(),
  };
  close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const o = options();
  const main = o.role === 'sender' ? sender : o.role === 'receiver' ? receiver : null;
  if (main === null) {
    process.stderr.write('usage: node bench/feed.mjs sender|receiver ... (started by bench/run.mjs --cases feed)\n');
    process.exit(2);
  }
  main(o).catch((error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  });
}

