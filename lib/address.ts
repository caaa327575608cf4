/**
 * The address rules and limits of every facade (core, mcast/dgram, CLI), each once: families,
 * multicast ranges, zones, the largest payload, and how an address with a port is written; and
 * formatting of the raw address bytes that the receive records hold. Formatting is cached per
 * address so that a receiver with a few sources makes no new strings per datagram.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The largest UDP payload per family: 65535 minus the UDP header, and for IPv4 its 20-byte IP header (IPv6 counts its header apart). */
export const MAX_PAYLOAD = { 4: 65507, 6: 65527 } as const;

/** `a.b.c.d:port` or `[v6]:port`, as addresses with ports are written. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** 4, 6, or 0 when `text` is not a numeric address. An IPv6 zone (`%eth0`) is not accepted here. */
export function addressFamily(text: string): 0 | 4 | 6 {
  if (isIPv4(text)) return 4;
  if (!text.includes('%') && isIPv6(text)) return 6;
  return 0;
}

/** Splits `ff02::1%eth0` into the address and the zone (interface) part. */
export function splitZone(text: string): { address: string; zone: string | undefined } {
  const at = text.indexOf('%');
  if (at < 0) return { address: text, zone: undefined };
  return { address: text.slice(0, at), zone: text.slice(at + 1) };
}

function firstIPv4Octet(text: string): number {
  return Number.parseInt(text, 10);
}

/** 224.0.0.0/4 or ff00::/8. */
export function isMulticast(text: string, family: 4 | 6): boolean {
  if (family === 4) {
    const first = firstIPv4Octet(text);
    return first >= 224 && first <= 239;
  }
  return /^ff[0-9a-f]{2}:/i.test(text);
}

/** A multicast address that may be joined: in the range and not reserved. */
export function isUsableGroup(text: string, family: 4 | 6): boolean {
  return isMulticast(text, family) && reservedGroupReason(text, family) === undefined;
}

/** fe80::/10: an address that means something only with its interface (zone). */
export function isLinkLocalIPv6(text: string): boolean {
  return /^fe[89ab]/i.test(text);
}

/**
 * Why a multicast address may not be used as a group, or undefined when it may. 224.0.0.0 is
 * the reserved base address; IPv6 scopes 0 and f are reserved (RFC 4291 2.7).
 */
export function reservedGroupReason(text: string, family: 4 | 6): string | undefined {
  if (family === 4) {
    return text === '224.0.0.0' ? '224.0.0.0 is the reserved base address of the multicast range' : undefined;
  }
  const scope = Number.parseInt(text.slice(3, 4), 16);
  if (scope === 0 || scope === 15) return `IPv6 multicast scope ${scope.toString(16)} is reserved`;
  return undefined;
}

/** Why `text` cannot be a unicast source address, or undefined when it can. */
export function badSourceReason(text: string, family: 4 | 6): string | undefined {
  if (isMulticast(text, family)) return 'a multicast address cannot be a source';
  if (family === 4) {
    if (text === '0.0.0.0') return 'the unspecified address cannot be a source';
    if (text === '255.255.255.255') return 'the broadcast address cannot be a source';
    if (firstIPv4Octet(text) >= 240) return 'addresses in 240.0.0.0/4 are reserved';
    return undefined;
  }
  if (/^::0*$/.test(text) || /^(0+:){7}0+$/.test(text)) return 'the unspecified address cannot be a source';
  return undefined;
}

/** Bytes of an IPv4 address as a 32-bit unsigned number, for comparisons. */
export function ipv4ToNumber(text: string): number {
  const parts = text.split('.');
  return (((Number(parts[0]) << 24) | (Number(parts[1]) << 16) | (Number(parts[2]) << 8) | Number(parts[3])) >>> 0);
}

function formatIPv6Words(words: readonly number[]): string {
  // RFC 5952: compress the longest run (>= 2) of zero words, the first one on ties.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

/** Formats 4 or 16 raw address bytes. IPv4-mapped IPv6 addresses are written as ::ffff:a.b.c.d. */
export function formatAddressBytes(bytes: Uint8Array, offset: number, family: 4 | 6): string {
  if (family === 4) {
    return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
  }
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[offset + i] ?? 0) << 8) | (bytes[offset + i + 1] ?? 0));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  }
  return formatIPv6Words(words);
}

/**
 * Formats addresses from a record slab with a small cache keyed by the address bytes, so that a
 * steady stream from a few sources creates no strings. The two addresses formatted last (a
 * receiver's source and its group) are compared word by word before the map is asked: for
 * them no key is made (an IPv6 key is a new string) and no map is looked up, per datagram.
 * format() is kept small (the IPv4 hit only) so that V8 inlines it into the 'message' loop.
 */
export class AddressFormatter {
  private readonly cache = new Map<string | number, string>();
  private readonly view: DataView;
  // The two recent addresses: their 32-bit words (IPv4: w0 only) and text ('' = empty slot).
  private w0 = [0, 0, 0, 0];
  private w1 = [0, 0, 0, 0];
  private t0 = '';
  private t1 = '';
  /** The slot the next miss replaces: the one not used last. */
  private victim = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly family: 4 | 6,
    private readonly limit = 1024,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  format(offset: number): string {
    if (this.family === 4) {
      const a = this.view.getInt32(offset);
      if (a === this.w0[0] && this.t0 !== '') {
        this.victim = 1;
        return this.t0;
      }
      if (a === this.w1[0] && this.t1 !== '') {
        this.victim = 0;
        return this.t1;
      }
    }
    return this.formatRecent(offset);
  }

  /** The general case: an IPv6 address compared with the recent two, or a miss. */
  private formatRecent(offset: number): string {
    const v = this.view;
    const words = this.family === 4 ? 1 : 4;
    if (this.t0 !== '' && sameWords(v, offset, this.w0, words)) {
      this.victim = 1;
      return this.t0;
    }
    if (this.t1 !== '' && sameWords(v, offset, this.w1, words)) {
      this.victim = 0;
      return this.t1;
    }
    const text = this.lookup(offset);
    const slot = this.victim === 0 ? this.w0 : this.w1;
    for (let k = 0; k < words; k++) slot[k] = v.getInt32(offset + 4 * k);
    if (this.victim === 0) this.t0 = text;
    else this.t1 = text;
    this.victim ^= 1;
    return text;
  }

  private lookup(offset: number): string {
    const key = this.family === 4 ? this.view.getInt32(offset) : this.key6(offset);
    let text = this.cache.get(key);
    if (text === undefined) {
      text = formatAddressBytes(this.bytes, offset, this.family);
      if (this.cache.size >= this.limit) this.cache.clear();
      this.cache.set(key, text);
    }
    return text;
  }

  private key6(offset: number): string {
    const v = this.view;
    return `${v.getUint32(offset)}:${v.getUint32(offset + 4)}:${v.getUint32(offset + 8)}:${v.getUint32(offset + 12)}`;
  }
}

function sameWords(view: DataView, offset: number, words: readonly number[], count: number): boolean {
  for (let k = 0; k < count; k++) if (view.getInt32(offset + 4 * k) !== words[k]) return false;
  return true;
}
