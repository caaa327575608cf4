/**
 * A routed network: LAN A (a sender and a near receiver) and LAN B (two far receivers), each a
 * snooping switch, joined by a router running FRR's pimd (PIM-SM, IGMPv3, its own rendezvous
 * point). tcpdump on the router's interfaces and the switch ports shows that TTL 1 stays on the
 * sender's LAN, that TTL >= 2 crosses to the far receivers that joined and no others, and that a
 * far receiver's join (its IGMP report) is what makes the router forward.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureAvailable, type LanHost, multicastRoutingAvailable, type MulticastRouter, type RoutedNetwork, routedNetwork, startFrrPim, Topology } from '../harness/netns.js';
import { reportFor } from '../wire-helpers.js';
import { Agent } from './agent.js';
import { sleep, udpTo } from './helpers.js';

let net: Topology;
let wan: RoutedNetwork;
let router: MulticastRouter;
let sender: LanHost;
let near: LanHost;
let far1: LanHost;
let far2: LanHost;
const agents = new Map<LanHost, Agent>();
const agent = (h: LanHost): Agent => agents.get(h) as Agent;
const routing = multicastRoutingAvailable();
if (!routing) console.warn('routing.test: skipped, this kernel has no multicast routing (CONFIG_IP_MROUTE: no /proc/net/ip_mr_vif; MRT_INIT fails with ENOPROTOOPT)');
const runs = routing && captureAvailable();

beforeAll(async () => {
  if (!runs) return;
  net = await Topology.create('rt', { autoDestroy: false });
  wan = await routedNetwork(net, { receiversA: 1, receiversB: 2 });
  router = await startFrrPim(wan);
  // A snooping bridge floods every group until it has seen a querier on its LAN (the kernel's
  // br_multicast_querier_exists): here the router is the querier, so wait for its first general
  // query on each LAN (query-interval 5 s) before any test relies on the switches' snooping.
  const queries = await Promise.all(
    [wan.routerA, wan.routerB].map((end) => net.capture(end, 'igmp[0] == 0x11', { count: 1, timeoutMs: 15_000 })),
  );
  const seen = await Promise.all(queries.map((c) => c.done()));
  if (seen.some((r) => r.packets.length === 0)) throw new Error('the router sent no IGMP general query on one of its LANs');
  [sender] = wan.lanA.senders as [LanHost];
  [near] = wan.lanA.receivers as [LanHost];
  [far1, far2] = wan.lanB.receivers as [LanHost, LanHost];
  await Promise.all([sender, near, far1, far2].map(async (h) => agents.set(h, await Agent.start(h.host))));
  await agent(sender).open('s', { interface: sender.end.ifname });
}, 120_000);

afterAll(async () => {
  await Promise.all([...agents.values()].map((a) => a.stop()));
  await router?.stop();
  await net?.destroy();
});

/** Waits until the router's IGMP lists `group` (learned from a report on one of its LANs). */
async function routerKnows(group: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await router.vtysh('show ip igmp groups');
    if (out.includes(group)) return;
    if (Date.now() > deadline) throw new Error(`the router does not list ${group}: ${out}`);
    await sleep(100);
  }
}

/** Sends one datagram so the router makes its (S,G) state, then `count` counted ones. */
async function sendCounted(group: string, port: number, ttl: number, count: number, tag: string): Promise<void> {
  await agent(sender).call({ op: 'close', id: 's' });
  await agent(sender).open('s', { interface: sender.end.ifname, ttl });
  await agent(sender).send('s', group, port, 1, 'warmup');
  await sleep(300);
  await agent(sender).send('s', group, port, count, tag, 5);
  await sleep(300);
}

describe.skipIf(!runs)('a multicast router (FRR pimd)', () => {
  it('keeps TTL 1 on the sender\'s LAN, and carries TTL 2 across to the far receivers that joined', async () => {
    const group = '239.78.0.1';
    const port = 42001;
    for (const h of [near, far1, far2]) await agent(h).open('g', { port });
    for (const h of [near, far1]) await agent(h).join('g', group, { interface: h.end.ifname });
    await routerKnows(group);

    const caps = await Promise.all([net.capture(near.port, `udp and dst ${group}`), net.capture(wan.routerB, `udp and dst ${group}`)]);
    await sendCounted(group, port, 1, 10, 'ttl1');
    const [onNear, onB] = await Promise.all(caps.map((c) => c.stop()));
    expect(udpTo(onNear?.packets ?? [], group).length).toBe(11);
    expect(udpTo(onB?.packets ?? [], group)).toHaveLength(0);
    expect((await agent(far1).countsOf('g')).total).toBe(0);

    const caps2 = await Promise.all([
      net.capture(wan.routerB, `udp and dst ${group}`),
      net.capture(far1.port, `udp and dst ${group}`),
      net.capture(far2.port, `udp and dst ${group}`),
    ]);
    await sendCounted(group, port, 2, 10, 'ttl2');
    const [b, p1, p2] = await Promise.all(caps2.map((c) => c.stop()));
    const crossed = udpTo(b?.packets ?? [], group);
    expect(crossed.length).toBeGreaterThanOrEqual(10);
    // The router decremented the TTL: 2 on LAN A, 1 on LAN B.
    expect(new Set(crossed.map((p) => p.ttl))).toEqual(new Set([1]));
    expect(udpTo(p1?.packets ?? [], group).length).toBeGreaterThanOrEqual(10);
    expect(udpTo(p2?.packets ?? [], group)).toHaveLength(0);
    expect((await agent(far1).countsOf('g')).byTag).toMatchObject({ ttl2: 10 });
    expect((await agent(far1).countsOf('g')).byTag.ttl1).toBeUndefined();
    expect((await agent(far2).countsOf('g')).total).toBe(0);
    expect((await agent(near).countsOf('g')).byTag).toMatchObject({ ttl1: 10, ttl2: 10 });
    for (const h of [near, far1, far2]) await agent(h).call({ op: 'close', id: 'g' });
  });

  it('forwards onto the far LAN only once a receiver there has joined', async () => {
    const group = '239.78.0.2';
    const port = 42002;
    await agent(far1).open('j', { port });
    let capB = await net.capture(wan.routerB, `(udp and dst ${group}) or igmp`);
    await sendCounted(group, port, 8, 10, 'before');
    let seen = (await capB.stop()).packets;
    expect(udpTo(seen, group)).toHaveLength(0);

    capB = await net.capture(wan.routerB, `(udp and dst ${group}) or igmp`);
    await agent(far1).join('j', group, { interface: far1.end.ifname });
    // The far receiver's IGMPv3 report reaches the router's interface...
    await capB.waitFor(reportFor(group, 'CHANGE_TO_EXCLUDE'));
    await routerKnows(group);
    await sendCounted(group, port, 8, 10, 'after');
    seen = (await capB.stop()).packets;
    // ...and from then on the router forwards the group there.
    expect(udpTo(seen, group, sender.end.addr4 ?? '').length).toBeGreaterThanOrEqual(10);
    expect(await agent(far1).countsOf('j')).toMatchObject({ byTag: { after: 10 } });
    expect((await agent(far1).countsOf('j')).byTag.before).toBeUndefined();
    expect(await router.vtysh('show ip mroute')).toContain(group);
    await agent(far1).call({ op: 'close', id: 'j' });
  });
});
