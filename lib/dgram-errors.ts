/**
 * The errors and argument checks of mcast/dgram, worded as Node's lib/internal/errors.js and
 * lib/internal/validators.js word them for dgram: same classes, names, codes, messages and
 * properties, so that code which inspects dgram's errors sees the same thing.
 */
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap, getSystemErrorName, inspect, type InspectOptions } from 'node:util';

import { invalidArgType as argType, McastError, nodeError, outOfRange as range } from './errors';

export { nodeError };

const ERRNO = osConstants.errno as Readonly<Record<string, number>>;

/** Node's determineSpecificType(): how a received value is described in messages. */
export function describeReceived(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'bigint':
      return `type bigint (${value}n)`;
    case 'number':
      if (value === 0) return 1 / value === -Infinity ? 'type number (-0)' : 'type number (0)';
      return `type number (${String(value)})`;
    case 'boolean':
      return `type boolean (${String(value)})`;
    case 'symbol':
      return `type symbol (${String(value)})`;
    case 'function':
      return `function ${value.name}`;
    case 'object': {
      const ctor = (value as { constructor?: { name?: unknown } }).constructor;
      if (ctor !== undefined && ctor !== null && 'name' in ctor) return `an instance of ${String(ctor.name)}`;
      return inspect(value, { depth: -1 });
    }
    case 'string': {
      const text = value.length > 28 ? `${value.slice(0, 25)}...` : value;
      return text.includes("'") ? `type string (${JSON.stringify(text)})` : `type string ('${text}')`;
    }
    default:
      return `type ${typeof value} (${inspect(value)})`;
  }
}

export const BUFFER_TYPES = 'of type string or an instance of Buffer, TypedArray, or DataView';

/** Node's way of showing a value outside a range: inspect(), with `_` groups for large integers. */
function describeOutOfRange(input: unknown): string {
  if (typeof input === 'number' && Number.isInteger(input) && (input > 2 ** 32 || input < -(2 ** 32))) {
    return String(input).replace(/(\d)(?=(\d{3})+$)/g, '$1_');
  }
  return inspect(input);
}

/** ERR_INVALID_ARG_TYPE shaped as Node words it for dgram (errors.ts holds the one implementation). */
export function nodeArgType(name: string, expected: string, actual: unknown): Error & { code: string } {
  return argType(name, expected, actual, describeReceived);
}

/** ERR_OUT_OF_RANGE shaped as Node words it for dgram. */
export function nodeOutOfRange(name: string, range_: string, input: unknown): Error & { code: string } {
  return range(name, range_, input, describeOutOfRange);
}

export function badPort(name: string, port: unknown, allowZero: boolean): Error & { code: string } {
  return nodeError(
    RangeError,
    'ERR_SOCKET_BAD_PORT',
    `${name} should be ${allowZero ? '>=' : '>'} 0 and < 65536. Received ${describeReceived(port)}.`,
  );
}

export const notRunning = () => nodeError(Error, 'ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
export const notConnected = () => nodeError(Error, 'ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
export const isConnected = () => nodeError(Error, 'ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
export const ipBlocked = (ip: string) => nodeError(Error, 'ERR_IP_BLOCKED', `IP(${ip}) is blocked by net.BlockList`);

/** What mcast/dgram cannot do like dgram: said at once, never done differently. */
export function unsupported(what: string, instead: string): Error & { code: string } {
  return nodeError(Error, 'ERR_MCAST_UNSUPPORTED', `mcast/dgram does not support ${what}: ${instead}`);
}

/** A negative libuv-style errno for an errno name, as Node's errors carry it. */
export function uvErrno(code: string): number {
  return -(ERRNO[code] ?? 0);
}

export const EBADF = uvErrno('EBADF');
export const EINVAL = uvErrno('EINVAL');
export const EMSGSIZE = uvErrno('EMSGSIZE');
export const ECANCELED = uvErrno('ECANCELED');

/** Node's ErrnoException: `${syscall} ${code}`. */
export function errnoException(errno: number, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${getSystemErrorName(errno)}`), {
    errno,
    code: getSystemErrorName(errno),
    syscall,
  });
}

/** Node's ExceptionWithHostPort: `${syscall} ${code} ${address}:${port}`. */
export function exceptionWithHostPort(errno: number, syscall: string, address: unknown, port: unknown): Error {
  const code = getSystemErrorName(errno);
  let details = '';
  if (port && (port as number) > 0) details = ` ${String(address)}:${String(port)}`;
  else if (address) details = ` ${String(address)}`;
  const error = Object.assign(new Error(`${syscall} ${code}${details}`), { errno, code, syscall, address });
  if (port) Object.assign(error, { port });
  return error;
}

/** Node's SystemError for ERR_SOCKET_BUFFER_SIZE (its message quotes libuv's error text). */
export class SystemError extends Error {
  readonly code: string;
  readonly info: { errno: number; code: string; message: string; syscall: string };

  constructor(key: string, prefix: string, errno: number, syscall: string) {
    const code = getSystemErrorName(errno);
    const text = getSystemErrorMap().get(errno)?.[1] ?? code;
    super(`${prefix}: ${syscall} returned ${code} (${text})`);
    const info = { errno, code, message: text, syscall };
    this.name = `SystemError [${key}]`;
    void this.stack;
    this.code = key;
    this.info = info;
    // Node defines these on the instance, in this order: the same keys show when it is logged.
    Object.defineProperties(this, {
      name: { value: 'SystemError', enumerable: false, writable: true, configurable: true },
      info: { value: info, enumerable: true, writable: false, configurable: true },
      errno: { get: () => info.errno, set: (v: number) => (info.errno = v), enumerable: true, configurable: true },
      syscall: { get: () => info.syscall, set: (v: string) => (info.syscall = v), enumerable: true, configurable: true },
    });
  }

  declare readonly errno: number;
  declare readonly syscall: string;

  override toString(): string {
    return `${this.name} [${this.code}]: ${this.message}`;
  }

  /**
   * As Node's SystemError logs itself: the getters' values shown (`errno: [Getter/Setter: -9]`),
   * so that a log line reads the same with either module.
   */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    return inspect(this, { ...options, getters: true, customInspect: false });
  }
}

/**
 * The negative errno of a failed mcast call: an McastError, or the binding's own error (the
 * core's internal calls pass it on unwrapped). Anything that is not a system error is re-thrown.
 */
export function errnoOf(error: unknown): number {
  if (error instanceof McastError) return error.errno;
  if (error instanceof Error && typeof (error as { errno?: unknown }).errno === 'number' && 'syscall' in error) {
    return (error as unknown as { errno: number }).errno;
  }
  throw error;
}

// ---- argument checks ---------------------------------------------------------------------------

export function validateString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw nodeArgType(name, 'of type string', value);
}

export function validateNumber(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number') throw nodeArgType(name, 'of type number', value);
}

export function validateUint32(value: unknown, name: string): void {
  if (typeof value !== 'number') throw nodeArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw nodeOutOfRange(name, 'an integer', value);
  if (value < 0 || value > 4_294_967_295) throw nodeOutOfRange(name, '>= 0 && <= 4294967295', value);
}

export function validatePort(port: unknown, name: string, allowZero: boolean): number {
  if (
    (typeof port !== 'number' && typeof port !== 'string') ||
    (typeof port === 'string' && port.trim().length === 0) ||
    +port !== +port >>> 0 ||
    +port > 0xffff ||
    (+port === 0 && !allowZero)
  ) {
    throw badPort(name, port, allowZero);
  }
  return +port | 0;
}

/** V8's ToUint32, which Node's binding applies to a port given to bind(). */
export function toUint32(value: unknown): number {
  return Number(value) >>> 0;
}
