/**
 * Socket#receiveSync(): a synchronous receive for a worker thread that owns its socket, blocking
 * in poll(2) or spinning, with SO_BUSY_POLL / SO_PREFER_BUSY_POLL as socket options. The main
 * thread may only ask without waiting; listeners and receiveSync exclude each other.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { describe, expect, it } from 'vitest';

import { constants } from '../lib/index.js';
import { settle, socketFactory, uniquePort } from './helpers.js';

const socket = socketFactory();
const C = constants as Record<string, number>;
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/**
 * A worker that binds `port` on 127.0.0.1, says 'ready', then takes `count` datagrams with
 * receiveSync(timeout, mode), closes its socket and reports what it got.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createSocket } = require(workerData.dist);
const sock = createSocket({ address: '127.0.0.1', port: workerData.port, ...workerData.options });
parentPort.postMessage({ ready: true });
const got = [];
let timeouts = 0;
while (got.length < workerData.count && timeouts < 50) {
  const batch = sock.receiveSync(200, workerData.mode);
  if (batch === null) { timeouts++; continue; }
  for (let i = 0; i < batch.count; i++) got.push(batch.data(i).toString());
}
sock.close();
let afterClose = null;
try { sock.receiveSync(0); } catch (e) { afterClose = e.code; }
parentPort.postMessage({ got, timeouts, afterClose, stats: sock.stats() });
`;

async function runWorker(mode: 'block' | 'spin', count: number, options: object = {}) {
  const port = uniquePort();
  const worker = new Worker(WORKER, { eval: true, workerData: { dist: DIST, port, count, mode, options } });
  const messages: Record<string, unknown>[] = [];
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m: Record<string, unknown>) => {
      messages.push(m);
      if (m.ready) resolve();
    });
    worker.once('error', reject);
  });
  const tx = socket({ address: '127.0.0.1' });
  // The main loop stays free while the worker waits: these sends and timers run.
  for (let i = 0; i < count; i++) {
    tx.send(`d${i}`, '127.0.0.1', port);
    if (i % 10 === 9) await settle(5);
  }
  const code = await exited;
  return { code, result: messages.find((m) => 'got' in m) as { got: string[]; timeouts: number; afterClose: string; stats: { packetsReceived: number } } };
}

describe('Socket#receiveSync()', () => {
  it.each(['block', 'spin'] as const)('in a worker (%s) takes every datagram the main thread sends, then closes cleanly', async (mode) => {
    const { code, result } = await runWorker(mode, 50);
    expect(code).toBe(0);
    expect(result.got).toEqual(Array.from({ length: 50 }, (_, i) => `d${i}`));
    expect(result.stats.packetsReceived).toBe(50);
    expect(result.afterClose).toBe('ERR_MCAST_SOCKET_CLOSED');
  });

  it('works with busyPoll set (where the kernel lets this process set it)', async () => {
    let options: object = { busyPoll: 50 };
    try {
      socket({ busyPoll: 50 }).close();
    } catch {
      options = {}; // refused here: the refusal itself is tested below
    }
    const { code, result } = await runWorker('spin', 20, options);
    expect(code).toBe(0);
    expect(result.got).toHaveLength(20);
  });

  it('allocates nothing per call in steady state (a worker spinning on an empty socket)', async () => {
    // A spin loop calls receiveSync() about a million times a second: anything it allocated
    // per call would bring a scavenge every few hundred milliseconds, a pause in the receive.
    // 200 000 calls at 16 bytes each would be 3.2 MB of heap; counted with no GC between.
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { performance, PerformanceObserver } = require('node:perf_hooks');
      const v8 = require('node:v8');
      const sock = require(workerData.dist).createSocket({ address: '127.0.0.1', port: 0 });
      const spin = (n) => { let got = 0; for (let i = 0; i < n; i++) if (sock.receiveSync(0, 'spin') !== null) got++; return got; };
      spin(200000); // warm-up: V8 optimises the loop
      const gcAt = [];
      const observer = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcAt.push(e.startTime); });
      observer.observe({ entryTypes: ['gc'] });
      setTimeout(() => {
        const before = v8.getHeapStatistics().used_heap_size;
        const t0 = performance.now();
        const got = spin(200000);
        const t1 = performance.now();
        const grown = v8.getHeapStatistics().used_heap_size - before;
        setTimeout(() => {
          observer.disconnect();
          sock.close();
          parentPort.postMessage({ got, grown, gcs: gcAt.filter((t) => t >= t0 && t <= t1).length });
        }, 20);
      }, 20);
    `;
    const worker = new Worker(code, { eval: true, workerData: { dist: DIST } });
    // Listened for at once: a worker that posts and ends can emit 'exit' in the same turn as
    // its last 'message', before a listener added after the await below would be there.
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const result = await new Promise<{ got: number; grown: number; gcs: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await exited;
    expect(result.got).toBe(0);
    expect(result.gcs).toBe(0);
    // The smallest per-call allocation (a 12-byte heap number) would be 2.4 MB here; 1 MiB
    // leaves room for what V8 itself allocates when a late tier-up lands inside the window
    // (seen: 246 KB, 1 run in 6), which is not per call.
    expect(result.grown).toBeLessThan(1024 * 1024);
  });

  it('waits its whole timeout on an empty socket, never less (block and spin)', async () => {
    // The deadline was whole milliseconds of a truncated clock: a 2 ms spin could end after 1 ms,
    // and a spin loop's 1 ms receive returned empty in mid-stream.
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { performance } = require('node:perf_hooks');
      const sock = require(workerData.dist).createSocket({ address: '127.0.0.1', port: 0 });
      const shortest = {};
      for (const mode of ['spin', 'block']) {
        shortest[mode] = Infinity;
        for (let i = 0; i < 20; i++) {
          const t0 = performance.now();
          const batch = sock.receiveSync(2, mode);
          const took = performance.now() - t0;
          if (batch === null && took < shortest[mode]) shortest[mode] = took;
        }
      }
      sock.close();
      parentPort.postMessage(shortest);
    `;
    const worker = new Worker(code, { eval: true, workerData: { dist: DIST } });
    const exited = new Promise((resolve) => worker.once('exit', resolve));  // as above
    const shortest = await new Promise<{ spin: number; block: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await exited;
    expect(shortest.spin).toBeGreaterThanOrEqual(2);
    expect(shortest.block).toBeGreaterThanOrEqual(2);
  });

  it("closing another socket does not deoptimise a compiled receiveSync() loop", () => {
    // A spin loop compiled while one socket existed: V8 had folded that socket's open state in as
    // a constant of the class (a `closed = false` field never yet written), and the first close()
    // of any other socket threw the loop's code away: a recompile on the spinning thread's CPU.
    const code = `
      const { createSocket } = require(${JSON.stringify(DIST)});
      const b = createSocket({ address: '127.0.0.1', port: 0 });
      const spin = (n) => { let got = 0; for (let i = 0; i < n; i++) if (b.receiveSync(0, 'spin') !== null) got++; return got; };
      const optimized = () => (%GetOptimizationStatus(spin) & 16) !== 0;
      for (let k = 0; k < 400 && !optimized(); k++) spin(5000);
      const before = optimized();
      const a = createSocket({ address: '127.0.0.1', port: 0 });
      spin(10);
      a.close();
      spin(10);
      console.log(JSON.stringify({ before, after: optimized() }));
      b.close();
    `;
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '-e', code], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ before: true, after: true });
  });

  it('on the main thread: refuses to wait, answers at once without a timeout', async () => {
    const port = uniquePort();
    const rx = socket({ address: '127.0.0.1', port });
    expect(() => rx.receiveSync(10)).toThrow(expect.objectContaining({ code: 'ERR_MCAST_MAIN_THREAD' }));
    expect(rx.receiveSync(0)).toBeNull();
    socket({ address: '127.0.0.1' }).send('now', '127.0.0.1', port);
    await settle(20);
    const batch = rx.receiveSync();
    expect(batch?.count).toBe(1);
    expect(batch?.data(0).toString()).toBe('now');
  });

  it('is refused while listeners receive, and after close', () => {
    const rx = socket({ address: '127.0.0.1', port: uniquePort() });
    rx.on('message', () => {});
    expect(() => rx.receiveSync(0)).toThrow(expect.objectContaining({ code: 'ERR_MCAST_RECEIVING' }));
    rx.removeAllListeners('message');
    expect(rx.receiveSync(0)).toBeNull();
    rx.close();
    expect(() => rx.receiveSync(0)).toThrow(expect.objectContaining({ code: 'ERR_MCAST_SOCKET_CLOSED' }));
  });

  it('checks its arguments', () => {
    const rx = socket({ address: '127.0.0.1', port: uniquePort() });
    expect(() => rx.receiveSync(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => rx.receiveSync(0, 'fast' as 'spin')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('busy polling options', () => {
  it('refuses a busyPoll out of range, naming the range', () => {
    for (const bad of [-1, 1_000_001, 1.5]) {
      expect(() => socket({ busyPoll: bad })).toThrow(
        expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('an integer from 0 to 1000000') }),
      );
    }
  });

  it('sets SO_BUSY_POLL, or says that raising it needs CAP_NET_ADMIN', () => {
    try {
      const s = socket({ busyPoll: 50 });
      expect(s.getOption(C.SOL_SOCKET!, 46).readInt32LE(0)).toBe(50);
    } catch (error) {
      expect(error).toMatchObject({ code: 'EPERM', message: expect.stringContaining('CAP_NET_ADMIN') });
    }
  });

  it('without CAP_NET_ADMIN, preferBusyPoll is refused with an error that says it needs it', () => {
    // A child without CAP_NET_ADMIN (dropped from its bounding set before exec).
    const code = `try { require(${JSON.stringify(DIST)}).createSocket({ preferBusyPoll: true }); console.log('set'); }
      catch (e) { console.log(e.code + ' ' + e.message); }`;
    const r = spawnSync('setpriv', ['--bounding-set', '-net_admin', '--inh-caps', '-net_admin', process.execPath, '-e', code], { encoding: 'utf8' });
    if (r.status !== 0) return; // cannot drop the capability here (not real root): nothing to check
    expect(r.stdout.trim()).toMatch(/^EPERM turn preferBusyPoll on failed: setsockopt\(SO_PREFER_BUSY_POLL\) EPERM \(SO_PREFER_BUSY_POLL needs CAP_NET_ADMIN/);
  });

  it('sets SO_PREFER_BUSY_POLL, or says that it needs CAP_NET_ADMIN', () => {
    try {
      const s = socket({ preferBusyPoll: true });
      expect(s.getOption(C.SOL_SOCKET!, 69).readInt32LE(0)).toBe(1);
    } catch (error) {
      expect(error).toMatchObject({ code: 'EPERM', message: expect.stringContaining('CAP_NET_ADMIN') });
    }
  });
});
