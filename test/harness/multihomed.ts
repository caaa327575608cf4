/**
 * The multi-homed host that several test files build: this namespace (the host under test) with
 * link A to peer host PA and link B to peer host PB, each a /24 (and optionally a /64) of its own.
 *
 *   const { pa, pb, linkA, linkB } = await multiHomed(net, { subnet: 71, secondSource: true });
 *   linkA.self.addr4   // '10.71.1.1'; PA is 10.71.1.2 (and 10.71.1.3), PB 10.71.2.2
 */
import type { Host } from './hosts.js';
import type { Link } from './links.js';
import type { Topology } from './topologies.js';

/** Options of multiHomed(). */
export interface MultiHomedOptions {
  /** N of the addresses: link A is 10.N.1.0/24 (self .1, PA .2), link B 10.N.2.0/24 (self .1, PB .2). */
  subnet: number;
  /** A second address on PA's end of link A, 10.N.1.3: a second source for source-specific tests. */
  secondSource?: boolean;
}

/** The two peers and the two links of a multi-homed host (see the module comment). */
export interface MultiHomed {
  pa: Host;
  pb: Host;
  /** net.self's end `a0`, PA's end `pa0` (names with the topology's prefix). */
  linkA: Link;
  /** net.self's end `b0`, PB's end `pb0`. */
  linkB: Link;
}

/** Builds the multi-homed host of the module comment in `net`. */
export async function multiHomed(net: Topology, opts: MultiHomedOptions): Promise<MultiHomed> {
  const [pa, pb] = await Promise.all([net.host('pa'), net.host('pb')]);
  const a = `10.${opts.subnet}.1`;
  const b = `10.${opts.subnet}.2`;
  const linkA = await net.link(net.self, net.ifname('a0'), pa, net.ifname('pa0'), { selfAddr: `${a}.1/24`, peerAddr: `${a}.2/24` });
  const linkB = await net.link(net.self, net.ifname('b0'), pb, net.ifname('pb0'), { selfAddr: `${b}.1/24`, peerAddr: `${b}.2/24` });
  if (opts.secondSource === true) await pa.addAddress(linkA.peer.ifname, `${a}.3/24`);
  return { pa, pb, linkA, linkB };
}
