/**
 * mcast: UDP multicast for Node.js with exact interface control, source-specific joins and
 * batched receive/send (recvmmsg/sendmmsg).
 *
 * @module mcast
 */
import { binding } from './binding';

export { createSocket, Socket } from './socket';
export { listInterfaces } from './interfaces';
export type { InterfaceChangeEvent } from './interface-churn';
export { memberships, multicastVersions, parseMemberships } from './memberships';
export type { InterfaceMemberships, KernelGroup, MulticastVersions, ParsedMemberships, ProcMembershipTexts } from './memberships';
export { McastError } from './errors';
export type * from './types';

/**
 * Socket option levels and names of this platform (SOL_SOCKET, IPPROTO_IP, IP_MULTICAST_TTL,
 * MCAST_JOIN_GROUP, ...), for setOption/getOption.
 */
export const constants: Readonly<Record<string, number>> = Object.freeze({ ...binding.constants });
export { createFeed, Feed } from './feed/index';
export type * from './feed/types';
export { CaptureWriter } from './pcap/writer';
export type { CaptureFormat, CaptureStatistics, CaptureWriterOptions, CaptureWriterTotals, DatagramToWrite } from './pcap/writer';
export { CaptureReader, readCapture } from './pcap/reader';
export { CaptureBatch } from './pcap/read-batch';
export type { CaptureClock } from './pcap/read-batch';
export type {
  CaptureInput,
  CaptureInterface,
  CaptureInterfaceStatistics,
  CaptureReaderOptions,
  CaptureSkips,
  CapturedDatagram,
} from './pcap/reader';
export { CaptureFormatError } from './pcap/format';
