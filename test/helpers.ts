/**
 * Small helpers shared by the library tests: bounded waiting, collecting datagrams, and unique
 * ports so that test files never hear each other.
 */
import { afterEach } from 'vitest';

import { createSocket, type MessageInfo, type RecvBatch, type Socket, type SocketOptions } from '../lib/index.js';

/**
 * createSocket for a test file: every socket it makes is closed after each test, so a failed
 * assertion never leaves a socket joined or a port taken for the next test.
 */
export function socketFactory(): (options?: SocketOptions) => Socket {
  const open: Socket[] = [];
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  return (options = {}) => {
    const s = createSocket(options);
    open.push(s);
    return s;
  };
}

/** Polls `condition` until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits `ms` so that a datagram that should NOT arrive has had every chance to. */
export function settle(ms = 200): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Received {
  data: Buffer;
  info: MessageInfo;
}

/** Collects every 'message' of `sock` into the returned array. */
export function collectMessages(sock: Socket): Received[] {
  const out: Received[] = [];
  sock.on('message', (data, info) => out.push({ data, info }));
  return out;
}

/**
 * A socket of `make` on `port`, joined to `group` on lo, with room for any datagram (GSO sends of
 * up to 64 KiB), that keeps a copy of every datagram it receives (for byte-exact checks of sends).
 */
export function loopbackCopies(make: (options: SocketOptions) => Socket, port: number, group: string): { rx: Socket; got: Buffer[] } {
  const rx = make({ port, recvBufferSize: 8 << 20, maxMessageSize: 65535 });
  rx.join(group, { interface: 'lo' });
  const got: Buffer[] = [];
  rx.on('message', (d) => got.push(Buffer.from(d)));
  return { rx, got };
}

/** A copy of what a batch held, for assertions after the callback. */
export interface BatchCopy {
  count: number;
  payloads: string[];
}

export function collectBatches(sock: Socket): BatchCopy[] {
  const out: BatchCopy[] = [];
  sock.on('batch', (batch: RecvBatch) => {
    const payloads: string[] = [];
    for (let i = 0; i < batch.count; i++) payloads.push(batch.data(i).toString());
    out.push({ count: batch.count, payloads });
  });
  return out;
}

let nextPort = 20000 + (process.pid % 2000) * 10;

/** A port no other test in this run uses. */
export function uniquePort(): number {
  nextPort += 1;
  return nextPort;
}

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
