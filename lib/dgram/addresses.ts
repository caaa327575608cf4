/**
 * Addresses as libuv reads them for dgram (uv_ip4_addr, uv_ip6_addr): an IPv6 address may
 * carry a zone, an interface name that becomes sin6_scope_id (0, ignored, for a name no
 * interface has). The zone rule itself lives in lib/interfaces.ts, the address rules in
 * lib/address.ts; this module only turns dgram's text into what the core socket takes.
 */
import { isIPv6 } from 'node:net';

import { splitZone } from '../address';
import { libuvZoneIndex } from '../interfaces';

/** An IPv6 address and the interface index of its zone (0 without one). */
export interface ScopedIPv6 {
  address: string;
  scopeId: number;
}

/** uv_ip6_addr(): an IPv6 address with an optional `%zone`; undefined when it is none. */
export function parseIPv6(text: string): ScopedIPv6 | undefined {
  const { address, zone } = splitZone(text);
  if (!isIPv6(address)) return undefined;
  return { address, scopeId: zone === undefined ? 0 : libuvZoneIndex(zone) };
}

/**
 * The address text the core socket takes for what libuv would parse from `ip`: the zone as its
 * index (`fe80::1%3`), or no zone where libuv's scope id would be 0.
 */
export function coreAddress(ip: string): string {
  const scoped = ip.includes('%') ? parseIPv6(ip) : undefined;
  if (scoped === undefined) return ip;
  return scoped.scopeId > 0 ? `${scoped.address}%${scoped.scopeId}` : scoped.address;
}

/**
 * The interface of an IPv6 membership as libuv takes it: an address whose `%zone` names the
 * interface (no zone, or none given: 0, the kernel's choice); undefined when it is no address.
 */
export function membershipIfindex(iface: string | null): number | undefined {
  if (iface === null) return 0;
  return parseIPv6(iface)?.scopeId;
}
