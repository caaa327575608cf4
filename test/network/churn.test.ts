/**
 * Surviving interface churn, with a receiver and a sender running throughout: the receiver host
 * H's link to the peer P is deleted and re-created under the same name (a new index), and
 * renamed. tcpdump on the new link shows mcast's new IGMP report; counts before and after show
 * what arrives. A membership made by name comes back (with its blocked sources); one made by
 * index, or with `rejoin: false`, is reported and left; the outgoing interface likewise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureAvailable, FILTER_MLD, type Host, type Link, type Packet, Topology } from '../harness/netns.js';
import { PY_SEND, recordsOf, reportFor } from '../wire-helpers.js';
import { Agent } from './agent.js';
import { sleep, udpTo } from './helpers.js';

let net: Topology;
let h: Host;
let p: Host;
let link: Link;
let rx: Agent;

const H_ADDR = '10.82.0.1';
const P_ADDR = '10.82.0.2';
const P_ADDR2 = '10.82.0.3';

async function makeLink(): Promise<Link> {
  link = await net.link(h, net.ifname('h'), p, net.ifname('p'), { selfAddr: `${H_ADDR}/24`, peerAddr: `${P_ADDR}/24` });
  await p.addAddress(link.peer.ifname, `${P_ADDR2}/24`);
  return link;
}

/**
 * Re-creates the link with the same names: the veth pair with H's end down, P's end configured
 * and up, then `beforeUp()` (a capture on P's end), then H's end up. H's reports go out when its
 * end comes up, so the capture sees them from the first.
 */
async function recreateLink<T>(beforeUp: () => Promise<T>): Promise<T> {
  const hIf = net.ifname('h');
  const pIf = net.ifname('p');
  await h.execWithNs((ns) => ['ip', 'link', 'add', hIf, 'type', 'veth', 'peer', 'name', pIf, 'netns', ns[0] ?? ''], [p], { check: true });
  for (const a of [P_ADDR, P_ADDR2]) await p.addAddress(pIf, `${a}/24`);
  await p.ip('link', 'set', 'dev', pIf, 'up');
  const result = await beforeUp();
  await h.addAddress(hIf, `${H_ADDR}/24`);
  // No duplicate address detection: the link-local address (the MLD reports' source) is usable at once.
  await h.sysctl(`net.ipv6.conf.${hIf}.accept_dad`, 0);
  await h.ip('link', 'set', 'dev', hIf, 'up');
  link = {
    self: { host: h, ifname: hIf, ifindex: await h.ifindex(hIf), addr4: H_ADDR, addr6: null, linkLocal: '' },
    peer: { host: p, ifname: pIf, ifindex: await p.ifindex(pIf), addr4: P_ADDR, addr6: null, linkLocal: '' },
  };
  return result;
}

async function peerSends(group: string, port: number, tag: string, from = P_ADDR, count = 10): Promise<void> {
  await p.python(PY_SEND, ['4', group, String(port), from, '1', String(count), `${tag}:x`, from], { check: true });
}

type ChurnEvent = { id: string; event: string; kind: string; interface: string; index: number; previousIndex?: number; group?: string; source?: string; willRestore?: boolean; blockedSources?: string[]; error?: string };
async function events(agent: Agent): Promise<ChurnEvent[]> {
  return (await agent.call({ op: 'events' })).events as ChurnEvent[];
}

beforeAll(async () => {
  if (!captureAvailable()) return;
  net = await Topology.create('ch', { autoDestroy: false });
  [h, p] = await Promise.all([net.host('h'), net.host('p')]);
  await makeLink();
  rx = await Agent.start(h);
});

afterAll(async () => {
  await rx?.stop();
  await net?.destroy();
});

describe.skipIf(!captureAvailable())('interface churn under a running receiver and sender', () => {
  it('an interface deleted and re-created under the same name: by-name memberships come back with their filters, by-index ones are reported and left', async () => {
    const ifname = link.self.ifname;
    const oldIndex = link.self.ifindex;
    const port = 46001;
    await rx.open('byName', { port });
    await rx.join('byName', '239.82.0.1', { interface: ifname });
    await rx.open('byIndex', { port });
    await rx.join('byIndex', '239.82.0.2', { interface: oldIndex });
    await rx.open('filtered', { port });
    await rx.join('filtered', '239.82.0.3', { interface: ifname });
    await rx.blockSource('filtered', '239.82.0.3', P_ADDR2, { interface: ifname });
    await rx.open('ssm', { port });
    await rx.join('ssm', '232.82.0.1', { interface: ifname, source: P_ADDR });
    await rx.open('v6', { family: 6, port });
    await rx.join('v6', 'ff1e::82:1', { interface: ifname });
    await rx.open('noRejoin', { port, rejoin: false });
    await rx.join('noRejoin', '239.82.0.4', { interface: ifname });
    await sleep(100);
    for (const g of ['239.82.0.1', '239.82.0.2', '239.82.0.3', '232.82.0.1', '239.82.0.4']) await peerSends(g, port, 'before');
    await peerSends('239.82.0.3', port, 'blocked', P_ADDR2);
    await sleep(200);
    let c = await rx.counts();
    for (const id of ['byName', 'byIndex', 'filtered', 'ssm', 'noRejoin']) expect(c[id]?.byTag).toEqual({ before: 10 });

    // Delete the link (from the far end: both ends go), then make it again with the same names.
    await p.ip('link', 'del', link.peer.ifname);
    await sleep(200);
    const lost = (await events(rx)).filter((e) => e.event === 'interfaceLost');
    expect(lost.map((e) => [e.id, e.group, e.interface, e.index, e.willRestore]).sort()).toEqual(
      [
        ['byIndex', '239.82.0.2', ifname, oldIndex, false],
        ['byName', '239.82.0.1', ifname, oldIndex, true],
        ['filtered', '239.82.0.3', ifname, oldIndex, true],
        ['noRejoin', '239.82.0.4', ifname, oldIndex, false],
        ['ssm', '232.82.0.1', ifname, oldIndex, true],
        ['v6', 'ff1e::82:1', ifname, oldIndex, true],
      ].sort(),
    );
    expect(lost.find((e) => e.id === 'ssm')?.source).toBe(P_ADDR);

    const cap = await recreateLink(() => net.capture({ host: p, ifname: net.ifname('p') }, `igmp or ${FILTER_MLD}`));
    expect(link.self.ifname).toBe(ifname);
    expect(link.self.ifindex).not.toBe(oldIndex);
    await cap.waitFor(reportFor('239.82.0.1', 'CHANGE_TO_EXCLUDE'), 5000).catch(() => undefined);
    await sleep(1500);
    const reports = (await cap.stop()).packets;
    const groups = (g: string): ReturnType<typeof recordsOf> => recordsOf(reports, g);
    const back = (await events(rx)).filter((e) => e.event === 'interfaceBack');
    expect(back.map((e) => [e.id, e.group, e.index, e.previousIndex]).sort()).toEqual(
      [
        ['byName', '239.82.0.1', link.self.ifindex, oldIndex],
        ['filtered', '239.82.0.3', link.self.ifindex, oldIndex],
        ['ssm', '232.82.0.1', link.self.ifindex, oldIndex],
        ['v6', 'ff1e::82:1', link.self.ifindex, oldIndex],
      ].sort(),
    );
    expect(back.find((e) => e.id === 'filtered')?.blockedSources).toEqual([P_ADDR2]);
    expect(back.every((e) => e.error === undefined)).toBe(true);
    // On the new link: the new reports of what came back, with the source filters...
    expect(groups('239.82.0.1').map((r) => r.type)).toContain('CHANGE_TO_EXCLUDE');
    const filtered = groups('239.82.0.3');
    expect(filtered.some((r) => r.sources?.includes(P_ADDR2) && /EXCLUDE|BLOCK/.test(r.type))).toBe(true);
    expect(groups('232.82.0.1').some((r) => r.type === 'ALLOW_NEW_SOURCES' && r.sources?.join() === P_ADDR)).toBe(true);
    expect(groups('ff1e::82:1').some((r) => r.protocol === 'mldv2' && r.type === 'CHANGE_TO_EXCLUDE')).toBe(true);
    // ...and none for what was made by index or with rejoin: false.
    expect(groups('239.82.0.2')).toEqual([]);
    expect(groups('239.82.0.4')).toEqual([]);

    await rx.reset();
    for (const g of ['239.82.0.1', '239.82.0.2', '239.82.0.3', '232.82.0.1', '239.82.0.4']) await peerSends(g, port, 'after');
    await peerSends('239.82.0.3', port, 'blocked', P_ADDR2);
    await peerSends('232.82.0.1', port, 'other', P_ADDR2);
    await sleep(200);
    c = await rx.counts();
    expect(c.byName?.byTag).toEqual({ after: 10 });
    expect(c.filtered?.byTag).toEqual({ after: 10 });
    expect(c.ssm?.byTag).toEqual({ after: 10 });
    expect(c.byIndex?.total).toBe(0);
    expect(c.noRejoin?.total).toBe(0);
    for (const id of ['byName', 'byIndex', 'filtered', 'ssm', 'noRejoin', 'v6']) await rx.call({ op: 'close', id });
  });

  it('the outgoing interface set by name is set again on the new interface; by index it is reported', async () => {
    const ifname = link.self.ifname;
    const group = '239.82.1.1';
    const tx = await Agent.start(h);
    try {
      await tx.open('byName', { interface: ifname });
      await tx.open('byIndex', { interface: link.self.ifindex });
      let cap = await net.capture(link.peer, `udp and dst ${group}`);
      await tx.send('byName', group, 46002, 5, 'a');
      await tx.send('byIndex', group, 46002, 5, 'b');
      await sleep(200);
      expect(udpTo((await cap.stop()).packets, group)).toHaveLength(10);
      const oldIndex = link.self.ifindex;
      await p.ip('link', 'del', link.peer.ifname);
      await sleep(200);
      await recreateLink(() => Promise.resolve());
      await sleep(300);
      const ev = await events(tx);
      expect(ev.filter((e) => e.event === 'interfaceLost').map((e) => [e.id, e.kind, e.index, e.willRestore]).sort()).toEqual(
        [
          ['byIndex', 'outgoing', oldIndex, false],
          ['byName', 'outgoing', oldIndex, true],
        ].sort(),
      );
      expect(ev.filter((e) => e.event === 'interfaceBack').map((e) => [e.id, e.kind, e.index])).toEqual([['byName', 'outgoing', link.self.ifindex]]);
      cap = await net.capture(link.peer, `udp and dst ${group}`);
      expect(await tx.send('byName', group, 46002, 5, 'a')).toBe(5);
      await sleep(200);
      const seen: Packet[] = udpTo((await cap.stop()).packets, group);
      expect(seen.map((x) => x.src)).toEqual(Array(5).fill(H_ADDR));
    } finally {
      await tx.stop();
    }
  });

  it('a rename keeps the membership (the kernel keys it by index): datagrams still arrive, nothing is lost or redone', async () => {
    const port = 46003;
    const group = '239.82.2.1';
    await rx.open('ren', { port });
    await rx.join('ren', group, { interface: link.self.ifname });
    await sleep(100);
    await peerSends(group, port, 'before');
    const renamed = net.ifname('hr');
    await h.ip('link', 'set', 'dev', link.self.ifname, 'down');
    await h.ip('link', 'set', 'dev', link.self.ifname, 'name', renamed);
    await h.ip('link', 'set', 'dev', renamed, 'up');
    await sleep(300);
    await peerSends(group, port, 'after');
    await sleep(200);
    expect((await rx.countsOf('ren')).byTag).toEqual({ before: 10, after: 10 });
    expect((await events(rx)).filter((e) => e.id === 'ren')).toEqual([]);
    const joined = (await rx.eval('memberships')) as Array<{ name: string; groups: Array<{ group: string; ownSockets: number }> }>;
    expect(joined.find((i) => i.name === renamed)?.groups.find((g) => g.group === group)?.ownSockets).toBe(1);
    await rx.call({ op: 'close', id: 'ren' });
  });
});
