/**
 * The datagrams a dgram socket could not send at once because the kernel's send buffer was
 * full, sent in order as it makes room (libuv's write queue): getSendQueueSize() and
 * getSendQueueCount() read it, close() cancels what is left with ECANCELED.
 */
import { ECANCELED, exceptionWithHostPort } from '../dgram-errors';
import type { DgramState } from './state';

/** send()'s callback. */
export type SendCallback = (error: Error | null, bytes?: number) => void;

/** One datagram on its way. */
export interface PendingSend {
  data: Buffer;
  /** The destination as the core socket takes it (a zone as its index: see coreAddress()). */
  address: string;
  port: number;
  /** What the user named, for error messages (dgram reports the name, not the resolved ip). */
  shownAddress: unknown;
  shownPort: unknown;
  callback: SendCallback | undefined;
}

/** Tries one datagram: 0 when sent, 1 when the send buffer is full, or a negative errno. */
export type TrySend = (job: PendingSend) => number;

/** The queue of one socket (see the module comment). */
export class SendQueue {
  #jobs: PendingSend[] = [];
  #bytes = 0;
  #flushing = false;

  constructor(
    private readonly state: DgramState,
    private readonly trySend: TrySend,
  ) {}

  /** Bytes waiting (getSendQueueSize). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Datagrams waiting (getSendQueueCount). */
  get count(): number {
    return this.#jobs.length;
  }

  /** Sends `job` now unless datagrams wait before it; a full send buffer queues it. */
  send(job: PendingSend): void {
    if (this.#jobs.length > 0) {
      this.#push(job);
      return;
    }
    const result = this.trySend(job);
    if (result === 1) this.#push(job);
    else finish(job, result);
  }

  #push(job: PendingSend): void {
    this.#jobs.push(job);
    this.#bytes += job.data.length;
    if (!this.#flushing) void this.#flush();
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#jobs.length > 0) {
        const core = this.state.core;
        if (core === null || !this.state.open) break;
        try {
          await core.writable();
        } catch {
          break;
        }
        while (this.#jobs.length > 0) {
          const job = this.#jobs[0] as PendingSend;
          const result = this.trySend(job);
          if (result === 1) break;
          this.#jobs.shift();
          this.#bytes -= job.data.length;
          finish(job, result);
        }
      }
    } finally {
      this.#flushing = false;
    }
    // Closed while datagrams waited: libuv cancels them.
    const cancelled = this.#jobs;
    this.#jobs = [];
    this.#bytes = 0;
    for (const job of cancelled) finish(job, ECANCELED);
  }
}

/**
 * Calls back on its own tick: a callback that throws is an uncaught exception, as with dgram,
 * and stops nothing here. dgram passes a failed send to its callback only; without one it is
 * dropped.
 */
function finish(job: PendingSend, result: number): void {
  if (job.callback === undefined) return;
  if (result < 0) process.nextTick(job.callback, exceptionWithHostPort(result, 'send', job.shownAddress, job.shownPort));
  else process.nextTick(job.callback, null, job.data.length);
}
