/**
 * What the command prints: payloads as text or hex, one line (or one JSON object) per datagram,
 * and the interface table. Pure functions of their inputs.
 */
import type { InterfaceAddress, InterfaceInfo, InterfaceMemberships, MessageInfo, MulticastVersions } from '../index';
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

/** An interface with its IGMP / MLD versions, as `mcast ifaces` shows it. */
export interface InterfaceRow extends InterfaceInfo {
  /** The IGMP / MLD versions of the interface (multicastVersions()). */
  versions: MulticastVersions;
}

/** `v3`, `v2 forced`, `v2 querier` (an older querier on the link), or `-` without IPv4 multicast. */
export function igmpText(v: MulticastVersions): string {
  if (v.igmpVersion === undefined) return '-';
  if (v.olderQuerier) return `v${v.igmpVersion} querier`;
  return v.igmpForced !== undefined && v.igmpForced > 0 ? `v${v.igmpVersion} forced` : `v${v.igmpVersion}`;
}

/** `v2`, `v1 forced`, or `-` without IPv6 on the interface. */
export function mldText(v: MulticastVersions): string {
  if (v.mldForced === undefined) return '-';
  return v.mldForced > 0 ? `v${v.mldForced} forced` : 'v2';
}

/** Left-aligned columns, two spaces apart, the last one unpadded. */
function columns(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c] ?? 0))).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** The `mcast ifaces` table. */
export function interfaceTable(list: readonly InterfaceRow[]): string {
  const rows = list.map((i) => [
    String(i.index),
    i.name,
    interfaceFlags(i).join(','),
    igmpText(i.versions),
    mldText(i.versions),
    i.addresses.map(addressText).join(' '),
  ]);
  return columns(['INDEX', 'NAME', 'FLAGS', 'IGMP', 'MLD', 'ADDRESSES'], rows);
}

/** `mcast ifaces --json`: the interfaces as listInterfaces() gives them, with prefix lengths and IGMP / MLD versions. */
export function interfaceJson(list: readonly InterfaceRow[]): string {
  return `${JSON.stringify(
    list.map(({ versions, ...i }) => ({
      ...i,
      flags: interfaceFlags(i),
      addresses: i.addresses.map((a) => ({ ...a, prefixLength: prefixLength(a.netmask) })),
      igmp: { version: versions.igmpVersion ?? null, forced: versions.igmpForced ?? null, olderQuerier: versions.olderQuerier ?? null },
      mld: { forced: versions.mldForced ?? null },
    })),
    null,
    2,
  )}\n`;
}

/** `mcast ifaces --memberships`: one row per (interface, group). */
export function membershipTable(list: readonly InterfaceMemberships[]): string {
  const rows = list.flatMap((i) =>
    i.groups.map((g) => [
      String(i.index),
      i.name,
      i.igmpVersion !== undefined && g.family === 'IPv4' ? `v${i.igmpVersion}` : '',
      g.group,
      g.filterMode,
      g.sources.length > 0 ? g.sources.join(' ') : '-',
      String(g.users),
    ]),
  );
  if (rows.length === 0) return 'no multicast memberships\n';
  return columns(['INDEX', 'NAME', 'IGMP', 'GROUP', 'MODE', 'SOURCES', 'USERS'], rows);
}

/** `mcast ifaces --memberships --json`: memberships() as it is. */
export function membershipJson(list: readonly InterfaceMemberships[]): string {
  return `${JSON.stringify(list, null, 2)}\n`;
}
