/**
 * The option calls of an open socket through the binding (setsockopt, getsockopt), with the
 * errors and hints users see: int options, buffer sizes, raw options, the bound device, the
 * outgoing interface and GRO. The Socket methods check that the socket is open, then call these.
 */
import { constants as osConstants } from 'node:os';

import type { NativeSocket } from '../binding';
import { invalidArgType, rethrowNative } from '../errors';
import { firstIPv4Address, type ResolvedInterface } from '../interfaces';
import { checkInteger } from '../validate';
import type { Family } from '../types';
import { C, DEVICE_HINTS, MAX_BUFFER_SIZE } from './options';

let bufferWarningShown = false;

/** options.bindToDevice: SO_BINDTODEVICE, with the hint for a refusal. */
export function bindToDevice(native: NativeSocket, device: ResolvedInterface): void {
  try {
    native.setRawOption(C.SOL_SOCKET!, C.SO_BINDTODEVICE!, Buffer.from(`${device.name}\0`));
  } catch (error) {
    const hint = DEVICE_HINTS[(error as { errno?: number }).errno ?? 0];
    rethrowNative(error, { action: `bind to device ${device.label}`, interface: device.name, ...(hint !== undefined && { hint }) });
  }
}

/** The interface multicast is sent from (IP_MULTICAST_IF / IPV6_MULTICAST_IF). */
export function setOutgoing(native: NativeSocket, family: Family, iface: ResolvedInterface): void {
  // IPv4 also names the source address: the kernel's own choice by scope fails on `lo`.
  const source = family === 4 ? (iface.address ?? firstIPv4Address(iface.index)) : undefined;
  try {
    native.setMulticastInterface(iface.index, source);
  } catch (error) {
    rethrowNative(error, { action: `set the outgoing interface to ${iface.label}`, interface: iface.name });
  }
}

/** An int option; `permissionHint` is the error's hint when the kernel refused it (EPERM, EACCES). */
export function setInt(native: NativeSocket, level: number, name: number, value: number, label: string, action: string, permissionHint?: string): void {
  try {
    native.setIntOption(level, name, value, label);
  } catch (error) {
    const errno = (error as { errno?: number }).errno ?? 0; // negative, libuv's sign
    const refused = errno === -osConstants.errno.EPERM || errno === -osConstants.errno.EACCES;
    rethrowNative(error, { action, ...(refused && permissionHint !== undefined && { hint: permissionHint }) });
  }
}

/** SO_RCVBUF / SO_SNDBUF; warns once per process when the kernel capped the request. */
export function setBuffer(native: NativeSocket, receive: boolean, bytes: number): number {
  const name = receive ? 'recvBufferSize' : 'sendBufferSize';
  checkInteger(name, bytes, 1, MAX_BUFFER_SIZE);
  let effective = 0;
  try {
    effective = native.setBufferSize(receive, bytes);
  } catch (error) {
    rethrowNative(error, { action: `set ${name} to ${bytes}` });
  }
  // The kernel reports twice the usable size; less than that means it capped the request.
  if (effective < bytes * 2 && !bufferWarningShown) {
    bufferWarningShown = true;
    const sysctl = receive ? 'net.core.rmem_max' : 'net.core.wmem_max';
    process.emitWarning(
      `mcast: asked for a ${name} of ${bytes} bytes, the kernel granted ${Math.floor(effective / 2)} (raise ${sysctl}, or run with CAP_NET_ADMIN so that SO_${receive ? 'RCV' : 'SND'}BUFFORCE is used)`,
      { code: 'MCAST_BUFFER_SIZE' },
    );
  }
  return effective;
}

/** Raw setsockopt: a number or boolean as a C int, a Uint8Array as it is. */
export function setOption(native: NativeSocket, level: number, name: number, value: number | boolean | Uint8Array): void {
  checkInteger('level', level, 0, 0x7fffffff);
  checkInteger('name', name, 0, 0x7fffffff);
  const action = `setsockopt(level ${level}, name ${name})`;
  try {
    if (typeof value === 'boolean' || typeof value === 'number') {
      const int = typeof value === 'boolean' ? (value ? 1 : 0) : checkInteger('value', value, -0x80000000, 0x7fffffff);
      native.setIntOption(level, name, int, 'setsockopt');
    } else if (value instanceof Uint8Array) {
      native.setRawOption(level, name, value);
    } else {
      throw invalidArgType('value', 'a number, boolean or Buffer', value);
    }
  } catch (error) {
    rethrowNative(error, { action });
  }
}

/** Raw getsockopt into `size` bytes: the bytes the kernel wrote. */
export function getOption(native: NativeSocket, level: number, name: number, size: number): Buffer {
  checkInteger('level', level, 0, 0x7fffffff);
  checkInteger('name', name, 0, 0x7fffffff);
  checkInteger('size', size, 1, 65536);
  try {
    return native.getRawOption(level, name, size);
  } catch (error) {
    rethrowNative(error, { action: `getsockopt(level ${level}, name ${name})` });
  }
}

/** options.gro: UDP_GRO, keeping `maxMessageSize` bytes of each datagram. */
export function enableGro(native: NativeSocket, maxMessageSize: number): void {
  try {
    native.enableGro(maxMessageSize);
  } catch (error) {
    rethrowNative(error, {
      action: 'turn on options.gro',
      hint: 'this kernel or socket type has no UDP_GRO (Linux 5.0 and later have it): create the socket without gro',
    });
  }
}
