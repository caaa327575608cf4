/**
 * Bad input: every public function of the library (and the CLI's flags), tried with wrong types,
 * NaN, negative and huge numbers, bad ports, unicast/broadcast/reserved groups, the other family,
 * malformed addresses, interfaces that do not exist, too-long names, NUL bytes, a source equal to
 * the group, double joins, leaves of what was never joined, oversized datagrams, empty and mixed
 * batches, calls after close() and setOption with wrong sizes. Each case names the exact `code`
 * it must get and a piece of the message that names the value; afterwards the socket must still
 * work. Then a seeded random walk (a property test) over the same entry points: whatever the
 * input, the result is success or an error with a code, the TypeScript checks and the native
 * parser never disagree, and nothing leaks.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { binding } from '../lib/binding.js';
import { constants, createSocket, listInterfaces, type RecvBatch, type Socket, type SocketOptions } from '../lib/index.js';
import { prng, socketFactory, uniquePort, waitFor } from './helpers.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const C = constants as Record<string, number>;
const LO_INDEX = listInterfaces().find((i) => i.loopback)?.index ?? 1;
const NO_SUCH_INDEX = 999_999;

const socket = socketFactory();

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

interface Thrown {
  code: unknown;
  message: string;
  name: string;
}

/** What `fn` threw (synchronously), or a failure when it did not throw. */
function thrown(fn: () => unknown): Thrown {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    const e = error as Error & { code?: unknown };
    return { code: e.code, message: e.message, name: e.name };
  }
  throw new Error('expected a throw, but the call returned');
}

/** The socket still does what a socket does: report its address, join and leave, send. */
function expectUsable(s: Socket): void {
  const { port } = s.address();
  const group = s.family === 4 ? '239.77.0.1' : 'ff12::77:1';
  s.join(group, { interface: 'lo' }).leave(group, { interface: 'lo' });
  expect(s.send('still usable', s.family === 4 ? '127.0.0.1' : '::1', port)).toBe(true);
}

interface Case {
  what: string;
  call: (s: Socket) => unknown;
  code: string;
  /** A piece of the message: the value, or the limit, that the message must name. */
  names: string;
}

function runCases(family: 4 | 6, cases: Case[]): void {
  it.each(cases)('$what -> $code', ({ call, code, names }) => {
    const s = socket({ family, address: family === 4 ? '127.0.0.1' : '::1', interface: 'lo' });
    const e = thrown(() => call(s));
    expect(e.code).toBe(code);
    expect(e.message).toContain(names);
    expectUsable(s);
  });
}

const TOO_LONG_NAME = 'mcaaaaaaaaaaaaaa'; // 16 bytes: IFNAMSIZ is 16 with the NUL
const big = (n: number) => Buffer.alloc(n, 0x61);

// ---- createSocket ----------------------------------------------------------------------------

describe('createSocket(options) refuses bad options and leaves nothing open', () => {
  const cases: { what: string; options: unknown; code: string; names: string }[] = [
    { what: 'options a string', options: 'port 5000', code: 'ERR_INVALID_ARG_TYPE', names: "'port 5000'" },
    { what: 'options null', options: null, code: 'ERR_INVALID_ARG_TYPE', names: 'null' },
    { what: 'options an array', options: [5000], code: 'ERR_INVALID_ARG_TYPE', names: 'array' },
    { what: 'an unknown option', options: { prot: 5000 }, code: 'ERR_INVALID_ARG_VALUE', names: '"prot"' },
    { what: 'family 5', options: { family: 5 }, code: 'ERR_INVALID_ARG_TYPE', names: '5 (number)' },
    { what: "family '4'", options: { family: '4' }, code: 'ERR_INVALID_ARG_TYPE', names: "'4' (string)" },
    { what: 'port -1', options: { port: -1 }, code: 'ERR_SOCKET_BAD_PORT', names: '-1' },
    { what: 'port 65536', options: { port: 65536 }, code: 'ERR_SOCKET_BAD_PORT', names: '65536' },
    { what: 'port NaN', options: { port: Number.NaN }, code: 'ERR_SOCKET_BAD_PORT', names: 'NaN' },
    { what: 'port 1.5', options: { port: 1.5 }, code: 'ERR_SOCKET_BAD_PORT', names: '1.5' },
    { what: 'port Infinity', options: { port: Infinity }, code: 'ERR_SOCKET_BAD_PORT', names: 'Infinity' },
    { what: "port '5000'", options: { port: '5000' }, code: 'ERR_SOCKET_BAD_PORT', names: "'5000'" },
    { what: 'a malformed address', options: { address: '127.0.0.256' }, code: 'ERR_INVALID_IP_ADDRESS', names: '127.0.0.256' },
    { what: 'address with a NUL', options: { address: '127.0.0.1\0' }, code: 'ERR_INVALID_IP_ADDRESS', names: '127.0.0.1' },
    { what: 'an IPv6 address on IPv4', options: { address: '::1' }, code: 'ERR_MCAST_FAMILY_MISMATCH', names: '::1' },
    { what: 'an IPv4 address on IPv6', options: { family: 6, address: '127.0.0.1' }, code: 'ERR_MCAST_FAMILY_MISMATCH', names: '127.0.0.1' },
    { what: 'a non-local address', options: { address: '192.0.2.1' }, code: 'EADDRNOTAVAIL', names: '192.0.2.1' },
    { what: 'a zone on an IPv4 address', options: { address: '127.0.0.1%lo' }, code: 'ERR_INVALID_IP_ADDRESS', names: '127.0.0.1%lo' },
    { what: 'an unknown zone', options: { family: 6, address: 'fe80::1%mcnosuch' }, code: 'ERR_MCAST_UNKNOWN_INTERFACE', names: 'mcnosuch' },
    { what: 'a zone index that no interface has', options: { family: 6, address: 'fe80::1%999999' }, code: 'ERR_MCAST_UNKNOWN_INTERFACE', names: '999999' },
    { what: "fd '3'", options: { fd: '3' }, code: 'ERR_INVALID_ARG_TYPE', names: "'3'" },
    { what: 'fd 1.5', options: { fd: 1.5 }, code: 'ERR_OUT_OF_RANGE', names: '1.5' },
    { what: 'fd of no socket', options: { fd: 0x7ffffff0 }, code: 'EBADF', names: 'descriptor 2147483632' },
    { what: "reuseAddr 'yes'", options: { reuseAddr: 'yes' }, code: 'ERR_INVALID_ARG_TYPE', names: "'yes'" },
    { what: 'multicastAll 1', options: { multicastAll: 1 }, code: 'ERR_INVALID_ARG_TYPE', names: '1 (number)' },
    { what: 'batchSize 0', options: { batchSize: 0 }, code: 'ERR_OUT_OF_RANGE', names: '0 (number)' },
    { what: 'batchSize 1025', options: { batchSize: 1025 }, code: 'ERR_OUT_OF_RANGE', names: '1025' },
    { what: 'batchSize NaN', options: { batchSize: Number.NaN }, code: 'ERR_OUT_OF_RANGE', names: 'NaN' },
    { what: 'batchSize 2**53', options: { batchSize: 2 ** 53 }, code: 'ERR_OUT_OF_RANGE', names: String(2 ** 53) },
    { what: "batchSize '64'", options: { batchSize: '64' }, code: 'ERR_INVALID_ARG_TYPE', names: "'64'" },
    { what: 'maxMessageSize 65536', options: { maxMessageSize: 65536 }, code: 'ERR_OUT_OF_RANGE', names: '65536' },
    { what: 'maxMessageSize -1', options: { maxMessageSize: -1 }, code: 'ERR_OUT_OF_RANGE', names: '-1' },
    { what: 'recvBufferSize 0', options: { recvBufferSize: 0 }, code: 'ERR_OUT_OF_RANGE', names: '0 (number)' },
    { what: 'recvBufferSize 2**40', options: { recvBufferSize: 2 ** 40 }, code: 'ERR_OUT_OF_RANGE', names: String(2 ** 40) },
    { what: 'sendBufferSize -5', options: { sendBufferSize: -5 }, code: 'ERR_OUT_OF_RANGE', names: '-5' },
    { what: 'ttl 256', options: { ttl: 256 }, code: 'ERR_OUT_OF_RANGE', names: '256' },
    { what: 'ttl -1', options: { ttl: -1 }, code: 'ERR_OUT_OF_RANGE', names: '-1' },
    { what: 'ttl NaN', options: { ttl: Number.NaN }, code: 'ERR_OUT_OF_RANGE', names: 'NaN' },
    { what: 'loopback 0', options: { loopback: 0 }, code: 'ERR_INVALID_ARG_TYPE', names: '0 (number)' },
    { what: 'an unknown interface', options: { interface: 'mcnosuch0' }, code: 'ERR_MCAST_UNKNOWN_INTERFACE', names: 'mcnosuch0' },
    { what: 'a too-long interface name', options: { interface: TOO_LONG_NAME }, code: 'ERR_INVALID_ARG_VALUE', names: TOO_LONG_NAME },
    { what: 'an interface name with NUL', options: { interface: 'lo\0' }, code: 'ERR_INVALID_ARG_VALUE', names: 'lo\\0' },
    { what: 'an interface index that does not exist', options: { interface: NO_SUCH_INDEX }, code: 'ERR_MCAST_UNKNOWN_INTERFACE', names: String(NO_SUCH_INDEX) },
    { what: 'interface index -1', options: { interface: -1 }, code: 'ERR_OUT_OF_RANGE', names: '-1' },
    { what: 'interface index NaN', options: { interface: Number.NaN }, code: 'ERR_OUT_OF_RANGE', names: 'NaN' },
    { what: 'interface index 2**32', options: { interface: 2 ** 32 }, code: 'ERR_OUT_OF_RANGE', names: String(2 ** 32) },
    { what: 'interface true', options: { interface: true }, code: 'ERR_INVALID_ARG_TYPE', names: 'true' },
    { what: 'an interface address no interface has', options: { interface: '10.99.99.99' }, code: 'ERR_MCAST_UNKNOWN_INTERFACE', names: '10.99.99.99' },
    { what: 'an IPv6 interface address on IPv4', options: { interface: '::1' }, code: 'ERR_MCAST_FAMILY_MISMATCH', names: '::1' },
  ];
  const before = openFds();
  it.each(cases)('$what -> $code', ({ options, code, names }) => {
    const e = thrown(() => createSocket(options as SocketOptions));
    expect(e.code).toBe(code);
    expect(e.message).toContain(names);
  });
  it('left no descriptor open', () => {
    expect(openFds()).toBe(before);
  });
});

// ---- memberships -------------------------------------------------------------------------------

describe('join / leave / blockSource / unblockSource on IPv4', () => {
  runCases(4, [
    { what: 'group a number', call: (s) => s.join(239 as unknown as string), code: 'ERR_INVALID_ARG_TYPE', names: '239 (number)' },
    { what: 'group NaN', call: (s) => s.join(Number.NaN as unknown as string), code: 'ERR_INVALID_ARG_TYPE', names: 'NaN' },
    { what: 'group undefined', call: (s) => s.join(undefined as unknown as string), code: 'ERR_INVALID_ARG_TYPE', names: 'undefined' },
    { what: 'a malformed group', call: (s) => s.join('239.1.2'), code: 'ERR_INVALID_IP_ADDRESS', names: '239.1.2' },
    { what: 'a group with 5 parts', call: (s) => s.join('239.1.2.3.4'), code: 'ERR_INVALID_IP_ADDRESS', names: '239.1.2.3.4' },
    { what: 'a group with a leading space', call: (s) => s.join(' 239.1.2.3'), code: 'ERR_INVALID_IP_ADDRESS', names: ' 239.1.2.3' },
    { what: 'a group with a NUL', call: (s) => s.join('239.1.2.3\0'), code: 'ERR_INVALID_IP_ADDRESS', names: '239.1.2.3' },
    { what: 'a hex group', call: (s) => s.join('0xef.1.2.3'), code: 'ERR_INVALID_IP_ADDRESS', names: '0xef.1.2.3' },
    { what: 'an empty group', call: (s) => s.join(''), code: 'ERR_INVALID_IP_ADDRESS', names: "''" },
    { what: 'a unicast group', call: (s) => s.join('10.0.0.1'), code: 'ERR_MCAST_NOT_MULTICAST', names: '10.0.0.1' },
    { what: 'the broadcast address', call: (s) => s.join('255.255.255.255'), code: 'ERR_MCAST_NOT_MULTICAST', names: '255.255.255.255' },
    { what: 'a class E (reserved) group', call: (s) => s.join('240.0.0.1'), code: 'ERR_MCAST_NOT_MULTICAST', names: '240.0.0.1' },
    { what: 'the reserved base 224.0.0.0', call: (s) => s.join('224.0.0.0'), code: 'ERR_MCAST_RESERVED_GROUP', names: '224.0.0.0' },
    { what: 'an IPv6 group', call: (s) => s.join('ff02::1'), code: 'ERR_MCAST_FAMILY_MISMATCH', names: 'ff02::1' },
    { what: 'options a string', call: (s) => s.join('239.1.2.3', 'lo' as unknown as { interface: string }), code: 'ERR_INVALID_ARG_TYPE', names: "'lo'" },
    { what: 'an unknown membership option', call: (s) => s.join('239.1.2.3', { iface: 'lo' } as unknown as { interface: string }), code: 'ERR_INVALID_ARG_VALUE', names: '"iface"' },
    { what: 'an interface that does not exist', call: (s) => s.join('239.1.2.3', { interface: 'mcnosuch0' }), code: 'ERR_MCAST_UNKNOWN_INTERFACE', names: 'mcnosuch0' },
    { what: 'a too-long interface name', call: (s) => s.join('239.1.2.3', { interface: TOO_LONG_NAME }), code: 'ERR_INVALID_ARG_VALUE', names: TOO_LONG_NAME },
    { what: 'an interface name with NUL', call: (s) => s.join('239.1.2.3', { interface: 'lo\0x' }), code: 'ERR_INVALID_ARG_VALUE', names: 'lo\\0x' },
    { what: 'an interface name with a space', call: (s) => s.join('239.1.2.3', { interface: 'lo ' }), code: 'ERR_INVALID_ARG_VALUE', names: "'lo '" },
    { what: 'an alias-style name lo:1', call: (s) => s.join('239.1.2.3', { interface: 'lo:1' }), code: 'ERR_INVALID_IP_ADDRESS', names: 'lo:1' },
    { what: 'an interface index that does not exist', call: (s) => s.join('239.1.2.3', { interface: NO_SUCH_INDEX }), code: 'ERR_MCAST_UNKNOWN_INTERFACE', names: String(NO_SUCH_INDEX) },
    { what: 'interface index 0', call: (s) => s.join('239.1.2.3', { interface: 0 }), code: 'ERR_OUT_OF_RANGE', names: '0 (number)' },
    { what: 'interface index 1.5', call: (s) => s.join('239.1.2.3', { interface: 1.5 }), code: 'ERR_OUT_OF_RANGE', names: '1.5' },
    { what: 'an interface address not on this host', call: (s) => s.join('239.1.2.3', { interface: '192.0.2.7' }), code: 'ERR_MCAST_UNKNOWN_INTERFACE', names: '192.0.2.7' },
    { what: 'a source equal to the group', call: (s) => s.join('232.1.1.1', { interface: 'lo', source: '232.1.1.1' }), code: 'ERR_MCAST_BAD_SOURCE', names: '232.1.1.1' },
    { what: 'source 0.0.0.0', call: (s) => s.join('232.1.1.1', { interface: 'lo', source: '0.0.0.0' }), code: 'ERR_MCAST_BAD_SOURCE', names: '0.0.0.0' },
    { what: 'source 255.255.255.255', call: (s) => s.join('232.1.1.1', { interface: 'lo', source: '255.255.255.255' }), code: 'ERR_MCAST_BAD_SOURCE', names: '255.255.255.255' },
    { what: 'a malformed source', call: (s) => s.join('232.1.1.1', { interface: 'lo', source: '10.0.0' }), code: 'ERR_INVALID_IP_ADDRESS', names: '10.0.0' },
    { what: 'source a number', call: (s) => s.join('232.1.1.1', { interface: 'lo', source: 10 as unknown as string }), code: 'ERR_INVALID_ARG_TYPE', names: '10 (number)' },
    { what: 'an IPv6 source', call: (s) => s.join('232.1.1.1', { interface: 'lo', source: '::1' }), code: 'ERR_MCAST_FAMILY_MISMATCH', names: '::1' },
    { what: 'blockSource with a multicast source', call: (s) => s.blockSource('239.1.2.3', '239.1.2.3', { interface: 'lo' }), code: 'ERR_MCAST_BAD_SOURCE', names: '239.1.2.3' },
    { what: 'the same group and interface twice', call: (s) => s.join('239.1.2.3', { interface: 'lo' }).join('239.1.2.3', { interface: 'lo' }), code: 'EADDRINUSE', names: '239.1.2.3 on lo' },
    { what: 'the same group twice, by name then index', call: (s) => s.join('239.1.2.4', { interface: 'lo' }).join('239.1.2.4', { interface: LO_INDEX }), code: 'EADDRINUSE', names: '239.1.2.4' },
    { what: 'the same source twice', call: (s) => s.join('232.1.1.1', { interface: 'lo', source: '10.0.0.1' }).join('232.1.1.1', { interface: 'lo', source: '10.0.0.1' }), code: 'EADDRNOTAVAIL', names: '10.0.0.1' },
    { what: 'leaving a group never joined', call: (s) => s.leave('239.1.2.5', { interface: 'lo' }), code: 'EADDRNOTAVAIL', names: '239.1.2.5' },
    { what: 'leaving a source never joined', call: (s) => s.leave('232.1.1.2', { interface: 'lo', source: '10.0.0.1' }), code: 'EINVAL', names: '10.0.0.1' },
    { what: 'blocking in a group never joined', call: (s) => s.blockSource('239.1.2.6', '10.0.0.1', { interface: 'lo' }), code: 'EINVAL', names: '239.1.2.6' },
    { what: 'unblocking a source never blocked', call: (s) => s.join('239.1.2.7', { interface: 'lo' }).unblockSource('239.1.2.7', '10.0.0.1', { interface: 'lo' }), code: 'EADDRNOTAVAIL', names: '10.0.0.1' },
    { what: 'a join with no interface and no multicast route', call: (s) => s.join('239.1.2.8'), code: 'ENODEV', names: 'name the interface' },
  ]);

  it('accepts the link-local groups 224.0.0.x that a host may join (all-hosts, mDNS), and counts them', () => {
    const s = socket();
    s.join('224.0.0.1', { interface: 'lo' }).join('224.0.0.251', { interface: 'lo' });
    s.leave('224.0.0.1', { interface: 'lo' }).leave('224.0.0.251', { interface: 'lo' });
  });
});

describe('join / leave on IPv6', () => {
  runCases(6, [
    { what: 'an IPv4 group', call: (s) => s.join('239.1.2.3'), code: 'ERR_MCAST_FAMILY_MISMATCH', names: '239.1.2.3' },
    { what: 'a unicast group', call: (s) => s.join('2001:db8::1'), code: 'ERR_MCAST_NOT_MULTICAST', names: '2001:db8::1' },
    { what: 'an IPv4-mapped multicast address', call: (s) => s.join('::ffff:239.1.2.3'), code: 'ERR_MCAST_NOT_MULTICAST', names: '::ffff:239.1.2.3' },
    { what: 'reserved scope 0', call: (s) => s.join('ff00::1'), code: 'ERR_MCAST_RESERVED_GROUP', names: 'ff00::1' },
    { what: 'reserved scope f', call: (s) => s.join('ff0f::1'), code: 'ERR_MCAST_RESERVED_GROUP', names: 'ff0f::1' },
    { what: 'a malformed group', call: (s) => s.join('ff02:::1'), code: 'ERR_INVALID_IP_ADDRESS', names: 'ff02:::1' },
    { what: 'a zone that does not exist', call: (s) => s.join('ff02::1%mcnosuch0'), code: 'ERR_MCAST_UNKNOWN_INTERFACE', names: 'mcnosuch0' },
    { what: 'an IPv4 interface address', call: (s) => s.join('ff12::1', { interface: '127.0.0.1' }), code: 'ERR_MCAST_FAMILY_MISMATCH', names: '127.0.0.1' },
    { what: 'an IPv4 source', call: (s) => s.join('ff32::8000:1', { interface: 'lo', source: '10.0.0.1' }), code: 'ERR_MCAST_FAMILY_MISMATCH', names: '10.0.0.1' },
    { what: 'source ::', call: (s) => s.join('ff32::8000:1', { interface: 'lo', source: '::' }), code: 'ERR_MCAST_BAD_SOURCE', names: '::' },
    { what: 'the same group twice', call: (s) => s.join('ff12::9', { interface: 'lo' }).join('ff12::9', { interface: 'lo' }), code: 'EADDRINUSE', names: 'ff12::9' },
    { what: 'leaving a group never joined', call: (s) => s.leave('ff12::a', { interface: 'lo' }), code: 'EADDRNOTAVAIL', names: 'ff12::a' },
  ]);
});

describe('the membership limit (net.ipv4.igmp_max_memberships)', () => {
  const SYSCTL = '/proc/sys/net/ipv4/igmp_max_memberships';
  let saved = '';
  beforeAll(() => {
    saved = readFileSync(SYSCTL, 'utf8').trim();
  });
  afterAll(() => {
    writeFileSync(SYSCTL, saved);
  });

  function fill(s: Socket, limit: number): void {
    for (let i = 0; i < limit; i++) s.join(`239.88.0.${i + 1}`, { interface: 'lo' });
  }

  it('the 21st join gets ENOBUFS naming the sysctl and its value, and the socket stays usable', () => {
    expect(saved).toBe('20');
    const s = socket();
    fill(s, 20);
    const e = thrown(() => s.join('239.88.1.1', { interface: 'lo' }));
    expect(e.code).toBe('ENOBUFS');
    expect(e.message).toContain('239.88.1.1');
    expect(e.message).toContain('net.ipv4.igmp_max_memberships = 20');
    s.leave('239.88.0.1', { interface: 'lo' }).join('239.88.1.1', { interface: 'lo' });
  });

  it('names the value in force when the sysctl is changed (it is per network namespace)', () => {
    writeFileSync(SYSCTL, '3');
    const s = socket();
    fill(s, 3);
    const e = thrown(() => s.join('239.88.1.2', { interface: 'lo' }));
    expect(e.code).toBe('ENOBUFS');
    expect(e.message).toContain('net.ipv4.igmp_max_memberships = 3');
    writeFileSync(SYSCTL, saved);
  });

  it('the 11th source of one group gets ENOBUFS naming net.ipv4.igmp_max_msf', () => {
    const s = socket();
    for (let i = 1; i <= 10; i++) s.join('232.9.9.9', { interface: 'lo', source: `10.9.0.${i}` });
    const e = thrown(() => s.join('232.9.9.9', { interface: 'lo', source: '10.9.0.11' }));
    expect(e.code).toBe('ENOBUFS');
    expect(e.message).toContain('net.ipv4.igmp_max_msf = 10');
  });
});

// ---- options -----------------------------------------------------------------------------------

describe('options and setOption', () => {
  runCases(4, [
    { what: 'setTTL 256', call: (s) => s.setTTL(256), code: 'ERR_OUT_OF_RANGE', names: '256' },
    { what: 'setTTL -1', call: (s) => s.setTTL(-1), code: 'ERR_OUT_OF_RANGE', names: '-1' },
    { what: 'setTTL NaN', call: (s) => s.setTTL(Number.NaN), code: 'ERR_OUT_OF_RANGE', names: 'NaN' },
    { what: "setTTL '1'", call: (s) => s.setTTL('1' as unknown as number), code: 'ERR_INVALID_ARG_TYPE', names: "'1'" },
    { what: "setLoopback 'yes'", call: (s) => s.setLoopback('yes' as unknown as boolean), code: 'ERR_INVALID_ARG_TYPE', names: "'yes'" },
    { what: 'setMulticastAll 1', call: (s) => s.setMulticastAll(1 as unknown as boolean), code: 'ERR_INVALID_ARG_TYPE', names: '1 (number)' },
    { what: 'setMulticastInterface to a missing name', call: (s) => s.setMulticastInterface('mcnosuch0'), code: 'ERR_MCAST_UNKNOWN_INTERFACE', names: 'mcnosuch0' },
    { what: 'setMulticastInterface to a missing index', call: (s) => s.setMulticastInterface(NO_SUCH_INDEX), code: 'ERR_MCAST_UNKNOWN_INTERFACE', names: String(NO_SUCH_INDEX) },
    { what: 'setMulticastInterface with NUL', call: (s) => s.setMulticastInterface('l\0o'), code: 'ERR_INVALID_ARG_VALUE', names: 'l\\0o' },
    { what: 'setMulticastInterface to an IPv6 address', call: (s) => s.setMulticastInterface('::1'), code: 'ERR_MCAST_FAMILY_MISMATCH', names: '::1' },
    { what: 'setMulticastInterface(null)', call: (s) => s.setMulticastInterface(null as unknown as string), code: 'ERR_INVALID_ARG_TYPE', names: 'null' },
    { what: 'setRecvBufferSize 0', call: (s) => s.setRecvBufferSize(0), code: 'ERR_OUT_OF_RANGE', names: '0 (number)' },
    { what: 'setRecvBufferSize NaN', call: (s) => s.setRecvBufferSize(Number.NaN), code: 'ERR_OUT_OF_RANGE', names: 'NaN' },
    { what: 'setSendBufferSize 2**31', call: (s) => s.setSendBufferSize(2 ** 31), code: 'ERR_OUT_OF_RANGE', names: String(2 ** 31) },
    { what: 'setOption level -1', call: (s) => s.setOption(-1, C.IP_TTL!, 1), code: 'ERR_OUT_OF_RANGE', names: '-1' },
    { what: 'setOption name NaN', call: (s) => s.setOption(C.IPPROTO_IP!, Number.NaN, 1), code: 'ERR_OUT_OF_RANGE', names: 'NaN' },
    { what: 'setOption value a string', call: (s) => s.setOption(C.IPPROTO_IP!, C.IP_TTL!, '1' as unknown as number), code: 'ERR_INVALID_ARG_TYPE', names: "'1'" },
    { what: 'setOption value 2**32', call: (s) => s.setOption(C.IPPROTO_IP!, C.IP_TTL!, 2 ** 32), code: 'ERR_OUT_OF_RANGE', names: String(2 ** 32) },
    { what: 'setOption with an empty buffer', call: (s) => s.setOption(C.IPPROTO_IP!, C.IP_MULTICAST_TTL!, Buffer.alloc(0)), code: 'EINVAL', names: `name ${C.IP_MULTICAST_TTL}` },
    { what: 'setOption SO_RCVBUF with 2 bytes', call: (s) => s.setOption(C.SOL_SOCKET!, C.SO_RCVBUF!, Buffer.alloc(2)), code: 'EINVAL', names: `name ${C.SO_RCVBUF}` },
    { what: 'setOption MCAST_JOIN_GROUP with 3 bytes', call: (s) => s.setOption(C.IPPROTO_IP!, C.MCAST_JOIN_GROUP!, Buffer.alloc(3)), code: 'EINVAL', names: `name ${C.MCAST_JOIN_GROUP}` },
    { what: 'setOption of an unknown option', call: (s) => s.setOption(C.IPPROTO_IP!, 9999, 1), code: 'ENOPROTOOPT', names: 'name 9999' },
    { what: 'getOption size 0', call: (s) => s.getOption(C.SOL_SOCKET!, C.SO_RCVBUF!, 0), code: 'ERR_OUT_OF_RANGE', names: '0 (number)' },
    { what: 'getOption size 65537', call: (s) => s.getOption(C.SOL_SOCKET!, C.SO_RCVBUF!, 65537), code: 'ERR_OUT_OF_RANGE', names: '65537' },
    { what: 'getOption of an unknown option', call: (s) => s.getOption(C.IPPROTO_IP!, 9999), code: 'ENOPROTOOPT', names: 'name 9999' },
  ]);
});

// ---- sending -------------------------------------------------------------------------------------

describe('send / sendBatch / connect on IPv4', () => {
  runCases(4, [
    { what: 'data a number', call: (s) => s.send(5 as unknown as string, '127.0.0.1', 9), code: 'ERR_INVALID_ARG_TYPE', names: '5 (number)' },
    { what: 'data null', call: (s) => s.send(null as unknown as string, '127.0.0.1', 9), code: 'ERR_INVALID_ARG_TYPE', names: 'null' },
    { what: 'data an array of numbers', call: (s) => s.send([1, 2] as unknown as string, '127.0.0.1', 9), code: 'ERR_INVALID_ARG_TYPE', names: 'array' },
    { what: 'a datagram of 65508 bytes', call: (s) => s.send(big(65508), '127.0.0.1', 9), code: 'ERR_MCAST_MESSAGE_TOO_LARGE', names: '65508' },
    { what: 'a string of 65508 bytes', call: (s) => s.send('a'.repeat(65508), '127.0.0.1', 9), code: 'ERR_MCAST_MESSAGE_TOO_LARGE', names: '65507' },
    { what: 'port 0', call: (s) => s.send('x', '127.0.0.1', 0), code: 'ERR_SOCKET_BAD_PORT', names: '0 (number)' },
    { what: 'port 65536', call: (s) => s.send('x', '127.0.0.1', 65536), code: 'ERR_SOCKET_BAD_PORT', names: '65536' },
    { what: 'port -1', call: (s) => s.send('x', '127.0.0.1', -1), code: 'ERR_SOCKET_BAD_PORT', names: '-1' },
    { what: 'port NaN', call: (s) => s.send('x', '127.0.0.1', Number.NaN), code: 'ERR_SOCKET_BAD_PORT', names: 'NaN' },
    { what: 'a malformed destination', call: (s) => s.send('x', '239.1.1', 9), code: 'ERR_INVALID_IP_ADDRESS', names: '239.1.1' },
    { what: 'destination a number', call: (s) => s.send('x', 0x7f000001 as unknown as string, 9), code: 'ERR_INVALID_ARG_TYPE', names: String(0x7f000001) },
    { what: 'an IPv6 destination', call: (s) => s.send('x', 'ff02::1', 9), code: 'ERR_MCAST_FAMILY_MISMATCH', names: 'ff02::1' },
    { what: 'broadcast without SO_BROADCAST', call: (s) => s.send('x', '255.255.255.255', 9), code: 'EACCES', names: '255.255.255.255' },
    { what: 'sendBatch of an empty array', call: (s) => s.sendBatch([], '127.0.0.1', 9), code: 'ERR_INVALID_ARG_VALUE', names: 'empty array' },
    { what: 'sendBatch of a non-array', call: (s) => s.sendBatch('abc' as unknown as string[], '127.0.0.1', 9), code: 'ERR_INVALID_ARG_TYPE', names: "'abc'" },
    { what: 'sendBatch with a number inside', call: (s) => s.sendBatch([Buffer.from('a'), 7 as unknown as string], '127.0.0.1', 9), code: 'ERR_INVALID_ARG_TYPE', names: 'datagrams[1]' },
    { what: 'sendBatch with undefined inside', call: (s) => s.sendBatch([Buffer.from('a'), undefined as unknown as string], '127.0.0.1', 9), code: 'ERR_INVALID_ARG_TYPE', names: 'datagrams[1]' },
    { what: 'sendBatch with a hole', call: (s) => s.sendBatch([Buffer.from('a'), , Buffer.from('c')] as unknown as string[], '127.0.0.1', 9), code: 'ERR_INVALID_ARG_TYPE', names: 'datagrams[1]' },
    { what: 'sendBatch with an oversized datagram', call: (s) => s.sendBatch([Buffer.from('a'), big(65508)], '127.0.0.1', 9), code: 'ERR_MCAST_MESSAGE_TOO_LARGE', names: 'datagrams[1]' },
    { what: 'sendBatch with a DataView inside', call: (s) => s.sendBatch([new DataView(new ArrayBuffer(4)) as unknown as Uint8Array], '127.0.0.1', 9), code: 'ERR_INVALID_ARG_TYPE', names: 'DataView' },
    { what: 'sendBatch to port 0', call: (s) => s.sendBatch([Buffer.from('a')], '127.0.0.1', 0), code: 'ERR_SOCKET_BAD_PORT', names: '0 (number)' },
    { what: 'connect to port 70000', call: (s) => s.connect('127.0.0.1', 70000), code: 'ERR_SOCKET_BAD_PORT', names: '70000' },
    { what: 'connect to a malformed address', call: (s) => s.connect('127.1', 9), code: 'ERR_INVALID_IP_ADDRESS', names: '127.1' },
    { what: 'remoteAddress when not connected', call: (s) => s.remoteAddress(), code: 'ENOTCONN', names: 'remote address' },
  ]);

  it('sendAll rejects (not throws) on bad input', async () => {
    const s = socket({ interface: 'lo' });
    await expect(s.sendAll([], '127.0.0.1', 9)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(s.sendAll([Buffer.from('a')], '127.0.0.1', 0)).rejects.toMatchObject({ code: 'ERR_SOCKET_BAD_PORT' });
    expectUsable(s);
  });

  it('sends nothing from a batch that holds a bad element (checked before sendmmsg)', () => {
    const s = socket({ interface: 'lo' });
    expect(() => s.sendBatch([Buffer.from('a'), 1 as unknown as string], '127.0.0.1', 9)).toThrow();
    expect(s.stats().packetsSent).toBe(0);
  });

  it('accepts the largest IPv4 datagram, 65507 bytes', async () => {
    const rx = socket({ address: '127.0.0.1', maxMessageSize: 65535 });
    const got: number[] = [];
    rx.on('message', (data) => got.push(data.length));
    const tx = socket({ interface: 'lo' });
    expect(tx.send(big(65507), '127.0.0.1', rx.address().port)).toBe(true);
    await waitFor(() => got.length === 1, 'the 65507-byte datagram');
    expect(got).toEqual([65507]);
  });
});

describe('send on IPv6', () => {
  runCases(6, [
    { what: 'a datagram of 65528 bytes', call: (s) => s.send(big(65528), '::1', 9), code: 'ERR_MCAST_MESSAGE_TOO_LARGE', names: '65527' },
    { what: 'an IPv4 destination', call: (s) => s.send('x', '127.0.0.1', 9), code: 'ERR_MCAST_FAMILY_MISMATCH', names: '127.0.0.1' },
    { what: 'a zone that does not exist', call: (s) => s.send('x', 'ff02::1%mcnosuch0', 9), code: 'ERR_MCAST_UNKNOWN_INTERFACE', names: 'mcnosuch0' },
    { what: 'a malformed destination', call: (s) => s.send('x', '::1::2', 9), code: 'ERR_INVALID_IP_ADDRESS', names: '::1::2' },
  ]);
});

// ---- after close() -------------------------------------------------------------------------------

describe('calls after close()', () => {
  /** Arguments that would be valid on an open socket, per method; others are called with none. */
  const ARGS: Record<string, unknown[]> = {
    join: ['239.1.2.3', { interface: 'lo' }],
    leave: ['239.1.2.3', { interface: 'lo' }],
    blockSource: ['239.1.2.3', '10.0.0.1', { interface: 'lo' }],
    unblockSource: ['239.1.2.3', '10.0.0.1', { interface: 'lo' }],
    setMulticastInterface: ['lo'],
    setTTL: [2],
    setLoopback: [true],
    setMulticastAll: [false],
    setRecvBufferSize: [65536],
    setSendBufferSize: [65536],
    setOption: [C.IPPROTO_IP, C.IP_MULTICAST_TTL, 1],
    getOption: [C.IPPROTO_IP, C.IP_MULTICAST_TTL],
    send: ['x', '127.0.0.1', 9],
    sendBatch: [['x'], '127.0.0.1', 9],
    sendAll: [['x'], '127.0.0.1', 9],
    connect: ['127.0.0.1', 9],
  };
  /** Methods that are fine after close by design. */
  const STILL_FINE = new Set(['constructor', 'close', 'stats', 'ref', 'unref', 'fd', 'messageBlocks', 'closed', 'onBatch', 'onError', 'onWritable']);
  const probe = createSocket();
  const proto = Object.getPrototypeOf(probe) as Record<string, unknown>;
  probe.close();
  const methods = Object.getOwnPropertyNames(proto).filter(
    (name) => !STILL_FINE.has(name) && typeof Object.getOwnPropertyDescriptor(proto, name)?.value === 'function',
  );

  it('covers every public method', () => {
    expect(methods.length).toBeGreaterThanOrEqual(20);
  });

  it.each(methods)('%s() -> ERR_MCAST_SOCKET_CLOSED', async (name) => {
    const s = socket();
    s.close();
    const fn = (s as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;
    let error: unknown;
    try {
      await fn.apply(s, ARGS[name] ?? []);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'ERR_MCAST_SOCKET_CLOSED' });
    expect((error as Error).message).toMatch(/closed/);
  });

  it('close() twice, stats(), ref(), unref() and adding listeners after close are harmless', () => {
    const s = socket();
    s.close();
    s.close();
    expect(s.closed).toBe(true);
    expect(s.stats().packetsReceived).toBe(0);
    s.ref().unref();
    s.on('message', () => {});
    s.on('batch', () => {});
    s.removeAllListeners('message');
    expect(s.fd()).toBe(-1);
  });
});

// ---- the receive batch -----------------------------------------------------------------------------

describe('RecvBatch accessors', () => {
  it('refuse indexes outside the batch, and every index after the callback', async () => {
    const rx = socket({ address: '127.0.0.1' });
    const tx = socket();
    let kept: RecvBatch | undefined;
    const errors: unknown[] = [];
    rx.on('batch', (batch) => {
      kept = batch;
      for (const i of [-1, batch.count, 1.5, Number.NaN]) {
        try {
          batch.data(i);
        } catch (e) {
          errors.push(e);
        }
      }
    });
    tx.send('one', '127.0.0.1', rx.address().port);
    await waitFor(() => kept !== undefined, 'a batch');
    expect(errors).toHaveLength(4);
    for (const e of errors) expect(e).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(() => kept!.size(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(kept!.count).toBe(0);
  });
});

// ---- the binding itself (misuse that bypasses lib/) -------------------------------------------------

describe('the native binding guards itself against direct misuse', () => {
  const L = binding.layout;
  function native() {
    return new binding.Socket(4, '127.0.0.1', 0, true, false, false, false, 1, 64, new ArrayBuffer(64), new ArrayBuffer(L.recordBytes), true, false);
  }
  const Ctor = binding.Socket as unknown as new (...args: unknown[]) => unknown;

  it('a constructor with missing, wrong or inconsistent arguments throws ERR_INVALID_ARG_TYPE', () => {
    const before = openFds();
    expect(() => new Ctor()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Ctor(4, 1, 0, true, false, false, false, 1, 64, new ArrayBuffer(64), new ArrayBuffer(L.recordBytes), true)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    // a slab too small for batchSize * maxMessageSize
    expect(() => new Ctor(4, '127.0.0.1', 0, true, false, false, false, 4, 64, new ArrayBuffer(64), new ArrayBuffer(4 * L.recordBytes), true)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => new Ctor(4, '127.0.0.1', 70000, true, false, false, false, 1, 64, new ArrayBuffer(64), new ArrayBuffer(L.recordBytes), true)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(openFds()).toBe(before);
  });

  it('wrong arguments to methods throw instead of crashing the process', () => {
    const n = native() as unknown as Record<string, (...args: unknown[]) => unknown>;
    const call = (name: string, ...args: unknown[]) => () => n[name]!.apply(n, args);
    expect(call('membership', 9, '239.1.1.1', null, 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(call('membership', 0, 5, null, 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(call('membership', 2, '232.1.1.1', null, 1)).toThrow(expect.objectContaining({ errno: -22 }));
    // A count beyond the array used to allocate for it: std::bad_alloc, and the process aborted.
    expect(call('sendBatch', [Buffer.from('x')], 2 ** 32 - 1, '127.0.0.1', 9, 0)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(call('sendBatch', [Buffer.from('x'), 'y'], 2, '127.0.0.1', 9, 0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(call('getRawOption', 1, 8, 2 ** 32 - 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(call('send', 'not bytes', '127.0.0.1', 9, 0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(call('send', Buffer.from('x'), 'x'.repeat(1000), 9, 0)).toThrow(expect.objectContaining({ errno: -22 }));
    expect(call('stats', new Float64Array(2))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(call('setIntOption', 'a', 1, 1, 'x')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => binding.ifNameToIndex(5 as unknown as string)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(binding.ifNameToIndex('x'.repeat(100))).toBe(0);
    expect(binding.ifIndexToName(2 ** 31)).toBeUndefined();
    n.close!();
    n.close!();
    expect(call('send', Buffer.from('x'), '127.0.0.1', 9, 0)).toThrow(expect.objectContaining({ errno: -9 }));
  });
});

// ---- a property test: random input never crashes, leaks or slips past the checks ----------------------


describe('random input (property test)', () => {
  const SEED = Number(process.env.MCAST_FUZZ_SEED ?? 20240611);
  const ROUNDS = Number(process.env.MCAST_FUZZ_ROUNDS ?? 4000);
  const PIECES = [
    '239', '224', '232', '0', '1', '255', '256', '10', '127', '.', '.', ':', '::', 'ff02', 'ff12', 'ff3e', 'ff00', 'fe80',
    '%', 'lo', 'mc0', 'eth0', ' ', '\0', 'x', '-', '1e3', '0x1', '::ffff:', '/', '01', 'ffff', '\u00e9', '8000',
  ];

  it(`holds for ${ROUNDS} random calls (seed ${SEED}; MCAST_FUZZ_SEED / MCAST_FUZZ_ROUNDS to replay or extend)`, () => {
    const rand = prng(SEED);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
    const text = (): string => {
      let s = '';
      const n = 1 + Math.floor(rand() * 8);
      for (let i = 0; i < n; i++) s += pick(PIECES);
      return s;
    };
    const address = (family: 4 | 6): string => {
      const r = rand();
      if (r < 0.3) return family === 4 ? `${pick(['224', '232', '239', '10', '127', '255'])}.${pick(['0', '1', '255'])}.${pick(['0', '1'])}.${pick(['0', '1', '251', '255'])}` : `${pick(['ff02', 'ff12', 'ff35', 'ff00', '2001:db8', 'fe80', ''])}::${pick(['1', '8000:1', 'ffff:239.1.1.1'])}`;
      return text();
    };
    const value = (): unknown =>
      pick<() => unknown>([
        () => text(),
        () => pick([0, -1, 1, 1.5, Number.NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 53, 65535, 65536, LO_INDEX, NO_SUCH_INDEX]),
        () => pick([true, false, null, undefined]),
        () => ({}),
        () => [],
        () => 10n,
        () => Symbol('s'),
        () => Buffer.alloc(pick([0, 1, 4, 64])),
      ])();
    const iface = (): unknown => (rand() < 0.5 ? pick(['lo', 'lo\0', 'mcnosuch0', TOO_LONG_NAME, '127.0.0.1', '::1', LO_INDEX, NO_SUCH_INDEX, 0]) : value());

    const before = openFds();
    const s4 = createSocket({ address: '127.0.0.1', interface: 'lo' });
    const s6 = createSocket({ family: 6, address: '::1', interface: 'lo' });
    const codes = new Map<string, number>();
    const problems: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const s = rand() < 0.6 ? s4 : s6;
      const op = Math.floor(rand() * 7);
      let what = '';
      try {
        switch (op) {
          case 0: {
            const group = address(s.family);
            const opts: Record<string, unknown> = {};
            if (rand() < 0.8) opts.interface = iface();
            if (rand() < 0.3) opts.source = rand() < 0.5 ? address(s.family) : value();
            if (rand() < 0.05) opts[text()] = value();
            what = `join(${JSON.stringify(group)}, ${String(Object.keys(opts))})`;
            s.join(group, opts as { interface: string });
            s.leave(group, opts as { interface: string });
            break;
          }
          case 1: {
            const group = rand() < 0.5 ? address(s.family) : value();
            what = 'leave';
            s.leave(group as string, { interface: iface() as string });
            break;
          }
          case 2: {
            const dest = rand() < 0.7 ? address(s.family) : value();
            const port = rand() < 0.7 ? pick([9, 1, 65535, 0, -1, 65536, Number.NaN]) : value();
            what = `send(${JSON.stringify(String(dest))}, ${String(port)})`;
            s.send(rand() < 0.8 ? 'x' : (value() as string), dest as string, port as number);
            break;
          }
          case 3: {
            const opts: Record<string, unknown> = {};
            const keys = ['family', 'port', 'address', 'reuseAddr', 'batchSize', 'maxMessageSize', 'ttl', 'interface', 'recvBufferSize', text()];
            for (let i = 0; i < 2; i++) {
              const key = pick(keys);
              opts[key] = key === 'address' ? address(rand() < 0.5 ? 4 : 6) : key === 'interface' ? iface() : key === 'family' ? pick([4, 6, 5, '4']) : value();
            }
            what = `createSocket(${Object.keys(opts).join(',')})`;
            createSocket(opts as SocketOptions).close();
            break;
          }
          case 4:
            what = 'setMulticastInterface';
            s.setMulticastInterface(iface() as string);
            s.setMulticastInterface('lo');
            break;
          case 5:
            what = 'setOption';
            s.setOption(value() as number, value() as number, value() as number);
            break;
          default: {
            const list = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => (rand() < 0.7 ? Buffer.from('x') : value()));
            what = 'sendBatch';
            s.sendBatch(list as string[], s.family === 4 ? '127.0.0.1' : '::1', pick([9, 0]));
          }
        }
      } catch (error) {
        const e = error as Error & { code?: unknown; syscall?: unknown };
        const code = typeof e.code === 'string' ? e.code : '';
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (!(error instanceof Error) || !/^(ERR_[A-Z0-9_]+|E[A-Z0-9]+)$/.test(code) || e.message.length === 0) {
          problems.push(`${what}: an error without a code: ${String(error)}`);
        } else if (typeof e.syscall === 'string' && e.syscall.startsWith('inet_pton')) {
          // lib/ accepted what the native parser refused: the two disagree.
          problems.push(`${what}: lib/ let through what the addon cannot parse: ${e.message}`);
        }
      }
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expectUsable(s4);
    expectUsable(s6);
    s4.close();
    s6.close();
    expect(openFds()).toBe(before);
    // Every family of refusal was exercised.
    for (const code of ['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_IP_ADDRESS', 'ERR_MCAST_NOT_MULTICAST', 'ERR_SOCKET_BAD_PORT', 'ERR_MCAST_UNKNOWN_INTERFACE']) {
      expect(codes.get(code) ?? 0, code).toBeGreaterThan(0);
    }
  });
});

// ---- the CLI ------------------------------------------------------------------------------------------

const CLI = join(ROOT, 'dist', 'cli.js');

function runCli(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 15_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!existsSync(CLI))('the mcast CLI refuses bad flags with exit code 2 and a message naming the value', () => {
  const port = String(uniquePort());
  const cases: { args: string[]; names: string }[] = [
    { args: ['recv', '10.0.0.1', port, '--iface', 'lo'], names: '10.0.0.1' },
    { args: ['recv', '239.1.2.3', '65536', '--iface', 'lo'], names: '65536' },
    { args: ['recv', '239.1.2.3', '-1', '--iface', 'lo'], names: '-1' },
    { args: ['recv', '239.1.2.3', 'abc', '--iface', 'lo'], names: 'abc' },
    { args: ['recv', '239.1.2.3', port, '--iface', 'mcnosuch0'], names: 'mcnosuch0' },
    { args: ['recv', '239.1.2.3', port, '--iface', TOO_LONG_NAME], names: TOO_LONG_NAME },
    { args: ['recv', 'ff02::1', port, '--iface', '127.0.0.1'], names: '127.0.0.1' },
    { args: ['recv', '239.1.2.3', port, '--iface', 'lo', '--source', '239.1.2.3'], names: '239.1.2.3' },
    { args: ['recv', '239.1.2.3', port, '--no-such-flag'], names: 'no-such-flag' },
    { args: ['send', '239.1.2.3', '0', 'hello', '--iface', 'lo'], names: '0' },
    { args: ['send', '239.1.2.3', port, 'hello', '--iface', 'lo', '--ttl', '256'], names: '256' },
    { args: ['send', '239.1.2.3', port, 'hello', '--iface', 'lo', '--ttl', 'NaN'], names: 'NaN' },
    { args: ['send', '224.0.0.0', port, 'hello', '--iface', 'lo'], names: '224.0.0.0' },
    { args: ['send', '239.1.2.3', port, 'hello', '--iface', 'lo', '--count', '-1'], names: '-1' },
    { args: ['send', '239.1.2.3', port, 'hello', '--iface', 'lo', '--size', '70000'], names: '70000' },
    { args: ['no-such-command'], names: 'no-such-command' },
  ];
  it.each(cases)('mcast $args', async ({ args, names }) => {
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(names);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

