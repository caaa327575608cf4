/**
 * The kernel's own view of the host's multicast memberships, read from /proc/net/igmp,
 * /proc/net/igmp6, /proc/net/mcfilter and /proc/net/mcfilter6 (of the calling process's network
 * namespace), and the IGMP / MLD version each interface speaks. It answers "did it join on eth1?"
 * for every program on the host, not only this one; the memberships this process's mcast sockets
 * hold are marked.
 *
 * The parsers are pure functions of the files' text: a line they do not understand is skipped
 * (and counted), never thrown on, since the format is the kernel's and not ours.
 */
import { readFileSync } from 'node:fs';
import { SocketAddress } from 'node:net';
import { endianness } from 'node:os';
import { MembershipOp } from './binding';
import { WeakRegistry } from './weak-registry';

/** One group an interface has joined, as the kernel holds it (all sockets of the host together). */
export interface KernelGroup {
  /** The group address (`239.1.2.3`, `ff1e::1234`). */
  group: string;
  /** The group's address family. */
  family: 'IPv4' | 'IPv6';
  /** How many sockets (of any program) hold the membership, as the kernel counts them. */
  users: number;
  /**
   * The interface's filter mode for the group: 'exclude' (any source, less blocked ones) or
   * 'include' (only the listed sources). Inferred from the per-source counts the kernel shows:
   * 'exclude' when a socket blocks a source, when no source is listed, or when more sockets hold
   * the group than name a source; otherwise 'include'.
   */
  filterMode: 'include' | 'exclude';
  /**
   * In 'include' mode the sources received; in 'exclude' mode the sources at least one socket
   * blocked (with several any-source sockets the others may still receive them: see sourceCounts).
   */
  sources: string[];
  /** Per source, how many sockets include it and how many exclude it (mcfilter's INC and EXC). */
  sourceCounts: Array<{
    /** The source address. */
    source: string;
    /** Sockets that include it (a source-specific join). */
    include: number;
    /** Sockets that exclude it (a blocked source). */
    exclude: number;
  }>;
  /** A link-local group the kernel joins by itself (224.0.0.0/24, ff01::/16, ff02::/16). */
  linkLocal: boolean;
  /**
   * How many of this process's own mcast sockets joined it on this interface (0: other programs
   * or the kernel). Joins made without an interface are counted on the interface the kernel
   * picked when it shows only one candidate.
   */
  ownSockets: number;
}

/** One interface and the groups it has joined. */
export interface InterfaceMemberships {
  /** The interface's name, as the kernel's files print it. */
  name: string;
  /** The interface's index. */
  index: number;
  /**
   * The IGMP version the interface speaks now (1, 2 or 3), from /proc/net/igmp: 3 normally; 2 or 1
   * when forced (net.ipv4.conf.IF.force_igmp_version) or when an older querier was heard on the
   * link, in which case source-specific joins cannot be told to the network. Undefined when the
   * interface has no IPv4 multicast state.
   */
  igmpVersion?: 1 | 2 | 3;
  /** The groups joined on the interface (IPv4 and IPv6). */
  groups: KernelGroup[];
}

/** The texts of the four /proc files (any may be missing: no IPv6, no permission). */
export interface ProcMembershipTexts {
  /** /proc/net/igmp: IPv4 groups per interface, and the IGMP version in use. */
  igmp?: string | undefined;
  /** /proc/net/igmp6: IPv6 groups per interface. */
  igmp6?: string | undefined;
  /** /proc/net/mcfilter: IPv4 source filters (per group and source, how many sockets include / exclude it). */
  mcfilter?: string | undefined;
  /** /proc/net/mcfilter6: IPv6 source filters. */
  mcfilter6?: string | undefined;
}

/** What a parse made of the texts: the interfaces, and how many lines it could not read. */
export interface ParsedMemberships {
  /** The interfaces, by index. */
  interfaces: InterfaceMemberships[];
  /** Lines skipped because they did not have the expected form (0 for the kernel's own files). */
  skippedLines: number;
}

const HEX8 = /^[0-9A-Fa-f]{8}$/;
const HEX32 = /^[0-9A-Fa-f]{32}$/;

/** /proc/net/igmp prints the group as a native-endian u32 of network-order bytes. */
function ipv4FromNativeHex(hex: string, little: boolean): string {
  const bytes = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  return (little ? bytes.reverse() : bytes).join('.');
}

/** /proc/net/mcfilter prints ntohl() values: the address reads in order. */
function ipv4FromHostHex(hex: string): string {
  return ipv4FromNativeHex(hex, false);
}

function ipv6FromHex(hex: string): string {
  const groups = hex.match(/.{4}/g) ?? [];
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

function isLinkLocal(group: string, family: 'IPv4' | 'IPv6'): boolean {
  return family === 'IPv4' ? group.startsWith('224.0.0.') : /^ff0[12]:/i.test(group);
}

interface Collector {
  byIndex: Map<number, InterfaceMemberships>;
  skipped: number;
}

function iface(c: Collector, index: number, name: string): InterfaceMemberships {
  let entry = c.byIndex.get(index);
  if (entry === undefined) {
    entry = { name, index, groups: [] };
    c.byIndex.set(index, entry);
  }
  return entry;
}

function addGroup(c: Collector, index: number, name: string, group: string, family: 'IPv4' | 'IPv6', users: number): void {
  const entry = iface(c, index, name);
  if (entry.groups.some((g) => g.group === group)) return;
  entry.groups.push({
    group,
    family,
    users,
    filterMode: 'exclude',
    sources: [],
    sourceCounts: [],
    linkLocal: isLinkLocal(group, family),
    ownSockets: 0,
  });
}

/**
 * /proc/net/igmp: a header, then per interface `IDX\tNAME : COUNT VERSION` and per group an
 * indented `GROUP USERS TIMER REPORTER` line (GROUP in native-endian hex).
 */
function parseIgmp(c: Collector, text: string, little: boolean): void {
  let current: { index: number; name: string } | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('Idx')) continue;
    const dev = /^(\d+)\s+(\S+)\s*:\s*(\d+)\s+V([123])\s*$/.exec(line);
    if (dev) {
      current = { index: Number(dev[1]), name: dev[2] ?? '' };
      iface(c, current.index, current.name).igmpVersion = Number(dev[4]) as 1 | 2 | 3;
      continue;
    }
    const grp = /^\s+([0-9A-Fa-f]{8})\s+(\d+)\s/.exec(line);
    if (grp && current && HEX8.test(grp[1] ?? '')) {
      addGroup(c, current.index, current.name, ipv4FromNativeHex(grp[1] ?? '', little), 'IPv4', Number(grp[2]));
      continue;
    }
    c.skipped++;
  }
}

/** /proc/net/igmp6: `IDX NAME GROUP(32 hex) USERS FLAGS TIMER` per line, no header. */
function parseIgmp6(c: Collector, text: string): void {
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^\s*(\d+)\s+(\S+)\s+([0-9A-Fa-f]{32})\s+(\d+)\s/.exec(line);
    if (m && HEX32.test(m[3] ?? '')) addGroup(c, Number(m[1]), m[2] ?? '', ipv6FromHex(m[3] ?? ''), 'IPv6', Number(m[4]));
    else c.skipped++;
  }
}

/** /proc/net/mcfilter{,6}: a header, then `IDX NAME GROUP SOURCE INC EXC` per source. */
function parseMcfilter(c: Collector, text: string, family: 'IPv4' | 'IPv6'): void {
  const re =
    family === 'IPv4'
      ? /^\s*(\d+)\s+(\S+)\s+0x([0-9A-Fa-f]{8})\s+0x([0-9A-Fa-f]{8})\s+(\d+)\s+(\d+)\s*$/
      : /^\s*(\d+)\s+(\S+)\s+([0-9A-Fa-f]{32})\s+([0-9A-Fa-f]{32})\s+(\d+)\s+(\d+)\s*$/;
  const addr = family === 'IPv4' ? ipv4FromHostHex : ipv6FromHex;
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('Idx')) continue;
    const m = re.exec(line);
    if (!m) {
      c.skipped++;
      continue;
    }
    const [, index = '', name = '', groupHex = '', sourceHex = '', inc = '', exc = ''] = m;
    const group = addr(groupHex);
    addGroup(c, Number(index), name, group, family, 0);
    const g = iface(c, Number(index), name).groups.find((x) => x.group === group);
    g?.sourceCounts.push({ source: addr(sourceHex), include: Number(inc), exclude: Number(exc) });
  }
}

/** Fills filterMode and sources from the per-source counts (see KernelGroup.filterMode). */
function settleModes(c: Collector): void {
  for (const entry of c.byIndex.values()) {
    for (const g of entry.groups) {
      const included = g.sourceCounts.filter((s) => s.include > 0);
      const blocked = g.sourceCounts.filter((s) => s.exclude > 0);
      const includeTotal = included.reduce((n, s) => n + s.include, 0);
      const exclude = g.sourceCounts.length === 0 || blocked.length > 0 || g.users > includeTotal;
      g.filterMode = exclude ? 'exclude' : 'include';
      g.sources = (exclude ? blocked : included).map((s) => s.source);
    }
  }
}

/** Parses the four files' texts; never throws on their content. */
export function parseMemberships(texts: ProcMembershipTexts, littleEndian = endianness() === 'LE'): ParsedMemberships {
  const c: Collector = { byIndex: new Map(), skipped: 0 };
  if (typeof texts.igmp === 'string') parseIgmp(c, texts.igmp, littleEndian);
  if (typeof texts.igmp6 === 'string') parseIgmp6(c, texts.igmp6);
  if (typeof texts.mcfilter === 'string') parseMcfilter(c, texts.mcfilter, 'IPv4');
  if (typeof texts.mcfilter6 === 'string') parseMcfilter(c, texts.mcfilter6, 'IPv6');
  settleModes(c);
  return { interfaces: [...c.byIndex.values()].sort((a, b) => a.index - b.index), skippedLines: c.skipped };
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

// ---- this process's own memberships ------------------------------------------------------

interface OwnMembership {
  family: 'IPv4' | 'IPv6';
  group: string;
  /** 0: joined where the kernel's route pointed. */
  ifindex: number;
  source: string | null;
}

/** The memberships this process's sockets hold, held weakly (see WeakRegistry). */
const own = new WeakRegistry<object, OwnMembership[]>();

/**
 * @internal A socket's successful membership operation: joins and leaves are recorded (for
 * ownSockets), and a source-specific join on an interface that cannot tell sources to the
 * network (IGMPv1/v2, MLDv1) warns once per interface.
 */
export function noteMembership(
  socket: object,
  op: MembershipOp,
  family: 4 | 6,
  group: string,
  source: string | null,
  ifindex: number,
  ifname: string | undefined,
): void {
  let list = own.get(socket);
  if (op === MembershipOp.Join || op === MembershipOp.JoinSource) {
    if (list === undefined) own.set(socket, (list = []));
    list.push({ family: family === 4 ? 'IPv4' : 'IPv6', group, ifindex, source });
    if (op === MembershipOp.JoinSource && ifname !== undefined) warnWithoutSourceFiltering(family, ifindex, ifname);
  } else if (op === MembershipOp.Leave || op === MembershipOp.LeaveSource) {
    const at = list?.findIndex((m) => m.group === group && m.source === source && m.ifindex === ifindex) ?? -1;
    if (list && at >= 0) list.splice(at, 1);
  }
}

const warnedInterfaces = new Set<string>();

/**
 * IGMPv1/v2 and MLDv1 reports carry no sources: a source-specific join there makes the network
 * (switches, routers) deliver every source of the group. The kernel still filters by source for
 * the socket, so nothing wrong reaches the program, but the user should know why the link carries
 * more than asked for. Emitted once per interface and version.
 */
function warnWithoutSourceFiltering(family: 4 | 6, ifindex: number, ifname: string): void {
  let version: string | undefined;
  if (family === 4) {
    const igmp = readOptional('/proc/net/igmp');
    const v = igmp === undefined ? undefined : parseMemberships({ igmp }).interfaces.find((i) => i.index === ifindex)?.igmpVersion;
    if (v !== undefined && v < 3) version = `IGMPv${v}`;
  } else if (readSysctlNumber(`/proc/sys/net/ipv6/conf/${ifname}/force_mld_version`) === 1) {
    version = 'MLDv1';
  }
  if (version === undefined || warnedInterfaces.has(`${ifname}|${version}`)) return;
  warnedInterfaces.add(`${ifname}|${version}`);
  process.emitWarning(
    `mcast: ${ifname} speaks ${version}, which has no source lists: the source-specific join was reported to the network as a join of the whole group, so switches and routers deliver every source to this host; the kernel still passes only the joined source to the socket (force_igmp_version / force_mld_version, or an older querier on the link)`,
    { code: 'MCAST_NO_SOURCE_FILTERING' },
  );
}

/** @internal A closed socket holds nothing. */
export function noteClosed(socket: object): void {
  own.delete(socket);
}

function markOwn(interfaces: InterfaceMemberships[]): void {
  for (const [, list] of own.entries()) {
    const counted = new Set<string>();
    for (const m of list) {
      // One socket holds a (group, interface) once, whatever the number of sources it named.
      const key = `${m.group}|${m.ifindex}`;
      if (counted.has(key)) continue;
      counted.add(key);
      const holders = interfaces.filter(
        (i) => (m.ifindex === 0 || i.index === m.ifindex) && i.groups.some((g) => g.group === m.group && g.family === m.family),
      );
      if (m.ifindex === 0 && holders.length !== 1) continue;
      for (const i of holders) {
        const g = i.groups.find((x) => x.group === m.group && x.family === m.family);
        if (g) g.ownSockets++;
      }
    }
  }
}

/**
 * The multicast memberships of every interface of this network namespace, as the kernel holds
 * them (all programs' sockets, and the kernel's own link-local groups), with the IGMP version in
 * use per interface and this process's own mcast sockets marked (`ownSockets`).
 * @example memberships().find((i) => i.name === 'eth1')?.groups.map((g) => g.group)
 */
export function memberships(): InterfaceMemberships[] {
  const parsed = parseMemberships({
    igmp: readOptional('/proc/net/igmp'),
    igmp6: readOptional('/proc/net/igmp6'),
    mcfilter: readOptional('/proc/net/mcfilter'),
    mcfilter6: readOptional('/proc/net/mcfilter6'),
  });
  markOwn(parsed.interfaces);
  return parsed.interfaces;
}

// ---- IGMP / MLD versions per interface ---------------------------------------------------

/** The IGMP and MLD versions of one interface and why (forced by sysctl, or an older querier). */
export interface MulticastVersions {
  /** The IGMP version the interface speaks now (undefined: no IPv4 on it). */
  igmpVersion?: 1 | 2 | 3;
  /** net.ipv4.conf.IF.force_igmp_version: 0 (not forced), 1, 2 or 3. */
  igmpForced?: number;
  /**
   * True when the interface speaks an older IGMP than forced/defaulted: an IGMPv1/v2 querier was
   * heard on the link (the querier state that silently turns source-specific joins any-source
   * on the network).
   */
  olderQuerier?: boolean;
  /** net.ipv6.conf.IF.force_mld_version: 0 (not forced), 1 or 2. The kernel does not show which MLD version an MLDv1 querier made it fall back to. */
  mldForced?: number;
}

function readSysctlNumber(path: string): number | undefined {
  const text = readOptional(path);
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  return Number.isInteger(n) ? n : undefined;
}

/** Versions for one interface: `igmpVersion` from /proc/net/igmp, forced versions from /proc/sys. */
export function multicastVersions(name: string, igmpVersion: 1 | 2 | 3 | undefined): MulticastVersions {
  const out: MulticastVersions = {};
  if (/[/\0]|^\.\.?$/.test(name)) return out;
  const igmpForced = readSysctlNumber(`/proc/sys/net/ipv4/conf/${name}/force_igmp_version`);
  const allForced = readSysctlNumber('/proc/sys/net/ipv4/conf/all/force_igmp_version') ?? 0;
  const mldForced = readSysctlNumber(`/proc/sys/net/ipv6/conf/${name}/force_mld_version`);
  if (igmpVersion !== undefined) out.igmpVersion = igmpVersion;
  if (igmpForced !== undefined) out.igmpForced = igmpForced;
  if (mldForced !== undefined) out.mldForced = mldForced;
  if (igmpVersion !== undefined) {
    const forced = igmpForced !== undefined && igmpForced > 0 ? igmpForced : allForced > 0 ? allForced : 3;
    out.olderQuerier = igmpVersion < forced;
  }
  return out;
}
