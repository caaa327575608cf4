/**
 * dgram's option setters as libuv's uv_udp_set_* do them: which socket option, with which
 * value, checked in which order, and the kernel's errno passed back unchanged. Each returns 0
 * or a negative errno (libuv's sign); the Socket methods turn that into dgram's exception.
 */
import { isIPv4 } from 'node:net';

import { binding } from '../binding';
import { EBADF, EINVAL, errnoOf, nodeError, notRunning, SystemError } from '../dgram-errors';
import { parseIPv6 } from './addresses';
import type { DgramState } from './state';

const C = binding.constants as Readonly<Record<string, number>>;

/**
 * setsockopt on the descriptor, as libuv does it. Before any bind there is no descriptor:
 * EBADF, as libuv's setsockopt on fd -1 says.
 */
export function setOption(state: DgramState, level: number, name: number, value: number | Buffer): number {
  if (!state.open) throw notRunning();
  const core = state.core;
  if (core === null) return EBADF;
  try {
    core.setOption(level, name, value);
    return 0;
  } catch (error) {
    return errnoOf(error);
  }
}

/** libuv's uv__setsockopt: the IPv6 option on an IPv6 descriptor, the IPv4 one otherwise. */
function setFamilyOption(state: DgramState, option4: string, option6: string, value: number): number {
  const v6 = state.core?.family === 6;
  return setOption(state, v6 ? C.IPPROTO_IPV6! : C.IPPROTO_IP!, (v6 ? C[option6] : C[option4])!, value);
}

/** uv_udp_set_broadcast. */
export function setBroadcast(state: DgramState, flag: boolean): number {
  return setOption(state, C.SOL_SOCKET!, C.SO_BROADCAST!, flag ? 1 : 0);
}

/** uv_udp_set_ttl (min 1) and uv_udp_set_multicast_ttl (min 0): min..255, EINVAL otherwise. */
export function setTtl(state: DgramState, ttl: number, multicast: boolean): number {
  if (!state.open) throw notRunning();
  const value = ttl | 0;
  if (value < (multicast ? 0 : 1) || value > 255) return EINVAL;
  return multicast
    ? setFamilyOption(state, 'IP_MULTICAST_TTL', 'IPV6_MULTICAST_HOPS', value)
    : setFamilyOption(state, 'IP_TTL', 'IPV6_UNICAST_HOPS', value);
}

/** uv_udp_set_multicast_loop. */
export function setMulticastLoopback(state: DgramState, flag: boolean): number {
  return setFamilyOption(state, 'IP_MULTICAST_LOOP', 'IPV6_MULTICAST_LOOP', flag ? 1 : 0);
}

/**
 * uv_udp_set_multicast_interface: an IPv4 address sets IP_MULTICAST_IF with that address; an
 * IPv6 address sets IPV6_MULTICAST_IF with the index of its zone (`'::%eth1'`).
 */
export function setMulticastInterface(state: DgramState, interfaceAddress: string): number {
  if (isIPv4(interfaceAddress)) {
    const inAddr = Buffer.from(interfaceAddress.split('.').map(Number));
    return setOption(state, C.IPPROTO_IP!, C.IP_MULTICAST_IF!, inAddr);
  }
  const v6 = parseIPv6(interfaceAddress);
  if (v6 === undefined) return EINVAL;
  return setOption(state, C.IPPROTO_IPV6!, C.IPV6_MULTICAST_IF!, v6.scopeId);
}

/** mcast: IP_MULTICAST_ALL / IPV6_MULTICAST_ALL, now and for a descriptor opened later. */
export function setMulticastAll(state: DgramState, flag: boolean): void {
  state.multicastAll = flag;
  state.core?.setMulticastAll(flag);
}

/**
 * dgram's bufferSize(): 0 reads SO_RCVBUF/SO_SNDBUF, anything else sets it (plain SO_RCVBUF /
 * SO_SNDBUF as libuv sets them, capped by net.core.rmem_max / wmem_max). Throws Node's
 * ERR_SOCKET_BAD_BUFFER_SIZE or ERR_SOCKET_BUFFER_SIZE.
 */
export function bufferSize(state: DgramState, size: unknown, receive: boolean): number {
  if (typeof size !== 'number' || size >>> 0 !== size) {
    throw nodeError(TypeError, 'ERR_SOCKET_BAD_BUFFER_SIZE', 'Buffer size must be a positive integer');
  }
  if (!state.open) throw notRunning();
  const syscall = receive ? 'uv_recv_buffer_size' : 'uv_send_buffer_size';
  const fail = (errno: number) => new SystemError('ERR_SOCKET_BUFFER_SIZE', 'Could not get or set buffer size', errno, syscall);
  const core = state.core;
  if (size > 0x7fffffff) throw fail(EINVAL);
  if (core === null) throw fail(EBADF);
  try {
    if (size === 0) return receive ? core.getRecvBufferSize() : core.getSendBufferSize();
    core.setOption(C.SOL_SOCKET!, receive ? C.SO_RCVBUF! : C.SO_SNDBUF!, size);
    return size;
  } catch (error) {
    throw fail(errnoOf(error));
  }
}
