/**
 * Parsers for the text that `tcpdump -l -n -tt -v[v]` prints (tcpdump 4.99, as on Debian 12).
 *
 * What tcpdump prints (seen in captures made inside namespaces; see test/harness.test.ts):
 *
 *   IPv4 with -v: the IP header on the first line, the payload on an indented second line:
 *     1795604496.831526 IP (tos 0xc0, ttl 1, id 0, offset 0, flags [DF], proto IGMP (2), length 52, options (RA))
 *         10.1.1.2 > 224.0.0.22: igmp v3 report, 2 group record(s) [gaddr 232.1.1.1 allow { 10.1.1.1 }] [gaddr 239.1.2.3 to_ex { }]
 *     1795604496.821098 IP (tos 0x0, ttl 7, id 58185, offset 0, flags [DF], proto UDP (17), length 33)
 *         10.1.1.2.47768 > 239.9.9.9.5000: [bad udp cksum 0x0334 -> 0xeacb!] UDP, length 5
 *   IPv6 with -v: one line (options may add indented lines):
 *     1795604496.831547 IP6 (hlim 1, next-header Options (0) payload length: 72) fe80::98fa:c8ff:febe:402f > ff02::16: HBH (rtalert: 0x0000) (padn) [icmp6 sum ok] ICMP6, multicast listener report v2, 2 group record(s) [gaddr ff35::1 allow { fe80::1 }] [gaddr ff15::1234 to_ex { }]
 *   Group records: with -vv each record lists its sources `{ a b }`; with -v only a count
 *   (`[gaddr 232.1.1.1 allow, 1 source(s)]`). IGMPv2: `igmp v2 report G`, `igmp leave G`.
 *   MLDv1 (no space before "max"): `multicast listener reportmax resp delay: 0 addr: G`,
 *   `multicast listener donemax resp delay: 0 addr: G`.
 *   MLD messages carry a Hop-by-Hop header: the filter `icmp6` does NOT match them (FILTER_MLD).
 *   "bad udp cksum" is normal on veth (checksum offload), not an error.
 */
import { isIP } from 'node:net';

/** Capture filter for IGMP (all versions). */
export const FILTER_IGMP = 'igmp';
/**
 * Capture filter for MLD (v1 and v2). Not `icmp6`: MLD messages carry a Hop-by-Hop options
 * header (router alert), and `icmp6` only looks at the IPv6 header's next-header field. This
 * matches a Hop-by-Hop header followed by ICMPv6.
 */
export const FILTER_MLD = '(ip6 and ip6[6] == 0 and ip6[40] == 58)';

/** IGMPv3 / MLDv2 record types (RFC 3376 / RFC 3810), plus REPORT/LEAVE for IGMPv1/v2 and MLDv1. */
export type GroupRecordType =
  | 'MODE_IS_INCLUDE'
  | 'MODE_IS_EXCLUDE'
  | 'CHANGE_TO_INCLUDE'
  | 'CHANGE_TO_EXCLUDE'
  | 'ALLOW_NEW_SOURCES'
  | 'BLOCK_OLD_SOURCES'
  | 'REPORT'
  | 'LEAVE';

export interface GroupRecord {
  group: string;
  type: GroupRecordType;
  /** Source addresses; null when tcpdump printed only their number (-v instead of -vv). */
  sources: string[] | null;
  sourceCount: number;
}

export interface MembershipReport {
  protocol: 'igmpv1' | 'igmpv2' | 'igmpv3' | 'mldv1' | 'mldv2';
  records: GroupRecord[];
}

export interface Packet {
  /** Capture time, seconds since the epoch (tcpdump -tt). */
  time: number;
  /** Interface and direction, only when capturing on `any` (e.g. 'mca0', 'In'). */
  ifname: string | null;
  direction: string | null;
  /** 4 or 6 for IP packets, null otherwise (ARP...). */
  family: 4 | 6 | null;
  /** IPv4 TTL or IPv6 hop limit (needs -v). */
  ttl: number | null;
  src: string | null;
  dst: string | null;
  srcPort: number | null;
  dstPort: number | null;
  /** Upper protocol: 'UDP', 'TCP', 'IGMP', 'ICMP', 'ICMP6', or the IP header's name for it. */
  proto: string | null;
  /** UDP payload length. */
  udpLength: number | null;
  /** IGMP / MLD membership report or leave, when the packet is one. */
  report: MembershipReport | null;
  /** The packet's lines as tcpdump printed them. */
  lines: string[];
}

const RECORD_TYPES: Record<string, GroupRecordType> = {
  is_in: 'MODE_IS_INCLUDE',
  is_ex: 'MODE_IS_EXCLUDE',
  to_in: 'CHANGE_TO_INCLUDE',
  to_ex: 'CHANGE_TO_EXCLUDE',
  allow: 'ALLOW_NEW_SOURCES',
  block: 'BLOCK_OLD_SOURCES',
};

const PACKET_START = /^\d+\.\d+\s/;

/** Groups tcpdump output lines into packets: a packet starts with a timestamp (-tt). */
export function groupPacketLines(lines: readonly string[]): string[][] {
  const packets: string[][] = [];
  for (const line of lines) {
    if (line === '') continue;
    if (PACKET_START.test(line) || packets.length === 0) packets.push([line]);
    else packets[packets.length - 1]?.push(line);
  }
  return packets;
}

/** Parses the group records of an IGMPv3 / MLDv2 report or an IGMPv1/v2 / MLDv1 message. */
export function parseMembershipReport(text: string): MembershipReport | null {
  const flat = text.replace(/\s+/g, ' ');
  const v3 = /igmp v3 report, \d+ group record\(s\)/.test(flat);
  const mld2 = /multicast listener report v2, \d+ group record\(s\)/.test(flat);
  if (v3 || mld2) {
    const records: GroupRecord[] = [];
    const re = /\[gaddr (\S+) (is_in|is_ex|to_in|to_ex|allow|block)(?: \{([^}]*)\}|, (\d+) source\(s\))\]/g;
    for (const m of flat.matchAll(re)) {
      const [, group = '', kind = '', list, count] = m;
      const sources = list === undefined ? null : list.trim().split(' ').filter((s) => s !== '');
      records.push({
        group,
        type: RECORD_TYPES[kind] ?? 'MODE_IS_INCLUDE',
        sources,
        sourceCount: sources ? sources.length : Number(count ?? 0),
      });
    }
    return { protocol: v3 ? 'igmpv3' : 'mldv2', records };
  }
  const simple: Array<[RegExp, MembershipReport['protocol'], GroupRecordType]> = [
    [/igmp v2 report (\S+)/, 'igmpv2', 'REPORT'],
    [/igmp v1 report (\S+)/, 'igmpv1', 'REPORT'],
    [/igmp leave (\S+)/, 'igmpv2', 'LEAVE'],
    // tcpdump 4.99 prints no space before "max": "multicast listener reportmax resp delay: 0 addr: G".
    [/multicast listener report ?max resp delay: \d+ addr: (\S+)/, 'mldv1', 'REPORT'],
    [/multicast listener done ?max resp delay: \d+ addr: (\S+)/, 'mldv1', 'LEAVE'],
  ];
  for (const [re, protocol, type] of simple) {
    const m = re.exec(flat);
    if (m?.[1]) {
      return { protocol, records: [{ group: m[1].replace(/,$/, ''), type, sources: [], sourceCount: 0 }] };
    }
  }
  return null;
}

/** Index of the ')' matching the '(' at `open`, or -1. */
function matchingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

/** 'ADDR.PORT' or 'ADDR' as tcpdump -n prints them. */
function splitAddrPort(s: string): { addr: string; port: number | null } {
  if (isIP(s)) return { addr: s, port: null };
  const dot = s.lastIndexOf('.');
  if (dot > 0) {
    const addr = s.slice(0, dot);
    const port = s.slice(dot + 1);
    if (isIP(addr) && /^\d+$/.test(port)) return { addr, port: Number(port) };
  }
  return { addr: s, port: null };
}

/** Parses one packet (its lines as tcpdump -l -n -tt -v[v] printed them). */
export function parsePacket(lines: readonly string[]): Packet {
  const text = lines.join('\n');
  const flat = text.replace(/\s+/g, ' ').trim();
  const packet: Packet = {
    time: NaN,
    ifname: null,
    direction: null,
    family: null,
    ttl: null,
    src: null,
    dst: null,
    srcPort: null,
    dstPort: null,
    proto: null,
    udpLength: null,
    report: null,
    lines: [...lines],
  };
  const head = /^(\d+\.\d+) (?:(\S+) (In|Out|M|B|P) )?(.*)$/.exec(flat);
  if (!head) return packet;
  packet.time = Number(head[1]);
  packet.ifname = head[2] ?? null;
  packet.direction = head[3] ?? null;
  let rest = head[4] ?? '';

  const fam = /^(IP6?) /.exec(rest);
  if (!fam) return packet;
  packet.family = fam[1] === 'IP6' ? 6 : 4;
  rest = rest.slice(fam[0].length);
  if (rest.startsWith('(')) {
    const close = matchingParen(rest, 0);
    const header = close > 0 ? rest.slice(1, close) : '';
    rest = close > 0 ? rest.slice(close + 1).trim() : rest;
    const ttl = /\b(?:ttl|hlim) (\d+)/.exec(header);
    if (ttl?.[1]) packet.ttl = Number(ttl[1]);
    const proto = /\b(?:proto|next-header) (\S+) \(\d+\)/.exec(header);
    if (proto?.[1]) packet.proto = proto[1];
  }
  const ends = /^(\S+) > (\S+?):(?: (.*))?$/.exec(rest);
  if (ends) {
    const src = splitAddrPort(ends[1] ?? '');
    const dst = splitAddrPort(ends[2] ?? '');
    packet.src = src.addr;
    packet.srcPort = src.port;
    packet.dst = dst.addr;
    packet.dstPort = dst.port;
    const payload = ends[3] ?? '';
    const udp = /\bUDP, length (\d+)/.exec(payload);
    if (udp?.[1]) {
      packet.proto = 'UDP';
      packet.udpLength = Number(udp[1]);
    } else if (/\bICMP6, /.test(payload)) packet.proto = 'ICMP6';
    else if (/^igmp /.test(payload)) packet.proto = 'IGMP';
    else if (/\bICMP /.test(payload)) packet.proto = 'ICMP';
    else if (/\bFlags \[/.test(payload)) packet.proto = 'TCP';
    packet.report = parseMembershipReport(payload);
  }
  return packet;
}

/** Parses tcpdump output lines into packets. */
export function parseTcpdump(lines: readonly string[]): Packet[] {
  return groupPacketLines(lines).map(parsePacket);
}
