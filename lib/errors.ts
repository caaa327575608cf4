/**
 * Node-style errors. Every error mcast throws has a `code`: an errno name (EADDRINUSE,
 * ENOBUFS, ...) for failed system calls, or an ERR_* code for a value it refused.
 */
import { readFileSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';

/** Context that makes a failed call's message say what was being done. */
export interface ErrorContext {
  group?: string;
  source?: string;
  interface?: string;
  /** What the user asked for, e.g. `join 239.1.2.3 on eth1 (index 3)`. */
  action?: string;
  /** An explanation added after the system's message. */
  hint?: string;
}

/** A failed system call. */
export class McastError extends Error {
  /** The errno name, e.g. `EADDRINUSE`, `ENOBUFS`, `ENODEV`. */
  readonly code: string;
  /** Negative, as libuv and every Node system error carry it (-98 for EADDRINUSE). */
  readonly errno: number;
  /** The call that failed, with the option, e.g. `setsockopt(MCAST_JOIN_GROUP)`. */
  readonly syscall: string;
  /** The group of a failed membership call. */
  readonly group?: string;
  /** The source of a failed source-specific call. */
  readonly source?: string;
  /** The interface of the failed call, as given. */
  readonly interface?: string;

  /** @internal mcast makes these; a program only reads them. */
  constructor(code: string, errno: number, syscall: string, message: string, context: ErrorContext = {}) {
    super(message);
    this.name = 'McastError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    if (context.group !== undefined) this.group = context.group;
    if (context.source !== undefined) this.source = context.source;
    if (context.interface !== undefined) this.interface = context.interface;
  }
}

/** Errno-specific explanations, where the system's own words do not tell the user what to do. */
const HINTS: Readonly<Record<string, string>> = {
  ENOBUFS: 'the device queue is full (the datagram was not sent)',
  EADDRINUSE: 'this socket has already joined that group on that interface',
  EADDRNOTAVAIL: 'the socket has no such membership (leave, block and unblock need the join first), or the address is not local',
  ENODEV: 'no such interface, or no multicast route to choose one: name the interface explicitly',
  ENETUNREACH:
    'no route to this destination: name the outgoing interface (setMulticastInterface); note that Linux carries no IPv6 multicast on lo',
  EMSGSIZE: 'the datagram is larger than the path allows',
  ECONNREFUSED: "the connected peer's port is closed (ICMP port unreachable about a datagram this socket sent)",
  EPERM: 'the operation needs more privilege (CAP_NET_ADMIN / CAP_NET_RAW) in this network namespace',
};

function readSysctl(name: string): string {
  try {
    return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/**
 * ENOBUFS from a membership call: a per-socket limit, named with the value in force in this
 * network namespace (the sysctls are per namespace, read when the error happens).
 */
function membershipLimitHint(): string {
  const groups = readSysctl('net.ipv4.igmp_max_memberships');
  const sources = readSysctl('net.ipv4.igmp_max_msf');
  return (
    `this socket reached the limit of memberships per socket, net.ipv4.igmp_max_memberships = ${groups}, ` +
    `or of sources per group, net.ipv4.igmp_max_msf = ${sources}; raise the sysctl or spread the groups over more sockets`
  );
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return `E${-errno}`;
  }
}

/**
 * Turns an error from the binding (`errno` negative, libuv's sign, as below JS everywhere)
 * into an McastError with context.
 */
export function systemError(errno: number, syscall: string, context: ErrorContext = {}): McastError {
  const code = errnoName(errno);
  const hint = context.hint ?? (code === 'ENOBUFS' && syscall.includes('MCAST_') ? membershipLimitHint() : HINTS[code]);
  const what = context.action !== undefined ? `${context.action} failed: ` : '';
  const message = `${what}${syscall} ${code}${hint !== undefined ? ` (${hint})` : ''}`;
  return new McastError(code, errno, syscall, message, context);
}

/** Re-throws an error from the binding as an McastError with context; other errors pass unchanged. */
export function rethrowNative(error: unknown, context: ErrorContext = {}): never {
  if (error instanceof Error && typeof (error as { errno?: unknown }).errno === 'number') {
    const native = error as Error & { errno: number; syscall?: string; sent?: number };
    const converted = systemError(native.errno, native.syscall ?? 'unknown', context);
    if (typeof native.sent === 'number') (converted as McastError & { sent?: number }).sent = native.sent;
    throw converted;
  }
  throw error;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    return `'${shown.replace(/\0/g, '\\0')}' (string)`;
  }
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return `${String(value)} (${typeof value})`;
  }
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
  return ctor !== undefined ? `an instance of ${ctor}` : typeof value;
}

type NodeErrorBase = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

/**
 * Prototypes like those of Node's internal NodeError classes: `constructor` answers the base
 * class, and toString() (which Node's default stack formatting uses too) shows the code.
 */
const NODE_ERROR_PROTOTYPES = new Map<NodeErrorBase, object>(
  ([Error, TypeError, RangeError] as const).map((Base) => [
    Base,
    Object.create(Base.prototype as object, {
      constructor: { get: () => Base, configurable: true },
      toString: {
        value: function toString(this: Error & { code: string }): string {
          return `${this.name} [${this.code}]: ${this.message}`;
        },
        writable: true,
        configurable: true,
      },
    }) as object,
  ]),
);

/** An error like Node's NodeError: own `code`, and `Name [CODE]: message` on its stack. */
export function nodeError(Base: NodeErrorBase, code: string, message: string): Error & { code: string } {
  const error = new Base(message) as Error & { code: string };
  Object.setPrototypeOf(error, NODE_ERROR_PROTOTYPES.get(Base) ?? Base.prototype);
  // The first line of the stack is fixed when it is first read: show the code there, as Node does.
  error.name = `${Base.name} [${code}]`;
  void error.stack;
  delete (error as { name?: string }).name;
  error.code = code;
  return error;
}

/** How a facade shows the received value in a message (mcast's own, or Node's for dgram). */
export type DescribeValue = (value: unknown) => string;

/** Node's subject of an argument message: `"ttl" argument`, `"options.ttl" property`. */
function subject(name: string): string {
  if (name.endsWith(' argument')) return name;
  return `"${name}" ${name.includes('.') ? 'property' : 'argument'}`;
}

/**
 * ERR_INVALID_ARG_TYPE, a TypeError: `The "ttl" argument must be an integer from 0 to 255.
 * Received 'x' (string)`. The one implementation of both facades; each passes its `describe`.
 */
export function invalidArgType(name: string, expected: string, actual: unknown, describeActual: DescribeValue = describe): TypeError & { code: string } {
  return nodeError(TypeError, 'ERR_INVALID_ARG_TYPE', `The ${subject(name)} must be ${expected}. Received ${describeActual(actual)}`);
}

/** ERR_OUT_OF_RANGE, a RangeError: a value of the right type but outside what is allowed. */
export function outOfRange(name: string, expected: string, actual: unknown, describeActual: DescribeValue = describe): RangeError & { code: string } {
  return nodeError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${expected}. Received ${describeActual(actual)}`);
}

/** A refused value with an mcast-specific code (ERR_MCAST_*), a TypeError or plain Error. */
export function mcastError(code: string, message: string, kind: 'type' | 'plain' = 'plain'): Error & { code: string } {
  return nodeError(kind === 'type' ? TypeError : Error, code, message);
}

export { describe as describeValue };
