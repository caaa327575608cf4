/**
 * `mcast send GROUP PORT [MESSAGE]`: sends MESSAGE --count times, or each stdin line, paced by
 * --rate / --interval, and says on stderr where it sends and what it sent.
 */
import { createInterface } from 'node:readline';

import { createSocket, type Family, type Socket, type SocketOptions } from '../index';
import { type CommandSpec, EXIT, type ParsedArgs, UsageError } from './args';
import { renderPayload } from './format';
import { type Command, type Io, onStopSignal, println, signalExitCode, sleep } from './io';
import { interfaceInUse } from './route';
import {
  type ChosenInterface,
  type Group,
  GROUP_ARG,
  hostPort,
  loopbackIPv6Warning,
  MAX_PAYLOAD,
  parseGroup,
  parseInteger,
  parseInterface,
  parsePort,
  parsePositiveNumber,
  PORT_ARG,
  parseTTL,
  requireInterfaceForScope,
} from './values';

/** Pause between repeats of one MESSAGE when neither --rate nor --interval is given (like ping). */
const DEFAULT_REPEAT_INTERVAL_MS = 1000;
const PAD = 0x2e; // '.'
/**
 * Most repeats of MESSAGE one wake-up sends as one sendAll: equal datagrams, so one UDP_SEGMENT
 * message (GSO) where the kernel has it. Segments leave back to back: this caps the burst.
 */
const MAX_BURST = 64;

const spec: CommandSpec = {
  name: 'send',
  summary: 'Sends MESSAGE to GROUP:PORT, or each line of stdin as one datagram when MESSAGE is absent.',
  positionals: [
    GROUP_ARG,
    PORT_ARG,
    { name: 'MESSAGE', required: false, help: 'the payload (UTF-8); without it, stdin is read line by line' },
  ],
  options: [
    { name: 'iface', short: 'i', value: 'NAME|ADDR|INDEX', help: 'outgoing interface (IP_MULTICAST_IF); without it the kernel routes GROUP, and says where' },
    { name: 'ttl', value: 'N', help: 'IP TTL / hop limit, 0 to 255 (default 1: this link only; 0: this host only)' },
    { name: 'no-loopback', help: "this host's own receivers do not get the datagrams (IP_MULTICAST_LOOP off)" },
    { name: 'count', short: 'c', value: 'N', help: 'send each datagram N times (default 1)' },
    { name: 'rate', short: 'r', value: 'PPS', help: 'at most PPS datagrams per second' },
    { name: 'interval', value: 'MS', help: 'milliseconds between datagrams (0: as fast as possible)' },
    { name: 'size', value: 'BYTES', help: "pad each datagram with '.' or cut it to BYTES bytes" },
    { name: 'quiet', short: 'q', help: 'no line per datagram on stderr, only the summary' },
  ],
  notes: [
    `Pacing: repeats of MESSAGE (--count > 1) go out one every ${DEFAULT_REPEAT_INTERVAL_MS} ms unless --rate or --interval\n` +
      'says otherwise; stdin lines go out as they come unless --rate or --interval is given.',
    `Repeats due at one timer wake-up (about 1 ms of --rate, at most ${MAX_BURST}) leave as one batch: one UDP_SEGMENT\n` +
      'message (segmentation offload), whose datagrams go out back to back. Pacing keeps such bursts small:\n' +
      `--rate 10000 sends bursts of about 10; --interval 0 sends bursts of ${MAX_BURST}.`,
    'stderr gets where the datagrams go (interface, TTL, loopback), one line per datagram sent and a summary.',
  ],
  examples: [
    'mcast send 239.1.2.3 5000 "hello" --iface eth1',
    'mcast send 239.1.2.3 5000 "tick" --iface 10.0.0.1 --ttl 4 --count 100 --rate 10',
    'seq 5 | mcast send 239.1.2.3 5000 --iface lo --ttl 0',
  ],
};

interface SendOptions {
  group: Group;
  port: number;
  message: string | undefined;
  iface: ChosenInterface | undefined;
  ttl: number | undefined;
  loopback: boolean;
  count: number;
  /** Pause between datagrams; undefined = none given. */
  intervalMs: number | undefined;
  size: number | undefined;
  quiet: boolean;
}

function options(args: ParsedArgs): SendOptions {
  const [groupText = '', portText = '', message] = args.positionals;
  const group = parseGroup(groupText);
  const family: Family = group.family;
  const flagIface = args.values.get('iface');
  if (flagIface !== undefined && group.zone !== undefined && flagIface !== group.zone) {
    throw new UsageError(`GROUP names interface '${group.zone}' but --iface says '${flagIface}': give it once`);
  }
  const ifaceText = flagIface ?? group.zone;
  requireInterfaceForScope(group, ifaceText);
  const get = (name: string): string | undefined => args.values.get(name);
  const rate = get('rate');
  const interval = get('interval');
  if (rate !== undefined && interval !== undefined) throw new UsageError('give --rate or --interval, not both');
  const sizeText = get('size');
  const o: SendOptions = {
    group,
    port: parsePort(portText),
    message,
    iface: ifaceText === undefined ? undefined : parseInterface('--iface', ifaceText, family),
    ttl: get('ttl') === undefined ? undefined : parseTTL(get('ttl') ?? ''),
    loopback: !args.flags.has('no-loopback'),
    count: get('count') === undefined ? 1 : parseInteger('--count', get('count') ?? '', 1, Number.MAX_SAFE_INTEGER),
    intervalMs:
      rate !== undefined
        ? 1000 / parsePositiveNumber('--rate', rate)
        : interval !== undefined
          ? parsePositiveNumber('--interval', interval, true)
          : undefined,
    size: sizeText === undefined ? undefined : parseInteger('--size', sizeText, 0, MAX_PAYLOAD[family]),
    quiet: args.flags.has('quiet'),
  };
  if (message !== undefined) checkPayloadSize(Buffer.byteLength(message), o, 'MESSAGE');
  return o;
}

function checkPayloadSize(bytes: number, o: SendOptions, what: string): void {
  const max = MAX_PAYLOAD[o.group.family];
  if (o.size === undefined && bytes > max) {
    throw new UsageError(`${what} is ${bytes} bytes, more than the largest IPv${o.group.family} UDP datagram (${max} bytes); use --size to cut it`);
  }
}

/** The payload of a message: its UTF-8 bytes, padded with '.' or cut to --size. */
function payload(text: string, size: number | undefined): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (size === undefined || size === bytes.length) return bytes;
  if (size < bytes.length) return bytes.subarray(0, size);
  const padded = Buffer.alloc(size, PAD);
  bytes.copy(padded);
  return padded;
}

/**
 * Releases repeats of one datagram `intervalMs` apart on average, as many at each wake-up as are
 * due by then (at least one, at most MAX_BURST), so that a fast rate needs no sub-millisecond
 * timers and its repeats can leave together.
 */
class BurstPacer {
  #start = -1;
  #released = 0;
  constructor(private readonly intervalMs: number) {}

  /** Waits until a repeat is due; returns how many may go now (at most `remaining`). */
  async next(remaining: number): Promise<number> {
    const limit = Math.min(remaining, MAX_BURST);
    if (this.intervalMs <= 0) return limit;
    let now = performance.now();
    if (this.#start < 0) this.#start = now;
    const nextDue = this.#start + this.#released * this.intervalMs;
    if (nextDue > now) {
      await sleep(nextDue - now);
      now = performance.now();
    }
    const due = Math.floor((now - this.#start) / this.intervalMs) + 1 - this.#released;
    const n = Math.max(1, Math.min(due, limit));
    this.#released += n;
    return n;
  }
}

/** Spaces datagrams `intervalMs` apart, catching up after short delays (timers are coarse). */
class Pacer {
  #next = -1;
  constructor(private readonly intervalMs: number) {}

  async wait(): Promise<void> {
    if (this.intervalMs <= 0) return;
    const now = performance.now();
    // After a long idle time (stdin was quiet), start afresh instead of bursting to catch up.
    if (this.#next < 0 || now - this.#next > 1000) this.#next = now;
    if (this.#next > now) await sleep(this.#next - now);
    this.#next += this.intervalMs;
  }
}

async function sendOne(socket: Socket, data: Buffer, o: SendOptions): Promise<void> {
  while (!socket.send(data, o.group.address, o.port)) await socket.writable();
}

function describeSettings(socket: Socket, o: SendOptions, via: string): string {
  const ttl = o.ttl === undefined ? 'TTL 1 (default)' : `TTL ${o.ttl}`;
  const loop = o.loopback ? 'loopback on' : 'loopback off';
  return `sending to ${hostPort(o.group.address, o.port)} via ${via} from port ${socket.address().port}, ${ttl}, ${loop}`;
}

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const o = options(args);
  const warning = loopbackIPv6Warning(o.group, o.iface);
  if (warning !== undefined) println(io.stderr, warning);
  const via = await interfaceInUse(o.group.address, o.group.family, o.iface, 'send', (line) => println(io.stderr, line));
  const socketOptions: SocketOptions = { family: o.group.family };
  if (o.ttl !== undefined) socketOptions.ttl = o.ttl;
  if (!o.loopback) socketOptions.loopback = false;
  if (o.iface !== undefined) socketOptions.interface = o.iface.ref;
  const socket = createSocket(socketOptions);
  try {
    println(io.stderr, describeSettings(socket, o, via));
    return await sendAll(socket, o, io);
  } finally {
    socket.close();
  }
}

async function sendAll(socket: Socket, o: SendOptions, io: Io): Promise<number> {
  let stopped: number | undefined;
  let closeInput = (): void => {};
  const stopSignals = onStopSignal((signal) => {
    stopped = signalExitCode(signal);
    closeInput();
  });
  let sent = 0;
  let bytes = 0;
  const started = performance.now();
  const report = (data: Buffer, times: number): void => {
    sent += times;
    bytes += data.length * times;
    if (o.quiet) return;
    const shown = renderPayload(data, false);
    const line = `sent ${data.length} bytes${shown.encoding === 'hex' ? ' (hex)' : ''}: ${shown.data}`;
    for (let i = 0; i < times; i++) println(io.stderr, line);
  };
  const send = async (data: Buffer, pacer: Pacer): Promise<void> => {
    for (let i = 0; i < o.count && stopped === undefined; i++) {
      await pacer.wait();
      if (stopped !== undefined) break;
      await sendOne(socket, data, o);
      report(data, 1);
    }
  };
  // Repeats of MESSAGE: each burst of due repeats is one sendAll (one UDP_SEGMENT message).
  const repeat = async (data: Buffer, pacer: BurstPacer): Promise<void> => {
    const burst = new Array<Buffer>(MAX_BURST).fill(data);
    while (sent < o.count && stopped === undefined) {
      const n = await pacer.next(o.count - sent);
      if (stopped !== undefined) break;
      await socket.sendAll(n === MAX_BURST ? burst : burst.slice(0, n), o.group.address, o.port);
      report(data, n);
    }
  };
  try {
    if (o.message !== undefined) {
      await repeat(payload(o.message, o.size), new BurstPacer(o.intervalMs ?? (o.count > 1 ? DEFAULT_REPEAT_INTERVAL_MS : 0)));
    } else {
      if (io.stdin.isTTY === true) println(io.stderr, 'reading datagrams from stdin, one per line (Ctrl-D to end)');
      const pacer = new Pacer(o.intervalMs ?? 0);
      const lines = createInterface({ input: io.stdin, crlfDelay: Infinity });
      closeInput = () => lines.close();
      for await (const line of lines) {
        checkPayloadSize(Buffer.byteLength(line), o, 'a stdin line');
        await send(payload(line, o.size), pacer);
        if (stopped !== undefined) break;
      }
      lines.close();
    }
  } finally {
    stopSignals();
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(3);
  const segmented = socket.stats().segmentedSends;
  const how = segmented > 0 ? `, ${segmented} UDP_SEGMENT message${segmented === 1 ? '' : 's'}` : '';
  println(io.stderr, `sent ${sent} datagram${sent === 1 ? '' : 's'} (${bytes} bytes${how}) to ${hostPort(o.group.address, o.port)} in ${seconds} s`);
  return stopped ?? EXIT.OK;
}

export const sendCommand: Command = { spec, run };
