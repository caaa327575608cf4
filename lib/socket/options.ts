/**
 * The socket's creation options, checked and given their defaults before any socket exists (so
 * bad input leaves nothing open), and the per-family option names the setters use.
 */
import { constants as osConstants } from 'node:os';

import { binding } from '../binding';
import { invalidArgType } from '../errors';
import { resolveInterface, type ResolvedInterface, zoneIndex } from '../interfaces';
import { splitZone } from '../address';
import {
  checkAddress,
  checkBoolean,
  checkFamily,
  checkInteger,
  checkKnownKeys,
  checkOptionsObject,
  checkPort,
} from '../validate';
import type { Family, InterfaceRef, SocketOptions } from '../types';

/** The binding's socket constants (levels and option names). */
export const C = binding.constants as Record<string, number>;
const SOCKET_OPTION_KEYS = [
  'family', 'port', 'address', 'reuseAddr', 'reusePort', 'multicastAll', 'ipv6Only', 'recvBufferSize', 'sendBufferSize',
  'batchSize', 'maxMessageSize', 'timestamps', 'receiveTTL', 'ttl', 'loopback', 'interface', 'bindToDevice', 'rejoin', 'fd',
  'gso', 'gro', 'busyPoll', 'preferBusyPoll', 'sourceAddress',
] as const;
/** The largest buffer size setsockopt takes (the kernel doubles it into an int). */
export const MAX_BUFFER_SIZE = 0x3fffffff;
/** With UDP_GRO a receive slot must hold a whole merged receive: the kernel merges up to 64 KiB. */
export const GRO_SLOT_BYTES = 65536;
/** UDP_GRO_CNT_MAX: the most datagrams the kernel merges into one receive (native/gro_split.h). */
export const GRO_MAX_SEGMENTS = 64;
/** The longest SO_BUSY_POLL mcast accepts, in µs: a second of spinning per empty receive. */
const MAX_BUSY_POLL_US = 1_000_000;
/** asm-generic/socket.h; not in every libc's headers. */
export const SO_BUSY_POLL = 46;
export const SO_PREFER_BUSY_POLL = 69;
/** The hint for a refused busy-poll option. */
export const NEEDS_NET_ADMIN = 'raising it needs CAP_NET_ADMIN in the network namespace';

/** What a failed bind means, where the generic errno hint would speak of memberships. */
export const BIND_HINTS: Readonly<Record<number, string>> = {
  [-(osConstants.errno.EADDRNOTAVAIL ?? 99)]: 'the address is not assigned to any interface of this host',
  [-(osConstants.errno.EADDRINUSE ?? 98)]: 'another socket has this port; both need reuseAddr (SO_REUSEADDR) to share it',
  [-(osConstants.errno.EACCES ?? 13)]: 'ports below 1024 need CAP_NET_BIND_SERVICE',
};

/** What a failed SO_BINDTODEVICE means. */
export const DEVICE_HINTS: Readonly<Record<number, string>> = {
  [-(osConstants.errno.EPERM ?? 1)]: 'binding to a device needs CAP_NET_RAW',
  [-(osConstants.errno.ENODEV ?? 19)]: 'the interface has gone',
};

/** options.bindToDevice: an interface (or VRF) name or index; an address names its interface. */
function resolveDevice(ref: unknown): ResolvedInterface {
  if (typeof ref !== 'string' && typeof ref !== 'number') {
    throw invalidArgType('options.bindToDevice', 'an interface or VRF name or index', ref);
  }
  // The family only matters for an address, whose family must then match the socket's: any is
  // accepted here by trying the address's own family.
  return resolveInterface('options.bindToDevice', ref, typeof ref === 'string' && ref.includes(':') ? 6 : 4);
}

/** Per-family socket option names, like Go's ipv4/ipv6 option tables. */
export function optionTable(family: Family) {
  const v6 = family === 6;
  return {
    level: v6 ? C.IPPROTO_IPV6! : C.IPPROTO_IP!,
    ttl: v6 ? C.IPV6_MULTICAST_HOPS! : C.IP_MULTICAST_TTL!,
    ttlLabel: v6 ? 'setsockopt(IPV6_MULTICAST_HOPS)' : 'setsockopt(IP_MULTICAST_TTL)',
    loop: v6 ? C.IPV6_MULTICAST_LOOP! : C.IP_MULTICAST_LOOP!,
    loopLabel: v6 ? 'setsockopt(IPV6_MULTICAST_LOOP)' : 'setsockopt(IP_MULTICAST_LOOP)',
    all: v6 ? C.IPV6_MULTICAST_ALL! : C.IP_MULTICAST_ALL!,
    allLabel: v6 ? 'setsockopt(IPV6_MULTICAST_ALL)' : 'setsockopt(IP_MULTICAST_ALL)',
  };
}

/**
 * The bind address and its IPv6 zone (`fe80::1%eth0`, `fe80::1%3`: an interface name or index,
 * which must exist), as the sin6_scope_id the kernel needs for a link-local address.
 */
function bindAddress(value: unknown, family: Family): { address: string; scopeId: number } {
  if (value === undefined) return { address: family === 4 ? '0.0.0.0' : '::', scopeId: 0 };
  const { address, zone } = family === 6 && typeof value === 'string' ? splitZone(value) : { address: value, zone: undefined };
  const checked = checkAddress('options.address', address, family);
  if (zone === undefined) return { address: checked, scopeId: 0 };
  return { address: checked, scopeId: zoneIndex('options.address', zone) };
}

/** Every creation option, checked, with its default filled in (undefined: leave the kernel's). */
export function checkSocketOptions(options: SocketOptions) {
  const o = checkOptionsObject('options', options);
  checkKnownKeys('options', o, SOCKET_OPTION_KEYS);
  const family = o.family === undefined ? 4 : checkFamily(o.family);
  const port = o.port === undefined ? 0 : checkPort('options.port', o.port, true);
  const { address, scopeId } = bindAddress(o.address, family);
  const flag = (key: keyof SocketOptions, fallback: boolean): boolean =>
    o[key] === undefined ? fallback : checkBoolean(`options.${key}`, o[key]);
  const buffer = (key: 'recvBufferSize' | 'sendBufferSize'): number | undefined =>
    o[key] === undefined ? undefined : checkInteger(`options.${key}`, o[key], 1, MAX_BUFFER_SIZE);
  return {
    family,
    port,
    address,
    scopeId,
    reuseAddr: flag('reuseAddr', true),
    reusePort: flag('reusePort', false),
    multicastAll: flag('multicastAll', false),
    ipv6Only: flag('ipv6Only', true),
    timestamps: flag('timestamps', false),
    receiveTTL: flag('receiveTTL', false),
    sourceAddress: flag('sourceAddress', true),
    rejoin: flag('rejoin', true),
    gso: flag('gso', true),
    gro: flag('gro', false),
    batchSize: o.batchSize === undefined ? 64 : checkInteger('options.batchSize', o.batchSize, 1, 1024),
    maxMessageSize: o.maxMessageSize === undefined ? 2048 : checkInteger('options.maxMessageSize', o.maxMessageSize, 1, 65535),
    recvBufferSize: buffer('recvBufferSize'),
    sendBufferSize: buffer('sendBufferSize'),
    ttl: o.ttl === undefined ? undefined : checkInteger('options.ttl', o.ttl, 0, 255),
    loopback: o.loopback === undefined ? undefined : checkBoolean('options.loopback', o.loopback),
    outgoing: o.interface === undefined ? undefined : resolveInterface('options.interface', o.interface as InterfaceRef, family),
    device: o.bindToDevice === undefined ? undefined : resolveDevice(o.bindToDevice),
    sharedFd: o.fd === undefined ? -1 : checkInteger('options.fd', o.fd, 0, 0x7fffffff),
    busyPoll: o.busyPoll === undefined ? undefined : checkInteger('options.busyPoll', o.busyPoll, 0, MAX_BUSY_POLL_US),
    preferBusyPoll: flag('preferBusyPoll', false),
  };
}
