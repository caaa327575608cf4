/**
 * Argument checks. Each either returns the checked value or throws a Node-style error that
 * names the argument, what was expected and what was received. Native code never re-checks.
 */
import { addressFamily, badSourceReason, isMulticast, reservedGroupReason, splitZone } from './address';
import { invalidArgType, mcastError, outOfRange } from './errors';
import type { Family } from './types';

export function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, `an integer from ${min} to ${max}`, value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

export function checkPort(name: string, value: unknown, allowZero: boolean): number {
  const min = allowZero ? 0 : 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 65535) {
    const error = outOfRange(name, `an integer from ${min} to 65535`, value);
    throw Object.assign(error, { code: 'ERR_SOCKET_BAD_PORT' });
  }
  return value;
}

export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  return value;
}

export function checkFamily(value: unknown): Family {
  if (value !== 4 && value !== 6) throw invalidArgType('family', '4 or 6', value);
  return value;
}

/** A numeric address of the socket's family (no zone). */
export function checkAddress(name: string, value: unknown, family: Family): string {
  const text = checkString(name, value);
  const actual = addressFamily(text);
  if (actual === 0) {
    throw mcastError('ERR_INVALID_IP_ADDRESS', `The "${name}" argument must be a numeric IPv${family} address. Received '${text}'`, 'type');
  }
  if (actual !== family) {
    throw mcastError(
      'ERR_MCAST_FAMILY_MISMATCH',
      `The "${name}" argument ${text} is an IPv${actual} address but the socket is IPv${family}`,
    );
  }
  return text;
}

/** A multicast group of the socket's family; an IPv6 group may carry a zone (`ff02::1%eth0`). */
export function checkGroup(name: string, value: unknown, family: Family): { group: string; zone: string | undefined } {
  const text = checkString(name, value);
  const { address, zone } = family === 6 ? splitZone(text) : { address: text, zone: undefined };
  const group = checkAddress(name, address, family);
  if (!isMulticast(group, family)) {
    const range = family === 4 ? '224.0.0.0/4' : 'ff00::/8';
    throw mcastError('ERR_MCAST_NOT_MULTICAST', `The "${name}" argument ${group} is not a multicast address (expected ${range})`);
  }
  const reserved = reservedGroupReason(group, family);
  if (reserved !== undefined) {
    throw mcastError('ERR_MCAST_RESERVED_GROUP', `The "${name}" argument ${group} cannot be used: ${reserved}`);
  }
  return { group, zone };
}

/** A unicast source address of the socket's family for source-specific operations. */
export function checkSource(name: string, value: unknown, family: Family): string {
  const source = checkAddress(name, value, family);
  const reason = badSourceReason(source, family);
  if (reason !== undefined) {
    throw mcastError('ERR_MCAST_BAD_SOURCE', `The "${name}" argument ${source} is not a valid source: ${reason}`);
  }
  return source;
}

/** Rejects keys that are not options, so a typo does not silently do nothing. */
export function checkKnownKeys(name: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw mcastError(
        'ERR_INVALID_ARG_VALUE',
        `The "${name}" argument has an unknown option "${key}" (known: ${known.join(', ')})`,
        'type',
      );
    }
  }
}

export function checkOptionsObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType(name, 'an object', value);
  }
  return value as Record<string, unknown>;
}
