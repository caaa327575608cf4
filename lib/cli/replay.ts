/**
 * `mcast replay FILE --iface IF`: sends the UDP datagrams of a pcap or pcapng file to their
 * groups on one interface, at the file's pace (scaled by --speed), at a fixed --rate, or as fast
 * as the socket takes them (--top-speed), and reports what it sent, what it skipped and how late
 * each send was against the schedule (p50, p99, max).
 */
import { createSocket, readCapture, type CaptureBatch, type CaptureSkips, type Family, type Socket } from '../index';
import { isMulticast } from '../address';
import { type CommandSpec, EXIT, type ParsedArgs, UsageError } from './args';
import { type Command, type Io, onStopSignal, println, signalExitCode } from './io';
import { monotonicNs, Pacer, type TimingReport } from './pacer';
import {
  type ChosenInterface,
  type Endpoint,
  hostPort,
  parseEndpoint,
  parseInteger,
  parseInterface,
  parseList,
  parsePositiveNumber,
  parseTTL,
} from './values';

/** Datagrams per sendBatch at --top-speed (runs of one size leave as UDP_SEGMENT messages). */
const TOP_SPEED_BATCH = 256;
/** The top-speed gather's buffer while nothing is gathered. */
const EMPTY: Buffer = Buffer.alloc(0);

const spec: CommandSpec = {
  name: 'replay',
  summary: 'Sends the UDP datagrams of a pcap or pcapng file to their groups on one interface, at the original pace.',
  positionals: [{ name: 'FILE', required: true, help: 'pcap (µs or ns, either byte order) or pcapng, as tcpdump, tshark, Wireshark and mcast record write them' }],
  options: [
    { name: 'iface', short: 'i', value: 'NAME|ADDR|INDEX', help: 'outgoing interface (IP_MULTICAST_IF; required)' },
    { name: 'ttl', value: 'N', help: 'IP TTL / hop limit, 0 to 255 (default 1)' },
    { name: 'speed', value: 'X', help: 'play X times as fast as recorded (default 1; 0.5 is half speed)' },
    { name: 'rate', short: 'r', value: 'PPS', help: 'ignore the file times: PPS datagrams per second' },
    { name: 'top-speed', help: 'ignore the file times: send in batches as fast as the socket takes them' },
    { name: 'map', value: 'LIST', help: 'FROM=TO,...: send datagrams for FROM (ADDR[:PORT]) to TO (GROUP[:PORT]); also maps unicast' },
    { name: 'filter', value: 'LIST', help: 'only datagrams to these GROUP[:PORT],... (before --map)' },
    { name: 'loop', value: 'N', help: 'play the file N times (0: until Ctrl-C; default 1)' },
    { name: 'no-loopback', help: "this host's own receivers do not get the datagrams (IP_MULTICAST_LOOP off)" },
    { name: 'json', help: 'the report as one JSON object on stdout' },
  ],
  notes: [
    'Link types: Ethernet (802.1Q tags too), Linux cooked v1 and v2, raw IP. IPv4 and IPv6 UDP datagrams\n' +
      'to multicast groups are sent (unicast ones only through --map); other traffic, IP fragments and\n' +
      'datagrams the capture cut short are skipped and counted.',
    'Pacing works against absolute deadlines from the first datagram (sleep to 200 µs before each one, then\n' +
      'spin), so the schedule does not drift. The report on stderr gives how late the sends were: p50, p99, max.',
  ],
  examples: [
    'mcast replay session.pcapng --iface eth1',
    'mcast replay capture.pcap --iface eth1 --speed 2 --map 239.1.1.1:5000=239.9.9.9:6000 --ttl 4',
    'mcast replay feed.pcapng --iface 3 --top-speed --loop 10',
  ],
};

interface MapRule {
  from: Endpoint;
  to: Endpoint;
}

type Pace = { kind: 'speed'; speed: number } | { kind: 'rate'; intervalNs: number } | { kind: 'top' };

interface ReplayOptions {
  file: string;
  ifaceText: string;
  ttl: number;
  pace: Pace;
  maps: MapRule[];
  filters: Endpoint[];
  loops: number;
  loopback: boolean;
  json: boolean;
}

function options(args: ParsedArgs): ReplayOptions {
  const [file = ''] = args.positionals;
  const ifaceText = args.values.get('iface');
  if (ifaceText === undefined) throw new UsageError('--iface is required');
  const given = ['speed', 'rate', 'top-speed'].filter((n) => args.values.has(n) || args.flags.has(n));
  if (given.length > 1) throw new UsageError(`give one of --speed, --rate and --top-speed, not ${given.map((g) => `--${g}`).join(' and ')}`);
  const speedText = args.values.get('speed');
  const rateText = args.values.get('rate');
  let pace: Pace = { kind: 'speed', speed: speedText === undefined ? 1 : parsePositiveNumber('--speed', speedText) };
  if (rateText !== undefined) pace = { kind: 'rate', intervalNs: 1e9 / parsePositiveNumber('--rate', rateText) };
  if (args.flags.has('top-speed')) pace = { kind: 'top' };
  const mapText = args.values.get('map');
  const maps = mapText === undefined ? [] : parseList('--map', mapText, parseMapRule);
  const filterText = args.values.get('filter');
  const ttlText = args.values.get('ttl');
  const loopText = args.values.get('loop');
  return {
    file,
    ifaceText,
    ttl: ttlText === undefined ? 1 : parseTTL(ttlText),
    pace,
    maps,
    filters: filterText === undefined ? [] : parseList('--filter', filterText, (t) => parseEndpoint('--filter', t)),
    loops: loopText === undefined ? 1 : parseInteger('--loop', loopText, 0, Number.MAX_SAFE_INTEGER),
    loopback: !args.flags.has('no-loopback'),
    json: args.flags.has('json'),
  };
}

function parseMapRule(text: string): MapRule {
  const eq = text.indexOf('=');
  if (eq < 0) throw new UsageError(`--map: expected FROM=TO (ADDR[:PORT]=GROUP[:PORT]), got '${text}'`);
  const from = parseEndpoint('--map', text.slice(0, eq));
  const to = parseEndpoint('--map', text.slice(eq + 1));
  if (!isMulticast(to.address, to.family)) throw new UsageError(`--map: ${to.address} is not a multicast group (the TO side must be one)`);
  return { from, to };
}

function matches(e: Endpoint, address: string, port: number): boolean {
  return e.address.toLowerCase() === address && (e.port === undefined || e.port === port);
}

/** Where a run of datagrams goes: one object per destination, compared by identity. */
interface Target {
  socket: Socket;
  address: string;
  port: number;
}

/** A Target, or why datagrams to a destination are skipped. */
type Route = Target | 'filtered' | 'unicast';

/** What replay counts beside the reader's own skips. */
interface ReplaySkips {
  /** Datagrams to unicast addresses that no --map sends anywhere. */
  unicast: number;
  /** Datagrams whose payload the capture cut (sending part of a datagram would be a lie). */
  truncated: number;
  /** Datagrams not matched by --filter. */
  filtered: number;
}

/** The report of a run (what --json prints). */
export interface ReplayReport {
  file: string;
  loops: number;
  sent: number;
  bytes: number;
  seconds: number;
  /** Datagrams sent per destination `GROUP:PORT`. */
  destinations: Record<string, number>;
  skipped: CaptureSkips & ReplaySkips;
  /** How late sends were against the schedule; absent with --top-speed. */
  timing?: TimingReport;
}

class Replayer {
  readonly sockets = new Map<Family, Socket>();
  readonly interfaces = new Map<Family, ChosenInterface>();
  readonly pacer = new Pacer();
  readonly skipped: ReplaySkips = { unicast: 0, truncated: 0, filtered: 0 };
  readerSkips: CaptureSkips | undefined;
  readonly destinations = new Map<string, number>();
  sent = 0;
  bytes = 0;
  stopped = false;
  /** --top-speed's batch: datagrams of one block of the file, to one destination. */
  readonly #gather = { bytes: EMPTY, offsets: new Uint32Array(TOP_SPEED_BATCH), lengths: new Uint32Array(TOP_SPEED_BATCH), count: 0 };
  #pendingTo: Target | undefined;
  #pendingBytes = 0;

  constructor(private readonly o: ReplayOptions) {}

  socket(family: Family): Socket {
    let socket = this.sockets.get(family);
    if (socket === undefined) {
      const iface = parseInterface('--iface', this.o.ifaceText, family);
      this.interfaces.set(family, iface);
      socket = createSocket({ family, ttl: this.o.ttl, interface: iface.ref, loopback: this.o.loopback });
      this.sockets.set(family, socket);
    }
    return socket;
  }

  /**
   * Where datagrams to `address`:`port` go (after --filter and --map), or why they are skipped.
   * It depends on the destination only: a run of datagrams to one destination shares it.
   */
  route(family: Family, address: string, port: number): Route {
    const o = this.o;
    if (o.filters.length > 0 && !o.filters.some((f) => matches(f, address, port))) return 'filtered';
    const rule = o.maps.find((m) => matches(m.from, address, port));
    if (rule !== undefined) return this.#target(rule.to.family, rule.to.address, rule.to.port ?? port);
    if (!isMulticast(address, family)) return 'unicast';
    return this.#target(family, address, port);
  }

  #target(family: Family, address: string, port: number): Target {
    return { socket: this.socket(family), address, port };
  }

  #count(address: string, port: number, n: number, bytes: number): void {
    const key = hostPort(address, port);
    this.destinations.set(key, (this.destinations.get(key) ?? 0) + n);
    this.sent += n;
    this.bytes += bytes;
  }

  async sendOne(socket: Socket, payload: Uint8Array, address: string, port: number): Promise<void> {
    while (!socket.send(payload, address, port)) await socket.writable();
    this.#count(address, port, 1, payload.length);
  }

  /**
   * --top-speed: datagrams to one destination are gathered where they lie, in the block the
   * reader read (offsets and lengths, no view and no copy per datagram), and sent with
   * sendBatch's gather form (runs of one size as UDP_SEGMENT messages). Returns true when the
   * caller must await flush() first: the batch is full, or the destination or the block changes.
   */
  mustFlush(to: Target, batch: CaptureBatch, i: number): boolean {
    const pending = this.#pendingTo;
    if (pending === undefined) return false;
    return this.#gather.count >= TOP_SPEED_BATCH || pending !== to || batch.block(i) !== this.#gather.bytes;
  }

  /** Adds datagram i of the batch (after mustFlush() said no, or flush()). */
  queue(to: Target, batch: CaptureBatch, i: number): void {
    const g = this.#gather;
    if (this.#pendingTo === undefined) {
      this.#pendingTo = to;
      g.bytes = batch.block(i);
    }
    const length = batch.capturedLength(i);
    g.offsets[g.count] = batch.payloadStart(i);
    g.lengths[g.count] = length;
    g.count++;
    this.#pendingBytes += length;
  }

  /** Sends the gathered datagrams (waiting for the socket only when its queue is full). */
  async flush(): Promise<void> {
    const to = this.#pendingTo;
    this.#pendingTo = undefined;
    const g = this.#gather;
    const count = g.count;
    if (to === undefined || count === 0) return;
    const sent = to.socket.sendBatch(g, to.address, to.port);
    if (sent < count) {
      await to.socket.sendAll({ bytes: g.bytes, offsets: g.offsets.subarray(sent, count), lengths: g.lengths.subarray(sent, count) }, to.address, to.port);
    }
    this.#count(to.address, to.port, count, this.#pendingBytes);
    this.#pendingBytes = 0;
    g.count = 0;
    g.bytes = EMPTY; // the block is not kept past its batch
  }

  /**
   * Plays the file once, batch by batch from the reader (no object or string per datagram; the
   * route is decided once per run of datagrams to one destination). The schedule starts when
   * the first datagram to send is ready (its socket made): deadlines are that moment plus each
   * datagram's offset in the file.
   */
  async playOnce(): Promise<void> {
    const reader = readCapture(this.o.file);
    const clock = { first: undefined as bigint | undefined, startNs: 0, index: 0 };
    this.#route = undefined;
    const top = this.o.pace.kind === 'top';
    try {
      for await (const batch of reader.batches()) {
        if (this.stopped) break;
        if (top) {
          // Queued in a plain function up to the next flush (V8 optimizes an async function's
          // loop only on its next call: a file played once would run it unoptimized).
          for (let i = this.#queueRun(batch, 0); i < batch.count; i = this.#queueRun(batch, i)) await this.flush();
          continue;
        }
        for (let i = 0; i < batch.count; i++) {
          const route = this.#routeOf(batch, i);
          if (route !== undefined) {
            await this.#paced(batch, i, route, clock);
            if (this.stopped) break;
          }
        }
      }
      await this.flush();
    } finally {
      this.readerSkips ??= reader.skipped;
    }
  }

  /** The route of the run of datagrams the batch's datagram i is in. */
  #route: Route | undefined;

  /** Where datagram i of the batch goes, or undefined when it is skipped (and counted). */
  #routeOf(batch: CaptureBatch, i: number): Target | undefined {
    let route = this.#route;
    if (route === undefined || !batch.sameDestination(i)) {
      route = this.route(batch.family(i), batch.destination(i), batch.destinationPort(i));
      this.#route = route;
    }
    if (route === 'filtered') {
      this.skipped.filtered++;
    } else if (batch.truncated(i)) {
      this.skipped.truncated++; // sending part of a datagram would be a lie
    } else if (route === 'unicast') {
      this.skipped.unicast++;
    } else {
      return route;
    }
    return undefined;
  }

  /**
   * --top-speed: queues the batch's datagrams from i on until one needs a flush first (its
   * index is returned: the caller awaits flush(), then goes on from it) or the batch ends.
   */
  #queueRun(batch: CaptureBatch, i: number): number {
    const count = batch.count;
    for (; i < count; i++) {
      const route = this.#routeOf(batch, i);
      if (route === undefined) continue;
      if (this.mustFlush(route, batch, i)) return i;
      this.queue(route, batch, i);
    }
    return count;
  }

  /**
   * Sends datagram i at its deadline: the schedule's start (taken when the first datagram is
   * ready) plus its offset in the file. Lateness is the clock when the send starts against the
   * deadline (where the pacer's spin ends).
   */
  async #paced(batch: CaptureBatch, i: number, to: Target, clock: { first: bigint | undefined; startNs: number; index: number }): Promise<void> {
    const pace = this.o.pace;
    const timestamp = batch.timestamp(i);
    if (clock.first === undefined) {
      clock.first = timestamp;
      warmSendPath(to, batch.bytes(i));
      await this.pacer.waitUntil(monotonicNs()); // its first call too (timer slack, native wait)
      clock.startNs = monotonicNs();
    }
    const offset = pace.kind === 'speed' ? Number(timestamp - clock.first) / pace.speed : pace.kind === 'rate' ? clock.index * pace.intervalNs : 0;
    clock.index++;
    const deadline = clock.startNs + offset;
    const started = await this.pacer.waitUntil(deadline);
    this.pacer.record(started - deadline);
    await this.sendOne(to.socket, batch.bytes(i), to.address, to.port);
  }

  close(): void {
    for (const s of this.sockets.values()) s.close();
  }
}

/**
 * Runs the checks of a send to `to` once before the schedule starts, with a port that they
 * refuse (-1), so nothing is sent. The first call of each of them compiles it and costs about
 * 0.3 ms here: in the first datagram's send, that made it late against all the others, and
 * the end time of a replay drifted by about −0.4 ms (the first arrival late, not the last one
 * early). With this, the first send is as fast as the rest to within about 0.1 ms.
 */
function warmSendPath(to: Target, payload: Uint8Array): void {
  try {
    to.socket.send(payload, to.address, -1);
  } catch {
    // ERR_OUT_OF_RANGE, as intended
  }
}

function skipText(s: CaptureSkips & ReplaySkips): string {
  const names: Array<[keyof (CaptureSkips & ReplaySkips), string]> = [
    ['nonIp', 'not IP'],
    ['nonUdp', 'not UDP'],
    ['fragments', 'IP fragments'],
    ['unicast', 'unicast (no --map)'],
    ['truncated', 'cut by the capture'],
    ['filtered', 'not in --filter'],
    ['shortFrames', 'frames cut inside their headers'],
    ['unsupportedLinkType', 'of an unsupported link type'],
    ['unknownBlocks', 'unknown pcapng blocks'],
    ['simplePackets', 'simple packet blocks (no time)'],
  ];
  const parts = names.filter(([k]) => s[k] > 0).map(([k, label]) => `${s[k]} ${label}`);
  return parts.length === 0 ? 'nothing skipped' : `skipped ${parts.join(', ')}`;
}

function micros(ns: number): string {
  return `${(ns / 1000).toFixed(1)} µs`;
}

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const o = options(args);
  const replayer = new Replayer(o);
  let signalCode: number | undefined;
  const stopSignals = onStopSignal((signal) => {
    signalCode = signalExitCode(signal);
    replayer.stopped = true;
  });
  const started = monotonicNs();
  let failure: unknown;
  let loops = 0;
  try {
    for (; (o.loops === 0 || loops < o.loops) && !replayer.stopped; loops++) {
      await replayer.playOnce();
    }
  } catch (error) {
    failure = error;
  } finally {
    stopSignals();
    replayer.close();
  }
  const seconds = (monotonicNs() - started) / 1e9;
  const skipped = { ...(replayer.readerSkips ?? emptySkips()), ...replayer.skipped };
  const report: ReplayReport = {
    file: o.file,
    loops,
    sent: replayer.sent,
    bytes: replayer.bytes,
    seconds,
    destinations: Object.fromEntries(replayer.destinations),
    skipped,
    ...(o.pace.kind === 'top' ? {} : { timing: replayer.pacer.report() }),
  };
  if (failure !== undefined && replayer.sent === 0 && loops === 0) throw failure;
  const via = [...replayer.interfaces.values()].map((i) => i.info.name)[0] ?? o.ifaceText;
  println(
    io.stderr,
    `sent ${report.sent} datagram${report.sent === 1 ? '' : 's'} (${report.bytes} bytes) to ${Object.keys(report.destinations).join(', ') || 'nowhere'} via ${via} in ${seconds.toFixed(3)} s; ${skipText(skipped)}`,
  );
  if (report.timing !== undefined && report.timing.count > 0) {
    const t = report.timing;
    println(io.stderr, `timing error against the file's schedule: p50 ${micros(t.p50Ns)}, p99 ${micros(t.p99Ns)}, max ${micros(t.maxNs)} (${t.count} datagrams)`);
  }
  if (o.json) println(io.stdout, JSON.stringify(report));
  if (failure !== undefined) throw failure;
  return signalCode ?? EXIT.OK;
}

function emptySkips(): CaptureSkips {
  return { nonIp: 0, nonUdp: 0, fragments: 0, unsupportedLinkType: 0, shortFrames: 0, unknownBlocks: 0, simplePackets: 0 };
}

export const replayCommand: Command = { spec, run };
