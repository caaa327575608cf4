/**
 * addMembership and its relatives as libuv's uv_udp_set_membership and
 * uv_udp_set_source_membership do them: the group's family picks the form, an unbound socket
 * is bound to the wildcard first, and IPv4 names the interface by address (INADDR_ANY without
 * one), IPv6 by the zone of an address. Every change goes through the core's one membership
 * operation, which also keeps the IPv6 interface filter of `multicastAll: false`.
 */
import { isIPv4 } from 'node:net';

import { MembershipOp } from '../binding';
import { EBADF, EINVAL, errnoException, errnoOf, nodeError, validateString } from '../dgram-errors';
import { membershipIfindex, parseIPv6 } from './addresses';
import { deferredBind, healthCheck, type DgramState } from './state';

/** The core's membership call; 0 or a negative errno. */
function change(state: DgramState, op: MembershipOp, group: string, source: string | null, ifindex: number, ifaddr: string | null): number {
  const core = state.core;
  if (core === null) return EBADF;
  try {
    core.changeMembership(op, group, source, ifindex, ifaddr);
    return 0;
  } catch (error) {
    return errnoOf(error);
  }
}

/** uv_udp_set_membership: join or leave `group` on `iface` (null: the kernel's choice). */
export function membership(state: DgramState, group: string, iface: string | null, join: boolean): number {
  const op = join ? MembershipOp.Join : MembershipOp.Leave;
  if (isIPv4(group)) {
    const errno = deferredBind(state, 4);
    if (errno) return errno;
    if (iface !== null && !isIPv4(iface)) return EINVAL;
    return change(state, op, group, null, 0, iface ?? '0.0.0.0');
  }
  const group6 = parseIPv6(group);
  if (group6 === undefined) return EINVAL;
  const errno = deferredBind(state, 6);
  if (errno) return errno;
  const ifindex = membershipIfindex(iface);
  if (ifindex === undefined) return EINVAL;
  return change(state, op, group6.address, null, ifindex, null);
}

/** uv_udp_set_source_membership: join or leave `source`'s traffic to `group`. */
export function sourceMembership(state: DgramState, source: string, group: string, iface: string | null, join: boolean): number {
  const op = join ? MembershipOp.JoinSource : MembershipOp.LeaveSource;
  if (isIPv4(group)) {
    if (!isIPv4(source)) return EINVAL;
    const errno = deferredBind(state, 4);
    if (errno) return errno;
    if (iface !== null && !isIPv4(iface)) return EINVAL;
    return change(state, op, group, source, 0, iface ?? '0.0.0.0');
  }
  const group6 = parseIPv6(group);
  const source6 = parseIPv6(source);
  if (group6 === undefined || source6 === undefined) return EINVAL;
  const errno = deferredBind(state, 6);
  if (errno) return errno;
  const ifindex = membershipIfindex(iface);
  if (ifindex === undefined) return EINVAL;
  return change(state, op, group6.address, source6.address, ifindex, null);
}

/** Socket#addMembership / dropMembership: dgram's checks, then membership() or its exception. */
export function changeMembership(state: DgramState, syscall: string, group: unknown, iface: unknown, join: boolean): void {
  healthCheck(state);
  if (!group) throw nodeError(TypeError, 'ERR_MISSING_ARGS', 'The "multicastAddress" argument must be specified');
  const errno = membership(state, String(group), iface === undefined || iface === null ? null : String(iface), join);
  if (errno) throw errnoException(errno, syscall);
}

/** Socket#addSourceSpecificMembership / drop...: dgram's checks, then sourceMembership() or its exception. */
export function changeSourceMembership(state: DgramState, syscall: string, source: unknown, group: unknown, iface: unknown, join: boolean): void {
  healthCheck(state);
  validateString(source, 'sourceAddress');
  validateString(group, 'groupAddress');
  const errno = sourceMembership(state, source, group, iface === undefined || iface === null ? null : String(iface), join);
  if (errno) throw errnoException(errno, syscall);
}
