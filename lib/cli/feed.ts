/**
 * `mcast feed LINE [LINE...] --sequence FORMAT`: A/B line arbitration from the command line. Joins
 * every LINE on its interface through createFeed, prints each delivered item once, in sequence
 * order (which line's copy won), and each gap, reset and stale line; a statistics summary goes to
 * stderr every second and at exit. --count N exits 0 after N items, --timeout S exits 1.
 */
import { createFeed } from '../index';
import type { FeedBatch, FeedGap, FeedLine, FeedLineEvent, FeedOptions, FeedReset, FeedStats } from '../feed/types';
import { type CommandSpec, EXIT, type ParsedArgs, UsageError } from './args';
import { FORMAT_HELP, LINE_HELP, type LineArg, parseFormat, parseLines } from './feed-values';
import { type Command, type Io, onStopSignal, println, signalExitCode } from './io';
import { hostPort, parseEndpoint, parseInteger, parsePositiveNumber } from './values';

const STATS_INTERVAL_MS = 1000;

const spec: CommandSpec = {
  name: 'feed',
  summary: 'Joins every LINE (line A, line B, ...) and prints each sequence number once, in order, with the gaps (A/B arbitration).',
  positionals: [{ name: 'LINE', required: true, repeat: true, help: 'GROUP:PORT@IFACE[+source=ADDR]: one line of the feed, joined on IFACE' }],
  options: [
    { name: 'sequence', value: 'FORMAT', help: 'where the sequence number is (required): moldudp64, u32be@OFFSET, u32le@OFFSET, u64be@OFFSET, u64le@OFFSET' },
    { name: 'json', help: 'one JSON object per item and event and line' },
    { name: 'count', short: 'c', value: 'N', help: 'exit 0 after N delivered items' },
    { name: 'timeout', short: 't', value: 'SECONDS', help: 'exit 1 if --count items (without --count: any) have not been delivered by then' },
    { name: 'retransmit', value: 'ADDR:PORT', help: 'moldudp64: ask this re-request server for gaps ([ADDR]:PORT for IPv6)' },
    { name: 'gap-timeout', value: 'MS', help: 'wait this long for a missing number on another line before it is a gap (default 5)' },
    { name: 'stale-after', value: 'MS', help: 'a line silent this long is reported stale (default 1000)' },
    { name: 'start', value: 'N', help: 'the first sequence number expected (default: the first one seen)' },
    { name: 'max-pending', value: 'N', help: 'items that may wait for a missing number (default 65536)' },
    { name: 'timestamps', help: "kernel receive times: each item's, and each line's lag behind the first copy in the stats" },
    { name: 'quiet', short: 'q', help: 'no line per item (events and the stats summary only)' },
  ],
  notes: [
    LINE_HELP,
    FORMAT_HELP,
    'Output (stdout), one line each: "SEQ line I N bytes" per delivered item (I: the 0-based line whose copy\n' +
      'was delivered, -1: by retransmission), "gap FROM-TO", "reset LINE REASON [SESSION]", "stale LINE",\n' +
      '"resume LINE". With --json: {"seq":N,"line":I,"size":B[,"timestamp":"NS"]}, {"gap":{"from":A,"to":B}},\n' +
      '{"reset":{...}}, {"stale":{...}}, {"resume":{...}}.',
    'stderr: what was joined, then every second and at exit: delivered, gaps, pending, and per line the\n' +
      'datagrams, items received, wins, duplicates, malformed and kernel drops. Ctrl-C exits 130.',
  ],
  examples: [
    'mcast feed 239.1.1.1:5000@eth1 239.2.2.2:5000@eth2 --sequence moldudp64',
    'mcast feed 239.1.1.1:5000@eth1 232.2.2.2:5000@eth2+source=10.0.0.7 --sequence u32be@0 --json --count 1000',
    'mcast feed [ff15::1]:5000@eth1 [ff15::2]:5000@eth2 --sequence moldudp64 --retransmit [fd00::9]:6000',
  ],
};

interface FeedCliOptions {
  lines: LineArg[];
  feed: FeedOptions;
  json: boolean;
  quiet: boolean;
  count: number | undefined;
  timeoutMs: number | undefined;
}

function options(args: ParsedArgs): FeedCliOptions {
  const get = (name: string): string | undefined => args.values.get(name);
  const lines = parseLines(args.positionals);
  const sequenceText = get('sequence');
  if (sequenceText === undefined) throw new UsageError('--sequence FORMAT is required (moldudp64, u32be@OFFSET, u32le@OFFSET, u64be@OFFSET, u64le@OFFSET)');
  const sequence = parseFormat(sequenceText);
  const feed: FeedOptions = {
    lines: lines.map((l): FeedLine => ({
      group: l.group,
      port: l.port,
      interface: l.iface.ref,
      ...(l.source !== undefined ? { source: l.source } : {}),
    })),
    sequence,
  };
  const retransmit = get('retransmit');
  if (retransmit !== undefined) {
    if (sequence !== 'moldudp64') throw new UsageError('--retransmit needs --sequence moldudp64 (a MoldUDP64 re-request server)');
    const endpoint = parseEndpoint('--retransmit', retransmit);
    if (endpoint.port === undefined) throw new UsageError(`--retransmit needs ADDR:PORT ([ADDR]:PORT for IPv6), got '${retransmit}'`);
    if (endpoint.family !== lines[0]!.family) throw new UsageError(`--retransmit ${retransmit} is IPv${endpoint.family} but the lines are IPv${lines[0]!.family}`);
    feed.retransmit = { address: endpoint.address, port: endpoint.port };
  }
  const gapTimeout = get('gap-timeout');
  if (gapTimeout !== undefined) feed.gapTimeout = parsePositiveNumber('--gap-timeout', gapTimeout, true);
  const staleAfter = get('stale-after');
  if (staleAfter !== undefined) feed.staleAfter = parsePositiveNumber('--stale-after', staleAfter);
  const start = get('start');
  if (start !== undefined) feed.startSequence = parseInteger('--start', start, 0, Number.MAX_SAFE_INTEGER);
  const maxPending = get('max-pending');
  if (maxPending !== undefined) feed.maxPending = parseInteger('--max-pending', maxPending, 1, 1 << 26);
  if (args.flags.has('timestamps')) feed.timestamps = true;
  const count = get('count');
  const timeout = get('timeout');
  return {
    lines,
    feed,
    json: args.flags.has('json'),
    quiet: args.flags.has('quiet'),
    count: count === undefined ? undefined : parseInteger('--count', count, 1, Number.MAX_SAFE_INTEGER),
    timeoutMs: timeout === undefined ? undefined : parsePositiveNumber('--timeout', timeout) * 1000,
  };
}

/** One line of statistics: the feed's counters, then each line's. */
export function statsLine(s: FeedStats): string {
  const feed =
    `delivered ${s.delivered}, gaps ${s.gaps} (${s.gapItems} items), pending ${s.pending} (high ${s.pendingHigh}), ` +
    `recovered ${s.recoveredFromLine} from a line / ${s.recoveredByRetransmit} by retransmission (${s.retransmitRequests} requests), ` +
    `kernel filter ${s.kernelFilter.active ? 'on' : `off: ${s.kernelFilter.reason}`}`;
  const lines = s.lines.map((l) => {
    const lag = l.lag !== undefined && l.lag.samples > 0 ? `, lag p50 ${(l.lag.p50 / 1000).toFixed(1)} µs p99 ${(l.lag.p99 / 1000).toFixed(1)} µs` : '';
    return `${l.name}: ${l.packets} datagrams, ${l.received} items, ${l.wins} wins, ${l.duplicates} duplicates, ${l.malformed} malformed, ${l.kernelDrops} kernel drops, ${l.filtered} filtered${lag}${l.stale ? ', STALE' : ''}`;
  });
  return `feed: ${feed}; ${lines.join('; ')}`;
}

function itemText(o: FeedCliOptions, b: FeedBatch, i: number): string {
  const ts = o.feed.timestamps === true ? b.timestamp(i) : undefined;
  if (o.json) {
    return `{"seq":${b.sequence(i)},"line":${b.line(i)},"size":${b.data(i).length}${ts !== undefined ? `,"timestamp":"${ts}"` : ''}}`;
  }
  return `${b.sequence(i)} line ${b.line(i)} ${b.data(i).length} bytes${ts !== undefined ? ` at ${ts}` : ''}`;
}

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const o = options(args);
  const feed = createFeed(o.feed);
  const joined = o.lines.map((l, i) => `line ${i} ${hostPort(l.group, l.port)} on ${l.iface.info.name}${l.source !== undefined ? ` from ${l.source}` : ''}`);
  println(io.stderr, `feed: joined ${joined.join(', ')}`);
  return new Promise<number>((resolve) => {
    let finished = false;
    let delivered = 0;
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      clearInterval(ticker);
      if (timer !== undefined) clearTimeout(timer);
      stopSignals();
      println(io.stderr, statsLine(feed.stats()));
      feed.close();
      resolve(code);
    };
    const event = (kind: string, body: object, text: string): void => {
      println(io.stdout, o.json ? JSON.stringify({ [kind]: body }) : text);
    };
    feed.on('batch', (b: FeedBatch) => {
      if (finished) return;
      const n = o.count === undefined ? b.count : Math.min(b.count, o.count - delivered);
      if (!o.quiet) {
        // One write per batch: a line each, joined.
        const out = new Array<string>(n);
        for (let i = 0; i < n; i++) out[i] = itemText(o, b, i);
        if (n > 0) io.stdout.write(`${out.join('\n')}\n`);
      }
      delivered += n;
      if (o.count !== undefined && delivered >= o.count) finish(EXIT.OK);
    });
    feed.on('gap', (g: FeedGap) => event('gap', { from: g.from, to: g.to, ...(g.session !== undefined ? { session: g.session } : {}) }, `gap ${g.from}-${g.to}`));
    feed.on('reset', (r: FeedReset) =>
      event('reset', r, `reset ${r.name} ${r.reason}${r.session !== undefined ? ` ${r.session}` : ''}`),
    );
    feed.on('stale', (e: FeedLineEvent) => event('stale', e, `stale ${e.name}`));
    feed.on('resume', (e: FeedLineEvent) => event('resume', e, `resume ${e.name}`));
    feed.on('error', (error: Error) => {
      println(io.stderr, `mcast feed: ${error.message}`);
      finish(EXIT.FAILURE);
    });
    const ticker = setInterval(() => println(io.stderr, statsLine(feed.stats())), STATS_INTERVAL_MS);
    let timer: NodeJS.Timeout | undefined;
    if (o.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        const ok = o.count === undefined && delivered > 0;
        const wanted = o.count !== undefined ? `${o.count} items` : 'any item';
        println(io.stderr, `timeout after ${o.timeoutMs! / 1000} s: delivered ${delivered}${ok ? '' : `, wanted ${wanted}`}`);
        finish(ok ? EXIT.OK : EXIT.FAILURE);
      }, o.timeoutMs);
    }
    const stopSignals = onStopSignal((signal) => finish(signalExitCode(signal)));
  });
}

export const feedCommand: Command = { spec, run };
