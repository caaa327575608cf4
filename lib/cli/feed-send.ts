/**
 * `mcast feed-send LINE [LINE...]`: sends one numbered stream (MoldUDP64, or a counter in a fixed
 * field) on every LINE, leaving out chosen numbers per line, optionally as a MoldUDP64 re-request
 * server that answers gap requests by unicast. The sender of the feed tests, demos and benchmark.
 */
import { FeedSender, type FeedSenderOptions } from '../feed/sender';
import type { SequenceFormat } from '../feed/types';
import { type CommandSpec, EXIT, type ParsedArgs, UsageError } from './args';
import { FORMAT_HELP, LINE_HELP, type LineArg, parseFormat, parseLines, parseRanges } from './feed-values';
import { type Command, type Io, onStopSignal, println, signalExitCode, sleep } from './io';
import { monotonicNs, Pacer } from './pacer';
import { hostPort, parseInteger, parsePort, parsePositiveNumber, parseTTL } from './values';

const DEFAULT_COUNT = 1000;
const DEFAULT_RETAIN = 1 << 20;

const spec: CommandSpec = {
  name: 'feed-send',
  summary: 'Sends one numbered stream on every LINE (MoldUDP64 or a fixed-field counter), for feed tests and demos.',
  positionals: [{ name: 'LINE', required: true, repeat: true, help: 'GROUP:PORT@IFACE[+source=ADDR]: a group to send to, out of IFACE (from ADDR)' }],
  options: [
    { name: 'sequence', value: 'FORMAT', help: 'moldudp64 (default), u32be@OFFSET, u32le@OFFSET, u64be@OFFSET, u64le@OFFSET' },
    { name: 'count', short: 'c', value: 'N', help: `items to send (default ${DEFAULT_COUNT})` },
    { name: 'start', value: 'N', help: 'number of the first item (default 1)' },
    { name: 'begin-at', value: 'UNIX_MS', help: 'wait until this wall-clock time (ms since the epoch) to begin: senders on several hosts start together' },
    { name: 'rate', short: 'r', value: 'IPS', help: 'at most IPS items per second (default: as fast as the kernel takes them)' },
    { name: 'messages', value: 'N', help: 'moldudp64: messages per packet (default 1)' },
    { name: 'size', value: 'BYTES', help: 'moldudp64: bytes per message (default 8); fixed field: bytes per datagram (default 64)' },
    { name: 'session', value: 'NAME', help: 'moldudp64 session, 1 to 10 ASCII characters (default SESSION001)' },
    { name: 'new-session', value: 'AFTER:NAME', help: 'moldudp64: after item AFTER, end the session and go on in session NAME from 1' },
    { name: 'end-of-session', help: 'moldudp64: end with an end-of-session packet (count 0xFFFF) on every line' },
    { name: 'drop', value: 'I:RANGES[/I:RANGES]', help: 'leave these numbers out on line I (0-based): 0:5,100-199/1:150-160' },
    { name: 'ttl', value: 'N', help: 'TTL / hop limit, 0 to 255 (default 1)' },
    { name: 'no-loopback', help: "this host's own receivers do not get the datagrams" },
    { name: 'no-gso', help: 'plain sendmmsg instead of UDP_SEGMENT bursts' },
    { name: 'serve', value: 'PORT', help: 'moldudp64: answer re-requests on PORT (unicast) until Ctrl-C or --linger' },
    { name: 'no-answer', help: 'with --serve: count requests but never answer (a server that is down)' },
    { name: 'retain', value: 'N', help: `with --serve: messages kept for re-requests (default ${DEFAULT_RETAIN})` },
    { name: 'heartbeat', value: 'MS', help: 'moldudp64: after sending, a heartbeat every MS ms while lingering (default 100)' },
    { name: 'linger', value: 'SECONDS', help: 'after sending, stay SECONDS (heartbeats, re-requests); default 0, or until Ctrl-C with --serve' },
    { name: 'quiet', short: 'q', help: 'only the summary on stderr' },
  ],
  notes: [
    LINE_HELP,
    FORMAT_HELP,
    'Each item holds its own number (MoldUDP64: the message starts with it as u64 big-endian; a fixed field: the\n' +
      'counter), so two feed-send runs on two hosts send the same stream. Bursts (about 1 ms of --rate, at most 64 packets) leave as one\n' +
      'sendBatch (UDP_SEGMENT where the kernel has it). A line with drops gets its packets without those numbers\n' +
      '(MoldUDP64: one packet per run of kept messages).',
    'stderr: where it sends, "sent N items" when done (per line: items, packets, dropped), and with --serve\n' +
      '"serving re-requests on PORT" and the requests answered at exit.',
  ],
  examples: [
    'mcast feed-send 239.1.1.1:5000@eth1 239.2.2.2:5000@eth2 --messages 10 --count 100000 --drop 0:50-59/1:70',
    'mcast feed-send 239.1.1.1:5000@eth1 --sequence u32be@0 --size 64 --rate 10000 --count 50000',
    'mcast feed-send 239.1.1.1:5000@eth1 --serve 6000 --count 1000 --drop 0:500-520',
  ],
};

interface FeedSendOptions {
  lines: LineArg[];
  sequence: SequenceFormat;
  count: number;
  start: number;
  rate: number | undefined;
  beginAt: number | undefined;
  newSession: { after: number; name: string } | undefined;
  endOfSession: boolean;
  serve: number | undefined;
  answer: boolean;
  heartbeatMs: number;
  lingerMs: number | undefined;
  quiet: boolean;
  sender: FeedSenderOptions;
}

/** `I:RANGES/I:RANGES`: per line, the numbers to leave out. */
function parseDrops(text: string, lines: number): Array<Array<[number, number]>> {
  const drops: Array<Array<[number, number]>> = Array.from({ length: lines }, () => []);
  for (const part of text.split('/')) {
    const colon = part.indexOf(':');
    if (colon <= 0) throw new UsageError(`--drop must be LINE:RANGES[/LINE:RANGES] (LINE a 0-based index), got '${part}'`);
    const line = parseInteger('--drop: the LINE index', part.slice(0, colon), 0, lines - 1);
    drops[line]!.push(...parseRanges(`--drop ${part}`, part.slice(colon + 1)));
  }
  return drops;
}

function options(args: ParsedArgs): FeedSendOptions {
  const get = (name: string): string | undefined => args.values.get(name);
  const lines = parseLines(args.positionals);
  const sequence = parseFormat(get('sequence') ?? 'moldudp64');
  const mold = sequence === 'moldudp64';
  for (const name of ['messages', 'session', 'new-session', 'end-of-session', 'serve', 'heartbeat']) {
    if (!mold && (args.values.has(name) || args.flags.has(name))) throw new UsageError(`--${name} needs --sequence moldudp64`);
  }
  const serve = get('serve') === undefined ? undefined : parsePort(get('serve') ?? '');
  for (const name of ['no-answer', 'retain']) {
    if (serve === undefined && (args.values.has(name) || args.flags.has(name))) throw new UsageError(`--${name} needs --serve PORT`);
  }
  let newSession: FeedSendOptions['newSession'];
  const ns = get('new-session');
  if (ns !== undefined) {
    const colon = ns.indexOf(':');
    if (colon <= 0) throw new UsageError(`--new-session must be AFTER:NAME, got '${ns}'`);
    newSession = { after: parseInteger('--new-session: AFTER', ns.slice(0, colon), 1, Number.MAX_SAFE_INTEGER), name: ns.slice(colon + 1) };
    if (!/^[\x20-\x7e]{1,10}$/.test(newSession.name)) throw new UsageError(`--new-session: NAME must be 1 to 10 ASCII characters, got '${newSession.name}'`);
  }
  const session = get('session');
  if (session !== undefined && !/^[\x20-\x7e]{1,10}$/.test(session)) throw new UsageError(`--session must be 1 to 10 ASCII characters, got '${session}'`);
  const sizeText = get('size');
  const messagesText = get('messages');
  const o: FeedSendOptions = {
    lines,
    sequence,
    count: get('count') === undefined ? DEFAULT_COUNT : parseInteger('--count', get('count') ?? '', 1, Number.MAX_SAFE_INTEGER),
    start: get('start') === undefined ? 1 : parseInteger('--start', get('start') ?? '', 0, Number.MAX_SAFE_INTEGER),
    rate: get('rate') === undefined ? undefined : parsePositiveNumber('--rate', get('rate') ?? ''),
    beginAt: get('begin-at') === undefined ? undefined : parseInteger('--begin-at', get('begin-at') ?? '', 0, Number.MAX_SAFE_INTEGER),
    newSession,
    endOfSession: args.flags.has('end-of-session'),
    serve,
    answer: !args.flags.has('no-answer'),
    heartbeatMs: get('heartbeat') === undefined ? 100 : parsePositiveNumber('--heartbeat', get('heartbeat') ?? ''),
    lingerMs: get('linger') === undefined ? undefined : parsePositiveNumber('--linger', get('linger') ?? '', true) * 1000,
    quiet: args.flags.has('quiet'),
    sender: {
      lines: lines.map((l) => ({
        group: l.group,
        port: l.port,
        family: l.family,
        interface: l.iface.ref,
        ...(l.source !== undefined ? { source: l.source } : {}),
      })),
      sequence,
      ttl: get('ttl') === undefined ? 1 : parseTTL(get('ttl') ?? ''),
      loopback: !args.flags.has('no-loopback'),
      gso: !args.flags.has('no-gso'),
      retain: serve === undefined ? 0 : get('retain') === undefined ? DEFAULT_RETAIN : parseInteger('--retain', get('retain') ?? '', 1, 1 << 26),
      ...(session !== undefined ? { session } : {}),
      ...(get('drop') !== undefined ? { drops: parseDrops(get('drop') ?? '', lines.length) } : {}),
    },
  };
  if (mold) {
    o.sender.messagesPerPacket = messagesText === undefined ? 1 : parseInteger('--messages', messagesText, 1, 0xfffe);
    if (sizeText !== undefined) o.sender.size = parseInteger('--size', sizeText, 8, 0xffff);
  } else {
    const f = sequence as Exclude<SequenceFormat, 'moldudp64'>;
    const max = lines[0]!.family === 4 ? 65507 : 65527;
    o.sender.size = sizeText === undefined ? Math.max(64, f.offset + f.size) : parseInteger('--size', sizeText, f.offset + f.size, max);
    const top = f.size === 4 ? 2 ** 32 - 1 : Number.MAX_SAFE_INTEGER;
    if (o.start + o.count - 1 > top) throw new UsageError(`--start + --count go past ${top}, the largest ${f.size * 8}-bit counter`);
  }
  return o;
}

function perLine(o: FeedSendOptions, sender: FeedSender): string {
  const s = sender.stats();
  return o.lines.map((l, i) => `line ${i} ${hostPort(l.group, l.port)}@${l.iface.info.name}: ${s.items[i]} items, ${s.packets[i]} packets, ${s.dropped[i]} dropped`).join('; ');
}

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const o = options(args);
  const sender = new FeedSender(o.sender);
  let stopped: number | undefined;
  let wake = (): void => {};
  const stopSignals = onStopSignal((signal) => {
    stopped = signalExitCode(signal);
    wake();
  });
  try {
    const format = o.sequence === 'moldudp64' ? `MoldUDP64, ${sender.itemsPerPacket} message(s) per packet, session ${sender.session.trim()}` : (args.values.get('sequence') ?? '');
    println(io.stderr, `sending ${o.count} items from ${o.start} on ${o.lines.length} line(s) (${format}): ${o.lines.map((l) => l.text).join(', ')}`);
    if (o.serve !== undefined) {
      const port = sender.serve(o.serve, { answer: o.answer });
      println(io.stderr, `serving re-requests on port ${port}${o.answer ? '' : ' (never answering: --no-answer)'}`);
    }
    if (o.beginAt !== undefined && o.beginAt > Date.now()) await sleep(o.beginAt - Date.now());
    const pacer = new Pacer();
    const startNs = monotonicNs();
    // Deadlines are absolute (no drift); the wait sleeps on a timer without the Pacer's final
    // spin (a sender paced at 1 ms bursts would spin all the time), and a late wake-up sends the
    // items due by then in the next bursts. The Pacer keeps the lateness for the summary.
    const pace =
      o.rate === undefined
        ? undefined
        : async (sent: number): Promise<void> => {
            const deadline = startNs + (sent / (o.rate ?? 1)) * 1e9;
            const early = deadline - monotonicNs();
            if (early > 0) await sleep(early / 1e6);
            pacer.record(monotonicNs() - deadline);
          };
    // A paced burst holds about a millisecond of items (at least one packet, at most 64).
    const burstPackets = o.rate === undefined ? 64 : Math.ceil(o.rate / 1000 / sender.itemsPerPacket);
    let sent = 0;
    const sendRun = async (first: number, count: number): Promise<void> => {
      // One call per 4096 items, so that Ctrl-C stops a long run promptly.
      for (let done = 0; done < count && stopped === undefined; done += 4096) {
        const n = Math.min(4096, count - done);
        const base = sent;
        await sender.send(first + done, n, pace === undefined ? undefined : (k) => pace(base + k), burstPackets);
        sent += n;
      }
    };
    sender.nextSequence = o.start;
    if (o.newSession !== undefined && o.newSession.after < o.start + o.count - 1 && o.newSession.after >= o.start) {
      const firstPart = o.newSession.after - o.start + 1;
      await sendRun(o.start, firstPart);
      sender.endSession();
      sender.newSession(o.newSession.name);
      if (!o.quiet) println(io.stderr, `session ${o.newSession.name} from 1 after item ${o.newSession.after}`);
      await sendRun(1, o.count - firstPart);
    } else await sendRun(o.start, o.count);
    if (o.endOfSession && stopped === undefined) sender.endSession();
    const seconds = (monotonicNs() - startNs) / 1e9;
    const late = o.rate === undefined ? '' : ` (bursts late by p50 ${(pacer.report().p50Ns / 1000).toFixed(0)} µs, p99 ${(pacer.report().p99Ns / 1000).toFixed(0)} µs)`;
    println(io.stderr, `sent ${sent} items in ${seconds.toFixed(3)} s${late}: ${perLine(o, sender)}`);
    const lingerMs = o.lingerMs ?? (o.serve !== undefined ? Infinity : 0);
    if (lingerMs > 0 && stopped === undefined) {
      await new Promise<void>((resolve) => {
        const heartbeat = o.sequence === 'moldudp64' ? setInterval(() => sender.heartbeat(), o.heartbeatMs) : undefined;
        const done = Number.isFinite(lingerMs) ? setTimeout(() => wake(), lingerMs) : undefined;
        wake = () => {
          if (heartbeat !== undefined) clearInterval(heartbeat);
          if (done !== undefined) clearTimeout(done);
          resolve();
        };
      });
    }
    if (o.serve !== undefined) {
      const s = sender.stats();
      println(io.stderr, `re-requests: ${s.requests} received, ${s.answered} answered (${s.resent} messages), ${s.unanswered} not answered`);
    }
    return stopped ?? EXIT.OK;
  } finally {
    stopSignals();
    sender.close();
  }
}

export const feedSendCommand: Command = { spec, run };
