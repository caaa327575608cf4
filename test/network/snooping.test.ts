/**
 * A switch with IGMP/MLD snooping (a Linux bridge, multicast_snooping 1, its own querier), two
 * senders and eight receivers on its ports, each host its own namespace running mcast (agent.mjs).
 * tcpdump on every switch port shows what the switch forwards to each host: a group goes only to
 * the ports whose hosts joined it through mcast, a leave stops it, a source-specific join lets
 * only that source through, and blockSource shows in the report and takes effect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeMdb, captureAvailable, FILTER_MLD, type LanHost, type Packet, type SwitchedLan, switchedLan, Topology } from '../harness/netns.js';
import { recordsOf, reportFor } from '../wire-helpers.js';
import { Agent } from './agent.js';
import { capturePorts, sleep, stopAndCount, udpTo, waitForMdb } from './helpers.js';

const LAST_MEMBER_INTERVAL_MS = 400;
let net: Topology;
let lan: SwitchedLan;
const agents = new Map<LanHost, Agent>();
const agent = (h: LanHost): Agent => agents.get(h) as Agent;
let s1: LanHost;
let s2: LanHost;
let r: LanHost[];

beforeAll(async () => {
  if (!captureAvailable()) return;
  net = await Topology.create('sn', { autoDestroy: false });
  lan = await switchedLan(net, { senders: 2, receivers: 8, lastMemberIntervalMs: LAST_MEMBER_INTERVAL_MS });
  [s1, s2] = lan.senders as [LanHost, LanHost];
  r = lan.receivers;
  await Promise.all([...lan.senders, ...lan.receivers].map(async (h) => agents.set(h, await Agent.start(h.host))));
  for (const s of lan.senders) {
    await agent(s).open('s4', { interface: s.end.ifname });
    await agent(s).open('s6', { family: 6, interface: s.end.ifname });
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([...agents.values()].map((a) => a.stop()));
  await net?.destroy();
});

/** Both senders send 10 datagrams to the group: how many of each crossed the host's switch port. */
async function bothSendTo(h: LanHost, group: string, port: number): Promise<{ s1: number; s2: number }> {
  const [cap] = await capturePorts(net, [h], `udp and dst ${group}`);
  await agent(s1).send('s4', group, port, 10, 's1', 5);
  await agent(s2).send('s4', group, port, 10, 's2', 5);
  await sleep(300);
  const seen = (await cap?.stop())?.packets ?? [];
  return { s1: udpTo(seen, group, s1.end.addr4 ?? '').length, s2: udpTo(seen, group, s2.end.addr4 ?? '').length };
}

describe.skipIf(!captureAvailable())('a snooping switch', () => {
  it('forwards a group only to the ports whose hosts joined it (IGMPv3 reports from mcast)', async () => {
    const group = '239.77.0.1';
    const port = 41001;
    const joined = [r[0], r[2], r[5]] as LanHost[];
    const reportCap = await net.capture((r[0] as LanHost).port, 'igmp');
    for (const h of r) await agent(h).open('g1', { port });
    for (const h of joined) await agent(h).join('g1', group, { interface: h.end.ifname });
    await reportCap.waitFor(reportFor(group, 'CHANGE_TO_EXCLUDE'));
    expect(recordsOf((await reportCap.stop()).packets, group)[0]).toMatchObject({ protocol: 'igmpv3', type: 'CHANGE_TO_EXCLUDE', sources: [] });
    await waitForMdb(lan, group, joined);

    const caps = await capturePorts(net, r, `udp and dst ${group}`);
    expect(await agent(s1).send('s4', group, port, 20, 'a', 5)).toBe(20);
    await sleep(300);
    const seen = await stopAndCount(caps, group);
    expect(seen).toEqual(r.map((h) => (joined.includes(h) ? 20 : 0)));
    for (const h of r) expect((await agent(h).countsOf('g1')).total).toBe(joined.includes(h) ? 20 : 0);
    for (const h of r) await agent(h).call({ op: 'close', id: 'g1' });
  });

  it('forwards an IPv6 group only to the ports whose hosts joined it (MLDv2 reports from mcast)', async () => {
    const group = 'ff1e::77:1';
    const port = 41002;
    const joined = [r[1], r[6]] as LanHost[];
    const reportCap = await net.capture((r[1] as LanHost).port, FILTER_MLD);
    for (const h of r) await agent(h).open('g6', { family: 6, port });
    for (const h of joined) await agent(h).join('g6', group, { interface: h.end.ifname });
    await reportCap.waitFor(reportFor(group, 'CHANGE_TO_EXCLUDE'));
    expect(recordsOf((await reportCap.stop()).packets, group)[0]).toMatchObject({ protocol: 'mldv2', type: 'CHANGE_TO_EXCLUDE' });
    await waitForMdb(lan, group, joined);

    const caps = await capturePorts(net, r, `udp and ip6 dst ${group}`);
    expect(await agent(s1).send('s6', group, port, 20, 'a', 5)).toBe(20);
    await sleep(300);
    expect(await stopAndCount(caps, group)).toEqual(r.map((h) => (joined.includes(h) ? 20 : 0)));
    for (const h of r) await agent(h).call({ op: 'close', id: 'g6' });
  });

  it('stops forwarding to a port within the leave time after mcast leaves', async () => {
    const group = '239.77.0.2';
    const port = 41003;
    const [a, b] = [r[3], r[4]] as [LanHost, LanHost];
    for (const h of [a, b]) {
      await agent(h).open('lv', { port });
      await agent(h).join('lv', group, { interface: h.end.ifname });
    }
    await waitForMdb(lan, group, [a, b]);
    let caps = await capturePorts(net, [a, b], `udp and dst ${group}`);
    await agent(s1).send('s4', group, port, 10, 'before', 5);
    await sleep(200);
    expect(await stopAndCount(caps, group)).toEqual([10, 10]);

    const leaveCap = await net.capture(a.port, 'igmp');
    await agent(a).leave('lv', group, { interface: a.end.ifname });
    const leave = await leaveCap.waitFor(reportFor(group, 'CHANGE_TO_INCLUDE'));
    // The switch asks the port about the group (group-specific queries, last_member_count = 2 of
    // them, last_member_interval apart) and drops the port when nobody answers.
    const leaveTimeMs = 2 * LAST_MEMBER_INTERVAL_MS;
    await sleep(leaveTimeMs + 400);
    const queries = (await leaveCap.stop()).packets.filter((p) => p.time > leave.time && p.lines.join(' ').includes(`query`));
    expect(queries.length).toBeGreaterThan(0);
    caps = await capturePorts(net, [a, b], `udp and dst ${group}`);
    await agent(s1).send('s4', group, port, 10, 'after', 5);
    await sleep(200);
    expect(await stopAndCount(caps, group)).toEqual([0, 10]);
    expect((await bridgeMdb(lan.bridge)).filter((e) => e.group === group).map((e) => e.port)).not.toContain(a.port.ifname);
    for (const h of [a, b]) await agent(h).call({ op: 'close', id: 'lv' });
  });

  it('lets only the chosen source through to a source-specific (INCLUDE) join', async () => {
    const group = '232.77.0.1';
    const port = 41004;
    const h = r[7] as LanHost;
    const other = r[6] as LanHost;
    const reportCap = await net.capture(h.port, 'igmp');
    await agent(h).open('ssm', { port });
    await agent(h).join('ssm', group, { interface: h.end.ifname, source: s1.end.addr4 });
    await reportCap.waitFor(reportFor(group, 'ALLOW_NEW_SOURCES'));
    expect(recordsOf((await reportCap.stop()).packets, group)[0]).toMatchObject({ type: 'ALLOW_NEW_SOURCES', sources: [s1.end.addr4] });
    await waitForMdb(lan, group, [h]);
    const caps = await capturePorts(net, [h, other], `udp and dst ${group}`);
    await agent(s1).send('s4', group, port, 10, 's1', 5);
    await agent(s2).send('s4', group, port, 10, 's2', 5);
    await sleep(300);
    const [onH, onOther] = await Promise.all(caps.map((c) => c.stop()));
    expect(udpTo(onH?.packets ?? [], group, s1.end.addr4 ?? '')).toHaveLength(10);
    expect(udpTo(onH?.packets ?? [], group, s2.end.addr4 ?? '')).toHaveLength(0);
    expect(udpTo(onOther?.packets ?? [], group)).toHaveLength(0);
    expect(await agent(h).countsOf('ssm')).toMatchObject({ total: 10, byTag: { s1: 10 } });
    await agent(h).call({ op: 'close', id: 'ssm' });
  });

  it('shows blockSource (EXCLUDE) in the report, and the blocked source no longer reaches the socket or the port', async () => {
    const group = '239.77.0.4';
    const port = 41005;
    const h = r[1] as LanHost;
    await agent(h).open('blk', { port });
    await agent(h).join('blk', group, { interface: h.end.ifname });
    await waitForMdb(lan, group, [h]);
    const reportCap = await net.capture(h.port, 'igmp');
    await agent(h).blockSource('blk', group, s2.end.addr4 ?? '', { interface: h.end.ifname });
    // The kernel reports the new source as BLOCK_OLD_SOURCES {S2}, or, while the join's own
    // retransmissions are still due, as CHANGE_TO_EXCLUDE {S2}: both put the host in EXCLUDE {S2}.
    const blocked = (p: Packet): boolean =>
      p.report?.records.some((rec) => rec.group === group && rec.sources?.join() === s2.end.addr4 && /^(BLOCK_OLD_SOURCES|CHANGE_TO_EXCLUDE)$/.test(rec.type)) ?? false;
    await reportCap.waitFor(blocked);
    await reportCap.stop();
    const mdb = await bridgeMdb(lan.bridge);
    expect(mdb.find((e) => e.group === group && e.port === h.port.ifname && e.source === undefined)).toMatchObject({ filterMode: 'exclude' });
    await sleep(2 * LAST_MEMBER_INTERVAL_MS + 400);
    expect(await bothSendTo(h, group, port)).toEqual({ s1: 10, s2: 0 });
    expect(await agent(h).countsOf('blk')).toMatchObject({ total: 10, byTag: { s1: 10 } });
    await agent(h).call({ op: 'close', id: 'blk' });
  });
});

describe.skipIf(!captureAvailable())('an old network: a host forced to IGMPv2 / MLDv1', () => {
  it('joins any-source with an IGMPv2 report, and the switch forwards the group to it', async () => {
    const group = '239.77.0.6';
    const port = 41006;
    const h = r[3] as LanHost;
    await h.host.sysctl(`net.ipv4.conf.${h.end.ifname}.force_igmp_version`, 2);
    const reportCap = await net.capture(h.port, 'igmp');
    await agent(h).open('v2', { port });
    await agent(h).join('v2', group, { interface: h.end.ifname });
    await reportCap.waitFor(reportFor(group, 'REPORT'));
    expect(recordsOf((await reportCap.stop()).packets, group)[0]).toMatchObject({ protocol: 'igmpv2', type: 'REPORT' });
    await waitForMdb(lan, group, [h]);
    const caps = await capturePorts(net, [h, r[4] as LanHost], `udp and dst ${group}`);
    await agent(s1).send('s4', group, port, 10, 'a', 5);
    await sleep(300);
    expect(await stopAndCount(caps, group)).toEqual([10, 0]);
    expect((await agent(h).countsOf('v2')).total).toBe(10);
    await agent(h).call({ op: 'close', id: 'v2' });
  });

  it('a source-specific join on IGMPv2: the report has no source, the switch sends every source, the socket gets only its own', async () => {
    const group = '232.77.0.2';
    const port = 41007;
    const h = r[3] as LanHost; // forced to IGMPv2 by the test above
    expect(await h.host.readSysctl(`net.ipv4.conf.${h.end.ifname}.force_igmp_version`)).toBe('2');
    const reportCap = await net.capture(h.port, 'igmp');
    await agent(h).open('v2s', { port });
    await agent(h).join('v2s', group, { interface: h.end.ifname, source: s1.end.addr4 });
    await reportCap.waitFor(reportFor(group, 'REPORT'));
    // IGMPv2 cannot name a source: the report asks for the whole group.
    expect(recordsOf((await reportCap.stop()).packets, group)[0]).toMatchObject({ protocol: 'igmpv2', type: 'REPORT', sources: [] });
    await waitForMdb(lan, group, [h]);
    expect(await bothSendTo(h, group, port)).toEqual({ s1: 10, s2: 10 });
    // Never silently any-source: the kernel still filters by source for the socket.
    expect(await agent(h).countsOf('v2s')).toMatchObject({ total: 10, byTag: { s1: 10 } });
    await agent(h).call({ op: 'close', id: 'v2s' });
  });

  it('joins an IPv6 group with an MLDv1 report (force_mld_version=1), and the switch forwards it', async () => {
    const group = 'ff1e::77:6';
    const port = 41008;
    const h = r[4] as LanHost;
    await h.host.sysctl(`net.ipv6.conf.${h.end.ifname}.force_mld_version`, 1);
    const reportCap = await net.capture(h.port, FILTER_MLD);
    await agent(h).open('v1', { family: 6, port });
    await agent(h).join('v1', group, { interface: h.end.ifname });
    await reportCap.waitFor(reportFor(group, 'REPORT'));
    expect(recordsOf((await reportCap.stop()).packets, group)[0]).toMatchObject({ protocol: 'mldv1', type: 'REPORT' });
    await waitForMdb(lan, group, [h]);
    const caps = await capturePorts(net, [h, r[5] as LanHost], `udp and ip6 dst ${group}`);
    await agent(s1).send('s6', group, port, 10, 'a', 5);
    await sleep(300);
    expect(await stopAndCount(caps, group)).toEqual([10, 0]);
    await agent(h).call({ op: 'close', id: 'v1' });
  });
});
