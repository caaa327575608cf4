/**
 * Address text into its 4 or 16 bytes, cached, for the writer's datagrams given as text (the
 * native record builder takes bytes).
 */
import { isIPv4 } from 'node:net';

/** Address text -> bytes, cached (a receiver sees few sources, formatted strings are cached too). */
export class AddressBytes {
  readonly #cache = new Map<string, Uint8Array>();

  /** The bytes of `text` (numeric IPv4 or IPv6). */
  get(text: string): Uint8Array {
    let bytes = this.#cache.get(text);
    if (bytes === undefined) {
      bytes = parseAddress(text);
      if (this.#cache.size >= 4096) this.#cache.clear();
      this.#cache.set(text, bytes);
    }
    return bytes;
  }
}

/** 4 or 16 bytes of a numeric address (an IPv6 zone is ignored). */
export function parseAddress(text: string): Uint8Array {
  const at = text.indexOf('%');
  const address = at >= 0 ? text.slice(0, at) : text;
  if (isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  const bytes = new Uint8Array(16);
  let tail = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two words.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (dotted !== null) {
    const v4 = (dotted[1] as string).split('.').map(Number);
    tail = `${address.slice(0, dotted.index)}${(((v4[0] as number) << 8) | (v4[1] as number)).toString(16)}:${(((v4[2] as number) << 8) | (v4[3] as number)).toString(16)}`;
  }
  const [head = '', rest] = tail.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const words = [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  words.forEach((w, i) => {
    const v = Number.parseInt(w, 16);
    bytes[i * 2] = v >> 8;
    bytes[i * 2 + 1] = v & 0xff;
  });
  return bytes;
}
