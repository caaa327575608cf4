/**
 * Command-line values of `mcast feed` and `mcast feed-send`: a LINE (`GROUP:PORT@IFACE`, with an
 * optional `+source=ADDR`), a sequence FORMAT (`moldudp64`, `u32be@OFFSET`, ...) and a list of
 * number ranges. Addresses, ports and interfaces go through the converters of ./values, so each
 * rule and its message live once.
 */
import type { Family } from '../index';
import type { SequenceFormat } from '../feed/types';
import { UsageError } from './args';
import { type ChosenInterface, parseEndpoint, parseGroup, parseInteger, parseInterface, parseList, parseSource } from './values';

/** A parsed LINE. */
export interface LineArg {
  /** As written, for messages. */
  text: string;
  group: string;
  port: number;
  family: Family;
  iface: ChosenInterface;
  /** `+source=ADDR`: source-specific (receiver) or the address to send from (sender). */
  source: string | undefined;
}

/** The LINE syntax, for --help. */
export const LINE_HELP =
  'LINE is GROUP:PORT@IFACE ([GROUP]:PORT@IFACE for IPv6), optionally followed by +source=ADDR:\n' +
  '239.1.1.1:5000@eth1, [ff15::1]:5000@eth1, 232.1.1.1:5000@eth2+source=10.0.0.7. IFACE is a name,\n' +
  'an index or one of its addresses.';

/** The FORMAT syntax, for --help. */
export const FORMAT_HELP = 'FORMAT is moldudp64, or a counter in a fixed field: u32be@OFFSET, u32le@OFFSET, u64be@OFFSET, u64le@OFFSET.';

/** Largest offset of a fixed field (the largest IPv6 UDP payload less 8 bytes, as the feed allows). */
const MAX_OFFSET = 65527;

/** `GROUP:PORT@IFACE[+source=ADDR]`; `what` names the argument in messages ("LINE 2"). */
export function parseLine(what: string, text: string): LineArg {
  const plus = text.indexOf('+');
  const main = plus >= 0 ? text.slice(0, plus) : text;
  const extra = plus >= 0 ? text.slice(plus + 1) : undefined;
  const at = main.lastIndexOf('@');
  if (at <= 0 || at === main.length - 1) {
    throw new UsageError(`${what} must be GROUP:PORT@IFACE (IPv6: [GROUP]:PORT@IFACE), got '${text}'`);
  }
  const endpoint = parseEndpoint(what, main.slice(0, at));
  if (endpoint.port === undefined) throw new UsageError(`${what} needs a port: GROUP:PORT@IFACE, got '${text}'`);
  const group = parseGroup(endpoint.address);
  const iface = parseInterface(`${what} (${text})`, main.slice(at + 1), group.family);
  let source: string | undefined;
  if (extra !== undefined) {
    if (!extra.startsWith('source=')) throw new UsageError(`${what}: after '+' expected source=ADDR, got '${extra}'`);
    source = parseSource(extra.slice('source='.length), group.family).toString();
  }
  return { text, group: group.address, port: endpoint.port, family: group.family, iface, source };
}

/** Every LINE, numbered from 0 in messages; all of one family. */
export function parseLines(texts: readonly string[]): LineArg[] {
  const lines = texts.map((t, i) => parseLine(`LINE ${i}`, t));
  const family = lines[0]?.family;
  const other = lines.find((l) => l.family !== family);
  if (other !== undefined) throw new UsageError(`every LINE must be of one family: '${lines[0]?.text}' is IPv${family}, '${other.text}' is not`);
  return lines;
}

/** `moldudp64`, `u32be@OFFSET`, `u32le@OFFSET`, `u64be@OFFSET` or `u64le@OFFSET`. */
export function parseFormat(text: string): SequenceFormat {
  if (text === 'moldudp64') return 'moldudp64';
  const m = /^u(32|64)(be|le)@(.*)$/.exec(text);
  if (m === null) {
    throw new UsageError(`--sequence must be moldudp64, u32be@OFFSET, u32le@OFFSET, u64be@OFFSET or u64le@OFFSET, got '${text}'`);
  }
  const offset = parseInteger(`--sequence ${text}: OFFSET`, m[3] ?? '', 0, MAX_OFFSET);
  return { offset, size: m[1] === '32' ? 4 : 8, endian: m[2] === 'be' ? 'big' : 'little' };
}

/** `N` or `A-B` items, comma-separated: inclusive ranges of sequence numbers. */
export function parseRanges(what: string, text: string): Array<[number, number]> {
  return parseList(what, text, (item) => {
    const dash = item.indexOf('-');
    const from = parseInteger(`${what}: a number`, dash >= 0 ? item.slice(0, dash) : item, 0, Number.MAX_SAFE_INTEGER);
    const to = dash >= 0 ? parseInteger(`${what}: a number`, item.slice(dash + 1), 0, Number.MAX_SAFE_INTEGER) : from;
    if (to < from) throw new UsageError(`${what}: the range '${item}' ends before it starts`);
    return [from, to] as [number, number];
  });
}
