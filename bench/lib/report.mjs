// The printed table, the targets of the issue, and their Markdown form.

import { median } from './stats.mjs';

const fmt = {
  mpps: (v) => (v === null ? '—' : `${(v / 1e6).toFixed(3)} Mpps`),
  mppsBare: (v) => (v === null ? '—' : (v / 1e6).toFixed(3)),
  ns: (v) => (v === null ? '—' : `${Math.round(v)} ns`),
  us: (v) => (v === null || v === undefined ? '—' : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} µs`),
  pct: (v) => (v === null ? '—' : `${v >= 99.995 && v < 100 ? v.toFixed(3) : v.toFixed(2)} %`),
  bytes: (v) => {
    if (v === null || v === undefined) return '—';
    const sign = v < 0 ? '-' : '+';
    const a = Math.abs(v);
    if (a >= 1024 * 1024) return `${sign}${(a / 1024 / 1024).toFixed(2)} MiB`;
    if (a >= 1024) return `${sign}${(a / 1024).toFixed(1)} KiB`;
    return `${sign}${a} B`;
  },
  mib: (v) => (v === null || v === undefined ? '—' : `${(v / 1024 / 1024).toFixed(1)}`),
  ratio: (v) => (v === null || v === undefined ? '—' : `${v.toFixed(2)}×`),
  int: (v) => (v === null || v === undefined ? '—' : String(Math.round(v))),
};

/** How each case shows its value and notes. */
const VIEW = {
  drain: {
    value: fmt.mpps,
    range: (r) => `${fmt.mppsBare(r.min)} – ${fmt.mppsBare(r.max)}`,
    notes: (r) =>
      `CPU ${fmt.ns(r.extra.cpu_ns_per_packet)}/pkt; wall clock ${fmt.mppsBare(r.extra.wall_pps)} Mpps (${fmt.mppsBare(r.extra.wall_pps_min)} – ${fmt.mppsBare(r.extra.wall_pps_max)})` +
      (r.extra.incomplete ? `, ${r.extra.incomplete} run(s) incomplete` : '') +
      (r.extra.merged === undefined ? '' : `; merged ${fmt.pct(r.extra.merged === null ? null : r.extra.merged * 100)}, ${r.extra.per_receive === null ? '—' : r.extra.per_receive.toFixed(1)} per receive`),
  },
  maxload: {
    value: (v) => `${fmt.pct(v)} recv`,
    range: (r) => `${fmt.pct(r.min)} – ${fmt.pct(r.max)}`,
    notes: (r) =>
      `lost ${fmt.int(r.extra.lost_median)} (max ${fmt.int(r.extra.lost_max)}), kernel drops max ${r.extra.kernel_drops_max ?? 'n/a'}, ` +
      `CPU ${fmt.ns(r.extra.cpu_ns_per_packet)}/pkt, sender ${fmt.mppsBare(r.extra.sender_pps)} Mpps`,
  },
  steady: {
    value: (v) => `${fmt.ns(v)}/pkt`,
    range: (r) => `${fmt.int(r.min)} – ${fmt.int(r.max)} ns`,
    notes: (r) => `lost max ${fmt.int(r.extra.lost_max)}, sender ${fmt.int(r.extra.sender_pps)} pps`,
  },
  latency: {
    value: (v) => `p99 ${fmt.us(v)}`,
    range: (r) => `${fmt.us(r.min)} – ${fmt.us(r.max)}`,
    notes: (r) => `p50 ${fmt.us(r.extra.p50)}, p99.9 ${fmt.us(r.extra.p999)}, lost max ${fmt.int(r.extra.lost_max)}`,
  },
  send: {
    value: fmt.mpps,
    range: (r) => `${fmt.mppsBare(r.min)} – ${fmt.mppsBare(r.max)}`,
    notes: (r) =>
      `CPU ${fmt.ns(r.extra.cpu_ns_per_packet)}/pkt; wall clock ${fmt.mppsBare(r.extra.wall_pps)} Mpps (${fmt.mppsBare(r.extra.wall_pps_min)} – ${fmt.mppsBare(r.extra.wall_pps_max)})` +
      (r.extra.eagain_max ? `, EAGAIN max ${r.extra.eagain_max}` : ''),
  },
  memory: {
    value: (v) => `heap ${fmt.bytes(v)}`,
    range: (r) => (r.n > 1 ? `${fmt.bytes(r.min)} – ${fmt.bytes(r.max)}` : '(1 run)'),
    notes: (r) =>
      r.extra.received === undefined
        ? ''
        : `${(r.extra.received / 1e6).toFixed(1)}M pkts; heap ${fmt.mib(r.extra.heap_before)}→${fmt.mib(r.extra.heap_after)} MiB ` +
          `(peak ${fmt.mib(r.extra.heap_peak)}), RSS ${fmt.mib(r.extra.rss_before)}→${fmt.mib(r.extra.rss_after)} MiB, ` +
          `scavenges ${r.extra.gc_minor} (${(r.extra.gc_minor_per_million ?? 0).toFixed(1)}/M pkts), mark-compacts ${r.extra.gc_major}` +
          (r.extra.datagrams_per_callback ? `, ${r.extra.datagrams_per_callback.toFixed(1)} pkts per batch callback` : ''),
  },
};

// The offload cases measure what their plain forms measure.
VIEW['drain-gro'] = VIEW.drain;
VIEW['drain-gro-veth'] = VIEW.drain;
VIEW['latency-spin'] = VIEW.latency;
VIEW['send-gso'] = VIEW.send;

const HEADER = ['case', 'contestant', 'median', 'min – max', 'vs C', 'notes'];

/** Table rows (arrays of cells) for every case result. */
export function tableRows(results) {
  const out = [];
  for (const section of results) {
    const view = VIEW[section.case] ?? section.view; // a case may bring its own (bench/feed.mjs)
    section.rows.forEach((r, i) => {
      out.push([
        i === 0 ? `${section.case} ${section.variant}` : '',
        r.label,
        r.median === null ? (r.failed ? 'FAILED' : '—') : view.value(r.median),
        r.median === null ? '' : view.range(r),
        section.reference ? fmt.ratio(r.ratio) : '—',
        (r.median === null ? '' : view.notes(r)) +
          (r.repeated ? ` [${r.repeated} run(s) repeated: CPU taken by other processes${r.disturbed ? `, ${r.disturbed} kept disturbed` : ''}]` : '') +
          (r.failed ? ` [${r.failed} failed]` : ''),
      ]);
    });
  }
  return out;
}

export function textTable(results) {
  const rows = [HEADER, ...tableRows(results)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => [...r[i]].length)));
  const line = (r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  const body = [];
  let first = true;
  for (const r of rows.slice(1)) {
    if (r[0] !== '' && !first) body.push('');
    first = false;
    body.push(line(r));
  }
  return [line(HEADER), sep, ...body].join('\n');
}

export function markdownTable(results) {
  const esc = (s) => s.replace(/\|/g, '\\|');
  const rows = tableRows(results);
  return [
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((_, i) => (i >= 2 && i <= 4 ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

// ---- targets -----------------------------------------------------------------------------

function find(results, name, id) {
  const out = [];
  for (const s of results) {
    if (s.case !== name) continue;
    const row = s.rows.find((r) => r.id === id);
    if (row) out.push({ section: s, row });
  }
  return out;
}

/**
 * Ratios a/b of the runs of the same round (runs[k] of each contestant is its k-th round, errors
 * included, so the indices line up), for rounds where both have a value.
 */
function pairRatios(aRuns, bRuns, metric) {
  const out = [];
  for (let k = 0; k < Math.min(aRuns.length, bRuns.length); k++) {
    const a = aRuns[k].error ? null : metric(aRuns[k]);
    const b = bRuns[k].error ? null : metric(bRuns[k]);
    if (typeof a === 'number' && typeof b === 'number' && b > 0) out.push(a / b);
  }
  return out;
}

function rowOf(section, id) {
  return section.rows.find((r) => r.id === id) ?? null;
}

/** The targets of the issue, each with the measured ratio and whether it is met. */
export function evaluateTargets(results) {
  const t = [];
  const add = (target, variant, value, threshold, met, detail) =>
    t.push({ target, variant, value, threshold, met: value === null ? null : met, detail });
  for (const { section, row } of find(results, 'drain', 'mcast-batch')) {
    const c = rowOf(section, 'c-recvmmsg');
    const d = rowOf(section, 'dgram');
    // Bound to its group with one membership, mcast asks the kernel for the source alone (no
    // IP_PKTINFO: native/arrival_policy.h), as c-recvmmsg-name does.
    const m = rowOf(section, 'c-recvmmsg-name');
    const ns = rowOf(section, 'mcast-batch-nosource');
    const r = c?.median && row.median ? row.median / c.median : null;
    const rm = m?.median && row.median ? row.median / m.median : null;
    const rn = c?.median && ns?.median ? ns.median / c.median : null;
    const wall = c?.extra.wall_pps && row.extra.wall_pps ? row.extra.wall_pps / c.extra.wall_pps : null;
    add('drain: batch path ≥ 0.9 × C recvmmsg(64)', section.variant, r, 0.9, r !== null && r >= 0.9,
      `${fmt.ratio(r)} (wall clock ${fmt.ratio(wall)}; vs C asking for the same, the source address, ${fmt.ratio(rm)}; with sourceAddress: false ${fmt.ratio(rn)})`);
    const rd = d?.median && row.median ? row.median / d.median : null;
    add('drain: batch path ≥ 6 × dgram', section.variant, rd, 6, rd !== null && rd >= 6, `${fmt.ratio(rd)}`);
  }
  for (const { section, row } of find(results, 'maxload', 'mcast-batch')) {
    const c = rowOf(section, 'c-recvmmsg');
    if (!c || c.median === null || row.median === null) {
      add('max load: zero loss for the batch path where C loses nothing', section.variant, null, 0, null, 'no data');
      continue;
    }
    const cLost = c.extra.lost_max ?? null;
    const bLost = row.extra.lost_max ?? null;
    if (cLost > 0) {
      add('max load: zero loss for the batch path where C loses nothing', section.variant, bLost, 0, true, `C lost ${cLost} (not applicable)`);
    } else {
      add('max load: zero loss for the batch path where C loses nothing', section.variant, bLost, 0, bLost === 0,
        `batch path lost max ${bLost} (runs with loss: ${row.extra.runs_with_loss}/${row.n}); C lost 0`);
    }
  }
  for (const { section, row } of find(results, 'steady', 'mcast-batch')) {
    const c = rowOf(section, 'c-recvmmsg');
    const r = c?.median && row.median ? row.median / c.median : null;
    add('steady: CPU/packet ≤ 1.2 × C recvmmsg(64)', section.variant, r, 1.2, r !== null && r <= 1.2,
      `${fmt.ratio(r)} (lost max ${row.extra.lost_max ?? '—'})`);
  }
  for (const { section, row } of find(results, 'latency', 'mcast-batch')) {
    const d = rowOf(section, 'dgram');
    const r = d?.median && row.median ? row.median / d.median : null;
    add("latency: batch path p99 ≤ dgram's p99", section.variant, r, 1, r !== null && r <= 1,
      `p99 ${fmt.us(row.median)} vs dgram ${fmt.us(d?.median)}`);
  }
  for (const { section, row } of find(results, 'send', 'mcast-sendBatch')) {
    const c = rowOf(section, 'c-sendmmsg');
    const r = c?.median && row.median ? row.median / c.median : null;
    const wall = c?.extra.wall_pps && row.extra.wall_pps ? row.extra.wall_pps / c.extra.wall_pps : null;
    add('send: sendBatch ≥ 0.9 × C sendmmsg(64)', section.variant, r, 0.9, r !== null && r >= 0.9, `${fmt.ratio(r)} (wall clock ${fmt.ratio(wall)})`);
  }
  // Ratios of one row's median to others' in the same section, for the offload targets.
  const ratioTo = (section, row, id) => {
    const c = rowOf(section, id);
    return c?.median && row.median ? row.median / c.median : null;
  };
  // Both forms of sendBatch: a list of Uint8Array, and one block cut by a segment size.
  for (const [id, form] of [['mcast-sendBatch', 'sendBatch(list)'], ['mcast-sendBatch-block', 'sendBatch(block)']]) {
    for (const { section, row } of find(results, 'send-gso', id)) {
      const rg = ratioTo(section, row, 'c-gso');
      add(`send-gso: ${form} ≥ 0.9 × C UDP_SEGMENT`, section.variant, rg, 0.9, rg !== null && rg >= 0.9, fmt.ratio(rg));
      if (section.params.size >= 1000) {
        const rm = ratioTo(section, row, 'c-sendmmsg');
        add(`send-gso: ${form} ≥ 10 × C sendmmsg(64)`, section.variant, rm, 10, rm !== null && rm >= 10, fmt.ratio(rm));
      }
    }
  }
  // The block form at 1024 datagrams per call against C at the same call size (one sendmmsg
  // per call on both sides).
  for (const { section, row } of find(results, 'send-gso', 'mcast-sendBatch-block-1024')) {
    const rg = ratioTo(section, row, 'c-gso-1024');
    add('send-gso: sendBatch(block), 1024 per call, ≥ 0.9 × C UDP_SEGMENT(1024)', section.variant, rg, 0.9, rg !== null && rg >= 0.9, fmt.ratio(rg));
  }
  for (const { section, row } of find(results, 'latency-spin', 'mcast-spin')) {
    const c = rowOf(section, 'c-spin');
    // The median of the rounds' own ratios: each round runs C and mcast back to back on the same
    // CPUs with the same sender, so a round's ratio compares the same moment of the machine (the
    // ratio of two medians can pair a quiet C run with a busy mcast run).
    const pairs = c ? pairRatios(row.runs, c.runs, (r) => r.latency_us?.p99) : [];
    const r = pairs.length > 0 ? median(pairs) : c?.median && row.median ? row.median / c.median : null;
    add("latency-spin: receiveSync spin p99 ≤ 1.3 × C spin's p99", section.variant, r, 1.3, r !== null && r <= 1.3,
      `median of ${pairs.length} round ratio(s) [${pairs.map((x) => x.toFixed(2)).join(', ')}]; ` +
      `p99 medians ${fmt.us(row.median)} vs C ${fmt.us(c?.median)}`);
  }
  for (const { section, row } of find(results, 'drain', 'mcast-message')) {
    const c = rowOf(section, 'c-recvmmsg');
    const r = c?.median && row.median ? row.median / c.median : null;
    // Beside the ratio of medians: the rounds' own ratios (each round drains C and mcast within
    // seconds of each other), whose spread says how far one run's verdict can be trusted.
    const metric = (x) => (x.cpu_seconds > 0 ? x.received / x.cpu_seconds : null);
    const pairs = c ? pairRatios(row.runs, c.runs, metric) : [];
    add("drain: 'message' path ≥ 0.6 × C recvmmsg(64)", section.variant, r, 0.6, r !== null && r >= 0.6,
      `${fmt.ratio(r)}; round ratios: median ${fmt.ratio(pairs.length ? median(pairs) : null)}, ` +
      `${fmt.ratio(pairs.length ? Math.min(...pairs) : null)} – ${fmt.ratio(pairs.length ? Math.max(...pairs) : null)} over ${pairs.length}`);
  }
  for (const { section, row } of find(results, 'drain-gro-veth', 'mcast-batch-gro')) {
    const r = ratioTo(section, row, 'mcast-batch');
    const varying = section.variant.endsWith('varying');
    const [threshold, what] = varying ? [0.95, 'no worse than 0.95 ×'] : [2, '≥ 2 ×'];
    add(`drain-gro-veth: gro batch path ${what} the batch path without gro`, section.variant, r, threshold, r !== null && r >= threshold, fmt.ratio(r));
  }
  for (const { section, row } of find(results, 'drain-gro', 'mcast-batch-gro')) {
    const rg = ratioTo(section, row, 'c-gro');
    const rm = ratioTo(section, row, 'c-recvmmsg');
    add('drain-gro: gro batch path ≥ 0.8 × C UDP_GRO receiver', section.variant, rg, 0.8, rg !== null && rg >= 0.8, fmt.ratio(rg));
    add('drain-gro: gro batch path ≥ 5 × C recvmmsg(64)', section.variant, rm, 5, rm !== null && rm >= 5, fmt.ratio(rm));
  }
  for (const { section, row } of find(results, 'memory', 'mcast-batch')) {
    const e = row.extra;
    // Flat: the heap after a full GC is within 1 MiB of where it started (young-generation
    // collections are reported beside it: they count allocation per callback, not per datagram).
    const flat = row.median !== null && Math.abs(row.median) < 1024 * 1024;
    const m = rowOf(section, 'mcast-message');
    add('memory: flat heap on the batch path', section.variant, row.median, 1024 * 1024, flat,
      `heap ${fmt.bytes(row.median)}; ${(e.gc_minor_per_million ?? NaN).toFixed(1)} scavenges per M datagrams ` +
        `(${e.datagrams_per_callback ? `${e.datagrams_per_callback.toFixed(1)} per callback` : '?'}), 'message' path ${(m?.extra.gc_minor_per_million ?? NaN).toFixed(1)}`);
  }
  return t;
}

export function targetLines(targets) {
  return targets.map((t) => `${t.met === null ? 'n/a ' : t.met ? 'MET ' : 'MISS'}  ${t.target} [${t.variant}]: ${t.detail}`);
}
