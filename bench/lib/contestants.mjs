// The contestants: who receives and who sends, and how each one is started. Every receiver is a
// separate process with the options and JSON output of bench/c/mc_recv.c; every sender one with
// those of bench/c/mc_send.c.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BUILD_DIR = join(BENCH_DIR, '.build');

/** @typedef {{ id: string, label: string, kind: 'c' | 'node', batch: number, script?: string }} Contestant */

/** @type {Contestant[]} */
export const RECEIVERS = [
  { id: 'c-recvmmsg', label: 'C recvmmsg(64)', kind: 'c', batch: 64 },
  { id: 'c-recvmsg', label: 'C recvmsg', kind: 'c', batch: 1 },
  { id: 'mcast-batch', label: "mcast 'batch'", kind: 'node', batch: 64, script: 'receivers/mcast-batch.mjs' },
  { id: 'mcast-message', label: "mcast 'message'", kind: 'node', batch: 64, script: 'receivers/mcast-message.mjs' },
  { id: 'dgram', label: 'dgram', kind: 'node', batch: 1, script: 'receivers/dgram.mjs' },
];

/** @type {Contestant[]} */
export const SENDERS = [
  { id: 'c-sendmmsg', label: 'C sendmmsg(64)', kind: 'c', batch: 64 },
  { id: 'c-sendto', label: 'C sendto', kind: 'c', batch: 1 },
  { id: 'mcast-sendBatch', label: 'mcast sendBatch(64)', kind: 'node', batch: 64, script: 'senders/mcast-send.mjs' },
  { id: 'mcast-send', label: 'mcast send', kind: 'node', batch: 1, script: 'senders/mcast-send.mjs' },
  { id: 'dgram-send', label: 'dgram send', kind: 'node', batch: 64, script: 'senders/dgram-send.mjs' },
];

/** The C reference each case compares with. */
export const REFERENCE = { receiver: 'c-recvmmsg', sender: 'c-sendmmsg' };

/** The contestants of the memory case (10M datagrams each: only the two mcast paths). */
export const MEMORY_RECEIVERS = ['mcast-batch', 'mcast-message'];

export const C_PROGRAMS = {
  recv: join(BUILD_DIR, 'mc_recv'),
  send: join(BUILD_DIR, 'mc_send'),
};

/** Sequence numbers from here on mark warm-up datagrams (see receivers/common.mjs). */
export const WARM_BASE = 2 ** 40;
