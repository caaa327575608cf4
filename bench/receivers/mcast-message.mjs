// Contestant "mcast message": the 'message' event (one callback per datagram, data copied out
// of the receive slab, a MessageInfo object per datagram).
// Same protocol and output as bench/c/mc_recv.c; see common.mjs.
import { performance } from 'node:perf_hooks';
import { openMcastReceiver, parseReceiverArgs, Receiver } from './common.mjs';

const opts = parseReceiverArgs();
const r = new Receiver(opts, { batch: opts.batch });
const sock = openMcastReceiver(opts, r);

const t = r.tracker;
sock.on('message', opts.latency ? onMessageLatency : onMessage);
// Diagnostics (BENCH_MSG_TRACE=FILE; never in a normal run): at the end of each drain (warm-up
// cycles included) or live run, one JSON line: the pool's counters (blocks allocated new, idle
// blocks, idle bytes, outstanding), minor page faults and CPU time since the last line, and the
// collections seen so far (the observer's count may lag a collection by a loop turn).
if (process.env.BENCH_MSG_TRACE) {
  const { appendFileSync } = await import('node:fs');
  const { PerformanceObserver } = await import('node:perf_hooks');
  let gcs = 0;
  new PerformanceObserver((l) => {
    gcs += l.getEntries().length;
  }).observe({ entryTypes: ['gc'] });
  const fin = r.finish.bind(r);
  let f0 = process.resourceUsage().minorPageFault;
  let c0 = process.cpuUsage();
  r.finish = (idle) => {
    const f1 = process.resourceUsage().minorPageFault;
    const c1 = process.cpuUsage();
    appendFileSync(process.env.BENCH_MSG_TRACE, JSON.stringify({ root: process.env.BENCH_MCAST_ROOT ?? '.', pid: process.pid, cycle: r.cycle, n: t.received, blocks: sock.messageBlocks(), faults: f1 - f0, gcs, cpu_us: c1.user + c1.system - c0.user - c0.system }) + '\n');
    f0 = f1;
    fin(idle);
    c0 = process.cpuUsage();
    f0 = process.resourceUsage().minorPageFault;
  };
}
r.start();

function onMessage(data, info) {
  if (t.add(data.readUInt32LE(4) * 4294967296 + data.readUInt32LE(0), data.length, info.truncated)) r.finish();
}

function onMessageLatency(data, info) {
  const now = performance.now();
  if (t.addLat(data.readUInt32LE(4) * 4294967296 + data.readUInt32LE(0), data.length, info.truncated,
    data.readUInt32LE(8), data.readUInt32LE(12), now)) r.finish();
}
