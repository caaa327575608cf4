/**
 * Fan-out at scale (`npm run fanout`): one sender and N receiver hosts (default 32) on one
 * snooping switch, each host its own namespace running mcast. Three in four receivers join the
 * group; the sender sends at a fixed rate. Every host that joined must receive every datagram
 * (its socket's count), and no host that did not join may receive any (tcpdump on its switch
 * port, and its socket). The totals are printed: delivered = N_joined x sent.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { captureAvailable, type LanHost, switchedLan, Topology } from '../harness/netns.js';
import { Agent } from '../network/agent.js';
import { capturePorts, sleep, stopAndCount, waitForMdb } from '../network/helpers.js';

const env = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${v}: expected a positive integer`);
  return n;
};
const N = env('FANOUT_N', 32);
const JOINED = env('FANOUT_JOINED', Math.round((N * 3) / 4));
const RATE = env('FANOUT_RATE', 500);
const SECONDS = env('FANOUT_SECONDS', 10);
const GROUP = '239.79.0.1';
const PORT = 43001;

const agents: Agent[] = [];
afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
});

it.skipIf(!captureAvailable())(`one sender, ${N} receivers on a switch, ${RATE}/s for ${SECONDS} s`, async () => {
  if (JOINED > N) throw new Error(`FANOUT_JOINED=${JOINED} is more than FANOUT_N=${N}`);
  const t0 = Date.now();
  const net = await Topology.create('fo');
  const lan = await switchedLan(net, { receivers: N, senders: 1 });
  const sender = lan.senders[0] as LanHost;
  // Joined: all but every fourth host (with the defaults), spread over the switch's ports.
  const joined = lan.receivers.filter((_, i) => (JOINED === N ? true : i % Math.round(N / (N - JOINED)) !== 0)).slice(0, JOINED);
  while (joined.length < JOINED) joined.push(lan.receivers.find((h) => !joined.includes(h)) as LanHost);
  const others = lan.receivers.filter((h) => !joined.includes(h));
  const byHost = new Map<LanHost, Agent>();
  for (let i = 0; i < lan.receivers.length; i += 8) {
    await Promise.all(
      lan.receivers.slice(i, i + 8).map(async (h) => {
        const a = await Agent.start(h.host);
        agents.push(a);
        byHost.set(h, a);
        await a.open('r', { port: PORT, recvBufferSize: 1 << 20 });
      }),
    );
  }
  const sendAgent = await Agent.start(sender.host);
  agents.push(sendAgent);
  await sendAgent.open('s', { interface: sender.end.ifname });
  await Promise.all(joined.map((h) => byHost.get(h)?.join('r', GROUP, { interface: h.end.ifname })));
  await waitForMdb(lan, GROUP, joined, 15_000);
  const setupMs = Date.now() - t0;

  // What the switch sends down the ports of the hosts that did not join: nothing.
  const caps = await capturePorts(net, others, `udp and dst ${GROUP}`);
  const count = RATE * SECONDS;
  const t1 = Date.now();
  const sent = await sendAgent.sendAtRate('s', GROUP, PORT, count, 'f', RATE);
  const sendMs = Date.now() - t1;
  await sleep(1000);
  const onOtherPorts = await stopAndCount(caps, GROUP);

  const perHost = await Promise.all(lan.receivers.map(async (h) => ({ host: h, got: (await byHost.get(h)?.countsOf('r'))?.total ?? -1 })));
  const delivered = perHost.filter((p) => joined.includes(p.host)).reduce((s, p) => s + p.got, 0);
  const report = {
    receivers: N,
    joined: joined.length,
    rate: RATE,
    seconds: SECONDS,
    sent,
    sendMs,
    expectedDelivered: joined.length * sent,
    delivered,
    receivedByNonJoined: perHost.filter((p) => !joined.includes(p.host)).reduce((s, p) => s + p.got, 0),
    onNonJoinedPorts: onOtherPorts.reduce((s, n) => s + n, 0),
    short: perHost.filter((p) => joined.includes(p.host) && p.got !== sent).map((p) => `${p.host.host.name}:${p.got}`),
    setupMs,
  };
  console.log(`fanout: ${JSON.stringify(report)}`);
  console.log(
    `fanout: ${N} receivers (${report.joined} joined), ${sent} datagrams at ${RATE}/s: delivered ${delivered} = ${report.joined} x ${sent}` +
      ` ${delivered === report.expectedDelivered ? '(all)' : `(expected ${report.expectedDelivered})`}; non-joined hosts got ${report.receivedByNonJoined}, their ports saw ${report.onNonJoinedPorts}`,
  );
  if (process.env.FANOUT_REPORT) writeFileSync(process.env.FANOUT_REPORT, `${JSON.stringify(report, null, 2)}\n`);
  expect(sent).toBe(count);
  expect(report.short).toEqual([]);
  expect(delivered).toBe(report.expectedDelivered);
  expect(report.receivedByNonJoined).toBe(0);
  expect(onOtherPorts).toEqual(others.map(() => 0));
});
