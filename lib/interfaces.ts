/**
 * The host's interfaces, and resolution of an interface reference (name, address or index) to
 * the index that the membership and outgoing-interface socket options take.
 */
import { addressFamily } from './address';
import { binding } from './binding';
import { invalidArgType, mcastError, outOfRange } from './errors';
import type { Family, InterfaceInfo, InterfaceRef } from './types';

const { IFF_UP = 1, IFF_LOOPBACK = 8, IFF_MULTICAST = 0x1000 } = binding.constants;

/**
 * Lists the interfaces with their flags and addresses, ordered by index.
 * @example listInterfaces().filter((i) => i.multicast && i.up).map((i) => i.name)
 */
export function listInterfaces(): InterfaceInfo[] {
  const byName = new Map<string, InterfaceInfo>();
  for (const [name, index, flags, family, address, netmask, scopeId] of binding.listInterfaces()) {
    let entry = byName.get(name);
    if (entry === undefined) {
      entry = {
        name,
        index,
        up: (flags & IFF_UP) !== 0,
        multicast: (flags & IFF_MULTICAST) !== 0,
        loopback: (flags & IFF_LOOPBACK) !== 0,
        addresses: [],
      };
      byName.set(name, entry);
    }
    if (family !== 0) entry.addresses.push({ family: family === 4 ? 'IPv4' : 'IPv6', address, netmask, scopeId });
  }
  return [...byName.values()].sort((a, b) => a.index - b.index);
}

/** A resolved interface: its index and a label for messages, e.g. `eth1 (index 3)`. */
export interface ResolvedInterface {
  index: number;
  name: string;
  label: string;
  /** The address the reference named, when it was an address. */
  address?: string;
  /** How the reference named it (a membership made by name is joined again when the name comes back). */
  by?: 'name' | 'index' | 'address';
}

const NAME_MAX_BYTES = 15; // IFNAMSIZ - 1

function unknownInterface(message: string): Error & { code: string } {
  return mcastError('ERR_MCAST_UNKNOWN_INTERFACE', message);
}

function resolved(index: number, name: string): ResolvedInterface {
  return { index, name, label: `${name} (index ${index})` };
}

/** What {@link findInterface} found, and how the reference was read. */
export interface InterfaceLookup {
  /** How the reference was read: an index, a local address, or a name. */
  by: 'index' | 'address' | 'name';
  /** The interface, when one matches. */
  info: InterfaceInfo | undefined;
  /** The family of an address reference that is not the socket's. */
  familyMismatch?: 4 | 6;
}

/**
 * The one interface lookup of every facade: an index, an address of `family` (the interface
 * that has it), or a name, looked up in `list`. Says what it found and never throws; each facade
 * words its own error.
 */
export function findInterface(ref: number | string, family: Family, list: readonly InterfaceInfo[] = listInterfaces()): InterfaceLookup {
  if (typeof ref === 'number') return { by: 'index', info: list.find((info) => info.index === ref) };
  const actual = addressFamily(ref);
  if (actual !== 0) {
    if (actual !== family) return { by: 'address', info: undefined, familyMismatch: actual };
    const wanted = family === 4 ? 'IPv4' : 'IPv6';
    const normalized = ref.toLowerCase();
    const info = list.find((i) => i.addresses.some((a) => a.family === wanted && a.address.toLowerCase() === normalized));
    return { by: 'address', info };
  }
  return { by: 'name', info: list.find((info) => info.name === ref) };
}

/**
 * The interface index of an IPv6 zone as the core reads it: an interface name or a decimal
 * index, which must exist (ERR_MCAST_UNKNOWN_INTERFACE otherwise; `name` names the argument).
 */
export function zoneIndex(name: string, zone: string): number {
  return resolveInterface(name, /^\d+$/.test(zone) ? Number(zone) : zone, 6).index;
}

/**
 * The interface index of an IPv6 zone as libuv's uv_ip6_addr reads it on Linux (and so
 * node:dgram): if_nametoindex(zone), and 0, "no zone", for a name no interface has. libuv reads
 * a number after `%` as a name too, so `%3` is 0 unless an interface is named `3`.
 */
export function libuvZoneIndex(zone: string): number {
  return zone === '' ? 0 : binding.ifNameToIndex(zone);
}

function byIndex(name: string, index: number): ResolvedInterface {
  if (!Number.isInteger(index) || index < 1 || index > 0x7fffffff) {
    // A number of the wrong value, like Node's validateInteger: a RangeError, ERR_OUT_OF_RANGE.
    throw outOfRange(name, 'an interface index from 1 to 2147483647 (or an interface name or address)', index);
  }
  const ifname = binding.ifIndexToName(index);
  if (ifname === undefined) throw unknownInterface(`No interface has index ${index} (see listInterfaces())`);
  return { ...resolved(index, ifname), by: 'index' };
}

function byAddress(name: string, address: string, family: Family): ResolvedInterface {
  const found = findInterface(address, family);
  if (found.familyMismatch !== undefined) {
    throw mcastError(
      'ERR_MCAST_FAMILY_MISMATCH',
      `The "${name}" argument ${address} is an IPv${found.familyMismatch} address but the socket is IPv${family}`,
    );
  }
  if (found.by !== 'address') {
    throw mcastError('ERR_INVALID_IP_ADDRESS', `The "${name}" argument '${address}' is neither an interface name nor a valid address`, 'type');
  }
  if (found.info === undefined) throw unknownInterface(`No interface has the address ${address} (see listInterfaces())`);
  return { ...resolved(found.info.index, found.info.name), address, by: 'address' };
}

function byName(name: string, ifname: string): ResolvedInterface {
  if (ifname.length === 0 || Buffer.byteLength(ifname) > NAME_MAX_BYTES || /[\0/\s:]/.test(ifname) || ifname === '.' || ifname === '..') {
    throw mcastError(
      'ERR_INVALID_ARG_VALUE',
      `The "${name}" argument '${ifname.replace(/\0/g, '\\0')}' is not a valid interface name (1 to ${NAME_MAX_BYTES} bytes, no NUL, '/', ':' or white space)`,
      'type',
    );
  }
  const index = binding.ifNameToIndex(ifname);
  if (index === 0) throw unknownInterface(`No interface is named '${ifname}' (see listInterfaces())`);
  return { ...resolved(index, ifname), by: 'name' };
}

/** Resolves a name, an address of the socket's family or an index to an existing interface. */
export function resolveInterface(name: string, ref: InterfaceRef, family: Family): ResolvedInterface {
  if (typeof ref === 'number') return byIndex(name, ref);
  if (typeof ref !== 'string') {
    throw invalidArgType(name, 'an interface name, address or index', ref);
  }
  if (addressFamily(ref) !== 0 || (ref.includes(':') && !ref.includes('%') && ref.length > 2)) {
    return byAddress(name, ref, family);
  }
  return byName(name, ref);
}

/** The first IPv4 address of the interface with `index`, if it has one. */
export function firstIPv4Address(index: number): string | undefined {
  return listInterfaces()
    .find((info) => info.index === index)
    ?.addresses.find((a) => a.family === 'IPv4')?.address;
}

/** Name of the interface with `index`, or `index N` when it has gone. */
export function interfaceName(index: number): string {
  return binding.ifIndexToName(index) ?? `index ${index}`;
}
