/**
 * Small helpers shared by the library tests: bounded waiting, collecting datagrams, and unique
 * ports so that test files never hear each other.
 */
import type { MessageInfo, RecvBatch, Socket } from '../lib/index.js';

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
