/**
 * Soak and accounting: one sender at a high rate to several receivers, each in its own network
 * namespace behind a bridge, with sequence numbers in the payload. At the end, for every receiver,
 * received + kernelDrops accounts for every datagram sent (truncated ones are among the received,
 * flagged), and every gap in the sequence numbers is explained by the kernel's drop counter that
 * the datagrams carry (SO_RXQ_OVFL): no datagram is lost without being counted.
 *
 * `npm test` runs a short version (MCAST_SOAK_SECONDS, default 5 s); `npm run soak` the 60 s one
 * (test/soak/run.mjs), which prints the figures. Env: MCAST_SOAK_SECONDS, MCAST_SOAK_RATE
 * (datagrams/s, 0 = as fast as the kernel takes them), MCAST_SOAK_REPORT (write the figures there
 * as JSON).
 *
 * Topology: host `tx` holds a bridge (snooping off, so it floods the group) with one veth port per
 * receiver host; the sender and the receivers are node processes in those hosts.
 *   r1: default receive buffer; r2: a small one (64 KiB, so the kernel drops); r3: maxMessageSize
 *   1024, so the 1400-byte datagrams (one in 100) arrive truncated and flagged.
 */
import { type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

import { Topology, type Host } from './harness/netns.js';

const SECONDS = Number(process.env.MCAST_SOAK_SECONDS ?? 5);
const RATE = Number(process.env.MCAST_SOAK_RATE ?? 30_000);
const GROUP = '239.201.0.1';
const PORT = 41_234;
const NODE = process.execPath;

interface ReceiverSpec {
  name: string;
  rcvbuf: number;
  maxMessageSize: number;
}
const RECEIVERS: ReceiverSpec[] = [
  { name: 'r1', rcvbuf: 212_992, maxMessageSize: 2048 },
  { name: 'r2', rcvbuf: 65_536, maxMessageSize: 2048 },
  { name: 'r3', rcvbuf: 1_048_576, maxMessageSize: 1024 },
];

interface ReceiverReport {
  sent: number;
  received: number;
  kernelDrops: number;
  truncated: number;
  bigReceived: number;
  foreign: number;
  outOfOrder: number;
  gaps: number;
  gapDatagrams: number;
  explainedGaps: number;
  unexplainedCount: number;
  unexplained: unknown[];
  tail: number;
  tailDrops: number;
  batches: number;
  maxBatch: number;
}

interface SenderReport {
  sent: number;
  big: number;
  seconds: number;
  pps: number;
  stats: { sendWouldBlock: number; packetsSent: number };
}

/** Lines of a child's stdout, one at a time. */
function lines(child: ChildProcess): AsyncIterableIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

async function nextLine(it: AsyncIterableIterator<string>, what: string, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  try {
    const r = await Promise.race([it.next(), timeout]);
    if (r.done === true) throw new Error(`${what}: the process ended without a line`);
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

function stderrOf(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => (text += d));
  return () => text;
}

/** UDP counters of a host's namespace (/proc/net/snmp is per network namespace). */
async function udpCounters(host: Host): Promise<Record<string, number>> {
  const text = (await host.exec(['cat', '/proc/net/snmp'], { check: true })).stdout;
  const rows = text.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = rows[0]?.split(/\s+/).slice(1) ?? [];
  const values = rows[1]?.split(/\s+/).slice(1).map(Number) ?? [];
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
}

describe('soak: sequence-numbered multicast to receivers in namespaces', () => {
  it(
    `every datagram of ${SECONDS} s at ${RATE === 0 ? 'full speed' : `${RATE}/s`} is received or counted as a kernel drop`,
    async () => {
      const net = await Topology.create('sk');
      const tx = await net.host('tx');
      const bridge = 'mcskbr';
      await tx.ip('link', 'add', bridge, 'type', 'bridge', 'mcast_snooping', '0');
      await tx.ip('addr', 'add', '10.201.0.1/24', 'dev', bridge);
      await tx.ip('link', 'set', bridge, 'up');
      const hosts: Host[] = [];
      const ifaces: string[] = [];
      for (const [i, spec] of RECEIVERS.entries()) {
        const host = await net.host(spec.name);
        const link = await net.link(tx, `mcsktx${i}`, host, `mcskrx${i}`, { peerAddr: `10.201.0.${10 + i}/24` });
        await tx.ip('link', 'set', link.self.ifname, 'master', bridge);
        hosts.push(host);
        ifaces.push(link.peer.ifname);
      }

      // Receivers first; each says `ready` once joined.
      const receivers = RECEIVERS.map((spec, i) => {
        const child = hosts[i]!.spawn([
          NODE, 'test/soak/receiver.mjs', GROUP, String(PORT), ifaces[i]!, String(spec.rcvbuf), String(spec.maxMessageSize),
        ]);
        return { spec, child, out: lines(child), err: stderrOf(child) };
      });
      for (const r of receivers) {
        const line = await nextLine(r.out, `${r.spec.name} ready`, 15_000).catch((e: Error) => {
          throw new Error(`${e.message}: ${r.err()}`);
        });
        expect(line).toBe('ready');
      }
      const snmpBefore = await Promise.all(hosts.map(udpCounters));

      const sender = tx.spawn([NODE, 'test/soak/sender.mjs', GROUP, String(PORT), bridge, String(RATE), String(SECONDS)]);
      const senderErr = stderrOf(sender);
      const senderLine = await nextLine(lines(sender), 'the sender report', SECONDS * 1000 + 30_000).catch((e: Error) => {
        throw new Error(`${e.message}: ${senderErr()}`);
      });
      const sent = JSON.parse(senderLine) as SenderReport;
      // Let the receivers drain what is queued for them.
      await new Promise((r) => setTimeout(r, 1000));

      const reports: (ReceiverReport & { name: string; rcvbufErrors: number })[] = [];
      for (const [i, r] of receivers.entries()) {
        r.child.stdin!.write(`stop ${sent.sent}\n`);
        const line = await nextLine(r.out, `${r.spec.name} report`, 15_000).catch((e: Error) => {
          throw new Error(`${e.message}: ${r.err()}`);
        });
        const snmp = await udpCounters(hosts[i]!);
        reports.push({
          name: r.spec.name,
          ...(JSON.parse(line) as ReceiverReport),
          rcvbufErrors: (snmp.RcvbufErrors ?? 0) - (snmpBefore[i]!.RcvbufErrors ?? 0),
        });
      }

      const figures = {
        seconds: sent.seconds,
        rate: RATE,
        sent: sent.sent,
        senderPps: sent.pps,
        bigSent: sent.big,
        sendWouldBlock: sent.stats.sendWouldBlock,
        receivers: reports.map((r) => ({
          name: r.name,
          received: r.received,
          kernelDrops: r.kernelDrops,
          truncated: r.truncated,
          accounted: r.received + r.kernelDrops,
          gaps: r.gaps,
          gapDatagrams: r.gapDatagrams,
          explainedGaps: r.explainedGaps,
          unexplained: r.unexplainedCount,
          tail: r.tail,
          tailDrops: r.tailDrops,
          outOfOrder: r.outOfOrder,
          rcvbufErrors: r.rcvbufErrors,
          batches: r.batches,
          meanBatch: r.batches > 0 ? Number((r.received / r.batches).toFixed(1)) : 0,
        })),
      };
      console.log(`soak figures: ${JSON.stringify(figures, null, 2)}`);
      if (process.env.MCAST_SOAK_REPORT) writeFileSync(process.env.MCAST_SOAK_REPORT, `${JSON.stringify(figures, null, 2)}\n`);

      expect(sent.sent).toBeGreaterThan(RATE === 0 ? 10_000 : RATE * SECONDS * 0.9);
      for (const [i, r] of reports.entries()) {
        const spec = RECEIVERS[i]!;
        expect.soft(r.received + r.kernelDrops, `${r.name}: received + kernelDrops = sent`).toBe(sent.sent);
        expect.soft(r.unexplainedCount, `${r.name}: gaps not explained by the drop counter ${JSON.stringify(r.unexplained)}`).toBe(0);
        expect.soft(r.explainedGaps, `${r.name}: every gap explained`).toBe(r.gaps);
        expect.soft(r.tail, `${r.name}: datagrams after the last one received are kernel drops`).toBe(r.tailDrops);
        expect.soft(r.outOfOrder, `${r.name}: out of order or duplicated`).toBe(0);
        expect.soft(r.foreign, `${r.name}: foreign datagrams`).toBe(0);
        // The namespace's own UDP counter agrees with the socket's (one socket per namespace).
        expect.soft(r.rcvbufErrors, `${r.name}: /proc/net/snmp RcvbufErrors`).toBe(r.kernelDrops);
        // Truncation: flagged for every big datagram that arrived at the receiver that keeps less.
        expect.soft(r.truncated, `${r.name}: truncated`).toBe(spec.maxMessageSize < 1400 ? r.bigReceived : 0);
      }
      await net.destroy();
    },
    SECONDS * 1000 + 120_000,
  );
});
