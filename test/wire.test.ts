/**
 * What crosses the wire. This test process is a multi-homed host H with link A to peer PA and
 * link B to peer PB (veth pairs, each end in its own network namespace); tcpdump on the peers'
 * ends shows what H put on each wire: IGMPv3 / MLDv2 membership reports with their record types
 * and sources, and the TTL of H's datagrams. Peers send with Python's socket module.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createSocket, type MessageInfo, type Socket, type SocketOptions } from '../lib/index.js';
import { type Capture, FILTER_MLD, type Host, type Link, type Packet, Topology } from './harness/netns.js';
import { uniquePort } from './helpers.js';
import { mcast, PY_RECV, PY_SEND, recordsOf, reportFor, spawnIn, until } from './wire-helpers.js';

let net: Topology;
let pa: Host;
let pb: Host;
let linkA: Link;
let linkB: Link;

const A = { self: '10.81.1.1', peer: '10.81.1.2', peer2: '10.81.1.3', self6: 'fd81:1::1', peer6: 'fd81:1::2', peer6b: 'fd81:1::3' };
const B = { self: '10.81.2.1', peer: '10.81.2.2', self6: 'fd81:2::1', peer6: 'fd81:2::2' };

beforeAll(async () => {
  net = await Topology.create('wr', { autoDestroy: false });
  [pa, pb] = await Promise.all([net.host('pa'), net.host('pb')]);
  linkA = await net.link(net.self, net.ifname('a'), pa, net.ifname('pa'), {
    selfAddr: `${A.self}/24`,
    peerAddr: `${A.peer}/24`,
    selfAddr6: `${A.self6}/64`,
    peerAddr6: `${A.peer6}/64`,
  });
  linkB = await net.link(net.self, net.ifname('b'), pb, net.ifname('pb'), {
    selfAddr: `${B.self}/24`,
    peerAddr: `${B.peer}/24`,
    selfAddr6: `${B.self6}/64`,
    peerAddr6: `${B.peer6}/64`,
  });
  // Second addresses on PA: a second source on link A.
  await pa.addAddress(linkA.peer.ifname, `${A.peer2}/24`);
  await pa.addAddress(linkA.peer.ifname, `${A.peer6b}/64`);
});

afterAll(async () => {
  await net?.destroy();
});

const sockets: Socket[] = [];
function socket(options: SocketOptions = {}): Socket {
  const s = createSocket(options);
  sockets.push(s);
  return s;
}
const captures: Capture[] = [];
async function capture(end: 'A' | 'B', filter: string): Promise<Capture> {
  const cap = await net.capture((end === 'A' ? linkA : linkB).peer, filter);
  captures.push(cap);
  return cap;
}
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(captures.splice(0).map((c) => c.stop()));
});

interface Got {
  text: string;
  info: MessageInfo;
}
function collect(s: Socket): Got[] {
  const got: Got[] = [];
  s.on('message', (data, info) => got.push({ text: data.toString(), info }));
  return got;
}

/** Python sends `message` from a peer: IPv4 out of `ifaddr`, IPv6 out of the peer's link end. */
async function peerSend(host: Host, group: string, port: number, message: string, opts: { ifaddr?: string; ttl?: number; bind?: string } = {}): Promise<void> {
  const v6 = group.includes(':');
  const link = host === pa ? linkA : linkB;
  const ifref = v6 ? String(link.peer.ifindex) : (opts.ifaddr ?? (host === pa ? A.peer : B.peer));
  const argv = [v6 ? '6' : '4', group, String(port), ifref, String(opts.ttl ?? 1), '1', message];
  if (opts.bind !== undefined) argv.push(opts.bind);
  await host.python(PY_SEND, argv, { check: true });
}

/** A UDP datagram to `group` captured on the wire. */
const datagramTo = (group: string, from?: string) => (p: Packet) =>
  p.proto === 'UDP' && p.dst === group && (from === undefined || p.src === from);

describe('IGMPv3 on the wire: a multi-homed receiver', () => {
  const ways = [
    ['name', () => linkA.self.ifname, '239.81.1.1'],
    ['index', () => linkA.self.ifindex, '239.81.1.2'],
    ['address', () => A.self, '239.81.1.3'],
  ] as const;

  it.each(ways)('joined on link A by %s: its report goes out on A only, and only A senders are heard', async (way, ref, group) => {
    const port = uniquePort();
    const filter = `igmp or (udp and dst host ${group})`;
    const [capA, capB] = await Promise.all([capture('A', filter), capture('B', filter)]);
    const rx = socket({ port }).join(group, { interface: ref() });
    const got = collect(rx);

    const report = await capA.waitFor(reportFor(group, 'CHANGE_TO_EXCLUDE'));
    expect(report).toMatchObject({ family: 4, src: A.self, dst: '224.0.0.22', ttl: 1, proto: 'IGMP' });
    expect(report.report?.protocol).toBe('igmpv3');

    await peerSend(pb, group, port, `B by ${way}`);
    await peerSend(pa, group, port, `A by ${way}`);
    // Both datagrams crossed their wire towards H; H's socket takes only link A's.
    await capB.waitFor(datagramTo(group, B.peer));
    await capA.waitFor(datagramTo(group, A.peer));
    await until(() => got.length >= 1, 'the datagram from A');
    rx.close(); // the leave: CHANGE_TO_INCLUDE, on A as well
    await capA.waitFor(reportFor(group, 'CHANGE_TO_INCLUDE'));
    const [wireA, wireB] = await Promise.all([capA.stop(), capB.stop()]);

    expect(got.map((g) => g.text)).toEqual([`A by ${way}`]);
    expect(got[0]?.info).toMatchObject({ address: A.peer, destination: group, interfaceIndex: linkA.self.ifindex });
    expect(recordsOf(wireB.packets, group)).toEqual([]);
    const onA = recordsOf(wireA.packets, group);
    expect(onA[0]).toEqual({ protocol: 'igmpv3', type: 'CHANGE_TO_EXCLUDE', sources: [] });
    expect(new Set(onA.map((r) => r.type))).toEqual(new Set(['CHANGE_TO_EXCLUDE', 'CHANGE_TO_INCLUDE']));
    // H never reported anything on B.
    expect(wireB.packets.filter((p) => p.proto === 'IGMP' && p.src === B.self)).toEqual([]);
  });

  it('two receivers on one port, joined on A and on B, each report on their link and never hear each other', async () => {
    const port = uniquePort();
    const group = '239.81.2.1';
    const [capA, capB] = await Promise.all([capture('A', 'igmp'), capture('B', 'igmp')]);
    const onA = socket({ port }).join(group, { interface: linkA.self.ifname });
    const onB = socket({ port }).join(group, { interface: linkB.self.ifname });
    const gotA = collect(onA);
    const gotB = collect(onB);
    expect((await capA.waitFor(reportFor(group, 'CHANGE_TO_EXCLUDE'))).src).toBe(A.self);
    expect((await capB.waitFor(reportFor(group, 'CHANGE_TO_EXCLUDE'))).src).toBe(B.self);

    // multicastAll: true restores the kernel's default, where the port is what matters: a socket
    // joined on A, and even one that joined nothing, get link B's traffic too.
    const crossA = socket({ port, multicastAll: true }).join(group, { interface: linkA.self.ifname });
    const bystander = socket({ port, multicastAll: true });
    const gotCross = collect(crossA);
    const gotBystander = collect(bystander);

    await peerSend(pa, group, port, 'from A');
    await peerSend(pb, group, port, 'from B');
    await until(() => gotA.length + gotB.length >= 2 && gotCross.length >= 2 && gotBystander.length >= 2, 'every delivery');
    // The isolated sockets had their one datagram each; a cross-delivery would have come with it.
    await peerSend(pa, group, port, 'from A again');
    await until(() => gotA.length >= 2, 'the second datagram on A');

    expect(gotA.map((g) => g.text)).toEqual(['from A', 'from A again']);
    expect(gotB.map((g) => g.text)).toEqual(['from B']);
    expect(gotA.every((g) => g.info.interfaceIndex === linkA.self.ifindex)).toBe(true);
    expect(gotB[0]?.info.interfaceIndex).toBe(linkB.self.ifindex);
    expect(gotCross.slice(0, 2).map((g) => g.text).sort()).toEqual(['from A', 'from B']);
    expect(gotBystander.slice(0, 2).map((g) => g.text).sort()).toEqual(['from A', 'from B']);
    expect(gotCross.find((g) => g.text === 'from B')?.info.interfaceIndex).toBe(linkB.self.ifindex);
  });
});

describe('source filters on the wire', () => {
  it('a source-specific join sends an IGMPv3 ALLOW record with that one source, and hears only it', async () => {
    const port = uniquePort();
    const group = '232.81.3.1';
    const cap = await capture('A', `igmp or (udp and dst host ${group})`);
    const rx = socket({ port }).join(group, { interface: linkA.self.ifname, source: A.peer });
    const got = collect(rx);
    const report = await cap.waitFor(reportFor(group, 'ALLOW_NEW_SOURCES'));
    expect(report.report?.protocol).toBe('igmpv3');
    expect(recordsOf([report], group)).toEqual([{ protocol: 'igmpv3', type: 'ALLOW_NEW_SOURCES', sources: [A.peer] }]);

    await peerSend(pa, group, port, 'from the other source', { bind: A.peer2 });
    await peerSend(pa, group, port, 'from the joined source', { bind: A.peer });
    await cap.waitFor(datagramTo(group, A.peer2));
    await cap.waitFor(datagramTo(group, A.peer));
    await until(() => got.length >= 1, 'the joined source');
    rx.leave(group, { interface: linkA.self.ifname, source: A.peer });
    const leave = await cap.waitFor(reportFor(group, 'BLOCK_OLD_SOURCES'));
    expect(recordsOf([leave], group)).toEqual([{ protocol: 'igmpv3', type: 'BLOCK_OLD_SOURCES', sources: [A.peer] }]);
    expect(got.map((g) => `${g.info.address} ${g.text}`)).toEqual([`${A.peer} from the joined source`]);
    // Both datagrams were on the wire: H's kernel did the filtering.
    const wire = await cap.stop();
    expect(wire.packets.filter(datagramTo(group)).map((p) => p.src).sort()).toEqual([A.peer, A.peer2]);
  });

  it('a blocked source is reported excluded on the wire and its datagrams do not arrive', async () => {
    const port = uniquePort();
    const group = '239.81.3.2';
    const cap = await capture('A', `igmp or (udp and dst host ${group})`);
    const iface = { interface: linkA.self.ifname };
    const rx = socket({ port }).join(group, iface).blockSource(group, A.peer2, iface);
    const got = collect(rx);
    // Within the join's retransmission window Linux states the whole filter: TO_EX { blocked }.
    await cap.waitFor(
      (p) => p.report?.records.some((r) => r.group === group && r.type === 'CHANGE_TO_EXCLUDE' && r.sources?.join() === A.peer2) ?? false,
    );
    await peerSend(pa, group, port, 'blocked', { bind: A.peer2 });
    await peerSend(pa, group, port, 'allowed', { bind: A.peer });
    await cap.waitFor(datagramTo(group, A.peer2));
    await until(() => got.length >= 1, 'the allowed source');
    await peerSend(pa, group, port, 'allowed again', { bind: A.peer });
    await until(() => got.length >= 2, 'the allowed source again');
    expect(got.map((g) => `${g.info.address} ${g.text}`)).toEqual([`${A.peer} allowed`, `${A.peer} allowed again`]);
  });
});

describe('TTL and loopback on the wire', () => {
  it('the IP TTL equals what the sender set: 1 by default, 7 or 9 when asked, and TTL 0 never leaves the host', async () => {
    const port = uniquePort();
    const group = '239.81.4.1';
    const cap = await capture('A', `udp and dst host ${group}`);
    const local = socket({ port, receiveTTL: true }).join(group, { interface: linkA.self.ifname });
    const gotLocal = collect(local);

    const byDefault = socket({ interface: linkA.self.ifname });
    const seven = socket({ interface: linkA.self.ifname, ttl: 7 });
    const zero = socket({ interface: linkA.self.ifname, ttl: 0 });
    byDefault.send('default', group, port);
    seven.send('seven', group, port);
    zero.send('zero', group, port);
    const viaCli = await mcast(net.self, ['send', group, String(port), 'cli nine', '--iface', linkA.self.ifname, '--ttl', '9']);
    const viaCliDefault = await mcast(net.self, ['send', group, String(port), 'cli default', '--iface', String(linkA.self.ifindex)]);
    expect(viaCli.code).toBe(0);
    expect(viaCliDefault.code).toBe(0);
    const cliPort = (r: { stderr: string }): number => Number(/from port (\d+)/.exec(r.stderr)?.[1]);

    const ttlOf = async (srcPort: number): Promise<number | null> =>
      (await cap.waitFor((p) => p.dst === group && p.srcPort === srcPort)).ttl;
    expect(await ttlOf(byDefault.address().port)).toBe(1);
    expect(await ttlOf(seven.address().port)).toBe(7);
    expect(await ttlOf(cliPort(viaCli))).toBe(9);
    expect(await ttlOf(cliPort(viaCliDefault))).toBe(1);
    expect(viaCli.stderr).toContain('TTL 9');
    expect(viaCliDefault.stderr).toContain('TTL 1 (default)');
    // TTL 0 was delivered on this host (loopback) but is not on the wire, though later datagrams are.
    await until(() => gotLocal.length >= 5, 'local deliveries');
    expect(gotLocal.map((g) => `${g.text}/${g.info.ttl}`).sort()).toEqual(
      ['cli default/1', 'cli nine/9', 'default/1', 'seven/7', 'zero/0'].sort(),
    );
    const wire = await cap.stop();
    expect(wire.packets.filter((p) => p.srcPort === zero.address().port)).toEqual([]);
    expect(wire.packets.map((p) => p.ttl).sort()).toEqual([1, 1, 7, 9]);
  });

  it('--no-loopback keeps receivers on the sending host silent; the datagram still goes out on the wire', async () => {
    const port = uniquePort();
    const group = '239.81.4.2';
    const cap = await capture('A', `udp and dst host ${group}`);
    const remote = spawnIn(pa, ['python3', '-c', PY_RECV, group, String(port), A.peer, '2', '10']);
    await until(() => remote.lines.includes('ready'), 'the python receiver on PA', 5000, () => remote.describe());
    const local = socket({ port }).join(group, { interface: linkA.self.ifname });
    const gotLocal = collect(local);

    const quiet = await mcast(net.self, ['send', group, String(port), 'loopback off', '--iface', linkA.self.ifname, '--no-loopback']);
    const loud = await mcast(net.self, ['send', group, String(port), 'loopback on', '--iface', linkA.self.ifname]);
    expect([quiet.code, loud.code]).toEqual([0, 0]);
    expect(quiet.stderr).toContain('loopback off');
    expect(loud.stderr).toContain('loopback on');
    await until(() => gotLocal.length >= 1, 'the looped-back datagram');
    await remote.wait(5000);
    // Loopback delivery happens inside send(): had 'loopback off' been looped, it would be first.
    expect(gotLocal.map((g) => g.text)).toEqual(['loopback on']);
    expect(remote.lines.slice(1)).toEqual([`${A.self} 1 loopback off`, `${A.self} 1 loopback on`]);
    const wire = await cap.stop();
    expect(wire.packets.map((p) => `${p.src} ${p.udpLength}`)).toEqual([`${A.self} 12`, `${A.self} 11`]);
  });
});

describe('IPv6 on the wire', () => {
  it('an ff1e:: join sends its MLDv2 report on link A only, and only link A traffic arrives', async () => {
    const port = uniquePort();
    const group = 'ff1e::81:1';
    const filter = `${FILTER_MLD} or (udp and dst host ${group})`;
    const [capA, capB] = await Promise.all([capture('A', filter), capture('B', filter)]);
    const rx = socket({ family: 6, port }).join(group, { interface: linkA.self.ifname });
    const got = collect(rx);
    const report = await capA.waitFor(reportFor(group, 'CHANGE_TO_EXCLUDE'));
    expect(report).toMatchObject({ family: 6, src: linkA.self.linkLocal, dst: 'ff02::16', ttl: 1 });
    expect(recordsOf([report], group)).toEqual([{ protocol: 'mldv2', type: 'CHANGE_TO_EXCLUDE', sources: [] }]);

    await peerSend(pb, group, port, 'v6 from B');
    await peerSend(pa, group, port, 'v6 from A', { bind: A.peer6 });
    await capB.waitFor(datagramTo(group));
    await until(() => got.length >= 1, 'the datagram from A');
    await peerSend(pa, group, port, 'v6 from A again', { bind: A.peer6 });
    await until(() => got.length >= 2, 'the second datagram from A');
    const wireB = await capB.stop();
    expect(got.map((g) => g.text)).toEqual(['v6 from A', 'v6 from A again']);
    expect(got[0]?.info).toMatchObject({ family: 'IPv6', address: A.peer6, destination: group, interfaceIndex: linkA.self.ifindex });
    expect(recordsOf(wireB.packets, group)).toEqual([]);
  });

  it('an ff3e:: source-specific join sends an MLDv2 ALLOW record with the source, and hears only it', async () => {
    const port = uniquePort();
    const group = 'ff3e::81:2';
    const cap = await capture('A', `${FILTER_MLD} or (udp and dst host ${group})`);
    const rx = socket({ family: 6, port }).join(group, { interface: linkA.self.ifindex, source: A.peer6 });
    const got = collect(rx);
    const report = await cap.waitFor(reportFor(group, 'ALLOW_NEW_SOURCES'));
    expect(recordsOf([report], group)).toEqual([{ protocol: 'mldv2', type: 'ALLOW_NEW_SOURCES', sources: [A.peer6] }]);
    await peerSend(pa, group, port, 'other source', { bind: A.peer6b });
    await peerSend(pa, group, port, 'joined source', { bind: A.peer6 });
    await cap.waitFor(datagramTo(group, A.peer6b));
    await until(() => got.length >= 1, 'the joined source');
    await peerSend(pa, group, port, 'joined source again', { bind: A.peer6 });
    await until(() => got.length >= 2, 'the joined source again');
    expect(got.map((g) => `${g.info.address} ${g.text}`)).toEqual([`${A.peer6} joined source`, `${A.peer6} joined source again`]);
  });
});
