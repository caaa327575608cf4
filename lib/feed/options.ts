/**
 * Validation of {@link FeedOptions}: every value is checked, with the project's one rule for
 * each (lib/validate.ts, lib/interfaces.ts), before any socket is opened.
 */
import { addressFamily } from '../address';
import { invalidArgType, mcastError } from '../errors';
import { listInterfaces, resolveInterface, type ResolvedInterface } from '../interfaces';
import type { Family, InterfaceRef } from '../types';
import { checkAddress, checkBoolean, checkGroup, checkInteger, checkKnownKeys, checkOptionsObject, checkPort, checkSource, checkString } from '../validate';
import type { FeedOptions, FixedSequence, SequenceFormat } from './types';

/** Most lines of one feed (native/feed_arbiter.h kMaxFeedLines). */
export const MAX_FEED_LINES = 8;
/** Largest sequence number: an exact JS number. */
const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER;

const FEED_KEYS = [
  'lines', 'sequence', 'gapTimeout', 'staleAfter', 'retransmit', 'maxPending', 'startSequence',
  'timestamps', 'batchSize', 'maxMessageSize', 'recvBufferSize', 'kernelFilter', 'kernelFilterWindow',
] as const;
const LINE_KEYS = ['group', 'port', 'interface', 'source', 'name'] as const;
const FIXED_KEYS = ['offset', 'size', 'endian'] as const;
const RETRANSMIT_KEYS = ['address', 'port', 'interface', 'timeout', 'retries', 'maxRequestsPerSecond'] as const;

/** A line, checked. */
export interface ResolvedLine {
  group: string;
  port: number;
  interface: ResolvedInterface;
  /** The interface as given: a membership made by name is joined again when the name comes back. */
  interfaceRef: InterfaceRef;
  source: string | undefined;
  name: string;
}

/** The retransmission options, checked, with their defaults. */
export interface ResolvedRetransmit {
  address: string;
  port: number;
  /** The local address requests are sent from (and answers come to), from `interface`. */
  bindAddress: string | undefined;
  timeout: number;
  retries: number;
  maxRequestsPerSecond: number;
}

/** FeedOptions, checked, with their defaults. */
export interface ResolvedFeedOptions {
  family: Family;
  lines: ResolvedLine[];
  sequence: 'moldudp64' | FixedSequence;
  gapTimeout: number;
  staleAfter: number;
  maxPending: number;
  startSequence: number | undefined;
  retransmit: ResolvedRetransmit | undefined;
  timestamps: boolean;
  /** 'auto': used when it can be loaded; true: required; false: off. */
  kernelFilter: 'auto' | boolean;
  /** ms: how long an accepted copy's identity counts for the filter. */
  kernelFilterWindow: number;
  batchSize: number | undefined;
  maxMessageSize: number;
  recvBufferSize: number | undefined;
}

function checkSequence(value: unknown): 'moldudp64' | FixedSequence {
  if (value === 'moldudp64') return value;
  if (typeof value === 'string' || value === undefined || value === null || typeof value !== 'object') {
    throw invalidArgType('options.sequence', "'moldudp64' or { offset, size: 4 | 8, endian: 'big' | 'little' }", value);
  }
  const o = value as Record<string, unknown>;
  checkKnownKeys('options.sequence', o, FIXED_KEYS);
  const offset = checkInteger('options.sequence.offset', o.offset, 0, 65527);
  if (o.size !== 4 && o.size !== 8) throw invalidArgType('options.sequence.size', '4 or 8', o.size);
  if (o.endian !== 'big' && o.endian !== 'little') throw invalidArgType('options.sequence.endian', "'big' or 'little'", o.endian);
  return { offset, size: o.size, endian: o.endian };
}

function checkLines(value: unknown): { family: Family; lines: ResolvedLine[] } {
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_FEED_LINES) {
    throw invalidArgType('options.lines', `an array of 1 to ${MAX_FEED_LINES} lines`, value);
  }
  const first = value[0] as { group?: unknown } | undefined;
  const firstFamily = typeof first?.group === 'string' ? addressFamily(first.group.split('%')[0] ?? '') : 0;
  const family: Family = firstFamily === 6 ? 6 : 4;
  const lines = value.map((entry: unknown, i): ResolvedLine => {
    const where = `options.lines[${i}]`;
    const o = checkOptionsObject(where, entry);
    checkKnownKeys(where, o, LINE_KEYS);
    // Every line of a feed has the first line's family (checkGroup names a mismatch).
    const { group } = checkGroup(`${where}.group`, o.group, family);
    const port = checkPort(`${where}.port`, o.port, false);
    if (o.interface === undefined) {
      throw invalidArgType(`${where}.interface`, 'an interface name, address or index (a feed line must name its wire)', o.interface);
    }
    const iface = resolveInterface(`${where}.interface`, o.interface as InterfaceRef, family);
    const source = o.source === undefined ? undefined : checkSource(`${where}.source`, o.source, family);
    const name = o.name === undefined ? String.fromCharCode(65 + i) : checkString(`${where}.name`, o.name);
    return { group, port, interface: iface, interfaceRef: o.interface as InterfaceRef, source, name };
  });
  return { family, lines };
}

/** The address of `ref` to bind to: the one it named, or the interface's first of `family`. */
function interfaceAddress(name: string, ref: InterfaceRef, family: Family): string {
  const iface = resolveInterface(name, ref, family);
  if (iface.address !== undefined) return iface.address;
  const wanted = family === 4 ? 'IPv4' : 'IPv6';
  const found = listInterfaces()
    .find((i) => i.index === iface.index)
    ?.addresses.find((a) => a.family === wanted && (family === 4 || a.scopeId === 0));
  if (found === undefined) {
    throw mcastError('ERR_MCAST_NO_ADDRESS', `The "${name}" argument ${iface.label} has no ${wanted} address to send re-requests from`);
  }
  return found.address;
}

function checkRetransmit(value: unknown, family: Family, sequence: SequenceFormat): ResolvedRetransmit | undefined {
  if (value === undefined) return undefined;
  const o = checkOptionsObject('options.retransmit', value);
  checkKnownKeys('options.retransmit', o, RETRANSMIT_KEYS);
  if (sequence !== 'moldudp64') {
    throw mcastError('ERR_INVALID_ARG_VALUE', "The \"options.retransmit\" property needs sequence: 'moldudp64' (re-requests are MoldUDP64 packets)", 'type');
  }
  const address = checkAddress('options.retransmit.address', o.address, family);
  const port = checkPort('options.retransmit.port', o.port, false);
  return {
    address,
    port,
    bindAddress: o.interface === undefined ? undefined : interfaceAddress('options.retransmit.interface', o.interface as InterfaceRef, family),
    timeout: o.timeout === undefined ? 20 : checkInteger('options.retransmit.timeout', o.timeout, 1, 60_000),
    retries: o.retries === undefined ? 3 : checkInteger('options.retransmit.retries', o.retries, 0, 100),
    maxRequestsPerSecond:
      o.maxRequestsPerSecond === undefined ? 1000 : checkInteger('options.retransmit.maxRequestsPerSecond', o.maxRequestsPerSecond, 1, 1_000_000),
  };
}

/** Checks every option of createFeed; throws a Node-style error naming the first bad value. */
export function resolveFeedOptions(options: FeedOptions): ResolvedFeedOptions {
  if (options === undefined) throw invalidArgType('options', 'an object', options);
  const o = checkOptionsObject('options', options);
  checkKnownKeys('options', o, FEED_KEYS);
  const { family, lines } = checkLines(o.lines);
  const sequence = checkSequence(o.sequence);
  const maxMessageSize =
    o.maxMessageSize === undefined ? 2048 : checkInteger('options.maxMessageSize', o.maxMessageSize, 1, 65535);
  if (typeof sequence === 'object' && sequence.offset + sequence.size > maxMessageSize) {
    throw mcastError(
      'ERR_OUT_OF_RANGE',
      `The value of "options.sequence.offset" is out of range. The field (${sequence.offset} + ${sequence.size} bytes) must fit in maxMessageSize (${maxMessageSize})`,
    );
  }
  const gapTimeout = o.gapTimeout === undefined ? 5 : checkInteger('options.gapTimeout', o.gapTimeout, 0, 3_600_000);
  const timestamps = o.timestamps === undefined ? false : checkBoolean('options.timestamps', o.timestamps);
  const kernelFilter = o.kernelFilter === undefined ? 'auto' : o.kernelFilter;
  if (kernelFilter !== 'auto' && kernelFilter !== true && kernelFilter !== false) {
    throw invalidArgType('options.kernelFilter', "'auto', true or false", kernelFilter);
  }
  if (kernelFilter === true && timestamps) {
    throw mcastError(
      'ERR_INVALID_ARG_VALUE',
      'The "options.kernelFilter" property cannot be true with timestamps: true (the lag histograms need every copy, and the filter drops the later ones)',
      'type',
    );
  }
  return {
    family,
    lines,
    sequence,
    gapTimeout,
    staleAfter: o.staleAfter === undefined ? 1000 : checkInteger('options.staleAfter', o.staleAfter, 1, 86_400_000),
    maxPending: o.maxPending === undefined ? 65536 : checkInteger('options.maxPending', o.maxPending, 1, 16_777_216),
    startSequence: o.startSequence === undefined ? undefined : checkInteger('options.startSequence', o.startSequence, 0, MAX_SEQUENCE),
    retransmit: checkRetransmit(o.retransmit, family, sequence),
    timestamps,
    kernelFilter,
    kernelFilterWindow:
      o.kernelFilterWindow === undefined ? Math.max(gapTimeout, 1) : checkInteger('options.kernelFilterWindow', o.kernelFilterWindow, 1, 3_600_000),
    // The socket's own rules check these two (lib/socket.ts), before the first line opens.
    batchSize: o.batchSize as number | undefined,
    maxMessageSize,
    recvBufferSize: o.recvBufferSize as number | undefined,
  };
}
