/**
 * The feed's kernel duplicate filter (native/feed_filter.cc, `kernelFilter`), on loopback inside
 * the sandbox namespace (root there, so the eBPF program loads): the test sends each line's
 * datagrams itself, so what each line carried is exactly known. What is proved: a copy another
 * line's socket accepted is dropped in the kernel and counted exactly (filtered, duplicates,
 * packets, and sk_drops minus the filter's = kernelDrops); anything else passes (a copy framed
 * differently, a malformed copy, a new session, a sender restart's reused numbers, an item only
 * one line carried); the fallbacks (off, refused without CAP_BPF) work as without it. The 1M-item
 * netem run of test/feed.test.ts runs with the filter on too (the default).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { createFeed, createSocket, type Feed, type FeedBatch, type FeedOptions, type FeedReset, type Socket } from '../lib/index.js';
import { encodeMoldPacket, sessionBytes } from '../lib/feed/moldudp64-packets.js';
import { feedKit } from './feed-helpers.js';
import { settle, uniquePort, waitFor } from './helpers.js';

const GROUP_A = '239.12.1.1';
const GROUP_B = '239.12.1.2';

const { feedOf, open } = feedKit([GROUP_A, GROUP_B], { gapTimeout: 100 });

function sender(): Socket {
  const s = createSocket({ interface: 'lo' });
  open.push(s);
  return s;
}

/** A MoldUDP64 packet of messages `m<first>`.. (count of them) in `session`. */
function mold(first: number, count: number, session = 'SESSION001', tag = 'm'): Buffer {
  const target = Buffer.alloc(2048);
  const messages = Array.from({ length: count }, (_, i) => Buffer.from(`${tag}${first + i}`));
  return target.subarray(0, encodeMoldPacket(target, sessionBytes(session), first, messages));
}

/** A fixed u32be number at offset 0, then `body`. */
function fixed(seq: number, body: string): Buffer {
  const b = Buffer.alloc(4 + body.length);
  b.writeUInt32BE(seq, 0);
  b.write(body, 4);
  return b;
}

/** What the feed delivers, as `seq:text` (`skip`: bytes before the text, the fixed field). */
function watch(feed: Feed, skip = 0): { items: string[]; gaps: string[]; resets: FeedReset[] } {
  const seen = { items: [] as string[], gaps: [] as string[], resets: [] as FeedReset[] };
  feed.on('batch', (b: FeedBatch) => {
    for (let i = 0; i < b.count; i++) seen.items.push(`${b.sequence(i)}:${b.data(i).subarray(skip).toString()}`);
  });
  feed.on('gap', (g: { from: number; to: number }) => seen.gaps.push(`${g.from}-${g.to}`));
  feed.on('reset', (r: FeedReset) => seen.resets.push(r));
  return seen;
}

describe('the kernel duplicate filter', () => {
  it('drops the copy another line accepted, in the kernel, and counts it exactly; passes what differs', async () => {
    const port = uniquePort();
    const feed = feedOf({ port });
    expect(feed.stats().kernelFilter).toEqual({ active: true, contended: 0 });
    const seen = watch(feed);
    const tx = sender();
    tx.send(mold(1, 3), GROUP_A, port);
    tx.send(mold(1, 3), GROUP_B, port); // the same packet: dropped in the kernel
    tx.send(mold(4, 2), GROUP_A, port);
    tx.send(mold(4, 3), GROUP_B, port); // framed differently (4-6): passes, 4-5 duplicates, 6 delivered
    // The same header and length as A's, but a message length past the end: passes, malformed.
    const bad = mold(7, 2);
    tx.send(mold(7, 2), GROUP_A, port);
    bad.writeUInt16BE(500, 20);
    tx.send(bad, GROUP_B, port);
    tx.send(mold(9, 2), GROUP_B, port); // only on B: passes, delivered from B
    tx.send(mold(9, 2, 'SESSION001', 'x'), GROUP_A, port); // A's copy after it: dropped
    await waitFor(() => seen.items.length === 10, 'ten items');
    await settle(50);
    expect(seen.items).toEqual(['1:m1', '2:m2', '3:m3', '4:m4', '5:m5', '6:m6', '7:m7', '8:m8', '9:m9', '10:m10']);
    const s = feed.stats();
    const [a, b] = s.lines;
    expect(a).toMatchObject({ packets: 4, received: 9, wins: 7, duplicates: 2, filtered: 1, malformed: 0, kernelDrops: 0 });
    expect(b).toMatchObject({ packets: 4, received: 8, wins: 3, duplicates: 5, filtered: 1, malformed: 1, kernelDrops: 0 });
    expect(b!.malformedBy.lengthPastEnd).toBe(1);
    // A filter drop is an sk_drops drop: the socket's own count holds it, the feed's takes it off.
    expect(feed.lineSocket(0)!.stats().kernelDrops).toBe(1);
    expect(feed.lineSocket(1)!.stats().kernelDrops).toBe(1);
    expect(seen.gaps).toEqual([]);
  });

  it('a new session: nothing of the old one is compared, both sessions are delivered whole', async () => {
    const port = uniquePort();
    const feed = feedOf({ port });
    const seen = watch(feed);
    const tx = sender();
    for (let n = 1; n <= 30; n += 3) {
      tx.send(mold(n, 3), GROUP_A, port);
      tx.send(mold(n, 3), GROUP_B, port);
    }
    await waitFor(() => seen.items.length === 30, 'session 1');
    // Session 2 from 1 again, the same numbers and lengths; A loses 4-6, B loses 10-12.
    for (let n = 1; n <= 30; n += 3) {
      if (n !== 4) tx.send(mold(n, 3, 'SESSION002', 's'), GROUP_A, port);
      if (n !== 10) tx.send(mold(n, 3, 'SESSION002', 's'), GROUP_B, port);
    }
    await waitFor(() => seen.items.length === 60, 'session 2');
    await settle(50);
    expect(seen.items.slice(30)).toEqual(Array.from({ length: 30 }, (_, i) => `${i + 1}:s${i + 1}`));
    expect(seen.resets.map((r) => r.reason)).toEqual(['new-session']);
    expect(seen.gaps).toEqual([]);
    const s = feed.stats();
    expect(s.lines[1]!.filtered).toBeGreaterThan(0);
    for (const l of s.lines) expect(l.wins + l.duplicates).toBe(l.received);
    expect(s.lines[0]!.received + s.lines[1]!.received).toBe(30 + 30 + 27 + 27);
  });

  it('a sender restart (the same numbers again, within the window): the new stream is never dropped as the old', async () => {
    const port = uniquePort();
    const feed = feedOf({ port, sequence: { offset: 0, size: 4, endian: 'big' }, gapTimeout: 500 });
    const seen = watch(feed, 4);
    const tx = sender();
    for (let n = 1; n <= 40; n++) {
      tx.send(fixed(n, `old${n}`), GROUP_A, port);
      tx.send(fixed(n, `old${n}`), GROUP_B, port);
    }
    await waitFor(() => seen.items.length === 40, 'the first run');
    const before = feed.stats().lines[1]!.filtered;
    expect(before).toBeGreaterThan(0);
    // The restart, interleaved: A loses 20-29 of the new run, so those must come from B.
    for (let n = 1; n <= 40; n++) {
      if (n < 20 || n > 29) tx.send(fixed(n, `new${n}`), GROUP_A, port);
      tx.send(fixed(n, `new${n}`), GROUP_B, port);
    }
    await waitFor(() => seen.items.length === 80, 'the second run');
    await settle(50);
    expect(seen.items.slice(40)).toEqual(Array.from({ length: 40 }, (_, i) => `${i + 1}:new${i + 1}`));
    expect(seen.resets.map((r) => r.reason)).toEqual(['restart']);
    expect(seen.gaps).toEqual([]);
    const s = feed.stats();
    expect(s.lines[1]!.filtered).toBeGreaterThan(before); // and it went on filtering the new run
    expect(s.lines[0]!.received + s.lines[1]!.received).toBe(40 + 40 + 30 + 40);
  });

  it('kernelFilter: false works as without it; timestamps turn auto off; bad values are refused', async () => {
    const port = uniquePort();
    const feed = feedOf({ port, kernelFilter: false });
    const seen = watch(feed);
    const tx = sender();
    tx.send(mold(1, 3), GROUP_A, port);
    tx.send(mold(1, 3), GROUP_B, port);
    await waitFor(() => feed.stats().lines[1]!.packets === 1, 'B');
    expect(seen.items).toHaveLength(3);
    const s = feed.stats();
    expect(s.kernelFilter.active).toBe(false);
    expect(s.kernelFilter.reason).toMatch(/off/);
    expect(s.lines[1]).toMatchObject({ filtered: 0, duplicates: 3, kernelDrops: 0 });
    const stamped = feedOf({ port: uniquePort(), timestamps: true });
    expect(stamped.stats().kernelFilter).toMatchObject({ active: false, reason: expect.stringMatching(/timestamps/) });
    expect(() => feedOf({ port: uniquePort(), kernelFilter: 'yes' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => feedOf({ port: uniquePort(), kernelFilter: true, timestamps: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => feedOf({ port: uniquePort(), kernelFilterWindow: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  it('without CAP_BPF: auto falls back and says why (EPERM), true throws ERR_MCAST_KERNEL_FILTER', () => {
    const script = `
      const { createFeed, createSocket } = require(${JSON.stringify(`${process.cwd()}/dist/index.js`)});
      const lines = [{ group: '${GROUP_A}', port: ${uniquePort()}, interface: 'lo' }, { group: '${GROUP_B}', port: ${uniquePort()}, interface: 'lo' }];
      let code;
      try { createFeed({ lines, sequence: 'moldudp64', kernelFilter: true }); } catch (e) { code = e.code; }
      const feed = createFeed({ lines, sequence: 'moldudp64' });
      console.log(JSON.stringify({ code, filter: feed.stats().kernelFilter }));
      feed.close();`;
    const dir = mkdtempSync(join(tmpdir(), 'mcast-filter-'));
    open.push({ close: () => rmSync(dir, { recursive: true, force: true }) });
    writeFileSync(join(dir, 'feed.cjs'), script);
    const out = execFileSync('capsh', ['--drop=cap_bpf,cap_sys_admin,cap_perfmon', '--', '-c', `exec "${process.execPath}" "${join(dir, 'feed.cjs')}"`], { encoding: 'utf8' });
    const r = JSON.parse(out) as { code: string; filter: { active: boolean; reason: string } };
    expect(r.code).toBe('ERR_MCAST_KERNEL_FILTER');
    expect(r.filter.active).toBe(false);
    expect(r.filter.reason).toMatch(/^bpf\(BPF_MAP_CREATE\) of the filter state failed: EPERM \(loading a BPF program needs CAP_BPF, or root\)$/);
  });
});
