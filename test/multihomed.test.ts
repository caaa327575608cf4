/**
 * A multi-homed receiver: this test process is host H with two veth links, A to peer host PA
 * and B to peer host PB. Peers send with Python's socket module (a program we did not write).
 * Proves interface-exact joins (by name, index and address), isolation of two sockets on one
 * port, source-specific joins, block/unblock, the outgoing interface, loopback on a real link,
 * TTL, and IPv6.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { constants, type Socket } from '../lib/index.js';
import { type Host, type Link, multiHomed, Topology } from './harness/netns.js';
import { collectMessages, settle, socketFactory, uniquePort, waitFor } from './helpers.js';
import { PY_RECV, PY_SEND } from './wire-helpers.js';

let net: Topology;
let pa: Host;
let pb: Host;
let linkA: Link;
let linkB: Link;

beforeAll(async () => {
  net = await Topology.create('mh', { autoDestroy: false });
  // A second address on PA, for source-specific tests.
  ({ pa, pb, linkA, linkB } = await multiHomed(net, { subnet: 71, secondSource: true }));
});

afterAll(async () => {
  await net?.destroy();
});

const socket = socketFactory();

// <linux/in.h>: not in mcast's constants (path MTU discovery is not its business).
const IP_MTU_DISCOVER = 10;
const IP_PMTUDISC_DO = 2;

/** Sends from a peer host with Python, outgoing interface by address (IPv4) or index (IPv6). */
async function peerSend(host: Host, args: { family?: 4 | 6; group: string; port: number; ifref: string | number; ttl?: number; count?: number; message: string; source?: string }): Promise<void> {
  const argv = [String(args.family ?? 4), args.group, String(args.port), String(args.ifref), String(args.ttl ?? 1), String(args.count ?? 1), args.message];
  if (args.source !== undefined) argv.push(args.source);
  const r = await host.python(PY_SEND, argv);
  if (r.code !== 0) throw new Error(`python sender failed: ${r.stderr}`);
}

const texts = (got: { data: Buffer }[]) => got.map((g) => g.data.toString());

describe('joins on one exact interface', () => {
  it('two sockets on one port, joined on link A by name and link B by index, each hear only their link', async () => {
    const port = uniquePort();
    const group = '239.71.0.1';
    const onA = socket({ port }).join(group, { interface: linkA.self.ifname });
    const onB = socket({ port }).join(group, { interface: linkB.self.ifindex });
    const gotA = collectMessages(onA);
    const gotB = collectMessages(onB);
    await peerSend(pa, { group, port, ifref: '10.71.1.2', message: 'from A' });
    await peerSend(pb, { group, port, ifref: '10.71.2.2', message: 'from B' });
    await waitFor(() => gotA.length >= 1 && gotB.length >= 1, 'one datagram on each link');
    await settle();
    expect(texts(gotA)).toEqual(['from A']);
    expect(texts(gotB)).toEqual(['from B']);
    expect(gotA[0]!.info).toMatchObject({ address: '10.71.1.2', destination: group, interfaceIndex: linkA.self.ifindex });
    expect(gotB[0]!.info).toMatchObject({ address: '10.71.2.2', destination: group, interfaceIndex: linkB.self.ifindex });
  });

  it('with multicastAll: true the kernel cross-talk is back: a socket hears both links', async () => {
    const port = uniquePort();
    const group = '239.71.0.2';
    socket({ port }).join(group, { interface: linkB.self.ifname });
    const onA = socket({ port, multicastAll: true }).join(group, { interface: linkA.self.ifname });
    const gotA = collectMessages(onA);
    await peerSend(pa, { group, port, ifref: '10.71.1.2', message: 'from A' });
    await peerSend(pb, { group, port, ifref: '10.71.2.2', message: 'from B' });
    await waitFor(() => gotA.length === 2, 'both links');
    expect(texts(gotA).sort()).toEqual(['from A', 'from B']);
  });

  it('joining by address is joining on the interface that has it', async () => {
    const port = uniquePort();
    const group = '239.71.0.3';
    const byAddress = socket({ port }).join(group, { interface: '10.71.2.1' });
    const got = collectMessages(byAddress);
    await peerSend(pa, { group, port, ifref: '10.71.1.2', message: 'from A' });
    await peerSend(pb, { group, port, ifref: '10.71.2.2', message: 'from B' });
    await waitFor(() => got.length >= 1, 'link B');
    await settle();
    expect(texts(got)).toEqual(['from B']);
    expect(got[0]!.info.interfaceIndex).toBe(linkB.self.ifindex);
  });

  it('without an interface and without a multicast route the join fails with ENODEV, naming the fix', () => {
    const s = socket();
    expect(() => s.join('239.71.0.4')).toThrow(
      expect.objectContaining({ code: 'ENODEV', syscall: 'setsockopt(MCAST_JOIN_GROUP)', message: expect.stringContaining('name the interface') }),
    );
  });

  it('the same group on the same interface twice is EADDRINUSE; on the other interface it is fine', () => {
    const s = socket().join('239.71.0.5', { interface: linkA.self.ifname });
    expect(() => s.join('239.71.0.5', { interface: linkA.self.ifindex })).toThrow(
      expect.objectContaining({ code: 'EADDRINUSE', group: '239.71.0.5', interface: linkA.self.ifname }),
    );
    expect(() => s.join('239.71.0.5', { interface: linkB.self.ifname })).not.toThrow();
  });
});

describe('source filters', () => {
  it('a source-specific join receives only the chosen source', async () => {
    const port = uniquePort();
    const group = '232.71.0.1';
    const s = socket({ port }).join(group, { interface: linkA.self.ifname, source: '10.71.1.2' });
    const got = collectMessages(s);
    await peerSend(pa, { group, port, ifref: '10.71.1.2', message: 'from .3', source: '10.71.1.3' });
    await peerSend(pa, { group, port, ifref: '10.71.1.2', message: 'from .2', source: '10.71.1.2' });
    await waitFor(() => got.length >= 1, 'the chosen source');
    await settle();
    expect(texts(got)).toEqual(['from .2']);
    expect(got[0]!.info.address).toBe('10.71.1.2');
    s.leave(group, { interface: linkA.self.ifname, source: '10.71.1.2' });
    await peerSend(pa, { group, port, ifref: '10.71.1.2', message: 'after leave', source: '10.71.1.2' });
    await settle();
    expect(texts(got)).toEqual(['from .2']);
  });

  it('blockSource silences one source of an any-source group and unblockSource restores it', async () => {
    const port = uniquePort();
    const group = '239.71.1.1';
    const iface = { interface: linkA.self.ifname };
    const s = socket({ port }).join(group, iface).blockSource(group, '10.71.1.3', iface);
    const got = collectMessages(s);
    await peerSend(pa, { group, port, ifref: '10.71.1.2', message: 'blocked', source: '10.71.1.3' });
    await peerSend(pa, { group, port, ifref: '10.71.1.2', message: 'allowed', source: '10.71.1.2' });
    await waitFor(() => got.length >= 1, 'the allowed source');
    await settle();
    expect(texts(got)).toEqual(['allowed']);
    s.unblockSource(group, '10.71.1.3', iface);
    await peerSend(pa, { group, port, ifref: '10.71.1.2', message: 'unblocked', source: '10.71.1.3' });
    await waitFor(() => got.length === 2, 'the unblocked source');
    expect(texts(got)).toEqual(['allowed', 'unblocked']);
  });
});

describe('sending', () => {
  it('goes out of the chosen interface only, with the TTL asked for, and loopback decides local delivery', async () => {
    const port = uniquePort();
    const group = '239.71.2.1';
    const receiverA = pa.spawn(['python3', '-c', PY_RECV, group, String(port), '10.71.1.2', '100', '3']);
    const receiverB = pb.spawn(['python3', '-c', PY_RECV, group, String(port), '10.71.2.2', '100', '3']);
    const outA = readLines(receiverA);
    const outB = readLines(receiverB);
    await waitFor(() => outA.includes('ready') && outB.includes('ready'), 'the python receivers');

    const local = socket({ port }).join(group, { interface: linkA.self.ifname });
    const localGot = collectMessages(local);
    const tx = socket({ interface: linkA.self.ifname, ttl: 5 });
    tx.send('loop on', group, port);
    await waitFor(() => localGot.length === 1 && outA.includes('10.71.1.1 5 loop on'), 'local and link A delivery');
    tx.setLoopback(false);
    tx.send('loop off', group, port);
    await waitFor(() => outA.includes('10.71.1.1 5 loop off'), 'link A delivery with loopback off');
    await settle();
    expect(texts(localGot)).toEqual(['loop on']);
    // A default socket sends with TTL 1, out of the interface it is told.
    socket({ interface: '10.71.2.1' }).send('default ttl', group, port);
    await waitFor(() => outB.includes('10.71.2.1 1 default ttl'), 'link B delivery');
    expect(outA.filter((l) => l !== 'ready')).toEqual(['10.71.1.1 5 loop on', '10.71.1.1 5 loop off']);
    expect(outB.filter((l) => l !== 'ready')).toEqual(['10.71.2.1 1 default ttl']);
  });

  it('sees a full device queue (ENOBUFS) instead of losing datagrams, and sendAll delivers every one', async () => {
    const port = uniquePort();
    const group = '239.71.2.3';
    const receiver = pb.spawn(['python3', '-c', PY_RECV, group, String(port), '10.71.2.2', '1000', '5']);
    const lines = readLines(receiver);
    await waitFor(() => lines.includes('ready'), 'the python receiver');
    // A slow token bucket on link B: a burst overflows its queue, which the kernel reports to
    // UDP senders only with IP_RECVERR.
    await net.self.exec(['tc', 'qdisc', 'add', 'dev', linkB.self.ifname, 'root', 'tbf', 'rate', '8mbit', 'burst', '4kb', 'limit', '8kb'], { check: true });
    try {
      // gso off: tbf cuts a UDP_SEGMENT message that exceeds its burst into datagrams and drops
      // those that do not fit without telling the sender (see SocketOptions.gso).
      const tx = socket({ interface: linkB.self.ifname, gso: false });
      const datagrams = Array.from({ length: 400 }, (_, i) => Buffer.from(`${String(i).padStart(4, '0')}${'.'.repeat(196)}`));
      expect(tx.sendBatch(datagrams, group, port)).toBeLessThan(400);
      expect(tx.stats().sendWouldBlock).toBeGreaterThan(0);
      await waitFor(() => lines.length > 1, 'the first datagrams'); // let the bucket drain a little
      const sentBefore = tx.stats().packetsSent;
      expect(await tx.sendAll(datagrams.slice(sentBefore), group, port)).toBe(400 - sentBefore);
      await waitFor(() => lines.length === 401, 'all 400 datagrams at the receiver', 10_000);
      expect(lines.slice(1).map((l) => l.split(' ')[2]?.slice(0, 4))).toEqual(datagrams.map((_, i) => String(i).padStart(4, '0')));
    } finally {
      await net.self.exec(['tc', 'qdisc', 'del', 'dev', linkB.self.ifname, 'root'], { check: true });
    }
  });

  it('a datagram over the path MTU fails once with EMSGSIZE: not retried, not counted or emitted again later', async () => {
    const port = uniquePort();
    const group = '239.71.2.9'; // multicast: no ICMP comes back to muddle the error count
    const s = socket({ interface: linkA.self.ifname });
    s.setOption(constants.IPPROTO_IP!, IP_MTU_DISCOVER, IP_PMTUDISC_DO); // no fragmenting: over the MTU is an error
    s.connect(group, port); // a connected socket emits asynchronous errors as 'error'
    const errors: string[] = [];
    s.on('error', (e: Error) => void errors.push(String((e as { code?: string }).code)));
    s.on('message', () => {}); // receiving: the poll that would see a queued error is armed
    const cap = await net.capture(linkA.peer, `udp and dst port ${port}`);
    try {
      expect(() => s.send(Buffer.alloc(1600), group, port)).toThrow(expect.objectContaining({ code: 'EMSGSIZE' }));
      expect(s.send('fits', group, port)).toBe(true);
      await cap.waitFor((p) => p.udpLength === 4);
      await settle(100);
    } finally {
      await cap.stop();
    }
    expect(errors).toEqual([]);
    expect(s.stats()).toMatchObject({ sendErrors: 0, packetsSent: 1 });
    expect(cap.packets().map((p) => p.udpLength)).toEqual([4]); // only the datagram that fits went out
  });

  it('reports the TTL a datagram arrived with (receiveTTL)', async () => {
    const port = uniquePort();
    const group = '239.71.2.2';
    const s = socket({ port, receiveTTL: true }).join(group, { interface: linkA.self.ifname });
    const got = collectMessages(s);
    await peerSend(pa, { group, port, ifref: '10.71.1.2', message: 'ttl 9', ttl: 9 });
    await waitFor(() => got.length === 1, 'the datagram');
    expect(got[0]!.info.ttl).toBe(9);
  });
});

describe('IPv6', () => {
  it('joins ff1e:: on link A only and receives from PA, with the arrival interface', async () => {
    const port = uniquePort();
    const group = 'ff1e::71:1';
    const onA = socket({ family: 6, port, receiveTTL: true }).join(group, { interface: linkA.self.ifname });
    const onB = socket({ family: 6, port }).join(group, { interface: linkB.self.ifindex });
    const gotA = collectMessages(onA);
    const gotB = collectMessages(onB);
    await peerSend(pa, { family: 6, group, port, ifref: linkA.peer.ifindex, message: 'v6 from A' });
    await peerSend(pb, { family: 6, group, port, ifref: linkB.peer.ifindex, message: 'v6 from B' });
    await waitFor(() => gotA.length >= 1 && gotB.length >= 1, 'one datagram on each link');
    await settle();
    expect(texts(gotA)).toEqual(['v6 from A']);
    expect(texts(gotB)).toEqual(['v6 from B']);
    // Linux hands each socket the other link's datagram too (IPv6 matches by group only):
    // mcast's own interface check drops and counts it.
    expect(onA.stats().filtered).toBe(1);
    expect(onB.stats().filtered).toBe(1);
    expect(gotA[0]!.info).toMatchObject({
      family: 'IPv6',
      address: linkA.peer.linkLocal,
      destination: group,
      interfaceIndex: linkA.self.ifindex,
      ttl: 1, // the hop limit (IPV6_RECVHOPLIMIT): the peer's default multicast hops
    });
    expect(gotB[0]!.info.ttl).toBeUndefined(); // onB did not ask for it
  });

  it('sends to a link-scope group with a zone, and the batch path delivers it', async () => {
    const port = uniquePort();
    const group = 'ff12::71:2';
    const rx = socket({ family: 6, port }).join(`${group}%${linkB.self.ifname}`);
    const tx = socket({ family: 6, loopback: true });
    const seen: string[] = [];
    rx.on('batch', (b) => {
      for (let i = 0; i < b.count; i++) seen.push(`${b.data(i).toString()} ${b.destination(i)} ${b.interfaceIndex(i)}`);
    });
    tx.send('zoned', `${group}%${linkB.self.ifname}`, port);
    await waitFor(() => seen.length === 1, 'the looped-back datagram');
    expect(seen).toEqual([`zoned ${group} ${linkB.self.ifindex}`]);
  });
});

function readLines(child: { stdout: NodeJS.ReadableStream | null }): string[] {
  const lines: string[] = [];
  let partial = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  return lines;
}
