/**
 * What the command prints: payloads as text or hex, one line (or one JSON object) per datagram,
 * and the interface table. Pure functions of their inputs.
 */
import type { InterfaceAddress, InterfaceInfo, MessageInfo } from '../index';
import { hostPort } from './values';

/** Control characters other than tab, and DEL: a payload with them is not shown as text. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** The payload as UTF-8 text when it is printable text on one line, else undefined. */
export function printableText(data: Uint8Array): string | undefined {
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const text = buffer.toString('utf8');
  if (CONTROL.test(text) || !Buffer.from(text, 'utf8').equals(buffer)) return undefined;
  return text;
}

export interface RenderedPayload {
  encoding: 'text' | 'hex';
  data: string;
}

export function renderPayload(data: Uint8Array, forceHex: boolean): RenderedPayload {
  const text = forceHex ? undefined : printableText(data);
  return text !== undefined
    ? { encoding: 'text', data: text }
    : { encoding: 'hex', data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex') };
}

/** `1732530000.123456789` from nanoseconds since the epoch. */
export function formatTimestamp(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${seconds}.${fraction}`;
}

export interface DatagramView {
  data: Buffer;
  info: MessageInfo;
  /** Name of the arrival interface. */
  interfaceName: string;
}

/** `10.0.0.2:40000 -> 239.1.2.3 (mca0) 5 bytes: hello` (hex payloads say `(hex)`). */
export function datagramLine(d: DatagramView, forceHex: boolean, timestamps: boolean): string {
  const payload = renderPayload(d.data, forceHex);
  const stamp = timestamps && d.info.timestamp !== undefined ? `${formatTimestamp(d.info.timestamp)} ` : '';
  const size = d.info.truncated ? `${d.info.size} of ${d.info.originalSize} bytes (truncated)` : `${d.info.size} bytes`;
  const label = payload.encoding === 'hex' && !forceHex ? ' (hex)' : '';
  return `${stamp}${hostPort(d.info.address, d.info.port)} -> ${d.info.destination} (${d.interfaceName}) ${size}${label}: ${payload.data}`;
}

/** The JSON record of a datagram (one line of `recv --json`). */
export interface DatagramRecord {
  from: string;
  port: number;
  group: string;
  interface: string;
  interfaceIndex: number;
  size: number;
  ttl: number;
  encoding: 'text' | 'hex';
  data: string;
  timestamp?: string;
}

export function datagramRecord(d: DatagramView, forceHex: boolean, timestamps: boolean): DatagramRecord {
  const payload = renderPayload(d.data, forceHex);
  const record: DatagramRecord = {
    from: d.info.address,
    port: d.info.port,
    group: d.info.destination,
    interface: d.interfaceName,
    interfaceIndex: d.info.interfaceIndex,
    size: d.info.size,
    ttl: d.info.ttl ?? -1, // the socket asks for it (receiveTTL); -1 if the kernel did not say
    encoding: payload.encoding,
    data: payload.data,
  };
  if (timestamps && d.info.timestamp !== undefined) record.timestamp = d.info.timestamp.toString();
  return record;
}

/** Prefix length of a netmask (`255.255.255.0` -> 24, `ffff:ffff:ffff:ffff::` -> 64). */
export function prefixLength(netmask: string): number {
  let bits = 0;
  if (netmask.includes('.')) {
    for (const part of netmask.split('.')) bits += popcount(Number(part));
    return bits;
  }
  const [head = '', tail] = netmask.split('::');
  const words = [...head.split(':'), ...(tail === undefined ? [] : tail.split(':'))].filter((w) => w !== '');
  for (const w of words) bits += popcount(Number.parseInt(w, 16));
  return bits;
}

function popcount(n: number): number {
  let count = 0;
  for (let v = n; v > 0; v >>>= 1) count += v & 1;
  return count;
}

export function interfaceFlags(info: InterfaceInfo): string[] {
  return [info.up ? 'up' : 'down', ...(info.multicast ? ['multicast'] : []), ...(info.loopback ? ['loopback'] : [])];
}

function addressText(a: InterfaceAddress): string {
  return `${a.address}/${prefixLength(a.netmask)}`;
}

/** The `mcast ifaces` table. */
export function interfaceTable(list: readonly InterfaceInfo[]): string {
  const rows = list.map((i) => [String(i.index), i.name, interfaceFlags(i).join(','), i.addresses.map(addressText).join(' ')]);
  const header = ['INDEX', 'NAME', 'FLAGS', 'ADDRESSES'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c] ?? 0))).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** `mcast ifaces --json`: the interfaces as listInterfaces() gives them, with prefix lengths. */
export function interfaceJson(list: readonly InterfaceInfo[]): string {
  return `${JSON.stringify(
    list.map((i) => ({ ...i, flags: interfaceFlags(i), addresses: i.addresses.map((a) => ({ ...a, prefixLength: prefixLength(a.netmask) })) })),
    null,
    2,
  )}\n`;
}
