/**
 * `mcast record GROUP PORT --iface IF --out FILE`: joins one or more groups on one interface and
 * writes every datagram to a pcapng (or, for a `.pcap` name, classic pcap) file with the kernel's
 * receive time, until --count datagrams, --duration seconds, --timeout (exit 1) or Ctrl-C. The
 * file is complete in every case: on Ctrl-C the statistics block is written and the buffer flushed.
 */
import { extname } from 'node:path';

import { CaptureWriter, createSocket, listInterfaces, type Family, type Socket } from '../index';
import { HEADER_BYTES } from '../pcap/frame';
import { type CommandSpec, EXIT, type ParsedArgs, UsageError } from './args';
import { type Command, type Io, onStopSignal, println, signalExitCode } from './io';
import {
  type ChosenInterface,
  type Group,
  hostPort,
  loopbackIPv6Warning,
  parseGroupPort,
  parseInteger,
  parseInterface,
  parseList,
  parsePort,
  parsePositiveNumber,
  parseSource,
} from './values';

const spec: CommandSpec = {
  name: 'record',
  summary: 'Joins GROUP (and --group ones) on one interface and writes every datagram to a pcapng or pcap file.',
  positionals: [
    { name: 'GROUP', required: true, help: 'multicast group: 239.1.2.3, ff1e::1234' },
    { name: 'PORT', required: true, help: 'UDP port, 1 to 65535' },
  ],
  options: [
    { name: 'iface', short: 'i', value: 'NAME|ADDR|INDEX', help: 'interface to join on (required)' },
    { name: 'out', short: 'o', value: 'FILE', help: 'the capture file: pcapng, or classic pcap (ns) for a .pcap name (required)' },
    { name: 'group', short: 'g', value: 'LIST', help: 'more groups in the same file, GROUP[:PORT],... (IPv6 with a port: [ff1e::1]:5000)' },
    { name: 'source', short: 's', value: 'ADDR', help: 'source-specific joins (SSM): record only what ADDR sends' },
    { name: 'count', short: 'c', value: 'N', help: 'stop after N datagrams (exit 0)' },
    { name: 'duration', short: 'd', value: 'SECONDS', help: 'stop after SECONDS (exit 0)' },
    { name: 'timeout', short: 't', value: 'SECONDS', help: 'exit 1 if --count datagrams (without --count: any) have not arrived by then' },
    { name: 'snaplen', value: 'BYTES', help: `bytes kept of each frame, headers included (default 262144; at least ${HEADER_BYTES[6]})` },
    { name: 'rotate-size', value: 'BYTES', help: 'start a new file once this one has BYTES bytes' },
    { name: 'rotate-seconds', value: 'SECONDS', help: 'start a new file every SECONDS' },
    { name: 'recv-buffer', value: 'BYTES', help: 'SO_RCVBUF of the receiving socket(s) (a larger one absorbs bursts)' },
    { name: 'quiet', short: 'q', help: 'no progress line on stderr, only the summary' },
  ],
  notes: [
    'Each datagram becomes one Enhanced Packet Block (pcapng) or record (pcap) with the kernel receive\n' +
      'time (SO_TIMESTAMPNS) and synthetic Ethernet/IP/UDP headers that carry the real source, group,\n' +
      'ports and TTL, with valid checksums. pcapng files end with an Interface Statistics Block that\n' +
      'holds the kernel drops (isb_ifdrop, isb_osdrop) and a comment with the truncations.',
    'With --rotate-size or --rotate-seconds the files are FILE-0001.EXT, FILE-0002.EXT, ..., each complete;\n' +
      'a file is closed after the batch that reaches the size.',
    'stderr gets a progress line every second (datagrams, bytes, drops, rate) and a summary. Ctrl-C\n' +
      'finishes the file and exits 130.',
  ],
  examples: [
    'mcast record 239.1.2.3 5000 --iface eth1 --out session.pcapng',
    'mcast record 239.1.2.3 5000 --iface eth1 --group 239.1.2.4,239.1.2.5:5001 --out feed.pcap --duration 60',
  ],
};

type RecordGroup = Group & { port: number };

interface RecordOptions {
  groups: RecordGroup[];
  iface: ChosenInterface;
  out: string;
  source: string | undefined;
  count: number | undefined;
  durationMs: number | undefined;
  timeoutMs: number | undefined;
  snaplen: number | undefined;
  rotateBytes: number | undefined;
  rotateMs: number | undefined;
  recvBuffer: number | undefined;
  quiet: boolean;
}

function required(args: ParsedArgs, name: string): string {
  const value = args.values.get(name);
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

function options(args: ParsedArgs): RecordOptions {
  const [groupText = '', portText = ''] = args.positionals;
  const port = parsePort(portText);
  const first = parseGroupPort('GROUP', groupText, port);
  const more = args.values.has('group') ? parseList('--group', args.values.get('group') ?? '', (t) => parseGroupPort('--group', t, port)) : [];
  const groups = [first, ...more];
  const seen = new Set<string>();
  for (const g of groups) {
    const key = hostPort(g.address, g.port);
    if (seen.has(key)) throw new UsageError(`${key} is given twice`);
    seen.add(key);
  }
  const families = new Set(groups.map((g) => g.family));
  const sourceText = args.values.get('source');
  if (sourceText !== undefined && families.size > 1) throw new UsageError('--source needs groups of one family');
  const number = (name: string): number | undefined => {
    const text = args.values.get(name);
    return text === undefined ? undefined : parsePositiveNumber(`--${name}`, text);
  };
  const integer = (name: string, min: number, max: number): number | undefined => {
    const text = args.values.get(name);
    return text === undefined ? undefined : parseInteger(`--${name}`, text, min, max);
  };
  const duration = number('duration');
  const timeout = number('timeout');
  const rotateSeconds = number('rotate-seconds');
  return {
    groups,
    iface: parseInterface('--iface', required(args, 'iface'), first.family),
    out: required(args, 'out'),
    source: sourceText === undefined ? undefined : parseSource(sourceText, first.family),
    count: integer('count', 1, Number.MAX_SAFE_INTEGER),
    durationMs: duration === undefined ? undefined : duration * 1000,
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
    snaplen: integer('snaplen', HEADER_BYTES[6], 262144),
    rotateBytes: integer('rotate-size', 4096, Number.MAX_SAFE_INTEGER),
    rotateMs: rotateSeconds === undefined ? undefined : rotateSeconds * 1000,
    recvBuffer: integer('recv-buffer', 1024, 2 ** 31 - 1),
    quiet: args.flags.has('quiet'),
  };
}

/** The file names of a run: FILE itself, or FILE-0001.EXT, FILE-0002.EXT, ... when rotating. */
function fileName(out: string, rotating: boolean, n: number): string {
  if (!rotating) return out;
  const ext = extname(out);
  return `${out.slice(0, out.length - ext.length)}-${String(n).padStart(4, '0')}${ext}`;
}

/** The writer of the current file, and the rotation to the next one. */
class RotatingCapture {
  writer: CaptureWriter;
  readonly files: string[] = [];
  #opened = performance.now();
  /** Socket counters when the current file was opened: each file's ISB has its own drops. */
  #baseline = { kernelDrops: 0, truncated: 0 };
  datagrams = 0;
  bytes = 0;
  #closed = false;
  /** The closes of the files so far (each completes when its queued writes are done). */
  readonly #closes: Array<Promise<void>> = [];

  constructor(
    private readonly o: RecordOptions,
    private readonly counters: () => { kernelDrops: number; truncated: number },
  ) {
    this.writer = this.#open();
  }

  get rotating(): boolean {
    return this.o.rotateBytes !== undefined || this.o.rotateMs !== undefined;
  }

  #open(): CaptureWriter {
    const names = new Map(listInterfaces().map((i) => [i.index, i.name]));
    const path = fileName(this.o.out, this.rotating, this.files.length + 1);
    const writer = CaptureWriter.open(path, {
      ...(this.o.snaplen !== undefined ? { snaplen: this.o.snaplen } : {}),
      interfaces: [this.o.iface.info.index],
      interfaceName: (index) => names.get(index) ?? `if${index}`,
      application: 'mcast record',
    });
    this.files.push(path);
    this.#opened = performance.now();
    return writer;
  }

  #closeCurrent(): void {
    const now = this.counters();
    const t = this.writer.totals;
    this.datagrams += t.datagrams;
    this.bytes += t.payloadBytes;
    const closing = this.writer.close({ kernelDrops: now.kernelDrops - this.#baseline.kernelDrops, truncated: now.truncated - this.#baseline.truncated });
    // A rotated file's failure is reported at the end (close()), not as an unhandled rejection now.
    closing.catch(() => {});
    this.#closes.push(closing);
    this.#baseline = now;
  }

  /** Starts the next file when the current one is full or old enough. */
  maybeRotate(): void {
    const full = this.o.rotateBytes !== undefined && this.writer.totals.fileBytes >= this.o.rotateBytes;
    const old = this.o.rotateMs !== undefined && performance.now() - this.#opened >= this.o.rotateMs;
    if (!full && !old) return;
    this.#closeCurrent();
    this.writer = this.#open();
  }

  /** Datagrams and payload bytes of every file so far. */
  totals(): { datagrams: number; bytes: number } {
    if (this.#closed) return { datagrams: this.datagrams, bytes: this.bytes };
    const t = this.writer.totals;
    return { datagrams: this.datagrams + t.datagrams, bytes: this.bytes + t.payloadBytes };
  }

  /** Closes the current file; resolves when every file is complete (rejects with a write error). */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#closeCurrent();
    }
    await Promise.all(this.#closes);
  }
}

function openSockets(o: RecordOptions): Array<{ socket: Socket; port: number }> {
  const byKey = new Map<string, { socket: Socket; port: number; family: Family; groups: RecordGroup[] }>();
  for (const g of o.groups) {
    const key = `${g.family}/${g.port}`;
    let entry = byKey.get(key);
    if (entry === undefined) {
      entry = { socket: undefined as unknown as Socket, port: g.port, family: g.family, groups: [] };
      byKey.set(key, entry);
    }
    entry.groups.push(g);
  }
  const opened: Array<{ socket: Socket; port: number }> = [];
  try {
    for (const entry of byKey.values()) {
      const socket = createSocket({
        family: entry.family,
        port: entry.port,
        timestamps: true,
        receiveTTL: true,
        maxMessageSize: Math.max(1, Math.min(65535, (o.snaplen ?? 262144) - HEADER_BYTES[entry.family])),
        ...(o.recvBuffer !== undefined ? { recvBufferSize: o.recvBuffer } : {}),
      });
      opened.push({ socket, port: entry.port });
      for (const g of entry.groups) {
        socket.join(g.address, { interface: o.iface.ref, ...(o.source !== undefined ? { source: o.source } : {}) });
      }
    }
  } catch (error) {
    for (const { socket } of opened) socket.close();
    throw error;
  }
  return opened;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const o = options(args);
  for (const g of o.groups) {
    const warning = loopbackIPv6Warning(g, o.iface);
    if (warning !== undefined) println(io.stderr, warning);
  }
  const sockets = openSockets(o);
  const counters = (): { kernelDrops: number; truncated: number } => {
    let kernelDrops = 0;
    let truncated = 0;
    for (const { socket } of sockets) {
      const s = socket.stats();
      kernelDrops += s.kernelDrops;
      truncated += s.truncated;
    }
    return { kernelDrops, truncated };
  };
  let capture: RotatingCapture;
  try {
    capture = new RotatingCapture(o, counters);
  } catch (error) {
    for (const { socket } of sockets) socket.close();
    throw error;
  }
  const from = o.source !== undefined ? ` from source ${o.source} only` : '';
  const what = o.groups.map((g) => hostPort(g.address, g.port)).join(', ');
  println(io.stderr, `recording ${what} on ${o.iface.info.name}${from} to ${capture.files[0] ?? o.out}`);
  return record(sockets, capture, counters, o, io);
}

function record(
  sockets: Array<{ socket: Socket; port: number }>,
  capture: RotatingCapture,
  counters: () => { kernelDrops: number; truncated: number },
  o: RecordOptions,
  io: Io,
): Promise<number> {
  const started = performance.now();
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  let lastLine = { at: started, datagrams: 0 };
  return new Promise((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    let stopSignals = (): void => {};
    let finished = false;
    const finish = (code: number, why: string): void => {
      if (finished) return;
      finished = true;
      for (const t of timers) clearTimeout(t);
      stopSignals();
      const stats = counters();
      for (const { socket } of sockets) socket.close();
      // The socket counters are read before the sockets close; the line waits for the files.
      capture.close().then(
        () => report(code, why, stats),
        (error: unknown) => {
          println(io.stderr, `mcast record: ${(error as Error).message}`);
          report(EXIT.FAILURE, why, stats);
        },
      );
    };
    const report = (result: number, why: string, stats: { kernelDrops: number; truncated: number }): void => {
      const t = capture.totals();
      const seconds = ((performance.now() - started) / 1000).toFixed(3);
      if (tty && !o.quiet) io.stderr.write('\n');
      const files = capture.files.length === 1 ? capture.files[0] : `${capture.files.length} files (${capture.files.join(', ')})`;
      println(
        io.stderr,
        `${why}: recorded ${plural(t.datagrams, 'datagram')} (${t.bytes} bytes) in ${seconds} s to ${files}; kernel drops ${stats.kernelDrops}, truncated ${stats.truncated}`,
      );
      resolve(result);
    };
    const progress = (): void => {
      if (o.quiet) return;
      const now = performance.now();
      const t = capture.totals();
      const rate = ((t.datagrams - lastLine.datagrams) * 1000) / Math.max(1, now - lastLine.at);
      lastLine = { at: now, datagrams: t.datagrams };
      const line = `${plural(t.datagrams, 'datagram')}, ${t.bytes} bytes, drops ${counters().kernelDrops}, ${Math.round(rate)} datagrams/s`;
      io.stderr.write(tty ? `\r\u001b[K${line}` : `${line}\n`);
    };
    for (const { socket, port } of sockets) {
      socket.on('batch', (batch) => {
        if (finished) return;
        try {
          const left = o.count === undefined ? Infinity : o.count - capture.totals().datagrams;
          capture.writer.writeBatch(batch, port, left);
          if (o.count !== undefined && capture.totals().datagrams >= o.count) return finish(EXIT.OK, `${plural(o.count, 'datagram')}`);
          capture.maybeRotate();
        } catch (error) {
          println(io.stderr, `mcast record: ${(error as Error).message}`);
          finish(EXIT.FAILURE, 'failed');
        }
      });
      socket.on('error', (error: Error) => {
        println(io.stderr, `mcast record: ${error.message}`);
        finish(EXIT.FAILURE, 'failed');
      });
    }
    const every = setInterval(() => {
      progress();
      try {
        capture.maybeRotate();
      } catch (error) {
        println(io.stderr, `mcast record: ${(error as Error).message}`);
        finish(EXIT.FAILURE, 'failed');
      }
    }, 1000);
    timers.push(every);
    if (o.durationMs !== undefined) timers.push(setTimeout(() => finish(EXIT.OK, `${o.durationMs! / 1000} s`), o.durationMs));
    if (o.timeoutMs !== undefined) {
      timers.push(
        setTimeout(() => {
          const got = capture.totals().datagrams;
          const ok = o.count === undefined && got > 0;
          const wanted = o.count !== undefined ? `, wanted ${plural(o.count, 'datagram')}` : ok ? '' : ', wanted any datagram';
          finish(ok ? EXIT.OK : EXIT.FAILURE, `timeout after ${o.timeoutMs! / 1000} s${wanted}`);
        }, o.timeoutMs),
      );
    }
    stopSignals = onStopSignal((signal) => finish(signalExitCode(signal), signal));
  });
}

export const recordCommand: Command = { spec, run };
