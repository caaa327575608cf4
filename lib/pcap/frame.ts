/**
 * Link, IP and UDP headers of captured frames: their sizes in the writer's records (which
 * native/pcap_frames.cc builds), and the decoding of a captured frame back into a UDP datagram
 * for the reader (Ethernet with 802.1Q/802.1ad tags, Linux cooked v1 and v2, raw IP).
 */
import { formatAddressBytes } from '../address';

/** The link types (LINKTYPE_* of the tcpdump.org registry) that the reader decodes. */
export const LINKTYPE = {
  ETHERNET: 1,
  /** Raw IPv4 or IPv6, version in the first nibble. */
  RAW: 101,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** DLT_RAW as some systems wrote it in old files (12 on most BSDs, 14 on OpenBSD). */
function isLegacyRaw(linkType: number): boolean {
  return linkType === 12 || linkType === 14;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
/** 802.1Q, 802.1ad and the old QinQ tag (compared, not a Set: a hash lookup per frame shows). */
function isVlanTag(type: number): boolean {
  return type === 0x8100 || type === 0x88a8 || type === 0x9100;
}
const IPPROTO_UDP = 17;

/** Bytes of the synthetic headers: Ethernet (14) + IPv4 (20) or IPv6 (40) + UDP (8). */
export const HEADER_BYTES = { 4: 14 + 20 + 8, 6: 14 + 40 + 8 } as const;

/** Why a frame is not a UDP datagram the reader returns. */
export type FrameSkip = 'nonIp' | 'nonUdp' | 'fragments' | 'unsupportedLinkType' | 'shortFrames';

/** A UDP datagram decoded from a captured frame. */
export interface DecodedDatagram {
  family: 4 | 6;
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  ttl: number;
  /** The captured payload bytes (a view into the frame). */
  payload: Buffer;
  /** The payload's length on the wire, from the UDP header. */
  payloadLength: number;
}

/** Formatted IPv4 addresses by value: a capture has few, and a string per datagram adds up. */
const IPV4_TEXT = new Map<number, string>();

/** The text of the 4 or 16 address bytes at frame[at] (IPv4 cached by value). */
export function addressText(frame: Uint8Array, at: number, family: 4 | 6): string {
  if (family === 6) return formatAddressBytes(frame, at, 6);
  const key = (((frame[at] as number) << 24) | ((frame[at + 1] as number) << 16) | ((frame[at + 2] as number) << 8) | (frame[at + 3] as number)) >>> 0;
  let text = IPV4_TEXT.get(key);
  if (text === undefined) {
    text = formatAddressBytes(frame, at, 4);
    if (IPV4_TEXT.size >= 4096) IPV4_TEXT.clear();
    IPV4_TEXT.set(key, text);
  }
  return text;
}

function be16(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number);
}

/**
 * Where the parts of a decoded frame are, as offsets into the buffer it was decoded from: the
 * reader fills one of these per frame (no object, no string, no view per datagram).
 */
export interface FrameFields {
  family: 4 | 6;
  ttl: number;
  /** Offset of the source address (4 or 16 bytes); the destination follows it. */
  addressAt: number;
  sourcePort: number;
  destinationPort: number;
  /** The captured payload: buffer[payloadStart, payloadEnd). */
  payloadStart: number;
  payloadEnd: number;
  /** The payload's length on the wire, from the UDP header. */
  payloadLength: number;
}

/** A FrameFields to fill. */
export function frameFields(): FrameFields {
  return { family: 4, ttl: 0, addressAt: 0, sourcePort: 0, destinationPort: 0, payloadStart: 0, payloadEnd: 0, payloadLength: 0 };
}

/**
 * Sets out.payloadStart to the offset of the network layer of the frame buf[start, end) and
 * returns its ethertype, or returns the reason it has none.
 */
function networkLayer(linkType: number, buf: Uint8Array, start: number, end: number, out: FrameFields): number | FrameSkip {
  let at: number;
  let type: number;
  switch (linkType) {
    case LINKTYPE.ETHERNET:
      at = start + 14;
      if (end < at) return 'shortFrames';
      type = be16(buf, start + 12);
      break;
    case LINKTYPE.LINUX_SLL:
      at = start + 16;
      if (end < at) return 'shortFrames';
      type = be16(buf, start + 14);
      break;
    case LINKTYPE.LINUX_SLL2:
      at = start + 20;
      if (end < at) return 'shortFrames';
      type = be16(buf, start);
      break;
    case LINKTYPE.IPV4:
      out.payloadStart = start;
      return ETHERTYPE_IPV4;
    case LINKTYPE.IPV6:
      out.payloadStart = start;
      return ETHERTYPE_IPV6;
    default: {
      if (linkType !== LINKTYPE.RAW && !isLegacyRaw(linkType)) return 'unsupportedLinkType';
      if (end < start + 1) return 'shortFrames';
      const version = (buf[start] as number) >> 4;
      out.payloadStart = start;
      return version === 4 ? ETHERTYPE_IPV4 : version === 6 ? ETHERTYPE_IPV6 : 0;
    }
  }
  // 802.1Q / 802.1ad tags (stacked too): 4 bytes each, the real ethertype after them.
  while (isVlanTag(type)) {
    if (end < at + 4) return 'shortFrames';
    type = be16(buf, at + 2);
    at += 4;
  }
  out.payloadStart = at;
  return type;
}

/**
 * Decodes the captured frame buf[start, end) of `linkType` into `out` (offsets into buf), or
 * returns why it is not a UDP datagram. Only the captured bytes are read; a frame cut inside its
 * headers is a 'shortFrames' skip, a payload cut by the snap length is decoded with
 * payloadEnd - payloadStart < payloadLength. Ethernet padding after a short datagram is not
 * payload (the UDP length says where the payload ends).
 */
export function decodeFrameAt(linkType: number, buf: Uint8Array, start: number, frameEnd: number, out: FrameFields): FrameSkip | undefined {
  const type = networkLayer(linkType, buf, start, frameEnd, out);
  if (typeof type === 'string') return type;
  let at = out.payloadStart;
  let end = frameEnd;
  if (type === ETHERTYPE_IPV4) {
    if (frameEnd < at + 20) return 'shortFrames';
    if ((buf[at] as number) >> 4 !== 4) return 'nonIp';
    const headerLength = ((buf[at] as number) & 0x0f) * 4;
    if (headerLength < 20 || frameEnd < at + headerLength) return 'shortFrames';
    if ((be16(buf, at + 6) & 0x3fff) !== 0) return 'fragments'; // MF set or an offset: a piece
    if (buf[at + 9] !== IPPROTO_UDP) return 'nonUdp';
    out.family = 4;
    out.ttl = buf[at + 8] as number;
    out.addressAt = at + 12;
    end = Math.min(end, at + be16(buf, at + 2));
    at += headerLength;
  } else if (type === ETHERTYPE_IPV6) {
    if (frameEnd < at + 40) return 'shortFrames';
    if ((buf[at] as number) >> 4 !== 6) return 'nonIp';
    out.family = 6;
    out.ttl = buf[at + 7] as number;
    out.addressAt = at + 8;
    const payloadLength = be16(buf, at + 4);
    if (payloadLength !== 0) end = Math.min(end, at + 40 + payloadLength);
    let next = buf[at + 6] as number;
    at += 40;
    // Extension headers: hop-by-hop, routing and destination options are stepped over; a
    // fragment header means a piece of a datagram.
    for (;;) {
      if (next === IPPROTO_UDP) break;
      if (next === 44) return 'fragments';
      if (next !== 0 && next !== 43 && next !== 60 && next !== 51) return 'nonUdp';
      if (frameEnd < at + 2) return 'shortFrames';
      const length = next === 51 ? ((buf[at + 1] as number) + 2) * 4 : ((buf[at + 1] as number) + 1) * 8;
      next = buf[at] as number;
      at += length;
    }
  } else {
    return 'nonIp';
  }
  if (frameEnd < at + 8) return 'shortFrames';
  const udpLength = be16(buf, at + 4);
  const payloadLength = udpLength >= 8 ? udpLength - 8 : Math.max(0, end - at - 8);
  out.sourcePort = be16(buf, at);
  out.destinationPort = be16(buf, at + 2);
  out.payloadStart = at + 8;
  out.payloadEnd = Math.max(at + 8, Math.min(end, at + 8 + payloadLength));
  out.payloadLength = payloadLength;
  return undefined;
}

const DECODED = frameFields();

/**
 * Decodes a captured frame of `linkType` into a UDP datagram, or says why it is not one (see
 * decodeFrameAt; this form builds the strings and the payload view).
 */
export function decodeFrame(linkType: number, frame: Buffer): DecodedDatagram | FrameSkip {
  const f = DECODED;
  const skip = decodeFrameAt(linkType, frame, 0, frame.length, f);
  if (skip !== undefined) return skip;
  return {
    family: f.family,
    source: addressText(frame, f.addressAt, f.family),
    destination: addressText(frame, f.addressAt + (f.family === 4 ? 4 : 16), f.family),
    sourcePort: f.sourcePort,
    destinationPort: f.destinationPort,
    ttl: f.ttl,
    payload: frame.subarray(f.payloadStart, f.payloadEnd),
    payloadLength: f.payloadLength,
  };
}
