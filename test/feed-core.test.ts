/**
 * Feeds (lib/feed, native/feed_arbiter.cc) on loopback inside the sandbox namespace: every line
 * is a group joined on `lo`, and the test sends each line's datagrams itself, so that what each
 * line carried (and lost) is exactly known. The 1M-item tests over netem links are in
 * test/feed*.test.ts of the CLI/tools side.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { createFeed, createSocket, type Feed, type FeedBatch, type FeedGap, type FeedOptions, type FeedReset, type Socket } from '../lib/index.js';
import { feedKit } from './feed-helpers.js';
import { settle, uniquePort, waitFor } from './helpers.js';

const GROUP_A = '239.12.0.1';
const GROUP_B = '239.12.0.2';
const SESSION = 'SESSION001';

const { feedOf, open } = feedKit([GROUP_A, GROUP_B]);

function sender(address?: string): Socket {
  const s = createSocket({ interface: 'lo', ...(address !== undefined && { address }) });
  open.push(s);
  return s;
}

/** A MoldUDP64 packet: session, first number, messages (count 0: heartbeat; 0xFFFF: end). */
function mold(seq: number | bigint, messages: string[] | number, session = SESSION): Buffer {
  const header = Buffer.alloc(20);
  header.write(session.padEnd(10).slice(0, 10), 0, 'latin1');
  header.writeBigUInt64BE(BigInt(seq), 10);
  if (typeof messages === 'number') {
    header.writeUInt16BE(messages, 18);
    return header;
  }
  header.writeUInt16BE(messages.length, 18);
  const parts = [header];
  for (const m of messages) {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(Buffer.byteLength(m));
    parts.push(length, Buffer.from(m));
  }
  return Buffer.concat(parts);
}

/** mold() for child processes and workers, in plain JS. */
const MOLD_JS = `function mold(seq, messages) {
  const header = Buffer.alloc(20);
  header.write('${SESSION}', 0, 'latin1');
  header.writeBigUInt64BE(BigInt(seq), 10);
  header.writeUInt16BE(messages.length, 18);
  const parts = [header];
  for (const m of messages) { const l = Buffer.alloc(2); l.writeUInt16BE(Buffer.byteLength(m)); parts.push(l, Buffer.from(m)); }
  return Buffer.concat(parts);
}`;

/** Messages `m<first>` .. `m<first+count-1>`. */
function run(first: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `m${first + i}`);
}

interface Seen {
  items: { seq: number; line: number; data: string }[];
  gaps: FeedGap[];
  resets: FeedReset[];
  events: string[];
}

function watch(feed: Feed): Seen {
  const seen: Seen = { items: [], gaps: [], resets: [], events: [] };
  feed.on('batch', (b: FeedBatch) => {
    for (let i = 0; i < b.count; i++) seen.items.push({ seq: b.sequence(i), line: b.line(i), data: b.data(i).toString() });
  });
  feed.on('gap', (g: FeedGap) => {
    seen.gaps.push(g);
    seen.events.push(`gap ${g.from}-${g.to}`);
  });
  feed.on('reset', (r: FeedReset) => {
    seen.resets.push(r);
    seen.events.push(`reset ${r.reason}`);
  });
  feed.on('stale', (e: { line: number }) => seen.events.push(`stale ${e.line}`));
  feed.on('resume', (e: { line: number }) => seen.events.push(`resume ${e.line}`));
  return seen;
}

const seqs = (seen: Seen): number[] => seen.items.map((i) => i.seq);

describe('createFeed(): MoldUDP64 arbitration', () => {
  it('delivers the union of the lines in order, each once, overlapping packets included; duplicates never reach JS', async () => {
    const port = uniquePort();
    const feed = feedOf({ port, gapTimeout: 20 });
    const seen = watch(feed);
    const tx = sender();
    // A: 1-3, 4-6, 10-12; B: 2-4 (overlaps both of A's), 7-9, 11-13.
    tx.send(mold(1, run(1, 3)), GROUP_A, port);
    tx.send(mold(2, run(2, 3)), GROUP_B, port);
    tx.send(mold(4, run(4, 3)), GROUP_A, port);
    tx.send(mold(7, run(7, 3)), GROUP_B, port);
    tx.send(mold(10, run(10, 3)), GROUP_A, port);
    tx.send(mold(11, run(11, 3)), GROUP_B, port);
    await waitFor(() => seen.items.length === 13, '13 items');
    await settle(100);
    expect(seqs(seen)).toEqual(run(1, 13).map((_, i) => i + 1));
    expect(seen.items.every((i) => i.data === `m${i.seq}`)).toBe(true);
    expect(seen.gaps).toEqual([]);
    const s = feed.stats();
    expect(s.delivered).toBe(13);
    expect(s.lines[0]).toMatchObject({ packets: 3, received: 9, duplicates: 0 });
    expect(s.lines[1]).toMatchObject({ packets: 3, received: 9 });
    expect(s.lines[0]!.wins + s.lines[1]!.wins).toBe(13);
    expect(s.lines[0]!.duplicates + s.lines[1]!.duplicates).toBe(18 - 13);
    expect(s.session).toBe(SESSION);
    expect(s.nextSequence).toBe(14);
  });

  it('declares as gaps exactly the numbers missing on every line, after gapTimeout', async () => {
    const port = uniquePort();
    // staleAfter far beyond the wait: the gap's own timer must fire, not the stale check's.
    const feed = feedOf({ port, gapTimeout: 30, staleAfter: 600_000 });
    const seen = watch(feed);
    const tx = sender();
    // A lacks 3 and 6-7; B lacks 2, 6 and 9. Missing on both: 6. Then 11 on A only: 10 missing on both.
    for (const n of [1, 2, 4, 5, 8, 9]) tx.send(mold(n, [`m${n}`]), GROUP_A, port);
    for (const n of [1, 3, 4, 5, 7, 8]) tx.send(mold(n, [`m${n}`]), GROUP_B, port);
    tx.send(mold(11, ['m11']), GROUP_A, port);
    await waitFor(() => seen.items.length === 9 && seen.gaps.length === 2, 'every item and both gaps');
    expect(seqs(seen)).toEqual([1, 2, 3, 4, 5, 7, 8, 9, 11]);
    expect(seen.gaps).toEqual([
      { from: 6, to: 6, session: SESSION },
      { from: 10, to: 10, session: SESSION },
    ]);
    // Each gap comes between the items it separates.
    expect(seen.events).toEqual(['gap 6-6', 'gap 10-10']);
    const s = feed.stats();
    expect(s).toMatchObject({ delivered: 9, gaps: 2, gapItems: 2, pending: 0, nextSequence: 12 });
    // Items only one line had: 2, 3, 7, 9, 11.
    expect(s.recoveredFromLine).toBe(5);
  });

  it('holds an early item until the missing number arrives on the other line (no gap within gapTimeout)', async () => {
    const port = uniquePort();
    const feed = feedOf({ port, gapTimeout: 60_000 });
    const seen = watch(feed);
    const tx = sender();
    tx.send(mold(1, ['m1']), GROUP_A, port);
    tx.send(mold(3, ['m3', 'm4']), GROUP_A, port);
    await waitFor(() => seen.items.length === 1, 'the first item');
    await settle(150);
    expect(seqs(seen)).toEqual([1]);
    expect(feed.stats()).toMatchObject({ pending: 2, pendingHigh: 2 });
    tx.send(mold(2, ['m2']), GROUP_B, port);
    await waitFor(() => seen.items.length === 4, 'the held items');
    expect(seqs(seen)).toEqual([1, 2, 3, 4]);
    expect(seen.items[1]!.line).toBe(1);
    expect(seen.gaps).toEqual([]);
    expect(feed.stats().pending).toBe(0);
  });

  it('reads every line before it declares a gap: a copy queued while the loop was busy is no gap', async () => {
    const port = uniquePort();
    const feed = feedOf({ port, gapTimeout: 5, staleAfter: 600_000 });
    const seen = watch(feed);
    const tx = sender();
    tx.send(mold(1, ['m1']), GROUP_A, port);
    tx.send(mold(3, ['m3']), GROUP_A, port);
    await waitFor(() => seen.items.length === 1, 'the first item (3 waits, the gap timer runs)');
    // Line B's copy of 2 is queued, then the loop stays busy past gapTimeout: libuv runs the due
    // gap timer before it polls line B's socket again.
    tx.send(mold(2, ['m2']), GROUP_B, port);
    const until = Date.now() + 50;
    while (Date.now() < until);
    await waitFor(() => seen.items.length === 3 || seen.gaps.length > 0, 'the items or a gap');
    await settle(50);
    expect(seen.gaps).toEqual([]);
    expect(seqs(seen)).toEqual([1, 2, 3]);
    expect(seen.items[1]!.line).toBe(1);
  });

  it("the timer's reads skip a line whose socket was closed; the other line goes on, its gaps in time", async () => {
    const port = uniquePort();
    const feed = feedOf({ port, gapTimeout: 5, staleAfter: 600_000 });
    const seen = watch(feed);
    const tx = sender();
    tx.send(mold(1, ['m1']), GROUP_A, port);
    await waitFor(() => seen.items.length === 1, 'the first item');
    feed.lineSocket(0)!.close();
    // Line B alone: 2 is lost (a gap once the timer has read B), and a copy of 4 queued on B while
    // the loop is busy is still read before the gap of 3 could be declared.
    tx.send(mold(3, ['m3']), GROUP_B, port);
    await waitFor(() => seen.gaps.length === 1, 'the gap of 2');
    tx.send(mold(6, ['m6']), GROUP_B, port);
    await waitFor(() => feed.stats().pending === 1, '6 waits for 4-5');
    tx.send(mold(4, ['m4', 'm5']), GROUP_B, port);
    const until = Date.now() + 50;
    while (Date.now() < until);
    await waitFor(() => seen.items.length === 5, 'the rest');
    await settle(30);
    expect(seen.gaps).toEqual([{ from: 2, to: 2, session: SESSION }]);
    expect(seqs(seen)).toEqual([1, 3, 4, 5, 6]);
    expect(feed.stats().lines[1]).toMatchObject({ wins: 4, duplicates: 0 });
  });

  it('at maxPending declares the oldest missing range a gap at once and delivers what waited', async () => {
    const port = uniquePort();
    const feed = feedOf({ port, gapTimeout: 60_000, maxPending: 3 });
    const seen = watch(feed);
    const tx = sender();
    tx.send(mold(1, ['m1']), GROUP_A, port);
    tx.send(mold(3, run(3, 3)), GROUP_A, port); // 3 wait: at the bound, not past it
    await waitFor(() => feed.stats().pending === 3, 'three waiting items');
    expect(seen.gaps).toEqual([]);
    tx.send(mold(7, ['m7']), GROUP_A, port); // the fourth: 2 becomes a gap, 3-5 go, 7 waits for 6
    await waitFor(() => seen.items.length === 4, 'the overflow');
    expect(seen.gaps).toEqual([{ from: 2, to: 2, session: SESSION }]);
    expect(seqs(seen)).toEqual([1, 3, 4, 5]);
    expect(feed.stats()).toMatchObject({ overflows: 1, pending: 1, pendingHigh: 4, gaps: 1 });
  });

  it('heartbeats keep a line alive and reveal a loss at the tail', async () => {
    const port = uniquePort();
    // Heartbeats every 25 ms against a staleAfter of 1.5 s: a wide margin on a loaded machine.
    const feed = feedOf({ port, gapTimeout: 20, staleAfter: 1500 });
    const seen = watch(feed);
    const tx = sender();
    tx.send(mold(1, ['m1']), GROUP_A, port);
    tx.send(mold(1, ['m1']), GROUP_B, port);
    // Only heartbeats on B, while A says nothing more: A goes stale, B stays alive.
    const beat = setInterval(() => tx.send(mold(2, 0), GROUP_B, port), 25);
    try {
      await waitFor(() => seen.events.includes('stale 0'), 'line A stale', 10_000);
      expect(seen.events.filter((e) => e.startsWith('stale'))).toEqual(['stale 0']);
      expect(feed.stats().lines.map((l) => l.stale)).toEqual([true, false]);
      // A heartbeat saying 4 comes next: 2 and 3 were lost on every line.
      tx.send(mold(4, 0), GROUP_A, port);
      await waitFor(() => seen.gaps.length === 1, 'the tail gap');
      expect(seen.gaps[0]).toMatchObject({ from: 2, to: 3 });
      expect(seen.events).toContain('resume 0');
    } finally {
      clearInterval(beat);
    }
  });

  it("reports end of session and the new session as 'reset', and ignores a slower line's old session", async () => {
    const port = uniquePort();
    const feed = feedOf({ port, gapTimeout: 20 });
    const seen = watch(feed);
    const tx = sender();
    tx.send(mold(1, run(1, 2)), GROUP_A, port);
    tx.send(mold(3, 0xffff), GROUP_A, port);
    await waitFor(() => seen.resets.length === 1, 'the end of session');
    expect(seen.resets[0]).toMatchObject({ line: 0, name: 'A', reason: 'end-of-session', previousSession: SESSION });
    tx.send(mold(3, 0xffff), GROUP_B, port); // B's end of the same session: no second reset
    tx.send(mold(1, ['n1', 'n2'], 'SESSION002'), GROUP_A, port);
    await waitFor(() => seen.resets.length === 2 && seen.items.length === 4, 'the new session');
    expect(seen.resets[1]).toMatchObject({ line: 0, reason: 'new-session', session: 'SESSION002', previousSession: SESSION });
    // B is late: its copy of the old session is dropped as a duplicate, not a reset.
    tx.send(mold(1, run(1, 2)), GROUP_B, port);
    tx.send(mold(2, ['n2', 'n3'], 'SESSION002'), GROUP_B, port);
    await waitFor(() => seen.items.length === 5, 'B on the new session');
    await settle(50);
    expect(seen.items.map((i) => `${i.seq}:${i.data}`)).toEqual(['1:m1', '2:m2', '1:n1', '2:n2', '3:n3']);
    expect(seen.resets).toHaveLength(2);
    expect(seen.gaps).toEqual([]);
    expect(feed.stats().session).toBe('SESSION002');
  });

  it('a new session flushes the old one: its waiting items and gaps keep the old session', async () => {
    const port = uniquePort();
    const feed = feedOf({ port, gapTimeout: 60_000 });
    const seen = watch(feed);
    const sessions: string[] = [];
    feed.on('message', (data: Buffer, info: { session?: string }) => sessions.push(`${data.toString()}/${info.session}`));
    const tx = sender();
    tx.send(mold(1, ['a']), GROUP_A, port);
    tx.send(mold(3, ['c']), GROUP_A, port);
    await waitFor(() => feed.stats().pending === 1, 'c waiting');
    tx.send(mold(1, ['z'], 'SESSION002'), GROUP_A, port);
    await waitFor(() => seen.items.length === 3, 'the flush and the new session');
    expect(seen.events).toEqual(['gap 2-2', 'reset new-session']);
    expect(seen.gaps[0]!.session).toBe(SESSION);
    expect(sessions).toEqual([`a/${SESSION}`, `c/${SESSION}`, 'z/SESSION002']);
  });

  it('counts malformed packets per line, by kind, and goes on', async () => {
    const port = uniquePort();
    const feed = feedOf({ port, gapTimeout: 20, maxMessageSize: 256 });
    const seen = watch(feed);
    const tx = sender();
    const countPastEnd = mold(1, ['m1']);
    countPastEnd.writeUInt16BE(2, 18); // two messages announced, one there
    const lengthPastEnd = mold(1, ['m1']);
    lengthPastEnd.writeUInt16BE(40, 20); // a length of 40 with 2 bytes left
    tx.send(Buffer.alloc(19), GROUP_A, port);
    tx.send(countPastEnd, GROUP_A, port);
    tx.send(lengthPastEnd, GROUP_A, port);
    tx.send(mold(0xffffffffffffffffn, ['x']), GROUP_A, port);
    tx.send(mold(2 ** 53, ['x']), GROUP_B, port);
    tx.send(mold(1, ['x'.repeat(300)]), GROUP_B, port); // cut at maxMessageSize
    tx.send(mold(1, ['m1', 'm2']), GROUP_B, port);
    await waitFor(() => seen.items.length === 2, 'the good packet');
    const [a, b] = feed.stats().lines;
    expect(a!.malformed).toBe(4);
    expect(a!.malformedBy).toEqual({ shortHeader: 1, countPastEnd: 1, lengthPastEnd: 1, sequenceTooLarge: 1, truncated: 0 });
    expect(b!.malformed).toBe(2);
    expect(b!.malformedBy).toMatchObject({ sequenceTooLarge: 1, truncated: 1 });
    expect(a!.received).toBe(0);
    expect(seqs(seen)).toEqual([1, 2]);
  });

  it("'message' gives each item with its info, a copy to keep", async () => {
    const port = uniquePort();
    const feed = feedOf({ port, timestamps: true });
    const got: { data: Buffer; info: { sequence: number; line: number; timestamp?: bigint; session?: string } }[] = [];
    feed.on('message', (data: Buffer, info) => got.push({ data, info }));
    const tx = sender();
    tx.send(mold(5, ['a', 'bb']), GROUP_B, port);
    await waitFor(() => got.length === 2, 'two messages');
    tx.send(mold(5, ['a', 'bb']), GROUP_A, port);
    await waitFor(() => feed.stats().lines[0]!.duplicates === 2, 'the duplicates');
    expect(got.map((g) => [g.data.toString(), g.info.sequence, g.info.line, g.info.session])).toEqual([
      ['a', 5, 1, SESSION],
      ['bb', 6, 1, SESSION],
    ]);
    expect(typeof got[0]!.info.timestamp).toBe('bigint');
    // A's copies were later: their lag behind B's is measured from the kernel timestamps.
    const lag = feed.stats().lines[0]!.lag;
    expect(lag?.samples).toBe(2);
    expect(lag!.max).toBeGreaterThanOrEqual(lag!.p50);
    expect(feed.stats().lines[1]!.lag).toBeUndefined();
  });
});

describe('createFeed(): the in-order packet, copied in one go', () => {
  it("each item of a packet is its own message, empty ones included, across flushes of 4096 items, in 'batch' and in 'message'", async () => {
    const port = uniquePort();
    const feed = feedOf({ port, gapTimeout: 60_000, startSequence: 1, recvBufferSize: 4 << 20 });
    // Lengths 0 to 40: 4096 is no multiple of 21, so a drain of 300 packets meets the flush bound
    // part way.
    const body = (seq: number): string => `${seq}:`.padEnd(41, 'x').slice(0, seq % 41);
    const batches: string[] = [];
    const messages: string[] = [];
    const counts: number[] = [];
    feed.on('batch', (b: FeedBatch) => {
      counts.push(b.count);
      for (let i = 0; i < b.count; i++) batches.push(`${b.sequence(i)}=${b.data(i).toString()}`);
    });
    feed.on('message', (data: Buffer, info: { sequence: number }) => messages.push(`${info.sequence}=${data.toString()}`));
    const tx = sender();
    const N = 21 * 600;
    for (let first = 1; first <= N; first += 21) {
      tx.send(mold(first, Array.from({ length: 21 }, (_, k) => body(first + k))), GROUP_A, port);
      if (first % (21 * 300) === 1) await settle(20); // two bursts of 300 packets, each read in one drain
    }
    await waitFor(() => batches.length === N, `${N} items`, 10_000);
    const want = Array.from({ length: N }, (_, i) => `${i + 1}=${body(i + 1)}`);
    expect(batches).toEqual(want);
    expect(messages).toEqual(want);
    expect(Math.max(...counts)).toBeGreaterThan(4096 - 21);
    expect(counts.every((c) => c <= 4096)).toBe(true);
    const s = feed.stats();
    expect(s.lines[0]!.kernelDrops).toBe(0);
    expect([s.delivered, s.lines[0]!.wins, s.lines[0]!.received, s.gaps]).toEqual([N, N, N, 0]);
  });
});

describe('createFeed(): a fixed sequence field', () => {
  function fixed(seq: number, offset: number, size: 4 | 8, endian: 'big' | 'little', body = 'x'): Buffer {
    const b = Buffer.alloc(offset + size + body.length);
    b.fill(0xee, 0, offset);
    if (size === 4) {
      if (endian === 'big') b.writeUInt32BE(seq, offset);
      else b.writeUInt32LE(seq, offset);
    } else if (endian === 'big') b.writeBigUInt64BE(BigInt(seq), offset);
    else b.writeBigUInt64LE(BigInt(seq), offset);
    b.write(body, offset + size);
    return b;
  }

  for (const [size, endian] of [[4, 'little'], [8, 'big'], [4, 'big'], [8, 'little']] as const) {
    it(`arbitrates a u${size * 8}${endian === 'big' ? 'be' : 'le'} field: the item is the whole datagram`, async () => {
      const port = uniquePort();
      const feed = feedOf({ port, sequence: { offset: 3, size, endian }, gapTimeout: 20, startSequence: 100 });
      const seen = watch(feed);
      const tx = sender();
      for (const n of [100, 101, 103]) tx.send(fixed(n, 3, size, endian), GROUP_A, port);
      for (const n of [101, 102, 104]) tx.send(fixed(n, 3, size, endian), GROUP_B, port);
      tx.send(Buffer.alloc(3 + size - 1), GROUP_A, port); // ends inside the field: malformed
      await waitFor(() => seen.items.length === 5, 'five items');
      expect(seqs(seen)).toEqual([100, 101, 102, 103, 104]);
      expect(seen.items[2]!.data).toBe(fixed(102, 3, size, endian).toString());
      expect(feed.stats().lines[0]!.malformedBy.shortHeader).toBe(1);
    });
  }

  it("treats numbers that go back as a sender restart ('reset'), and a slower line's old numbers as duplicates", async () => {
    const port = uniquePort();
    const feed = feedOf({ port, sequence: { offset: 0, size: 4, endian: 'big' }, gapTimeout: 20 });
    const seen = watch(feed);
    const tx = sender();
    const d = (n: number): Buffer => fixed(n, 0, 4, 'big', `v${n}`);
    for (let n = 1; n <= 5; n++) tx.send(d(n), GROUP_A, port);
    for (let n = 1; n <= 3; n++) tx.send(d(n), GROUP_B, port);
    await waitFor(() => seen.items.length === 5, 'the first run');
    for (let n = 1; n <= 2; n++) tx.send(d(n), GROUP_A, port); // A restarts
    await waitFor(() => seen.resets.length === 1 && seen.items.length === 7, 'the restart');
    expect(seen.resets[0]).toMatchObject({ line: 0, reason: 'restart' });
    tx.send(d(4), GROUP_B, port); // B still on the old run: dropped
    tx.send(d(5), GROUP_B, port);
    tx.send(d(1), GROUP_B, port); // B restarts too
    tx.send(d(3), GROUP_B, port);
    await waitFor(() => seen.items.length === 8, 'B after its restart');
    await settle(60);
    expect(seqs(seen)).toEqual([1, 2, 3, 4, 5, 1, 2, 3]);
    expect(seen.resets).toHaveLength(1);
    expect(seen.gaps).toEqual([]);
  });
});

describe('createFeed(): lines', () => {
  it('a source-specific line receives only its source', async () => {
    const port = uniquePort();
    const feed = createFeed({
      lines: [
        { group: GROUP_A, port, interface: 'lo', source: '127.0.0.1', name: 'ssm' },
        { group: GROUP_B, port, interface: 'lo' },
      ],
      sequence: 'moldudp64',
      gapTimeout: 20,
    });
    open.push(feed);
    const seen = watch(feed);
    const good = sender('127.0.0.1');
    const other = sender('127.0.0.2');
    other.send(mold(1, ['evil']), GROUP_A, port);
    good.send(mold(1, ['m1']), GROUP_A, port);
    other.send(mold(2, ['evil']), GROUP_A, port);
    good.send(mold(2, ['m2']), GROUP_A, port);
    await waitFor(() => seen.items.length === 2, 'two items');
    await settle(80);
    expect(seen.items.map((i) => i.data)).toEqual(['m1', 'm2']);
    expect(feed.stats().lines[0]).toMatchObject({ name: 'ssm', packets: 2 });
    expect(feed.lineNames).toEqual(['ssm', 'B']);
  });

  it('arbitrates IPv6 lines (on a veth of the sandbox: Linux carries no IPv6 multicast on lo)', async () => {
    const { execFileSync } = await import('node:child_process');
    const dev = 'fc6a';
    execFileSync('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', 'fc6b']);
    open.push({ close: () => execFileSync('ip', ['link', 'del', dev]) });
    execFileSync('ip', ['link', 'set', 'fc6b', 'up']);
    execFileSync('ip', ['link', 'set', dev, 'up']);
    execFileSync('ip', ['-6', 'addr', 'add', 'fd12::1/64', 'dev', dev, 'nodad']);
    const port = uniquePort();
    const feed = createFeed({
      lines: [
        { group: 'ff15::12:1', port, interface: dev },
        { group: 'ff15::12:2', port, interface: dev },
      ],
      sequence: 'moldudp64',
      gapTimeout: 20,
    });
    open.push(feed);
    const seen = watch(feed);
    const tx = createSocket({ family: 6, interface: dev });
    open.push(tx);
    tx.send(mold(1, run(1, 2)), 'ff15::12:1', port);
    tx.send(mold(2, run(2, 2)), 'ff15::12:2', port);
    // The same packet on both lines: the kernel filter drops B's copy (IPv6 UDP too).
    tx.send(mold(4, run(4, 1)), 'ff15::12:1', port);
    tx.send(mold(4, run(4, 1)), 'ff15::12:2', port);
    await waitFor(() => seen.items.length === 4 && feed.stats().lines[1]!.packets === 2, 'four items');
    expect(seen.items.map((i) => `${i.seq}:${i.line}`)).toEqual(['1:0', '2:0', '3:1', '4:0']);
    expect(feed.stats().lines[1]).toMatchObject({ filtered: 1, duplicates: 2, kernelDrops: 0 });
  });

  it("reports a quiet line 'stale' and its return 'resume'", async () => {
    const port = uniquePort();
    const feed = feedOf({ port, staleAfter: 80 });
    const seen = watch(feed);
    await waitFor(() => seen.events.length === 2, 'both lines stale');
    expect(seen.events.sort()).toEqual(['stale 0', 'stale 1']);
    expect(feed.stats().lines.map((l) => l.stale)).toEqual([true, true]);
    sender().send(mold(1, 0), GROUP_B, port);
    await waitFor(() => seen.events.includes('resume 1'), 'B back');
    expect(seen.events.slice(2, 3)).toEqual(['resume 1']);
    expect(feed.stats().lines[0]!.stale).toBe(true);
  });
});

describe('createFeed(): retransmission', () => {
  /** A minimal MoldUDP64 re-request server on 127.0.0.1: answers from `store`, or not at all. */
  function responder(store: Map<number, string> | undefined): { port: number; requests: { seq: number; count: number }[] } {
    const s = createSocket({ address: '127.0.0.1' });
    open.push(s);
    const requests: { seq: number; count: number }[] = [];
    s.on('message', (data, info) => {
      const seq = Number(data.readBigUInt64BE(10));
      const count = data.readUInt16BE(18);
      requests.push({ seq, count });
      if (store === undefined) return;
      const messages: string[] = [];
      for (let n = seq; n < seq + count && store.has(n); n++) messages.push(store.get(n)!);
      s.send(mold(seq, messages, data.subarray(0, 10).toString('latin1')), info.address, info.port);
    });
    return { port: s.address().port, requests };
  }

  it('fills a gap from the re-request server: recovered in order, no gap', async () => {
    const server = responder(new Map([[3, 'm3'], [4, 'm4']]));
    const port = uniquePort();
    const feed = feedOf({ port, gapTimeout: 10, staleAfter: 600_000, retransmit: { address: '127.0.0.1', port: server.port, timeout: 2000, interface: 'lo' } });
    const seen = watch(feed);
    const tx = sender();
    tx.send(mold(1, run(1, 2)), GROUP_A, port);
    tx.send(mold(5, ['m5']), GROUP_A, port);
    tx.send(mold(5, ['m5']), GROUP_B, port);
    await waitFor(() => seen.items.length === 5, 'the recovered items');
    expect(seen.items.map((i) => `${i.seq}:${i.line}`)).toEqual(['1:0', '2:0', '3:-1', '4:-1', '5:0']);
    expect(seen.gaps).toEqual([]);
    expect(server.requests).toEqual([{ seq: 3, count: 2 }]);
    expect(feed.stats()).toMatchObject({ recoveredByRetransmit: 2, retransmitRequests: 1, gaps: 0 });
  });

  it("asks `retries` times a server that does not answer, then reports the 'gap'", async () => {
    const server = responder(undefined);
    const port = uniquePort();
    const feed = feedOf({ port, gapTimeout: 5, staleAfter: 600_000, retransmit: { address: '127.0.0.1', port: server.port, timeout: 20, retries: 2 } });
    const seen = watch(feed);
    const tx = sender();
    tx.send(mold(1, ['m1']), GROUP_A, port);
    tx.send(mold(3, ['m3']), GROUP_B, port);
    await waitFor(() => seen.gaps.length === 1, 'the gap');
    expect(seen.gaps[0]).toMatchObject({ from: 2, to: 2 });
    expect(seqs(seen)).toEqual([1, 3]);
    expect(server.requests).toEqual([{ seq: 2, count: 1 }, { seq: 2, count: 1 }]);
    expect(feed.stats()).toMatchObject({ retransmitRequests: 2, recoveredByRetransmit: 0, gaps: 1 });
  });
});

describe('createFeed(): options and lifecycle', () => {
  const line = { group: GROUP_A, port: 5000, interface: 'lo' };
  const cases: [string, unknown, string][] = [
    ['no options', undefined, 'ERR_INVALID_ARG_TYPE'],
    ['no lines', { lines: [], sequence: 'moldudp64' }, 'ERR_INVALID_ARG_TYPE'],
    ['nine lines', { lines: Array(9).fill(line), sequence: 'moldudp64' }, 'ERR_INVALID_ARG_TYPE'],
    ['a unicast group', { lines: [{ ...line, group: '10.0.0.1' }], sequence: 'moldudp64' }, 'ERR_MCAST_NOT_MULTICAST'],
    ['mixed families', { lines: [line, { ...line, group: 'ff15::1' }], sequence: 'moldudp64' }, 'ERR_MCAST_FAMILY_MISMATCH'],
    ['no interface', { lines: [{ group: GROUP_A, port: 5000 }], sequence: 'moldudp64' }, 'ERR_INVALID_ARG_TYPE'],
    ['an unknown interface', { lines: [{ ...line, interface: 'nosuch0' }], sequence: 'moldudp64' }, 'ERR_MCAST_UNKNOWN_INTERFACE'],
    ['a bad port', { lines: [{ ...line, port: 0 }], sequence: 'moldudp64' }, 'ERR_SOCKET_BAD_PORT'],
    ['a bad source', { lines: [{ ...line, source: '239.0.0.1' }], sequence: 'moldudp64' }, 'ERR_MCAST_BAD_SOURCE'],
    ['an unknown line key', { lines: [{ ...line, iface: 'lo' }], sequence: 'moldudp64' }, 'ERR_INVALID_ARG_VALUE'],
    ['an unknown option', { lines: [line], sequence: 'moldudp64', gapTimout: 5 }, 'ERR_INVALID_ARG_VALUE'],
    ['no sequence', { lines: [line] }, 'ERR_INVALID_ARG_TYPE'],
    ['a bad sequence name', { lines: [line], sequence: 'mold' }, 'ERR_INVALID_ARG_TYPE'],
    ['a field size of 2', { lines: [line], sequence: { offset: 0, size: 2, endian: 'big' } }, 'ERR_INVALID_ARG_TYPE'],
    ['a bad endian', { lines: [line], sequence: { offset: 0, size: 4, endian: 'middle' } }, 'ERR_INVALID_ARG_TYPE'],
    ['a field past maxMessageSize', { lines: [line], sequence: { offset: 60, size: 8, endian: 'big' }, maxMessageSize: 64 }, 'ERR_OUT_OF_RANGE'],
    ['a negative gapTimeout', { lines: [line], sequence: 'moldudp64', gapTimeout: -1 }, 'ERR_OUT_OF_RANGE'],
    ['a staleAfter of 0', { lines: [line], sequence: 'moldudp64', staleAfter: 0 }, 'ERR_OUT_OF_RANGE'],
    ['a maxPending of 0', { lines: [line], sequence: 'moldudp64', maxPending: 0 }, 'ERR_OUT_OF_RANGE'],
    ['a startSequence past 2^53', { lines: [line], sequence: 'moldudp64', startSequence: 2 ** 53 }, 'ERR_OUT_OF_RANGE'],
    ['a non-boolean timestamps', { lines: [line], sequence: 'moldudp64', timestamps: 1 }, 'ERR_INVALID_ARG_TYPE'],
    ['retransmit with a fixed field', { lines: [line], sequence: { offset: 0, size: 4, endian: 'big' }, retransmit: { address: '127.0.0.1', port: 1 } }, 'ERR_INVALID_ARG_VALUE'],
    ['a retransmit host name', { lines: [line], sequence: 'moldudp64', retransmit: { address: 'localhost', port: 1 } }, 'ERR_INVALID_IP_ADDRESS'],
    ['retransmit retries of -1', { lines: [line], sequence: 'moldudp64', retransmit: { address: '127.0.0.1', port: 1, retries: -1 } }, 'ERR_OUT_OF_RANGE'],
    ['an unknown retransmit interface', { lines: [line], sequence: 'moldudp64', retransmit: { address: '127.0.0.1', port: 1, interface: 'nosuch0' } }, 'ERR_MCAST_UNKNOWN_INTERFACE'],
    ['a bad batchSize', { lines: [line], sequence: 'moldudp64', batchSize: 0 }, 'ERR_OUT_OF_RANGE'],
  ];
  for (const [what, options, code] of cases) {
    it(`refuses ${what} with ${code}`, () => {
      expect(() => createFeed(options as FeedOptions)).toThrow(expect.objectContaining({ code }));
    });
  }

  it('the error names the bad value', () => {
    expect(() => createFeed({ lines: [line], sequence: 'moldudp64', gapTimeout: 1.5 })).toThrow(/"options\.gapTimeout".*1\.5/);
    expect(() => createFeed({ lines: [{ ...line, port: 70000 }], sequence: 'moldudp64' })).toThrow(/options\.lines\[0\]\.port/);
  });

  it('closes inside its own listener, twice, and its sockets with it', async () => {
    const port = uniquePort();
    const feed = feedOf({ port });
    const batches: number[] = [];
    let closes = 0;
    feed.on('close', () => closes++);
    feed.on('batch', (b: FeedBatch) => {
      batches.push(b.count);
      feed.close();
      feed.close();
    });
    const tx = sender();
    tx.send(mold(1, run(1, 3)), GROUP_A, port);
    await waitFor(() => closes === 1, "'close'");
    tx.send(mold(4, run(4, 3)), GROUP_A, port);
    await settle(50);
    expect(batches).toEqual([3]);
    expect(feed.closed).toBe(true);
    expect(feed.lineSocket(0)!.closed).toBe(true);
    expect(feed.stats().delivered).toBeGreaterThanOrEqual(3);
    expect(closes).toBe(1);
  });

  /** Runs `body` (CommonJS, with createFeed, createSocket and mold in scope) in a child node. */
  async function child(body: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const { spawnSync } = await import('node:child_process');
    const prelude = `const { createFeed, createSocket } = require(${JSON.stringify(`${process.cwd()}/dist/index.js`)});
      ${MOLD_JS}`;
    const r = spawnSync(process.execPath, ['-e', `${prelude}\n${body}`], { encoding: 'utf8', timeout: 20_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('a throwing listener is reported as uncaught and the feed goes on', async () => {
    const port = uniquePort();
    const r = await child(`
      let uncaught = 0;
      process.on('uncaughtException', () => uncaught++);
      const feed = createFeed({ lines: [{ group: '${GROUP_A}', port: ${port}, interface: 'lo' }], sequence: 'moldudp64', gapTimeout: 5 });
      let seen = 0, gaps = 0;
      feed.on('batch', (b) => { seen += b.count; throw new Error('listener'); });
      feed.on('gap', () => { gaps++; throw new Error('gap listener'); });
      const tx = createSocket({ interface: 'lo' });
      tx.send(mold(1, ['a']), '${GROUP_A}', ${port});
      setTimeout(() => tx.send(mold(3, ['c']), '${GROUP_A}', ${port}), 50);
      setTimeout(() => { console.log(JSON.stringify({ seen, gaps, uncaught, delivered: feed.stats().delivered })); feed.close(); tx.close(); }, 300);
    `);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ seen: 2, gaps: 1, uncaught: 3, delivered: 2 });
  });

  it('a worker that exits with its feed open and receiving does not crash the process', async () => {
    const port = uniquePort();
    const r = await child(`
      const { Worker } = require('node:worker_threads');
      const MOLD_SOURCE = ${JSON.stringify(MOLD_JS)};
      const code = \`
        const { createFeed, createSocket } = require(\${JSON.stringify(require.resolve('${process.cwd()}/dist/index.js'))});
        \${MOLD_SOURCE}
        const feed = createFeed({ lines: [{ group: '${GROUP_A}', port: ${port}, interface: 'lo' }, { group: '${GROUP_B}', port: ${port}, interface: 'lo' }], sequence: 'moldudp64', gapTimeout: 1 });
        feed.on('batch', () => {});
        const tx = createSocket({ interface: 'lo' });
        let n = 1;
        setInterval(() => { for (let i = 0; i < 50; i++, n += 2) { tx.send(mold(n, ['x']), '${GROUP_A}', ${port}); tx.send(mold(n + 1, ['y']), '${GROUP_B}', ${port}); } }, 1);
        require('node:worker_threads').parentPort.postMessage('running');
      \`;
      // Ten in a row: a feed timer firing in a terminating worker crashed about 1 run in 40.
      let left = 10;
      const start = () => {
        const w = new Worker(code, { eval: true });
        w.on('message', () => setTimeout(() => w.terminate().then(() => (--left === 0 ? console.log('ok') : start())), 150));
        w.on('error', (e) => { console.log('worker error', e.message); });
      };
      start();
    `);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ok');
    expect(r.status).toBe(0);
  });

  it('unref() lets the process exit with the feed open', async () => {
    const { execFileSync } = await import('node:child_process');
    const script = `const { createFeed } = require(${JSON.stringify(`${process.cwd()}/dist/index.js`)});
      createFeed({ lines: [{ group: '${GROUP_A}', port: ${uniquePort()}, interface: 'lo' }], sequence: 'moldudp64' }).unref();`;
    execFileSync(process.execPath, ['-e', script], { timeout: 10_000 });
  });
});
