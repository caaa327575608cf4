/**
 * Conversion of command-line text into checked values: ports, groups, interfaces, counts. Each
 * converter returns the value or throws a UsageError that names the argument and says what was
 * expected, in one line. Interfaces are resolved against listInterfaces() so that an unknown one
 * is reported before any socket is made.
 */
import { isIP } from 'node:net';

import { isMulticast, isUsableGroup } from '../address';
import { type Family, type InterfaceInfo, type InterfaceRef } from '../index';
import { findInterface } from '../interfaces';
import { type PositionalSpec, UsageError } from './args';

export { hostPort, MAX_PAYLOAD } from '../address';

/** The GROUP positional of recv and send, as parseGroup() reads it. */
export const GROUP_ARG: PositionalSpec = {
  name: 'GROUP',
  required: true,
  help: 'multicast group: 239.1.2.3, ff1e::1234 (ff02::1%eth0 also names the interface)',
};

/** The PORT positional, as parsePort() reads it. */
export const PORT_ARG: PositionalSpec = { name: 'PORT', required: true, help: 'UDP port, 1 to 65535' };

export interface Group {
  address: string;
  family: Family;
  /** The zone of an IPv6 group written `ff02::1%eth0`, an interface reference. */
  zone?: string;
}

export interface ChosenInterface {
  /** What the library is given: a name, an address or an index, as the user wrote it. */
  ref: InterfaceRef;
  info: InterfaceInfo;
  /** How the user named it, for messages: `mca0`, `index 3`, `address 10.0.0.1`. */
  how: string;
}

function shown(text: string): string {
  return `'${text.length > 60 ? `${text.slice(0, 60)}...` : text}'`;
}

/** An integer in [min, max] written in decimal. */
export function parseInteger(what: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
    throw new UsageError(`${what} must be ${range}, got ${shown(text)}`);
  }
  return value;
}

/** A finite decimal number > 0 (or >= 0 with allowZero). */
export function parsePositiveNumber(what: string, text: string, allowZero = false): number {
  const value = /^(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new UsageError(`${what} must be a number ${allowZero ? 'of at least 0' : 'greater than 0'}, got ${shown(text)}`);
  }
  return value;
}

export function parsePort(text: string): number {
  return parseInteger('PORT', text, 1, 65535);
}

export function parseTTL(text: string): number {
  return parseInteger('--ttl', text, 0, 255);
}

/** A multicast group, IPv4 (224.0.0.0/4) or IPv6 (ff00::/8, optionally `%zone`). */
export function parseGroup(text: string): Group {
  const at = text.indexOf('%');
  const address = at >= 0 ? text.slice(0, at) : text;
  const zone = at >= 0 ? text.slice(at + 1) : undefined;
  const version = isIP(address);
  if (version === 0 || (version === 4 && zone !== undefined) || zone === '') {
    throw new UsageError(`GROUP must be a multicast address (224.0.0.0/4 or ff00::/8), got ${shown(text)}`);
  }
  const family: Family = version === 4 ? 4 : 6;
  if (!isUsableGroup(address, family)) {
    const range = family === 4 ? '224.0.0.1 to 239.255.255.255' : 'ff00::/8 with a scope other than 0 and f';
    throw new UsageError(`${address} is not a multicast group (expected ${range})`);
  }
  return zone === undefined ? { address, family } : { address, family, zone };
}

/**
 * An IPv6 group of interface-local or link-local scope (ff01::, ff02::, ...) means nothing without
 * its interface: the kernel refuses to route it.
 */
export function requireInterfaceForScope(group: Group, iface: string | undefined): void {
  if (group.family !== 6 || iface !== undefined) return;
  const scope = Number.parseInt(group.address.slice(3, 4), 16);
  if (scope <= 2) {
    throw new UsageError(`${group.address} is a ${scope === 1 ? 'interface' : 'link'}-local group: name its interface with --iface (or write ${group.address}%IFACE)`);
  }
}

/** A unicast address of the group's family, for --source. */
export function parseSource(text: string, family: Family): string {
  const actual = isIP(text);
  if (actual !== family) {
    throw new UsageError(`--source must be a unicast IPv${family} address (the group is IPv${family}), got ${shown(text)}`);
  }
  if (isMulticast(text, family) || /^(0\.0\.0\.0|::|255\.255\.255\.255)$/.test(text)) {
    throw new UsageError(`--source must be a unicast address, got ${shown(text)}`);
  }
  return text;
}

/** A local address of the group's family to bind to, for --bind. */
export function parseBindAddress(text: string, family: Family): string {
  if (isIP(text) !== family) {
    throw new UsageError(`--bind must be an IPv${family} address (the group is IPv${family}), got ${shown(text)}`);
  }
  return text;
}

/**
 * An interface given by name, index or address, looked up in listInterfaces(). `what` names the
 * argument in messages (`--iface`).
 */
export function parseInterface(what: string, text: string, family: Family): ChosenInterface {
  const ref: InterfaceRef = /^\d+$/.test(text) ? Number(text) : text;
  const found = findInterface(ref, family);
  if (found.info !== undefined) {
    const how = found.by === 'index' ? `index ${text}` : found.by === 'address' ? `address ${text}` : text;
    return { ref, info: found.info, how };
  }
  if (found.familyMismatch !== undefined) {
    throw new UsageError(`${what}: ${text} is an IPv${found.familyMismatch} address but the group is IPv${family}; give an IPv${family} address, a name or an index`);
  }
  if (found.by === 'index') throw new UsageError(`${what}: no interface has index ${text} (see 'mcast ifaces')`);
  if (found.by === 'address') throw new UsageError(`${what}: no interface has the address ${text} (see 'mcast ifaces')`);
  throw new UsageError(`${what}: unknown interface ${shown(text)} (see 'mcast ifaces')`);
}

/** A warning for an IPv6 group on a loopback interface, which Linux does not carry. */
export function loopbackIPv6Warning(group: Group, iface: ChosenInterface | undefined): string | undefined {
  if (group.family !== 6 || iface?.info.loopback !== true) return undefined;
  return `warning: Linux does not carry IPv6 multicast on ${iface.info.name} (a loopback interface): use a veth pair or another interface`;
}

/** An address with an optional port: `239.1.2.3`, `239.1.2.3:5000`, `ff1e::1`, `[ff1e::1]:5000`. */
export interface Endpoint {
  address: string;
  family: Family;
  port: number | undefined;
}

/** `ADDR[:PORT]` (IPv6 with a port in brackets). `what` names the argument in messages. */
export function parseEndpoint(what: string, text: string): Endpoint {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  let address = text;
  let portText: string | undefined;
  if (bracketed !== null) {
    address = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if (isIP(text) === 0 && text.lastIndexOf(':') > 0 && isIP(text.slice(0, text.lastIndexOf(':'))) === 4) {
    address = text.slice(0, text.lastIndexOf(':'));
    portText = text.slice(text.lastIndexOf(':') + 1);
  }
  const version = isIP(address);
  if (version === 0) {
    throw new UsageError(`${what}: expected ADDR or ADDR:PORT ([ADDR]:PORT for IPv6), got ${shown(text)}`);
  }
  const port = portText === undefined ? undefined : parseInteger(`${what}: the port`, portText, 1, 65535);
  return { address, family: version === 4 ? 4 : 6, port };
}

/** `GROUP[:PORT]`, a multicast group; the port defaults to `defaultPort`. */
export function parseGroupPort(what: string, text: string, defaultPort: number): Group & { port: number } {
  const endpoint = parseEndpoint(what, text);
  const group = parseGroup(endpoint.address);
  return { ...group, port: endpoint.port ?? defaultPort };
}

/** A comma-separated list of items, none empty. */
export function parseList<T>(what: string, text: string, item: (text: string) => T): T[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.some((p) => p === '')) throw new UsageError(`${what}: an empty item in the list ${shown(text)}`);
  return parts.map(item);
}
