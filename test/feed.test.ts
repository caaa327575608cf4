/**
 * Feeds on the wire: two sender hosts, two links into this receiver host (test/harness/feed-bed.ts),
 * `mcast feed-send` (and a Python sender) on each link, createFeed and `mcast feed` here.
 *
 * The big run proves arbitration exactly over a million items: beside the feed, a plain socket
 * per line joined on the same (group, interface) counts what really arrived on that line (after
 * the random loss and the deliberate drops), and the feed must deliver exactly the union, in
 * order, each once, declare exactly the rest as gaps, and count the same in its stats. Then:
 * retransmission from feed-send's re-request server, a server that never answers, session
 * change, sender restart, a stale line coming back, a source-specific line, and the CLIs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createSocket, type RecvBatch, type Socket } from '../lib/index.js';
import { createFeed } from '../lib/feed/index.js';
import { readMoldPacket } from '../lib/feed/moldudp64-packets.js';
import type { Feed } from '../lib/feed/index.js';
import type { FeedBatch, FeedGap, FeedLineEvent, FeedOptions, FeedReset } from '../lib/feed/types.js';
import { type FeedBed, feedBed } from './harness/feed-bed.js';
import type { Host } from './harness/netns.js';
import { uniquePort, waitFor } from './helpers.js';
import { mcast, type Running, spawnIn, spawnMcast, until } from './wire-helpers.js';

const SUBNET = 94;
let bed: FeedBed;
let ethA: string;
let ethB: string;
let sa: Host;
let sb: Host;
const SA = `10.${SUBNET}.1.2`;
const SB = `10.${SUBNET}.2.2`;

beforeAll(async () => {
  bed = await feedBed('fd', SUBNET);
  ethA = bed.links[0].self.ifname;
  ethB = bed.links[1].self.ifname;
  [sa, sb] = bed.senders;
});

afterAll(async () => {
  await bed?.net.destroy();
});

/** The sender's LINE on host SA (line A) or SB (line B). */
function sendLine(line: 0 | 1, group: string, port: number, source?: string): string {
  return `${group}:${port}@${bed.links[line].peer.ifname}${source !== undefined ? `+source=${source}` : ''}`;
}

/** Runs `mcast feed-send ARGS` on `host` to its end and checks it succeeded. */
async function feedSend(host: Host, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const r = await mcast(host, ['feed-send', '--quiet', ...args], { timeoutMs });
  if (r.code !== 0) throw new Error(`feed-send ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stderr;
}

/**
 * What arrived on one line, counted by a plain socket joined on the same group and interface as
 * the feed's line (both get every datagram the kernel accepts: IP_MULTICAST_ALL is off, so
 * each hears only its own joins). `seen[n]` is set when item n arrived at least once.
 */
class LineCounter {
  readonly seen: Uint8Array;
  datagrams = 0;
  items = 0;
  /** Datagrams whose first number was below the previous one's: reordering happened. */
  reordered = 0;
  /** The farthest a number went back behind the line's highest so far. */
  maxBack = 0;
  /** Numbers that arrived twice on this line (a sender repeats nothing: must stay 0). */
  repeated = 0;
  #last = 0;
  readonly socket: Socket;

  constructor(group: string, port: number, iface: string, capacity: number, format: 'moldudp64' | number, source?: string) {
    this.seen = new Uint8Array(capacity + 2);
    this.socket = createSocket({ port, recvBufferSize: 32 << 20, batchSize: 256 });
    this.socket.join(group, { interface: iface, ...(source !== undefined ? { source } : {}) });
    this.socket.on('batch', (b: RecvBatch) => {
      for (let i = 0; i < b.count; i++) this.#datagram(b.data(i), format);
    });
  }

  #datagram(data: Buffer, format: 'moldudp64' | number): void {
    this.datagrams++;
    if (format !== 'moldudp64') {
      const n = data.readUInt32BE(format);
      this.#mark(n);
      return;
    }
    const p = readMoldPacket(data);
    if (p === null || p.count === 0xffff || p.count === 0) return;
    for (let k = 0; k < p.count; k++) this.#mark(p.sequence + k);
  }

  #mark(n: number): void {
    if (n < this.#last) {
      this.reordered++;
      this.maxBack = Math.max(this.maxBack, this.#last - n);
    }
    this.#last = n;
    this.items++;
    if (n < this.seen.length) {
      if (this.seen[n] === 1) this.repeated++;
      this.seen[n] = 1;
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** What a feed delivered and reported, checked as it comes (order, each once, the data). */
class FeedLog {
  readonly delivered: Uint8Array;
  count = 0;
  outOfOrder = 0;
  wrongData = 0;
  twice = 0;
  readonly byLine = new Map<number, number>();
  readonly gaps: FeedGap[] = [];
  readonly resets: FeedReset[] = [];
  readonly stale: FeedLineEvent[] = [];
  readonly resumed: FeedLineEvent[] = [];
  readonly sequences: number[] = [];
  #last = -1;

  constructor(
    readonly feed: Feed,
    capacity: number,
    /** Keep every delivered number in `sequences` (small runs). */
    keep = false,
    /** Where each item's number is in its data: 0 (MoldUDP64 messages start with it, u64 BE) or a u32 BE offset. */
    readonly check: { u64At: number } | { u32At: number } = { u64At: 0 },
  ) {
    this.delivered = new Uint8Array(capacity + 2);
    feed.on('batch', (b: FeedBatch) => {
      for (let i = 0; i < b.count; i++) {
        const n = b.sequence(i);
        if (n <= this.#last) this.outOfOrder++;
        this.#last = n;
        const data = b.data(i);
        const inData = 'u64At' in this.check ? data.readUInt32BE(this.check.u64At + 4) + data.readUInt32BE(this.check.u64At) * 2 ** 32 : data.readUInt32BE(this.check.u32At);
        if (inData !== n) this.wrongData++;
        if (n < this.delivered.length) {
          if (this.delivered[n] === 1) this.twice++;
          this.delivered[n] = 1;
        }
        const line = b.line(i);
        this.byLine.set(line, (this.byLine.get(line) ?? 0) + 1);
        if (keep) this.sequences.push(n);
        this.count++;
      }
    });
    feed.on('gap', (g: FeedGap) => this.gaps.push(g));
    feed.on('reset', (r: FeedReset) => {
      this.resets.push(r);
      this.#last = -1; // numbering starts again
    });
    feed.on('stale', (e: FeedLineEvent) => this.stale.push(e));
    feed.on('resume', (e: FeedLineEvent) => this.resumed.push(e));
  }
}

const feeds: Feed[] = [];
const counters: LineCounter[] = [];
function openFeed(options: FeedOptions): Feed {
  const feed = createFeed(options);
  feeds.push(feed);
  return feed;
}
function closeAll(): void {
  for (const f of feeds.splice(0)) f.close();
  for (const c of counters.splice(0)) c.close();
}
afterEach(closeAll);

/** Ranges of the numbers in [from, to] for which `missing(n)` holds. */
function ranges(from: number, to: number, missing: (n: number) => boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let n = from; n <= to; n++) {
    if (!missing(n)) continue;
    const last = out.at(-1);
    if (last !== undefined && last[1] === n - 1) last[1] = n;
    else out.push([n, n]);
  }
  return out;
}

/** Gap ranges with adjacent ones joined (how the feed splits a missing stretch is its own business). */
function merged(gaps: readonly FeedGap[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const g of gaps) {
    const last = out.at(-1);
    if (last !== undefined && last[1] + 1 === g.from) last[1] = g.to;
    else out.push([g.from, g.to]);
  }
  return out;
}

describe('arbitration over a million items, loss and reordering per link, deliberate drops', () => {
  it('delivers exactly the union of what arrived, in order, each once; the gaps are exactly the rest; the stats add up', async () => {
    const N = 1_000_000;
    const port = uniquePort();
    const GA = '239.94.0.1';
    const GB = '239.94.0.2';
    try {
      // Random loss on both links (independent), reordering on both (different packets held back).
      await bed.setLoss(0, 20_000); // 2 %
      await bed.setLoss(1, 15_000); // 1.5 %
      // MoldUDP64 sequence number: payload bytes 10..17, big-endian; byte 17 is the low byte.
      await bed.setReorder(0, { byte: 17, mask: 0x30, slowRate: '40mbit' });
      await bed.setReorder(1, { byte: 16, mask: 0x01, slowRate: '40mbit' });
      const countA = new LineCounter(GA, port, ethA, N, 'moldudp64');
      const countB = new LineCounter(GB, port, ethB, N, 'moldudp64');
      counters.push(countA, countB);
      const feed = openFeed({
        lines: [
          { group: GA, port, interface: ethA },
          { group: GB, port, interface: ethB },
        ],
        sequence: 'moldudp64',
        startSequence: 1,
        gapTimeout: 200, // far above the reordering's delay: a late copy is never a gap
        maxPending: 1 << 20,
        recvBufferSize: 32 << 20,
        batchSize: 256,
      });
      const log = new FeedLog(feed, N);
      // Both senders begin at the same moment, as an exchange's two lines do (the feed's window
      // of remembered numbers is 65536: lines further apart than that are not one stream).
      const common = ['--begin-at', String(Date.now() + 1500), '--messages', '100', '--size', '8', '--count', String(N), '--rate', '150000', '--linger', '0.6', '--heartbeat', '50'];
      // Line A: GSO bursts (a lost burst is many datagrams); line B: one datagram per send.
      // Deliberate drops: some on one line only (recovered from the other), some on both (gaps).
      await Promise.all([
        feedSend(sa, [sendLine(0, GA, port), ...common, '--drop', '0:1000-1099,500000-500049,999990-1000000']),
        feedSend(sb, [sendLine(1, GB, port), ...common, '--no-gso', '--drop', '0:1050-1200,500000-500010,750000']),
      ]);
      await waitFor(() => feed.stats().nextSequence === N + 1, `the feed to reach ${N + 1}`, 10_000);

      // Every datagram the kernel accepted went to both sockets of a line: no overflow anywhere.
      expect(countA.socket.stats().kernelDrops + countB.socket.stats().kernelDrops).toBe(0);
      const stats = feed.stats();
      expect(stats.lines.map((l) => l.kernelDrops)).toEqual([0, 0]);
      // The impairments really happened.
      expect(await bed.lossCount(0)).toBeGreaterThan(0);
      expect(await bed.lossCount(1)).toBeGreaterThan(0);
      expect(countA.reordered + countB.reordered).toBeGreaterThan(0);

      const arrived = (n: number): boolean => countA.seen[n] === 1 || countB.seen[n] === 1;
      let union = 0;
      let both = 0;
      let mismatch = 0;
      for (let n = 1; n <= N; n++) {
        if (arrived(n)) union++;
        if (countA.seen[n] === 1 && countB.seen[n] === 1) both++;
        if ((log.delivered[n] === 1) !== arrived(n)) mismatch++;
      }
      expect(countA.repeated + countB.repeated).toBe(0); // the senders repeat nothing
      // No reset: a reordered datagram is not a restart (detail: how far each line went back).
      expect(log.resets, `reordered ${countA.reordered}/${countB.reordered}, back by up to ${countA.maxBack}/${countB.maxBack} items`).toEqual([]);
      expect(log.outOfOrder).toBe(0);
      expect(log.twice).toBe(0);
      expect(log.wrongData).toBe(0);
      expect(mismatch).toBe(0);
      expect(log.count).toBe(union);
      // Gaps: exactly the numbers missing on both lines, as ranges in order.
      const expectedGaps = ranges(1, N, (n) => !arrived(n));
      const got = log.gaps.map((g) => [g.from, g.to]);
      const gapSet = new Uint8Array(N + 2);
      let lastTo = 0;
      for (const [from, to] of got as Array<[number, number]>) {
        expect(from).toBeGreaterThan(lastTo);
        lastTo = to;
        for (let n = from; n <= to; n++) gapSet[n] = 1;
      }
      expect(ranges(1, N, (n) => gapSet[n] === 1)).toEqual(expectedGaps);
      // The deliberate double drops are among them; random double losses may add more (about 3
      // expected at these rates, but none is certain, so none is asserted).
      for (const [from, to] of [[1050, 1099], [500000, 500010]] as const) {
        for (let n = from; n <= to; n++) expect(gapSet[n], `number ${n} dropped on both lines`).toBe(1);
      }
      // The stats add up.
      expect(stats.delivered).toBe(union);
      expect(stats.gapItems).toBe(N - union);
      expect(stats.gaps).toBe(log.gaps.length);
      expect(stats.lines[0]!.received).toBe(countA.items);
      expect(stats.lines[1]!.received).toBe(countB.items);
      expect(stats.lines[0]!.packets).toBe(countA.datagrams);
      expect(stats.lines[1]!.packets).toBe(countB.datagrams);
      for (const l of stats.lines) {
        expect(l.wins + l.duplicates).toBe(l.received);
        expect(l.malformed).toBe(0);
      }
      expect(stats.lines[0]!.wins + stats.lines[1]!.wins).toBe(stats.delivered);
      expect([log.byLine.get(0) ?? 0, log.byLine.get(1) ?? 0]).toEqual([stats.lines[0]!.wins, stats.lines[1]!.wins]);
      expect(stats.recoveredFromLine).toBe(union - both);
      expect(stats.pending).toBe(0);
      // The kernel filter (on by default) dropped copies before they were queued, and counted
      // each: its drops are the sockets' whole sk_drops (kernelDrops above takes them off).
      expect(stats.kernelFilter.active).toBe(true);
      expect(stats.lines[0]!.filtered + stats.lines[1]!.filtered).toBeGreaterThan(0);
      expect([0, 1].map((i) => feed.lineSocket(i)!.stats().kernelDrops)).toEqual(stats.lines.map((l) => l.filtered));
    } finally {
      await bed.setLoss(0, 0);
      await bed.setLoss(1, 0);
      await bed.setReorder(0, null);
      await bed.setReorder(1, null);
    }
  }, 120_000);
});

describe('retransmission from the re-request server of mcast feed-send', () => {
  const N = 2000;
  const dropBoth = '100-149,300,1500-1519';

  async function run(answer: boolean): Promise<{ log: FeedLog; server: string }> {
    const port = uniquePort();
    const serverPort = uniquePort();
    const GA = '239.94.1.1';
    const GB = '239.94.1.2';
    const feed = openFeed({
      lines: [
        { group: GA, port, interface: ethA },
        { group: GB, port, interface: ethB },
      ],
      sequence: 'moldudp64',
      startSequence: 1,
      gapTimeout: 20,
      retransmit: { address: SA, port: serverPort, timeout: 30, retries: 3 },
    });
    const log = new FeedLog(feed, N, true);
    const server = spawnMcast(sa, ['feed-send', sendLine(0, GA, port), '--messages', '10', '--count', String(N), '--rate', '20000',
      '--drop', `0:${dropBoth}`, '--serve', String(serverPort), ...(answer ? [] : ['--no-answer']), '--heartbeat', '20']);
    try {
      await server.waitStderr('serving re-requests');
      await feedSend(sb, [sendLine(1, GB, port), '--messages', '10', '--count', String(N), '--rate', '20000', '--drop', `0:${dropBoth}`, '--linger', '0.3', '--heartbeat', '20']);
      await waitFor(() => feed.stats().nextSequence === N + 1, 'every number delivered or declared', 10_000);
    } finally {
      server.child.kill('SIGINT');
      await server.wait(5000);
    }
    return { log, server: server.stderr };
  }

  it('fills the gaps: every number is delivered, the recovered ones from line -1, and no gap fires', async () => {
    const { log, server } = await run(true);
    const stats = log.feed.stats();
    expect(log.gaps).toEqual([]);
    expect(log.count).toBe(N);
    expect(log.outOfOrder).toBe(0);
    expect(log.wrongData).toBe(0);
    expect(stats.recoveredByRetransmit).toBe(50 + 1 + 20);
    expect(log.byLine.get(-1)).toBe(71);
    expect(stats.retransmitRequests).toBeGreaterThanOrEqual(3);
    const resent = Number(/re-requests: \d+ received, [1-9]\d* answered \((\d+) messages\)/.exec(server)?.[1]);
    expect(resent).toBeGreaterThanOrEqual(71);
  });

  it('a server that never answers: the missing ranges become gaps after the retries', async () => {
    const { log, server } = await run(false);
    const stats = log.feed.stats();
    expect(merged(log.gaps)).toEqual([[100, 149], [300, 300], [1500, 1519]]);
    expect(stats.recoveredByRetransmit).toBe(0);
    expect(log.count).toBe(N - 71);
    // Each missing range was asked for (at least once, at most 1 + retries times) before it was given up.
    expect(stats.retransmitRequests).toBeGreaterThanOrEqual(3);
    const requests = Number(/re-requests: (\d+) received, 0 answered/.exec(server)?.[1]);
    expect(requests).toBe(stats.retransmitRequests);
  });
});

describe('resets and line health', () => {
  const twoLines = (GA: string, GB: string, port: number, extra: Partial<FeedOptions> = {}): FeedOptions => ({
    lines: [
      { group: GA, port, interface: ethA },
      { group: GB, port, interface: ethB },
    ],
    sequence: 'moldudp64',
    gapTimeout: 20,
    ...extra,
  });

  it('a session change (end of session, then session 2 from 1) is a reset, and both sessions are delivered whole', async () => {
    const port = uniquePort();
    const GA = '239.94.2.1';
    const GB = '239.94.2.2';
    const log = new FeedLog(openFeed(twoLines(GA, GB, port, { startSequence: 1 })), 1000, true);
    const args = ['--messages', '5', '--count', '1000', '--rate', '20000', '--session', 'ALPHA', '--new-session', '600:BRAVO'];
    await Promise.all([feedSend(sa, [sendLine(0, GA, port), ...args]), feedSend(sb, [sendLine(1, GB, port), ...args])]);
    await waitFor(() => log.count === 1000, '1000 items');
    expect(log.sequences).toEqual([...Array.from({ length: 600 }, (_, i) => i + 1), ...Array.from({ length: 400 }, (_, i) => i + 1)]);
    expect(log.gaps).toEqual([]);
    expect(log.resets.length).toBeGreaterThanOrEqual(1);
    expect(log.resets.map((r) => r.reason)).toContain('end-of-session');
    expect(log.feed.stats().session?.trim()).toBe('BRAVO');
  });

  it('a sender restart (numbers go back, Python on line B, feed-send on line A) is a reset reason "restart"', async () => {
    const port = uniquePort();
    const GA = '239.94.3.1';
    const GB = '239.94.3.2';
    // A fixed field: u32 big-endian at offset 4 of a 64-byte datagram.
    const PY_COUNTER = `
import socket, struct, sys, time
group, port, ifaddr, first, count, begin = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
time.sleep(max(0, begin / 1000 - time.time()))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifaddr))
for n in range(first, first + count):
    s.sendto(b'PY..' + struct.pack('>I', n) + b'.' * 56, (group, port))
    if n % 20 == 0: time.sleep(0.001)
`;
    const feed = openFeed(twoLines(GA, GB, port, { sequence: { offset: 4, size: 4, endian: 'big' }, startSequence: 1, gapTimeout: 200, recvBufferSize: 4 << 20 }));
    const log = new FeedLog(feed, 2000, true, { u32At: 4 });
    // Both senders begin together (a wall-clock time), at about the same pace.
    const py = async (first: number, count: number, begin: number): Promise<void> => {
      const r = await sb.python(PY_COUNTER, [GB, String(port), SB, String(first), String(count), String(begin)]);
      if (r.code !== 0) throw new Error(r.stderr);
    };
    const fs = (first: number, count: number, begin: number): Promise<string> =>
      feedSend(sa, [sendLine(0, GA, port), '--sequence', 'u32be@4', '--size', '64', '--start', String(first), '--count', String(count), '--rate', '10000', '--begin-at', String(begin)]);
    const together = (first: number, count: number): Promise<unknown> => {
      const begin = Date.now() + 1000;
      return Promise.all([fs(first, count, begin), py(first, count, begin)]);
    };
    await together(1, 1000);
    await until(() => log.count === 1000, 'the first run', 10_000, () => JSON.stringify(log.feed.stats()));
    // Both senders start again from 1.
    await together(1, 300);
    await waitFor(() => log.count === 1300, 'the second run');
    expect(log.resets.map((r) => r.reason)).toContain('restart');
    expect(log.sequences).toEqual([...Array.from({ length: 1000 }, (_, i) => i + 1), ...Array.from({ length: 300 }, (_, i) => i + 1)]);
    expect(log.gaps).toEqual([]);
    const stats = log.feed.stats();
    expect(stats.lines[1]!.received).toBe(1300);
    expect(stats.lines[0]!.wins + stats.lines[1]!.wins).toBe(1300);
  });

  it('a line that goes quiet is reported stale, and resumes when it sends again', async () => {
    const port = uniquePort();
    const GA = '239.94.4.1';
    const GB = '239.94.4.2';
    const log = new FeedLog(openFeed(twoLines(GA, GB, port, { staleAfter: 500, startSequence: 1 })), 3000);
    // Line A sends 1500 items over 2.5 s without a pause, then heartbeats; line B sends the
    // first 200, goes quiet until it is reported stale, and sends again.
    const lineA = spawnMcast(sa, ['feed-send', '--quiet', sendLine(0, GA, port), '--messages', '10', '--count', '1500', '--rate', '600', '--linger', '0.5', '--heartbeat', '50']);
    try {
      await lineA.waitStderr('sending');
      await feedSend(sb, [sendLine(1, GB, port), '--messages', '10', '--count', '200', '--rate', '600']);
      // (Either line may have been reported stale before its sender's first datagram, and
      // resumed with it: only what happens from here on counts.)
      const staleB = (): FeedLineEvent[] => log.stale.filter((e) => e.line === 1);
      const resumedB = (): FeedLineEvent[] => log.resumed.filter((e) => e.line === 1);
      const [staleBefore, resumedBefore] = [staleB().length, resumedB().length];
      await waitFor(() => staleB().length > staleBefore, 'line B to go stale', 5000);
      expect(staleB()).toHaveLength(staleBefore + 1);
      expect(log.feed.stats().lines[1]!.stale).toBe(true);
      expect(log.feed.stats().lines[0]!.stale).toBe(false);
      expect(resumedB()).toHaveLength(resumedBefore);
      // It goes on from its own last number (not a restart): behind line A, so duplicates first.
      await feedSend(sb, [sendLine(1, GB, port), '--messages', '10', '--start', '201', '--count', '1300', '--rate', '100000']);
      await waitFor(() => resumedB().length > resumedBefore, 'line B to resume');
      expect(resumedB().at(-1)).toEqual({ line: 1, name: 'B' });
      expect(log.feed.stats().lines[1]!.stale).toBe(false);
      expect((await lineA.wait(10_000)).code).toBe(0);
    } finally {
      lineA.child.kill('SIGKILL');
    }
    await waitFor(() => log.count === 1500, '1500 items');
    expect(log.gaps).toEqual([]);
  });

  it('a source-specific line hears only its source: another sender on the same group is never delivered', async () => {
    const port = uniquePort();
    const GA = '232.94.5.1';
    const GB = '232.94.5.2';
    const feed = openFeed({
      lines: [
        { group: GA, port, interface: ethA, source: SA },
        { group: GB, port, interface: ethB, source: SB },
      ],
      sequence: 'moldudp64',
      startSequence: 1,
      gapTimeout: 20,
    });
    const log = new FeedLog(feed, 5000);
    // From SB's other address: numbers 1..4000, which the feed would deliver past 1000 if it heard them.
    const intruder = feedSend(sb, [sendLine(1, GB, port, bed.otherSourceB), '--messages', '10', '--count', '4000', '--rate', '40000']);
    await Promise.all([
      intruder,
      feedSend(sa, [sendLine(0, GA, port, SA), '--messages', '10', '--count', '1000', '--rate', '10000']),
      feedSend(sb, [sendLine(1, GB, port, SB), '--messages', '10', '--count', '1000', '--rate', '10000']),
    ]);
    await waitFor(() => log.count === 1000, '1000 items');
    await new Promise((r) => setTimeout(r, 200));
    const stats = feed.stats();
    expect(log.count).toBe(1000);
    expect(stats.delivered).toBe(1000);
    expect(stats.lines[1]!.received).toBe(1000);
    expect(stats.lines[1]!.packets).toBe(100);
  });
});

describe('mcast feed and mcast feed-send', () => {
  it('mcast feed --json prints each item once with its line and the gaps, and --count exits 0', async () => {
    const port = uniquePort();
    const GA = '239.94.6.1';
    const GB = '239.94.6.2';
    const rx: Running = spawnMcast(bed.net.self, ['feed', `${GA}:${port}@${ethA}`, `${GB}:${port}@${ethB}`, '--sequence', 'moldudp64', '--json', '--count', '190', '--start', '1', '--gap-timeout', '1500', '--timeout', '20']);
    await rx.waitStderr('feed: joined');
    const args = ['--begin-at', String(Date.now() + 1000), '--messages', '10', '--count', '200', '--rate', '5000', '--linger', '0.3', '--heartbeat', '20'];
    await Promise.all([
      feedSend(sa, [sendLine(0, GA, port), ...args, '--drop', '0:11-30']),
      feedSend(sb, [sendLine(1, GB, port), ...args, '--drop', '0:21-40']),
    ]);
    const { code } = await rx.wait(20_000);
    expect(code, rx.describe()).toBe(0);
    // The summary at exit says the kernel filter was on and what it dropped.
    expect(rx.stderr).toMatch(/kernel filter on;.*kernel drops, \d+ filtered/);
    const records = rx.lines.map((l) => JSON.parse(l) as { seq?: number; line?: number; gap?: { from: number; to: number } });
    const items = records.filter((r) => r.seq !== undefined);
    expect(items.map((r) => r.seq)).toEqual([...Array.from({ length: 20 }, (_, i) => i + 1), ...Array.from({ length: 170 }, (_, i) => i + 31)]);
    // 11-20 only on line B, 31-40 only on line A... and 21-30 on neither.
    expect(items.filter((r) => r.seq! >= 11 && r.seq! <= 20).every((r) => r.line === 1)).toBe(true);
    expect(items.filter((r) => r.seq! >= 31 && r.seq! <= 40).every((r) => r.line === 0)).toBe(true);
    expect(records.filter((r) => r.gap !== undefined).map((r) => r.gap)).toEqual([{ from: 21, to: 30, session: 'SESSION001' }]);
    expect(rx.stderr).toMatch(/feed: delivered 190, gaps 1 \(10 items\)/);
  });

  it('IPv6 lines ([GROUP]:PORT@IFACE): mcast feed arbitrates what feed-send sends on two links', async () => {
    const port = uniquePort();
    const GA = 'ff15::94:1';
    const GB = 'ff15::94:2';
    const rx: Running = spawnMcast(bed.net.self, ['feed', `[${GA}]:${port}@${ethA}`, `[${GB}]:${port}@${ethB}`, '--sequence', 'u64le@8', '--json', '--count', '100', '--start', '1', '--gap-timeout', '3000', '--timeout', '20']);
    await rx.waitStderr('feed: joined');
    const args = ['--begin-at', String(Date.now() + 1000), '--sequence', 'u64le@8', '--size', '100', '--count', '100', '--rate', '5000'];
    await Promise.all([
      feedSend(sa, [`[${GA}]:${port}@${bed.links[0].peer.ifname}`, ...args, '--drop', '0:1-50']),
      feedSend(sb, [`[${GB}]:${port}@${bed.links[1].peer.ifname}`, ...args, '--drop', '0:51-100']),
    ]);
    const { code } = await rx.wait(20_000);
    expect(code, rx.describe()).toBe(0);
    const items = rx.lines.map((l) => JSON.parse(l) as { seq?: number; line?: number; size?: number }).filter((r) => r.seq !== undefined);
    expect(items.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(items.map((r) => r.line)).toEqual([...Array<number>(50).fill(1), ...Array<number>(50).fill(0)]);
    expect(items.every((r) => r.size === 100)).toBe(true);
  });

  it('mcast feed --timeout exits 1 when --count items did not come', async () => {
    const port = uniquePort();
    const r = await mcast(bed.net.self, ['feed', `239.94.7.1:${port}@${ethA}`, '--sequence', 'u64le@0', '--count', '5', '--timeout', '0.5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/timeout after 0\.5 s: delivered 0, wanted 5 items/);
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['a LINE without an interface', ['feed', '239.1.1.1:5000', '--sequence', 'moldudp64'], /^mcast feed: LINE 0 must be GROUP:PORT@IFACE \(IPv6: \[GROUP\]:PORT@IFACE\), got '239\.1\.1\.1:5000'/],
    ['a LINE without a port', ['feed', '239.1.1.1@lo', '--sequence', 'moldudp64'], /^mcast feed: LINE 0 needs a port: GROUP:PORT@IFACE, got '239\.1\.1\.1@lo'/],
    ['a LINE with a unicast group', ['feed', '10.1.1.1:5000@lo', '--sequence', 'moldudp64'], /^mcast feed: 10\.1\.1\.1 is not a multicast group/],
    ['an unknown interface', ['feed', '239.1.1.1:5000@nosuch0', '--sequence', 'moldudp64'], /^mcast feed: LINE 0 \(239\.1\.1\.1:5000@nosuch0\): unknown interface 'nosuch0'/],
    ['a bad source', ['feed', '232.1.1.1:5000@lo+source=ff02::1', '--sequence', 'moldudp64'], /^mcast feed: --source must be a unicast IPv4 address/],
    ['a second LINE of another family', ['feed', '239.1.1.1:5000@lo', '[ff15::1]:5000@lo', '--sequence', 'moldudp64'], /^mcast feed: every LINE must be of one family/],
    ['a bad FORMAT', ['feed', '239.1.1.1:5000@lo', '--sequence', 'u16be@0'], /^mcast feed: --sequence must be moldudp64, u32be@OFFSET, u32le@OFFSET, u64be@OFFSET or u64le@OFFSET, got 'u16be@0'/],
    ['a FORMAT offset past the end', ['feed', '239.1.1.1:5000@lo', '--sequence', 'u32be@70000'], /^mcast feed: --sequence u32be@70000: OFFSET must be an integer from 0 to 65527, got '70000'/],
    ['no FORMAT', ['feed', '239.1.1.1:5000@lo'], /^mcast feed: --sequence FORMAT is required/],
    ['--retransmit with a fixed field', ['feed', '239.1.1.1:5000@lo', '--sequence', 'u32be@0', '--retransmit', '127.0.0.1:6000'], /^mcast feed: --retransmit needs --sequence moldudp64/],
    ['feed-send: a bad --drop', ['feed-send', '239.1.1.1:5000@lo', '--drop', '2:5'], /^mcast feed-send: --drop: the LINE index must be an integer from 0 to 0, got '2'/],
    ['feed-send: a backwards range', ['feed-send', '239.1.1.1:5000@lo', '--drop', '0:9-5'], /^mcast feed-send: --drop 0:9-5: the range '9-5' ends before it starts/],
    ['feed-send: --messages with a fixed field', ['feed-send', '239.1.1.1:5000@lo', '--sequence', 'u32be@0', '--messages', '4'], /^mcast feed-send: --messages needs --sequence moldudp64/],
    ['feed-send: a counter past u32', ['feed-send', '239.1.1.1:5000@lo', '--sequence', 'u32le@0', '--start', '4294967295', '--count', '2'], /^mcast feed-send: --start \+ --count go past 4294967295/],
  ];
  it.each(bad)('bad input: %s is exit 2 with a message naming the value', async (_what, args, message) => {
    const r = await mcast(bed.net.self, args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('mcast feed-send sends each item once per line (minus the drops) and says so; a Python receiver sees the MoldUDP64 packets', async () => {
    const port = uniquePort();
    const G = '239.94.8.1';
    const PY_MOLD = `
import socket, struct, sys
group, port, ifaddr, want = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('', port))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack('4s4s', socket.inet_aton(group), socket.inet_aton(ifaddr)))
s.settimeout(10)
print('ready', flush=True)
seen = []
while True:
    data = s.recv(65535)
    session, seq, count = data[:10], struct.unpack('>Q', data[10:18])[0], struct.unpack('>H', data[18:20])[0]
    if count == 0xFFFF:
        print('end', session.decode(), seq, flush=True)
        break
    at = 20
    for k in range(count):
        (n,) = struct.unpack('>H', data[at:at + 2])
        msg = data[at + 2:at + 2 + n]
        assert struct.unpack('>Q', msg[:8])[0] == seq + k, (msg, seq + k)
        seen.append(seq + k)
        at += 2 + n
print(' '.join(map(str, seen)), flush=True)
`;
    const py = spawnIn(bed.net.self, ['python3', '-c', PY_MOLD, G, String(port), `10.${SUBNET}.1.1`, '0']);
    await py.waitLines(1);
    const stderr = await feedSend(sa, [sendLine(0, G, port), '--messages', '7', '--size', '12', '--count', '50', '--drop', '0:10-12,40', '--end-of-session', '--session', 'S1']);
    const { code } = await py.wait(10_000);
    expect(code).toBe(0);
    expect(py.lines[1]).toBe('end S1         51');
    const seen = py.lines[2]!.split(' ').map(Number);
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i + 1).filter((n) => !(n >= 10 && n <= 12) && n !== 40));
    expect(stderr).toMatch(/sent 50 items in [\d.]+ s: line 0 [\d.:]+@\S+: 46 items, \d+ packets, 4 dropped/);
  });
});
