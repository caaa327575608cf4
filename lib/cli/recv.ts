/**
 * `mcast recv GROUP PORT`: joins a group and prints each datagram, until --count datagrams have
 * arrived (exit 0), --timeout passes (exit 1) or Ctrl-C (a summary on stderr, exit 130).
 */
import { createSocket, listInterfaces, type Family, type MessageInfo, type Socket } from '../index';
import { type CommandSpec, EXIT, type ParsedArgs, UsageError } from './args';
import { datagramLine, datagramRecord } from './format';
import { type Command, type Io, onStopSignal, println, signalExitCode } from './io';
import { interfaceInUse } from './route';
import {
  type ChosenInterface,
  type Group,
  GROUP_ARG,
  hostPort,
  loopbackIPv6Warning,
  parseBindAddress,
  parseGroup,
  parseInteger,
  parseInterface,
  parsePort,
  parsePositiveNumber,
  PORT_ARG,
  parseSource,
  requireInterfaceForScope,
} from './values';

const spec: CommandSpec = {
  name: 'recv',
  summary: 'Joins GROUP on one interface and prints every datagram sent to it on PORT, one line each.',
  positionals: [
    GROUP_ARG,
    PORT_ARG,
  ],
  options: [
    { name: 'iface', short: 'i', value: 'NAME|ADDR|INDEX', help: 'interface to join on (default: the one the kernel routes GROUP to, which is printed)' },
    { name: 'source', short: 's', value: 'ADDR', help: 'source-specific join (SSM): receive only what ADDR sends' },
    { name: 'bind', value: 'ADDR', help: 'local address to bind (default 0.0.0.0 or ::)' },
    { name: 'count', short: 'c', value: 'N', help: 'exit 0 after N datagrams' },
    { name: 'timeout', short: 't', value: 'SECONDS', help: 'exit 1 if --count datagrams (without --count: any) have not arrived by then' },
    { name: 'json', help: 'one JSON object per datagram and line' },
    { name: 'hex', help: 'payloads in hex (default: UTF-8 text when printable, else hex)' },
    { name: 'timestamps', help: "the kernel's receive time of each datagram (ns since the epoch)" },
  ],
  notes: [
    'Output: FROM:PORT -> GROUP (IFACE) N bytes: TEXT, one line per datagram on stdout. With --json:\n' +
      '{"from","port","group","interface","interfaceIndex","size","ttl","encoding":"text"|"hex","data"[,"timestamp"]}.\n' +
      'Status lines go to stderr. Ctrl-C prints the number received and the kernel drops, and exits 130.',
    'The socket receives only the (group, interface) it joined, not the groups other programs joined on\n' +
      'the same port (IP_MULTICAST_ALL off).',
  ],
  examples: [
    'mcast recv 239.1.2.3 5000 --iface eth1',
    'mcast recv 232.1.1.1 5000 --iface 3 --source 10.0.0.7 --count 10 --timeout 5 --json',
  ],
};

interface RecvOptions {
  group: Group;
  port: number;
  iface: ChosenInterface | undefined;
  source: string | undefined;
  bind: string;
  count: number | undefined;
  timeoutMs: number | undefined;
  json: boolean;
  hex: boolean;
  timestamps: boolean;
}

function interfaceText(args: ParsedArgs, group: Group): string | undefined {
  const flag = args.values.get('iface');
  if (flag !== undefined && group.zone !== undefined && flag !== group.zone) {
    throw new UsageError(`GROUP names interface '${group.zone}' but --iface says '${flag}': give it once`);
  }
  return flag ?? group.zone;
}

function options(args: ParsedArgs): RecvOptions {
  const [groupText = '', portText = ''] = args.positionals;
  const group = parseGroup(groupText);
  const family: Family = group.family;
  const ifaceText = interfaceText(args, group);
  requireInterfaceForScope(group, ifaceText);
  const sourceText = args.values.get('source');
  const bindText = args.values.get('bind');
  const countText = args.values.get('count');
  const timeoutText = args.values.get('timeout');
  return {
    group,
    port: parsePort(portText),
    iface: ifaceText === undefined ? undefined : parseInterface('--iface', ifaceText, family),
    source: sourceText === undefined ? undefined : parseSource(sourceText, family),
    bind: bindText === undefined ? (family === 4 ? '0.0.0.0' : '::') : parseBindAddress(bindText, family),
    count: countText === undefined ? undefined : parseInteger('--count', countText, 1, Number.MAX_SAFE_INTEGER),
    timeoutMs: timeoutText === undefined ? undefined : parsePositiveNumber('--timeout', timeoutText) * 1000,
    json: args.flags.has('json'),
    hex: args.flags.has('hex'),
    timestamps: args.flags.has('timestamps'),
  };
}

/** Interface names by index, refreshed when an unknown index shows up. */
function interfaceNames(): (index: number) => string {
  let names = new Map<number, string>();
  const load = (): void => {
    names = new Map(listInterfaces().map((i) => [i.index, i.name]));
  };
  load();
  return (index) => {
    if (!names.has(index)) load();
    return names.get(index) ?? `index ${index}`;
  };
}

function join(socket: Socket, o: RecvOptions): void {
  const membership = {
    ...(o.iface !== undefined ? { interface: o.iface.ref } : {}),
    ...(o.source !== undefined ? { source: o.source } : {}),
  };
  socket.join(o.group.address, membership);
}

async function run(args: ParsedArgs, io: Io): Promise<number> {
  const o = options(args);
  const warning = loopbackIPv6Warning(o.group, o.iface);
  if (warning !== undefined) println(io.stderr, warning);
  const where = await interfaceInUse(o.group.address, o.group.family, o.iface, 'join', (line) => println(io.stderr, line));
  const socket = createSocket({
    family: o.group.family,
    port: o.port,
    address: o.bind,
    timestamps: o.timestamps,
    receiveTTL: true, // a diagnostic tool: every line shows the TTL / hop limit
    maxMessageSize: 65535,
    batchSize: 16,
  });
  try {
    join(socket, o);
  } catch (error) {
    socket.close();
    throw error;
  }
  const from = o.source !== undefined ? ` from source ${o.source} only` : '';
  println(io.stderr, `listening on ${hostPort(o.bind, o.port)}, joined ${o.group.address} on ${where}${from}`);
  return receive(socket, o, io);
}

function receive(socket: Socket, o: RecvOptions, io: Io): Promise<number> {
  const nameOf = interfaceNames();
  let received = 0;
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let stopSignals = (): void => {};
    const finish = (code: number): void => {
      if (socket.closed) return;
      if (timer !== undefined) clearTimeout(timer);
      stopSignals();
      socket.close();
      resolve(code);
    };
    socket.on('message', (data: Buffer, info: MessageInfo) => {
      const view = { data, info, interfaceName: nameOf(info.interfaceIndex) };
      println(
        io.stdout,
        o.json ? JSON.stringify(datagramRecord(view, o.hex, o.timestamps)) : datagramLine(view, o.hex, o.timestamps),
      );
      received++;
      if (o.count !== undefined && received >= o.count) finish(EXIT.OK);
    });
    socket.on('error', (error: Error) => {
      println(io.stderr, `mcast recv: ${error.message}`);
      finish(EXIT.FAILURE);
    });
    if (o.timeoutMs !== undefined) {
      const seconds = o.timeoutMs / 1000;
      timer = setTimeout(() => {
        const wanted = o.count !== undefined ? `${o.count} datagram${o.count === 1 ? '' : 's'}` : 'any datagram';
        const ok = o.count === undefined && received > 0;
        println(io.stderr, `timeout after ${seconds} s: received ${received}${ok ? '' : `, wanted ${wanted}`}`);
        finish(ok ? EXIT.OK : EXIT.FAILURE);
      }, o.timeoutMs);
    }
    stopSignals = onStopSignal((signal) => {
      const stats = socket.stats();
      println(
        io.stderr,
        `received ${stats.packetsReceived} datagram${stats.packetsReceived === 1 ? '' : 's'} (${stats.bytesReceived} bytes), kernel drops ${stats.kernelDrops}`,
      );
      finish(signalExitCode(signal));
    });
  });
}

export const recvCommand: Command = { spec, run };
