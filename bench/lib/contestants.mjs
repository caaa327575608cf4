// The contestants: who receives and who sends, and how each one is started. Every receiver is a
// separate process with the options and JSON output of bench/c/mc_recv.c; every sender one with
// those of bench/c/mc_send.c.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BUILD_DIR = join(BENCH_DIR, '.build');

/**
 * @typedef {{ id: string, label: string, kind: 'c' | 'node', batch: number, script?: string,
 *             metadata?: string, cases?: string[] }} Contestant
 * `metadata`: C receivers only, mc_recv's --metadata list (name,pktinfo,ttl).
 * `cases`: the only cases the contestant takes part in (default: all of its kind but those
 *   cases' own contestants: see `only` in run.mjs's case table).
 * `args`: extra options for its program (mc_recv/mc_send or the Node script): --gro, --gso, ...
 */

/** @type {Contestant[]} */
export const RECEIVERS = [
  { id: 'c-recvmmsg', label: 'C recvmmsg(64)', kind: 'c', batch: 64 },
  { id: 'c-recvmsg', label: 'C recvmsg', kind: 'c', batch: 1 },
  // Not contestants but yardsticks: the C reference asking the kernel for the same metadata as
  // mcast (source address and IP_PKTINFO), i.e. the kernel's share of mcast's cost; and for the
  // source address alone (what any receiver, dgram too, gets), which shows what PKTINFO costs.
  { id: 'c-recvmmsg-name', label: 'C recvmmsg(64)+source', kind: 'c', batch: 64, metadata: 'name', cases: ['drain'] },
  { id: 'c-recvmmsg-meta', label: 'C recvmmsg(64)+meta', kind: 'c', batch: 64, metadata: 'name,pktinfo', cases: ['drain'] },
  { id: 'mcast-batch', label: "mcast 'batch'", kind: 'node', batch: 64, script: 'receivers/mcast-batch.mjs' },
  // A receiver that never reads the source (SocketOptions.sourceAddress: false): no msg_name.
  { id: 'mcast-batch-nosource', label: "mcast 'batch' no source", kind: 'node', batch: 64, script: 'receivers/mcast-batch.mjs', args: ['--no-source'], cases: ['drain'] },
  { id: 'mcast-message', label: "mcast 'message'", kind: 'node', batch: 64, script: 'receivers/mcast-message.mjs' },
  { id: 'dgram', label: 'dgram', kind: 'node', batch: 1, script: 'receivers/dgram.mjs' },
  // UDP_GRO receivers (drain-gro): 64 KiB slots, merged receives split by the segment size.
  { id: 'c-gro', label: 'C UDP_GRO recvmmsg(64)', kind: 'c', batch: 64, args: ['--gro'], cases: ['drain-gro'] },
  { id: 'mcast-batch-gro', label: "mcast 'batch' gro", kind: 'node', batch: 64, script: 'receivers/mcast-batch.mjs', args: ['--gro'], cases: ['drain-gro'] },
  // Spinning receivers (latency-spin): a whole core each, SO_BUSY_POLL 50 µs.
  { id: 'c-spin', label: 'C spin + SO_BUSY_POLL', kind: 'c', batch: 64, args: ['--spin', '--busy-poll', '50'], cases: ['latency-spin'] },
  { id: 'mcast-spin', label: "mcast receiveSync spin", kind: 'node', batch: 64, script: 'receivers/mcast-spin.mjs', cases: ['latency-spin'] },
];

// For A/B experiments (not part of the benchmark): BENCH_EXTRA_RECEIVERS="id=script@root;..." adds
// Node receivers, `script` relative to bench/ (e.g. receivers/mcast-batch.mjs) run against the
// mcast package at `root` (a directory with dist/ and build/, e.g. a copy of an older build).
for (const spec of (process.env.BENCH_EXTRA_RECEIVERS ?? '').split(';').filter(Boolean)) {
  const m = /^([\w-]+)=([^@]+)@(.+)$/.exec(spec);
  if (!m) throw new Error(`BENCH_EXTRA_RECEIVERS: bad entry ${spec} (id=script@root)`);
  const base = RECEIVERS.find((c) => c.script === m[2]);
  RECEIVERS.push({ id: m[1], label: m[1], kind: 'node', batch: base?.batch ?? 64, script: m[2], root: m[3] });
}

/** @type {Contestant[]} */
export const SENDERS = [
  { id: 'c-sendmmsg', label: 'C sendmmsg(64)', kind: 'c', batch: 64 },
  { id: 'c-sendto', label: 'C sendto', kind: 'c', batch: 1 },
  { id: 'mcast-sendBatch', label: 'mcast sendBatch(64)', kind: 'node', batch: 64, script: 'senders/mcast-send.mjs' },
  { id: 'mcast-send', label: 'mcast send', kind: 'node', batch: 1, script: 'senders/mcast-send.mjs' },
  { id: 'dgram-send', label: 'dgram send', kind: 'node', batch: 64, script: 'senders/dgram-send.mjs' },
  // mcast sendBatch sends runs of equal sizes as UDP_SEGMENT messages (gso, the default); this is
  // it with gso off, one datagram per sendmmsg entry as before.
  { id: 'mcast-sendBatch-mmsg', label: 'mcast sendBatch(64) no gso', kind: 'node', batch: 64, script: 'senders/mcast-send.mjs', args: ['--no-gso'] },
  { id: 'c-gso', label: 'C UDP_SEGMENT(64)', kind: 'c', batch: 64, args: ['--gso'], cases: ['send-gso'] },
  // sendBatch(block, group, port, size): the 64 datagrams back to back in one buffer, as
  // mc_send keeps them and a video sender has them (no per-datagram work in JavaScript).
  { id: 'mcast-sendBatch-block', label: 'mcast sendBatch(64) block', kind: 'node', batch: 64, script: 'senders/mcast-send.mjs', args: ['--block'], cases: ['send-gso'] },
  // The same two at 1024 datagrams per call (64 KiB at 64 B, 1.3 MB at 1316 B): one sendmmsg
  // per call on both sides (1024 is sendmmsg's own cap, UIO_MAXIOV, and mc_send's --batch
  // limit), carrying 8 or 21 full UDP_SEGMENT messages instead of 64 datagrams' one or two. What
  // a sender with a large buffer of one stream passes (sendAll(block) of a file, a GOP); the
  // per-call costs (C: the system call's entry; mcast: the N-API call) weigh 16 times less.
  { id: 'c-gso-1024', label: 'C UDP_SEGMENT(1024)', kind: 'c', batch: 1024, args: ['--gso'], cases: ['send-gso'] },
  { id: 'mcast-sendBatch-block-1024', label: 'mcast sendBatch(1024) block', kind: 'node', batch: 1024, script: 'senders/mcast-send.mjs', args: ['--block'], cases: ['send-gso'] },
];

/** The C reference each case compares with. */
export const REFERENCE = { receiver: 'c-recvmmsg', sender: 'c-sendmmsg' };

/** The contestants of the memory case (10M datagrams each: only the two mcast paths). */
export const MEMORY_RECEIVERS = ['mcast-batch', 'mcast-message'];

export const C_PROGRAMS = {
  recv: join(BUILD_DIR, 'mc_recv'),
  send: join(BUILD_DIR, 'mc_send'),
  clockOffset: join(BUILD_DIR, 'clock_offset'),
};

/** First sequence number of warm-up datagrams (a Smi, like the measured ones: same code path). */
export const WARM_BASE = 1e9;
