/**
 * Links between hosts: veth pairs (both ends up, addresses set, IPv6 link-local usable at once)
 * and Linux bridges ("switches") with IGMP/MLD snooping whose ports are veth pairs to hosts.
 *
 * Interface names must start with `mc` (the sandbox check refuses others) and have at most 15
 * characters. Veth ends get accept_dad=0 and router_solicitations=0 before they go up, so their
 * IPv6 link-local address is usable at once and captures are not cluttered by solicitations.
 */
import { isIP } from 'node:net';
import { stripPrefix, type Host } from './hosts.js';
import { HARNESS_IFACE_PREFIX } from './sandbox.js';

export interface LinkOptions {
  /** Address (CIDR, IPv4 or IPv6) of the first host's end ("self" side of the link). */
  selfAddr?: string;
  /** Address (CIDR, IPv4 or IPv6) of the second host's end ("peer" side of the link). */
  peerAddr?: string;
  /** An extra IPv6 global address (CIDR) of the first end (added with nodad). */
  selfAddr6?: string;
  /** An extra IPv6 global address (CIDR) of the second end (added with nodad). */
  peerAddr6?: string;
  mtu?: number;
}

/** One end of a veth link. */
export interface Endpoint {
  host: Host;
  ifname: string;
  ifindex: number;
  /** IPv4 address without prefix length, when one was given. */
  addr4: string | null;
  /** IPv6 global address without prefix length, when one was given. */
  addr6: string | null;
  /** IPv6 link-local address (fe80::...), without scope. */
  linkLocal: string;
}

export interface Link {
  /** The end in the first host given to net.link(). */
  self: Endpoint;
  /** The end in the second host given to net.link(). */
  peer: Endpoint;
}

const IFNAME = /^[A-Za-z0-9_-]{1,15}$/;

/** Throws unless `name` is an interface name the sandbox allows (`mc...`, at most 15 characters). */
export function checkIfname(name: string): void {
  if (!IFNAME.test(name) || !name.startsWith(HARNESS_IFACE_PREFIX)) {
    throw new Error(
      `interface name ${JSON.stringify(name)}: must start with "${HARNESS_IFACE_PREFIX}" and have at most 15 characters [A-Za-z0-9_-]`,
    );
  }
}

/**
 * Makes a veth pair: `aIf` in host a, `bIf` in host b (a may be b), both up, addresses set,
 * IPv6 link-local usable. Returns both ends with their ifindex and addresses.
 */
export async function makeVeth(a: Host, aIf: string, b: Host, bIf: string, opts: LinkOptions = {}): Promise<Link> {
  checkIfname(aIf);
  checkIfname(bIf);
  if (a === b && aIf === bIf) throw new Error('both ends of a link need different names');
  if (a === b) {
    await a.ip('link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf);
  } else if (b.isSelf) {
    // Made in b (self) with the far end in a, so that `netns` always names a peer's descriptor.
    await b.execWithNs((p) => ['ip', 'link', 'add', bIf, 'type', 'veth', 'peer', 'name', aIf, 'netns', p[0] ?? ''], [a], {
      check: true,
    });
  } else {
    await a.execWithNs((p) => ['ip', 'link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf, 'netns', p[0] ?? ''], [b], {
      check: true,
    });
  }
  const [self, peer] = await Promise.all([
    configureEnd(a, aIf, opts.selfAddr, opts.selfAddr6, opts.mtu),
    configureEnd(b, bIf, opts.peerAddr, opts.peerAddr6, opts.mtu),
  ]);
  // Link-local addresses appear once both ends are up.
  self.linkLocal = await a.linkLocal(aIf);
  peer.linkLocal = await b.linkLocal(bIf);
  return { self, peer };
}

/** Sets up one end of a new link: no DAD, no router solicitations, addresses, MTU, up. */
async function configureEnd(
  host: Host,
  ifname: string,
  addr: string | undefined,
  addr6: string | undefined,
  mtu: number | undefined,
): Promise<Endpoint> {
  await host.exec(
    ['tee', `/proc/sys/net/ipv6/conf/${ifname}/accept_dad`, `/proc/sys/net/ipv6/conf/${ifname}/router_solicitations`],
    { input: '0\n', check: true },
  );
  let addr4: string | null = null;
  let global6: string | null = null;
  for (const cidr of [addr, addr6]) {
    if (cidr === undefined) continue;
    await host.addAddress(ifname, cidr);
    if (isIP(stripPrefix(cidr)) === 4) addr4 = stripPrefix(cidr);
    else global6 = stripPrefix(cidr);
  }
  if (mtu !== undefined) await host.ip('link', 'set', 'dev', ifname, 'mtu', String(mtu));
  await host.ip('link', 'set', 'dev', ifname, 'up');
  return { host, ifname, ifindex: await host.ifindex(ifname), addr4, addr6: global6, linkLocal: '' };
}

/** Options of a Linux bridge used as a switch (`ip link add NAME type bridge ...`). */
export interface BridgeOptions {
  /** mcast_snooping: forward a group only to ports that joined it (default true). */
  snooping?: boolean;
  /** mcast_querier: the bridge sends IGMP/MLD general queries itself (default true). */
  querier?: boolean;
  /** mcast_igmp_version: the IGMP version of the bridge's queries and snooping (default 3). */
  igmpVersion?: 2 | 3;
  /** mcast_mld_version: the MLD version of the bridge's queries and snooping (default 2). */
  mldVersion?: 1 | 2;
  /** mcast_last_member_interval in ms (the kernel's default is 1000): how fast a leave takes effect. */
  lastMemberIntervalMs?: number;
  /** mcast_query_interval in ms (the kernel's default is 125000). */
  queryIntervalMs?: number;
  /**
   * mcast_query_response_interval in ms (the kernel's default is 10000). Also how long the bridge
   * floods groups nobody joined after its querier is enabled: it first gives hosts that much time
   * to answer its query (see Bridge.snoopingFrom).
   */
  queryResponseIntervalMs?: number;
  /** The bridge's own IPv4 address (CIDR): the source of its IGMP queries. */
  addr?: string;
}

/** A Linux bridge in a host, with its own interface (the bridge device). */
export interface Bridge {
  host: Host;
  ifname: string;
  ifindex: number;
  /** The bridge's IPv4 address without prefix length, when one was given. */
  addr4: string | null;
  /** The ports added with addBridgePort(), in order. */
  ports: BridgePort[];
  /**
   * Date.now() from which the bridge forwards a group only to its members: enabling the querier
   * makes the kernel flood every group for one query response interval (the hosts' time to answer
   * its first query). waitSnooping() waits for it.
   */
  snoopingFrom: number;
}

/** One port of a bridge: a veth pair with one end enslaved to the bridge and one end in a host. */
export interface BridgePort {
  bridge: Bridge;
  /** The end enslaved to the bridge (in the bridge's host; no address). Capture here to see what the switch sends. */
  port: Endpoint;
  /** The end in the attached host. */
  end: Endpoint;
}

/** Options of a bridge port's host end. */
export interface BridgePortOptions {
  /** Address (CIDR, IPv4 or IPv6) of the host's end. */
  addr?: string;
  /** An extra IPv6 global address (CIDR) of the host's end. */
  addr6?: string;
}

/** A bridge option value in centiseconds (USER_HZ), as `ip link ... type bridge` takes them. */
function centiseconds(ms: number): string {
  return String(Math.max(1, Math.round(ms / 10)));
}

/** Makes a bridge in `host`, with IGMP/MLD snooping and a querier unless told otherwise, and brings it up. */
export async function makeBridge(host: Host, ifname: string, opts: BridgeOptions = {}): Promise<Bridge> {
  checkIfname(ifname);
  const args = ['link', 'add', ifname, 'type', 'bridge'];
  args.push('mcast_snooping', opts.snooping === false ? '0' : '1');
  args.push('mcast_igmp_version', String(opts.igmpVersion ?? 3), 'mcast_mld_version', String(opts.mldVersion ?? 2));
  if (opts.lastMemberIntervalMs !== undefined) args.push('mcast_last_member_interval', centiseconds(opts.lastMemberIntervalMs));
  if (opts.queryIntervalMs !== undefined) args.push('mcast_query_interval', centiseconds(opts.queryIntervalMs));
  const responseMs = opts.queryResponseIntervalMs ?? 10_000;
  if (opts.queryResponseIntervalMs !== undefined) args.push('mcast_query_response_interval', centiseconds(responseMs));
  await host.ip(...args);
  // The querier is enabled once the response interval is set: enabling it starts the flooding
  // delay with the interval in force at that moment.
  if (opts.querier !== false) await host.ip('link', 'set', 'dev', ifname, 'type', 'bridge', 'mcast_querier', '1');
  const snoopingFrom = Date.now() + responseMs + 200;
  await host.exec(['tee', `/proc/sys/net/ipv6/conf/${ifname}/accept_dad`, `/proc/sys/net/ipv6/conf/${ifname}/router_solicitations`], {
    input: '0\n',
    check: true,
  });
  if (opts.addr !== undefined) await host.addAddress(ifname, opts.addr);
  await host.ip('link', 'set', 'dev', ifname, 'up');
  return {
    host,
    ifname,
    ifindex: await host.ifindex(ifname),
    addr4: opts.addr !== undefined ? stripPrefix(opts.addr) : null,
    ports: [],
    snoopingFrom,
  };
}

/** Waits until the bridge has stopped flooding groups nobody joined (see Bridge.snoopingFrom). */
export async function waitSnooping(bridge: Bridge): Promise<void> {
  const ms = bridge.snoopingFrom - Date.now();
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

/**
 * Connects `host` to the bridge: a veth pair `portIf` (enslaved to the bridge, in the bridge's
 * host) to `hostIf` (in `host`, with the given addresses), both up.
 */
export async function addBridgePort(
  bridge: Bridge,
  portIf: string,
  host: Host,
  hostIf: string,
  opts: BridgePortOptions = {},
): Promise<BridgePort> {
  const link = await makeVeth(bridge.host, portIf, host, hostIf, {
    ...(opts.addr !== undefined ? { peerAddr: opts.addr } : {}),
    ...(opts.addr6 !== undefined ? { peerAddr6: opts.addr6 } : {}),
  });
  await bridge.host.ip('link', 'set', 'dev', portIf, 'master', bridge.ifname);
  const bp: BridgePort = { bridge, port: link.self, end: link.peer };
  bridge.ports.push(bp);
  return bp;
}

/** One entry of the bridge's multicast database (`bridge -j mdb show`). */
export interface MdbEntry {
  /** The bridge port (interface name) that has a member. */
  port: string;
  group: string;
  /** The source of an (S,G) entry; undefined for (*,G). */
  source?: string;
  /** 'include' / 'exclude' (IGMPv3 / MLDv2 snooping), when the kernel reports it. */
  filterMode?: string;
  /** Sources tracked for the entry. */
  sourceList?: Array<{ address: string }>;
}

/** The bridge's multicast database: which ports have members for which groups (and sources). */
export async function bridgeMdb(bridge: Bridge): Promise<MdbEntry[]> {
  const out = await bridge.host.exec(['bridge', '-j', '-d', 'mdb', 'show', 'dev', bridge.ifname], { check: true });
  const parsed = JSON.parse(out.stdout.trim() === '' ? '[]' : out.stdout) as Array<{ mdb?: Array<Record<string, unknown>> }>;
  const entries: MdbEntry[] = [];
  for (const block of parsed) {
    for (const e of block.mdb ?? []) {
      entries.push({
        port: String(e.port ?? ''),
        group: String(e.grp ?? ''),
        ...(typeof e.src === 'string' ? { source: e.src } : {}),
        ...(typeof e.filter_mode === 'string' ? { filterMode: e.filter_mode } : {}),
        ...(Array.isArray(e.source_list) ? { sourceList: e.source_list as Array<{ address: string }> } : {}),
      });
    }
  }
  return entries;
}
